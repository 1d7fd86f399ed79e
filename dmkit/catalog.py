"""``dm.catalog``: the vocabulary: brands, services, channels, genres (and the operator's catalog YAML) — the contract's :mod:`dmkit.contract.catalog`.

This name is the same module object (not a copy): ``dmkit.catalog is dmkit.contract.catalog``,
so ``from dmkit.catalog import ...`` and ``from dmkit import catalog`` keep working.
"""
import sys

from dmkit.contract import catalog as _contract_module

sys.modules[__name__] = _contract_module

"""``dm.schema``: the tables' columns, kinds and keys, and validate — the contract's :mod:`dmkit.contract.schema`.

This name is the same module object (not a copy): ``dmkit.schema is dmkit.contract.schema``,
so ``from dmkit.schema import ...`` and ``from dmkit import schema`` keep working.
"""
import sys

from dmkit.contract import schema as _contract_module

sys.modules[__name__] = _contract_module

"""``dm.errors``: the error classes and their message helpers — the contract's :mod:`dmkit.contract.errors`.

This name is the same module object (not a copy): ``dmkit.errors is dmkit.contract.errors``,
so ``from dmkit.errors import ...`` and ``from dmkit import errors`` keep working.
"""
import sys

from dmkit.contract import errors as _contract_module

sys.modules[__name__] = _contract_module

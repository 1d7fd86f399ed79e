"""The public surface: every name in ``dmkit.__all__`` (and in each public module's
``__all__``) imports, and ``dir(dmkit)`` shows exactly those names."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import dmkit


@pytest.mark.parametrize("name", dmkit.__all__)
def test_every_public_name_imports(name):
    module = getattr(dmkit, name)
    assert module is importlib.import_module(f"dmkit.{name}")
    for attr in getattr(module, "__all__", ()):
        assert hasattr(module, attr), f"dmkit.{name}.__all__ lists {attr!r}, which it does not define"


def test_dir_shows_exactly_the_public_names():
    assert sorted(set(dmkit.__all__)) == sorted(dmkit.__all__)  # no duplicate
    assert dir(dmkit) == sorted([*dmkit.__all__, "__version__"])
    assert "annotations" not in dir(dmkit) and "importlib" not in dir(dmkit)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        dmkit.nope  # noqa: B018


def test_import_dmkit_imports_no_submodule():
    code = "import sys, dmkit; print(sorted(m for m in sys.modules if m.startswith('dmkit.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_used_helpers_are_public():
    import dmkit.io
    import dmkit.propensity
    import dmkit.rules

    assert "gains_table" in dmkit.propensity.__all__
    assert "coerce" in dmkit.io.__all__
    assert "check_baskets" in dmkit.rules.__all__

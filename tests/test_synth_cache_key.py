"""The simulator cache's key: the source of what dm.synth.generate runs, not of every synth module."""
import subprocess
import sys
from pathlib import Path

from dmkit.synth import cache

PACKAGE = Path(cache.__file__).resolve().parents[1]


def _names():
    return {f.relative_to(PACKAGE).as_posix() for f in cache.simulator_sources()}


def test_sources_are_what_generate_imports_transitively():
    names = _names()
    # generate and its direct imports; the catalog it draws services from; the containers it saves
    for must in ("synth/generate.py", "synth/users.py", "synth/subscriptions.py", "synth/usage.py",
                 "catalog.py", "contract/province.py", "contract/truth.py"):
        assert must in names, must
    # modules generate never runs: the loop's responses, single notebooks' simulations
    for never in ("synth/respond.py", "synth/location.py", "synth/music_campaign.py", "synth/cache.py",
                  "loop/runner.py", "offers/greedy.py"):
        assert never not in names, never


def test_every_dmkit_module_generate_loads_is_hashed():
    # an independent reading: the dmkit modules actually loaded by importing the generator alone
    code = ("import sys, dmkit.synth.generate as g; "
            "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() "
            "if n.startswith('dmkit.') and getattr(m, '__file__', None))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    loaded = {Path(f).resolve().relative_to(PACKAGE).as_posix() for f in loaded}
    # importing dmkit.synth.generate runs dmkit/synth/__init__.py, which imports the package's public
    # names (respond among them) without generate using them: the extra modules are those and theirs
    extra = {n for n in loaded - _names() if not n.endswith("__init__.py")}
    assert "synth/respond.py" in extra
    sources = "\n".join(f.read_text() for f in cache.simulator_sources())
    for n in extra - {"synth/respond.py", "synth/cache.py"}:
        module = "dmkit." + n.removesuffix(".py").replace("/", ".")
        assert module not in sources and module.rsplit(".", 1)[1] not in sources, n  # no hashed source imports it
    # hashed but not in sys.modules: the contract's alias modules (they replace themselves there)
    # and the modules imported inside functions only
    missing = {n for n in _names() - loaded
               if "sys.modules[__name__]" not in (PACKAGE / n).read_text() and not n.startswith("contract/")}
    assert not missing, missing


def test_fingerprint_is_stable_and_sixteen_hex():
    a, b = cache.fingerprint(), cache.fingerprint()
    assert a == b and len(a) == 16 and int(a, 16) >= 0

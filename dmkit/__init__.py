"""dmkit: data mining for the deep operation (深度运营) of mobile value-added services.

Submodules are imported on first use, so ``import dmkit`` is cheap and does nothing else::

    import dmkit as dm
    data = dm.synth.generate("jiangsu", month="2009-05", n_users=100_000, seed=7)
    dm.health.score(data.kpis, indicators=[...])

The house, from the ground up (no import runs from a lower floor to a higher one;
``tests/test_layers.py`` checks it):

1. contract — :mod:`~dmkit.errors`, :mod:`~dmkit.schema`, :mod:`~dmkit.catalog` and
   :mod:`~dmkit.contract` (atomic writes, table I/O, the month, ``ProvinceData``, ``Truth``);
2. simulator — :mod:`~dmkit.synth` (with its cache and ``respond``);
3. data facade — :mod:`~dmkit.io` (``load_province``: extracts or the simulator);
4. methods — :mod:`~dmkit.health` (over :mod:`~dmkit.factors`), :mod:`~dmkit.rules`,
   :mod:`~dmkit.segment`, :mod:`~dmkit.propensity`, :mod:`~dmkit.survival`,
   :mod:`~dmkit.campaign`, :mod:`~dmkit.lifecycle`, :mod:`~dmkit.fingerprint`,
   :mod:`~dmkit.forecast`, :mod:`~dmkit.viral`, :mod:`~dmkit.panel`, :mod:`~dmkit.offers`, ...;
5. :mod:`~dmkit.loop` — the monthly closed loop over the methods;
6. engines — :mod:`~dmkit.engines` (the registry of Spark twins) and :mod:`~dmkit.spark`;
7. :mod:`~dmkit.report` (what notebooks import), :mod:`~dmkit.batch`, :mod:`~dmkit.params`,
   the ``dmkit`` command line (:mod:`dmkit.cli`) and :mod:`~dmkit.runner` (old names).
"""
__version__ = "0.1.0"

__all__ = [
    "batch",
    "campaign",
    "catalog",
    "contract",
    "engines",
    "errors",
    "factors",
    "fingerprint",
    "forecast",
    "health",
    "io",
    "life_circle",
    "lifecycle",
    "loop",
    "offer_design",
    "offers",
    "panel",
    "params",
    "planning",
    "propensity",
    "published",
    "qini",
    "report",
    "rules",
    "runner",
    "schema",
    "segment",
    "spark",
    "survival",
    "synth",
    "viral",
    "viral_ledger",
    "viral_spread",
]


def __getattr__(name: str):
    if name in __all__:
        from importlib import import_module

        module = import_module(f"dmkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dmkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])

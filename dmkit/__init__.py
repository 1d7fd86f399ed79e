"""dmkit: data mining for the deep operation (深度运营) of mobile value-added services.

Submodules are imported on first use, so ``import dmkit`` is cheap and does nothing else::

    import dmkit as dm
    data = dm.synth.generate("jiangsu", month="2009-05", n_users=100_000, seed=7)
    dm.health.score(data.kpis, indicators=[...])
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = [
    "batch",
    "campaign",
    "catalog",
    "engines",
    "engines",
    "errors",
    "fingerprint",
    "factors",
    "factors",
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
        module = importlib.import_module(f"dmkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dmkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

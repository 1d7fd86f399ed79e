"""``dm.spark.engine``: the engine switch's old address; the registry is :mod:`dmkit.engines`.

``dm.spark.engine.dispatch(engine)`` is :func:`dmkit.engines.dispatch`: the explicit
registry of the methods with a Spark twin (:data:`dmkit.engines.TWINS`).
"""
from __future__ import annotations

from dmkit.engines import ENGINES, METHODS, TWINS, dispatch

__all__ = ["ENGINES", "METHODS", "TWINS", "dispatch"]

"""nokenviz: the embedding geometry of causal language models, seen and played with.

    import nokenviz as nv
    model = nv.load("default")
    model.lens("The sun rises in the").figure()
    nv.show(model)

The package root stays import-light (no torch, no Qt): `load`, `show`, `Model` and the rest of
the API (`nokenviz.api`) are imported on first use, so the window can paint before the heavy
libraries are loaded on a worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nokenviz.version import __version__

if TYPE_CHECKING:
    from nokenviz.api import Model, connect, load
    from nokenviz.gui.show import show

__all__ = ["Model", "__version__", "connect", "load", "show"]


def __getattr__(name: str) -> object:
    if name in ("Model", "connect", "load"):
        import nokenviz.api

        return getattr(nokenviz.api, name)
    if name == "show":  # the app (Qt) only when asked for
        from nokenviz.gui.show import show

        return show
    raise AttributeError(f"module 'nokenviz' has no attribute {name!r}")

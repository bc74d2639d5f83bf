"""P1: a pan frame of the full vocabulary with the app's overlays, against a plain
`ScatterPlotItem` of the same points.

Method: offscreen Qt, a 1200x800 plot. Synthetic vocabularies of 49,152 and 262,144 tokens
(random 64-d vectors; the layout does not matter to either renderer's cost) in a session that
the app's own `SphereLayers` draws, as the window does: the PCA sphere fitted by the core, the
highlighted norm band (the largest 1%), two selected tokens, two composer anchors, a traced
trajectory of 31 nodes, and their labels. A frame = shift the view by 1% (a pan step) + a
synchronous repaint of the viewport (`repaint()`, which paints before returning). 5 warm-up
frames, then 40 timed; the median is reported. The same is reported with half the vocabulary
brushed (drawn as its own image), and coloured by script with a token filter on (the dimmed
vocabulary plus the matches as a second image; the filter's first evaluation and the redraw it
causes are timed as "filter_apply"). The baseline is a plain item: one brush,
no pen, pxMode, in an identical plot, timed the same way in the same run. The re-bin done once
the view settles is timed separately (median of 20).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

SIZES = {"49k": 49_152, "262k": 262_144}
TARGET_MS = {"49k": 10.0, "262k": 16.0}
MIN_SPEEDUP_262K = 5.0
WARMUP, FRAMES = 5, 40


LAYERS = 30


class _Queue:
    """Where the controller would send jobs; nothing runs in this benchmark."""

    def submit(self, job: object) -> None:
        pass


def _session(n: int, seed: int = 0):
    """A session showing `n` tokens with the overlays a user has on screen."""
    from nokenviz.core.maps.geometry import NormStats
    from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
    from nokenviz.core.maps.vocabulary import Vocabulary
    from nokenviz.core.models.token_kinds import token_kinds
    from nokenviz.core.residual.lens import LensEntry, Trace
    from nokenviz.core.scenes.scene import ComposerPart
    from nokenviz.state.session import Session

    rng = np.random.default_rng(seed)
    matrix = (rng.normal(size=(n, 64)) * rng.gamma(9.0, 0.35, (n, 1)) / 8).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1)
    p01, p99 = np.percentile(norms, [1, 99])
    stats = NormStats(norms.mean(), np.median(norms), norms.std(), norms.min(), norms.max(),
                      p01, p99, 0.1)  # fmt: skip
    info = {"model": "synthetic", "name": "synthetic", "causal": True}
    words = ["token", " Token", " слово", " λέξη", "123", " 単語", " كلمة", "!!", " word"]
    tokens = [f"{words[i % len(words)]}{i % 97}" for i in range(n)]
    kinds = token_kinds(tokens, tokens, set())
    vocab = Vocabulary(tokens, tokens, {"W_E": matrix}, {"W_E": norms}, {"W_E": stats}, info, kinds)
    entries = [LensEntry(layer, 1.0, [(layer, 0.5)], 0) for layer in range(LAYERS + 1)]
    path = matrix[: LAYERS + 1] * np.linspace(1, 20, LAYERS + 1)[:, None]
    heat = np.zeros((LAYERS + 1, 4))
    trace = Trace(["a", "b", "c", "d"], 3, path, path, entries, heat, heat.astype(int), heat,
                  np.zeros((LAYERS, 1, 4, 4)))  # fmt: skip
    composer = ComposerPart(anchors=(10, 20), weights=(0.5, 0.5))
    session = Session(vocab=vocab, selection=(3, 7), composer=composer, trace=trace)
    session.band = (float(p99), float(norms.max()))
    session.fitted = fit_projection(matrix, ProjectionSpec())
    return session


def _frame_ms(widget, viewbox) -> float:
    times = []
    for frame in range(WARMUP + FRAMES):
        (x0, x1), (y0, y1) = viewbox.viewRange()
        step = 0.01 * (x1 - x0) * (1 if (frame // 10) % 2 == 0 else -1)
        viewbox.setRange(xRange=(x0 + step, x1 + step), yRange=(y0, y1), padding=0)
        start = time.perf_counter()
        widget.viewport().repaint()
        if frame >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run() -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication, QLabel

    from nokenviz.gui.sphere_layers import SphereLayers
    from nokenviz.gui.sphere_view import SphereView
    from nokenviz.state.controller import EVERYTHING, Controller

    app = QApplication.instance() or QApplication([])
    measured: dict[str, float] = {}
    for name, n in SIZES.items():
        session = _session(n)
        coords = session.fitted.coords
        ours = SphereView()
        ours.resize(1200, 800)
        ours.show()
        layers = SphereLayers(ours, Controller(session, _Queue(), _Queue()), QLabel())
        layers.apply(session, EVERYTHING)
        app.processEvents()
        ours.rebin()
        measured[f"labels_shown_{name}"] = len(ours.labels)
        measured[f"ours_{name}_ms"] = round(_frame_ms(ours, ours.plotItem.vb), 2)
        session.band = (float(np.median(session.norms)), float(session.norms.max()))
        layers.apply(session, frozenset({"band"}))
        measured[f"ours_half_brushed_{name}_ms"] = round(_frame_ms(ours, ours.plotItem.vb), 2)
        start = time.perf_counter()
        update = {"colour": "script", "filter": "script:Cyrillic or kind:number"}
        session.projection = session.projection.model_copy(update=update)
        layers.apply(session, frozenset({"projection", "band"}))
        measured[f"filter_apply_{name}_ms"] = round((time.perf_counter() - start) * 1000, 1)
        measured[f"filter_matches_{name}"] = len(session.matched)
        frame = _frame_ms(ours, ours.plotItem.vb)
        measured[f"ours_script_filtered_{name}_ms"] = round(frame, 2)
        rebins = []
        for _ in range(20):
            start = time.perf_counter()
            ours.rebin()
            rebins.append((time.perf_counter() - start) * 1000)
        measured[f"rebin_on_settle_{name}_ms"] = round(statistics.median(rebins), 2)
        plain = pg.PlotWidget(background="w")
        plain.resize(1200, 800)
        plain.setAspectLocked(True)
        plain.addItem(
            pg.ScatterPlotItem(
                pos=coords, size=3, pen=None, brush=pg.mkBrush(60, 60, 160), pxMode=True
            )
        )
        plain.show()
        app.processEvents()
        measured[f"plain_scatter_{name}_ms"] = round(_frame_ms(plain, plain.plotItem.vb), 2)
        ours.close()
        plain.close()
    speedup = measured["plain_scatter_262k_ms"] / measured["ours_262k_ms"]
    measured["speedup_262k"] = round(speedup, 1)
    met = (
        measured["ours_49k_ms"] <= TARGET_MS["49k"]
        and measured["ours_262k_ms"] <= TARGET_MS["262k"]
        and measured["ours_script_filtered_262k_ms"] <= TARGET_MS["262k"]
        and speedup >= MIN_SPEEDUP_262K
    )
    target = {
        "ours_49k_ms_at_most": 10.0,
        "ours_262k_ms_at_most": 16.0,
        "ours_script_filtered_262k_ms_at_most": 16.0,
        "speedup_262k_at_least": 5.0,
    }
    return {"measured": measured, "target": target, "met": met}

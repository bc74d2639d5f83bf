"""P1: a pan frame of the full vocabulary, against a plain `ScatterPlotItem` of the same points.

Method: offscreen Qt, a 1200x800 plot. Synthetic vocabularies of 49,152 and 262,144 points
spread over the Hammer ellipse with random norms (the layout does not matter to either
renderer's cost). A frame = shift the view by 1% (a pan step) + a synchronous repaint of the
viewport (`repaint()`, which paints before returning). 5 warm-up frames, then 40 timed; the
median is reported. The baseline is the plain item DESIGN.md measured: one brush, no pen,
pxMode, in an identical plot, timed the same way in the same run. The re-bin done once the view
settles is timed separately (median of 20).
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


def _points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3))
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    from nokenviz.core.projections import _hammer

    return _hammer(xyz), rng.gamma(9.0, 0.35, n).astype(np.float32)


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
    from PySide6.QtWidgets import QApplication

    from nokenviz.gui.sphere_view import SphereView

    app = QApplication.instance() or QApplication([])
    measured: dict[str, float] = {}
    for name, n in SIZES.items():
        coords, norms = _points(n)
        ours = SphereView()
        ours.resize(1200, 800)
        ours.show()
        ours.set_vocabulary(coords, norms, [""] * n, (2.0, 5.0))
        app.processEvents()
        ours.rebin()
        measured[f"ours_{name}_ms"] = round(_frame_ms(ours, ours.plotItem.vb), 2)
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
        and speedup >= MIN_SPEEDUP_262K
    )
    target = {
        "ours_49k_ms_at_most": 10.0,
        "ours_262k_ms_at_most": 16.0,
        "speedup_262k_at_least": 5.0,
    }
    return {"measured": measured, "target": target, "met": met}

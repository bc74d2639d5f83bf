"""P4 (cold start) and P6 (peak memory), both measured on real launches of the app.

Method: each launch is a fresh Python process (offscreen Qt) that runs the app's own
start-up (`MainWindow`, then `load_model("default")` on the worker, as `nokenviz gui` does) and
waits until everything asked of the model is drawn (the sphere projected, the default prompt
traced, the inspector filled: no job left running). It prints when the window first painted
and when `model_ready` fired, measured from the moment the parent launched it (interpreter
start included), and its peak RSS (`VmHWM` of /proc/self/status: per process image; `ru_maxrss`
would carry over the benchmark parent's own peak through fork and exec).
P4: a first launch with an empty cache (which converts the GGUF file once, in a child process:
what the very first start after installing does; `make run` does it during set-up) is reported
on its own; then 3 repetitions, whose medians are compared with the targets.
P6: one launch with an empty cache, so the one-time conversion child runs (its peak is the
largest waited-for child's `ru_maxrss`, reported separately), then, in the same app, one model
switch (the default model loaded again: a new model object replacing the old, the worst case
for holding two) drawn the same way; the app's peak over all of it and its RSS after the switch
are reported. 3 repetitions, medians.
Baselines in the same run: a bare interpreter launched the same way (P4), and a process that
only does `AutoModelForCausalLM.from_pretrained` of the same GGUF file (P6).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPEATS = 3
TARGET_PAINT_S, TARGET_READY_S, TARGET_RSS_GB = 1.5, 15.0, 1.5

PEAK_RSS = r"""
def peak_rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""

# The start of every child that measures the app's window: its imports, the allocator set up
# as the app's entry point sets it, `marks["paint"]` at the first paint, the RSS readers.
WINDOW_MARKS = (
    PEAK_RSS
    + r"""
import gc, json, resource, sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from nokenviz.core.heap import return_large_frees
from nokenviz.gui.window import MainWindow

return_large_frees()
marks = {}
class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time()
        return False

def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
"""
)

APP = (
    WINDOW_MARKS
    + r"""
SWITCH = "switch" in sys.argv

app = QApplication([])
window = MainWindow()
session = window.session
watcher = FirstPaint()
window.installEventFilter(watcher)
loads = []
def changed(parts):
    if "error" in parts and session.error:
        print(session.error, file=sys.stderr)
        app.exit(1)
    if session.trace is None or session.running or len(loads) > session.generation:
        return
    if SWITCH and len(loads) == 1:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        marks["conversion_child_max_rss_kb"] = children.ru_maxrss
        marks["before_switch_rss_kb"] = rss_kb()
        loads.append("switch")
        window.load_model("default")
        return
    window.close()
    app.quit()
window.model_ready.connect(lambda: marks.setdefault("ready", time.time()))
window.controller.listen(changed)
window.show()
loads.append("first")
window.load_model("default")
code = app.exec()
gc.collect()
marks["after_rss_kb"] = rss_kb()
marks["max_rss_kb"] = peak_rss_kb()
print(json.dumps(marks))
sys.exit(code)
"""
)

PLAIN_LOAD = (
    PEAK_RSS
    + r"""
import json
from transformers import AutoModelForCausalLM
from nokenviz.core.models.model_spec import default_model_path
path = default_model_path()
AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
print(json.dumps({"max_rss_kb": peak_rss_kb()}))
"""
)


# Throw-away caches, removed when the run ends (each may hold the converted default model).
_SCRATCH: list[tempfile.TemporaryDirectory] = []


def _scratch(prefix: str) -> str:
    _SCRATCH.append(tempfile.TemporaryDirectory(prefix=prefix))
    return _SCRATCH[-1].name


CACHE = _scratch("nokenviz-bench-cache-")


def _launch(code: str, *args: str, cache: str = CACHE) -> tuple[float, dict]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TQDM_DISABLE": "1",
        "XDG_CACHE_HOME": cache,
    }
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return start, json.loads(lines[-1])


def _app_runs() -> list[tuple[float, dict]]:
    return [_launch(APP) for _ in range(REPEATS)]


def run_startup() -> dict:
    first_start, first = _launch(APP)
    runs = _app_runs()
    bare = []
    for _ in range(REPEATS):
        before = time.time()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.time() - before)
    measured = {
        "first_paint_s": round(statistics.median(m["paint"] - s for s, m in runs), 3),
        "model_ready_s": round(statistics.median(m["ready"] - s for s, m in runs), 2),
        "bare_interpreter_s": round(statistics.median(bare), 3),
        "first_use_with_conversion_ready_s": round(first["ready"] - first_start, 2),
        "repeats": REPEATS,
    }
    met = (
        measured["first_paint_s"] <= TARGET_PAINT_S and measured["model_ready_s"] <= TARGET_READY_S
    )
    target = {"first_paint_s_at_most": TARGET_PAINT_S, "model_ready_s_at_most": TARGET_READY_S}
    return {"measured": measured, "target": target, "met": met}


def run_memory() -> dict:
    runs = [
        _launch(APP, "switch", cache=_scratch("nokenviz-bench-fresh-"))[1] for _ in range(REPEATS)
    ]
    plain_gb = _launch(PLAIN_LOAD)[1]["max_rss_kb"] / 2**20

    def median_gb(key: str) -> float:
        return round(statistics.median(run[key] for run in runs) / 2**20, 3)

    app_gb, child_gb = median_gb("max_rss_kb"), median_gb("conversion_child_max_rss_kb")
    measured = {
        "app_peak_rss_gb": app_gb,
        "conversion_child_peak_rss_gb": child_gb,
        "rss_before_switch_gb": median_gb("before_switch_rss_kb"),
        "rss_after_switch_gb": median_gb("after_rss_kb"),
        "plain_from_pretrained_peak_rss_gb": round(plain_gb, 3),
        "ratio_to_plain": round(app_gb / plain_gb, 2),
        "what": "first use (GGUF conversion child), load, PCA sphere of 49k tokens, trace, "
        "inspector, then one model switch drawn the same way",
        "repeats": REPEATS,
    }
    return {
        "measured": measured,
        "target": {
            "app_peak_rss_gb_at_most": TARGET_RSS_GB,
            "child_peak_rss_gb_at_most": TARGET_RSS_GB,
        },
        "met": app_gb <= TARGET_RSS_GB and child_gb <= TARGET_RSS_GB,
    }

"""S: the app at production scale, on random models with real shapes (benchmarks/scale_models.py),
each measurement against plain transformers (or plain numpy / umap-learn) in the same run.

Method, per model, every measurement in a fresh child process (so peaks do not mix) with an
empty nokenviz cache:
1. Load: wall time of `python -m nokenviz info --model DIR` (imports included) vs a plain
   `python -c` importing torch + transformers and calling `from_pretrained` for the model (in the
   dtype the app chose, read from `nokenviz info --json`, which also warms the page cache) and
   the tokenizer. Median of 3, interleaved.
2. The app's window (offscreen Qt, as app_launch.py) loading the model: time from launch to the
   first paint, to the sphere (`session.fitted` set) and to ready (trace done, no job left); the
   peak RSS (VmHWM) over all of it, and the RSS after `gc.collect()` once ready. Baseline: a
   child doing `from_pretrained` plus one forward of the traced prompt (which touches every
   weight, as the trace does); its VmHWM.
3. Core timings in one child after `load_model`: the trace (median of 3) vs a forward with hidden
   states; a preview step (median of `PREVIEWS` vectors) vs a forward of the whole prompt; greedy
   generation of exactly 32 tokens (`run_generation`, median of 3) vs `model.generate`; PCA vs
   plain numpy PCA (median of 3); then, unless NOKENVIZ_SCALE_SKIP_UMAP=1, UMAP once with an
   empty cache (its peak RSS from a VmHWM reset just before) vs plain umap-learn on the unit
   rows of the same tokens the app fitted (its norm-stratified sample past UMAP_SAMPLE).
   The plain calls run on the model `load_model` returned, as preview_speed.py does: the same
   weights, with the app's CPU linear swap for few rows (core/models/cpu_linear.py), so the plain
   forwards are if anything faster than stock transformers.

    python -m benchmarks.scale [--table]   # NOKENVIZ_SCALE_MODELS_ONLY=name,name to restrict
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import scale_models
from benchmarks.app_launch import PEAK_RSS, WINDOW_MARKS
from benchmarks.preview_speed import PROMPT as PREVIEW_PROMPT

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
PREVIEWS = 10
NEW_TOKENS = 32
TIMEOUT_S = 3600
GB = 2**30
TARGET_LOAD_RATIO = 1.25
TARGET_PEAK = (1.05, 0.8)  # app peak <= 1.05 x plain peak + 0.8 GB
TARGET_STEADY_EXTRA_GB = 1.5  # app steady <= weights (as loaded) + 1.5 GB
# The random models are saved in bfloat16; a CPU without native bfloat16 loads them in float32.
LOADED_FACTOR = {"bfloat16": 1.0, "float16": 1.0, "float32": 2.0}
TARGET_UMAP_S, UMAP_JUDGED_VOCAB = 180.0, 256_000

PLAIN_LOAD = r"""
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=getattr(torch, sys.argv[2]))
AutoTokenizer.from_pretrained(sys.argv[1])
"""

PLAIN_PEAK = (
    PEAK_RSS
    + r"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
folder, dtype, prompt = sys.argv[1:4]
model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
tokenizer = AutoTokenizer.from_pretrained(folder)
with torch.no_grad():
    model(tokenizer(prompt, return_tensors="pt").input_ids)
print(json.dumps({"max_rss_kb": peak_rss_kb()}))
"""
)

GUI = (
    WINDOW_MARKS
    + r"""
app = QApplication([])
window = MainWindow()
session = window.session
watcher = FirstPaint()
window.installEventFilter(watcher)
def changed(parts):
    if "error" in parts and session.error:
        print(session.error, file=sys.stderr)
        app.exit(1)
    if session.fitted is not None:
        marks.setdefault("sphere", time.time())
    if session.trace is None or session.running or "ready" in marks:
        return
    marks["ready"] = time.time()
    gc.collect()
    marks["steady_rss_kb"] = rss_kb()
    marks["max_rss_kb"] = peak_rss_kb()
    window.close()
    app.quit()
window.controller.listen(changed)
window.show()
window.load_model(sys.argv[1])
code = app.exec()
print(json.dumps(marks))
sys.exit(code)
"""
)

CORE = (
    PEAK_RSS
    + r"""
import gc, json, statistics, sys, time
import numpy as np, torch
from nokenviz.core.generation.settings import DecodingSettings
from nokenviz.core.generation.experiment import run_generation
from nokenviz.core.maps.geometry import norms_and_mean
from nokenviz.core.residual.lens import trace_prompt
from nokenviz.core.models.loading import load_model
from nokenviz.core.nokens.preview import NokenPreview
from nokenviz.core.maps.projections import (
    UMAP_SAMPLE,
    ProjectionSpec,
    fit_projection,
    stratified_sample,
)
from nokenviz.core.nokens.prompts import prepare_prompt
from nokenviz.core.heap import return_large_frees

return_large_frees()  # as the app's entry point does
folder, prompts, skip_umap = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
previews, new_tokens, repeats = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
loaded = load_model(folder)
model, tokenizer, w_e = loaded.model, loaded.tokenizer, loaded.adapter.W_E.detach()
out = {}

def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start

def median_s(fn, times=repeats):
    return statistics.median(seconds(fn) for _ in range(times))

def ids(text):
    return tokenizer(text, return_tensors="pt").input_ids

torch.set_grad_enabled(False)
trace = prompts["trace"]
out["trace_s"] = median_s(lambda: trace_prompt(loaded, prepare_prompt(loaded, trace)))
out["plain_trace_s"] = median_s(lambda: model(ids(trace), output_hidden_states=True))

preview = NokenPreview(loaded, prompts["preview"], "x")
vectors = [w_e[i].float() for i in range(10, 10 + previews)]
out["preview_s"] = statistics.median(seconds(lambda: preview(v)) for v in vectors)
whole = ids(prompts["preview"].replace("{x}", "White"))
out["plain_forward_s"] = median_s(lambda: model(whole))

settings = DecodingSettings(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
runs = []
out["generate_s"] = median_s(lambda: runs.append(run_generation(loaded, trace, {}, settings)))
assert all(len(run.result.token_ids) == new_tokens for run in runs)
prompt_ids = ids(trace)
out["plain_generate_s"] = median_s(
    lambda: model.generate(
        prompt_ids,
        attention_mask=torch.ones_like(prompt_ids),
        do_sample=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        pad_token_id=tokenizer.eos_token_id,
    )
)

def plain_pca():
    units = w_e.to(torch.float32, copy=True).numpy()
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    units -= units.mean(axis=0)
    _, axes = np.linalg.eigh(units.T @ units)
    return units @ axes[:, -3:]

out["pca_s"] = median_s(lambda: fit_projection(w_e, ProjectionSpec("pca")))
out["plain_pca_s"] = median_s(plain_pca)

if not skip_umap:
    import umap
    spec = ProjectionSpec("umap")
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS, so the peak below is UMAP's
    start = time.perf_counter()
    fitted = fit_projection(w_e, spec)
    out["umap_s"] = time.perf_counter() - start
    out["umap_max_rss_kb"] = peak_rss_kb()
    out["umap_describe"] = fitted.describe()
    norms, _ = norms_and_mean(w_e)
    rows = np.arange(len(norms))
    if len(rows) > UMAP_SAMPLE:
        rows = stratified_sample(norms, UMAP_SAMPLE, spec.seed)
    units = w_e[torch.from_numpy(rows)].float().numpy()
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    plain = umap.UMAP(output_metric="haversine", random_state=0)
    out["plain_umap_s"] = seconds(lambda: plain.fit(units))
    out["umap_rows"] = len(rows)
print(json.dumps(out))
"""
)


def _wanted() -> list[str]:
    only = os.environ.get("NOKENVIZ_SCALE_MODELS_ONLY")
    names = [n.strip() for n in only.split(",")] if only else list(scale_models.SHAPES)
    unknown = [n for n in names if n not in scale_models.SHAPES]
    if unknown:
        raise SystemExit(
            f"NOKENVIZ_SCALE_MODELS_ONLY: unknown {unknown}; known {list(scale_models.SHAPES)}"
        )
    return names


def _child(args: list[str], cache: str) -> tuple[float, float, str]:
    """Run `python ARGS` fresh (offscreen, cache in `cache`): its start time, its wall time and
    what it printed."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TQDM_DISABLE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "XDG_CACHE_HOME": cache,
    }
    start = time.time()
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S
    )
    wall = time.time() - start
    if done.returncode:
        shown = " ".join(arg for arg in args if "\n" not in arg)  # the scripts left out
        raise RuntimeError(f"child {shown} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return start, wall, done.stdout


def _json(stdout: str) -> dict:
    """The JSON document that ends a child's output (one line, or indented from a '{' line)."""
    return json.loads(stdout[stdout.rfind("\n{") + 1 :])


def _model_folder(name: str) -> Path:
    """Build the model in its own process (several GB this process then never holds)."""
    command = [sys.executable, "-m", "benchmarks.scale_models", name]
    subprocess.run(command, cwd=ROOT, stdout=sys.stderr, check=True)
    return scale_models.model_dir(name)


def _load(folder: Path, cache: str) -> dict:
    """Load times, app vs plain; the app's info (its dtype is the plain load's)."""
    app_args = ["-m", "nokenviz", "info", "--model", str(folder)]
    info = _json(_child([*app_args, "--json"], cache)[2])
    plain_args = ["-c", PLAIN_LOAD, str(folder), info["dtype"]]
    app, plain = [], []
    for _ in range(REPEATS):
        app.append(_child(app_args, cache)[1])
        plain.append(_child(plain_args, cache)[1])
    return {"info": info, "app_s": statistics.median(app), "plain_s": statistics.median(plain)}


def _measure(name: str) -> dict:
    from nokenviz.core.scenes.scene import TracePart

    folder = _model_folder(name)
    trace_prompt = TracePart().prompt
    with tempfile.TemporaryDirectory(prefix="nokenviz-scale-") as cache:
        load = _load(folder, cache)
        info = load["info"]
        start, _, out = _child(["-c", GUI, str(folder)], cache)
        gui = _json(out)
        plain_args = ["-c", PLAIN_PEAK, str(folder), info["dtype"], trace_prompt]
        plain_peak = _json(_child(plain_args, cache)[2])
        prompts = json.dumps({"trace": trace_prompt, "preview": PREVIEW_PROMPT})
        skip = os.environ.get("NOKENVIZ_SCALE_SKIP_UMAP") == "1"
        core_args = ["-c", CORE, str(folder), prompts, str(int(skip))]
        core = _json(_child([*core_args, str(PREVIEWS), str(NEW_TOKENS), str(REPEATS)], cache)[2])
    weights = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    measured = {
        "vocab": info["vocab_size"],
        "d_model": info["d_model"],
        "layers": info["n_layers"],
        "tied": info["tied_embeddings"],
        "dtype": info["dtype"],
        "weights_gb": round(weights / GB, 2),
        "weights_loaded_gb": round(weights * LOADED_FACTOR[info["dtype"]] / GB, 2),
        "load_s_app": round(load["app_s"], 2),
        "load_s_plain": round(load["plain_s"], 2),
        "load_ratio": round(load["app_s"] / load["plain_s"], 3),
        "first_paint_s": round(gui["paint"] - start, 2),
        "sphere_s": round(gui["sphere"] - start, 2),
        "ready_s": round(gui["ready"] - start, 2),
        "peak_gb_app": round(gui["max_rss_kb"] / 2**20, 2),
        "peak_gb_plain": round(plain_peak["max_rss_kb"] / 2**20, 2),
        "steady_gb_app": round(gui["steady_rss_kb"] / 2**20, 2),
        "trace_ms_app": round(core["trace_s"] * 1000, 1),
        "trace_ms_plain": round(core["plain_trace_s"] * 1000, 1),
        "preview_ms_app": round(core["preview_s"] * 1000, 1),
        "preview_ms_plain": round(core["plain_forward_s"] * 1000, 1),
        "tok_s_app": round(NEW_TOKENS / core["generate_s"], 2),
        "tok_s_plain": round(NEW_TOKENS / core["plain_generate_s"], 2),
        "pca_s_app": round(core["pca_s"], 2),
        "pca_s_plain": round(core["plain_pca_s"], 2),
    }
    if "umap_s" in core:
        measured |= {
            "umap_s_app": round(core["umap_s"], 1),
            "umap_s_plain": round(core["plain_umap_s"], 1),
            "umap_peak_gb_app": round(core["umap_max_rss_kb"] / 2**20, 2),
            "umap_rows_fitted": core["umap_rows"],
            "umap_app": core["umap_describe"],
            "umap_plain": f"umap-learn on the unit rows of the same {core['umap_rows']:,} tokens",
        }
    else:
        measured["umap"] = "not measured (NOKENVIZ_SCALE_SKIP_UMAP=1)"
    measured["missed"] = _missed(measured, measured["weights_loaded_gb"])
    return measured


def _missed(m: dict, weights_gb: float) -> list[str]:
    """The targets this model misses (UMAP is judged on a 256k vocabulary only)."""
    factor, extra = TARGET_PEAK
    checks = {
        "load_ratio": m["load_ratio"] <= TARGET_LOAD_RATIO,
        "peak": m["peak_gb_app"] <= factor * m["peak_gb_plain"] + extra,
        "steady": m["steady_gb_app"] <= weights_gb + TARGET_STEADY_EXTRA_GB,
    }
    if "umap_s_app" in m and m["vocab"] >= UMAP_JUDGED_VOCAB:
        checks["umap"] = m["umap_s_app"] <= TARGET_UMAP_S
    return [name for name, ok in checks.items() if not ok]


def run() -> dict:
    measured = {name: _measure(name) for name in _wanted()}
    target = {
        "load_ratio_at_most": TARGET_LOAD_RATIO,
        "peak_gb_app_at_most": "1.05 x peak_gb_plain + 0.8",
        "steady_gb_app_at_most": f"weights_loaded_gb + {TARGET_STEADY_EXTRA_GB}",
        "umap_s_app_at_most_for_256k_vocab": TARGET_UMAP_S,
    }
    met = not any(m["missed"] for m in measured.values())
    return {"measured": measured, "target": target, "met": met}


def table(result: dict) -> str:
    """The measured results as a Markdown table, one row per model (pairs are app / plain)."""
    header = ["model", "load s", "peak GB", "steady GB", "first paint s", "sphere s"]
    header += ["trace ms", "preview ms", "tok/s", "PCA s", "UMAP s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, m in result["measured"].items():
        pair = _pairs(m)
        cells = [name, pair("load_s"), pair("peak_gb"), m["steady_gb_app"], m["first_paint_s"]]
        cells += [m["sphere_s"], pair("trace_ms"), pair("preview_ms"), pair("tok_s")]
        cells += [pair("pca_s"), pair("umap_s")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join([*lines, "", "Pairs are app / plain; – where not measured."])


def _pairs(m: dict) -> Callable[[str], str]:
    """`key` -> "app / plain" of one model's measurements."""
    return lambda key: f"{m.get(key + '_app', '–')} / {m.get(key + '_plain', '–')}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", action="store_true", help="then print a Markdown table")
    arguments = parser.parse_args()
    outcome = run()
    print(json.dumps(outcome, indent=2))
    if arguments.table:
        print(table(outcome))

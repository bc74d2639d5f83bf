"""The work the window asks of its workers, as plain functions `job(state, task) -> result`.

Each factory captures its arguments and imports the core lazily, so the window paints before
torch is imported (P4). Model jobs run on the model worker, whose `state["model"]` they share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError
from nokenviz.gui.worker import JobFn


def _model(state: dict[str, Any]) -> Any:
    if "model" not in state:
        raise NokenvizError("no model is loaded")
    return state["model"]


def load(spec: str) -> JobFn:
    def job(state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.loading import load_model
        from nokenviz.core.vocabulary import vocabulary

        task.what = f"loading {spec}"
        loaded = load_model(spec, task=task)
        snapshot = vocabulary(loaded)
        task.check()
        state["model"] = loaded  # only now: a failed or cancelled load keeps the previous model
        return snapshot

    return job


def project(matrix: np.ndarray, spec: Any) -> JobFn:
    def job(_state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.projections import fit_projection

        task.what = "the projection"
        return fit_projection(matrix, spec, task)

    return job


def neighbours(token: int, matrix_name: str, k: int = 12) -> JobFn:
    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.geometry import neighbours as find

        adapter = _model(state).adapter
        matrix = adapter.W_U if matrix_name == "W_U" else adapter.W_E
        return find(matrix, matrix[token], k=k, exclude=(token,))

    return job


def trace(prompt: str, position: int) -> JobFn:
    def job(state: dict[str, Any], _task: Task) -> Any:
        from nokenviz.core.lens import trace_prompt
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        prepared = prepare_prompt(loaded, prompt)
        try:
            return trace_prompt(loaded, prepared, position)
        except IndexError as exc:
            raise NokenvizError(str(exc)) from exc

    return job


def generate(prompt: str, noken_lines: list[str], settings: dict[str, Any], compare: bool) -> JobFn:
    """Generate from a prompt with nokens, streaming each token's text as a partial result."""

    def job(state: dict[str, Any], task: Task) -> dict[str, Any]:
        from nokenviz.core.generation import DecodingSettings, generate_baseline
        from nokenviz.core.generation import generate as run
        from nokenviz.core.nokens import parse_assignments
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        decoding = DecodingSettings(**settings)
        nokens = parse_assignments(noken_lines)
        prepared = prepare_prompt(loaded, prompt, nokens)
        result = run(
            loaded,
            prepared,
            decoding,
            on_token=lambda _id, text: task.partial(text),
            cancel=task.cancel_event,
        )
        baseline = None
        if compare and not result.cancelled:
            baseline = generate_baseline(loaded, prompt, nokens, decoding, task.cancel_event)
        return {
            "prompt": prompt,
            "nokens": {name: spec.to_json() for name, spec in nokens.items()},
            "settings": decoding.to_json(),
            "text": result.text,
            "token_ids": result.token_ids,
            "baseline_text": None if baseline is None else baseline.text,
            "stopped": result.cancelled,
        }

    return job


def preview(prompt: str, spec: dict[str, Any]) -> JobFn:
    """The noken's vector and its live preview in `prompt`'s {x} slot (prefix cache kept)."""

    def job(state: dict[str, Any], _task: Task) -> dict[str, Any]:
        from nokenviz.core.nokens import build_noken, parse_noken
        from nokenviz.core.preview import NokenPreview, span_of

        loaded = _model(state)
        cached = state.get("preview")
        if cached is None or cached.loaded is not loaded or cached.prompt != prompt:
            state["preview"] = NokenPreview(loaded, prompt, "x")  # runs the new prefix once
        parsed = parse_noken(spec)
        vector = build_noken(parsed, loaded.adapter.W_E, loaded.tokenizer)
        shown = state["preview"](vector, span=span_of(parsed, loaded))
        return {"spec": spec, "vector": vector.cpu().numpy(), "preview": shown}

    return job


def sweep(
    kind: str, prompts: tuple[str, str], steps: int, seeds: str, max_new_tokens: int
) -> JobFn:
    """A LERP/SLERP sweep between two prompts or a random-noken sweep over seeds (slot {x});
    rows stream as partial results."""

    def job(state: dict[str, Any], task: Task) -> list[Any]:
        from nokenviz.core.generation import DecodingSettings
        from nokenviz.core.sweeps import lerp_sweep, parse_seed_range, seed_sweep

        loaded = _model(state)
        settings = DecodingSettings(max_new_tokens=max_new_tokens)
        if kind == "seeds":
            return seed_sweep(
                loaded,
                prompts[0],
                "x",
                parse_seed_range(seeds),
                settings=settings,
                on_row=task.partial,
                cancel=task.cancel_event,
            )
        return lerp_sweep(
            loaded,
            prompts[0],
            prompts[1],
            steps,
            kind == "slerp",
            settings,
            on_row=task.partial,
            cancel=task.cancel_event,
        )

    return job


def soft(prompt: str, noken_lines: list[str], steps: int, temperature: float) -> JobFn:
    """Soft feedback (N6): the argmax shadow and the probability-weighted inputs fed back."""

    def job(state: dict[str, Any], task: Task) -> Any:
        from nokenviz.core.generation import soft_feedback
        from nokenviz.core.nokens import parse_assignments
        from nokenviz.core.prompts import prepare_prompt

        loaded = _model(state)
        prepared = prepare_prompt(loaded, prompt, parse_assignments(noken_lines))
        return soft_feedback(
            loaded,
            prepared,
            steps,
            temperature,
            task.cancel_event,
            on_step=lambda _id, text: task.partial(text),
        )

    return job


def export(scene: Any, data: Any, path: str, scale: float) -> JobFn:
    """Draw a scene's figure from what the window already computed (projection worker)."""

    def job(_state: dict[str, Any], task: Task) -> str:
        from nokenviz.core.figures import save_figure
        from nokenviz.core.render import scene_figure

        task.what = f"exporting {scene.figure}"
        return str(save_figure(scene_figure(scene, data), path, scale))

    return job

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

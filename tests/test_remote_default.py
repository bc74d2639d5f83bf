"""The real default model served and used from this process: results equal to a local load,
and a long remote job (the neighbour map of 49k tokens, minutes) cancelled within seconds."""

from __future__ import annotations

import importlib.util
import threading
import time

import numpy as np
import pytest

if importlib.util.find_spec("ray") is None:
    pytest.skip("the remote extra (Ray) is not installed", allow_module_level=True)

import nokenviz as nv
from nokenviz.core.task import Task
from nokenviz.errors import Cancelled
from tests.test_remote import TIMING, TOKEN, Server

pytestmark = pytest.mark.real_model


def _same(a: object, b: object) -> None:
    """Equal documents, floats to 1e-4 (another process may sum in another order)."""
    ja, jb = a.to_json(), b.to_json()  # type: ignore[attr-defined]
    for key in TIMING:
        ja.pop(key, None)
        jb.pop(key, None)
    _close(ja, jb)


def _close(a: object, b: object) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-4)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            _close(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
    else:
        assert a == b


def test_the_served_default_model_answers_as_the_local_one(smol) -> None:
    served = Server("default")
    try:
        remote, local = nv.connect(served.address, token=TOKEN), nv.Model(smol)
        nokens = {"x": {"mix": {" White": 0.5, " Black": 0.5}}}
        _same(remote.lens("The sun rises in the"), local.lens("The sun rises in the"))
        _same(
            remote.generate("{x} whippets are", nokens, compare=True, max_new_tokens=8),
            local.generate("{x} whippets are", nokens, compare=True, max_new_tokens=8),
        )
        steer = ['0:-1:{"mix": {" cat": 1.0}}:add']
        _same(
            remote.generate("My pet is a", inject=steer, max_new_tokens=6),
            local.generate("My pet is a", inject=steer, max_new_tokens=6),
        )
        found = remote.invert("{x} whippets are", nokens, length=1, time_limit=20)
        assert found.found.labels and found.found.kl >= 0
        there, here = remote.project("pca").coords, local.project("pca").coords
        np.testing.assert_allclose(there, here, atol=1e-4)

        stop, progress = threading.Event(), []

        def seen(fraction: float, message: str) -> None:
            progress.append(fraction)
            stop.set()  # Cancel once the remote job reports its first progress

        start = time.monotonic()
        with pytest.raises(Cancelled):
            remote.run(_neighbour_map_job(), Task(progress=seen, cancel_event=stop))
        assert progress and time.monotonic() - start < 60
        remote.close()
    finally:
        served.stop()


def _neighbour_map_job():
    from nokenviz.api import jobs, vocabulary_operations
    from nokenviz.api.requests import MapRequest

    return jobs.call_with_task(vocabulary_operations.project, MapRequest("neighbors"))

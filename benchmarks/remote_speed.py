"""R: the default model served by `nokenviz serve` over loopback, against a local load of it
in the same run.

Targets:
- generation from a noken through the connection: tokens/s >= 0.9x local (64 new tokens,
  greedy, wall time seen by the client, streaming on);
- one composer drag-preview step and one trace (the app's own jobs, with the composer's prefix
  cache kept as the app keeps it): at most local + 15 ms, the transport's cost, not the
  model's: judged on the remote wall time less the job's own time on the server, and the
  remote wall time less the local one reported beside it (medians of 20 runs, local and remote
  alternated, after 3 warm-ups);
- first connect (Ray Client session and vocabulary transfer, in a fresh process, timed from
  the connect call as the app's user meets it; the imports are reported apart): time and
  bytes; second connect from the disk cache: <= 2 s to a drawn sphere (the PCA map of the
  cached vocabulary fitted), in a fresh process;
- server memory with two clients connected: one copy of the weights (the actor's resident
  memory grows by less than half the weights' size).

Server and client share this machine's cores, so the remote figures carry the client's own
work beside the server's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from typing import Any

from nokenviz.core.task import Task

TOKEN = "benchmark-token"
PROMPT = "In the old kennel by the river, the champion of the season was a young {x} whippet"
SPEC = {"mix": {" White": 0.5, " Black": 0.5}}

CONNECT = """
import json, sys, time
begin = time.perf_counter()
from nokenviz.remote.client import connect
from nokenviz.remote.vocabulary import remote_vocabulary
from nokenviz.core.task import Task
from nokenviz.core.maps.projections import ProjectionSpec, fit_projection
start = time.perf_counter()  # as in the app, whose imports are done when the user connects
connection = connect(sys.argv[1], sys.argv[2])
connected = time.perf_counter() - start
vocab = remote_vocabulary(connection, Task())
fit_projection(vocab.matrices["W_E"], ProjectionSpec(kind="pca"))
print(json.dumps({"imports_s": start - begin, "connect_s": connected,
                  "sphere_s": time.perf_counter() - start}))
"""


def _ms(step: Any) -> float:
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1000


def _timed(job: Any) -> Any:
    """`job` answering also the seconds it ran where it ran (a local closure: it travels by
    value, as the app's jobs do)."""

    def run(state: dict[str, Any], task: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        result = job(state, task)
        return result, time.perf_counter() - start

    return run


def _steps(job: Any, state: dict[str, Any], remote: Any, repeats: int = 20) -> dict[str, float]:
    """Medians of the job run here and run on the server (alternated, after 3 warm-ups, so both
    see the same machine): wall times, and the server's own time for the job, so that the
    transport's cost (the remote wall time less the job's time there) is told apart from a
    server that computes slower (it shares this machine's cores with the client)."""
    timed = _timed(job)
    for _ in range(3):
        job(state, Task()), remote.run(timed)
    rows = []
    for _ in range(repeats):
        here = _ms(partial(job, state, Task()))
        start = time.perf_counter()
        _, there = remote.run(timed)
        wall = (time.perf_counter() - start) * 1000
        rows.append((here, wall, there * 1000))
    local, wall, server = (statistics.median(c) for c in zip(*rows, strict=True))
    return {"local": local, "remote": wall, "job_on_server": server}


def _fresh_connect(address: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CONNECT, address, TOKEN],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _actor_rss() -> int:
    import psutil

    for process in psutil.process_iter(["cmdline", "memory_info"]):
        if any("ModelServer" in part for part in process.info["cmdline"] or ()):
            return int(process.info["memory_info"].rss)
    return 0


def run() -> dict[str, Any]:
    import nokenviz as nv
    from nokenviz.remote.vocabulary import cache_path
    from nokenviz.state import work
    from tests.test_remote import Server

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nokenviz-bench-cache-")
    server = Server("default", token=TOKEN)
    try:
        first = _fresh_connect(server.address)
        second = _fresh_connect(server.address)
        local = nv.load("default")
        remote = nv.connect(server.address, token=TOKEN)
        rss_one = _actor_rss()  # this client connected; the second in a process of its own
        second_client = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CONNECT + "\nimport time; time.sleep(60)",
                server.address,
                TOKEN,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        second_client.stdout.readline()  # type: ignore[union-attr]
        rss_two = _actor_rss()
        second_client.kill()

        settings = {"max_new_tokens": 64, "min_new_tokens": 64, "temperature": 0.0}
        nokens = {"x": SPEC}
        rates = {}
        for name, model in (("local", local), ("remote", remote)):
            model.generate(PROMPT, nokens, max_new_tokens=4)  # warm
            start = time.perf_counter()
            done = model.generate(PROMPT, nokens, on_token=lambda i, t: None, **settings)
            rates[name] = len(done.token_ids) / (time.perf_counter() - start)

        state: dict[str, Any] = {"model": local.loaded}
        preview, trace = work.preview(PROMPT, SPEC), work.trace(PROMPT.replace("{x}", "white"), -1)
        step_ms = {"preview": _steps(preview, state, remote), "trace": _steps(trace, state, remote)}
        cached = cache_path(remote.connection.served["identity"])
        weights = sum(p.numel() * p.element_size() for p in local.hf_model.parameters())
        remote.close()
    finally:
        server.stop()
    ratio = rates["remote"] / rates["local"]
    transport = {k: v["remote"] - v["job_on_server"] for k, v in step_ms.items()}
    over_local = {k: v["remote"] - v["local"] for k, v in step_ms.items()}
    grown = rss_two - rss_one
    each = {
        "generation": ratio >= 0.9,
        "steps": max(transport.values()) <= 15.0,
        "second_connect": second["sphere_s"] <= 2.0,
        "one_copy": grown < weights / 2,
    }
    measured = {
        "tokens_per_s": {k: round(v, 1) for k, v in rates.items()},
        "generation_ratio": round(ratio, 3),
        "step_ms": {k: {m: round(v, 1) for m, v in row.items()} for k, row in step_ms.items()},
        "transport_ms": {k: round(v, 1) for k, v in transport.items()},
        "remote_over_local_ms": {k: round(v, 1) for k, v in over_local.items()},
        "first_connect_s": round(first["sphere_s"], 2),
        "first_connect_ray_session_s": round(first["connect_s"], 2),
        "vocabulary_bytes": cached.stat().st_size if cached.exists() else None,
        "second_connect_s": round(second["sphere_s"], 2),
        "second_connect_ray_session_s": round(second["connect_s"], 2),
        "client_imports_s": round(second["imports_s"], 2),
        "server_rss_mb": {"one_client": rss_one // 2**20, "two_clients": rss_two // 2**20},
        "weights_mb": weights // 2**20,
        "met_each": each,
    }
    target = (
        "remote generation >= 0.9x local tokens/s; preview and trace: the transport's cost "
        "(remote wall time less the job's time on the server) <= 15 ms; "
        "second connect <= 2 s to a drawn sphere; one copy of the weights for two clients"
    )
    return {"measured": measured, "target": target, "met": all(each.values())}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

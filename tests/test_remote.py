"""A model served by `nokenviz serve` on a local Ray cluster (loopback only), used through
`nokenviz.connect`, `--connect` and the app: the same results as a local load, streams in
order, cancel, two clients, a wrong token, another version, and a server killed mid-run."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

# Not imported here: Ray reads at import whether tokens are required (the client sets it).
if importlib.util.find_spec("ray") is None:
    pytest.skip("the remote extra (Ray) is not installed", allow_module_level=True)

import nokenviz as nv
from nokenviz.errors import NokenvizError

TOKEN = "test-token-1"
NV = [sys.executable, "-m", "nokenviz"]
TIMING = {"tokens_per_second", "seconds"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`nokenviz serve` in a process group of its own, stopped (or killed) by the test."""

    def __init__(
        self, model: str, token: str = TOKEN, port: int | None = None, more: tuple[str, ...] = ()
    ) -> None:
        self.port = port or _free_port()
        self.address = f"127.0.0.1:{self.port}"
        env = {**os.environ, "NOKENVIZ_TOKEN": token}
        command = [*NV, "serve", "--model", model, "--port", str(self.port), *more]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            self.lines.append(line.rstrip())
            if line.startswith("nokenviz: ready; connect with --connect"):
                return
        self.stop()
        raise AssertionError("the server did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tiny_dirs) -> Iterator[Server]:
    served = Server(tiny_dirs["llama"])
    yield served
    served.stop()


@pytest.fixture(scope="module")
def remote(server: Server) -> Iterator[nv.RemoteModel]:
    model = nv.connect(server.address, token=TOKEN)
    yield model
    model.close()


@pytest.fixture(scope="module")
def local(tiny_dirs) -> nv.Model:
    return nv.load(tiny_dirs["llama"])


def _same(a: object, b: object) -> None:
    ja, jb = a.to_json(), b.to_json()  # type: ignore[attr-defined]
    for key in TIMING:
        ja.pop(key, None)
        jb.pop(key, None)
    assert ja == jb


def test_the_server_says_how_to_connect(server: Server) -> None:
    text = "\n".join(server.lines)
    assert f"ssh -N -L {server.port}:127.0.0.1:{server.port}" in text
    assert server.lines[-1] == f"nokenviz: ready; connect with --connect {server.address}"
    assert "test-token-1" not in text  # a token given is never printed


def test_every_operation_gives_the_local_result(remote, local) -> None:
    nokens = {"x": {"mix": {"a": 0.5, "b": 0.5}}}
    assert remote.info.to_json() == local.info.to_json()
    assert remote.token_labels == local.token_labels
    _same(remote.neighbors(5, k=4), local.neighbors(5, k=4))
    _same(remote.lens("a b c", nokens=None), local.lens("a b c"))
    _same(remote.attention("a b {x}", nokens=nokens), local.attention("a b {x}", nokens=nokens))
    np.testing.assert_array_equal(remote.noken(nokens["x"]).vector, local.noken(nokens["x"]).vector)
    settings = {"max_new_tokens": 6, "temperature": 0.0}
    _same(
        remote.generate("a {x}", nokens, compare=True, **settings),
        local.generate("a {x}", nokens, compare=True, **settings),
    )
    _same(
        remote.generate("a b", soft=True, **settings), local.generate("a b", soft=True, **settings)
    )
    _same(
        remote.sweep("seeds", "a {x}", seeds="0-2", **settings),
        local.sweep("seeds", "a {x}", seeds="0-2", **settings),
    )
    _same(remote.length("a b c"), local.length("a b c"))
    _same(remote.readout("a b c", layer=1), local.readout("a b c", layer=1))
    _same(remote.tokens("len>2"), local.tokens("len>2"))
    np.testing.assert_array_equal(remote.project("pca").coords, local.project("pca").coords)


def test_tokens_stream_in_order_and_stop_within_one(remote, local) -> None:
    streams: dict[str, list[tuple[int, str]]] = {"remote": [], "local": []}
    for name, model in (("remote", remote), ("local", local)):
        got = streams[name]
        run = model.generate(
            "a",
            max_new_tokens=12,
            temperature=0.0,
            on_token=lambda i, t, got=got: got.append((i, t)),
        )
        assert [i for i, _ in streams[name]] == run.token_ids
    assert streams["remote"] == streams["local"]


CLIENT = """
import sys, threading, nokenviz as nv
model = nv.connect(sys.argv[1], token=sys.argv[2])
stop = threading.Event()
def on_token(i, t):
    print("token", i, flush=True)
    if sys.argv[3] == "stop":
        stop.set()
try:
    run = model.generate("a", max_new_tokens=int(sys.argv[4]), min_new_tokens=int(sys.argv[4]),
                         temperature=0.0, on_token=on_token, cancel=stop)
    print("done", len(run.token_ids), run.stopped, flush=True)
except nv.errors.NokenvizError as exc:
    print("error", exc, flush=True)
"""


@pytest.mark.real_model
def test_stop_ends_a_remote_generation_within_a_token_or_two() -> None:
    """On the default model (a token takes tens of ms here): Stop after the first token."""
    served = Server("default", token="other-token")
    try:
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, served.address, "other-token", "stop", "200"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        served.stop()
    last = done.stdout.splitlines()[-1].split()
    assert last[0] == "done" and last[2] == "True", done.stdout + done.stderr
    assert int(last[1]) <= 3


def test_a_figure_renders_from_the_served_model(remote, local, tmp_path: Path) -> None:
    scene = Path(__file__).parents[1] / "resources" / "examples" / "logit_lens.json"
    there = remote.render(scene, tmp_path / "remote.png")
    here = local.render(scene, tmp_path / "local.png")
    assert there.bytes > 10_000
    assert abs(there.bytes - here.bytes) < 0.02 * here.bytes


def test_a_job_of_ones_own_runs_beside_the_weights(remote) -> None:
    d_model = remote.run(_width)
    assert d_model == remote.info.d_model
    with pytest.raises(NokenvizError, match="served at"):
        _ = remote.hf_model


def _width(state, task) -> int:
    return int(state["model"].adapter.W_E.shape[1])


def test_another_nokenviz_version_is_named(remote) -> None:
    connection = remote.connection
    with pytest.raises(NokenvizError, match=r"nokenviz 0\.0\.1 and the server nokenviz"):
        connection.call("hello", "someone", "0.0.1")


def test_the_app_draws_and_traces_the_served_model(
    qtbot, window, server: Server, remote, local, monkeypatch
) -> None:
    """`nokenviz gui --connect`: the sphere from the served vocabulary, the trace and the
    lens computed there, the status bar saying where the model runs."""
    from PySide6.QtWidgets import QInputDialog

    from nokenviz.core.maps.vocabulary import vocabulary
    from nokenviz.core.task import Task
    from nokenviz.gui.status_line import model_summary
    from nokenviz.state import work
    from tests.test_gui import wait_idle

    monkeypatch.setenv("NOKENVIZ_TOKEN", TOKEN)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: _answer(a[2], server.address))
    connect = next(a for a in window.actions() if a.text() == "&Connect to a served model…")
    signals = [window.model_ready, window.projection_ready, window.trace_ready]
    with qtbot.waitSignals(signals, timeout=120_000):
        connect.trigger()
    wait_idle(qtbot, window)
    s = window.session
    assert s.error is None or s.error == ""
    assert "remote: " in model_summary(s) and "round trip" in model_summary(s)
    assert s.vocab is not None and s.trace is not None
    mine = vocabulary(local.loaded)
    np.testing.assert_array_equal(s.vocab.norms["W_E"], mine.norms["W_E"])
    assert s.vocab.labels == mine.labels
    here, _ = work.trace(*s.trace_asked)({"model": local.loaded}, Task())
    np.testing.assert_array_equal(s.trace.heat_ids, here.heat_ids)
    np.testing.assert_allclose(s.trace.norms, here.norms, rtol=1e-5)


def test_a_wrong_token_is_refused_before_any_work(server: Server) -> None:
    start = time.monotonic()
    done = subprocess.run(
        [*NV, "info", "--connect", server.address, "--token", "wrong"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "refused this client: the token is wrong or missing" in done.stderr
    assert time.monotonic() - start < 60
    missing = subprocess.run(
        [*NV, "info", "--connect", server.address],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "NOKENVIZ_TOKEN"},
    )
    assert missing.returncode == 1
    assert "needs its token" in missing.stderr


def test_two_clients_each_get_their_own_results(server: Server, remote) -> None:
    """Another client's Stop never touches this one's job; another process, connected beside
    this one, gets its own result (the server runs one job on the model at a time)."""
    from nokenviz.api import jobs
    from nokenviz.api.requests import GenerateRequest
    from nokenviz.core.generation.settings import DecodingSettings
    from nokenviz.remote.client import Connection

    mine = remote.connection
    other = Connection(mine.address, mine.actor, "another-client", {})
    other.call("hello", "another-client", nv.__version__)
    decoding = DecodingSettings(max_new_tokens=60, min_new_tokens=60, temperature=0.0)
    job = jobs.generate(GenerateRequest("a", decoding=decoding))
    run_id, answer = mine.call("start", mine.client, job, 0.0)
    other.call("cancel", "another-client", run_id)  # not its job: nothing happens
    seen = 0
    while not answer.done:
        seen += len(answer.events)
        answer = mine.call("wait", run_id, seen, 1.0)
    assert not answer.cancelled and len(answer.result.token_ids) == 60

    beside = subprocess.Popen(
        [sys.executable, "-c", CLIENT, server.address, TOKEN, "go", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    run = remote.generate("a", max_new_tokens=40, min_new_tokens=40, temperature=0.0)
    out, _ = beside.communicate(timeout=120)
    assert len(run.token_ids) == 40 and not run.stopped
    assert out.splitlines()[-1] == "done 30 False"


def _clients(connection) -> int:
    return int(connection.call("hello", connection.client, nv.__version__)["clients"])


def test_a_client_that_exits_leaves_the_server(server: Server, remote) -> None:
    """A script or a CLI command ends: its client is dropped at once (not when its heartbeat
    falls silent), so the server keeps no state for it."""
    before = _clients(remote.connection)
    script = "import sys, nokenviz as nv; print(nv.connect(sys.argv[1], token=sys.argv[2]).info)"
    done = subprocess.run(
        [sys.executable, "-c", script, server.address, TOKEN], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert _clients(remote.connection) == before


def test_a_client_whose_heartbeat_stops_is_forgotten(tiny_dirs) -> None:
    """The server's side of a vanished client (a killed process, a closed laptop): once silent
    for `FORGET_SECONDS`, its state is dropped and its running job stopped and dropped; one
    that beats is kept; the forgotten one, should it come back, is told."""
    from nokenviz.core.models.model_spec import LoadOptions
    from nokenviz.remote.server import FORGET_SECONDS, Forgotten, ModelServer

    served = ModelServer(tiny_dirs["llama"], LoadOptions())  # the actor's class, in process
    served.hello("gone", nv.__version__)
    served.hello("here", nv.__version__)

    def endless(state, task) -> None:
        while True:
            task.check()
            time.sleep(0.01)

    run_id, _ = served.start("gone", endless, 0.0)
    later = time.monotonic() + FORGET_SECONDS / 2
    served.ping("here")
    assert served.forget_silent(later) == []
    served.last_seen["here"] = later  # it beat then; "gone" did not
    assert served.forget_silent(later + FORGET_SECONDS / 2 + 1) == ["gone"]
    assert set(served.clients) == {"here"}
    deadline = time.monotonic() + 10
    while run_id in served.runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run_id not in served.runs  # stopped, and its end not kept for nobody
    with pytest.raises(Forgotten):
        served.ping("gone")
    with pytest.raises(Forgotten):
        served.start("gone", endless, 0.0)


def test_a_job_that_cannot_cross_is_said_and_the_link_kept(remote) -> None:
    """Something that cannot be pickled, sent or sent back, is a mistake of the job, not a
    lost server: one line, and the connection goes on working."""
    import threading

    lock = threading.Lock()
    with pytest.raises(NokenvizError, match="cannot send this to the server: cannot pickle"):
        remote.run(lambda state, task: lock.locked())
    with pytest.raises(NokenvizError, match="the server could not answer: cannot pickle"):
        remote.run(lambda state, task: threading.Lock())
    assert remote.run(_width) == remote.info.d_model
    assert remote.connection.lost is None


@pytest.mark.real_model
def test_a_server_killed_mid_generation_is_said_within_seconds() -> None:
    served = Server("default", token="other-token")  # slow enough to be killed mid-run
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, served.address, "other-token", "go", "2000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout.readline().startswith("token")  # type: ignore[union-attr]
        served.kill()
        killed = time.monotonic()
        out, _ = client.communicate(timeout=60)
        said = time.monotonic() - killed
    finally:
        client.kill()
        served.stop()
    last = out.splitlines()[-1]
    assert last.startswith("error") and "server" in last, out[-500:]
    assert said < 10


def test_a_cluster_already_running_serves_the_model(tiny_dirs) -> None:
    """`serve --address`: the model's actor on a cluster started apart (as on a lab's), the
    clients through this server's own port; stopping the server ends its actor, not the
    cluster, so a second server takes its place."""
    gcs = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
    ray_bin = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", f"--port={gcs}", "--node-ip-address=127.0.0.1",
         f"--ray-client-server-port={_free_port()}", "--min-worker-port=0",
         "--max-worker-port=0", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={tempfile.mkdtemp(prefix='nv-ray-')}"],  # short: Ray's socket paths
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(2):
            served = Server(tiny_dirs["llama"], more=("--address", f"127.0.0.1:{gcs}"))
            try:
                width = subprocess.run(
                    [*NV, "info", "--json", "--connect", served.address],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env={**os.environ, "NOKENVIZ_TOKEN": TOKEN},
                )
                assert width.returncode == 0, width.stderr
                assert json.loads(width.stdout)["d_model"] == 32
            finally:
                served.stop()
            assert served.process.returncode == 0
        assert head.poll() is None  # the cluster outlives its servers
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)


def test_serving_on_a_cluster_that_is_not_there_is_one_line(server: Server) -> None:
    env = {**os.environ, "NOKENVIZ_TOKEN": TOKEN}
    for more, said in (
        (["--address", "127.0.0.1:1", "--port", str(_free_port())], "no Ray cluster answers at"),
        (["--port", str(server.port)], f"port {server.port} is taken"),
    ):
        done = subprocess.run(
            [*NV, "serve", *more], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 1 and said in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_on_the_gpu_is_served_from_it(tiny_dirs) -> None:
    """`serve --device cuda` on the cluster it starts: Ray gives the actor a GPU, the model
    runs there, and a lens through the connection equals one on a local CUDA load."""
    served = Server(tiny_dirs["llama"], more=("--device", "cuda"))
    env = {**os.environ, "NOKENVIZ_TOKEN": TOKEN}
    try:
        assert any("on one GPU" in line for line in served.lines), served.lines
        lens = [*NV, "lens", "The sun rises in the", "--json"]
        there = subprocess.run(
            [*lens, "--connect", served.address],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        info = subprocess.run(
            [*NV, "info", "--json", "--connect", served.address],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        served.stop()
    here = subprocess.run(
        [*lens, "--model", tiny_dirs["llama"], "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert there.returncode == 0 and here.returncode == 0, there.stderr + here.stderr
    assert json.loads(info.stdout)["device"].startswith("cuda"), info.stdout + info.stderr
    remote, local = json.loads(there.stdout), json.loads(here.stdout)
    for key in TIMING:
        remote.pop(key, None), local.pop(key, None)
    assert remote == local


def test_the_actor_asks_ray_for_the_gpus_its_device_plan_needs() -> None:
    """A CPU-only cluster and fake GPU nodes: what `serve` reserves for the model's actor."""
    from nokenviz.core.models.model_spec import LoadOptions
    from nokenviz.remote.serving import placement

    cpu_only = [{"Alive": True, "Resources": {"CPU": 2.0}}]
    gpu_nodes = [
        {"Alive": True, "Resources": {"CPU": 32.0, "GPU": 4.0}},
        {"Alive": True, "Resources": {"CPU": 64.0, "GPU": 8.0}},
        {"Alive": False, "Resources": {"GPU": 16.0}},  # gone: not counted
    ]
    assert placement(LoadOptions(), cpu_only).gpus == 0
    assert placement(LoadOptions(device="cpu"), gpu_nodes).gpus == 0
    assert placement(LoadOptions(), gpu_nodes).gpus == 1
    assert placement(LoadOptions(device="cuda:1"), gpu_nodes).gpus == 1
    spread = placement(LoadOptions(device_map="auto"), gpu_nodes)
    assert spread.gpus == 8 and "8 GPUs of one node" in spread.why
    assert placement(LoadOptions(max_memory={"cuda:0": 2**30}), gpu_nodes).gpus == 8
    with pytest.raises(NokenvizError, match="the cluster has none"):
        placement(LoadOptions(device="cuda"), cpu_only)


def test_a_server_without_a_token_makes_one_and_a_client_without_one_is_told(monkeypatch) -> None:
    from nokenviz.remote.client import token_from
    from nokenviz.remote.serving import new_token

    monkeypatch.delenv("NOKENVIZ_TOKEN", raising=False)
    made, printed = new_token(None)
    assert printed and len(made) >= 24 and made != new_token(None)[0]
    assert new_token("mine") == ("mine", False)
    with pytest.raises(NokenvizError, match="give --token or set NOKENVIZ_TOKEN"):
        token_from(None)
    monkeypatch.setenv("NOKENVIZ_TOKEN", "from-env")
    assert token_from(None) == "from-env" and new_token(None) == ("from-env", False)


def _answer(label: str, address: str) -> tuple[str, bool]:
    """The File > Connect dialogs' answers: the address, then the token."""
    return (TOKEN if "token" in label else address), True


def test_a_command_whose_argument_is_a_token_still_takes_the_servers_token(server: Server) -> None:
    """`neighbors TOKEN --token T`: the token to look up and the server's token stay apart."""
    done = subprocess.run(
        [
            *NV,
            "neighbors",
            "#5",
            "-k",
            "3",
            "--connect",
            server.address,
            "--token",
            TOKEN,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "NOKENVIZ_TOKEN"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["id"] == 5 and len(found["top"]) == 3

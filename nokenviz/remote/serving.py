"""`nokenviz serve`: a Ray cluster (one it starts on this machine, or an existing one), the
model loaded once in a `ModelServer` actor, and the lines a user needs to connect to it.

The cluster requires Ray's token authentication, so every request, and every job a client
ships, is checked against the token before Ray unpickles anything of it.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nokenviz.core.models.model_spec import LoadOptions
from nokenviz.errors import NokenvizError
from nokenviz.remote.client import TOKEN_VARIABLE, use_token
from nokenviz.remote.server import ACTOR_NAME, NAMESPACE, ModelServer

DEFAULT_PORT = 10001  # Ray Client's own default
Say = Callable[[str], None]


@dataclass(frozen=True)
class Placement:
    """How many GPUs the model's actor asks Ray for, and why (said when serving)."""

    gpus: int
    why: str


def placement(options: LoadOptions, nodes: Sequence[Mapping[str, Any]]) -> Placement:
    """The GPUs to reserve for the actor from the device plan and the cluster's live nodes
    (`ray.nodes()`): none for the CPU; one for `cuda`/`cuda:N`; every GPU of the largest GPU
    node for `auto` with a device map or memory caps (the layers are spread over that node's
    GPUs as on a local load) and one for plain `auto`."""
    most = max(
        (int(n.get("Resources", {}).get("GPU", 0)) for n in nodes if n.get("Alive")), default=0
    )
    device = options.device
    if device in ("cpu", "mps") or most == 0:
        if device.startswith("cuda"):
            raise NokenvizError(f"--device {device} asks for a GPU and the cluster has none")
        return Placement(0, "on the CPU: the cluster has no GPU" if most == 0 else "on the CPU")
    spread = options.device_map == "auto" or options.max_memory is not None
    if device == "auto" and spread:
        return Placement(most, f"spread over the {most} GPUs of one node")
    return Placement(1, "on one GPU")


def new_token(given: str | None) -> tuple[str, bool]:
    """The token to require: `--token`, `NOKENVIZ_TOKEN`, or a new one (True: print it)."""
    token = given or os.environ.get(TOKEN_VARIABLE, "")
    return (token, False) if token else (secrets.token_urlsafe(24), True)


def serve(
    spec: str,
    options: LoadOptions,
    port: int = DEFAULT_PORT,
    address: str | None = None,
    token: str | None = None,
    say: Say = print,
) -> int:
    """Serve `spec` until Ctrl+C (or SIGTERM); returns the exit status."""
    token, made = new_token(token)
    use_token(token)
    import ray

    if _listening(port):
        raise NokenvizError(f"port {port} is taken: choose another with --port")
    gateway = None
    try:
        _join_or_start(address)
        where = placement(options, ray.nodes())
        say(f"nokenviz: loading {spec} {where.why}")
        say(_tunnel_line(port))
        say(
            "nokenviz: token: " + token + f" (give it to clients as {TOKEN_VARIABLE} or --token)"
            if made
            else f"nokenviz: clients need this server's token ({TOKEN_VARIABLE} or --token)"
        )
        actor = _start_actor(spec, options, where)
        info = ray.get(actor.hello.remote("serve", _version()))["info"]
        ray.get(actor.leave.remote("serve"))
        gateway = Gateway.start(ray.get_runtime_context().gcs_address, port)
        place = f"{platform.node()} ({info['device']}, {info['dtype']})"
        say(f"nokenviz: serving {info['name']} on {place}")
        say(f"nokenviz: ready; connect with --connect 127.0.0.1:{port}")
        _wait_for_stop(gateway)
        say("nokenviz: stopping")
        return 0
    except ray.exceptions.RayActorError as exc:
        cause = getattr(exc, "cause", None) or exc
        raise NokenvizError(
            f"the model did not load: {str(cause).strip().splitlines()[-1]}"
        ) from None
    finally:
        if gateway is not None:
            gateway.stop()
        ray.shutdown()  # a cluster this process started ends with it


def _join_or_start(address: str | None) -> None:
    """Join the cluster at `address`, or start one on this machine, bound to 127.0.0.1 and
    owned by this process (it stops when `serve` does)."""
    import ray

    if address:
        host, _, port = address.rpartition(":")
        if address != "auto" and not (port.isdigit() and _listening(int(port), host)):
            raise NokenvizError(
                f"no Ray cluster answers at {address}: start one there (`ray start --head`), "
                "or leave out --address to serve on a cluster of this server's own"
            )
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.ERROR)
        return
    ray.init(
        address="local",
        namespace=NAMESPACE,
        logging_level=logging.ERROR,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=tempfile.mkdtemp(prefix="nokenviz-ray-"),
    )


def _version() -> str:
    from nokenviz.version import __version__

    return __version__


def _start_actor(spec: str, options: LoadOptions, where: Placement) -> Any:
    import ray

    server = ray.remote(ModelServer).options(
        name=ACTOR_NAME,
        namespace=NAMESPACE,
        max_concurrency=64,  # waits and cancels beside the running job, for many clients
        num_gpus=where.gpus,
        num_cpus=0,
    )
    return server.remote(spec, options)


def _tunnel_line(port: int) -> str:
    host = platform.node() or socket.getfqdn()
    return (
        f"nokenviz: from your laptop, open the tunnel: ssh -N -L {port}:127.0.0.1:{port} "
        f"{getpass.getuser()}@{host}"
    )


def _wait_for_stop(gateway: Gateway) -> None:
    """Block until Ctrl+C or SIGTERM (or the gateway's death, said)."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.wait(1.0):
        if gateway.process.poll() is not None:
            raise NokenvizError(
                f"Ray Client's server ended: clients can no longer connect{gateway.why}"
            )


@dataclass
class Gateway:
    """The port clients connect to, bound to 127.0.0.1 alone: `nokenviz.remote.gateway`, a
    child process that dies with this one."""

    process: subprocess.Popen[bytes]
    log: Path  # what it printed

    @classmethod
    def start(cls, cluster: str, port: int) -> Gateway:
        command = [sys.executable, "-m", "nokenviz.remote.gateway", str(port), cluster]
        log = Path(tempfile.mkdtemp(prefix="nokenviz-gateway-")) / "gateway.log"
        with log.open("wb") as written:
            process = subprocess.Popen(
                command, stdout=written, stderr=written, preexec_fn=_die_with_parent
            )
        gateway = cls(process, log)
        deadline = time.monotonic() + 60
        while not _listening(port):
            if gateway.process.poll() is not None or time.monotonic() > deadline:
                gateway.stop()
                why = gateway.why
                raise NokenvizError(f"Ray Client's server did not start on port {port}{why}")
            time.sleep(0.1)
        return gateway

    @property
    def why(self) -> str:
        """The last line the gateway wrote (its error, when it ended), to quote."""
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return f" ({lines[-1].strip()}; the whole log: {self.log})" if lines else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _die_with_parent() -> None:
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(2.0)
        try:
            return s.connect_ex((host, port)) == 0
        except OSError:  # a host name that does not resolve
            return False

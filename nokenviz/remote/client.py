"""A connection to a model served by `nokenviz serve`, through Ray Client.

`Connection.run(job, task)` runs a `job(state, task)` on the server as if it ran here: the
server's progress and streamed pieces reach `task`, setting `task`'s cancel stops the job
there, and its result or its one-line error comes back. Every failure of the link (the server
gone, the tunnel dropped, a wrong token) ends as a `RemoteError` within seconds, never a hang.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from nokenviz.core.task import Task
from nokenviz.errors import Cancelled, NokenvizError
from nokenviz.remote.server import (
    ACTOR_NAME,
    FORGET_SECONDS,
    HEARTBEAT_SECONDS,
    NAMESPACE,
    Forgotten,
    StateJob,
)
from nokenviz.version import __version__

TOKEN_VARIABLE = "NOKENVIZ_TOKEN"
ANSWER_SECONDS = 8.0  # a poll not answered in this long means the server or the link is gone
POLL_SECONDS = 2.0  # the longest one poll waits on the server for the job's next event
_lock = threading.RLock()  # `connect` holds it while a failed hello forgets the connection
_open: dict[str, Connection] = {}
_latest: dict[str, Connection] = {}  # the last connection made to each address, lost or not


class RemoteError(NokenvizError):
    """The link to the server failed (not the job): the app offers to reconnect."""


@dataclass
class Connection:
    """One client of a served model: its address, the actor, and what the server said."""

    address: str
    actor: Any
    client: str
    served: dict[str, Any]
    round_trip: float | None = None  # seconds, from the latest heartbeat
    lost: str | None = None  # why the link failed, once it has
    closed: threading.Event = field(default_factory=threading.Event)

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.served["info"])

    @property
    def where(self) -> str:
        """`remote: gpu-node-3 · cuda:0 · bfloat16` for the status bar."""
        info = self.info
        device = info.get("device_plan") or info["device"]
        return f"remote: {self.served['host']} · {device} · {info['dtype']}"

    @property
    def link(self) -> str:
        """The link now, for the status bar: the last heartbeat's round trip, or its loss."""
        if self.lost is not None:
            return self.lost
        return "" if self.round_trip is None else f"{self.round_trip * 1000:.0f} ms round trip"

    def latency(self) -> float:
        """One round trip to the server, in seconds (also this client's heartbeat)."""
        start = time.perf_counter()
        self.call("ping", self.client)
        self.round_trip = time.perf_counter() - start
        return self.round_trip

    def beat(self) -> None:
        """Ping every `HEARTBEAT_SECONDS` until closed: the server keeps this client's state
        while it hears it, and a lost link is known (and said) while the user is idle."""
        while not self.closed.wait(HEARTBEAT_SECONDS):
            try:
                self.latency()
            except RemoteError:  # `call` said why in `lost`, and forgot this connection
                return
            except NokenvizError:  # the server's own trouble answering: try again next beat
                continue

    def run(self, job: StateJob, task: Task | None = None) -> Any:
        """`job(state, task)` on the server, with `task`'s progress, partials and cancel."""
        task = task or Task()
        polled = POLL_SECONDS + ANSWER_SECONDS
        run_id, answer = self.call("start", self.client, job, POLL_SECONDS, timeout=polled)
        ended = threading.Event()
        if not answer.done:
            watch = threading.Thread(target=self._stop_on_cancel, args=(task, run_id, ended))
            watch.daemon = True
            watch.start()
        seen = 0
        try:
            while True:
                seen += len(answer.events)
                for kind, value in answer.events:
                    if kind == "partial":
                        task.partial(value)
                    elif task.progress is not None:
                        task.progress(*value)
                if answer.done:
                    break
                answer = self.call("wait", run_id, seen, POLL_SECONDS, timeout=polled)
        finally:
            ended.set()
        if answer.cancelled:
            raise Cancelled(task.what)
        if answer.error is not None:
            raise NokenvizError(answer.error)
        return answer.result

    def _stop_on_cancel(self, task: Task, run_id: int, ended: threading.Event) -> None:
        """Send Stop the moment it is pressed, not when the running poll comes back."""
        while not ended.is_set():
            if task.cancel_event.wait(0.05):
                with contextlib.suppress(NokenvizError):  # the poll says what the link did
                    self.call("cancel", self.client, run_id)
                return

    def close(self) -> None:
        """Leave the server (its jobs for this client stop) and drop the Ray connection."""
        import ray

        self.closed.set()
        with _lock:
            current = _open.get(self.address) is self
        self._forget()
        if not current:  # lost or replaced already: Ray's session is another's, or none
            return
        with contextlib.suppress(RemoteError):  # a server already gone has nothing to stop
            self.call("leave", self.client, timeout=2.0)
        ray.shutdown()

    def _forget(self) -> None:
        """A broken link is not handed out again: the next `connect` makes a new one."""
        with _lock:
            if _open.get(self.address) is self:
                del _open[self.address]

    def call(self, method: str, *args: Any, timeout: float = ANSWER_SECONDS) -> Any:
        """One call of the server's actor, its answer within `timeout` seconds. The server's
        own refusal comes back as it said it; any failure of the link as a `RemoteError`."""
        import ray
        from ray.exceptions import GetTimeoutError, RayTaskError

        if self.lost is not None:  # said once, by the heartbeat or an earlier call
            raise RemoteError(self.lost)
        try:
            try:
                answer = getattr(self.actor, method).remote(*args)
            except (TypeError, pickle.PicklingError) as exc:  # this side: the link is fine
                raise NokenvizError(f"cannot send this to the server: {exc}") from None
            return ray.get(answer, timeout=timeout)
        except NokenvizError:
            raise
        except GetTimeoutError:
            raise self._lose(
                f"the server at {self.address} did not answer in {timeout:.0f} s: connect again "
                "to go on"
            ) from None
        except RayTaskError as exc:  # the server said no (a version), or could not send its
            # answer back: the link itself is fine; unless it forgot this client
            if isinstance(exc.cause, Forgotten):
                raise self._lose(
                    f"the server at {self.address} no longer knows this client (silent for over "
                    f"{FORGET_SECONDS:.0f} s, or restarted): connect again to go on"
                ) from None
            if isinstance(exc.cause, NokenvizError):
                raise NokenvizError(str(exc.cause)) from None
            raise NokenvizError(f"the server could not answer: {_first_line(exc.cause)}") from None
        except Exception as exc:  # the link: Ray's errors, or Ray Client no longer connected
            raise self._lose(
                f"lost the server at {self.address} ({_first_line(exc)}): connect again to go on"
            ) from None

    def _lose(self, why: str) -> RemoteError:
        if not self.closed.is_set():
            self.lost = why
        self.closed.set()
        self._forget()
        return RemoteError(why)


def token_from(given: str | None) -> str:
    """`--token`, else the `NOKENVIZ_TOKEN` environment variable."""
    token = given or os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        raise NokenvizError(
            f"a served model needs its token: give --token or set {TOKEN_VARIABLE} "
            "(`nokenviz serve` prints it)"
        )
    return token


def connect(address: str, token: str | None = None) -> Connection:
    """Connect to the model served at `address` (`host:port`, e.g. the local end of an ssh
    tunnel). One connection per address and process; a second call returns the first."""
    address = address.removeprefix("ray://")
    with _lock:
        if address in _open:
            return _open[address]
        connection = _open[address] = _connect(address, token_from(token))
    return connection


def use_token(token: str) -> None:
    """Make this process speak to Ray clusters with `token`. Ray reads whether tokens are on
    when it is imported, and caches the token: both are set before, and the cache emptied."""
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    from ray._raylet import (  # type: ignore[attr-defined]
        AuthenticationMode,
        AuthenticationTokenLoader,
        get_authentication_mode,
    )

    if get_authentication_mode() != AuthenticationMode.TOKEN:
        raise NokenvizError(
            "Ray was imported in this process before nokenviz could require tokens: connect "
            "(or serve) before importing ray, or set RAY_AUTH_MODE=token"
        )
    AuthenticationTokenLoader.instance().reset_cache()


def _connect(address: str, token: str) -> Connection:
    use_token(token)
    import ray

    os.environ.setdefault("RAY_CLIENT_RECONNECT_GRACE_PERIOD", "3")  # a lost link: said soon
    _check_token(address)
    from ray.util.client import num_connected_contexts

    for old in list(_open.values()):  # Ray Client holds one session per process: the others
        old.closed.set()  # end here, leaving their servers (their heartbeats stop)
        with contextlib.suppress(NokenvizError):
            old.call("leave", old.client, timeout=2.0)
    _open.clear()
    if ray.is_initialized() or num_connected_contexts():
        # A connection to another server, or one a lost server left: Ray Client holds one at
        # a time per process (and keeps a dead one counted until shut down).
        with contextlib.suppress(Exception):
            ray.shutdown()
    _open_session(address)
    try:
        actor = ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    except ValueError:
        ray.shutdown()
        raise RemoteError(f"the Ray cluster at {address} serves no nokenviz model") from None
    client = uuid.uuid4().hex
    connection = Connection(address, actor, client, {})
    connection.served = connection.call("hello", client, __version__, timeout=60)
    _latest[address] = connection
    atexit.register(connection.close)  # registered after Ray's exit hook, so run before it
    threading.Thread(target=connection.beat, daemon=True, name="nokenviz heartbeat").start()
    return connection


def latest(address: str) -> Connection | None:
    """The last connection made to `address` in this process (open, lost or closed)."""
    return _latest.get(address.removeprefix("ray://"))


def _open_session(address: str) -> None:
    """Ray Client's connection, tried twice (a busy server may start a client's session
    slowly); Ray's own advice on ports and task sizes is left out, ours says more."""
    import ray

    for attempt in (1, 2):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                ray.init(f"ray://{address}", namespace=NAMESPACE, logging_level=logging.ERROR)
            return
        except ConnectionError as exc:
            if attempt == 2:
                raise RemoteError(f"could not connect to {address}: {_first_line(exc)}") from None
        except RuntimeError as exc:  # Ray Client's own version check
            raise RemoteError(f"cannot use the server at {address}: {_first_line(exc)}") from None


def _check_token(address: str) -> None:
    """Ask the server's Ray Client port for a ping with the token before connecting: a wrong
    token is refused at once (Ray Client itself would retry it until its timeout), and an
    address where nothing listens is said as such."""
    import grpc
    from ray._private.grpc_utils import init_grpc_channel
    from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc

    channel = init_grpc_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
        ping = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)  # type: ignore[attr-defined]
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(ping, timeout=15)
    except grpc.FutureTimeoutError:
        raise RemoteError(
            f"nothing answers at {address}: is `nokenviz serve` running there, and the ssh "
            "tunnel open?"
        ) from None
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise RemoteError(
                f"the server at {address} refused this client: the token is wrong or missing "
                f"(--token or {TOKEN_VARIABLE}, as `nokenviz serve` printed it)"
            ) from None
        # anything else is for Ray Client's own connection to say
    finally:
        channel.close()


def _first_line(exc: BaseException) -> str:
    """What went wrong, short: the first line, without Ray Client's preamble before the cause."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.rpartition("Exception that broke the connection: ")[2]

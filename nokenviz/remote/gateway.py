"""The port clients connect to: Ray Client's server for `nokenviz serve`, in one process that
stays connected to the cluster for every client.

Ray's own arrangements cost each connect seconds: `ray start`'s proxy starts a server process
per client session, and Ray Client's one-process server (`legacy` mode) disconnects from the
cluster when its last client leaves and connects again for the next. This process connects
once, then serves Ray Client on `127.0.0.1:PORT` alone; the cluster's token is required of
every request (Ray's interceptors, on since `RAY_AUTH_MODE=token` is inherited from `serve`).

Run by `serve`: `python -m nokenviz.remote.gateway PORT CLUSTER_ADDRESS`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from nokenviz.remote.server import NAMESPACE


def main(argv: list[str]) -> int:
    import ray
    from ray.util.client.server.server import serve

    port, cluster = int(argv[0]), argv[1]

    def connected(job_config: Any = None, **init_options: Any) -> None:
        """Ray Client asks its server to connect for a new client: this one is, unless Ray
        dropped the connection, which is then made again."""
        if not ray.is_initialized():
            ray.init(address=cluster, namespace=NAMESPACE, logging_level=logging.ERROR)

    connected()
    handle = serve("127.0.0.1", port, ray_connect_handler=connected)
    # Ray's server counts its clients and disconnects from the cluster when none is left:
    # this process counts as one, so it stays connected (a connect then takes under a second).
    servicer = handle.data_servicer
    with servicer.clients_lock:
        servicer.num_clients += 1
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    stop.wait()
    handle.grpc_server.stop(1)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

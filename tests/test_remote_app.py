"""The app on a served model whose server dies: one line within seconds, nothing the user made
lost, and after reconnecting (File > Connect to a served model) the work goes on."""

from __future__ import annotations

import importlib.util
import socket
import time

import pytest
from PySide6.QtWidgets import QMessageBox

if importlib.util.find_spec("ray") is None:
    pytest.skip("the remote extra (Ray) is not installed", allow_module_level=True)

from tests.test_gui import wait_idle
from tests.test_remote import TOKEN, Server, _answer


def _wait_until_free(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.5)


def _connect(qtbot, window, monkeypatch, address: str) -> None:
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: _answer(a[2], address))
    action = next(a for a in window.actions() if a.text() == "&Connect to a served model…")
    with qtbot.waitSignals([window.model_ready, window.trace_ready], timeout=120_000):
        action.trigger()
    wait_idle(qtbot, window)


def test_a_lost_server_keeps_the_work_and_a_reconnect_goes_on(
    qtbot, window, tiny_dirs, monkeypatch
) -> None:
    monkeypatch.setenv("NOKENVIZ_TOKEN", TOKEN)
    served = Server(tiny_dirs["llama"])
    try:
        _connect(qtbot, window, monkeypatch, served.address)
        c, s = window.controller, window.session
        for token in (5, 9):
            c.select([token])
            c.add_anchor()
        wait_idle(qtbot, window)
        assert s.composer.anchors == (5, 9)
        model_line = window.status.model_label
        assert "ms round trip" in model_line.text()
        served.kill()
        lost = time.monotonic()
        # Said while the user does nothing: the heartbeat finds the loss.
        qtbot.waitUntil(lambda: "lost the server" in model_line.text(), timeout=15_000)
        assert time.monotonic() - lost < 10
        c.request_trace()
        qtbot.waitUntil(lambda: bool(s.error), timeout=15_000)
        assert time.monotonic() - lost < 10
        assert "server" in s.error and "connect again" in s.error
        assert s.composer.anchors == (5, 9)  # nothing the user made is lost
        _wait_until_free(served.port)  # the killed cluster's processes end on their own
        served = Server(tiny_dirs["llama"], port=served.port)  # restarted where it was
        s.error = None
        said = [b for b in window.findChildren(QMessageBox) if "lost the server" in b.text()]
        again = [b for b in said[-1].buttons() if b.text() == "Reconnect"]
        with qtbot.waitSignals([window.model_ready, window.trace_ready], timeout=120_000):
            again[0].click()  # the message's own offer: the same address and token
        wait_idle(qtbot, window)
        assert s.composer.anchors == (5, 9)  # the same model: the work goes on
        assert s.trace is not None and s.preview is not None and not s.error
    finally:
        served.stop()

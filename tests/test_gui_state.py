"""The window as a view of one session: each test reproduces a way the app used to show stale
or stuck state (driving the real window, buttons found by their text) and checks it cannot."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPushButton, QWidget

from nokenviz.core.scenes.scene import Scene, save_scene
from nokenviz.gui.window import MainWindow
from nokenviz.state.job import Job
from tests.test_gui import LOAD_TIMEOUT, wait_idle, when


def button(parent: QWidget, text: str) -> QPushButton:
    found = [b for b in parent.findChildren(QPushButton) if b.text() == text]
    assert len(found) == 1, f"{len(found)} buttons say {text!r}"
    return found[0]


def click(qtbot, parent: QWidget, text: str) -> None:
    qtbot.mouseClick(button(parent, text), Qt.MouseButton.LeftButton)


def load(qtbot, window: MainWindow, spec: str) -> MainWindow:
    window.load_model(spec)
    qtbot.waitUntil(lambda: window.session.vocab is not None, timeout=LOAD_TIMEOUT)
    wait_idle(qtbot, window)
    return window


def block_model_worker(window: MainWindow) -> threading.Event:
    """Keep the model worker busy until the returned event is set (jobs queue behind)."""
    release = threading.Event()
    window.model_worker.submit(Job("block", "block", lambda _s, _t: release.wait(30), 0, False))
    return release


def _run_gui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nokenviz", "gui", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "", "HF_HUB_OFFLINE": "1"},
    )


def test_stopping_a_queued_generation_frees_generate(qtbot, window, tiny_dirs) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    panel = window.generate_panel
    for stop in (
        lambda: click(qtbot, panel, "Stop"),
        lambda: qtbot.keyClick(window, Qt.Key.Key_Escape),
    ):
        release = block_model_worker(window)
        click(qtbot, panel, "Generate")
        assert not button(panel, "Generate").isEnabled() and button(panel, "Stop").isEnabled()
        stop()  # while queued behind the blocking job
        assert button(panel, "Generate").isEnabled() and button(panel, "Soft feedback").isEnabled()
        assert not button(panel, "Stop").isEnabled()
        release.set()
        qtbot.waitUntil(lambda: not window.model_worker.busy, timeout=LOAD_TIMEOUT)
        assert button(panel, "Generate").isEnabled() and not window.session.history
    click(qtbot, panel, "Generate")  # and it still generates
    wait_idle(qtbot, window)
    assert len(window.session.history) == 1


def test_gui_loading_options_mean_what_they_do_in_the_cli(tiny_dirs, tmp_path) -> None:
    args = ["--model", tiny_dirs["llama"], "--device", "cpu", "--dtype", "bfloat16"]
    done = _run_gui(*args, "--exit-after-load")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("cpu · bfloat16 (asked for)")  # the status bar


def test_switching_models_releases_the_previous_one(qtbot, window, tiny_dirs) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    window.controller.select([5])
    window.controller.add_anchor()  # a preview: the worker caches the prompt's prefix
    wait_idle(qtbot, window)
    assert window.session.preview is not None
    old = weakref.ref(window.model_worker.runner.state["model"])
    load(qtbot, window, tiny_dirs["gpt2"])
    gc.collect()
    assert old() is None and set(window.model_worker.runner.state) == {"model", "generation"}


def test_a_job_of_the_old_model_ending_after_a_switch_frees_its_weights(
    qtbot, window, tiny_dirs, monkeypatch
) -> None:
    """The views read the model's own W_E (no copy), so a job of the old model that ends after
    the switch must let go of it at once, not at some later garbage collection."""
    from nokenviz.core.maps import projections

    load(qtbot, window, tiny_dirs["llama"])
    old = weakref.ref(window.session.vocab.matrices["W_E"])
    entered, release, fit = threading.Event(), threading.Event(), projections.fit_projection

    def held(*args: object) -> object:
        entered.set()
        release.wait(30)
        return fit(*args)

    monkeypatch.setattr(projections, "fit_projection", held)
    window.controller.set_projection(kind="umap")  # held until the new model is in
    assert entered.wait(30)
    gc.disable()  # only the collections the app asks for
    try:
        window.load_model(tiny_dirs["gpt2"])
        qtbot.waitUntil(lambda: window.session.vocab.info["arch"] == "gpt2", timeout=LOAD_TIMEOUT)
        assert old() is not None  # the held job still has it
        release.set()
        wait_idle(qtbot, window)
        assert old() is None
    finally:
        gc.enable()


def test_a_scene_opened_while_its_model_loads_loads_it_once(
    qtbot, window, tiny_dirs, tmp_path
) -> None:
    path = tmp_path / "anchors.json"
    composer = {"anchors": (5, 9), "weights": (0.5, 0.5)}
    save_scene(Scene(model=tiny_dirs["llama"], selection=(5, 9), composer=composer), path)
    submitted, submit = [], window.model_worker.submit
    window.model_worker.submit = lambda job: (submitted.append(job.kind), submit(job))
    window.load_model(tiny_dirs["llama"])
    assert window.scenes.open(path)
    qtbot.waitUntil(lambda: window.session.vocab is not None, timeout=LOAD_TIMEOUT)
    wait_idle(qtbot, window)
    assert submitted.count("load") == 1
    assert window.session.composer.anchors == (5, 9) and window.session.selection == (5, 9)
    assert window.composer.weights.rowCount() == 2


def test_jobs_for_the_old_vocabulary_never_run_on_the_new_model(
    qtbot, window, tiny_dirs, small_vocab_dir, tmp_path
) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    path = tmp_path / "small.json"
    save_scene(Scene(model=small_vocab_dir, selection=(5,)), path)
    release = block_model_worker(window)
    window.load_model(tiny_dirs["gpt2"])
    last = len(window.session.vocab.tokens) - 1  # beyond the small vocabulary
    window.controller.select([last])  # neighbours of it queue behind the loads
    assert window.scenes.open(path)  # another model than the one loading
    release.set()
    wait_idle(qtbot, window)
    assert window.last_error == ""
    session = window.session
    assert session.vocab.info["model"] == small_vocab_dir and session.selection == (5,)
    assert len(session.vocab.tokens) < last
    qtbot.waitUntil(lambda: window.inspector.table.rowCount() == 24, timeout=LOAD_TIMEOUT)
    assert "#5" in window.inspector.title.text()


def test_exit_after_load_exits_for_any_model(encoder_dir, tmp_path) -> None:
    shot = tmp_path / "bert.png"
    done = _run_gui("--model", encoder_dir, "--screenshot", str(shot), "--exit-after-load")
    assert done.returncode == 0, done.stderr
    assert shot.stat().st_size > 10_000
    failed = _run_gui("--model", str(tmp_path / "missing"), "--exit-after-load")
    assert failed.returncode == 1 and "model path not found" in failed.stderr


def test_a_non_causal_model_shows_geometry_and_says_what_is_disabled(
    qtbot, window, tiny_dirs, encoder_dir
) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    window.controller.select([5])
    window.controller.add_anchor()
    wait_idle(qtbot, window)
    assert window.composer.next_tokens.rowCount() == 10
    load(qtbot, window, encoder_dir)
    s = window.session
    assert s.fitted is not None and window.view.coords.shape == (len(s.vocab.tokens), 2)
    assert window.lens_panel.image.image is None and window.attention_panel.image.image is None
    assert window.composer.next_tokens.rowCount() == 0 and window.inspector.table.rowCount() == 0
    assert len(window.view.trajectory_nodes) == 0
    disabled = (
        (window.generate_panel, "Generate"),
        (window.generate_panel, "Soft feedback"),
        (window.sweep_panel, "Run sweep"),
        (window.toolbar, "Trace"),
    )
    for parent, text in disabled:
        assert not button(parent, text).isEnabled()
        assert "not a causal LM" in button(parent, text).toolTip()
    assert "geometry only" in window.status.model_label.text()
    window.controller.search("#7")  # the inspector works
    qtbot.waitUntil(lambda: window.inspector.table.rowCount() == 24, timeout=LOAD_TIMEOUT)


@pytest.mark.real_model
def test_brushing_highlights_every_token_in_the_band(qtbot, window, tmp_path) -> None:
    load(qtbot, window, "default")
    region = window.histogram.region
    norms = window.session.norms
    low, high = float(norms.min()), float(sorted(norms)[-100])
    region.setRegion((low, high))
    region.sigRegionChangeFinished.emit(region)
    in_band = int(((norms >= low) & (norms <= high)).sum())
    assert in_band > 40_000
    assert len(window.view.highlight_ids) == in_band == len(window.session.highlight)
    assert window.view.highlight_image.isVisible()
    path = tmp_path / "same-model.json"
    save_scene(Scene(model="default", selection=(100,)), path)
    assert window.scenes.open(path)
    wait_idle(qtbot, window)
    band = window.session.band
    assert region.getRegion() == pytest.approx(band)
    expected = ((norms >= band[0]) & (norms <= band[1])).sum()
    assert len(window.view.highlight_ids) == expected


def test_outputs_and_hover_text_follow_the_latest_run(qtbot, window, tiny_dirs) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    panel = window.generate_panel
    panel.prompt.setText("{x} whippets are")
    panel.max_new.setValue(12)
    panel.output.setPlainText("old text")
    cursor = panel.output.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.Start)
    panel.output.setTextCursor(cursor)  # the user clicked at the start of the output
    streamed = []
    when(window, "output", lambda: streamed.append(panel.output.toPlainText()))
    click(qtbot, panel, "Generate")
    wait_idle(qtbot, window)
    assert streamed and all(text.startswith("{x} whippets are") for text in streamed)
    assert panel.output.toPlainText() == "{x} whippets are" + window.session.history[-1].text
    # soft feedback at T = 0 runs at T = 0: one-hot, every step's top probability is 1
    panel.temperature.setValue(0.0)
    click(qtbot, panel, "Soft feedback")
    wait_idle(qtbot, window)
    assert window.session.history[-1].top_probs == [1.0] * 12
    window.layers._node_hovered(1)
    assert "layer 1 at" in window.status.hover_label.text()
    window.toolbar.prompt.setText("The cat sat on the")
    click(qtbot, window.toolbar, "Trace")
    wait_idle(qtbot, window)
    assert window.status.hover_label.text() == ""  # not the previous prompt's layer
    window.layers._node_hovered(1)
    assert "␣the" in window.status.hover_label.text()


def test_a_scene_on_the_loaded_model_restores_its_view(qtbot, window, tiny_dirs, tmp_path) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    (x0, x1), (y0, y1) = window.view.plotItem.vb.viewRange()
    window.view.setRange(xRange=(x0 / 3, x1 / 3), yRange=(y0 / 3, y1 / 3), padding=0)
    zoomed = window.session.view
    path = tmp_path / "zoomed.json"
    save_scene(window.session.to_scene(), path)
    window.view.reset_range()
    assert window.session.view != zoomed
    assert window.scenes.open(path)
    wait_idle(qtbot, window)
    x, y = window.view.plotItem.vb.viewRange()
    assert (*x, *y) == pytest.approx((*zoomed.x, *zoomed.y), abs=1e-6)


def test_an_error_is_shown_once(qtbot, window, tiny_dirs, tmp_path) -> None:
    load(qtbot, window, tiny_dirs["llama"])
    shown = []
    window.failed.connect(shown.append)
    window.toolbar.prompt.setText("")
    click(qtbot, window.toolbar, "Trace")
    wait_idle(qtbot, window)
    assert len(shown) == 1 and "empty" in shown[0]
    window.toolbar.prompt.setText("The cat sat")
    path = tmp_path / "scene.json"
    save_scene(window.session.to_scene(), path)
    assert window.scenes.open(path)
    load(qtbot, window, tiny_dirs["gpt2"])
    assert len(shown) == 1  # neither the scene nor the new model brings it back


def test_a_scene_without_a_noken_draws_none(qtbot, loaded, tmp_path) -> None:
    """The composer's last noken was drawn on over a scene that has none."""
    s = loaded.session
    for token in (5, 9):  # a blend of two anchors
        loaded.controller.select([token])
        loaded.controller.add_anchor()
    wait_idle(qtbot, loaded)
    assert s.preview is not None and len(loaded.view.noken_marker.data) == 1
    save_scene(Scene(model=s.model_spec), tmp_path / "none.json")  # no selection, no anchors
    loaded.scenes.open(tmp_path / "none.json")
    wait_idle(qtbot, loaded)
    assert s.preview is None and len(loaded.view.noken_marker.data) == 0

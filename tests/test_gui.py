"""The desktop window with pytest-qt, on tiny models: loading, search, trajectories,
projections, failures, cancel and closing while busy."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from nokenviz.gui.attention_panel import AttentionPanel
from nokenviz.gui.window import MainWindow

LOAD_TIMEOUT = 60_000


def wait_idle(qtbot, window, timeout: int = LOAD_TIMEOUT) -> None:
    """Until every job the window started has ended (its results applied)."""
    qtbot.waitUntil(lambda: not window.session.running, timeout=timeout)


def when(window, part: str, action, once: bool = False) -> None:
    """Call `action()` when `part` of the session changes (in the GUI thread, as a view does),
    every time or only the first."""
    done: list[bool] = []

    def listener(changed) -> None:
        if part in changed and not (once and done):
            done.append(True)
            action()

    window.controller.listen(listener)


def test_window_paints_and_loads_on_the_worker(loaded) -> None:
    assert (
        "llama" in loaded.status.model_label.text()
        and "2 layers" in loaded.status.model_label.text()
    )
    assert loaded.view.coords.shape == (len(loaded.session.vocab.tokens), 2)
    assert not loaded.status.progress.isVisible()  # the progress bar goes away when work is done
    assert loaded.model_worker.qthread.isRunning()


def test_search_selects_and_inspects_a_token(qtbot, loaded) -> None:
    loaded.toolbar.search.setText(" cat")
    loaded.toolbar.search.returnPressed.emit()
    cat = loaded.session.vocab.tokens.index(" cat")
    assert list(loaded.session.selection) == [cat]
    qtbot.waitUntil(lambda: loaded.inspector.table.rowCount() == 24, timeout=10_000)
    assert "␣cat" in loaded.inspector.title.text()
    assert (
        loaded.inspector.table.item(0, 1).text() != f"#{cat}"
    )  # the query is not its own neighbour
    assert len(loaded.view.selection.data) == 1


def test_trajectory_has_a_node_per_layer_plus_embedding(loaded) -> None:
    assert len(loaded.view.trajectory_nodes) == 2 + 1
    assert AttentionPanel.current(loaded.session).shape == (len(loaded.session.trace.labels),) * 2
    loaded.toolbar.lens_box.setChecked(True)  # lens space moves the nodes but keeps their number
    assert len(loaded.view.trajectory_nodes) == 3


def test_switching_projection_keeps_the_selection(qtbot, loaded) -> None:
    ids = [loaded.session.vocab.tokens.index(t) for t in ("White", "Black")]
    loaded.controller.select(ids[:1])
    loaded.controller.select(ids)
    with qtbot.waitSignal(loaded.projection_ready, timeout=LOAD_TIMEOUT):
        box = loaded.toolbar.projection_box
        box.setCurrentIndex(box.findData("plane"))  # token plane of the two selected tokens
    assert loaded.session.fitted.spec.plane_tokens == tuple(ids)
    assert list(loaded.session.selection) == ids
    assert loaded.view.selection.data["data"].tolist() == ids
    with qtbot.waitSignal(loaded.projection_ready, timeout=LOAD_TIMEOUT):
        loaded.toolbar.centred_box.setChecked(False)
        loaded.toolbar.projection_box.setCurrentIndex(0)
    assert loaded.session.fitted.spec.kind == "pca" and not loaded.session.fitted.spec.centred
    assert loaded.view.mean_marker.data.size == 1
    assert list(loaded.session.selection) == ids


def test_a_failing_model_path_keeps_the_previous_model(qtbot, loaded) -> None:
    before = loaded.session.vocab
    with qtbot.waitSignal(loaded.failed, timeout=LOAD_TIMEOUT) as blocker:
        loaded.load_model("./no/such/model")
    assert "model path not found" in blocker.args[0]
    assert loaded.session.vocab is before
    assert "llama" in loaded.status.model_label.text()
    with qtbot.waitSignal(loaded.trace_ready, timeout=LOAD_TIMEOUT):
        loaded.controller.request_trace()  # the previous model still works


def test_cancelling_a_load(qtbot, loaded, tiny_dirs) -> None:
    import threading

    before = loaded.session.vocab
    wait_idle(qtbot, loaded)  # the next progress is the load's
    # The load waits at its first progress report until the user's Cancel is in (a tiny model
    # would otherwise be loaded before the click arrives); the wait touches nothing of Qt.
    clicked = threading.Event()
    loaded.model_worker.runner.progress.connect(
        lambda *_: clicked.wait(10), Qt.ConnectionType.DirectConnection
    )

    def cancel() -> None:
        loaded.controller.cancel_all()
        clicked.set()

    when(loaded, "progress", cancel, once=True)
    loaded.load_model(tiny_dirs["gpt2"])
    wait_idle(qtbot, loaded)
    assert loaded.session.message == f"cancelled loading {tiny_dirs['gpt2']}"
    assert "llama" in loaded.status.model_label.text()
    assert loaded.session.vocab is before


def test_cancelling_a_umap_run(qtbot, loaded) -> None:
    from nokenviz.core.maps.fit_cache import cache_dir

    shutil.rmtree(cache_dir("umap"), ignore_errors=True)  # a fit from an earlier test is not run
    session = loaded.session
    cancelled: list[str] = []

    def cancel_when_laying_out(changed) -> None:
        progress = session.progress
        if "progress" in changed and progress and "laying out" in progress[1] and not cancelled:
            cancelled.append(progress[1])
            loaded.controller.cancel_all()

    loaded.controller.listen(cancel_when_laying_out)
    loaded.toolbar.projection_box.setCurrentIndex(1)
    wait_idle(qtbot, loaded, timeout=120_000)
    assert session.message == "cancelled projection"
    assert session.fitted.spec.kind == "pca"  # the last finished projection stays drawn
    assert loaded.toolbar.projection_box.currentData() == "pca"  # and the toolbar says so


def test_closing_while_busy_neither_crashes_nor_hangs(qtbot, qt_settings, tiny_dirs) -> None:
    win = MainWindow()
    win.show()
    win.load_model(tiny_dirs["gemma"])
    win.close()
    assert win.model_worker.qthread.isFinished() and win.projection_worker.qthread.isFinished()


def test_the_window_module_does_not_import_torch() -> None:
    """P4: the window paints before torch/transformers load (they load on the worker)."""
    import subprocess
    import sys

    code = (
        "import sys, nokenviz.gui.window;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""},
    )
    assert done.stdout.split() == ["False", "False"]


def test_untied_models_switch_between_w_e_and_w_u(qtbot, window, tiny_dirs) -> None:
    with qtbot.waitSignals([window.model_ready, window.projection_ready], timeout=LOAD_TIMEOUT):
        window.load_model(tiny_dirs["gpt_neox"])
    assert window.toolbar.matrix_box.isEnabled() and window.toolbar.matrix_box.count() == 2
    window.controller.search(" dog")
    assert "angle between them" in window.inspector.title.text()
    with qtbot.waitSignal(window.projection_ready, timeout=LOAD_TIMEOUT):
        window.toolbar.matrix_box.setCurrentIndex(1)
    assert window.session.matrix == "W_U"
    assert window.view.title_text().startswith("W_U:")


def test_token_plane_without_two_tokens_keeps_the_current_view(loaded) -> None:
    loaded.controller.select([loaded.session.vocab.tokens.index(" cat")])
    box = loaded.toolbar.projection_box
    box.setCurrentIndex(box.findData("plane"))
    assert loaded.toolbar.projection_box.currentData() == "pca"
    assert "select two tokens" in loaded.statusBar().currentMessage()


def _run_panel(qtbot, window) -> dict:
    window.controller.start_generate()
    wait_idle(qtbot, window)
    return window.session.history[-1].to_json()


def test_the_panel_generates_what_the_command_line_does(qtbot, loaded, tiny_dirs, capsys) -> None:
    import json

    from nokenviz.cli import main

    panel = loaded.generate_panel
    panel.prompt.setText("{x} cats are")
    panel.nokens.setPlainText('x = {"mix": {"White": 0.5, "Black": 0.5}}')
    panel.max_new.setValue(8)
    run = _run_panel(qtbot, loaded)
    assert (
        main(
            [
                "generate",
                "{x} cats are",
                "--noken",
                'x={"mix": {"White": 0.5, "Black": 0.5}}',
                "--max-new-tokens",
                "8",
                "--compare",
                "--json",
                "--model",
                tiny_dirs["llama"],
            ]
        )
        == 0
    )
    cli = json.loads(capsys.readouterr().out)
    assert (run["text"], run["baseline_text"]) == (cli["text"], cli["baseline_text"])
    assert panel.output.toPlainText() == "{x} cats are" + cli["text"]
    assert panel.history.count() == 1 and not run["stopped"]


def test_streaming_fills_the_panel_and_stop_halts_it(qtbot, loaded) -> None:
    panel = loaded.generate_panel
    panel.prompt.setText("{x} cat")
    panel.nokens.setPlainText('x = {"token": "The"}')
    panel.max_new.setValue(50)
    panel.min_new.setValue(50)
    pieces: list[str] = []

    def second_token() -> None:
        pieces.append(loaded.session.output.streamed)
        if len(pieces) == 3:  # the run's start, then two tokens
            loaded.controller.stop("generate")

    when(loaded, "output", second_token)
    run = _run_panel(qtbot, loaded)
    assert run["stopped"] and 2 <= len(run["token_ids"]) < 50
    assert run["baseline_text"] is None  # a stopped run does not go on to the baseline
    assert panel.output.toPlainText().startswith("{x} cat")
    assert "(stopped)" in panel.history.item(0).text()


MOVE_MS = 15


def _add_anchors(window, *texts: str) -> list[int]:
    """Select each token and make it a composer anchor, as the A key does."""
    ids = [window.session.vocab.tokens.index(text) for text in texts]
    for token in ids:
        window.controller.select([token])
        window.controller.add_anchor()
    return ids


def _drag(qtbot, view, path, shift: bool = False) -> None:
    """Drag the composer's handle along `path` (view coordinates) with real mouse events."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    vb = view.plotItem.vb

    def to_viewport(point) -> QPointF:
        return QPointF(view.mapFromScene(vb.mapViewToScene(QPointF(*point))))

    def send(kind, point, buttons) -> None:
        pos = to_viewport(point)
        event = QMouseEvent(
            kind,
            pos,
            view.viewport().mapToGlobal(pos),
            Qt.MouseButton.LeftButton,
            buttons,
            Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(view.viewport(), event)

    # pyqtgraph drops mouse moves closer than 10 ms apart (mouseRateLimit = 100/s), so the
    # hand moves at that pace: over the handle first (the drag goes to the item last hovered),
    # then press and drag.
    handle = view.handle.pos()
    qtbot.wait(MOVE_MS)
    send(QEvent.Type.MouseMove, (handle.x(), handle.y()), Qt.MouseButton.NoButton)
    qtbot.wait(MOVE_MS)
    send(QEvent.Type.MouseButtonPress, (handle.x(), handle.y()), Qt.MouseButton.LeftButton)
    for point in path:
        send(QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton)
        qtbot.wait(MOVE_MS)
    send(QEvent.Type.MouseButtonRelease, path[-1], Qt.MouseButton.NoButton)


def test_dragging_the_handle_blends_the_anchors(qtbot, loaded) -> None:
    import numpy as np

    composer = loaded.composer
    white, black = _add_anchors(loaded, "White", "Black")
    a, b = loaded.session.fitted.coords[[white, black]].astype(float)
    assert loaded.session.composer.weights == (0.0, 1.0)  # the handle starts on the newest anchor
    path = [tuple(b + (a - b) * s) for s in np.linspace(0.0, 1.0, 21)[1:]]
    seen = []
    loaded.view.handle.sigPositionChanged.connect(
        lambda *_: seen.append(loaded.session.composer.weights)
    )
    _drag(qtbot, loaded.view, path)
    assert len(seen) >= 10
    assert np.abs(np.diff(np.array(seen)[:, 0])).max() < 0.2  # weights change continuously
    assert loaded.session.composer.weights == pytest.approx(
        [1.0, 0.0], abs=0.02
    )  # on the anchor: one-hot
    _drag(qtbot, loaded.view, [tuple(a + (b - a) * s) for s in np.linspace(0.05, 0.5, 10)])
    assert loaded.session.composer.weights == pytest.approx(
        [0.5, 0.5], abs=0.02
    )  # on the segment: LERP(t)
    loaded.controller.request_preview()
    wait_idle(qtbot, loaded)
    assert composer.next_tokens.rowCount() == 10
    assert loaded.view.noken_marker.data.size == 1
    spec = loaded.controller.composer_spec()
    assert set(spec) == {"mix"} and list(spec["mix"]) == [f"#{white}", f"#{black}"]


def test_shift_drag_extrapolates_and_says_so(qtbot, loaded) -> None:
    import numpy as np

    composer = loaded.composer
    white, black = _add_anchors(loaded, "White", "Black")
    a, b = loaded.session.fitted.coords[[white, black]].astype(float)
    beyond = tuple(b + 0.2 * (b - a))  # past Black along the line: LERP t = 1.2
    corners = np.array([a - 0.3 * (b - a), b + 0.5 * (b - a)])  # the path well inside the view
    loaded.view.setRange(
        xRange=(corners[:, 0].min(), corners[:, 0].max()),
        yRange=(corners[:, 1].min(), corners[:, 1].max()),
    )
    _drag(qtbot, loaded.view, [beyond])
    assert loaded.session.composer.weights == pytest.approx(
        [0.0, 1.0], abs=1e-6
    )  # plain drag: clamped, and the handle stops on the anchors' edge where the noken is
    moved = loaded.view.handle.pos()
    assert (moved.x(), moved.y()) == pytest.approx(tuple(b), abs=1e-6)
    # Out to the midpoint first: a drag only starts once the mouse has moved some pixels.
    _drag(qtbot, loaded.view, [tuple((a + b) / 2), beyond], shift=True)
    assert loaded.session.composer.weights == pytest.approx([-0.2, 1.2], abs=0.01)
    assert loaded.view.handle.extrapolating
    spec = loaded.controller.composer_spec()
    assert spec["extrapolate"] is True and list(spec["mix"].values()) == pytest.approx(
        [-0.2, 1.2], abs=0.01
    )
    loaded.controller.request_preview()
    wait_idle(qtbot, loaded)
    assert "extrapolated" in composer.message.text()


def test_random_and_neighbour_nokens_from_the_composer(qtbot, loaded) -> None:
    composer = loaded.composer
    panel = composer
    panel.kind.setCurrentIndex(panel.kind.findData("random"))
    wait_idle(qtbot, loaded)
    assert (
        loaded.controller.composer_spec() == {"random": {"seed": 0}}
        and panel.next_tokens.rowCount() == 10
    )
    panel.match_norm.setChecked(True)
    panel.seed.setValue(7)
    assert loaded.controller.composer_spec() == {"random": {"seed": 7, "norm": "match"}}
    cat = loaded.session.vocab.tokens.index(" cat")
    loaded.controller.select([cat])
    panel.kind.setCurrentIndex(panel.kind.findData("neighbors"))
    wait_idle(qtbot, loaded)
    assert loaded.controller.composer_spec() == {"neighbors": f"#{cat}", "k": 5}
    assert loaded.view.noken_marker.data.size == 1
    loaded.controller.use_in_generate()
    assert loaded.session.generate.nokens == (f'x = {{"neighbors": "#{cat}", "k": 5}}',)
    assert loaded.generate_panel.nokens.toPlainText() == loaded.session.generate.nokens[0]


def test_typed_weights_are_relative_and_validated_by_name(loaded) -> None:
    import numpy as np

    composer = loaded.composer
    ids = _add_anchors(loaded, " cat", " dog", " sat", " on")
    for row, typed in enumerate(("1", "1", "2", "0")):  # read as typed, not re-normalised
        composer.weights.item(row, 1).setText(typed)
    assert loaded.session.composer.weights == pytest.approx([0.25, 0.25, 0.5, 0.0])
    assert [composer.weights.item(r, 1).text() for r in range(4)] == ["1", "1", "2", "0"]
    expected = loaded.session.fitted.coords[ids].astype(float).T @ np.array([0.25, 0.25, 0.5, 0])
    handle = loaded.view.handle.pos()
    assert (handle.x(), handle.y()) == pytest.approx(tuple(expected), abs=1e-6)
    for typed, message in (
        ("-1", "the weight of ␣cat is -1: weights are 0 or more"),
        ("lots", "the weight of ␣cat is not a number: 'lots'"),
    ):
        composer.weights.item(0, 1).setText(typed)
        text = composer.message.text()
        assert message in text and f"#{ids[0]}" not in text and "extrapolate" not in text
        assert "could not convert" not in text
        assert loaded.session.composer.weights == pytest.approx([0.25, 0.25, 0.5, 0.0])
    loaded.controller.use_in_generate()
    assert loaded.generate_panel.nokens.toPlainText().startswith('x = {"mix": {"#')


def test_a_sweep_table_equals_the_command_line_rows(
    qtbot, loaded, tiny_dirs, capsys, tmp_path
) -> None:
    import json

    from nokenviz.cli import main

    panel = loaded.sweep_panel
    panel.prompt_a.setText("White cats are")
    panel.prompt_b.setText("Black cats are")
    panel.steps.setValue(5)
    panel.max_new.setValue(6)
    loaded.controller.start_sweep()
    wait_idle(qtbot, loaded)
    assert (
        main(
            [
                "sweep",
                "lerp",
                "White cats are",
                "Black cats are",
                "--steps",
                "5",
                "--max-new-tokens",
                "6",
                "--json",
                "--model",
                tiny_dirs["llama"],
            ]
        )
        == 0
    )
    cli_rows = json.loads(capsys.readouterr().out)["rows"]
    table = [
        (panel.table.item(r, 0).text(), panel.table.item(r, 1).text())
        for r in range(panel.table.rowCount())
    ]
    assert table == [(str(row["t"]), row["text"]) for row in cli_rows]
    panel.export("md", str(tmp_path / "sweep.md"))
    lines = (tmp_path / "sweep.md").read_text().splitlines()
    header, table_lines = lines[:6], lines[6:]
    assert header[0].startswith("- model: ") and "llama" in header[0]
    assert header[1] == "- sweep: LERP from 'White cats are' to 'Black cats are', 5 steps of t"
    assert header[2] == "- decoding: greedy, 6 new tokens per row"
    assert header[3].startswith("- date: 20") and header[5] == ""
    assert table_lines[:2] == ["| t | text |", "|---|---|"] and len(table_lines) == 2 + 5
    panel.export("csv", str(tmp_path / "sweep.csv"))
    csv_lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert [line[2:] for line in csv_lines[:5]] == [line[2:] for line in header[:5]]
    assert csv_lines[:5] == [f"# {line[2:]}" for line in header[:5]] and csv_lines[5] == "t,text"
    panel.export("csv", str(tmp_path / "missing-folder" / "sweep.csv"))
    assert "could not write" in loaded.last_error


def test_soft_feedback_shows_the_shadow_and_draws_its_path(qtbot, loaded) -> None:
    from nokenviz.core.generation.generate import soft_feedback
    from nokenviz.core.nokens.prompts import prepare_prompt
    from nokenviz.core.nokens.specs import parse_assignments

    panel = loaded.generate_panel
    panel.prompt.setText("{x} cat sat")
    panel.nokens.setPlainText('x = {"token": "The"}')
    panel.max_new.setValue(6)
    panel.temperature.setValue(0.7)  # the panel's temperature is the one used
    qtbot.mouseClick(panel.soft_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, loaded)
    model = loaded.model_worker.runner.state["model"]
    prepared = prepare_prompt(model, "{x} cat sat", parse_assignments(['x={"token": "The"}']))
    expected = soft_feedback(model, prepared, steps=6, temperature=0.7)
    assert panel.output.toPlainText() == "{x} cat sat [soft]" + expected.shadow_text
    assert len(loaded.view.soft_path.getData()[0]) == 6


def test_prompt_slots_show_as_chips(window) -> None:
    panel = window.generate_panel
    assert [c.text() for c in panel.chips.chips] == ["{x} mix"]  # the default prompt and noken
    panel.prompt.setText("{x} and {y} are")
    panel.nokens.setPlainText('x = {"lerp": ["a", "b"], "t": 0.2}\nz = {"token": " cat"}')
    chips = [(c.text(), c.property("state")) for c in panel.chips.chips]
    assert chips == [("{x} lerp", "filled"), ("{y} undefined", "missing"), ("z unused", "unused")]
    panel.prompt.setText("a } b")
    assert "stray '}'" in panel.chips.chips[0].text()


def _wait_for_scene(qtbot, window) -> None:
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: not window.session.restore_view, timeout=LOAD_TIMEOUT)


def test_a_saved_scene_reopens_identically(qtbot, loaded, qt_settings, tmp_path) -> None:
    from nokenviz.core.scenes.scene import load_scene

    cat, dog = _add_anchors(loaded, " cat", " dog")
    loaded.composer.weights.item(0, 1).setText("3")  # [3, 1] -> [0.75, 0.25]
    loaded.controller.select([dog, cat])
    loaded.toolbar.prompt.setText("The cat sat")
    loaded.toolbar.lens_box.setChecked(True)
    loaded.generate_panel.max_new.setValue(12)
    loaded.sweep_panel.steps.setValue(5)
    loaded.view.setRange(xRange=(-1.0, 1.2), yRange=(-0.6, 0.7), padding=0)
    path = tmp_path / "scene.json"
    loaded.scenes.path = path
    loaded.scenes.save()
    saved = load_scene(path)
    assert saved.composer.weights == pytest.approx((0.75, 0.25))

    other = MainWindow()
    qtbot.addWidget(other)
    other.show()
    assert other.scenes.open(path)
    _wait_for_scene(qtbot, other)
    reopened = other.session.to_scene()
    assert reopened.model_copy(update={"view": None}) == saved.model_copy(update={"view": None})
    assert reopened.view.x == pytest.approx(saved.view.x, abs=1e-6)
    assert reopened.view.y == pytest.approx(saved.view.y, abs=1e-6)
    assert other.session.trace.labels[-1] == "␣sat"  # the scene's prompt was traced
    other.close()


def test_exported_figure_equals_the_headless_render(qtbot, loaded, tmp_path) -> None:
    from nokenviz.cli import main

    loaded.controller.select([loaded.session.vocab.tokens.index(" cat")])
    path = tmp_path / "scene.json"
    loaded.scenes.path = path
    for figure in ("sphere", "lens"):
        exported = tmp_path / f"app-{figure}.png"
        with qtbot.waitSignal(loaded.exported, timeout=LOAD_TIMEOUT):
            loaded.controller.export(figure, str(exported))
            # Saved before any event is processed: exactly the state the export captured (a
            # layout pass could still change the view's range afterwards).
            loaded.scenes.save()
        rendered = tmp_path / f"cli-{figure}.png"
        assert main(["render", str(path), "--out", str(rendered)]) == 0
        assert exported.read_bytes() == rendered.read_bytes()


def test_bad_and_foreign_scenes(qtbot, loaded, tmp_path, tiny_dirs, monkeypatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nokenviz_scene": 1, "composer": {"anchors": [1], "weights": [2.0]}}')
    assert not loaded.scenes.open(bad)
    assert "field 'composer.weights': weights must sum to 1" in loaded.last_error
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"nokenviz_scene": 1, "model": "/nowhere/model", "selection": [7]}')
    monkeypatch.setattr(loaded.scenes, "choose_instead", lambda _spec: None)
    assert not loaded.scenes.open(foreign)  # declined: nothing changes
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    monkeypatch.setattr(loaded.scenes, "choose_instead", lambda _spec: str(broken))
    with qtbot.waitSignal(loaded.failed, timeout=LOAD_TIMEOUT, raising=False):
        assert loaded.scenes.open(foreign)
    wait_idle(qtbot, loaded)
    assert loaded.session.vocab.info["arch"] == "llama"  # kept
    monkeypatch.setattr(loaded.scenes, "choose_instead", lambda _spec: tiny_dirs["gpt2"])
    assert loaded.scenes.open(foreign)
    _wait_for_scene(qtbot, loaded)
    assert loaded.session.vocab.info["arch"] == "gpt2" and list(loaded.session.selection) == [7]


def test_examples_are_in_the_help_menu_and_the_session_is_autosaved(qtbot, qt_settings) -> None:
    from nokenviz.core.scenes.scene import load_scene
    from nokenviz.gui.recovery import last_session_path
    from nokenviz.gui.scene_files import examples

    win = MainWindow()
    qtbot.addWidget(win)
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    listed = [a.text() for a in help_menu.actions()[0].menu().actions()]
    assert listed == [title for title, _ in examples()] and len(listed) >= 6
    win.toolbar.prompt.setText("Autosaved prompt")
    win.close()
    assert load_scene(last_session_path()).trace.prompt == "Autosaved prompt"


def test_a_scene_with_a_random_noken_shows_it_without_anchors(qtbot, loaded, tmp_path) -> None:
    path = tmp_path / "random.json"
    model = loaded.session.vocab.info["model"]
    path.write_text(
        f'{{"nokenviz_scene": 1, "model": "{model}", "composer": {{"kind": "random", "seed": 3}}}}'
    )
    assert loaded.scenes.open(path)
    _wait_for_scene(qtbot, loaded)
    # Drawn once the scene's projection is back (a preview may arrive before it).
    qtbot.waitUntil(lambda: loaded.view.noken_marker.data.size == 1, timeout=LOAD_TIMEOUT)
    assert loaded.controller.composer_spec() == {"random": {"seed": 3}}


def test_emitting_signals_keeps_reference_counts(qapp) -> None:
    """A Qt binding that drops a reference on emit crashes a long session (PySide6 6.12.0)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        changed = Signal(object)

    emitter = Emitter()
    emitter.changed.connect(lambda _value: None)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(100):
        emitter.changed.emit(None)
    assert (sys.getrefcount(True), sys.getrefcount(None)) == before

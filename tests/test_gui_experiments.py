"""The seed experiments in the real window (tiny llama): a run with rules, a transform and a
ban beside its baseline, Patchscopes readouts of the trace and the noken, the length plots, and
an inversion from the composer."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QTextCursor

from nokenviz.cli import main
from tests.test_gui import wait_idle


def test_rules_are_marked_in_the_output_beside_the_baseline(
    qtbot, loaded, tiny_dirs, capsys
) -> None:
    panel = loaded.generate_panel
    panel.prompt.setText("The cat sat")
    panel.nokens.setPlainText("")
    panel.max_new.setValue(6)
    panel.min_new.setValue(6)
    panel.rules.setPlainText('@2 = {"token": " dog"}')
    panel.transform.setText('{"scale": 1.5}')
    panel.ban.setText(" log| mat")
    panel.penalty.setValue(1.2)
    part = loaded.session.generate
    assert part.rules == ('@2 = {"token": " dog"}',) and part.decoding.ban == (" log", " mat")
    panel.generate_button.click()
    wait_idle(qtbot, loaded)
    run = loaded.session.history[-1]
    argv = ["generate", "The cat sat", "--rule", '@2={"token": " dog"}', "--transform",
            '{"scale": 1.5}', "--ban", " log", "--ban", " mat", "--repetition-penalty", "1.2",
            "--max-new-tokens", "6", "--min-new-tokens", "6", "--json",
            "--model", tiny_dirs["llama"]]  # fmt: skip
    assert main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    assert (run.text, run.baseline_text) == (cli["text"], cli["baseline_text"])
    assert [s.index for s in run.substituted] == [1]
    assert panel.baseline_label.text() == cli["baseline_note"]
    start, end, _ = run.marks[0]
    cursor = QTextCursor(panel.output.document())
    cursor.setPosition(len("The cat sat") + end)  # the format of the character before
    assert end > start and cursor.charFormat().fontUnderline()
    assert "substituted" in run.to_json() and "marks" not in run.to_json()


def test_bad_rules_get_one_clear_message_and_keep_the_text(qtbot, loaded) -> None:
    panel = loaded.generate_panel
    panel.prompt.setText("The cat sat")
    panel.nokens.setPlainText("")
    panel.rules.setPlainText(' elephants = {"id": 1}')
    panel.generate_button.click()
    wait_idle(qtbot, loaded)
    assert "is 9 tokens, not one" in loaded.last_error
    assert panel.rules.toPlainText() == ' elephants = {"id": 1}'
    assert panel.generate_button.isEnabled()
    panel.soft_button.click()  # soft feedback feeds back no tokens: it refuses rules at once
    assert "soft feedback feeds back distributions" in loaded.last_error
    assert panel.generate_button.isEnabled() and not loaded.session.running


def test_readouts_length_and_inversion_in_the_window(qtbot, loaded) -> None:
    readouts, length, composer = loaded.readout_panel, loaded.length_panel, loaded.composer
    wait_idle(qtbot, loaded)
    sweep = loaded.session.length
    assert sweep is not None and sweep.what in length.what.text()
    assert len(length.curves) == 3
    readouts.read_button.click()
    wait_idle(qtbot, loaded)
    assert readouts.table.rowCount() == loaded.session.trace.raw.shape[0]
    assert readouts.table.item(0, 0).text() == str(readouts.table.rowCount() - 1)
    composer.kind.setCurrentIndex(composer.kind.findData("random"))
    # read once the noken settles (a pause), not at every step of a drag
    qtbot.waitUntil(lambda: composer.readout.text().startswith("reads as:"), timeout=10_000)
    length.noken_button.click()
    wait_idle(qtbot, loaded)
    assert loaded.session.length.what.startswith("noken {x}")
    assert loaded.session.trace_settings.length_of == "noken" and length.noken_button.isChecked()
    composer.seed.setValue(5)  # another noken: the plot follows it once it settles
    assert loaded.session.noken_length is None
    qtbot.waitUntil(lambda: loaded.session.noken_length is not None, timeout=10_000)
    length.final_button.click()
    assert loaded.session.length is loaded.session.trace_length
    composer.invert_length.setValue(1)
    composer.invert_button.click()
    wait_idle(qtbot, loaded)
    found = loaded.session.inversion
    assert found is not None and len(found.token_ids) == 1
    assert composer.inversion.text().startswith("closest hard prompt")

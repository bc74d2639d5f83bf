"""The map's second toolbar: what the colour shows (norm, kind, script, length, kNN recall)
and the token filter (a query; matching tokens bright and counted, the others dim); and their
entries in the View menu, with region labels."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMenu, QToolBar

from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

COLOUR_NAMES = {
    "norm": "norm",
    "kind": "kind",
    "script": "script",
    "length": "length",
    "recall": "neighbour recall",
    "change": "change from the compared model",
}
ActionFactory = Callable[[QMenu, str, Callable[[], object], str | None], QAction]
FILTER_TIP = (
    "Keep matching tokens bright, dim the others (Enter; empty to clear). Terms: kind:number, "
    "kind:word_start, kind:continuation, kind:byte, script:Cyrillic, case:all_caps, len>8, "
    "norm<1.5, id<1000, /regex/ on the text, or plain text; combine with and, or, not, ( )."
)


class FilterBar(QToolBar):
    def __init__(self, controller: Controller) -> None:
        super().__init__("Colour and filter", objectName="colour_filter")
        self.controller = controller
        self.setMovable(False)
        self.colour_box = QComboBox(toolTip="What each token's colour shows")
        for key, name in COLOUR_NAMES.items():
            self.colour_box.addItem(name, key)
        self.filter = QLineEdit(
            placeholderText="filter tokens: script:Cyrillic and len>3   (Ctrl+Shift+F)",
            clearButtonEnabled=True,
            toolTip=FILTER_TIP,
        )
        self.filter.setMinimumWidth(320)
        self.count = QLabel("", toolTip="Tokens the filter keeps, of all")
        self.colour_actions: dict[str, QAction] = {}
        self.regions_action: QAction | None = None
        self.contours_action: QAction | None = None
        self.colour_box.currentIndexChanged.connect(
            lambda _: controller.set_colour(self.colour_box.currentData())
        )
        self.filter.returnPressed.connect(lambda: controller.set_filter(self.filter.text()))
        self.filter.textChanged.connect(self._cleared)
        for widget in (QLabel(" colour "), self.colour_box, QLabel("  "), self.filter, self.count):
            self.addWidget(widget)

    def add_menu_actions(self, menu: QMenu, action: ActionFactory) -> None:
        """Colour by (one entry checked; unchecking goes back to norms), region labels, and a
        shortcut to the filter box. `action(menu, title, slot, shortcut)` makes a window
        action."""
        c = self.controller
        colours = menu.addMenu("&Colour by")
        group = QActionGroup(self)
        group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        keys = {"recall": "Ctrl+R", "kind": "Ctrl+K"}
        for key, name in COLOUR_NAMES.items():
            made = action(colours, name, partial(self._colour_chosen, key), keys.get(key))
            made.setCheckable(True)
            group.addAction(made)
            self.colour_actions[key] = made
        self.colour_actions["recall"].setToolTip(
            "Colour each token by the share of its 10 nearest tokens (cosine) that are also "
            "nearest on screen: where the map can be trusted"
        )
        regions = action(
            menu, "Region &labels", lambda: c.set_regions(regions.isChecked()), "Ctrl+L"
        )
        regions.setCheckable(True)
        regions.setToolTip(
            "Name the map's regions by their dominant kind and script and a few central tokens"
        )
        self.regions_action = regions
        contours = action(
            menu,
            "Density &contours",
            lambda: c.set_contours(contours.isChecked()),
            "Ctrl+Shift+D",
        )
        contours.setCheckable(True)
        contours.setToolTip(
            "Outline where the tokens are densest (the densest 50, 80 and 95%); with a filter, "
            "where its matches are"
        )
        self.contours_action = contours
        action(menu, "&Filter tokens", self.filter.setFocus, "Ctrl+Shift+F")

    def _colour_chosen(self, key: str) -> None:
        on = self.colour_actions[key].isChecked()
        self.controller.set_colour(key if on else "norm")

    def _cleared(self, text: str) -> None:
        """The clear button (or deleting every character) removes the filter at once."""
        if not text and self.controller.session.projection.filter:
            self.controller.set_filter("")

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if not changed & {"model", "projection"}:
            return
        part = session.projection
        if self.regions_action is not None:  # the window's menu entries, once it made them
            self.colour_actions[part.colour].setChecked(True)
            self.regions_action.setChecked(part.regions)
            if self.contours_action is not None:
                self.contours_action.setChecked(part.contours)
        self.colour_box.blockSignals(True)
        self.colour_box.setCurrentIndex(self.colour_box.findData(part.colour))
        self.colour_box.blockSignals(False)
        if self.filter.text().strip() != part.filter and not self.filter.hasFocus():
            self.filter.blockSignals(True)
            self.filter.setText(part.filter)
            self.filter.blockSignals(False)
        matched = session.matched
        total = 0 if session.vocab is None else len(session.vocab.tokens)
        self.count.setText("" if matched is None else f"  {len(matched):,} of {total:,} tokens")

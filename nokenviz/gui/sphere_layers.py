"""What the session shows on the sphere: the vocabulary, the brushed band, the selection,
the traced trajectory, the soft-feedback path, the composer's anchors and noken, and every
label, redrawn from the session on each change; clicks and hovers go back as intents (select)
or hover text. (The composer's handle is an input: its panel moves it.)"""

from __future__ import annotations

import html
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from nokenviz.core.figures.overlays import (
    COLOURS,
    SEAM,
    local_nearest,
    moved_pairs,
    overlay_labels,
    region_labels,
)
from nokenviz.core.maps.colouring import token_colours
from nokenviz.core.nokens.composer import polygon_order
from nokenviz.gui.sphere_view import SphereView
from nokenviz.gui.token_paint import TokenPaint
from nokenviz.state.controller import Controller
from nokenviz.state.session import Part, Session

TITLE_CHAR_PIXELS = 7.0  # a 10 pt title character is about this wide: the wrap's width
TITLE_LINE_PIXELS = 15  # and a line this high

if TYPE_CHECKING:
    from nokenviz.core.maps.projections import Projection
    from nokenviz.core.maps.vocabulary import Vocabulary

# What something on screen was drawn from: objects compared by identity, values by equality.
Drawing = tuple[tuple[object, ...], tuple[object, ...]]


class SphereLayers:
    def __init__(self, view: SphereView, controller: Controller, hover: QLabel) -> None:
        self.view, self.controller, self.hover = view, controller, hover
        self.drawn: Projection | None = None  # the fitted projection on screen
        # what the labels and the trajectory on screen were drawn from: (objects, values)
        self.labelled: Drawing | None = None
        self.traced: Drawing | None = None
        self.coloured: Drawing | None = None  # the colours and title on screen were drawn from
        view.token_clicked.connect(self._clicked)
        view.token_hovered.connect(self._token_hovered)
        view.node_hovered.connect(self._node_hovered)
        view.plotItem.vb.sigRangeChanged.connect(self._range_changed)

    @property
    def session(self) -> Session:
        return self.controller.session

    def apply(self, session: Session, changed: frozenset[Part]) -> None:
        if changed & {"model", "fitted"}:
            self._draw_vocabulary(session)
        fitted, vocab = session.fitted, session.vocab
        if fitted is None or vocab is None:
            return
        if changed & {"model", "fitted", "recall", "projection", "jobs", "comparison"}:
            self._colour(session, fitted, vocab)
        if changed & {"model", "fitted", "band"}:
            self.view.set_highlight(session.highlight)
        if changed & {"model", "fitted", "trace", "trace_settings"}:
            self._draw_trajectory(session, fitted)
        if changed & {"model", "fitted", "output"}:
            self._draw_soft_path(session, fitted)
        if changed & {"model", "fitted", "composer"}:
            self._draw_anchors(session, fitted)
        if changed & {"model", "fitted", "selection", "comparison", "projection"}:
            self._draw_moved(session, fitted)
        if changed & {"model", "fitted", "projection"}:
            found = session.contours
            self.view.set_contours(None if found is None else found.lines)
        if changed & {"model", "fitted", "preview"}:
            preview = session.preview
            marker = None if preview is None else fitted.project(preview.vector)[0]
            self.view.set_noken_marker(marker)
        labelled = {
            "model",
            "fitted",
            "selection",
            "trace",
            "trace_settings",
            "composer",
            "comparison",
        }
        if changed & {*labelled, "regions", "projection"}:
            self.draw_labels(session)
        self.view.update_legend()

    def _draw_moved(self, session: Session, fitted: Projection) -> None:
        """After a comparison: the selected token and the most changed ones, each joined to its
        place in the other model (its aligned vector placed by this projection)."""
        moved = session.moved
        if moved is None or not moved[0]:
            self.view.set_moved(None)
            return
        placed = fitted.project(moved[1])
        self.view.set_moved(moved_pairs(fitted.own_coords, moved, placed))

    def _draw_anchors(self, session: Session, fitted: Projection) -> None:
        """The anchors as a closed polygon, in the order the blend weights use."""
        xy = fitted.coords[list(session.composer.anchors)].astype(np.float64)
        self.view.set_anchors(xy[polygon_order(xy)] if len(xy) > 2 else xy)

    def _draw_vocabulary(self, session: Session) -> None:
        fitted, vocab = session.fitted, session.vocab
        if fitted is None or vocab is None:
            if self.drawn is not None:
                self.view.clear_vocabulary()
                self.view.set_trajectory(None)
                self.view.set_soft_path(None)
                self.view.set_anchors(np.zeros((0, 2)))
                self.view.set_noken_marker(None)
                self.view.set_labels([])
                self.view.setTitle("")
                self.drawn = None
                self.labelled = self.traced = None
            return
        if fitted is self.drawn:
            return
        same_kind = self.drawn is not None and self.drawn.spec.kind == fitted.spec.kind
        keep = same_kind and not session.restore_view  # a scene's frame replaces the user's
        restore = session.view if session.restore_view else None  # drawing moves the view
        stats = vocab.stats[session.matrix]
        self.view.set_vocabulary(
            fitted.coords,
            session.norms,
            vocab.labels,
            (stats.p01, stats.p99),
            keep_range=keep,
            shape=fitted.shape,
        )
        self.drawn = fitted
        if restore is not None:
            self.view.setRange(xRange=restore.x, yRange=restore.y, padding=0)
        if session.restore_view:  # the scene's frame is shown (a range that did not move
            self._range_changed()  # sends no signal)
        self.view.set_mean_marker(fitted.mean_marker())
        self.coloured = None

    def _colour(self, session: Session, fitted: Projection, vocab: Vocabulary) -> None:
        """Points coloured by norm, kind, script, length or (once measured) kNN recall, the
        filter's matches bright; the title says what is drawn and how faithful the map is."""
        stats = vocab.stats[session.matrix]
        part, matched = session.projection, session.matched
        recall = session.recall if part.colour == "recall" else None
        compared = session.compared if part.colour == "change" else None
        measuring = "faithfulness" in session.running
        drawn_from = (session.norms, recall, matched, session.faithfulness, compared)
        drawing = (drawn_from, (part, measuring))
        if self.coloured is not None and _same(self.coloured, drawing):
            return
        self.coloured = drawing
        levels = (stats.p01, stats.p99)
        change = session.change if part.colour == "change" else None
        colours = token_colours(
            part.colour, session.norms, levels, vocab.kinds, recall, matched, change
        )
        found = colours.categories
        paint = TokenPaint(
            colours.values,
            colours.levels,
            pg.colormap.get(colours.colour_map),
            None if found is None else found.codes,
            None if found is None else found.rgba(),
            matched,
        )
        self.view.set_paint(paint, colours.label, [] if found is None else found.legend())
        score = session.faithfulness
        unknown = "measuring…" if measuring else "not measured"
        local = fitted.shape == "local"
        kept = "neighbours kept: " + (unknown if score is None else score.describe(local))
        if fitted.mean_marker() is not None:
            kept += f" · ★ mean direction (norm {stats.mean_direction_norm:.2f})"
        if matched is not None:
            kept += f" · filter {part.filter!r}: {len(matched):,} of {len(vocab.tokens):,} tokens"
        lines = [f"{session.matrix}: {fitted.describe()}", kept]
        title = title_html(lines, self.view.width())
        self.view.setTitle(title, color="k", size="10pt")
        height = TITLE_LINE_PIXELS * (title.count("<br>") + 1) + 2  # pyqtgraph fixes 30 px
        self.view.plotItem.titleLabel.setMaximumHeight(height)
        self.view.plotItem.layout.setRowFixedHeight(0, height)

    def _draw_trajectory(self, session: Session, fitted: Projection) -> None:
        """The traced position's path, drawn again only when it changed (typing a prompt
        changes the trace settings, not the path)."""
        part = session.trace_settings
        drawing = ((fitted, session.trace), (part.trajectory, part.lens_space))
        if self.traced is not None and _same(self.traced, drawing):
            return
        self.traced = drawing
        self.hover.setText("")  # a hover text would describe the previous trace
        xy = None
        if session.trace is not None and part.trajectory:
            xy = fitted.project(session.trace.lens if part.lens_space else session.trace.raw)
        on_map = fitted.shape == "map"
        self.view.set_trajectory(xy, seam=SEAM if on_map else None)

    def _draw_soft_path(self, session: Session, fitted: Projection) -> None:
        result = None if session.output is None else session.output.result
        vectors = None if result is None else result.vectors
        if vectors is None or not len(vectors) or vectors.shape[1] != fitted.mean_direction.size:
            self.view.set_soft_path(None)  # none (or stopped at once), or of another width
            return
        self.view.set_soft_path(fitted.project(vectors))

    def draw_labels(self, session: Session) -> None:
        """Selected tokens, anchors and trajectory nodes, best first, never piled up (laid
        out again only when one of them changed: a drag changes weights, not labels)."""
        fitted, vocab = session.fitted, session.vocab
        if fitted is None or vocab is None:
            return
        regions = session.regions if session.projection.regions else None
        drawn_from = (fitted, session.trace, self.view.trajectory_nodes, regions)
        moved = session.moved[0] if session.moved is not None else []
        tokens_of = (session.selection, session.composer.anchors, moved)
        if self.labelled is not None and _same(self.labelled, (drawn_from, tokens_of)):
            return
        self.labelled = (drawn_from, tokens_of)
        self.view.set_selection(list(session.selection))
        nodes = self.view.trajectory_nodes
        entries = session.trace.entries if session.trace is not None and len(nodes) else ()
        nearest = local_nearest(fitted.coords) if fitted.shape == "local" else ()
        labels = overlay_labels(
            fitted.coords,
            vocab.labels,
            session.selection,
            session.composer.anchors,
            entries,
            nodes if len(entries) else None,
            nearest,
            moved,
        )
        if regions:
            labels += region_labels(fitted.coords, regions, vocab.labels)
        self.view.set_labels([(lb.xy, lb.text, lb.priority, COLOURS[lb.role]) for lb in labels])

    # ------------------------------------------------------------ mouse

    def _clicked(self, token: int) -> None:
        additive = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier
        selection = self.session.selection
        self.controller.select([*selection[-1:], token] if additive else [token])

    def _token_hovered(self, token: int) -> None:
        s = self.session
        if s.vocab is not None and token < len(s.vocab.tokens):
            kind = s.vocab.describe(token)
            self.hover.setText(
                f"{s.vocab.labels[token]} #{token} · norm {s.norms[token]:.3f}"
                + (f" · {kind}" if kind else "")
            )

    def _node_hovered(self, layer: int) -> None:
        s = self.session
        if s.trace is None or s.vocab is None or layer >= len(s.trace.entries):
            return
        entry, tokens = s.trace.entries[layer], s.vocab.labels
        top = ", ".join(f"{tokens[i]} {p:.2f}" for i, p in entry.top)
        self.hover.setText(
            f"layer {layer} at {s.trace.labels[s.trace.position]}: norm {entry.norm:.1f} · "
            f"lens top {top} · final prediction ranked {entry.final_rank}"
        )

    def _range_changed(self, *_: object) -> None:
        """The view panned or zoomed: the session keeps its ranges (scenes save them)."""
        if self.drawn is not None:
            x, y = self.view.plotItem.vb.viewRange()
            self.controller.set_view(tuple(x), tuple(y))


def title_html(lines: list[str], width: int) -> str:
    """Plain title lines as the plot's rich text: escaped (a token such as <issue_comment> is
    text, not a tag) and wrapped to the plot's width in pixels (a line wider than the plot
    pushed its colour bar out of the window)."""
    chars = max(60, int(width / TITLE_CHAR_PIXELS))
    wrapped = [row for line in lines for row in textwrap.wrap(line, chars) or [""]]
    return "<br>".join(html.escape(row, quote=False) for row in wrapped)


def _same(drawn: Drawing, now: Drawing) -> bool:
    """The same objects (by identity: arrays have no truth value) and the same values."""
    objects = all(a is b for a, b in zip(drawn[0], now[0], strict=True))
    return objects and drawn[1] == now[1]

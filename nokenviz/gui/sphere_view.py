"""The hypersphere view: every token as a direction, coloured by its norm (or kind, script,
length, kNN recall), drawn flat.

Rendering (P1): the whole vocabulary is one image (per 2x2-pixel cell the mean value's colour
or the most frequent category's, empty cells transparent; `token_paint.py`) re-binned when the
view settles; panning only transforms that image. With a filter, the image is dimmed and the
matching tokens' cells are composed bright over it, still one image (every match drawn, however
many; as points when few are in view). The brushed
set is a second image of its own colour when it is large (every token of the band is drawn,
never a capped subset). Real point items are used where they are few: the selection, a
trajectory, a small brushed set, and all points once zoomed in so far that fewer than
`POINT_LIMIT` are visible.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal

from nokenviz.core.figures import overlays
from nokenviz.core.figures.overlays import COLOURS, NAMES, Role, segments
from nokenviz.core.maps.contours import SHARES
from nokenviz.core.maps.density import visible
from nokenviz.gui.sphere_marks import (
    HIGHLIGHT_RGBA,
    POINT_LIMIT,
    Handle,
    LabelItem,
    contour_line,
    draw_brushed,
    line_mark,
    placed_labels,
    point_mark,
    show_path,
    shown_roles,
)
from nokenviz.gui.token_paint import TokenPaint

NEAR_DEGREES = 60.0  # a local view draws the tokens this close to its centre large
NEAR_LIMIT = 500
CELL_PX = 2
REBIN_DELAY_MS = 60
COLORMAP = "viridis"  # perceptually uniform and colour-blind safe


class SphereView(pg.PlotWidget):
    """Vocabulary, selection, trajectory and overlays in one pyqtgraph plot."""

    token_clicked = Signal(int)
    token_hovered = Signal(int)
    node_hovered = Signal(int)  # index of a trajectory node (= layer)

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setAspectLocked(True)
        self.showGrid(x=False, y=False)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.plotItem.setMenuEnabled(False)
        self.coords = np.zeros((0, 2), np.float32)
        self.tokens: list[str] = []
        self.paint = TokenPaint(np.zeros(0, np.float32), (0.0, 1.0), pg.colormap.get(COLORMAP))
        self.polar = self.local = False

        self.image = pg.ImageItem(axisOrder="row-major")  # every token (a filter's matches bright)
        self.image.setZValue(0)
        self.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            colorMap=self.paint.colormap, label="token norm", interactive=False, width=14
        )
        self.plotItem.layout.addItem(self.colorbar, 2, 5)  # right of the plot, as pyqtgraph does
        self.categories = pg.LegendItem(
            offset=(-8, 8), brush=pg.mkBrush(255, 255, 255, 210), labelTextColor="k"
        )
        self.categories.setParentItem(self.plotItem.vb)
        self.points = pg.ScatterPlotItem(pxMode=True, size=6, pen=None)
        self.points.setZValue(1)
        self.near = pg.ScatterPlotItem(pxMode=True, size=10, pen=pg.mkPen(COLOURS["nearest"]))
        self.near.setZValue(2.5)  # over the cloud and the band, under the marks
        self.highlight = pg.ScatterPlotItem(
            pxMode=True, size=4, pen=None, brush=pg.mkBrush(*HIGHLIGHT_RGBA)
        )
        self.highlight.setZValue(2)
        self.highlight_image = pg.ImageItem(axisOrder="row-major")
        self.highlight_image.setZValue(2)
        self.addItem(self.highlight_image)
        self.highlight_ids = np.zeros(0, dtype=np.int64)
        self.selection = pg.ScatterPlotItem(
            pxMode=True,
            size=11,
            pen=pg.mkPen(COLOURS["selection"], width=1.5),
            brush=pg.mkBrush(255, 255, 255, 0),
        )
        self.selection.setZValue(4)
        self.origin = pg.ScatterPlotItem(
            pxMode=True, size=14, symbol="+", pen=pg.mkPen("k", width=1.5)
        )
        self.rings = pg.PlotDataItem(pen=pg.mkPen((160, 160, 160), width=1))
        self.rings.setZValue(0.5)
        self.trajectory_nodes = np.zeros((0, 2))
        self.mean_marker = point_mark("mean", "star", 16, z=5)
        self.noken_marker = point_mark("noken", "d", 14, z=7)
        self.trajectory = line_mark("trajectory", "o", z=3)
        self.anchor_polygon = line_mark("anchors", "s", z=6, dashed=True, size=10, width=1.5)
        self.soft_path = line_mark("soft", "t", z=3, dashed=True)
        # tokens here joined to their places in a compared model
        self.moved = line_mark("moved", "o", z=4.5, dotted=True, size=9)
        # density contours, densest share first: the inner line darkest
        self.contours = [contour_line(share) for share in range(len(SHARES))]
        self.handle = Handle()
        self.handle.setZValue(8)
        self.handle.setVisible(False)
        for item in (
            self.origin,
            self.rings,
            self.points,
            self.near,
            self.highlight,
            self.selection,
            self.mean_marker,
            self.trajectory,
            self.anchor_polygon,
            self.noken_marker,
            self.handle,
            self.soft_path,
            self.moved,
            *self.contours,
        ):
            self.addItem(item)
        self.legend = self.plotItem.addLegend(
            offset=(8, 8), brush=pg.mkBrush(255, 255, 255, 210), labelTextColor="k"
        )
        self.legend_roles: list[Role] = []
        self.scene().minDragTime = 0  # a drag starts at once, not after half a second
        self.labels: list[pg.GraphicsObject] = []  # label texts and leader lines
        self.label_items: list[LabelItem] = []

        self.rebin_timer = QTimer(self, singleShot=True, interval=REBIN_DELAY_MS)
        self.rebin_timer.timeout.connect(self._settled)
        self.plotItem.vb.sigRangeChanged.connect(lambda *_: self.rebin_timer.start())
        self.plotItem.vb.sigResized.connect(lambda *_: self.rebin_timer.start())
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(self._moved)

    # ------------------------------------------------------------ data

    def set_vocabulary(
        self,
        coords: np.ndarray,
        norms: np.ndarray,
        tokens: list[str],
        levels: tuple[float, float],
        keep_range: bool = False,
        shape: str = "map",
    ) -> None:
        """`shape` "plane" (token plane): axes shown, the origin (norm 0) kept in view; "local":
        the centre marked and rings of equal angle every 30 degrees."""
        self.coords, self.tokens = coords, tokens
        self.paint = TokenPaint(norms.astype(np.float32), levels, pg.colormap.get(COLORMAP))
        self.polar, self.local = shape == "plane", shape == "local"
        for axis in ("left", "bottom"):
            self.showAxis(axis, self.polar)
        self.origin.setData(pos=[(0.0, 0.0)] if self.polar or self.local else [])
        angle = np.linspace(0, 2 * np.pi, 181)
        rings = [np.append(d * np.exp(1j * angle), np.nan) for d in range(30, 181, 30)]
        ring = np.concatenate(rings) if self.local else np.zeros(0, complex)
        self.rings.setData(ring.real, ring.imag, connect="finite")
        self.colorbar.setLevels(levels)
        if not keep_range:
            self.reset_range()
        self.rebin()
        self._draw_near()

    def set_paint(self, paint: TokenPaint, label: str, legend: list[tuple[str, str]]) -> None:
        """What the points' colour shows, keeping the view: a colour scale labelled `label`,
        or categories named in `legend` ((colour, text) rows) instead of the scale."""
        self.paint = paint
        categorical = paint.codes is not None
        self.colorbar.setVisible(not categorical)
        if not categorical:
            self.colorbar.setColorMap(paint.colormap)
            self.colorbar.setLevels(paint.levels)
            self.colorbar.getAxis("left").setLabel(label)
        self.categories.clear()
        for colour, text in legend:
            sample = pg.ScatterPlotItem(size=10, pen=None, brush=pg.mkBrush(colour))
            self.categories.addItem(sample, text)
        self.categories.setVisible(bool(legend))
        self.rebin()
        self._draw_near()

    def reset_range(self) -> None:
        """Frame every token (and, in polar form, the origin where norm 0 sits)."""
        if not len(self.coords):
            return
        if self.local:  # the neighbourhood: about the 200 nearest tokens
            radius = np.hypot(self.coords[:, 0], self.coords[:, 1])
            r = 1.2 * float(np.partition(radius, k := min(200, len(radius) - 1))[k])
            self.plotItem.vb.setRange(xRange=(-r, r), yRange=(-r, r), padding=0)
            return
        (x0, y0), (x1, y1) = self.coords.min(axis=0).tolist(), self.coords.max(axis=0).tolist()
        if self.polar:
            x0, y0, x1, y1 = min(x0, 0.0), min(y0, 0.0), max(x1, 0.0), max(y1, 0.0)
        pad = 0.03 * max(x1 - x0, y1 - y0)
        self.plotItem.vb.setRange(
            xRange=(x0 - pad, x1 + pad), yRange=(y0 - pad, y1 + pad), padding=0
        )

    def clear_vocabulary(self) -> None:
        """Nothing to show (a model loading, or its projection not yet fitted)."""
        self.coords = np.zeros((0, 2), np.float32)
        self.paint = TokenPaint(np.zeros(0, np.float32), (0.0, 1.0), self.paint.colormap)
        self.tokens = []
        self.highlight_ids = np.zeros(0, dtype=np.int64)
        for item in (self.image, self.highlight_image):
            item.clear()
        for item in (self.points, self.near, self.highlight, self.selection, self.mean_marker):
            item.clear()

    def rebin(self) -> None:
        """Redraw the vocabulary image for the current view (or points when few are visible)."""
        if self.plotItem is None or not len(self.coords):  # closed, or nothing to draw
            return
        (x0, x1), (y0, y1) = self.plotItem.vb.viewRange()
        rect = self.plotItem.vb.sceneBoundingRect()
        shape = (max(1, int(rect.height() / CELL_PX)), max(1, int(rect.width() / CELL_PX)))
        xy = self.coords[self.highlight_ids]
        draw_brushed(self.highlight, self.highlight_image, xy, (x0, x1), (y0, y1), shape)
        shown = visible(self.coords, (x0, x1), (y0, y1))
        if len(shown) <= POINT_LIMIT:
            self.image.setVisible(False)
            self.points.setData(pos=self.coords[shown], brush=self.paint.points(shown), data=shown)
            return
        matched = self.paint.matched
        few = (
            None if matched is None else matched[visible(self.coords[matched], (x0, x1), (y0, y1))]
        )
        as_points = few is not None and len(few) <= POINT_LIMIT  # few matches: easy to see
        if few is not None and as_points:
            self.points.setData(pos=self.coords[few], brush=self.paint.points(few), data=few)
        else:
            self.points.clear()
        overlay = matched is not None and not as_points
        image = self.paint.composite(self.coords, (x0, x1), (y0, y1), shape, overlay)
        self.image.setImage(image, levels=(0, 255))
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.image.setVisible(True)

    def _draw_near(self) -> None:
        """A local view's nearest tokens (within NEAR_DEGREES of the centre, at most NEAR_LIMIT;
        the labelled ones however far) as large points over the cloud: the view's point."""
        if not self.local or not len(self.coords):
            self.near.clear()
            return
        ids = overlays.local_nearest(self.coords, NEAR_LIMIT, NEAR_DEGREES, overlays.NEAREST_LABELS)
        brushes = self.paint.points(np.asarray(ids, dtype=np.int64))
        self.near.setData(pos=self.coords[ids], brush=brushes, data=ids)

    def set_anchors(self, xy: np.ndarray) -> None:
        """The composer's anchors as a closed polygon (in the order the weights use)."""
        show_path(self.anchor_polygon, np.vstack([xy, xy[:1]]) if len(xy) > 2 else xy)

    def set_soft_path(self, xy: np.ndarray | None) -> None:
        """The inputs soft feedback appended, step by step."""
        show_path(self.soft_path, xy)

    def set_moved(self, pairs: np.ndarray | None) -> None:
        """Lines ([k, 2, 2]) from tokens to where they are in the compared model, both ends
        marked."""
        show_path(self.moved, None if pairs is None else segments(pairs))

    def set_contours(self, lines: tuple[np.ndarray, ...] | None) -> None:
        """Density contours, one polyline per share (NaN rows between pieces), or none."""
        for index, item in enumerate(self.contours):
            show_path(item, None if lines is None else lines[index])

    def set_noken_marker(self, xy: np.ndarray | None) -> None:
        """Where the noken's true direction lands in this projection."""
        self.noken_marker.setData(pos=[] if xy is None else [xy])

    def title_text(self) -> str:
        """The title as read: its wrapped lines joined, its escapes undone."""
        return html.unescape(self.plotItem.titleLabel.text.replace("<br>", " "))

    def set_selection(self, ids: list[int]) -> None:
        self.selection.setData(pos=self.coords[ids] if ids else np.zeros((0, 2)), data=ids)

    def set_highlight(self, ids: np.ndarray) -> None:
        """Highlight every token in `ids` (the norm band), however many."""
        self.highlight_ids = np.asarray(ids, dtype=np.int64)
        self.rebin()

    def set_mean_marker(self, position: np.ndarray | None) -> None:
        self.mean_marker.setData(pos=[] if position is None else [position])

    def set_trajectory(self, xy: np.ndarray | None, seam: float | None = None) -> None:
        """Draw a path; on a world map, steps longer than `seam` wrap around the map's edge and
        are left undrawn instead of streaking across it."""
        self.trajectory_nodes = np.zeros((0, 2)) if xy is None else xy
        if xy is not None and seam:
            xy = np.insert(xy, np.flatnonzero(np.abs(np.diff(xy[:, 0])) > seam) + 1, np.nan, 0)
        show_path(self.trajectory, xy)

    def update_legend(self) -> None:
        """Name the marks on screen, and only those (an empty layer gets no legend row)."""
        layers: dict[Role, pg.GraphicsObject] = {
            "selection": self.selection,
            "anchors": self.anchor_polygon,
            "noken": self.noken_marker,
            "trajectory": self.trajectory,
            "soft": self.soft_path,
            "moved": self.moved,
            "band": self.highlight,
            "mean": self.mean_marker,
            "density": self.contours[0],
        }
        shown = shown_roles(layers, band=len(self.highlight_ids))
        if shown == self.legend_roles:
            return
        self.legend_roles = shown
        self.legend.clear()
        for role in shown:
            self.legend.addItem(layers[role], NAMES[role])
        self.legend.setVisible(bool(shown))

    def set_labels(self, items: list[tuple[np.ndarray, str, float, str]]) -> None:
        """Labels as (position, text, priority, colour); shown without overlaps, best first."""
        self.label_items = [(QPointF(float(p[0]), float(p[1])), t, pr, c) for p, t, pr, c in items]
        self._layout_labels()

    # ------------------------------------------------------------ labels

    def _layout_labels(self) -> None:
        for label in self.labels:
            self.removeItem(label)
        self.labels = placed_labels(
            self.plotItem.vb, self.fontMetrics(), self.label_items, self.marks()
        )
        for label in self.labels:
            self.addItem(label)

    def marks(self) -> np.ndarray:
        """Where the overlay marks are (trajectory nodes, anchors, noken, selection): no label
        covers them."""
        x, y = self.anchor_polygon.getData()
        anchors = np.zeros((0, 2)) if x is None else np.column_stack([x, y])
        noken = np.column_stack([self.noken_marker.data["x"], self.noken_marker.data["y"]])
        selected = np.column_stack([self.selection.data["x"], self.selection.data["y"]])
        return np.vstack([self.trajectory_nodes.reshape(-1, 2), anchors, noken, selected])

    # ------------------------------------------------------------ mouse

    def nearest_token(self, scene_pos: QPointF, radius_px: float = 8.0) -> int | None:
        """The token drawn nearest to a scene position, if within `radius_px` pixels."""
        return self._nearest(self.coords, scene_pos, radius_px)

    def _nearest(self, xy: np.ndarray, scene_pos: QPointF, radius_px: float = 8.0) -> int | None:
        if not len(xy):
            return None
        vb = self.plotItem.vb
        point = vb.mapSceneToView(scene_pos)
        px_x, px_y = vb.viewPixelSize()
        dx = (xy[:, 0] - point.x()) / px_x
        dy = (xy[:, 1] - point.y()) / px_y
        distance = dx * dx + dy * dy
        index = int(np.argmin(distance))
        return index if distance[index] <= radius_px**2 else None

    def _clicked(self, event: MouseClickEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        token = self.nearest_token(event.scenePos())
        if token is not None:
            self.token_clicked.emit(token)

    def _moved(self, scene_pos: QPointF) -> None:
        if not self.plotItem.vb.sceneBoundingRect().contains(scene_pos):
            return
        node = self._nearest(self.trajectory_nodes, scene_pos)
        if node is not None:
            self.node_hovered.emit(node)
            return
        token = self.nearest_token(scene_pos)
        if token is not None:
            self.token_hovered.emit(token)

    def _settled(self) -> None:
        """The view stopped moving: re-bin the image and re-place labels (screen space)."""
        if self.plotItem is None:  # closed while the timer ran
            return
        self.rebin()
        self._layout_labels()

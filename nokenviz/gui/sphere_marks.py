"""The sphere view's marks: the styled items of each role, the composer's handle, the brushed
tokens (points or an image), labels placed in screen space so that they overlap neither each
other nor a mark, and which marks the legend names."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetrics

from nokenviz.core.figures.labels import arrange_labels, leader_end, mark_boxes
from nokenviz.core.figures.overlays import COLOURS, Role
from nokenviz.core.maps.density import bin_points, visible

LabelItem = tuple[QPointF, str, float, str]  # position (view units), text, priority, colour
PAD_PX = 6
POINT_LIMIT = 3000  # fewer tokens than this in view are drawn as points, more as an image
HIGHLIGHT_RGBA = (*pg.mkColor(COLOURS["band"]).getRgb()[:3], 200)


class Handle(pg.TargetItem):
    """The composer's handle. Dragging it with Shift held asks to extrapolate beyond the anchors,
    and the handle turns sky blue and dashed while it does."""

    PEN = pg.mkPen(COLOURS["noken"], width=2)
    EXTRAPOLATING_PEN = pg.mkPen("#56B4E9", width=3, style=Qt.PenStyle.DashLine)

    def __init__(self) -> None:
        super().__init__(pos=(0, 0), size=16, pen=self.PEN)
        self.extrapolating = False

    def mouseDragEvent(self, ev: MouseDragEvent) -> None:
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift != self.extrapolating:
            self.extrapolating = shift
            self.setPen(self.EXTRAPOLATING_PEN if shift else self.PEN)
        super().mouseDragEvent(ev)


def line_mark(
    role: Role,
    symbol: str,
    z: float,
    dashed: bool = False,
    dotted: bool = False,
    size: int = 7,
    width: float = 2.0,
) -> pg.PlotDataItem:
    """A path mark (the trajectory, the anchors' polygon, ...) in its role's colour."""
    pen = pg.mkPen(COLOURS[role], width=width)
    if dashed or dotted:
        pen.setStyle(Qt.PenStyle.DashLine if dashed else Qt.PenStyle.DotLine)
    item = pg.PlotDataItem(
        pen=pen,
        symbol=symbol,
        symbolSize=size,
        symbolBrush=COLOURS[role],
        symbolPen="k" if dotted else "w",
    )
    item.setZValue(z)
    return item


def contour_line(rank: int) -> pg.PlotDataItem:
    """A density contour's line: the densest share's (rank 0) darkest and widest."""
    colour = pg.mkColor(COLOURS["density"])
    colour.setAlpha((230, 150, 90)[min(rank, 2)])
    item = pg.PlotDataItem(pen=pg.mkPen(colour, width=(1.8, 1.3, 1.0)[min(rank, 2)]))
    item.setZValue(2.8)  # over the cloud and the band, under every mark
    return item


def show_path(item: pg.PlotDataItem, xy: np.ndarray | None) -> None:
    """Draw a polyline ([n, 2]; NaN rows break it), or nothing for None."""
    path = np.zeros((0, 2)) if xy is None else np.reshape(xy, (-1, 2))
    item.setData(path[:, 0], path[:, 1], connect="finite")


def point_mark(role: Role, symbol: str, size: int, z: float) -> pg.ScatterPlotItem:
    """A single-point mark (the noken, the mean direction) in its role's colour, edged black."""
    item = pg.ScatterPlotItem(
        pxMode=True, size=size, symbol=symbol, pen=pg.mkPen("k"), brush=pg.mkBrush(COLOURS[role])
    )
    item.setZValue(z)
    return item


def draw_brushed(
    points: pg.ScatterPlotItem,
    image: pg.ImageItem,
    xy: np.ndarray,
    x: tuple[float, float],
    y: tuple[float, float],
    shape: tuple[int, int],
) -> None:
    """The brushed tokens at `xy`: points when few are in view, else one image of their
    cells (`shape`, over the view's `x` and `y` ranges)."""
    shown = visible(xy, x, y)
    if len(shown) <= POINT_LIMIT:
        image.setVisible(False)
        points.setData(pos=xy[shown])
        return
    points.clear()
    counts = bin_points(xy, np.zeros(len(xy)), x, y, shape).counts
    rgba = np.zeros((*shape, 4), dtype=np.uint8)
    rgba[counts > 0] = HIGHLIGHT_RGBA
    image.setImage(rgba, autoLevels=False)
    image.setRect(QRectF(x[0], y[0], x[1] - x[0], y[1] - y[0]))
    image.setVisible(True)


def placed_labels(
    vb: pg.ViewBox, metrics: QFontMetrics, items: list[LabelItem], marks: np.ndarray
) -> list[pg.GraphicsObject]:
    """Text items (and leader lines for labels moved out of a crowd), best first, none over
    another or over a mark, all inside the view; a label that does not fit is left out."""
    if not items:
        return []

    def scene_xy(points: np.ndarray) -> np.ndarray:  # scene pixels, y up
        mapped = [vb.mapViewToScene(QPointF(float(x), float(y))) for x, y in points]
        return np.array([(p.x(), -p.y()) for p in mapped]).reshape(-1, 2)

    points = scene_xy(np.array([(p.x(), p.y()) for p, *_ in items]))
    sizes = np.array(
        [(metrics.horizontalAdvance(t) + 8, metrics.height() + 2) for _, t, *_ in items]
    )
    rect = vb.sceneBoundingRect()
    bounds = (rect.left(), -rect.bottom(), rect.right(), -rect.top())
    obstacles = mark_boxes(scene_xy(marks), PAD_PX)
    priority = np.array([item[2] for item in items])
    boxes = arrange_labels(points, sizes, priority, obstacles, PAD_PX, bounds, (1, 4))
    to_view = vb.mapSceneToView
    made: list[pg.GraphicsObject] = []
    for (_, text, _, colour), box, point in zip(items, boxes, points, strict=True):
        if np.isnan(box[0]):
            continue
        label = pg.TextItem(text, color=colour, anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 200))
        label.setPos(to_view(QPointF(box[0], -box[3])))
        label.setZValue(6)
        made.append(label)
        end = leader_end(point, box, PAD_PX)
        if end is not None:  # a crowded label moved out, joined to its point
            a, b = to_view(QPointF(point[0], -point[1])), to_view(QPointF(end[0], -end[1]))
            line = pg.PlotCurveItem([a.x(), b.x()], [a.y(), b.y()], pen=pg.mkPen(colour))
            line.setZValue(6)
            made.append(line)
    return made


def shown_roles(layers: dict[Role, pg.GraphicsObject], band: int) -> list[Role]:
    """The roles whose marks are on screen (the band's by its count of tokens): the legend
    names those, and only those."""
    return [role for role, item in layers.items() if (band if role == "band" else _has_data(item))]


def _has_data(item: pg.GraphicsObject) -> bool:
    if isinstance(item, pg.ScatterPlotItem):
        return len(item.data) > 0
    x = item.getData()[0]
    return x is not None and len(x) > 0

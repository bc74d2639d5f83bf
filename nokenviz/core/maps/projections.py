"""Token vectors as directions on a sphere, drawn flat.

The projections, all from unit directions (norms are drawn separately, as colour):
- PCA sphere: the top three principal axes of the directions, renormalised onto the 2-sphere
  and drawn on a Hammer equal-area map. Exact and linear: any new vector lands exactly.
- UMAP sphere: umap-learn with `output_metric="haversine"` on the top principal axes of the
  directions. New vectors are placed by interpolating among their nearest fitted neighbours:
  approximate, and said so. Past `UMAP_SAMPLE` tokens it is fitted on a sample stratified by
  norm and the other tokens are placed the same way (said in the title, with the sample size),
  unless the user asks for the exact fit, whose time is estimated before it starts.
- Neighbour map: t-SNE (openTSNE) of the exact cosine neighbours in every dimension, drawn
  flat (`tsne_map`). Built to keep each token's nearest tokens, which the spheres cannot.
  Sampling past `UMAP_SAMPLE` tokens and placing new vectors work as for the UMAP sphere, on
  `PLACE_DIMS` principal axes, and are said to be approximate.
- Token plane: the plane of two tokens (Gram-Schmidt), in polar form: angle in the plane,
  radius = the vector's true norm. Exact.
- Local view: an azimuthal equidistant projection centred on one direction (a token or a noken):
  the radius is the exact angle to the centre, in degrees, so the k nearest tokens by cosine are
  exactly the k points closest to the centre on screen. The direction round the centre comes
  from a PCA of the nearest neighbours' tangent vectors, so the neighbourhood is spread out
  where it varies most. Global maps cannot keep every neighbourhood; this one keeps the one the
  user is looking at.

"Centred" subtracts the mean unit direction first: real vocabularies are anisotropic (the
default model's mean direction has norm 0.67) and an uncentred sphere crowds into one patch.

Every fit reads the matrix in float32 blocks (`geometry.float_blocks`): a model's bfloat16
weights are never copied whole, and only the flat coordinates ([V, 2]) and, for UMAP, the
directions' coordinates on their top principal axes ([V, 64]; [V, 256] for the neighbour map)
are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from nokenviz.core.maps.geometry import Rows, as_rows, float_blocks, norms_and_mean
from nokenviz.core.maps.map_kinds import Kind, Shape
from nokenviz.core.maps.tsne_map import tsne_map
from nokenviz.core.maps.umap_sphere import UMAP_SAMPLE, umap_sphere
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

LOCAL_NEIGHBOURS = 50  # the neighbours whose tangents orient the local view
UMAP_DIMS = 64  # principal axes UMAP works on
PLACE_DIMS = 256  # principal axes on which the neighbour map places new vectors
NORM_STRATA = 10  # the sample takes each tenth of the tokens by norm in proportion
PLACE_NEIGHBOURS = 8  # fitted neighbours a placed vector is interpolated among
_PLACE_ROWS = 512  # rows placed at once: a [512, sample] float32 similarity is 123 MB
SQRT2 = np.sqrt(2.0)
NEIGHBOUR_MAP = "neighbour map: t-SNE of every dimension"


@dataclass(frozen=True)
class ProjectionSpec:
    """What to draw; with the matrix it fully determines the coordinates (seeds explicit)."""

    kind: Kind = "pca"
    centred: bool = True
    plane_tokens: tuple[int, int] | None = None
    seed: int = 0
    n_neighbors: int = 15
    centre: int | None = None  # local view: the token at the centre (None: a given vector)
    centre_name: str = ""  # local view: how the centre is shown in titles
    exact: bool = False  # UMAP, neighbour map: fit every token even past UMAP_SAMPLE

    def describe(self) -> str:
        if self.kind == "plane":
            return "token plane (polar: angle in the plane, radius = norm)"
        if self.kind == "local":
            return (
                f"local view centred on {self.centre_name or 'a vector'} "
                "(azimuthal equidistant: radius = angle to the centre, in degrees)"
            )
        directions = f"{'centred' if self.centred else 'uncentred'} directions"
        if self.kind == "neighbors":
            return f"{NEIGHBOUR_MAP} (positions of new vectors approximate), {directions}"
        base = "PCA-3 sphere" if self.kind == "pca" else "UMAP sphere"
        new = "" if self.kind == "pca" else " (positions of new vectors approximate)"
        return f"{base}{new}, {directions}, Hammer equal-area"


@dataclass
class Reducer:
    """The directions' top principal axes, on which UMAP fits and both it and the neighbour map
    place new vectors."""

    mean: np.ndarray  # [d]
    axes: np.ndarray  # [d, UMAP_DIMS], or [d, PLACE_DIMS] for the neighbour map

    def __call__(self, units: np.ndarray) -> np.ndarray:
        return _normalise((units - self.mean) @ self.axes)


@dataclass
class Projection:
    """A fitted projection: flat coordinates of every row, and how to place new vectors."""

    spec: ProjectionSpec
    coords: np.ndarray  # [V, 2] float32
    mean_direction: np.ndarray  # [d] unit-row mean of the fitted matrix (not normalised)
    _axes: np.ndarray | None = None  # PCA: [d, 3]; plane: [d, 2]
    _reducer: Reducer | None = field(default=None, repr=False)  # UMAP, neighbour map
    _fitted: np.ndarray | None = field(default=None, repr=False)  # their fitted rows, reduced
    # the fitted rows' places: UMAP's on the sphere [n, 3], the neighbour map's flat [n, 2]
    _xyz: np.ndarray | None = field(default=None, repr=False)
    _centre: np.ndarray | None = None  # local view: the unit centre direction [d]
    # another model's map (`other_map`): the fitted rows' own places, and whose `coords` are
    origin: np.ndarray | None = field(default=None, repr=False)
    other: str = ""

    def other_map(self, coords: np.ndarray, other: str) -> Projection:
        """This map drawing another model's places of the same tokens (`coords`: its aligned
        rows placed by this projection), so a region of one is the same region of the other.
        New vectors are still placed by this projection."""
        return replace(self, coords=coords, origin=self.own_coords, other=other)

    @property
    def own_coords(self) -> np.ndarray:
        """The fitted rows' places (`coords`, unless another model's map is drawn)."""
        return self.coords if self.origin is None else self.origin

    @property
    def shape(self) -> Shape:
        """How the flat coordinates read: a Hammer map of the sphere, a flat map without edges
        (the neighbour map), a plane, a local view."""
        kind = self.spec.kind
        return "flat" if kind == "neighbors" else kind if kind in ("plane", "local") else "map"

    @property
    def sampled(self) -> bool:
        """A UMAP sphere or neighbour map fitted on a sample (the others placed by neighbours)."""
        return self._fitted is not None and len(self._fitted) < len(self.coords)

    def describe(self) -> str:
        """The title line: what the map is, how approximate, and whose tokens it draws."""
        if not self.other:
            return self._describe_fit()
        return f"{self.other}'s tokens (aligned) on this model's {self._describe_fit()}"

    def _describe_fit(self) -> str:
        if self._fitted is None or not self.sampled:
            return self.spec.describe()
        fitted, total = len(self._fitted), len(self.coords)
        flat = self.spec.kind == "neighbors"
        return (
            f"{NEIGHBOUR_MAP if flat else 'UMAP sphere'}, approximate: fitted on {fitted:,} of "
            f"{total:,} tokens (stratified by norm), the rest placed by their nearest fitted "
            f"neighbours; {'centred' if self.spec.centred else 'uncentred'} directions"
            + ("" if flat else ", Hammer equal-area")
        )

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Flat coordinates of new vectors ([n, d] -> [n, 2]) in this projection."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        axes, centre = self._axes, self._centre
        if self.spec.kind == "plane" and axes is not None:
            return _polar(vectors @ axes, np.linalg.norm(vectors, axis=1))
        if self.spec.kind == "local" and axes is not None and centre is not None:
            return _azimuthal(_normalise(vectors), centre, axes)
        units = _directions(vectors, self.mean_direction if self.spec.centred else None)
        if self.spec.kind == "pca" and axes is not None:
            return _hammer(_normalise(units @ axes))
        reducer, fitted, xyz = self._reducer, self._fitted, self._xyz
        assert reducer is not None and fitted is not None and xyz is not None  # a layout's state
        if self.spec.kind == "neighbors":
            return _place(reducer(units), fitted, xyz)
        return _hammer(_normalise(_place(reducer(units), fitted, xyz)))

    def mean_marker(self) -> np.ndarray | None:
        """Where the common direction sits (uncentred maps only: centring removes it)."""
        if self.spec.kind in ("plane", "local") or self.spec.centred:
            return None
        return self.project(self.mean_direction[None])[0]


def fit_projection(
    matrix: Rows,
    spec: ProjectionSpec,
    task: Task | None = None,
    centre: np.ndarray | None = None,
) -> Projection:
    """Fit `spec` to the rows of `matrix` ([V, d]: float32, or a model's weights in their own
    dtype); a local view is centred on `centre` ([d], e.g. a noken) or else on the token
    `spec.centre`."""
    task = task or Task(what="the projection")
    task.report(0.02, f"projecting {len(matrix):,} tokens")
    norms, mean_direction = norms_and_mean(matrix)
    if spec.kind == "plane":
        axes = plane_axes(matrix, spec)
        plane = np.concatenate([b.cpu().numpy() @ axes for b in float_blocks(matrix)])
        return Projection(spec, _polar(plane, norms), mean_direction, axes)
    if spec.kind == "local":
        return _fit_local(matrix, spec, mean_direction, centre)
    mean = mean_direction if spec.centred else None
    total, moment = _moments(matrix, mean, task.scaled(0.1, 0.75 if spec.kind == "pca" else 0.12))
    if spec.kind == "pca":
        # Axes of the second moment about the origin, not about the mean: the sphere's centre is
        # the origin, so an uncentred vocabulary shows as the patch it really is.
        axes = _top_axes(moment, 3)
        if mean_direction @ axes[:, 0] < 0:  # put the common direction at the map's centre
            axes[:, 0] *= -1
        coords = _map_blocks(matrix, mean, lambda units: _hammer(_normalise(units @ axes)))
        task.report(1.0, "done")
        return Projection(spec, coords, mean_direction, axes)
    centroid = total / len(matrix)
    covariance = moment - len(matrix) * np.outer(centroid, centroid)
    dims = UMAP_DIMS if spec.kind == "umap" else PLACE_DIMS
    reducer = Reducer(centroid.astype(np.float32), _top_axes(covariance, dims))
    reduced = _map_blocks(matrix, mean, reducer)
    ids = np.arange(len(matrix))
    if not spec.exact and len(matrix) > UMAP_SAMPLE:
        ids = stratified_sample(norms, UMAP_SAMPLE, spec.seed)
    fit_share = 0.85 if len(ids) < len(matrix) else 1.0
    fit_task = task.scaled(0.15, 0.15 + 0.85 * fit_share)
    if spec.kind == "umap":
        layout = umap_sphere(reduced[ids], spec.seed, spec.n_neighbors, fit_task)
    else:
        start = reduced[ids][:, :2]  # the top two principal coordinates
        chosen = _rows_of(matrix, ids)
        layout = tsne_map(lambda: _direction_blocks(chosen, mean), start, spec.seed, fit_task)
    return _placed(spec, layout, ids, reduced, mean_direction, reducer, task)


def _rows_of(matrix: Rows, ids: np.ndarray) -> torch.Tensor:
    """The rows `ids` of `matrix`, in its own dtype (no copy when they are all of them)."""
    rows = as_rows(matrix)
    return rows if len(ids) == len(rows) else rows[torch.from_numpy(ids)]


def _placed(
    spec: ProjectionSpec,
    layout: np.ndarray,
    ids: np.ndarray,
    reduced: np.ndarray,
    mean_direction: np.ndarray,
    reducer: Reducer,
    task: Task,
) -> Projection:
    """Every row's place: the fitted rows (`ids`) where the layout put them, the others (a
    sample's rest) placed among their nearest fitted rows."""
    count, fitted = len(reduced), reduced[ids]
    places = np.empty((count, layout.shape[1]), dtype=np.float32)
    places[ids] = layout
    rest = np.setdiff1d(np.arange(count), ids)
    for start in range(0, len(rest), _PLACE_ROWS):
        task.report(0.15 + 0.85 * (0.85 + 0.15 * start / len(rest)), "placing the rest")
        chunk = rest[start : start + _PLACE_ROWS]
        places[chunk] = _place(reduced[chunk], fitted, layout)
    task.report(1.0, "done")
    coords = places if spec.kind == "neighbors" else _hammer(_normalise(places))
    return Projection(spec, coords, mean_direction, _reducer=reducer, _fitted=fitted, _xyz=layout)


def stratified_sample(norms: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` sorted ids, each tenth of the tokens by norm represented in proportion (so rare,
    small-norm tokens and large outliers are fitted too), fixed by `seed`."""
    rng = np.random.default_rng(seed)
    strata = np.array_split(np.argsort(norms, kind="stable"), NORM_STRATA)
    shares = [round(size * len(stratum) / len(norms)) for stratum in strata]
    picks = [rng.choice(s, n, replace=False) for s, n in zip(strata, shares, strict=True)]
    return np.sort(np.concatenate(picks))


def _fit_local(
    matrix: Rows,
    spec: ProjectionSpec,
    mean_direction: np.ndarray,
    centre: np.ndarray | None,
) -> Projection:
    rows = as_rows(matrix)
    if centre is None:
        if spec.centre is None or not 0 <= spec.centre < len(rows):
            raise NokenvizError("the local view needs a centre: select a token or make a noken")
        centre = rows[spec.centre].float().cpu().numpy()
    centre = np.asarray(centre, dtype=np.float32).reshape(-1)
    if centre.shape[0] != rows.shape[1] or not np.isfinite(centre).all():
        raise NokenvizError(f"the local view's centre must be a finite {rows.shape[1]}-vector")
    if np.linalg.norm(centre) < 1e-12:
        raise NokenvizError("the local view cannot be centred on a zero vector (no direction)")
    unit = centre / np.linalg.norm(centre)
    cosine = _map_blocks(matrix, None, lambda units: units @ unit)
    k = min(LOCAL_NEIGHBOURS, len(rows) - 1)
    nearest = np.argpartition(-cosine, k)[: k + 1]
    near_units = _normalise(rows[torch.from_numpy(nearest)].float().cpu().numpy())
    tangents = near_units - cosine[nearest, None] * unit
    axes = _top_axes(tangents.T @ tangents, 2)
    coords = _map_blocks(matrix, None, lambda units: _azimuthal(units, unit, axes))
    return Projection(spec, coords, mean_direction, axes, _centre=unit)


def _azimuthal(units: np.ndarray, centre: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Azimuthal equidistant coordinates: radius = angle to `centre` in degrees, direction =
    the tangent's direction in the plane of `axes` (both orthogonal to the centre)."""
    radius = np.degrees(np.arccos(np.clip(units @ centre, -1.0, 1.0)))
    plane = units @ axes
    angle = np.arctan2(plane[:, 1], plane[:, 0])
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)


def plane_axes(matrix: Rows, spec: ProjectionSpec) -> np.ndarray:
    """Orthonormal basis [d, 2] of the plane of two tokens (first axis along the first token)."""
    if spec.plane_tokens is None:
        raise NokenvizError("the token plane needs two tokens")
    rows = as_rows(matrix)
    a, b = (rows[i].float().cpu().numpy().astype(np.float64) for i in spec.plane_tokens)
    e1 = a / np.linalg.norm(a)
    rest = b - (b @ e1) * e1
    if np.linalg.norm(rest) < 1e-9 * np.linalg.norm(b):
        raise NokenvizError("the two tokens point the same way; pick two different directions")
    e2 = rest / np.linalg.norm(rest)
    return np.stack([e1, e2], axis=1).astype(np.float32)


def _direction_blocks(matrix: Rows, mean: np.ndarray | None) -> Iterator[np.ndarray]:
    """The rows' directions (unit rows; with `mean`, minus it and renormalised), a float32
    block at a time (normalised by torch: several times faster than numpy here)."""
    centre = None if mean is None else torch.from_numpy(mean)
    for block in float_blocks(matrix):
        units = F.normalize(block, dim=1)
        if centre is not None:
            units = F.normalize(units - centre.to(units.device), dim=1)
        yield units.cpu().numpy()


def _map_blocks(
    matrix: Rows, mean: np.ndarray | None, fn: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """`fn` of each block of the rows' directions, stacked: one pass over the matrix."""
    return np.concatenate([fn(units) for units in _direction_blocks(matrix, mean)])


def _moments(matrix: Rows, mean: np.ndarray | None, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Sum [d] and second moment about the origin [d, d] (float64) of the rows' directions."""
    d = matrix.shape[1]
    total, moment = np.zeros(d), np.zeros((d, d))
    done = 0
    for units in _direction_blocks(matrix, mean):
        task.report(done / len(matrix), f"principal axes of {len(matrix):,} directions")
        done += len(units)
        total += units.sum(axis=0)
        moment += units.T @ units  # numpy's float32 GEMM: twice torch's on these CPUs
    return total, moment


def _directions(vectors: np.ndarray, mean_direction: np.ndarray | None) -> np.ndarray:
    units = _normalise(vectors)
    return units if mean_direction is None else _normalise(units - mean_direction)


def _normalise(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _top_axes(moment: np.ndarray, k: int) -> np.ndarray:
    """The top-k eigenvectors [d, k] of a d x d second-moment matrix (at most d of them)."""
    _, vectors = np.linalg.eigh(moment.astype(np.float64))
    axes = vectors[:, ::-1][:, :k]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), range(axes.shape[1])])  # fixed orientation
    return (axes * signs).astype(np.float32)


def _hammer(xyz: np.ndarray) -> np.ndarray:
    """Unit 3-vectors -> Hammer equal-area map, x in [-2√2, 2√2], y in [-√2, √2]."""
    lon = np.arctan2(xyz[:, 1], xyz[:, 0])
    lat = np.arcsin(np.clip(xyz[:, 2], -1.0, 1.0))
    denom = np.sqrt(1.0 + np.cos(lat) * np.cos(lon / 2.0))
    x = 2.0 * SQRT2 * np.cos(lat) * np.sin(lon / 2.0) / denom
    y = SQRT2 * np.sin(lat) / denom
    return np.stack([x, y], axis=1).astype(np.float32)


def _polar(plane: np.ndarray, norms: np.ndarray) -> np.ndarray:
    angle = np.arctan2(plane[:, 1], plane[:, 0])
    return np.stack([norms * np.cos(angle), norms * np.sin(angle)], axis=1).astype(np.float32)


@torch.inference_mode()
def _place(reduced: np.ndarray, fitted: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Place directions (unit rows on the reducer's axes) among their nearest fitted rows,
    weighted by inverse angle, so a fitted direction lands where the fit put it. UMAP's places
    are averaged on the sphere (not the flat map, whose seam would split neighbours): the
    caller puts the mean back on the sphere."""
    k = min(PLACE_NEIGHBOURS, len(fitted))
    similarity = torch.from_numpy(reduced) @ torch.from_numpy(fitted).T
    cosines, nearest = torch.topk(similarity, k, dim=1)
    weights = 1.0 / (torch.arccos(cosines.clamp(-1.0, 1.0)) + 1e-3)
    weights /= weights.sum(dim=1, keepdim=True)
    return torch.einsum("nk,nkc->nc", weights, torch.from_numpy(places)[nearest]).numpy()

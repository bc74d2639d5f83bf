"""Token vectors as directions on a sphere, drawn flat.

Three projections, all from unit directions (norms are drawn separately, as colour):
- PCA sphere: the top three principal axes of the directions, renormalised onto the 2-sphere
  and drawn on a Hammer equal-area map. Exact and linear: any new vector lands exactly.
- UMAP sphere: umap-learn with `output_metric="haversine"`. New vectors are placed by
  interpolating among their nearest vocabulary neighbours: approximate, and said so.
- Token plane: the plane of two tokens (Gram-Schmidt), in polar form: angle in the plane,
  radius = the vector's true norm (seed 004). Exact.
- Local view: an azimuthal equidistant projection centred on one direction (a token or a noken):
  the radius is the exact angle to the centre, in degrees, so the k nearest tokens by cosine are
  exactly the k points closest to the centre on screen. The direction round the centre comes
  from a PCA of the nearest neighbours' tangent vectors, so the neighbourhood is spread out
  where it varies most. Global maps cannot keep every neighbourhood; this one keeps the one the
  user is looking at.

"Centred" subtracts the mean unit direction first: real vocabularies are anisotropic (the
default model's mean direction has norm 0.67) and an uncentred sphere crowds into one patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

Kind = Literal["pca", "umap", "plane", "local"]
LOCAL_NEIGHBOURS = 50  # the neighbours whose tangents orient the local view
SQRT2 = np.sqrt(2.0)


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

    def describe(self) -> str:
        if self.kind == "plane":
            return "token plane (polar: angle in the plane, radius = norm)"
        if self.kind == "local":
            return (
                f"local view centred on {self.centre_name or 'a vector'} "
                "(azimuthal equidistant: radius = angle to the centre, in degrees)"
            )
        base = (
            "PCA-3 sphere"
            if self.kind == "pca"
            else "UMAP sphere (positions of new vectors approximate)"
        )
        return f"{base}, {'centred' if self.centred else 'uncentred'} directions, Hammer equal-area"


@dataclass
class Projection:
    """A fitted projection: flat coordinates of every row, and how to place new vectors."""

    spec: ProjectionSpec
    coords: np.ndarray  # [V, 2] float32
    mean_direction: np.ndarray  # [d] unit-row mean of the fitted matrix (not normalised)
    _axes: np.ndarray | None = None  # PCA: [d, 3]; plane: [d, 2]
    _units: np.ndarray | None = field(default=None, repr=False)  # UMAP: fitted directions
    _xyz: np.ndarray | None = field(default=None, repr=False)  # UMAP: fitted points on the sphere
    _centre: np.ndarray | None = None  # local view: the unit centre direction [d]

    @property
    def shape(self) -> Literal["map", "plane", "local"]:
        """How the flat coordinates read: a Hammer map of the sphere, a plane, a local view."""
        return self.spec.kind if self.spec.kind in ("plane", "local") else "map"

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Flat coordinates of new vectors ([n, d] -> [n, 2]) in this projection."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if self.spec.kind == "plane":
            return _polar(vectors @ self._axes, np.linalg.norm(vectors, axis=1))
        if self.spec.kind == "local":
            return _azimuthal(_normalise(vectors), self._centre, self._axes)
        units = _directions(vectors, self.mean_direction if self.spec.centred else None)
        if self.spec.kind == "pca":
            return _hammer(_normalise(units @ self._axes))
        return _hammer(_interpolate(units, self._units, self._xyz))

    def mean_marker(self) -> np.ndarray | None:
        """Where the common direction sits (uncentred spheres only: centring removes it)."""
        if self.spec.kind in ("plane", "local") or self.spec.centred:
            return None
        return self.project(self.mean_direction[None])[0]


def fit_projection(
    matrix: np.ndarray,
    spec: ProjectionSpec,
    task: Task | None = None,
    centre: np.ndarray | None = None,
) -> Projection:
    """Fit `spec` to the rows of `matrix` ([V, d] float32); a local view is centred on
    `centre` ([d], e.g. a noken) or else on the token `spec.centre`."""
    task = task or Task(what="the projection")
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    units = matrix / np.maximum(norms, 1e-12)
    mean_direction = units.mean(axis=0)
    task.report(0.05, f"projecting {len(matrix):,} tokens")
    if spec.kind == "plane":
        axes = plane_axes(matrix, spec)
        coords = _polar(matrix @ axes, norms[:, 0])
        return Projection(spec, coords.astype(np.float32), mean_direction, axes)
    if spec.kind == "local":
        return _fit_local(units, spec, mean_direction, matrix, centre)
    if spec.centred:  # in place: this matrix is the largest thing the app holds besides the model
        units -= mean_direction
        units /= np.maximum(np.linalg.norm(units, axis=1, keepdims=True), 1e-12)
    if spec.kind == "pca":
        # Axes of the second moment about the origin, not about the mean: the sphere's centre is
        # the origin, so an uncentred vocabulary shows as the patch it really is.
        axes = _top_axes(units, 3)
        if mean_direction @ axes[:, 0] < 0:  # put the common direction at the map's centre
            axes[:, 0] *= -1
        coords = _hammer(_normalise(units @ axes))
        task.report(1.0, "done")
        return Projection(spec, coords, mean_direction, axes)
    from nokenviz.core.umap_sphere import umap_sphere

    xyz = umap_sphere(units, spec.seed, spec.n_neighbors, task)
    return Projection(spec, _hammer(xyz), mean_direction, _units=units, _xyz=xyz)


def _fit_local(
    units: np.ndarray,
    spec: ProjectionSpec,
    mean_direction: np.ndarray,
    matrix: np.ndarray,
    centre: np.ndarray | None,
) -> Projection:
    if centre is None:
        if spec.centre is None or not 0 <= spec.centre < len(units):
            raise NokenvizError("the local view needs a centre: select a token or make a noken")
        centre = matrix[spec.centre]
    centre = np.asarray(centre, dtype=np.float32).reshape(-1)
    if centre.shape[0] != units.shape[1] or not np.isfinite(centre).all():
        raise NokenvizError(f"the local view's centre must be a finite {units.shape[1]}-vector")
    if np.linalg.norm(centre) < 1e-12:
        raise NokenvizError("the local view cannot be centred on a zero vector (no direction)")
    unit = centre / np.linalg.norm(centre)
    cosine = units @ unit
    k = min(LOCAL_NEIGHBOURS, len(units) - 1)
    nearest = np.argpartition(-cosine, k)[: k + 1]
    tangents = units[nearest] - cosine[nearest, None] * unit
    axes = _top_axes(tangents, 2)
    coords = _azimuthal(units, unit, axes, cosine)
    return Projection(spec, coords, mean_direction, axes, _centre=unit)


def _azimuthal(
    units: np.ndarray, centre: np.ndarray, axes: np.ndarray, cosine: np.ndarray | None = None
) -> np.ndarray:
    """Azimuthal equidistant coordinates: radius = angle to `centre` in degrees, direction =
    the tangent's direction in the plane of `axes` (both orthogonal to the centre)."""
    cosine = units @ centre if cosine is None else cosine
    radius = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    plane = units @ axes
    angle = np.arctan2(plane[:, 1], plane[:, 0])
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)


def plane_axes(matrix: np.ndarray, spec: ProjectionSpec) -> np.ndarray:
    """Orthonormal basis [d, 2] of the plane of two tokens (first axis along the first token)."""
    if spec.plane_tokens is None:
        raise NokenvizError("the token plane needs two tokens")
    a, b = (matrix[i].astype(np.float64) for i in spec.plane_tokens)
    e1 = a / np.linalg.norm(a)
    rest = b - (b @ e1) * e1
    if np.linalg.norm(rest) < 1e-9 * np.linalg.norm(b):
        raise NokenvizError("the two tokens point the same way; pick two different directions")
    e2 = rest / np.linalg.norm(rest)
    return np.stack([e1, e2], axis=1).astype(np.float32)


def _directions(vectors: np.ndarray, mean_direction: np.ndarray | None) -> np.ndarray:
    units = _normalise(vectors)
    return units if mean_direction is None else _normalise(units - mean_direction)


def _normalise(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _top_axes(rows: np.ndarray, k: int) -> np.ndarray:
    """The top-k axes [d, k] of the d x d second-moment matrix (cheap: d << V)."""
    _, vectors = np.linalg.eigh((rows.T @ rows).astype(np.float64))
    axes = vectors[:, ::-1][:, :k]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), range(k)])  # deterministic orientation
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


def _interpolate(units: np.ndarray, fitted: np.ndarray, xyz: np.ndarray, k: int = 8) -> np.ndarray:
    """Place new directions among their k nearest fitted points, weighted by inverse angle, so
    a vocabulary direction lands where the fit put it. Averaged on the sphere (not the flat
    map) so the map's seam does not split neighbours."""
    similarity = units @ fitted.T
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    angles = np.arccos(np.clip(np.take_along_axis(similarity, nearest, axis=1), -1.0, 1.0))
    weights = 1.0 / (angles + 1e-3)
    weights /= weights.sum(axis=1, keepdims=True)
    return _normalise(np.einsum("nk,nkc->nc", weights, xyz[nearest]))

"""The aggregate posterior against the prior, on the latent map's plane.

The prior q(z) = N(0, I) (E2) seen through a linear projection stays a Gaussian: the plane's coordinates are
c = A z + b, so c ~ N(b, A A^T). Raw dims (i, j): A picks z_i and z_j, b = 0, so N(0, I_2). PCA:
c = (z - mean) @ components.T, A = components (orthonormal rows), b = -components @ mean, so
N(-components @ mean, components @ components.T = I_2). t-SNE and UMAP are no map of z: no prior there.

The aggregate posterior (the encodings of the data, sum_x p(z|x) / N) is read from the plotted points mu(x): a
Gaussian kernel density estimate on a regular grid (a 2-D histogram blurred by a separable Gaussian, bandwidth
by Scott's rule h_d = std_d * n^(-1/6)). It is the density of the means mu(x), each smoothed by the kernel,
not by its own sigma(x).

Both are drawn by the regions that hold a given mass ("50%, 90%, 99% of the mass"), so their contours mean the
same thing. For N(m, S) in 2-D the region of mass p is the Mahalanobis ball (c - m)^T S^-1 (c - m) <= r^2 with
r^2 = -2 ln(1 - p) (the squared radius is chi^2 with two degrees of freedom, an exponential of mean 2); its edge
is the density level exp(-r^2 / 2) / (2 pi sqrt(det S)). For the grid the same regions are the highest-density
regions: sort the cells by density and keep the densest until they hold p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASSES = (0.5, 0.9, 0.99)  # the contours drawn: the regions that hold these shares of the mass
GRID_BINS = 128            # cells per axis of the density grid
PAD_BANDWIDTHS = 4.0       # the grid reaches this many bandwidths beyond the outermost points


# ---------------------------------------------------------------- the prior on the plane

def prior_on_plane(projection) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean (2,) and covariance (2, 2) of the prior N(0, I) (E2) mapped into PROJECTION's plane (a
    training.analysis.latent.Projection); None for t-SNE and UMAP, which are no map of z."""
    if projection.method == "dims":
        return np.zeros(2), np.eye(2)
    if projection.linear:
        a = np.asarray(projection.components, dtype=np.float64).reshape(2, projection.z_dim)
        return -a @ np.asarray(projection.mean, dtype=np.float64), a @ a.T  # b and A I A^T
    return None


def mass_radius(p: float | np.ndarray) -> np.ndarray:
    """The Mahalanobis radius r of the 2-D Gaussian's region of mass p: r^2 = -2 ln(1 - p)."""
    return np.sqrt(-2.0 * np.log1p(-np.asarray(p, dtype=np.float64)))


def gaussian_levels(cov, masses=MASSES) -> np.ndarray:
    """The density levels of N(m, COV) in 2-D whose level sets enclose MASSES: exp(-r^2/2) / (2 pi sqrt(det S))."""
    r = mass_radius(masses)
    return np.exp(-0.5 * r**2) / (2 * np.pi * np.sqrt(np.linalg.det(np.asarray(cov, dtype=np.float64))))


def gaussian_density(points: np.ndarray, mean, cov) -> np.ndarray:
    """N(mean, cov) at points (M, 2)."""
    d = np.asarray(points, dtype=np.float64) - np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    m2 = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    return np.exp(-0.5 * m2) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))


# ---------------------------------------------------------------- the encodings' density on a grid

@dataclass(frozen=True)
class Density:
    """A density on a regular grid: ``density[r, c]`` at (xs[c], ys[r]), integrating to 1 over the grid."""

    xs: np.ndarray         # (nx,) increasing cell centres
    ys: np.ndarray         # (ny,) increasing cell centres
    density: np.ndarray    # (ny, nx)
    bandwidth: np.ndarray  # (2,) the kernel's standard deviation along x and y
    masses: tuple[float, ...]
    levels: np.ndarray     # density level of each mass's highest-density region

    @property
    def cell_area(self) -> float:
        return float((self.xs[1] - self.xs[0]) * (self.ys[1] - self.ys[0]))


def scott_bandwidth(coords: np.ndarray) -> np.ndarray:
    """Scott's rule in d = 2 dimensions: h_d = std_d * n^(-1/(d + 4)) = std_d * n^(-1/6), per axis. A flat axis
    (every point at one value, e.g. PC2 of a one-dimensional z) borrows a thousandth of the other's."""
    coords = np.asarray(coords, dtype=np.float64)
    std = coords.std(axis=0)
    floor = max(1e-3 * float(std.max()), 1e-6)
    return np.maximum(std, floor) * len(coords) ** (-1 / 6)


def _blur_matrix(centres: np.ndarray, h: float) -> np.ndarray:
    """K[a, b] = phi_h(centres[a] - centres[b]): the 1-D Gaussian kernel from cell b to cell a."""
    d = centres[:, None] - centres[None, :]
    return np.exp(-0.5 * (d / h) ** 2) / (np.sqrt(2 * np.pi) * h)


def hdr_levels(density: np.ndarray, cell_area: float, masses=MASSES) -> np.ndarray:
    """The density levels whose upper level sets {density >= level} hold MASSES of the grid's mass: sort the
    cells from the densest down and read the density where the running mass first reaches each p."""
    flat = np.sort(np.asarray(density, dtype=np.float64).ravel())[::-1]
    cum = np.cumsum(flat) * cell_area
    cum /= cum[-1]
    at = np.searchsorted(cum, np.asarray(masses, dtype=np.float64))
    return flat[np.minimum(at, len(flat) - 1)]


def kde_grid(coords: np.ndarray, masses=MASSES, bins: int = GRID_BINS,
             extent: tuple[float, float, float, float] | None = None) -> Density:
    """A Gaussian kernel density estimate of the points COORDS (N, 2) on a BINS x BINS grid, and the levels
    of its regions holding MASSES.

    f(c) = 1/N sum_n phi_hx(c_x - x_n) phi_hy(c_y - y_n), h by Scott's rule; each point is first counted in its
    grid cell (np.histogram2d), then the counts are blurred along x and along y (the kernel is a product), so
    the cost is that of one histogram and two (bins x bins) matrix products whatever N (200,000 points: well
    under a second). The grid spans the points (or EXTENT) and PAD_BANDWIDTHS bandwidths more on each side."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    if len(coords) < 2:
        raise ValueError("A density needs at least two points.")
    h = scott_bandwidth(coords)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    if extent is not None:
        lo, hi = np.minimum(lo, [extent[0], extent[2]]), np.maximum(hi, [extent[1], extent[3]])
    lo, hi = lo - PAD_BANDWIDTHS * h, hi + PAD_BANDWIDTHS * h
    counts, x_edges, y_edges = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins,
                                              range=[[lo[0], hi[0]], [lo[1], hi[1]]])  # counts[x, y]
    xs, ys = (x_edges[:-1] + x_edges[1:]) / 2, (y_edges[:-1] + y_edges[1:]) / 2
    density = _blur_matrix(ys, h[1]) @ counts.T @ _blur_matrix(xs, h[0]).T / len(coords)  # (ny, nx)
    area = (xs[1] - xs[0]) * (ys[1] - ys[0])
    density /= density.sum() * area  # the kernels' tails past the grid's edge (under 1e-4 at 4 h) are dropped
    masses = tuple(float(p) for p in masses)
    return Density(xs, ys, density, h, masses, hdr_levels(density, area, masses))


# ---------------------------------------------------------------- contour lines

def level_segments(values: np.ndarray, xs: np.ndarray, ys: np.ndarray, level: float) -> np.ndarray:
    """The line where VALUES (ny, nx), sampled at (xs[c], ys[r]), crosses LEVEL, by marching squares: (M, 2)
    points, two per segment, each pair followed by a row of NaN (a gap, so one line trace draws them all).

    Each grid square's edges are crossed where one corner is at or above the level and the other below, at the
    linearly interpolated point; a square has two crossings (one segment) or four (a saddle: two segments,
    paired by the value at its centre)."""
    v = np.asarray(values, dtype=np.float64)
    above = v >= level

    def crossings(a, b, pa, pb):  # points where the level falls between corner values a and b, at positions pa, pb
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip(np.nan_to_num((level - a) / (b - a)), 0.0, 1.0)
        return pa + t[..., None] * (pb - pa)

    gx, gy = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))
    pos = np.stack([gx, gy], axis=-1)  # (ny, nx, 2)
    c00, c01, c10, c11 = v[:-1, :-1], v[:-1, 1:], v[1:, :-1], v[1:, 1:]
    p00, p01, p10, p11 = pos[:-1, :-1], pos[:-1, 1:], pos[1:, :-1], pos[1:, 1:]
    a00, a01, a10, a11 = above[:-1, :-1], above[:-1, 1:], above[1:, :-1], above[1:, 1:]
    edges = [  # bottom, right, top, left: crossed?, where
        (a00 != a01, crossings(c00, c01, p00, p01)),
        (a01 != a11, crossings(c01, c11, p01, p11)),
        (a10 != a11, crossings(c10, c11, p10, p11)),
        (a00 != a10, crossings(c00, c10, p00, p10)),
    ]
    hit = np.stack([e[0] for e in edges], axis=-1)  # (ny-1, nx-1, 4)
    where = np.stack([e[1] for e in edges], axis=-2)  # (ny-1, nx-1, 4, 2)
    n_hit = hit.sum(axis=-1)
    pieces = []
    two = n_hit == 2
    if two.any():
        first = np.argmax(hit[two], axis=-1)
        second = 3 - np.argmax(hit[two][:, ::-1], axis=-1)
        rows = np.arange(int(two.sum()))
        pieces.append(np.stack([where[two][rows, first], where[two][rows, second]], axis=1))
    four = n_hit == 4
    if four.any():
        w = where[four]
        centre_above = (c00 + c01 + c10 + c11)[four] / 4 >= level
        corner_above = a00[four]  # the corner between the bottom and left edges
        join = (centre_above == corner_above)[:, None, None]  # the centre joins that corner to its opposite
        pieces.append(np.where(join, w[:, [0, 1]], w[:, [0, 3]]))
        pieces.append(np.where(join, w[:, [2, 3]], w[:, [2, 1]]))
    if not pieces:
        return np.zeros((0, 2))
    segments = np.concatenate(pieces)  # (S, 2 ends, 2)
    gaps = np.full((len(segments), 1, 2), np.nan)
    return np.concatenate([segments, gaps], axis=1).reshape(-1, 2)

"""The traversal grid: one row per latent dimension, that coordinate stepped from -3 to +3, the others at z.

Pure functions (arrays in, arrays or an HTML string out), so they are tested without a browser. The grid is
drawn as an HTML table: each row is labelled with the dimension as the sliders name it (index, the factor it
tracks, its KL) and each column with the coordinate's value; the tiles are one PNG inside the page (a ``data:``
address, nothing fetched) spanning the rows, scaled up by the browser with square pixels.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np

from explorer.figures import images
from training.vae import latent_space

SPAN = 3.0  # the coordinate runs from -SPAN to +SPAN: the prior's +-3 sigma


def values(n: int) -> np.ndarray:
    """The n values of the traversed coordinate, -SPAN..+SPAN."""
    return np.linspace(-SPAN, SPAN, n)


def tiles(decode_mean: Callable[[np.ndarray], np.ndarray], z0: Sequence[float], dims: Sequence[int],
          n: int) -> np.ndarray:
    """Decoded traversals (len(dims), n, H, W, C) in [0, 1]; ``decode_mean`` maps (N, Z) to (N, C, H, W)."""
    z = latent_space.traversal_latents(np.asarray(z0, np.float32), list(dims), values(n))  # (rows, n, Z)
    decoded = np.asarray(decode_mean(z.reshape(-1, z.shape[-1])))                           # (rows * n, C, H, W)
    _, c, h, w = decoded.shape
    return decoded.transpose(0, 2, 3, 1).reshape(len(dims), n, h, w, c)                    # (rows, n, H, W, C)


def tiles_along(decode_mean: Callable[[np.ndarray], np.ndarray], z0: Sequence[float], vectors: np.ndarray,
                ts: np.ndarray) -> np.ndarray:
    """Decoded rows along directions (len(vectors), len(ts), H, W, C): row r is z0 + t vectors[r] for each t
    (training/analysis/directions.py ``along``)."""
    from training.analysis.directions import along

    z = np.stack([along(z0, v, ts) for v in np.asarray(vectors, np.float32)])              # (rows, n, Z)
    decoded = np.asarray(decode_mean(z.reshape(-1, z.shape[-1])))
    _, c, h, w = decoded.shape
    return decoded.transpose(0, 2, 3, 1).reshape(len(z), len(ts), h, w, c)


def grid_image(tiles_: np.ndarray) -> np.ndarray:
    """The tiles as one image (for the PNG download), rows by dimension, one pixel of grey between tiles."""
    rows, n = tiles_.shape[:2]
    return images.image_grid(tiles_.reshape(rows * n, *tiles_.shape[2:]), ncols=n, pad=1)


def value_label(v: float) -> str:
    """A column's value as the sliders write it: '−3', '−0.75', '0', '+1.5'."""
    v = 0.0 if abs(v) < 1e-9 else float(v)
    text = f"{abs(v):.2f}".rstrip("0").rstrip(".")
    return "0" if v == 0 else ("+" if v > 0 else "\u2212") + text


DIM_TOWARD = images.DEFAULT_PAD_VALUE  # an unused dimension's row: its tiles faded toward the grid's grey
DIM_KEEP = 0.45  # ... keeping this much of their contrast (the row's label is dimmed as much, by opacity)


def grid_strip(tiles_: np.ndarray, inactive: Sequence[bool]) -> np.ndarray:
    """The whole grid as one uint8 image: rows by dimension, a grey pixel below and after each tile, the rows of
    unused dimensions faded toward the grey."""
    rows, n = tiles_.shape[:2]
    faded = np.asarray(tiles_, np.float32).copy()
    off = np.asarray(inactive, bool)
    faded[off] = DIM_TOWARD + DIM_KEEP * (faded[off] - DIM_TOWARD)
    return images.to_uint8(images.image_grid(faded.reshape(rows * n, *tiles_.shape[2:]), ncols=n, pad=1)[1:, 1:])


def grid_html(tiles_: np.ndarray, row_labels: Sequence[str], inactive: Sequence[bool], corner: str,
              tile_px: int, column_values: Sequence[float] | None = None) -> str:
    """An HTML table of the tiles: a header of values, one labelled row per dimension; inactive rows dimmed.
    The tiles are ONE image (grid_strip, a fast lossless PNG inside the page), spanning every row and value
    column, each tile ``tile_px`` wide, so the values sit over their tiles and each label beside its row: the
    browser decodes and lays out one picture per change, not one per row. ``corner`` names the header row;
    COLUMN_VALUES are the header's values (the coordinate's -3..+3 by default; t or c along a direction)."""
    rows, n, h, w = tiles_.shape[:4]
    esc = html.escape
    columns = values(n) if column_values is None else column_values
    row_px = tile_px * (h + 1) / (w + 1)  # one tile and its grey pixel, as drawn
    head = "".join(f'<th class="v" style="width:{tile_px}px">{esc(value_label(v))}</th>' for v in columns)
    uri = images.png_data_uri(grid_strip(tiles_, inactive), images.FASTEST)
    picture = (f'<td colspan="{n}" rowspan="{rows}"><img src="{uri}" width="{n * tile_px}" '
               f'height="{rows * row_px:.0f}" alt="{esc("; ".join(row_labels))}"></td>')
    body = [f'<tr class="{"off" if inactive[r] else ""}">'
            f'<th class="d" scope="row">{esc(row_labels[r])}</th>{picture if r == 0 else ""}</tr>' for r in range(rows)]
    style = ("<style>.traversal{border-collapse:collapse;font-size:13px;line-height:1.1;table-layout:fixed}"
             ".traversal td{padding:0;vertical-align:top}.traversal img{display:block;image-rendering:pixelated}"
             ".traversal th{font-weight:400;white-space:nowrap;padding:0 8px 0 0;text-align:right;"
             "font-variant-numeric:tabular-nums}"
             ".traversal th.v{text-align:center;padding:0 0 3px 0;font-size:12px;opacity:.75}"
             ".traversal tr.off th{opacity:.45}"
             f".traversal tbody tr{{height:{row_px:.2f}px}}</style>")
    return (f'{style}<table class="traversal"><thead><tr><th class="corner">{esc(corner)}</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')

"""The latent map's hover thumbnails (explorer/widgets/map_thumbs/__init__.py): the atlas's size is chosen from its
budget before anything is drawn, and tile i of the atlas is test image i."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from explorer.widgets import map_thumbs


def test_the_tile_side_keeps_the_atlas_under_its_budget():
    assert map_thumbs.tile_side(10_000, (1, 28, 28)) == 28  # MNIST's test set at full size: 7.8 MB
    cifar = map_thumbs.tile_side(10_000, (3, 32, 32))
    assert cifar < 32 and 10_000 * 3 * cifar**2 <= map_thumbs.ATLAS_MAX_BYTES < 10_000 * 3 * (cifar + 1) ** 2
    assert map_thumbs.tile_side(10**7, (3, 256, 256)) == 4  # never below 4 px
    assert map_thumbs.tile_side(5, (1, 8, 8)) == 8  # never above the images' own size


def test_tile_i_of_the_atlas_is_image_i():
    x = torch.rand(11, 1, 6, 6)
    png, cols = map_thumbs.atlas(x, 6)
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    assert cols == 4 and sheet.shape == (3 * 6, 4 * 6)  # ceil(sqrt(11)) columns, 3 rows, gray
    expected = (x[:, 0].numpy() * 255 + 0.5).astype(np.uint8)
    for i in range(11):
        r, c = divmod(i, cols)
        np.testing.assert_array_equal(sheet[r * 6:(r + 1) * 6, c * 6:(c + 1) * 6], expected[i])
    assert (sheet[12:, 18:] == 0).all()  # the unused 12th cell is blank


def test_colour_images_shrink_by_area_averaging():
    x = torch.zeros(2, 3, 4, 4)
    x[1, 0] = 1.0  # all red
    x[0, :, :2, :2] = 1.0  # a white quarter: its 2x2 average is white in the top-left pixel
    png, cols = map_thumbs.atlas(x, 2)
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    assert sheet.shape == (2, 4, 3) and cols == 2
    assert sheet[0, 0].tolist() == [255, 255, 255] and sheet[1, 1].tolist() == [0, 0, 0]
    assert sheet[0, 2].tolist() == [255, 0, 0]

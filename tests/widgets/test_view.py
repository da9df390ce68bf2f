import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from workbench.widgets.view import png_bytes


def test_png_bytes_decodes_to_the_same_pixels():
    rgba = np.random.default_rng(0).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    img = Image.open(io.BytesIO(png_bytes(rgba)))
    assert img.mode == "RGBA" and img.size == (53, 37)
    assert_array_equal(np.asarray(img), rgba)


def test_png_bytes_names_a_wrong_shape():
    with pytest.raises(ValueError, match=r"RGBA array \(row, col, 4\); got shape \(4, 4, 3\)"):
        png_bytes(np.zeros((4, 4, 3), np.uint8))

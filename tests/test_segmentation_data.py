"""The background variants' digit masks (`sdae_tf.data.segmentation`): read off the variant's
own construction, aligned with the classification variant's images and splits."""

import numpy as np
import pytest

from sdae_tf.data import load_mnist, mnist, segmentation


@pytest.mark.slow  # builds rot and bg-rand-rot (about 40 s each on 2 cores); bg-rand's masks
@pytest.mark.parametrize("variant", ["bg_rand_rot"])  # are MNIST's own (the same code path)
def test_masks_mark_the_pixels_the_fill_did_not_replace(variant):
    seg = segmentation.load_digit_masks(variant, seed=0)
    cls = load_mnist(variant, seed=0)
    np.testing.assert_array_equal(seg.x_train, cls.x_train)  # same images, same split
    np.testing.assert_array_equal(seg.x_test, cls.x_test)
    assert seg.y_train.shape == seg.x_train.shape and seg.num_classes == 2
    assert set(np.unique(seg.y_test)) == {0.0, 1.0}
    share = seg.y_test.mean()
    assert 0.08 < share < 0.25, share  # MNIST digits cover about an eighth to a fifth
    # Before the fill: the digit's pixels are the variant's pixels there (unreplaced); the
    # fill's noise lies outside the (thresholded) digit.
    x, _, _, _ = mnist.load_variant_arrays(variant, seed=0)
    before, _, _, _ = mnist.load_variant_arrays(segmentation.SEGMENTED[variant], seed=0)
    digit = before[:200] >= segmentation.THRESHOLD
    np.testing.assert_array_equal(x[:200][digit], before[:200][digit])
    replaced = before[:200] == 0
    assert (x[:200][replaced] != 0).mean() > 0.99  # uniform noise, rarely 0
    # The faint outline (1..63 before the fill) is kept by the fill and counted as background.
    faint = (before[:200] > 0) & ~digit
    np.testing.assert_array_equal(x[:200][faint], before[:200][faint])


def test_a_variant_without_background_has_no_masks():
    with pytest.raises(ValueError, match="'rot' has no digit masks .*bg_rand, bg_rand_rot"):
        segmentation.load_digit_masks("rot")

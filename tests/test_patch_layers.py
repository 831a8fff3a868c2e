"""The masked autoencoder's layers (`sdae_tf.layers.patches`): exact patch round trips, the
masking's statistics and seeding, mask tokens in the right places, the loss on hidden parts
only, bad input, config and `.keras` round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import sdae_tf
from sdae_tf import models
from sdae_tf.hub import export as export_lib
from sdae_tf.layers import patches

from .layer_round_trip import assert_config_round_trip, assert_keras_file_round_trip

SHIPPED_CDAE = "cdae_mnist"  # a shipped export without the `inpaint` endpoint


def test_patchify_then_unpatchify_is_the_identity_and_patches_are_row_major():
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 2)).astype("float32")
    tokens = patches.Patchify(4)(x)
    assert tokens.shape == (3, 49, 32)
    # Token 1 is the patch at row 0, column 4..7 (channels last within the patch).
    np.testing.assert_array_equal(np.asarray(tokens)[:, 1], x[:, 0:4, 4:8, :].reshape(3, -1))
    np.testing.assert_array_equal(np.asarray(patches.Unpatchify(4, (28, 28, 2))(tokens)), x)


def test_sincos_embedding_is_distinct_per_position_and_bounded():
    table = patches.sincos_2d(7, 7, 64)
    assert table.shape == (49, 64) and np.abs(table).max() <= 1.0
    distances = np.linalg.norm(table[:, None] - table[None], axis=-1)
    assert np.all(distances[~np.eye(49, dtype=bool)] > 0.1)
    with pytest.raises(ValueError, match="multiple of 4"):
        patches.sincos_2d(7, 7, 30)


def test_token_masking_keeps_a_quarter_fresh_per_example_and_seeded():
    tokens = np.arange(2 * 49 * 3, dtype="float32").reshape(2, 49, 3)
    layer = patches.RandomTokenMasking(0.75, seed=1)
    visible, restore, mask = (np.asarray(t) for t in layer(tokens))
    assert visible.shape == (2, 12, 3) and mask.shape == (2, 49)
    assert mask.sum(axis=1).tolist() == [37, 37]
    for b in range(2):  # the visible tokens are the unmasked ones, in the shuffled order
        kept = sorted(visible[b, :, 0].tolist())
        assert kept == sorted(tokens[b, mask[b] == 0, 0].tolist())
    assert not np.array_equal(mask[0], mask[1])  # a fresh subset per example
    again = [np.asarray(t) for t in patches.RandomTokenMasking(0.75, seed=1)(tokens)]
    np.testing.assert_array_equal(again[2], mask)  # same seed, same masks
    # restore orders visible + hidden back: position t of the result came from token t.
    full = np.concatenate([visible, np.full((2, 37, 3), -1.0, "float32")], axis=1)
    back = np.take_along_axis(full, restore[:, :, None], axis=1)
    np.testing.assert_array_equal(back[mask == 0], tokens[mask == 0])
    assert np.all(back[mask == 1] == -1.0)


def test_mask_tokens_fill_the_hidden_positions():
    tokens = np.random.default_rng(1).normal(size=(2, 16, 8)).astype("float32")
    visible, restore, mask = patches.RandomTokenMasking(0.5, seed=0)(tokens)
    inserted = patches.InsertMaskTokens()
    full = np.asarray(inserted([visible, restore]))
    token = np.asarray(inserted.mask_token)[0, 0]
    np.testing.assert_allclose(full[np.asarray(mask) == 0], tokens[np.asarray(mask) == 0])
    np.testing.assert_allclose(full[np.asarray(mask) == 1], np.broadcast_to(token, (16, 8)))


def test_the_loss_counts_the_hidden_parts_only():
    target = tf.constant(np.random.default_rng(2).uniform(size=(4, 10, 6)).astype("float32"))
    prediction = tf.Variable(tf.zeros_like(target))
    mask = tf.constant((np.arange(10) < 3).astype("float32")[None].repeat(4, 0))
    with tf.GradientTape() as tape:
        out = patches.MaskedBlend()([prediction, target, mask])
        loss = tf.reduce_mean((out - target) ** 2)
    grad = tape.gradient(loss, prediction).numpy()
    assert np.all(grad[:, 3:] == 0) and np.all(grad[:, :3] != 0)
    hidden = np.mean(target.numpy()[:, :3] ** 2)
    np.testing.assert_allclose(loss.numpy(), hidden * 0.3, rtol=1e-5)


def test_pixel_mask_hides_the_share_of_pixels_across_channels():
    x = np.ones((8, 28, 28, 3), "float32")
    hidden, mask = (np.asarray(t) for t in patches.RandomPixelMask(0.75, seed=0)(x))
    assert mask.shape == (8, 28, 28, 1) and abs(mask.mean() - 0.75) < 0.02
    np.testing.assert_array_equal(hidden, x * (1 - mask))


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_ratio": 0.0}, r"`mask_ratio` must be in \(0, 1\)"),
    ({"mask_ratio": 1.0}, r"`mask_ratio` must be in \(0, 1\)"),
    ({"patch_size": 5}, "`patch_size` must divide the image's height and width"),
    ({"mask_unit": "row"}, "`mask_unit` must be one of patch, pixel"),
    ({"width": 30}, "`width` must be a multiple of 4"),
])
def test_bad_masked_autoencoder_settings_are_one_line_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.get("mae_mnist", **kwargs)


def test_config_and_keras_file_round_trips(tmp_path):
    for layer in (patches.Patchify(4), patches.Unpatchify(4, (8, 8, 1)),
                  patches.AddPositionEmbedding((2, 2)), patches.InsertMaskTokens(),
                  patches.RandomTokenMasking(0.5, seed=3), patches.MaskedBlend(),
                  patches.RandomPixelMask(0.25, seed=4)):
        assert_config_round_trip(layer)
    images = keras.Input((8, 8, 1))
    tokens = patches.AddPositionEmbedding((2, 2))(
        keras.layers.Dense(8)(patches.Patchify(4)(images)))
    outputs = patches.Unpatchify(4, (8, 8, 1))(keras.layers.Dense(16)(tokens))
    model = keras.Model(images, outputs)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    assert_keras_file_round_trip(model, x, tmp_path / "p.keras", patches.AddPositionEmbedding)


def test_mae_inpainting_sees_the_visible_patches_only():
    from sdae_tf.evaluation import unsupervised

    model = models.get("mae_mnist", seed=0, patch_size=4, width=32, depth=1, heads=4,
                       decoder_width=32, decoder_depth=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(4, 28, 28, 1)).astype("float32")
    tokens, pixels = unsupervised.patch_mask(x.shape, 4, 0.75, np.random.default_rng(1))
    assert tokens.shape == (4, 49) and tokens.sum(axis=1).tolist() == [37.0] * 4
    np.testing.assert_array_equal(pixels[:, :4, :4, 0], np.broadcast_to(
        tokens[:, :1, None], (4, 4, 4)))
    out = model.inpaint(x, tokens)
    changed = np.where(pixels == 1, rng.uniform(size=x.shape), x).astype("float32")
    np.testing.assert_allclose(model.inpaint(changed, tokens), out, atol=1e-5)
    other = np.where(pixels == 0, 1.0 - x, x).astype("float32")  # the visible ones changed
    assert np.abs(model.inpaint(other, tokens) - out).max() > 1e-3
    uneven = np.zeros((4, 49), "float32")
    uneven[np.arange(4), np.arange(4)] = 1.0
    uneven[0, 10] = 1.0
    with pytest.raises(ValueError, match="same number of patches"):
        model.inpaint(x, uneven)
    with pytest.raises(ValueError, match="0 \\(visible\\) or 1 \\(hidden\\) only"):
        model.inpaint(x, 2.0 * tokens)
    with pytest.raises(ValueError, match=r"must be \(batch, 49\)"):
        model.inpaint(x, tokens[:, :48])


def test_the_decoder_holds_the_mask_token_so_exports_keep_inpainting(tmp_path):
    small = dict(patch_size=4, width=32, depth=1, heads=4, decoder_width=32, decoder_depth=1)
    model = models.get("mae_mnist", seed=0, **small)
    token = model.mask_tokens.mask_token
    assert any(v is token for v in model.decoder.variables)
    token.assign(np.full(token.shape, 0.7, "float32"))  # as training would move it
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    from sdae_tf.evaluation import unsupervised

    hidden, _ = unsupervised.patch_mask(x.shape, 4, 0.75, np.random.default_rng(1))
    want = model.inpaint(x, hidden)
    path = model.export(tmp_path / "mae", check_sample=x)
    again = models.from_preset(path)
    np.testing.assert_allclose(again.inpaint(x, hidden), want, atol=1e-5)
    # The SavedModel's own `inpaint` endpoint, checked at export, and as a Keras layer.
    manifest = export_lib.load_manifest(path)
    assert manifest["export_check"]["inpaint_max_abs_diff"] <= 1e-4
    assert [i["shape"] for i in manifest["extra_endpoints"]["inpaint"]["inputs"]] == [
        [28, 28, 1], [49]]
    reloaded = tf.saved_model.load(str(path))
    np.testing.assert_allclose(reloaded.inpaint(x, hidden).numpy(), want, atol=1e-5)
    layer = sdae_tf.inpainter(path)
    assert layer.patches == 49 and layer.patch_size == 4
    np.testing.assert_allclose(np.asarray(layer([x, hidden])), want, atol=1e-5)
    fewer = np.zeros_like(hidden)
    fewer[:, :7] = 1.0  # another number hidden: the count is read from the mask
    np.testing.assert_allclose(np.asarray(layer([x, fewer])),
                               model.inpaint(x, fewer), atol=1e-5)
    with pytest.raises(ValueError, match="same number of patches"):
        layer([x, np.eye(3, 49, k=10, dtype="float32") * [[1], [1], [0]] + fewer])
    with pytest.raises(ValueError, match="expects values in"):
        layer([x * 255.0, hidden])
    with pytest.raises(ValueError, match="has no 'inpaint' endpoint"):
        sdae_tf.inpainter(SHIPPED_CDAE)
    # Its manifest says the whole-image reconstruction is no denoiser, and what to use.
    assert manifest["denoiser"]["use_instead"]["endpoint"] == "inpaint"
    with pytest.raises(ValueError, match="not a denoiser: a masked autoencoder.*sdae_tf.inpainter"):
        sdae_tf.denoiser(path)

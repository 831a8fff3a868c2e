"""The RawPixels family: its model (`raw_pixels.py`) and its named presets
(`raw_pixels_presets.py`, registered on import)."""

from sdae_tf.zoo.raw_pixels import raw_pixels_presets  # noqa: F401  (registers them)
from sdae_tf.zoo.raw_pixels.raw_pixels import RawPixels

__all__ = ['RawPixels']

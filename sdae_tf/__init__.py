"""sdae_tf: stacked denoising autoencoders in Keras 3 / TensorFlow with exportable encoders."""

__version__ = "0.1.0"

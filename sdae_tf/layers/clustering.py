"""DEC's clustering layer: a soft assignment of codes to learned cluster centres."""

import keras
from keras import ops

from sdae_tf.layers.noise import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClusteringLayer(keras.layers.Layer):
    """Soft assignment of each code to `n_clusters` centres by Student's t kernel (DEC, Xie
    et al. 2016, eq. 1): `q_ij ∝ (1 + |z_i - mu_j|^2 / alpha) ^ (-(alpha + 1) / 2)`, each row
    normalised to sum to 1. The centres are the layer's one weight, `(n_clusters, code size)`
    (DEC initialises them by k-means on the codes: `set_centres`).

    Args:
        n_clusters: the number of clusters, an integer >= 2.
        alpha: the Student's t degrees of freedom, > 0 (DEC: 1).

    Example:

    ```python
    layer = sdae_tf.layers.ClusteringLayer(3)
    q = layer(np.zeros((4, 10), "float32"))  # (4, 3), rows sum to 1
    ```
    """

    def __init__(self, n_clusters, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 2:
            raise ValueError(f"`n_clusters` must be an integer >= 2. Received: "
                             f"n_clusters={n_clusters!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
            raise ValueError(f"`alpha` must be a number > 0. Received: alpha={alpha!r}")
        self.n_clusters = n_clusters
        self.alpha = float(alpha)
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        self.centres = self.add_weight(shape=(self.n_clusters, input_shape[-1]),
                                       initializer="glorot_uniform", name="centres")

    def set_centres(self, centres):
        """Sets the centres (an array `(n_clusters, code size)`), e.g. k-means'."""
        self.centres.assign(ops.convert_to_tensor(centres, dtype=self.centres.dtype))

    def call(self, inputs):
        z = ops.cast(inputs, self.compute_dtype)
        distance = ops.sum(ops.square(ops.expand_dims(z, 1) - self.centres), axis=2)
        q = ops.power(1.0 + distance / self.alpha, -(self.alpha + 1.0) / 2.0)
        return q / ops.sum(q, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    def get_config(self):
        return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}

"""A scikit-learn interface: a zoo model's unsupervised pretraining as a transformer.

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sdae_tf.integrations.sklearn import SDAETransformer

    pipe = Pipeline([("sdae", SDAETransformer("sdae_mnist", hidden_units=(256, 64))),
                     ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(x_train, y_train).score(x_test, y_test)

    SDAETransformer.from_pretrained("sdae_mnist")   # a shipped encoder, no training

`fit(X)` builds the zoo model through the public API (`sdae_tf.models.get`, kept as
`model_`) and runs its `pretrain`, the same greedy layer-wise stages as `sdae-train`, with the
CLI's defaults (2 epochs per block, Adam 1e-3, cosine), on the images `X` (labels are
ignored: it is unsupervised); `transform(X)` returns the embeddings, flattened to
`(n_samples, embedding_size)`. `X` is any array of shape `(n_samples, *input_shape)`: images
`(n, 28, 28, 1)` or flat rows `(n, 784)` for a dense model.

Fitted transformers hold Keras models: they are not picklable (the project uses no pickle);
save the fitted model with `transformer.model_.save("model.keras")` or `model_.export(path)`.
"""

import contextlib
import io

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sdae_tf.utils import checks


class SDAETransformer(TransformerMixin, BaseEstimator):
    """A zoo model's layer-wise pretrained encoder as a scikit-learn transformer.

    Args:
        model: zoo model name (`sdae-models`, `sdae_tf.zoo.REGISTRY`), e.g. "sdae_mnist".
        hidden_units: encoder widths (None: the zoo entry's).
        noise_type, noise_level: the corruption (None: the zoo entry's).
        recon_loss: "bce" or "mse" (None: the entry's).
        pretrain_epochs, pretrain_learning_rate, batch_size, lr_schedule, weight_decay: the
            pretraining recipe, as the `sdae-train` flags of the same names.
        seed: weights, noise and shuffling; same seed, same embeddings.
        pretrained: a shipped model's name or an export path: `fit` trains nothing and
            `transform` runs that encoder (see `from_pretrained`).
        verbose: Keras' fit verbosity (0: silent).

    Example:

    ```python
    from sdae_tf.integrations.sklearn import SDAETransformer
    digits = sdae_tf.data.load_digits()
    est = SDAETransformer("sdae_mnist", hidden_units=(32, 16), pretrain_epochs=1)
    codes = est.fit(digits.x_train[:200]).transform(digits.x_test[:10])  # (10, 16)
    ```
    """

    def __init__(self, model="sdae_mnist", hidden_units=None, noise_type=None,
                 noise_level=None, recon_loss=None, pretrain_epochs=2,
                 pretrain_learning_rate=1e-3, batch_size=128, lr_schedule="cosine",
                 weight_decay=0.0, seed=0, pretrained=None, verbose=0):
        self.model = model
        self.hidden_units = hidden_units
        self.noise_type = noise_type
        self.noise_level = noise_level
        self.recon_loss = recon_loss
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.batch_size = batch_size
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.seed = seed
        self.pretrained = pretrained
        self.verbose = verbose

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs):
        """A transformer on an exported encoder (a shipped name or a path): no training; `fit`
        only checks `X` against the encoder's input contract."""
        return cls(pretrained=str(name_or_path), **kwargs)

    def _config(self, n_samples):
        from sdae_tf.runner import config as config_lib

        cfg = config_lib.TrainConfig(
            model=self.model, model_config={
                "hidden_units": None if self.hidden_units is None else tuple(self.hidden_units),
                "noise_type": self.noise_type, "noise_level": self.noise_level,
                "recon_loss": self.recon_loss},
            pretrain_epochs=self.pretrain_epochs,
            pretrain_learning_rate=self.pretrain_learning_rate,
            batch_size=min(checks.positive_int(self.batch_size, "batch_size"), n_samples),
            lr_schedule=self.lr_schedule,
            weight_decay=self.weight_decay, seed=self.seed, finetune_epochs=0, verbose=0)
        return cfg

    def _check_input(self, X, reset):
        if not reset:
            X = check_array(X, allow_nd=True, dtype=np.float32)
            # Rows against rows is scikit-learn's own check (its message); images are ours.
            if (X.ndim > 2 or len(self.input_shape_) > 1) and \
                    tuple(X.shape[1:]) != self.input_shape_:
                raise ValueError(f"X has examples of shape {tuple(X.shape[1:])}; this "
                                 f"{type(self).__name__} was fitted on examples of shape "
                                 f"{self.input_shape_}: reshape X to "
                                 f"(-1, {', '.join(map(str, self.input_shape_))})")
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32,
                          ensure_min_samples=1)
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
        return X

    def fit(self, X, y=None):
        """Pretrains the zoo model layer-wise on `X` (labels, if given, are not used)."""
        X = self._check_input(X, reset=True)
        if self.pretrained is not None:
            from sdae_tf.hub import pretrained

            self.encoder_ = pretrained.feature_extractor(self.pretrained)
            self.encoder_.contract.check_shape((None, *self.input_shape_), "pretrained encoder")
            self.history_ = []
            return self
        import keras

        from sdae_tf import zoo
        from sdae_tf.runner import config as config_lib
        from sdae_tf.runner import validation as validation_lib

        cfg = self._config(len(X))
        validation_lib.check_config(cfg)
        if not zoo.REGISTRY.get(cfg.model).layerwise_pretraining:
            raise ValueError(f"{cfg.model} has no unsupervised pretraining to fit; choose a "
                             "model with a decoder (sdae_mnist, cdae_mnist, vae_mnist, ...)")
        keras.utils.set_random_seed(cfg.seed)
        model = config_lib.build_model(cfg, self.input_shape_)  # the public API's model
        with contextlib.redirect_stdout(io.StringIO()) if not self.verbose \
                else contextlib.nullcontext():
            histories = model.pretrain(
                X, epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size,
                learning_rate=cfg.pretrain_learning_rate, lr_schedule=cfg.lr_schedule,
                weight_decay=cfg.weight_decay, seed=cfg.seed, verbose=self.verbose,
                validation_data=X[:1024])  # logged after every epoch; selects nothing
        self.history_ = [h.history for h in histories]
        self.model_ = model
        self.encoder_ = model.encoder
        return self

    def transform(self, X):
        """The embeddings of `X`, shape `(n_samples, embedding_size)`."""
        check_is_fitted(self, "encoder_")
        X = self._check_input(X, reset=False)
        out = np.concatenate([np.asarray(self.encoder_(X[i:i + 1024], training=False))
                              for i in range(0, len(X), 1024)])
        return out.reshape(len(X), -1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "encoder_")
        size = int(np.prod(self.encoder_.compute_output_shape((None, *self.input_shape_))[1:]))
        return np.asarray([f"sdae{i}" for i in range(size)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float32"]  # Keras computes in float32
        return tags

"""Deep clustering as a task: DEC (Xie et al. 2016) and IDEC (Guo et al. 2017) over any
family's code.

A `Clusterer` is a functional `keras.Model` images -> soft cluster assignment (Student's t
kernel to learned centres, `sdae_tf.layers.ClusteringLayer`), the family's encoder shared.
`fit(x)` runs DEC's self-training, as XifengGuo/DEC-keras does it: the centres initialised by
k-means on the codes; then every `update_interval` batches the soft assignment `q` of every
image is computed and sharpened into the target `p` (`target_distribution`), training stops
once fewer than `tol` of the images changed cluster since the last update (or after
`max_batches`), and in between each batch is trained on KL(p || q). IDEC adds the decoder's
reconstruction loss (`reconstruction_weight` > 0): the model then also outputs the
reconstruction, and the loss is `KL(p || q) + reconstruction_weight * reconstruction loss`
(IDEC's `0.1 * KL + reconstruction` scaled by 10: with Adam, IDEC's optimizer on MNIST, the
same steps up to Adam's epsilon).
"""

import math
import pathlib

import keras
import numpy as np

from sdae_tf.layers import ClusteringLayer
from sdae_tf.package import NAME as PACKAGE
from sdae_tf.utils import checks, faults, storage
from sdae_tf.zoo import compiling
from sdae_tf.zoo.heads import Task

CLUSTERS, RECONSTRUCTION = "clusters", "reconstruction"
STATE = "state.json"


def target_distribution(q):
    """DEC's auxiliary target (eq. 3): `q` squared, divided by each cluster's frequency, each
    row renormalised: confident assignments sharpened, large clusters kept from swallowing
    the rest.

    Args:
        q: soft assignments (N, K), rows summing to 1.

    Returns:
        The target (N, K) float32, rows summing to 1.
    """
    q = np.asarray(q, np.float64)
    weight = q ** 2 / q.sum(0)
    return (weight.T / weight.sum(1)).T.astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Clusterer(Task):
    """Images -> the soft assignment `q` (batch, n_clusters) to the clusters (rows sum to 1);
    with IDEC's reconstruction term, `{"clusters": q, "reconstruction": images}`. `predict`
    gives cluster ids, `predict_proba` the soft assignment. Compiled by default as DEC-keras
    and IDEC were run on MNIST: KL divergence with SGD (0.01, momentum 0.9) for DEC, Adam
    (1e-3) with the reconstruction loss added for IDEC. Build one with a family's
    `clusterer(n_clusters)`."""

    # The reconstruction loss of IDEC's term when `compile` is left "auto" (the family's, set
    # by `Family.clusterer`; a loaded model recompiles from its saved settings).
    reconstruction_loss = "mean_squared_error"
    reconstruction_weight = 1.0

    @property
    def idec(self):
        """Whether the model has IDEC's reconstruction output."""
        return isinstance(self.output, dict)

    @property
    def n_clusters(self):
        return int(self.clustering_layer.n_clusters)

    @property
    def clustering_layer(self):
        return next(layer for layer in self.layers if isinstance(layer, ClusteringLayer))

    def compile(self, optimizer="auto", loss="auto", metrics="auto", loss_weights="auto",
                **kwargs):
        """`keras.Model.compile` with DEC's (or IDEC's) defaults for what is left "auto"."""
        if optimizer == "auto":
            optimizer = self.default_optimizer()
        if loss == "auto":
            loss = ({CLUSTERS: "kl_divergence", RECONSTRUCTION: self.reconstruction_loss}
                    if self.idec else "kl_divergence")
        if loss_weights == "auto":
            loss_weights = ({CLUSTERS: 1.0, RECONSTRUCTION: self.reconstruction_weight}
                            if self.idec else None)
        keras.Model.compile(self, optimizer=optimizer, loss=loss,
                            metrics=None if metrics == "auto" else metrics,
                            loss_weights=loss_weights, **kwargs)

    def default_optimizer(self, learning_rate=None):
        """DEC's SGD (momentum 0.9, default rate 0.01) or, for IDEC, Adam (default 1e-3), at
        `learning_rate` when given: what `compile("auto")` uses."""
        if self.idec:
            return compiling.default_optimizer(learning_rate or compiling.DEFAULT_LEARNING_RATE)
        return keras.optimizers.SGD(learning_rate or 0.01, momentum=0.9)

    def predict_proba(self, x, batch_size=1024, verbose=0, **kwargs):
        """The soft assignment `q` (N, n_clusters) of images `x`."""
        out = keras.Model.predict(self, x, batch_size=batch_size, verbose=verbose, **kwargs)
        return np.asarray(out[CLUSTERS] if isinstance(out, dict) else out)

    def predict(self, x, batch_size=1024, verbose=0, **kwargs):
        """The cluster id (N,) of each image of `x`: the argmax of `predict_proba`."""
        return self.predict_proba(x, batch_size=batch_size, verbose=verbose,
                                  **kwargs).argmax(1)

    def codes(self, x, batch_size=1024):
        """The codes (N, D) the clustering layer reads."""
        code = keras.Model(self.input, self.clustering_layer.input)
        return np.asarray(code.predict(x, batch_size=batch_size, verbose=0))

    def initialize(self, x, n_init=20, seed=0):
        """Sets the centres to those of k-means (`n_init` restarts, seeded) on the codes of
        `x`, as DEC does. Returns k-means' cluster ids of `x`."""
        from sklearn.cluster import KMeans

        kmeans = KMeans(self.n_clusters, n_init=n_init, random_state=seed)
        labels = kmeans.fit_predict(self.codes(x).astype(np.float64))
        self.clustering_layer.set_centres(kmeans.cluster_centers_)
        return labels

    def fit(self, x, y=None, batch_size=256, max_batches=20000, tol=1e-3, update_interval=140,
            n_init=20, seed=0, initialize=True, validation_data=None, checkpoint_dir=None,
            verbose=1):
        """DEC's self-training on images `x` (see the module's note). `y`, if given, is only
        scored (accuracy, NMI, ARI at every target update), never trained on. Batches follow
        a seeded permutation of `x`, a new one per pass. With `checkpoint_dir`, the weights,
        the optimizer and the loop's state are written at every target update, and a call
        that finds them there resumes after the last (same numbers as if never stopped).

        Args:
            x: images (N, ...) in the model's input shape.
            y: labels to score, or None.
            batch_size: images per step (DEC: 256).
            max_batches: the batch budget (DEC-keras: 20 000).
            tol: stop when fewer than this share of the images changed cluster between two
                target updates (DEC: 0.001).
            update_interval: batches between target updates (DEC-keras on MNIST: 140).
            n_init: k-means restarts of the initialisation.
            seed: seeds k-means and the batches' order.
            initialize: set the centres by k-means first (False: keep the current ones).
            validation_data: `(images, labels)` scored (never trained on) as `y` is, under
                "val_" names: held-out images assigned to the learned clusters.
            checkpoint_dir: where the loop's checkpoints go (None: none).
            verbose: 1 prints a line at each target update, 0 nothing.

        Returns:
            A `keras.callbacks.History`: `history` holds per target update "batch", "loss"
            (mean over the batches since the last), "label_change" and, with `y`, "accuracy",
            "nmi", "ari" (and "val_" ones with `validation_data`); `record` the outcome,
            JSON-ready: "batches", "stopped" ("tolerance" or "budget"), "kmeans" (k-means'
            scores, with `y`), "final" (the final assignment's, with `y`) and, with
            `validation_data`, "val_kmeans" and "val_final".
        """
        from sdae_tf.evaluation.clustering import scores
        from sdae_tf.train.checkpoints import build_optimizers

        batch_size = checks.positive_int(batch_size, "batch_size")
        max_batches = checks.non_negative_int(max_batches, "max_batches")
        update_interval = checks.positive_int(update_interval, "update_interval")
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
            raise ValueError(f"`tol` must be a number in [0, 1). Received: tol={tol!r}")
        x = np.asarray(x, np.float32)
        if tuple(x.shape[1:]) != tuple(self.input_shape[1:]) or not len(x):
            raise ValueError(f"`x` must be images of shape {tuple(self.input_shape[1:])}; "
                             f"received an array of shape {x.shape}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"`y` has {len(y)} labels for {len(x)} images")
        if validation_data is not None:
            x_val, y_val = validation_data
            x_val = np.asarray(x_val, np.float32)
            if tuple(x_val.shape[1:]) != tuple(x.shape[1:]) or len(x_val) != len(y_val):
                raise ValueError(f"`validation_data` must be (images of shape {x.shape[1:]}, "
                                 f"one label each); received {x_val.shape} images and "
                                 f"{len(y_val)} labels")

        def val_scores():
            if validation_data is None:
                return {}
            return {f"val_{k}": v for k, v in scores(y_val, self.predict(x_val)).items()}

        if batch_size > len(x):
            raise ValueError(f"`batch_size` ({batch_size}) is larger than `x` ({len(x)} "
                             "images)")
        if self.optimizer is None:
            self.compile()
        build_optimizers(self)
        ckpt = _Checkpoint(checkpoint_dir)
        state = ckpt.read()
        kmeans = None
        if state is not None:
            storage.load_weights(self, ckpt.dir / state["weights"], "clustering checkpoint")
            if verbose:
                print(f"Resuming the clustering after batch {state['batch']}", flush=True)
        else:
            kmeans = self.initialize(x, n_init, seed) if initialize else None
            state = {"batch": 0, "history": {}, "weights": None,
                     "kmeans": scores(y, kmeans) if y is not None and kmeans is not None
                     else None, "val_kmeans": val_scores() if kmeans is not None else None}
        history = {k: list(v) for k, v in state["history"].items()}
        ite = int(state["batch"])
        steps_per_pass = math.ceil(len(x) / batch_size)
        order, order_pass, losses, stopped = None, None, [], "budget"
        # The last update's assignment (k-means' before the first): what the next is compared
        # with. A resumed loop recomputes it from the checkpoint's weights.
        resumed, last = state["weights"] is not None, kmeans if state["weights"] is None \
            else None
        while True:
            if ite % update_interval == 0 or ite == max_batches:
                q = self.predict_proba(x)
                target, labels = target_distribution(q), q.argmax(1)
                if not resumed:  # (a resumed loop logged this update before its checkpoint)
                    change = float(np.mean(labels != last)) if last is not None else None
                    entry = {"batch": ite, "loss": float(np.mean(losses)) if losses else None,
                             "label_change": change, **(scores(y, labels) if y is not None
                                                       else {}), **val_scores()}
                    for k, v in entry.items():
                        history.setdefault(k, []).append(v)
                    losses = []
                    if verbose:
                        print("Clustering: " + ", ".join(
                            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in entry.items() if v is not None), flush=True)
                    if ckpt.dir is not None and ite < max_batches:
                        ckpt.write(self, {**state, "batch": ite, "history": history})
                    if ite > 0 and change is not None and change < tol:
                        last, stopped = labels, "tolerance"
                        break
                resumed, last = False, labels
            if ite >= max_batches:
                break
            n_pass, index = divmod(ite, steps_per_pass)
            if n_pass != order_pass:
                order = np.random.default_rng([seed, n_pass]).permutation(len(x))
                order_pass = n_pass
            idx = order[index * batch_size:(index + 1) * batch_size]
            targets = ({CLUSTERS: target[idx], RECONSTRUCTION: x[idx]} if self.idec
                       else target[idx])
            loss = self.train_on_batch(x[idx], targets, return_dict=True)["loss"]
            if not np.isfinite(loss):
                from sdae_tf.train.checkpoints import TrainingDivergedError

                raise TrainingDivergedError(f"Clustering diverged at batch {ite + 1}: loss "
                                            f"{loss}; lower the learning rate")
            losses.append(float(loss))
            ite += 1
        ckpt.clear()
        out = keras.callbacks.History()
        out.history = history
        out.record = {"batches": ite, "stopped": stopped, "kmeans": state.get("kmeans"),
                      "final": scores(y, last) if y is not None else None}
        if validation_data is not None:
            out.record.update(
                val_kmeans={k[4:]: v for k, v in (state.get("val_kmeans") or {}).items()}
                or None, val_final={k[4:]: v for k, v in val_scores().items()})
        return out


class _Checkpoint:
    """The clustering loop's checkpoint: the weights file (model and optimizer) of the last
    target update and `state.json` naming it, each written whole or not at all."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory) if directory is not None else None

    def read(self):
        if self.dir is None or not (self.dir / STATE).exists():
            return None
        return storage.read_json(self.dir / STATE, "clustering checkpoint state")

    def write(self, model, state):
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"batch-{state['batch']:07d}.weights.h5"
        old = (self.read() or {}).get("weights")
        storage.save_weights_atomic(model, self.dir / name)
        storage.write_json_atomic(self.dir / STATE, {**state, "weights": name})
        if old and old != name:
            (self.dir / old).unlink(missing_ok=True)
        faults.point(f"epoch:{self.dir.name}")

    def clear(self):
        if self.dir is not None:
            (self.dir / STATE).unlink(missing_ok=True)
            for path in self.dir.glob("batch-*.weights.h5"):
                path.unlink()


def clusterer(code_model, n_clusters, alpha=1.0, projection=None, decoder=None,
              reconstruction_weight=0.0, name="clusterer"):
    """A `Clusterer` over `code_model` (images -> code, its weights shared).

    Args:
        code_model: a Keras model images -> code.
        n_clusters: the clusters, an integer >= 2.
        alpha: the Student's t kernel's degrees of freedom (DEC: 1).
        projection: None (the code must be a vector), "flatten" (spatial codes flattened) or
            an integer: spatial codes flattened, then a fresh linear Dense of that width.
        decoder: the family's decoder (code -> images), for IDEC's reconstruction term.
        reconstruction_weight: IDEC's weight of the reconstruction loss (0: DEC).
        name: the model's name.

    Returns:
        A `Clusterer` (not compiled).

    Raises:
        ValueError: a spatial code without a projection, or bad arguments, in one line.
    """
    shape = tuple(code_model.output_shape[1:])
    if not (projection is None or projection == "flatten" or (
            isinstance(projection, int) and not isinstance(projection, bool) and projection > 0)):
        raise ValueError(f"`projection` must be None, 'flatten' or a positive integer (a "
                         f"Dense width). Received: projection={projection!r}")
    if len(shape) != 1 and projection is None:
        raise ValueError(f"{code_model.name}'s code has shape {shape}, not a vector: cluster "
                         "it with projection='flatten' (the code flattened) or projection=<units> "
                         "(flattened, then a linear Dense of that width)")
    if isinstance(reconstruction_weight, bool) or not isinstance(
            reconstruction_weight, (int, float)) or reconstruction_weight < 0:
        raise ValueError(f"`reconstruction_weight` must be a number >= 0. Received: "
                         f"{reconstruction_weight!r}")
    if reconstruction_weight > 0 and decoder is None:
        raise ValueError("IDEC's reconstruction term (`reconstruction_weight` > 0) needs the "
                         "family's decoder")
    images = keras.Input(code_model.input_shape[1:], name="images")
    code = code_model(images)
    z = code
    if projection is not None:
        z = keras.layers.Flatten(name=f"{name}_flatten")(z)
        if projection != "flatten":
            z = keras.layers.Dense(projection, name=f"{name}_projection")(z)
    q = ClusteringLayer(n_clusters, alpha=alpha, name=CLUSTERS)(z)
    outputs = q
    if reconstruction_weight > 0:
        recon = keras.layers.Identity(name=RECONSTRUCTION)(decoder(code))
        outputs = {CLUSTERS: q, RECONSTRUCTION: recon}
    return Clusterer(images, outputs, name=name)

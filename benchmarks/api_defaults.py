"""Do the Python API's defaults work? For each zoo family with a classifier: `get(name)`, then
`pretrain(x)` and `classifier(10).fit(x, y)` with every default but the epochs, on 3000 MNIST
training digits, scored on 2000 test digits; against, in the same run, a plain Keras MLP of the
encoder's widths (ReLU, Adam, from scratch) and the same classifier without pretraining, each
trained by the same `fit` call for the same epochs. Prints a table and writes JSON.

    python benchmarks/api_defaults.py --epochs 2,5 --seeds 0,1 --legacy

`--variants` measures other settings the same way (a JSON list of {"label", "build": the
constructor's arguments, "pretrain": `pretrain`'s, "code": another of the model's Keras models
as the classifier's input}), e.g. what each part of a family's defaults is worth:

    python benchmarks/api_defaults.py --families mae_mnist --seeds 0,1 \
        --variants '[{"label": "the mean token", "build": {"pooling": "mean"}}]' \
        --out benchmarks/results/api_defaults_mae.json
"""

import argparse
import itertools
import json
import statistics
import time

from common import REPO, markdown_table, write_results

FAMILIES = ("sdae_mnist", "sae_mnist", "cdae_mnist", "dvae_mnist", "resdae_mnist", "mae_mnist")


def _accuracy(model, x, y):
    import numpy as np

    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


def mlp(widths, data, epochs, seed):
    """A plain Keras MLP of `widths` (ReLU) -> 10 logits, Adam, trained from scratch."""
    import keras

    x, y, xt, yt = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Flatten(),
                              *[keras.layers.Dense(w, activation="relu") for w in widths],
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, verbose=0)
    return _accuracy(model, xt, yt)


# The Python API's pretraining defaults before 2026-12-06 (Adam 1e-3, batch 128), for the
# `--legacy` column.
LEGACY = {"learning_rate": 1e-3, "batch_size": 128}


def zoo_model(name, data, epochs, seed, pretrain=True, build=None, code=None, **settings):
    """`get(name, **build)`, `pretrain(x, epochs, **settings)` (unless not `pretrain`),
    `classifier(10).fit(x, y, epochs)`, all defaults: (test accuracy, seconds, the model).
    `code` names another of the model's Keras models as the classifier's input (e.g. the
    masked autoencoder's `token_encoder`), under the same head and compile."""
    import keras

    from sdae_tf import models

    x, y, xt, yt = data
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = models.get(name, seed=seed, **(build or {}))
    if pretrain:
        model.pretrain(x, epochs=epochs, verbose=0, **settings)
    classifier = model.classifier(10)
    if code:
        from sdae_tf.zoo import heads

        optimizer = classifier.optimizer  # the family's default compile, on the other code
        classifier = heads.classifier(getattr(model, code), 10)
        classifier.compile(optimizer=type(optimizer).from_config(optimizer.get_config()))
    classifier.fit(x, y, epochs=epochs, verbose=0)
    return _accuracy(classifier, xt, yt), round(time.perf_counter() - start, 1), model


def table(cells, legacy):
    """The Markdown lines of the cells."""
    rows = []
    variants = any("variant" in cell for cell in cells)
    for cell in cells:
        runs = cell["runs"]
        old = [f"{cell['legacy_defaults']:.4f}"] if legacy else []
        rows.append([cell["family"], *([cell.get("variant", "defaults")] if variants else []),
                     f"{cell['epochs']} + {cell['epochs']}",
                     f"{cell['pretrained']:.4f}", *old, f"{cell['no_pretraining']:.4f}",
                     f"{cell['mlp']:.4f} ({'-'.join(map(str, runs[0]['mlp_widths']))})",
                     f"{cell['pretrained'] - cell['mlp']:+.4f}"])
    return markdown_table(["family", *(["settings"] if variants else []),
                           "epochs (pretrain + fit)", "get + pretrain + classifier",
                           *(["the same, defaults before 2026-12-06"] if legacy else []),
                           "same classifier, no pretraining", "plain MLP (widths)",
                           "pretrained - MLP"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--epochs", default="2,5")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--legacy", action="store_true",
                        help="also the pretraining defaults before 2026-12-06 (LEGACY)")
    parser.add_argument("--out", default="benchmarks/results/api_defaults.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the cells of an existing --out that this run does not "
                             "measure (same family, settings and epochs: replaced)")
    parser.add_argument("--variants", default=None,
                        help="JSON list of {label, build, pretrain}: settings measured instead "
                             "of the defaults")
    args = parser.parse_args()
    import keras

    from sdae_tf.data import load_mnist

    mnist = load_mnist()
    data = (mnist.x_train[:args.train], mnist.y_train[:args.train],
            mnist.x_test[:args.test], mnist.y_test[:args.test])
    variants = json.loads(args.variants) if args.variants else [None]
    cells = []
    for name, variant, epochs in itertools.product(
            args.families.split(","), variants, (int(e) for e in args.epochs.split(","))):
        runs = []
        build = (variant or {}).get("build", {})
        pretraining = (variant or {}).get("pretrain", {})
        code = (variant or {}).get("code")
        for seed in (int(s) for s in args.seeds.split(",")):
            ours, seconds, model = zoo_model(name, data, epochs, seed, build=build, code=code,
                                             **pretraining)
            scratch = zoo_model(name, data, epochs, seed, pretrain=False, build=build,
                                code=code)[0]
            # The dense and variational stacks: an MLP of their widths; conv and
            # attention encoders: a 1000-unit MLP (the classifier's head).
            dense = [layer.units for layer in model.encoder.layers
                     if isinstance(layer, keras.layers.Dense)]
            stacked = type(model).__name__ in ("DenseStack", "VariationalStack")
            widths = dense if stacked and dense else [1000]
            runs.append({"seed": seed, "pretrained": ours, "no_pretraining": scratch,
                         "mlp": mlp(widths, data, epochs, seed), "mlp_widths": widths,
                         "seconds": seconds})
            defaults = type(model).PRETRAIN_DEFAULTS
            runs[-1]["defaults"] = defaults
            if variant:
                runs[-1]["settings"] = {"build": build, "pretrain": pretraining, "code": code}
            if args.legacy:  # the same run when a family kept the old defaults
                same = all(defaults[k] == v for k, v in LEGACY.items())
                runs[-1]["legacy_defaults"] = ours if same else zoo_model(
                    name, data, epochs, seed, **LEGACY)[0]
            print(name, epochs, runs[-1], flush=True)
        cell = {"family": name, **({"variant": variant["label"]} if variant else {}),
                "epochs": epochs, "runs": runs,
                **{k: round(statistics.mean(r[k] for r in runs), 4)
                   for k in ("pretrained", "no_pretraining", "mlp", "legacy_defaults")
                   if k in runs[0]}}
        cells.append(cell)
    if args.merge:
        def key(cell):
            return cell["family"], cell.get("variant"), cell["epochs"]

        earlier = json.loads((REPO / args.out).read_text())["cells"]
        ran = {key(c) for c in cells}
        cells = [c for c in earlier if key(c) not in ran] + cells
        order = {name: i for i, name in enumerate(FAMILIES)}
        labels = {}
        for cell in cells:
            labels.setdefault(cell.get("variant"), len(labels))
        cells.sort(key=lambda c: (order.get(c["family"], len(order)), labels[c.get("variant")],
                                  c["epochs"]))
    lines = table(cells, args.legacy)
    write_results(args.out, {"train_examples": args.train, "test_examples": args.test,
                             "seeds": args.seeds, "backend": keras.backend.backend(),
                             "legacy_defaults": LEGACY if args.legacy else None,
                             "cells": cells}, lines)


if __name__ == "__main__":
    main()

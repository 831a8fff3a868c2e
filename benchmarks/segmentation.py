"""Section 8's "tasks other than classification": segmenting the digit out of the background
variants from a conv encoder's spatial code (`ZooModel.segmenter`), against the same network
from random initialisation and Otsu's threshold on the input. The masks are exact, from the
variants' construction (`sdae_tf.data.segmentation`).

Each arm: the encoder pretrained without labels on the variant's training images (or not, for
the random-initialisation arm), then the segmentation head trained with the encoder frozen or
fine-tuned; foreground IoU and pixel accuracy on the test set.

    python benchmarks/segmentation.py [--models cdae_mnist,resdae_mnist] [--variants bg_rand_rot]
        [--train 10000] [--pretrain_epochs 3] [--epochs 3] [--seeds 0]

Writes benchmarks/results/segmentation.json / .md (with the machine).
"""

import argparse
import time

from common import markdown_table, write_results


def otsu(x, masks):
    """Foreground IoU and pixel accuracy of Otsu's threshold per test image."""
    from sdae_tf.data import segmentation

    return segmentation.otsu_scores(x, masks)


def arm(name, data, pretrain, train_encoder, args, seed):
    import keras

    import sdae_tf.models as models

    keras.utils.set_random_seed(seed)
    model = models.get(name, seed=seed)
    x, y = data.x_train[:args.train], data.y_train[:args.train]
    start = time.perf_counter()
    if pretrain:
        model.pretrain(x, epochs=args.pretrain_epochs, verbose=0, seed=seed)
    seg = model.segmenter(train_encoder=train_encoder, learning_rate=args.learning_rate)
    seg.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0,
            validation_data=(data.x_val[:2000], data.y_val[:2000]))
    _, accuracy, iou = seg.evaluate(data.x_test, data.y_test, verbose=0)
    return {"iou": float(iou), "pixel_accuracy": float(accuracy),
            "seconds": round(time.perf_counter() - start, 1)}


ARMS = (("pretrained, fine-tuned", True, True), ("pretrained, frozen", True, False),
        ("random init, fine-tuned", False, True))


def main(argv=None):
    from sdae_tf.data import segmentation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cdae_mnist")
    parser.add_argument("--variants", default="bg_rand_rot,bg_rand")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--pretrain_epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", default="benchmarks/results/segmentation.json")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for variant in args.variants.split(","):
        data = segmentation.load_digit_masks(variant, seed=0)
        rows.append({"variant": variant, "model": "Otsu threshold on the input", "seed": None,
                     **otsu(data.x_test, data.y_test)})
        for name in args.models.split(","):
            for label, pretrain, train_encoder in ARMS:
                for seed in seeds:
                    rows.append({"variant": variant, "model": f"{name}, {label}", "seed": seed,
                                 **arm(name, data, pretrain, train_encoder, args, seed)})
                    print(rows[-1], flush=True)
    lines = markdown_table(["variant", "model", "seed", "foreground IoU", "pixel accuracy"],
                           [[r["variant"], r["model"], "-" if r["seed"] is None else
                             str(r["seed"]), f"{r['iou']:.4f}", f"{r['pixel_accuracy']:.4f}"]
                            for r in rows])
    lines.append(f"\n{args.train} training images of each variant (pretraining without labels, "
                 f"{args.pretrain_epochs} epochs; the head {args.epochs} epochs, Adam "
                 f"{args.learning_rate:g}), the whole test set; masks: digit pixels at least "
                 f"{segmentation.THRESHOLD}/255 before the background fill.")
    write_results(args.out, {"settings": vars(args), "rows": rows}, lines)


if __name__ == "__main__":
    main()

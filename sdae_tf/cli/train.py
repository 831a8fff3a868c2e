"""`sdae-train`: train a zoo model from flags / a flagfile, export its encoder, print accuracy.

    sdae-train --flagfile=flags/models/sdae_mnist.flags
"""

from sdae_tf.utils import process

process.setup()  # the tools' TensorFlow settings, before TensorFlow is imported

from absl import flags  # noqa: E402

from sdae_tf.cli import flags as train_flags  # noqa: E402
from sdae_tf.cli.errors import run_tool, start, user_errors  # noqa: E402
from sdae_tf.runner import training  # noqa: E402

FLAGS = flags.FLAGS


def summary(metrics):
    """The lines printed at the end of a run."""
    lines = [f"model {metrics['model']} on {metrics['dataset']} {metrics['sizes']}"]
    if "test_accuracy" in metrics:
        ft = metrics["finetune"]
        if "best_epoch" in ft:
            lines.append(
                f"test accuracy {metrics['test_accuracy']:.4f} (validation "
                f"{metrics['val_accuracy']:.4f}, best epoch {ft['best_epoch']})"
            )
        else:  # the report protocol: the last epoch's weights, no validation split
            lines.append(f"test accuracy {metrics['test_accuracy']:.4f} (report protocol: after "
                         f"the last epoch, {ft['final_epoch']})")
    if "segmentation" in metrics:
        seg = metrics["segmentation"]
        lines.append(f"test foreground IoU {seg['test_iou']:.4f}, pixel accuracy "
                     f"{seg['test_pixel_accuracy']:.4f} (Otsu's threshold: IoU "
                     f"{seg['otsu']['iou']:.4f}"
                     + (f"; validation IoU {metrics['val_iou']:.4f}, best epoch "
                        f"{metrics['finetune']['best_epoch']})" if metrics.get("val_iou")
                        is not None else ")"))
    if "clustering" in metrics:
        c = metrics["clustering"]
        method = c["method"].lower()
        lines.append(
            f"clustering ({c['scored']}): k-means accuracy {c['scores']['kmeans']['accuracy']:.4f}"
            f", {c['method']} accuracy {c['scores'][method]['accuracy']:.4f}, NMI "
            f"{c['scores'][method]['nmi']:.4f}, ARI {c['scores'][method]['ari']:.4f} "
            f"({c['batches']} batches, stopped on {c['stopped']})")
    if "export" in metrics:
        lines.append(f"encoder exported to {metrics['export']['path']} (reloaded, max |diff| "
                     f"{metrics['export']['reload_max_abs_diff']:.2g})")
    lines.append(f"run directory {metrics['run_dir']}; {metrics['seconds']:.1f} s")
    return "\n".join(lines)


def main(argv):
    start(argv)
    with user_errors("sdae-train"):
        metrics = training.run(train_flags.config_from_flags(FLAGS))
    print(summary(metrics), flush=True)


def run_main():
    run_tool(main, "sdae-train")


if __name__ == "__main__":
    run_main()

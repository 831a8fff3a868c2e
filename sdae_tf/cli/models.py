"""`sdae-models`: lists the exported encoders (shipped in exported_models/ or under --dir) with
their metrics.

    sdae-models            # table
    sdae-models --json     # manifests
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags

from sdae_tf import markdown  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dir", None, "Folder of exports (default: the shipped exported_models/).")
flags.DEFINE_bool("json", False, "Print the manifests as JSON.")


def table(models):
    head = ["name", "model", "data", "input", "embedding", "test acc", "probe acc (floor)",
            "MB", "path"]
    rows = []
    for name, m in models.items():
        test = m.get("metrics", {}).get("test_accuracy")
        probe = m.get("probe", {})
        rows.append([
            name, m["model"], m["dataset"],
            "x".join(map(str, m["input"]["shape"])) + f" in {m['input'].get('range')}",
            str(m["embedding_size"]), "" if test is None else f"{test:.4f}",
            f"{probe['accuracy']:.4f} ({probe['floor']:.4f})" if probe else "",
            f"{m['size_mb']:.1f}", os.path.relpath(m["path"])])
    return "\n".join(markdown.table(head, rows))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from sdae_tf import pretrained

    models = pretrained.list_models(FLAGS.dir)
    if FLAGS.json:
        print(json.dumps(models, indent=2, sort_keys=True))
    elif not models:
        print(f"No exported encoders in {FLAGS.dir or pretrained.models_dir()}")
    else:
        print(table(models))


def run_main():
    app.run(main)


if __name__ == "__main__":
    run_main()

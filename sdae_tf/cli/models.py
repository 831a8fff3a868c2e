"""`sdae-models`: lists the exported models (the shipped ones, or those under --dir) with their
metrics and what they export, then the recipes (`--recipe=NAME` of sdae-train / sdae-tune /
sdae-experiment).

    sdae-models                  # tables
    sdae-models --json           # {"models": manifests, "recipes": ...}
    sdae-models --path=NAME      # the model's full export folder (a packed preset unpacked
                                 # into the cache first), for TensorFlow alone
"""

import os

from sdae_tf.utils import process

process.setup()  # the tools' TensorFlow settings, before TensorFlow is imported

import json

from absl import app, flags

from sdae_tf.runner.config_flags import define_backend_flag  # noqa: E402
from sdae_tf.utils import markdown  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dir", None, "Folder of exports (default: the shipped exported_models/).")
flags.DEFINE_bool("json", False, "Print the manifests as JSON.")
define_backend_flag(FLAGS)
flags.DEFINE_string("path", None, "Print the full export folder of this model (a packed preset "
                    "is unpacked into the cache first: $SDAE_TF_CACHE, ~/.cache/sdae_tf).")


def table(models):
    head = ["name", "model", "data", "input", "embedding", "test acc", "probe acc (floor)",
            "denoiser (noise)", "MB", "path"]
    rows = []
    for name, m in models.items():
        test = m.get("metrics", {}).get("test_accuracy")
        probe = m.get("probe", {})
        rows.append([
            name, m["model"], m["dataset"],
            "x".join(map(str, m["input"]["shape"])) + f" in {m['input'].get('range')}",
            str(m["embedding_size"]), "" if test is None else f"{test:.4f}",
            f"{probe['accuracy']:.4f} ({probe['floor']:.4f})" if probe else "",
            _denoiser(m.get("denoiser")),
            f"{m['size_mb']:.1f}", os.path.relpath(m["path"])])
    return "\n".join(markdown.table(head, rows))


def _denoiser(denoiser):
    if denoiser is None:
        return "-"
    if denoiser.get("use_instead"):
        return f"no: use `{denoiser['use_instead']['endpoint']}`"
    return _noise(denoiser["noise"])


def _noise(noise):
    if not noise or noise.get("type") in (None, "none"):
        return "yes (trained clean)"
    level = noise.get("level", noise.get("floor"))
    return f"yes ({noise['type']}{f' {level:g}' if level is not None else ''})"


def recipe_table(recipes):
    rows = [[name, r["tool"], r["summary"]] for name, r in recipes.items()]
    return "\n".join(markdown.table(["recipe", "run with", "what it does"], rows))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from sdae_tf.cli import errors

    with errors.user_errors("sdae-models"):
        _show()


def _show():
    from sdae_tf.hub import pretrained, resources

    if FLAGS.path:
        print(pretrained.resolve(FLAGS.path))
        return
    models = pretrained.list_models(FLAGS.dir)
    recipes = resources.list_recipes()
    if FLAGS.json:
        print(json.dumps({"models": models, "recipes": recipes}, indent=2, sort_keys=True))
        return
    if models:
        print(table(models))
    else:
        where = FLAGS.dir or ", ".join(map(str, resources.model_roots())) or "no model folder"
        print(f"No exported models in {where}")
    print()
    print(recipe_table(recipes) if recipes else "No recipes found")


def run_main():
    from sdae_tf.cli import errors

    errors.show_own_flags()
    app.run(main)


if __name__ == "__main__":
    run_main()

"""Writes a model card per shipped model (docs/models/NAME.md) and their index from the
exports' manifests, so a re-export updates its card: `python scripts/model_cards.py`
(`--check` exits 1 if a card is out of date; the tests run it)."""

import argparse
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
MODELS = REPO / "exported_models"
SETUP = dict(line.split(" = ", 1) for line in (REPO / "setup.cfg").read_text().splitlines()
             if " = " in line and line.split(" = ")[0] in ("version", "license"))
PACKAGE_VERSION, LICENSE = SETUP["version"], SETUP["license"]
CITATION = ("Vincent, Larochelle, Lajoie, Bengio and Manzagol, \"Stacked Denoising "
            "Autoencoders\", JMLR 11, 2010; and this repository")
CARDS = REPO / "docs" / "models"


def _flagfile(name):
    path = REPO / "flags" / "models" / f"{name}.flags"
    return (f"`flags/models/{name}.flags` (`sdae-train --recipe={name}`)" if path.exists()
            else "-")


def _denoiser(denoiser):
    instead = denoiser.get("use_instead")
    if instead:
        return f"none: use `{instead['endpoint']}` instead ({instead['why']})"
    return denoiser.get("weights", "-")


def _num(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value if value is not None else "-")


def card(name, manifest):
    cfg = manifest.get("config", {})
    metrics = manifest.get("metrics", {})
    probe = manifest.get("probe", {})
    noise = manifest.get("noise", {})
    denoiser = manifest.get("denoiser", {})
    arch = manifest.get("architecture", {})
    inpaints = "inpaint" in manifest.get("extra_endpoints", {})
    written = manifest.get("versions", {}).get("sdae_tf", "?")
    use = ("features and inpainting hidden patches" if inpaints
           else "features" if denoiser.get("use_instead") else "features and denoising")
    lines = [
        f"# {name}", "",
        manifest.get("description", ""), "",
        "| | |", "|---|---|",
        f"| family | `{arch.get('family')}` |",
        f"| architecture | `{json.dumps({k: v for k, v in arch.items() if k != 'noise'})}` |",
        f"| trained on | `{manifest.get('dataset')}` (pretraining: "
        f"`{metrics.get('pretrain_dataset') or manifest.get('dataset')}`) |",
        f"| recipe | {_flagfile(name)}; seed {manifest.get('seed')}; "
        f"{cfg.get('pretrain_epochs')} pretraining epochs per block, "
        f"{cfg.get('finetune_epochs')} fine-tuning epochs |",
        f"| noise trained with | `{json.dumps(noise)}` |",
        f"| input | shape `{manifest['input']['shape']}`, {manifest['input']['dtype']}, values in "
        f"`{manifest['input']['range']}` |",
        f"| embedding | {manifest.get('embedding_size')} (output shape "
        f"`{manifest.get('output_shape')}`) |",
        f"| test accuracy (fine-tuned) | {_num(metrics.get('test_accuracy'))} |",
        f"| linear probe on frozen codes | {probe.get('accuracy', '-')} (floor "
        f"{probe.get('floor', '-')}: {probe.get('train', '')}, {probe.get('test', '')}) |",
        f"| endpoints | {', '.join(f'`{e}`' for e in manifest.get('endpoints', {}))} |",
        f"| denoiser | {_denoiser(denoiser)} |",
        f"| stage | {manifest.get('stage')} |",
        f"| versions | {', '.join(f'{k} {v}' for k, v in manifest.get('versions', {}).items())} |",
        f"| compatibility | written by sdae_tf {written}; loads in {PACKAGE_VERSION} as it was "
        "written (its outputs and manifest checked by `tests/test_legacy_files.py` and "
        "`tests/test_pretrained.py`) |",
        f"| license | {LICENSE} (the package's; MNIST: Yann LeCun and Corinna Cortes, CC BY-SA "
        "3.0) |",
        f"| cite | {CITATION} |",
        "",
        "## Use", "",
        "```python",
        "import sdae_tf, sdae_tf.models",
        f'encoder = sdae_tf.feature_extractor("{name}")   # frozen Keras layer',
        f'model = sdae_tf.models.from_preset("{name}")    # trainable: its family class',
        *([f'inpaint = sdae_tf.inpainter("{name}")        # [images, hidden patches] -> images']
          if inpaints else []),
        "```", "",
        f"Intended use: {use}"
        " for 28x28 grey digits in [0, 1] like MNIST's "
        "(the input contract is checked at run time); not for other image statistics without "
        "fine-tuning. Limits: trained on one seed at a short budget (see the recipe); the "
        "probe floor is what the tests hold it to.", "",
        "## Files (SHA-256)", "",
        "| file | sha256 |", "|---|---|",
        *[f"| `{f}` | `{h}` |" for f, h in sorted(manifest.get("files_sha256", {}).items())],
        "",
    ]
    return "\n".join(lines)


def cards():
    out = {}
    names = sorted(p.parent.name for p in MODELS.glob("*/manifest.json"))
    for name in names:
        manifest = json.loads((MODELS / name / "manifest.json").read_text())
        out[f"{name}.md"] = card(name, manifest)
    index = ["# Model cards", "", "The shipped models, each card written from its export's "
             "manifest by `scripts/model_cards.py`.", "",
             "| model | what | test accuracy | probe |", "|---|---|---|---|"]
    for name in names:
        m = json.loads((MODELS / name / "manifest.json").read_text())
        index.append(f"| [{name}]({name}.md) | {m.get('description', '')} | "
                     f"{_num(m.get('metrics', {}).get('test_accuracy'))} | "
                     f"{m.get('probe', {}).get('accuracy', '-')} |")
    out["index.md"] = "\n".join(index) + "\n"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for fname, text in cards().items():
        path = CARDS / fname
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(fname)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/model_cards.py")
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Copies the experiments' figures into docs/figures/ for the README as small PNGs (palette
quantised to 64 colours): `python scripts/docs_figures.py runs/fig1_filters_patches ...`.
Each experiment directory's `<figure>.png` becomes `docs/figures/<experiment>_<figure>.png`."""

import pathlib
import sys

from PIL import Image

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "figures"


def main(dirs):
    DOCS.mkdir(parents=True, exist_ok=True)
    for d in map(pathlib.Path, dirs):
        for png in sorted(d.glob("*.png")):
            target = DOCS / f"{d.name}_{png.name}"
            image = Image.open(png).convert("RGB")
            image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target,
                                                                            optimize=True)
            print(f"{target} {target.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(sys.argv[1:])

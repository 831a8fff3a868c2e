"""Where the shipped models and the recipes (flagfiles) are found, in a clone and after
`pip install`.

The repository keeps them at its root (`exported_models/`, `flags/`); the wheel carries copies
inside the package (`sdae_tf/shipped/models`: the models' packs from `packed_models/`, each
weight once in float16, unpacked into the cache on first use by `sdae_tf.hub.packing`;
`sdae_tf/shipped/recipes`; put there by `setup.py`'s build step), so a name resolves without
a clone. Names resolve, first hit wins:

- models: an explicit path, `$SDAE_TF_MODELS`, the installed models, the repository's
  `exported_models/`;
- recipes: the installed recipes, the repository's `flags/`.

A recipe is a flagfile whose first line names its tool (`# sdae-train --flagfile=...`), kept in
the folder of its kind (`RECIPE_KINDS`: `flags/models/` for sdae-train, `flags/experiments/`
for sdae-experiment, `flags/tuning/` for sdae-tune) and named by its file name alone; the
flagfiles that others include (`common`, `report_recipe`) sit at the root of `flags/` and are
reachable by their includers only.
`expand_argv` turns `--recipe=NAME` into the flagfile's flags, nested `--flagfile=flags/...`
lines resolved against the recipe's own folder, so it runs from any working directory; flags
after it still override.
"""

import os
import pathlib
import re

MODELS_ENV = "SDAE_TF_MODELS"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1]  # sdae_tf/
INSTALLED = PACKAGE_DIR / "shipped"
REPOSITORY = PACKAGE_DIR.parent
# The repository folder -> its copy inside the package (what setup.py's build step copies).
SHIPPED_DIRS = {"exported_models": "models", "flags": "recipes"}
RECIPE_FLAG = "--recipe"
# The folder of `flags/` each tool's recipes live in.
RECIPE_KINDS = {"sdae-train": "models", "sdae-experiment": "experiments", "sdae-tune": "tuning"}
_TOOL = re.compile(r"^#\s*(sdae-[a-z]+)\b")


def _repository_dir(folder):
    """The repository's `folder` when the package runs from a clone (source or editable)."""
    path = REPOSITORY / folder
    return path if (REPOSITORY / "setup.cfg").is_file() and path.is_dir() else None


def user_models_root():
    """`$SDAE_TF_MODELS` as a folder, None when unset; a value that is not a folder is an
    error naming it (a place the user named is never silently skipped)."""
    value = os.environ.get(MODELS_ENV)
    if not value:
        return None
    path = pathlib.Path(value)
    if not path.is_dir():
        raise FileNotFoundError(f"${MODELS_ENV}={value} is not a folder (it names where your "
                                "exported models are; unset it to use the shipped ones)")
    return path


def model_roots():
    """The folders shipped model names resolve in, in order (existing ones only;
    `$SDAE_TF_MODELS` first, which must exist when set)."""
    roots = []
    user = user_models_root()
    if user is not None:
        roots.append(user)
    roots.append(INSTALLED / SHIPPED_DIRS["exported_models"])
    repo = _repository_dir("exported_models")
    if repo is not None:
        roots.append(repo)
    return [r for r in roots if r.is_dir()]


def recipe_roots():
    """The folders recipe names resolve in, in order (existing ones only)."""
    roots = [INSTALLED / SHIPPED_DIRS["flags"]]
    repo = _repository_dir("flags")
    if repo is not None:
        roots.append(repo)
    return [r for r in roots if r.is_dir()]


def recipe_tool(path):
    """The tool a flagfile is run with (its first line, `# sdae-train ...`), None for an
    included flagfile.

    Args:
        path: a flagfile.

    Returns:
        "sdae-train", "sdae-experiment", "sdae-tune", or None.
    """
    with open(path) as f:
        match = _TOOL.match(f.readline())
    return match.group(1) if match else None


def recipe_summary(path, limit=110):
    """The first sentence of the flagfile's comment after its command line (what it
    reproduces or trains), cut to `limit` characters.

    Args:
        path: a flagfile.
        limit: the most characters returned.

    Returns:
        A str.
    """
    lines = []
    for line in pathlib.Path(path).read_text().splitlines()[1:]:
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    text = " ".join(lines)
    match = re.search(r"[.:;](\s|$)", text)
    text = text[:match.start()] if match else text
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def list_recipes():
    """{name: {"path", "tool", "summary"}} of every recipe, first root wins."""
    out = {}
    for root in recipe_roots():
        for path in sorted(root.glob("*/*.flags")):
            tool = recipe_tool(path)
            if tool and path.stem not in out:
                out[path.stem] = {"path": str(path), "tool": tool,
                                  "summary": recipe_summary(path)}
    return out


def recipe_path(name, tool=None):
    """The flagfile of recipe `name`; ValueError (one line, listing the known recipes of
    `tool`) if there is none, or if it belongs to another tool.

    Args:
        name: a recipe's name (a flagfile's stem).
        tool: the tool asking, or None (any).

    Returns:
        The flagfile's `pathlib.Path`.

    Raises:
        ValueError: an unknown recipe, or one of another tool.

    Example:

    ```python
    from sdae_tf.hub import resources
    resources.recipe_path("sdae_mnist", "sdae-train")  # .../flags/models/sdae_mnist.flags
    ```
    """
    recipes = list_recipes()
    if name not in recipes:
        known = sorted(n for n, r in recipes.items() if tool in (None, r["tool"]))
        where = ", ".join(str(r) for r in recipe_roots()) or "no recipe folder found"
        raise ValueError(f"Unknown recipe {name!r} (looked in {where}). Known"
                         f"{' ' + tool if tool else ''} recipes: {', '.join(known) or 'none'}")
    if tool is not None and recipes[name]["tool"] != tool:
        raise ValueError(f"Recipe {name!r} is run by {recipes[name]['tool']}, not {tool}: "
                         f"{recipes[name]['tool']} {RECIPE_FLAG}={name}")
    return pathlib.Path(recipes[name]["path"])


def expand_flagfile(path, seen=()):
    """The flags of a flagfile, one per line (comments and blank lines dropped), nested
    `--flagfile=` entries expanded in place. A relative nested path (the repository's
    `flags/x.flags` or `flags/KIND/x.flags`, relative to its root) is looked up in the recipe
    folder that holds the including flagfile (so installed recipes include installed ones),
    then by file name beside it, then as given.

    Args:
        path: a flagfile.
        seen: the flagfiles including it (a cycle is refused).

    Returns:
        A list of flags, one per line.
    """
    path = pathlib.Path(path)
    if path.resolve() in seen:
        raise ValueError(f"Flagfile {path} includes itself")
    args = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        if line.startswith("--flagfile="):
            nested = pathlib.Path(line.split("=", 1)[1])
            if not nested.is_absolute():
                nested = _nested_path(path, nested)
            if not nested.is_file():
                raise ValueError(f"Flagfile {path} includes {line.split('=', 1)[1]}, which "
                                 "does not exist")
            args.extend(expand_flagfile(nested, (*seen, path.resolve())))
        else:
            args.append(line)
    return args


def _nested_path(including, nested):
    """Where a relative `--flagfile=` of `including` points (see `expand_flagfile`)."""
    candidates = []
    here = including.resolve()
    root = next((r for r in recipe_roots() if r.resolve() in here.parents), None)
    if root is not None and nested.parts[:1] == ("flags",):
        candidates.append(root.joinpath(*nested.parts[1:]))
    # A copy of the repository's flags/ anywhere: the folder above that holds the include.
    candidates.extend(folder / nested for folder in here.parents)
    candidates.extend([nested, including.parent / nested.name])
    return next((c for c in candidates if c.is_file()), nested)


def expand_argv(argv, tool):
    """`argv` with each `--recipe=NAME` (or `--recipe NAME`) replaced by the recipe's flags,
    and each `--flagfile=PATH` by its flags (`expand_flagfile`: nested includes resolved
    from the including flagfile, so a flagfile runs from any working directory). Raises
    ValueError for an unknown recipe or one of another tool, or a missing flagfile.

    Args:
        argv: the command line.
        tool: the tool it is for.

    Returns:
        The command line with recipes expanded.

    Raises:
        ValueError: an unknown recipe or one of another tool.
    """
    out, i = [argv[0]], 1
    while i < len(argv):
        arg = argv[i]
        if arg == RECIPE_FLAG and i + 1 < len(argv):
            name, i = argv[i + 1], i + 2
        elif arg.startswith(RECIPE_FLAG + "="):
            name, i = arg.split("=", 1)[1], i + 1
        elif arg in ("--flagfile", "-flagfile") and i + 1 < len(argv) or \
                arg.startswith(("--flagfile=", "-flagfile=")):
            given = arg.split("=", 1)[1] if "=" in arg else argv[i + 1]
            i += 1 if "=" in arg else 2
            path = pathlib.Path(given).expanduser()
            if not path.is_file():
                raise ValueError(f"--flagfile={given}: no such file")
            out.extend(expand_flagfile(path))
            continue
        else:
            out.append(arg)
            i += 1
            continue
        out.extend(expand_flagfile(recipe_path(name, tool)))
    return out

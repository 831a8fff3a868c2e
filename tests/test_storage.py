"""The storage layer under every write (`sdae_tf.utils.storage` / `atomic`).

- An audit hook (`sys.addaudithook`) watches every file the package opens for writing while it
  saves, exports, packs, unpacks, draws, appends to a ledger and trains a run: a write that
  does not go through the layer (a staged `.tmp-` file, a `.partial-` staging folder, a
  declared append or lock) fails the test, and the layer's own report of each write
  (`storage.observers`) enumerates the write sites.
- The fault walk then makes each site it found fail as a full disk (ENOSPC) or a read-only one
  (EROFS) and checks that nothing the previous run wrote is lost or torn and nothing staged is
  left behind.
- Kills (SIGKILL at the layer's fault points, in a small process without TensorFlow) at every
  step of a file write, a folder swap and its portable two-rename fallback, and concurrent
  writers with `overwrite=False`.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from sdae_tf.utils import atomic, faults, storage

from .conftest import REPO

# --- the audit ------------------------------------------------------------------------------
_AUDIT = {"root": None, "bypass": [], "declared": set()}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _hook(event, args):
    root = _AUDIT["root"]
    if root is None or event != "open":
        return
    path, mode, flags = args
    if isinstance(path, int) or path is None:
        return
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
        (isinstance(flags, int) and flags & _WRITE_FLAGS)
    if not writes:
        return
    path = os.path.abspath(os.fsdecode(path))
    if not path.startswith(root):
        return
    parts = pathlib.Path(path).parts
    staged = any(p.startswith(atomic.TMP_PREFIX) or ".partial-" in p for p in parts)
    if staged or path in _AUDIT["declared"] or \
            pathlib.Path(path).name.startswith(storage.PROBE_PREFIX):
        return
    _AUDIT["bypass"].append(path)


@contextlib.contextmanager
def _audited(root):
    if not _AUDIT.get("installed"):  # once per process; it cannot be removed, and does
        sys.addaudithook(_hook)      # nothing while root is None
        _AUDIT["installed"] = True
    sites = set()

    def observer(kind, path, site):
        sites.add((kind, site))
        if kind in ("append", "lock"):
            _AUDIT["declared"].add(os.path.abspath(path))

    _AUDIT.update(root=str(pathlib.Path(root).resolve()), bypass=[], declared=set())
    storage.observers.append(observer)
    try:
        yield sites
    finally:
        storage.observers.remove(observer)
        _AUDIT["root"] = None


# --- the package's writers, small --------------------------------------------------------------
def _model(variant):
    from sdae_tf import models

    return models.get("sdae_mnist", input_shape=(8, 8, 1), hidden_units=(16, 8 + variant),
                      seed=variant)


def _save(root, variant):
    model = _model(variant)
    model.save(root / "model.keras")
    model.classifier(10).save(root / "classifier.keras")


def _export_and_pack(root, variant, digits):
    from sdae_tf.hub import packing

    model = _model(variant)
    model.export(root / "export", overwrite=True, dataset="digits",
                 check_sample=digits.x_test[:8])
    packing.pack(root / "export", root / "pack", overwrite=True)
    packing.unpack(root / "pack", cache=root / "presets")


def _draw(root, variant):
    from sdae_tf.evaluation import plots

    rng = np.random.default_rng(variant)
    plots.save_image_grid(rng.random((2, 3, 8, 8)).astype("float32"), root / "grid.png")


def _ledger(root, variant):
    from sdae_tf.reproduce.ledger import Ledger

    Ledger(root / "ledger.jsonl").append(root / f"run-{variant}", {"test_accuracy": 0.5 + variant},
                                         {"seed": variant})


def _variant_cache(root, variant):
    from sdae_tf.data import mnist

    rng = np.random.default_rng(variant)
    mnist._cached_variant("rot", rng.random((4, 28, 28)).astype("float32"),
                          rng.random((2, 28, 28)).astype("float32"), f"k{variant}", 0,
                          root / "variants", "report")


_RUNS = iter(range(10**6))


def _train(root, variant):
    from sdae_tf.runner import training
    from sdae_tf.runner.config import TrainConfig

    cfg = TrainConfig(model="sdae_mnist", dataset="digits",
                      model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                      finetune_epochs=1, batch_size=64, seed=variant,
                      verbose=0, run_dir=str(root / f"run-{next(_RUNS)}"),
                      export_dir=str(root / "run-export"), overwrite_export=True,
                      figures=("filters",))
    training.run(cfg)


def _experiment(root, variant):
    from sdae_tf.reproduce import experiments
    from sdae_tf.runner.config import TrainConfig

    base = TrainConfig(model="sdae_mnist", dataset="digits",
                       model_config={"hidden_units": (16, 8)}, pretrain_epochs=1,
                       finetune_epochs=1, batch_size=64, seed=variant,
                       verbose=0, figures=("filters",))
    experiments.run_experiment("x", base, ["sdae/digits: seed=" + str(variant)],
                               out_dir=root / "experiment", pool_dir=root / "pool",
                               ledger=root / "experiment-ledger.jsonl")


def _quick_writers(digits):
    return {"save": _save, "export": lambda r, v: _export_and_pack(r, v, digits),
            "draw": _draw, "ledger": _ledger, "variants": _variant_cache}


# --- what a file must be after any fault ---------------------------------------------------------
def _whole(path):
    """Raises unless `path` is a complete file of its kind."""
    data = path.read_bytes()
    if path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".jsonl":
        for line in data.decode().splitlines()[:-1]:
            json.loads(line)
    elif path.suffix in (".keras", ".npz"):
        assert zipfile.ZipFile(path).testzip() is None
    elif path.suffix == ".h5":
        import h5py

        with h5py.File(path, "r") as f:
            list(f)
    elif path.suffix == ".png":
        assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")


def _tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def _leftovers(root):
    return [p for p in root.rglob("*") if p.name.startswith(atomic.TMP_PREFIX)
            or ".partial-" in p.name or p.name.endswith(atomic.PREVIOUS_SUFFIX)]


def _walk(root, writers, variant_before, variant_after, monkeypatch):
    """Each write site the writers reach: a full or read-only disk there; returns the sites."""
    with _audited(root) as sites:
        for write in writers.values():
            write(root, variant_before)
    assert not _AUDIT["bypass"], f"writes that bypass the storage layer: {_AUDIT['bypass']}"
    walked = []
    for i, (kind, site) in enumerate(sorted(sites)):
        if kind == "lock":
            continue  # a claim's lock file: held, never replaced
        before = _tree(root)
        action = ("enospc", "erofs")[i % 2]
        monkeypatch.setenv(faults.ENV, f"{action}:site:{site}")
        faults._hits.clear()
        failed = None
        for write in writers.values():
            try:
                write(root, variant_after)
            except Exception as err:  # noqa: BLE001  (the fault, in whatever words)
                failed = err
                break
        monkeypatch.delenv(faults.ENV)
        assert faults._hits[f"site:{site}"], f"{site}: the {action} fault was not reached"
        # Raised as a storage fault, or handled where losing the write loses nothing (a
        # cache: warned, built again next time).
        assert failed is None or storage.storage_errno(failed) is not None, f"{site}: {failed!r}"
        assert not _leftovers(root), f"{site}: staged files left: {_leftovers(root)}"
        after = _tree(root)
        lost = sorted(set(before) - set(after))
        assert not lost, f"{site}: {action} lost {lost}"
        for name, digest in after.items():
            if before.get(name) != digest:
                _whole(root / name)  # a new or replaced file is whole, never torn
        walked.append(site)
    return sites, walked


def test_every_write_goes_through_the_layer_and_survives_a_fault_at_its_site(
        tmp_path, digits, monkeypatch):
    monkeypatch.setenv("SDAE_TF_CACHE", str(tmp_path / "cache"))
    sites, walked = _walk(tmp_path, _quick_writers(digits), 0, 1, monkeypatch)
    kinds = {kind for kind, _ in sites}
    assert {"keras", "dir", "file", "append"} <= kinds, sites
    modules = {site.split(":")[0] for _, site in sites}
    assert {"sdae_tf.zoo.family", "sdae_tf.zoo.heads", "sdae_tf.hub.export",
            "sdae_tf.hub.packing", "sdae_tf.evaluation.plots", "sdae_tf.reproduce.ledger",
            "sdae_tf.data.mnist"} <= modules, modules
    assert len(walked) >= 7


@pytest.mark.slow
def test_a_training_run_writes_only_through_the_layer_and_survives_a_fault_at_each_site(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SDAE_TF_CACHE", str(tmp_path / "cache"))
    sites, walked = _walk(tmp_path, {"train": _train, "experiment": _experiment}, 0, 1,
                          monkeypatch)
    modules = {site.split(":")[0] for _, site in sites}
    assert {"sdae_tf.train.checkpoints", "sdae_tf.hub.export", "sdae_tf.utils.claims",
            "sdae_tf.reproduce.experiments", "sdae_tf.reproduce.ledger"} <= modules, sites
    assert len(walked) >= 5


# --- kills, in a process without TensorFlow -----------------------------------------------------
_SCRIPT = textwrap.dedent("""
    import pathlib, sys
    from sdae_tf.utils import storage
    what, target, text = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    if what == "dir":
        with storage.staged_dir(target) as staged:
            (staged / "data.txt").write_text(text)
    elif what == "file":
        storage.write_text_atomic(target, text)
    elif what == "append":
        storage.append_line(target, text)
    elif what == "dir-noreplace":
        try:
            with storage.staged_dir(target, overwrite=False) as staged:
                (staged / "data.txt").write_text(text)
        except FileExistsError:
            sys.exit(3)
    elif what == "file-noreplace":
        try:
            storage.write_text_atomic(target, text, overwrite=False)
        except FileExistsError:
            sys.exit(3)
""")


def _write(what, target, text, fault=None, portable=False, start=None):
    env = {k: v for k, v in os.environ.items() if k not in (faults.ENV, atomic.PORTABLE_ENV)}
    if fault:
        env[faults.ENV] = fault
    if portable:
        env[atomic.PORTABLE_ENV] = "1"
    argv = [sys.executable, "-c", _SCRIPT, what, str(target), text]
    if start:
        return subprocess.Popen(argv, cwd=REPO, env=env)
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("portable", [False, True], ids=["exchange", "two-renames"])
def test_a_folder_replaced_under_kills_at_every_step_is_never_lost(tmp_path, portable):
    target = tmp_path / "export"
    assert _write("dir", target, "first", portable=portable).returncode == 0
    points = ["kill:write:dir"] + (["kill:write:dir-aside"] if portable else [])
    for n, point in enumerate(points):
        result = _write("dir", target, f"killed {n}", fault=point, portable=portable)
        assert result.returncode == -9, result.stderr
        storage.recover(target)  # what every writer and loader of the folder does first
        assert (target / "data.txt").read_text() == "first"
    # A second kill after a first one, then a clean write: the old version, then the new one.
    if portable:
        _write("dir", target, "x", fault="kill:write:dir-aside", portable=True)
        assert not target.exists()  # the old one is aside: only recover() knows it
        _write("dir", target, "y", fault="kill:write:dir", portable=True)
        assert (target / "data.txt").read_text() == "first"
    assert _write("dir", target, "second", portable=portable).returncode == 0
    assert (target / "data.txt").read_text() == "second"
    storage.remove_stale_staging(target)
    assert not _leftovers(tmp_path), _leftovers(tmp_path)


def test_a_loader_recovers_an_export_a_kill_left_aside(tmp_path):
    from sdae_tf.hub import export as export_lib

    target = tmp_path / "export"
    target.mkdir()
    (target / export_lib.MANIFEST_FILE).write_text('{"model": "m"}')
    os.rename(target, atomic._previous_path(target))  # what a kill between the renames leaves
    assert export_lib.load_manifest(target) == {"model": "m"}


def test_a_killed_file_write_or_append_leaves_the_old_file_and_a_clean_next_line(tmp_path):
    path = tmp_path / "config.json"
    assert _write("file", path, '{"a": 1}').returncode == 0
    assert _write("file", path, '{"a": 2}', fault="kill:write:file").returncode == -9
    assert json.loads(path.read_text()) == {"a": 1}
    assert _write("file", path, '{"a": 3}').returncode == 0  # and clears what the kill left
    assert json.loads(path.read_text()) == {"a": 3} and not _leftovers(tmp_path)
    ledger = tmp_path / "ledger.jsonl"
    _write("append", ledger, '{"n": 1}')
    with open(ledger, "a") as f:
        f.write('{"n": 2, "torn')  # a kill mid-append
    assert _write("append", ledger, '{"n": 3}', fault="kill:write:append").returncode == -9
    assert _write("append", ledger, '{"n": 4}').returncode == 0
    lines = ledger.read_text().splitlines()
    assert lines[0] == '{"n": 1}' and lines[-1] == '{"n": 4}' and len(lines) == 3


@pytest.mark.parametrize("what", ["dir-noreplace", "file-noreplace"])
@pytest.mark.parametrize("portable", [False, True], ids=["renameat2", "portable"])
def test_overwrite_false_holds_under_concurrent_writers(tmp_path, what, portable):
    target = tmp_path / "export"
    procs = [_write(what, target, f"writer {i}", portable=portable, start=True)
             for i in range(4)]
    codes = [p.wait(60) for p in procs]
    assert sorted(codes) == [0, 3, 3, 3], codes
    winner = codes.index(0)
    data = target / "data.txt" if what.startswith("dir") else target
    assert data.read_text() == f"writer {winner}"
    assert not _leftovers(tmp_path)


# --- the defects of issue 42, each ---------------------------------------------------------
def test_a_failed_save_keeps_the_file_it_replaces(tmp_path, monkeypatch):
    import keras

    small = _model(0)
    small.save(tmp_path / "m.keras")
    monkeypatch.setenv(faults.ENV, "enospc:write:keras")
    with pytest.raises(storage.StorageError, match=r"no space left.*m\.keras is as it was"):
        _model(8).save(tmp_path / "m.keras")
    monkeypatch.delenv(faults.ENV)
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.encoder.output_shape == (None, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
    with pytest.raises(FileExistsError, match="already exists"):
        small.save(tmp_path / "m.keras", overwrite=False)


def test_a_torn_or_null_ledger_line_loses_no_record(tmp_path, capsys):
    from sdae_tf.reproduce.ledger import Ledger

    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    assert ledger.append(tmp_path / "a", {"test_accuracy": 0.9}, {"seed": 0})
    path.write_bytes(path.read_bytes()[:-20])  # its tail torn off
    with open(path, "a") as f:
        f.write("\nnull\n")
    assert ledger.append(tmp_path / "b", {"test_accuracy": 0.8}, {"seed": 1})
    assert [r["run"] for r in ledger.records()] == ["b"]
    warned = capsys.readouterr().out
    assert "line 1 is not a JSON record" in warned and "line 2" in warned
    assert ledger.find("b")["metrics"] == {"test_accuracy": 0.8}


def test_a_long_name_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"at most 207 are allowed"):
        storage.check_name(tmp_path / ("e" * 250), "--export_dir")
    with pytest.raises(ValueError, match="at most 207"):
        with storage.staged_dir(tmp_path / ("r" * 300)):
            pass
    assert list(tmp_path.iterdir()) == []


_EXPORT = textwrap.dedent("""
    import pathlib, sys, time
    from sdae_tf import models
    target, start = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    model = models.get("sdae_mnist", input_shape=(8, 8, 1), hidden_units=(8,),
                       seed=int(sys.argv[3]))
    (start.parent / f"ready-{sys.argv[3]}").touch()
    while not start.exists():  # both processes export at the same instant
        time.sleep(0.01)
    try:
        model.export(target, overwrite=False, dataset="digits")
    except FileExistsError as err:
        print(err)
        sys.exit(3)
""")


@pytest.mark.slow
def test_two_python_exports_with_overwrite_false_to_one_path_one_wins(tmp_path):
    target, start = tmp_path / "export", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _EXPORT, str(target), str(start), str(i)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True) for i in range(2)]
    import time

    deadline = time.monotonic() + 240
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # both have imported TensorFlow and built their model
    start.touch()
    codes = sorted(p.wait(300) for p in procs)
    assert codes == [0, 3], codes
    from sdae_tf.hub import export as export_lib

    export_lib.verify_checksums(target)
    assert not _leftovers(tmp_path)

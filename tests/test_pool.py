"""The run pool shared by concurrent processes: claims (each run trained once, never two at a
time, a dead holder's claim free again), the results ledger, and the Dask executor matching
the sequential runner cell for cell."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from sdae_tf.reproduce.ledger import Ledger
from sdae_tf.utils import claims, faults

from .conftest import REPO

# A quick experiment on the 8x8 digits: one shared pretraining for three cells, one cell of
# another family, one cell that reads another's metrics.
FLAGFILE = """\
# sdae-experiment --flagfile=pooltest.flags
--model=sdae_mnist
--dataset=digits
--hidden_units=32,16
--pretrain_epochs=1
--finetune_epochs=1
--batch_size=32
--verbose=0
--experiment=pooltest
--run=sdae/s0: seed=0
--run=sdae/lr: learning_rate=3e-3
--run=sdae/head: head_units=64
--run=sae/s0: model=sae_mnist
--run=sdae/ref: noise_level=@sae/s0.test_accuracy finetune_epochs=1
"""
CELLS = ["sdae/s0", "sdae/lr", "sdae/head", "sae/s0", "sdae/ref"]
# Runs: five cells, and three pretrainings (sdae's, shared by three cells; sae's; the ref
# cell's own, its noise level differing).
RUNS = 5 + 3


def _exe(tool="sdae-experiment"):
    return str(pathlib.Path(sys.executable).parent / tool)


def _flagfile(tmp_path):
    path = tmp_path / "pooltest.flags"
    path.write_text(FLAGFILE)
    return path


def _argv(tmp_path, pool, out, *extra, ledger="ledger.jsonl"):
    """A fresh pool must come with its own ledger to train anything: a cell the ledger
    records (same run, same configuration) is taken from it, not retrained."""
    return [_exe(), f"--flagfile={_flagfile(tmp_path)}", f"--pool_dir={pool}",
            f"--out_dir={out}", f"--ledger={tmp_path / ledger}", *extra]


def _env(tmp_path, **extra):
    env = {**os.environ, "SDAE_TF_CACHE": str(tmp_path / "cache"), **extra}
    if faults.ENV not in extra:
        env.pop(faults.ENV, None)
    return env


def _cells(out):
    record = json.loads((pathlib.Path(out) / "experiment.json").read_text())
    assert record["pending"] == []
    return {f"{r['column']}/{r['row']}": {k: r[k] for k in ("test_accuracy", "val_accuracy",
                                                             "mean_sigma", "model", "dataset")}
            for r in record["runs"]}


def _trainings(*outputs):
    """{run directory: times a process started training it afresh} over the outputs."""
    counts = {}
    for text in outputs:
        for run_dir in re.findall(r"^Training a new run in (\S+)$", text, re.M):
            counts[run_dir] = counts.get(run_dir, 0) + 1
    return counts


def test_claim_is_exclusive_reentrant_and_dies_with_its_holder(tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from sdae_tf.utils import claims
        claims.Claim({str(run_dir)!r}).acquire()
        print("held", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert claims.is_claimed(run_dir)
        with pytest.raises(claims.RunClaimedError, match=rf"process {holder.pid} on "):
            claims.Claim(run_dir).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert not claims.is_claimed(run_dir)  # the kernel dropped the dead holder's lock
        with claims.Claim(run_dir) as claim:
            with claims.Claim(run_dir):  # the same process again: re-entrant
                assert not claims.is_claimed(run_dir)
            assert claims.holder(run_dir)["pid"] == os.getpid() and claim.path.exists()
    finally:
        holder.kill()


ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


@pytest.mark.slow  # the claims themselves are tested in the default run, above
def test_processes_sharing_a_pool_and_a_dask_cluster_agree(tmp_path):
    """Two `sdae-experiment` processes started together on one pool (one waits for claimed
    runs, the other skips them and comes back; one TensorFlow thread each): every run trained
    exactly once, nobody resumes what the other is training, identical records, every cell in
    the ledger once. Then a two-worker LocalCluster (one thread each) runs the experiment, its
    shared pretrainings and its reference as a task graph on a fresh pool: the same records,
    cell for cell, in the flagfile's order; the dashboard address printed."""
    pool = tmp_path / "pool"
    procs = [subprocess.Popen(_argv(tmp_path, pool, tmp_path / f"out{i}",
                                    f"--when_claimed={mode}"),
                              cwd=REPO, env=_env(tmp_path, **ONE_THREAD),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, mode in enumerate(("wait", "skip"))]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    stdout = [o for o, _ in outs]
    counts = _trainings(*stdout)
    assert len(counts) == RUNS and set(counts.values()) == {1}, counts
    assert not any("Resuming the run" in o for o in stdout)
    cells = _cells(tmp_path / "out0")
    assert cells == _cells(tmp_path / "out1") and list(cells) == CELLS
    logged = Ledger(tmp_path / "ledger.jsonl").records()
    assert {r["cell"] for r in logged} >= set(CELLS)
    for record in logged:
        assert record["machine"]["instruction_sets"] is not None and record["metrics"]
    # One ledger line per (run, cell) however many processes reused it.
    keys = [(r["run"], r["cell"], r["experiment"]) for r in logged]
    assert len(keys) == len(set(keys))

    dask = subprocess.run(_argv(tmp_path, tmp_path / "pool_dask", tmp_path / "dask",
                                "--executor=dask", "--workers=2", "--threads_per_worker=1",
                                ledger="dask.jsonl"),
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert dask.returncode == 0, (dask.stdout[-2000:], dask.stderr[-3000:])
    assert len(_trainings(dask.stdout)) == RUNS, dask.stdout[-3000:]  # trained, not reused
    assert re.search(r"Dask cluster: 2 workers, dashboard http://\S+", dask.stdout), dask.stdout
    assert _cells(tmp_path / "dask") == cells
    assert list(_cells(tmp_path / "dask")) == CELLS  # the flagfile's order, not completion's


@pytest.mark.slow
def test_killed_claim_holder_is_resumed_by_the_next_process(tmp_path):
    """A process killed inside a run (its claim held): the next process takes the claim,
    resumes the run from its checkpoint, and ends where an uninterrupted experiment ends."""
    one, two = "--cells=sdae/s0", "--finetune_epochs=2"
    killed = subprocess.run(_argv(tmp_path, tmp_path / "pool", tmp_path / "killed", one, two),
                            cwd=REPO,
                            env=_env(tmp_path, **{faults.ENV: "kill:epoch:finetune@1"}),
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = subprocess.run(_argv(tmp_path, tmp_path / "pool", tmp_path / "resumed", one, two),
                             cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming finetune after epoch 1" in resumed.stdout
    clean = subprocess.run(_argv(tmp_path, tmp_path / "pool2", tmp_path / "clean", one, two),
                           cwd=REPO, env=_env(tmp_path), capture_output=True, text=True,
                           timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert _cells(tmp_path / "resumed") == _cells(tmp_path / "clean")


@pytest.mark.slow
def test_dask_worker_lost_mid_cell_is_retried_and_resumes(tmp_path):
    """A worker killed inside a cell's fine-tuning (once, whichever worker gets there first):
    the scheduler retries the task on a live worker, which takes the dead worker's claim,
    resumes the run from its checkpoint, and the records are the uninterrupted ones."""
    seq = subprocess.run(_argv(tmp_path, tmp_path / "pool_seq", tmp_path / "seq",
                               "--finetune_epochs=2"),
                         cwd=REPO, env=_env(tmp_path, **ONE_THREAD), capture_output=True,
                         text=True, timeout=600)
    assert seq.returncode == 0, seq.stderr[-3000:]
    marker = tmp_path / "killed-once"
    dask = subprocess.run(_argv(tmp_path, tmp_path / "pool_dask", tmp_path / "dask",
                                "--finetune_epochs=2", "--executor=dask", "--workers=2",
                                "--threads_per_worker=1", ledger="dask.jsonl"),
                          cwd=REPO, env=_env(tmp_path, **{faults.ENV: "killonce:epoch:finetune@1",
                                                          faults.PAUSE_FILE_ENV: str(marker)}),
                          capture_output=True, text=True, timeout=900)
    assert dask.returncode == 0, (dask.stdout[-2000:], dask.stderr[-3000:])
    assert marker.exists()  # a worker was killed
    assert _cells(tmp_path / "dask") == _cells(tmp_path / "seq")

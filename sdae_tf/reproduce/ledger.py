"""The results ledger: every finished cell of every experiment, one JSON object per line, in a
file meant to be committed (the run pool goes with the machine; the ledger stays).

A line holds the run's name in the pool (model, dataset, configuration key), the experiment
and cell, the configuration (`run_identity.identity`), the run's whole `metrics.json`, the machine
(CPU model and instruction sets, cores, threads, commit) and when it was appended. Appends are
one `write` under an exclusive lock, so processes sharing a ledger never interleave lines; a
run already in the ledger with the same metrics is not appended again. A torn last line (a
kill mid-append) is closed before the next record (`sdae_tf.utils.storage.append_line`), and
readers skip, naming it, any line that is not a JSON record. Readers
(`benchmarks/report_tables.py`, `benchmarks/beyond_report.py`) take a run's metrics from the
ledger when the pool no longer has it.
"""

import datetime
import json
import pathlib

from sdae_tf.utils import machine, storage


class Ledger:
    """A ledger file (JSON Lines). `append(...)` records a finished run; `find(run_name)`
    gives the newest record of a run (or None); `records()` every record, oldest first.

    Args:
        path: the JSON Lines file (created on the first append).
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def records(self):
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a torn line of a kill or a full disk: skip, say so
                record = None
            if not isinstance(record, dict):
                print(f"warning: {self.path} line {number} is not a JSON record; skipped",
                      flush=True)
                continue
            out.append(record)
        return out

    def find(self, run_name):
        """The newest record of the run named `run_name` (its pool directory's name)."""
        found = None
        for record in self.records():
            if record.get("run") == run_name:
                found = record
        return found

    def metrics(self, run_dir):
        """The metrics of the run in `run_dir`: its metrics.json if the pool still has it,
        else the ledger's, else None."""
        path = pathlib.Path(run_dir) / "metrics.json"
        if path.exists():
            return storage.read_json(path, "the run's metrics")
        record = self.find(pathlib.Path(run_dir).name)
        return None if record is None else record["metrics"]

    def append(self, run_dir, metrics, config, experiment=None, cell=None, machine_facts=None):
        """Appends the finished run of `run_dir` unless the ledger holds it with these
        metrics already (`machine_facts`: the machine that measured them, when not this one).
        Returns True when a line was written."""
        run_dir = pathlib.Path(run_dir)
        clean = {k: v for k, v in metrics.items()
                 if k not in ("run_dir", "reused", "from_ledger", "measured_on")}
        record = {
            "run": run_dir.name,
            "experiment": experiment,
            "cell": cell,
            "config": config,
            "metrics": clean,
            "machine": machine_facts or machine.describe(clean.get("threads")),
            "seconds": clean.get("seconds"),
            "appended": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        line = json.dumps(record, sort_keys=True, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        same = json.loads(json.dumps(clean, sort_keys=True, default=str))

        def recorded():
            return any(r.get("run") == run_dir.name and r.get("cell") == cell
                       and r.get("experiment") == experiment and r.get("metrics") == same
                       for r in self.records())

        return storage.append_line(self.path, line, unless=recorded)

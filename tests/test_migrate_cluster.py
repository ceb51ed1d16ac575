"""`graphport migrate --dask`: the per-model runs on a Dask cluster (a LocalCluster of two worker
processes here), one of which is killed mid-run; the summary is complete and right, and a
rerun resumes (issue 27)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

from graphport.commands.migrate import migrate
from graphport.commands.migrate_model import MIGRATED, ModelEntry

pytestmark = pytest.mark.tf

MODELS = 4


@pytest.fixture
def cluster() -> object:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local, Client(local) as client:
        yield local, client


def test_a_worker_killed_mid_run_loses_nothing(cluster: object, tmp_path: Path) -> None:
    local, client = cluster  # type: ignore[misc]
    root = tmp_path / "zoo"
    root.mkdir()
    for n in range(MODELS):
        shutil.copy(FIXTURES / "digits_cnn.pb", root / f"digits_{n}.pb")
    out = tmp_path / "out"
    started, events = threading.Event(), []

    def on_event(kind: str, entry: ModelEntry, detail: str) -> None:
        events.append((kind, entry.model, detail))
        if kind == "stage":
            started.set()

    killed = []

    def kill_one_worker() -> None:
        assert started.wait(300), "no model started"
        pid = next(iter(client.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)  # its running model goes with it, mid-run
        killed.append(pid)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    result = migrate(root, out, cluster=local.scheduler_address, on_event=on_event)
    killer.join()
    assert killed, "no worker was killed"
    assert [m.status for m in result.models] == [MIGRATED] * MODELS, \
        [(m.model, m.error) for m in result.models]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {MIGRATED: MODELS}
    for n in range(MODELS):
        assert (out / f"digits_{n}.pb" / "model.tflite").is_file() or \
            any((out / f"digits_{n}.pb").rglob("*.tflite"))
    assert not list(out.glob(".*.tmp-*")), "a killed attempt left its build folder"
    assert {kind for kind, _, _ in events} >= {"queued", "start", "stage", "done"}

    # a rerun against the same cluster, from the command line: every model is kept
    again = run_cli("migrate", root, "-o", out, "--dask", local.scheduler_address, "--json",
                    timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    data = json.loads(again.stdout)
    assert data["counts"] == {MIGRATED: MODELS}
    assert all(m["reused"] for m in data["models"])


def test_jobs_and_dask_are_refused_together(tmp_path: Path) -> None:
    result = run_cli("migrate", FIXTURES, "-o", tmp_path / "out", "--dask", "tcp://x:1",
                     "--jobs", "2")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --jobs with --dask")

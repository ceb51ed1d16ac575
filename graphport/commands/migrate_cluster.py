"""`graphport migrate --dask ADDRESS`: the same per-model runs on a Dask cluster.

Each model is one Dask task that runs the per-model worker in a process of its own on a Dask
worker, with the run's time and memory limits, building in a fresh folder beside the model's
slot in OUT (a path every worker can write). The client here installs what a task built and
writes the summary as each one finishes, as a local run does, so an interrupted run resumes
the same way. Dask does the rest: placing the tasks, and running a task again elsewhere when
the worker holding it dies (up to the scheduler's ``allowed-failures``; then the model is
failed, crashed, and retried on the next run). Progress comes back as Dask structured events
(``Worker.log_event`` -> ``Client.subscribe_topic``).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from graphport.commands.migrate_model import (
    FAILED,
    Limits,
    ModelEntry,
    log_path,
    migrate_model,
    scratch_slot,
)
from graphport.errors import UserError

TOPIC = "graphport-migrate"


def run_model(job: dict[str, Any], limits: dict[str, Any], out: str,
              fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """On a Dask worker: one model's run from its entry so far (``fields``: fingerprint,
    options inspect applied); the entry after it and the folder it built in."""
    from distributed import get_worker

    worker = get_worker()
    target, entry = Path(out), ModelEntry(**fields)
    model = entry.model
    temp = scratch_slot(target, model, uuid.uuid4().hex[:12])  # one per attempt
    worker.log_event(TOPIC, {"model": model, "stage": None})
    migrate_model({**job, "out": str(temp)}, entry, Limits(**limits), log_path(target, entry),
                  lambda stage: worker.log_event(TOPIC, {"model": model, "stage": stage}))
    return asdict(entry), str(temp)


def run_on_cluster(address: str, work: list[tuple[ModelEntry, dict[str, Any]]],
                   target: Path, limits: Limits,
                   event: Callable[[str, ModelEntry, str], None],
                   finish: Callable[[ModelEntry, Path | None], None]) -> None:
    """Run ``work`` on the scheduler at ``address``; ``finish`` each model as it ends."""
    try:
        from distributed import Client, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise UserError("--dask needs Dask's distributed package",
                        "pip install 'graphport[cluster]'") from None
    try:
        client = Client(address, timeout="20s")
    except OSError as error:
        raise UserError(f"--dask {address}: no Dask scheduler answered ({error})",
                        "start one with: dask scheduler; then dask worker ADDRESS "
                        "(on each machine)") from None
    by_model = {entry.model: entry for entry, _ in work}
    done: set[str] = set()
    lock = threading.Lock()

    def progress(message: tuple[float, dict[str, Any]]) -> None:
        """A stage from a worker as a progress event (none after the model is done)."""
        data = message[1]
        entry = by_model.get(str(data.get("model")))
        with lock:
            if entry is not None and entry.model not in done:
                stage = data.get("stage")
                event("start" if stage is None else "stage", entry, stage or "")

    client.subscribe_topic(TOPIC, progress)
    futures = {client.submit(run_model, job, asdict(limits), str(target), asdict(entry),
                             key=f"graphport-migrate-{uuid.uuid4().hex}", pure=False): entry
               for entry, job in work}
    try:
        for future in as_completed(futures):
            entry = futures[future]
            temp = None
            try:
                fields, built = future.result()
                entry.__dict__.update(fields)
                temp = Path(built)
            except KilledWorker:
                entry.status, entry.crashed = FAILED, True
                entry.error = "the Dask workers running it died each time it was tried"
                entry.hint = "see the workers' logs; rerun to try it again"
            except Exception as error:  # a task failed: that model only
                entry.status, entry.crashed = FAILED, True
                entry.error = f"its Dask task failed: {type(error).__name__}: {error}"
                entry.hint = "rerun to try it again"
            try:
                finish(entry, temp)
            finally:
                _drop_scratch(target, entry.model)
                with lock:
                    done.add(entry.model)
                event("done", entry, entry.status)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.unsubscribe_topic(TOPIC)
        client.close()


def _drop_scratch(target: Path, model: str) -> None:
    """The build folders of this model's attempts, including those of a worker that died."""
    slot = target / model
    for temp in slot.parent.glob(f".{slot.name}.tmp-*"):
        shutil.rmtree(temp, ignore_errors=True)

"""`graphport to-savedmodel`: wrap a frozen graph into a SavedModel with a serving signature and
check that it gives the same numbers as the original graph."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphport.checkpoint.open import read_graph
from graphport.errors import ConversionError, api_errors
from graphport.export.savedmodel import run_saved_model, write_saved_model
from graphport.graph.types import GraphProto
from graphport.outputs import DIRECTORY, atomic_path, check_target, output_path
from graphport.passes.base import SAVEDMODEL
from graphport.passes.frontend import prepare_for_export
from graphport.progress import Progress, or_silent
from graphport.spec.options import GraphSpec, VerifySpec
from graphport.spec.signature import PreparedGraph
from graphport.spec.values import plain_value
from graphport.verify.parity import MISMATCH, OutputParity, compare_outputs, parity_warnings, worst
from graphport.verify.samples import sample_inputs


@dataclass
class SavedModelResult:
    """What was written, under which names, and how well it matched the original graph."""

    path: str
    signature: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    pinned: dict[str, Any]
    notes: list[str]
    rewrites: list[dict[str, Any]]
    verified: bool
    verdict: str  # the worst output's verdict (see verify/parity.py); "unverified" if skipped
    parity: list[OutputParity] = field(default_factory=list)
    sample_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_original(graph: GraphProto, prepared: PreparedGraph, samples: dict[str, np.ndarray]
                 ) -> dict[str, np.ndarray]:
    """Run the unedited graph in a TF1 session, feeding the samples and the pinned values."""
    from graphport.backend.tf_graph import run_graph, to_tf

    feeds = {t.source: samples[t.key] for t in prepared.inputs}
    feeds.update({f"{name}:0": value for name, value in prepared.pinned.items()})
    fetched = run_graph(to_tf(graph), feeds, [t.source for t in prepared.outputs])
    return {t.key: value for t, value in zip(prepared.outputs, fetched, strict=True)}


def _verification_run(what: str, run: Callable[..., dict[str, np.ndarray]], *args: Any
                      ) -> dict[str, np.ndarray]:
    """Run one side of the parity check; TensorFlow errors become one clear ConversionError."""
    from graphport.backend.runtime import tensorflow
    from graphport.backend.tf_graph import error_line

    try:
        return run(*args)
    except tensorflow().errors.OpError as error:
        raise ConversionError(f"verification could not run {what}: {error_line(error)}",
                              "give real inputs with --sample NAME=FILE (.npy or image) or "
                              "NAME=VALUE, or skip with --no-verify") from None


@api_errors
def to_savedmodel(
    graph_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    graph: GraphSpec | None = None,
    verify: VerifySpec | None = None,
    signature: str = "serving_default",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SavedModelResult:
    """Wrap a frozen GraphDef into a SavedModel; verify it unless ``verify.enabled`` is off.

    ``graph``: signature, pins and repairs (default: what inspect finds, the default
    pipeline). Raises UserError for bad input (nothing written) and ConversionError when the
    SavedModel does not match the original graph (nothing left behind either).
    """
    step = or_silent(progress)
    spec, check = graph or GraphSpec(), verify or VerifySpec()
    graph_path = Path(graph_path)
    target = check_target(output_path(output_dir, f"{graph_path.stem}_savedmodel", DIRECTORY),
                          overwrite, kind=DIRECTORY)
    step("reading graph")
    frozen_notes: list[str] = []
    original = read_graph(graph_path, spec.outputs, spec.allow_unsafe_ops, frozen_notes)
    step("preparing and repairing the graph")
    prepared = prepare_for_export(original, spec, SAVEDMODEL)
    prepared.notes[:0] = frozen_notes
    sample_arrays, sample_notes = (sample_inputs(prepared.inputs, check.given, bgr=check.bgr)
                                   if check.enabled else ({}, []))

    parity: list[OutputParity] = []
    with atomic_path(target, overwrite, directory=True) as temp:
        step("writing SavedModel")
        write_saved_model(prepared, temp, signature)
        if check.enabled:
            step("running the original graph")
            reference = _verification_run("the original graph", run_original, original, prepared,
                                          sample_arrays)
            step("running the SavedModel")
            candidate = _verification_run("the SavedModel", run_saved_model, temp, signature,
                                          sample_arrays)
            parity = compare_outputs(reference, candidate)
            failed = [p for p in parity if p.verdict == MISMATCH]
            if failed:
                listed = ", ".join(
                    f"{p.key} (max abs err {p.max_abs}, NaN/Inf in other places "
                    f"{p.nonfinite_mismatches}, shapes {p.shape} vs {p.other_shape})"
                    for p in failed)
                raise ConversionError(f"verification failed: the SavedModel differs from "
                                      f"{graph_path} on {listed}; nothing was written",
                                      "rerun with --debug and report it")
    warnings = parity_warnings(parity)
    return SavedModelResult(
        path=str(target),
        signature=signature,
        inputs=[{"key": t.key, "tensor": t.source, "dtype": t.dtype, "shape": t.shape}
                for t in prepared.inputs],
        outputs=[{"key": t.key, "tensor": t.source} for t in prepared.outputs],
        pinned={k: plain_value(v) for k, v in prepared.pinned.items()},
        notes=prepared.notes,
        rewrites=[asdict(r) for r in prepared.rewrites],
        verified=check.enabled,
        verdict=worst([p.verdict for p in parity]),
        parity=parity,
        sample_notes=sample_notes,
        warnings=warnings,
    )

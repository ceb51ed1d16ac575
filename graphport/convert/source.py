"""What `graphport tflite` converts and runs as the reference: a frozen graph prepared the same
way as for to-savedmodel, or a SavedModel directory's serving signature.

Frozen graphs are handed to TensorFlow's GraphDef converter directly instead of through a
temporary SavedModel: on the 179 MB ResNet-v2-101 the SavedModel route measured 55 s and 7.7 GB
against 7 s and 2.9 GB (scripts/bench_convert.py); the preparation (names, pins, cuts, safety) is
the shared to-savedmodel code either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from graphport.checkpoint.open import read_graph
from graphport.errors import UserError
from graphport.graph import load, oplists
from graphport.graph.fake_quant import FAKE_QUANT_OPS
from graphport.graph.nodes import parse_input
from graphport.graph.oplists import RUNTIME_CUSTOM_OPS
from graphport.graph.safety import ensure_safe
from graphport.graph.schema import GraphDef
from graphport.graph.tensors import dtype_name, shape_list
from graphport.graph.types import GraphProto, TFGraphDef
from graphport.passes.base import TFLITE, PassResult
from graphport.passes.frontend import prepare_for_export
from graphport.passes.pipeline import needs_repair, resolve
from graphport.spec.options import CalibrationSpec, GraphSpec
from graphport.spec.signature import SignatureTensor
from graphport.spec.values import numpy_dtype

SIGNATURE = "serving_default"


@dataclass
class SourceModel:
    """Either ``graph_def`` (TensorFlow's, prepared) or ``saved_model`` is set."""

    inputs: list[SignatureTensor]
    outputs: list[SignatureTensor]
    graph_def: TFGraphDef = None
    saved_model: Path | None = None
    rewrites: list[PassResult] = field(default_factory=list)  # passes run on a frozen graph
    # The graph before repairs: what parity runs as the source, so a repair cannot hide a
    # difference. None when no pass changed anything.
    unrepaired: GraphProto = None
    notes: list[str] = field(default_factory=list)  # how it was read (a checkpoint frozen)
    signature: str = SIGNATURE  # the SavedModel signature converted and run
    tags: list[str] = field(default_factory=list)  # ... of the meta graph with these tags
    carried: CalibrationSpec = field(default_factory=CalibrationSpec)  # int8 from the graph
    _without: dict[frozenset[str], SourceModel] = field(default_factory=dict, repr=False)

    @property
    def carries_ranges(self) -> bool:
        """Does the (frozen) graph carry fake-quant points, the ranges int8 needs?"""
        return self.graph_def is not None and any(
            n.op in FAKE_QUANT_OPS for n in self.graph_def.node)

    def changed_by(self, passes: frozenset[str]) -> bool:
        """Did any of ``passes`` change the graph this source converts?"""
        return any(r.name in passes and r.changed for r in self.rewrites)

    def without(self, passes: frozenset[str]) -> SourceModel:
        """This source repaired again without ``passes`` (itself when none of them changed
        anything): a mode the result of a pass does not convert in takes the graph without
        it."""
        if self.unrepaired is None or not self.changed_by(passes):
            return self
        from graphport.backend.tf_graph import to_tf
        from graphport.graph.edit import copy_graph
        from graphport.passes.pipeline import PassCall, run_pipeline

        if passes not in self._without:
            calls = [PassCall(r.name, r.params) for r in self.rewrites if r.name not in passes]
            graph, results = run_pipeline(copy_graph(self.unrepaired), calls,
                                          [parse_input(t.tensor)[0] for t in self.outputs])
            self._without[passes] = replace(self, graph_def=to_tf(graph), rewrites=results,
                                            _without={})
        return self._without[passes]

    def converter(self) -> Any:
        """A fresh TFLiteConverter for this source."""
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()
        if self.saved_model is not None:
            return tf.lite.TFLiteConverter.from_saved_model(
                str(self.saved_model), signature_keys=[self.signature],
                tags=set(self.tags) or None)
        from graphport.backend.tf_graph import import_graph

        if self.custom_ops or self._by_name:
            # A graph holding a runtime custom op cannot be imported into TensorFlow; the
            # converter's name-based path takes it, with the placeholders' shapes.
            converter = tf.compat.v1.lite.TFLiteConverter(
                self.graph_def, None, None, output_arrays=[  # node, or node:k past the first
                    name if k == 0 else f"{name}:{k}"
                    for name, k, _ in (parse_input(t.tensor) for t in self.outputs)],
                input_arrays_with_shape=[(parse_input(t.tensor)[0], shape)
                                         for t, (_, shape) in zip(self.inputs, self._feeds,
                                                                  strict=True)])
            converter.allow_custom_ops = bool(self.custom_ops)
            return converter
        graph = import_graph(self.graph_def)
        return tf.compat.v1.lite.TFLiteConverter(
            self.graph_def, [graph.get_tensor_by_name(t.tensor) for t in self.inputs],
            [graph.get_tensor_by_name(t.tensor) for t in self.outputs])

    @property
    def _by_name(self) -> bool:
        """Can the converter take this graph by names (inputs that are placeholders of known
        shape, no functions)? It then skips importing the graph into TensorFlow and Grappler's
        function inlining, which have nothing to do without functions (the same bytes on
        ResNet-v2-101, 1.6-2.2 s sooner); the tensor route sets an open batch to 1, which
        names cannot say."""
        placeholders = {n.name for n in self.graph_def.node if n.op == "Placeholder"}
        return not self.graph_def.library.function and all(
            parse_input(t.tensor)[0] in placeholders and parse_input(t.tensor)[1] == 0
            for t in self.inputs) and all(
            shape is not None and all(d is not None and d >= 0 for d in shape)
            for _, shape in self._feeds)

    @property
    def custom_ops(self) -> set[str]:
        """Runtime custom ops a repair put in the graph (TFLite_Detection_PostProcess)."""
        if self.graph_def is None:
            return set()
        return {n.op for n in self.graph_def.node} & RUNTIME_CUSTOM_OPS

    @cached_property
    def _feeds(self) -> list[tuple[np.dtype, list[int] | None]]:
        """(dtype, shape) of each input's placeholder in the converted graph, which a repair
        may have changed (an image input that now takes float pixels)."""
        nodes = {n.name: n for n in self.graph_def.node}
        feeds = []
        for tensor in self.inputs:
            node = nodes[parse_input(tensor.tensor)[0]]
            feeds.append((np.dtype(numpy_dtype(dtype_name(node.attr["dtype"].type))),
                          shape_list(node.attr["shape"].shape) if "shape" in node.attr
                          else tensor.shape))
        return feeds

    def representative(self, sample: dict[str, np.ndarray]) -> Any:
        """One calibration sample in the form this source's converter expects."""
        if self.saved_model is not None:
            return sample  # keyed by signature input
        return [sample[t.key].astype(dtype)  # in input order, in the converted graph's dtype
                for t, (dtype, _) in zip(self.inputs, self._feeds, strict=True)]

    def runner(self) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """A function running the source in TensorFlow on one sample (keyed by signature
        input); loading happens once, so repeated calls can be timed."""
        from graphport.backend.runtime import tensorflow

        tf = tensorflow()
        if self.saved_model is not None:
            signature = tf.saved_model.load(str(self.saved_model), tags=self.tags or None
                                            ).signatures[self.signature]
            return lambda s: {k: v.numpy() for k, v in signature(
                **{k: tf.constant(v) for k, v in s.items()}).items()}
        from graphport.backend.tf_graph import import_graph, session, to_tf
        from graphport.passes.detection_reference import with_detection_reference

        source = self.graph_def if self.unrepaired is None else to_tf(self.unrepaired)
        if {n.op for n in source.node} & RUNTIME_CUSTOM_OPS:  # a graph written for TFLite
            source = to_tf(with_detection_reference(GraphDef.FromString(
                source.SerializeToString())))
        graph = import_graph(source)
        fetches = {t.key: graph.get_tensor_by_name(t.tensor) for t in self.outputs}
        feeds = {t.key: graph.get_tensor_by_name(t.tensor) for t in self.inputs}
        running = session(graph)
        return lambda s: running.run(fetches, {feeds[k]: v for k, v in s.items()})

    def run(self, samples: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """Run the source in TensorFlow on each sample."""
        call = self.runner()
        return [call(s) for s in samples]


def _saved_model_signature(directory: Path, spec: GraphSpec
                           ) -> tuple[str, list[str], list[SignatureTensor], list[SignatureTensor]]:
    """(signature, tags, inputs, outputs) of the signature ``spec`` names in the meta graph it
    names (serving_default and the "serve" tag-set by default)."""
    saved = load.read_saved_model(directory)
    meta = load.pick_meta_graph(saved, spec.tag_set, directory)
    signatures = meta.signature_def
    signature = load.main_signature(dict(signatures), spec.signature, directory)
    if signature is None:
        raise UserError(f"{directory} has no signature to convert",
                        "export it with one (tf.saved_model.save(..., signatures=...))")
    ensure_safe(meta.graph_def, spec.allow_unsafe_ops, "convert and run this model",
                ignore=oplists.CHECKPOINT_OPS)

    def tensors(infos: Any) -> list[SignatureTensor]:
        return [SignatureTensor(key, infos[key].name, infos[key].name,
                                dtype_name(infos[key].dtype), shape_list(infos[key].tensor_shape))
                for key in sorted(infos)]

    return (signature, list(meta.meta_info_def.tags), tensors(signatures[signature].inputs),
            tensors(signatures[signature].outputs))


# Passes that tidy a graph without changing what converts: no reason to leave the SavedModel
# route for them alone.
_TIDYING = frozenset({"fold_constants", "strip_training_leftovers"})


def _repaired_saved_model(directory: Path, signature: str, tags: list[str], spec: GraphSpec
                          ) -> SourceModel | None:
    """The signature frozen to a graph and repaired, when a default repair has work there
    (graphport's own MTCNN SavedModel holds the TF1 loops the repairs lower to builtins);
    None when none has, and the SavedModel is converted as it is."""
    from graphport.backend.saved_model_graph import freeze_signature
    from graphport.backend.tf_graph import to_tf

    frozen = freeze_signature(directory, signature, tags)
    blockers = [c for c in resolve(None, TFLITE, {}) if c.name not in _TIDYING]
    if not needs_repair(frozen.graph, blockers):
        return None
    by_tensor = {tensor: key for key, tensor in {**frozen.inputs, **frozen.outputs}.items()}
    graph_spec = GraphSpec(list(frozen.inputs.values()), list(frozen.outputs.values()),
                           allow_unsafe_ops=spec.allow_unsafe_ops)
    prepared = prepare_for_export(frozen.graph, graph_spec, TFLITE,
                                  action="convert and run this model")
    for tensor in [*prepared.inputs, *prepared.outputs]:
        tensor.key = by_tensor.get(tensor.source, tensor.key)
    notes = [f"signature {signature} frozen to a graph for the repairs (its variables as "
             "constants); verified against that graph", *prepared.notes]
    return SourceModel(prepared.inputs, prepared.outputs, graph_def=to_tf(prepared.graph),
                       rewrites=prepared.rewrites, unrepaired=prepared.unrepaired, notes=notes,
                       signature=signature)


def _saved_model_source(model: Path, spec: GraphSpec) -> SourceModel:
    """The SavedModel's signature, repaired as a frozen graph where a repair has work, else
    as it is; repairs that fail are left out and said (a default never makes it worse)."""
    spec.refuse_for_saved_model()
    signature, tags, inputs, outputs = _saved_model_signature(model, spec)
    notes: list[str] = []
    try:
        repaired = _repaired_saved_model(model, signature, tags, spec)
    except Exception as error:
        repaired = None
        notes.append(f"the repairs could not run on signature {signature} "
                     f"({type(error).__name__}: {str(error)[:200]}); converted as it is")
    return repaired or SourceModel(inputs, outputs, saved_model=model, signature=signature,
                                   tags=tags, notes=notes)


@contextmanager
def source_model(model: Path, spec: GraphSpec) -> Iterator[SourceModel]:
    """The model to convert: the user's SavedModel, or a frozen graph prepared for export."""
    kind = load.detect_format(model)
    if kind == load.TFLITE:
        raise UserError(f"{model} is already a TFLite model",
                        "pass the frozen graph or SavedModel it came from")
    if kind == load.SAVED_MODEL:
        yield _saved_model_source(model, spec)
        return
    if spec.signature is not None or spec.tag_set is not None:
        raise UserError("--signature and --tag-set pick within a SavedModel; a frozen graph "
                        "has neither", "drop them (the TFLite model's signature is "
                        "serving_default)")
    from graphport.backend.tf_graph import to_tf

    notes: list[str] = []
    graph = read_graph(model, spec.outputs, spec.allow_unsafe_ops, notes)
    prepared = prepare_for_export(graph, spec, TFLITE, action="convert and run this graph")
    notes += prepared.notes
    graph_def = to_tf(prepared.graph)
    prepared.graph = None  # the converted graph is held once, as TensorFlow's GraphDef
    yield SourceModel(prepared.inputs, prepared.outputs, graph_def=graph_def,
                      rewrites=prepared.rewrites, unrepaired=prepared.unrepaired, notes=notes)

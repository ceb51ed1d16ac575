"""The pass registry and the pipeline that runs passes in order.

The registry is the ``passes/rewrites`` package: every module there holds one pass, named after
the module. The pipeline runs the passes asked for, checks the graph after each one (dangling
inputs, TF1 frame membership) and rolls back a pass that broke it or crashed, reporting it with
the nodes involved, so a pass can never make a graph worse; then it prunes what the pass left
dead.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphport.errors import GraphportError, UserError
from graphport.graph.edit import copy_graph, prune
from graphport.graph.index import NodeIndex
from graphport.graph.integrity import Problem, check_graph
from graphport.graph.types import GraphProto
from graphport.passes import rewrites
from graphport.passes.base import TARGETS, GraphPass, PassContext, PassResult

# The default pipeline, in order: fold first (dropout masks need keep_prob folded), strip
# training leftovers, turn an eightbit graph's quantized ops into float ones, replace a
# detector's postprocessing loop whole, then the loop repairs (a dynamic_rnn LSTM loop fused
# whole first, concat accumulators, every other TensorArray as a list, TF2 lists made static),
# unrolled LSTMs re-rolled into fused ones (both before the split, which would break their cell
# pattern), RNN kernels split by operand (their own int8 scales), any other unrolled RNN
# re-rolled into a while loop (after the split, so its step keeps it), the op repairs, fold
# again what they exposed (the eightbit weights too), and last give cond branches their own
# constants. Passes not meant for a target are skipped there; `--passes +NAME` runs NAME before
# all of these.
DEFAULT_PIPELINE = ("fold_constants", "strip_training_leftovers", "eightbit_to_float",
                    "detection_postprocess", "fuse_lstm_loop", "tensor_array_to_concat",
                    "tensor_array_to_list", "tensor_list_shapes", "reroll_lstm",
                    "split_concat_matmul", "reroll_loop", "nms_v4", "crop_and_resize",
                    "fold_constants", "branch_constants")
_CALL = re.compile(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", re.DOTALL)


@dataclass(frozen=True)
class PassCall:
    """One pass to run, with its parameters (the defaults updated by the user's values)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        given = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({given})" if given else self.name


@cache
def available() -> dict[str, type[GraphPass]]:
    """Every pass by name: the GraphPass subclass each module of passes/rewrites defines."""
    found: dict[str, type[GraphPass]] = {}
    for info in pkgutil.iter_modules(rewrites.__path__):
        module = importlib.import_module(f"{rewrites.__name__}.{info.name}")
        classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
                   if issubclass(c, GraphPass) and c.__module__ == module.__name__]
        if len(classes) != 1:
            raise RuntimeError(f"{module.__name__} must define exactly one GraphPass")
        found[info.name] = classes[0]
    return found


def _parameter(name: str, key: str, text: str, default: Any) -> Any:
    """A parameter value parsed as the type of its default."""
    text = text.strip()
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return type(default)(text) if default is not None else text
    except ValueError:
        raise UserError(f"--passes {name}({key}={text}): expected "
                        f"{type(default).__name__}") from None


def parse_call(text: str) -> PassCall:
    """``name`` or ``name(key=value, ...)`` checked against the registry."""
    passes = available()
    found = _CALL.match(text)
    if found is None or found.group(1) not in passes:
        name = found.group(1) if found else text
        raise UserError(f"--passes: unknown {name}",
                        f"available: {', '.join(sorted(passes))}")
    name, arguments = found.group(1), found.group(2) or ""
    declared = passes[name].params
    params: dict[str, Any] = {}
    for item in filter(str.strip, arguments.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in declared:
            known = ", ".join(declared) or "none"
            raise UserError(f"--passes {text}: {key!r} is not a parameter of {name}",
                            f"its parameters: {known}")
        params[key] = _parameter(name, key, value, declared[key])
    return PassCall(name, params)


def resolve(names: list[str] | None, target: str,
            params: dict[str, dict[str, Any]] | None = None) -> list[PassCall]:
    """The passes to run for ``target``: the default pipeline's passes that serve it, or the
    user's list, checked against the registry and the target; ``params`` (pass -> values)
    apply wherever that pass runs, under what a ``name(key=value)`` gives."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}")
    passes = available()
    given = params or {}
    for name, values in given.items():
        unknown = set(values) - set(passes[name].params) if name in passes else {name}
        if unknown:
            raise ValueError(f"no parameter {', '.join(sorted(unknown))} of pass {name}")
    added = [n[1:] for n in names or [] if n.startswith("+")]
    if names is not None and added and len(added) < len(names):
        raise UserError("--passes: +NAME adds to the default pipeline; a list without + "
                        "replaces it", "use only +NAME items, or only NAME items")
    if names is None or added:  # +NAME: those first, then the default pipeline
        defaults = [PassCall(n, dict(given.get(n, {}))) for n in DEFAULT_PIPELINE
                    if target in passes[n].targets]
        return [*resolve(added, target, params), *defaults] if added else defaults
    calls = [parse_call(name) for name in names]
    calls = [PassCall(c.name, {**given.get(c.name, {}), **c.params}) for c in calls]
    wrong = [c.name for c in calls if target not in passes[c.name].targets]
    if wrong:
        raise UserError(f"--passes: {', '.join(wrong)} cannot be used for {target} export",
                        f"{'they serve' if len(wrong) > 1 else 'it serves'} "
                        f"{', '.join(sorted(passes[wrong[0]].targets))} only")
    return calls


def needs_repair(graph: GraphProto, calls: list[PassCall], index: NodeIndex | None = None
                 ) -> bool:
    """Cheap check (no TensorFlow) before copying a graph: does any pass match anything?"""
    passes = available()
    index = index or NodeIndex.of(graph)
    return any(passes[name]().matches(index) for name in dict.fromkeys(c.name for c in calls))


# The graph a pass returns, its result, the graph check of it (when made), and an index of it
# that is still true (None once a pass ran: it may have edited the graph).
Checked = tuple[GraphProto, PassResult, "list[Problem] | None", "NodeIndex | None"]


def _run_checked(graph: GraphProto, call: PassCall, fetch_nodes: list[str],
                 known: list[Problem] | None, index: NodeIndex | None) -> Checked:
    """One pass on ``graph``: its result, or the graph as it was when the pass broke it; and
    the graph check of what is returned, when it was made (``known``: the input's, if made).
    ``index``: of ``graph`` as it is, if one is at hand (most passes match nothing, and one
    index of a 179 MB graph costs 30 ms)."""
    cls = available()[call.name]
    graph_pass = cls()
    index = index or NodeIndex.of(graph)
    matches = graph_pass.matches(index)
    if not matches:
        return graph, PassResult(call.name, params=call.params), known, index
    context = PassContext({**cls.params, **call.params}, outputs=list(fetch_nodes))
    if known is None:
        known = check_graph(graph, index)
    before = copy_graph(graph)
    try:
        result = graph_pass.run(graph, matches, context)
    except GraphportError:
        raise
    except Exception as error:  # a bug in the pass: the graph goes on without it
        return before, PassResult(call.name, len(matches), params=call.params,
                                  error=f"it crashed ({type(error).__name__}: {error})"
                                  ), known, None
    result.notes.extend(context.notes)
    result.params = call.params
    result.dropped_outputs = context.dropped_outputs
    if not result.changed:
        return graph, result, known, None
    graph = prune(graph, [n for n in fetch_nodes if n not in result.dropped_outputs])
    after = check_graph(graph)
    had = set(known)
    new = [p for p in after if p not in had]
    if new:
        listed = "; ".join(str(p) for p in new[:5])
        more = f" and {len(new) - 5} more" if len(new) > 5 else ""
        result.error = f"its result failed the graph check ({listed}{more})"
        return before, result, known, None
    return graph, result, after, None


def run_pipeline(graph: GraphProto, calls: list[PassCall], fetch_nodes: list[str],
                 index: NodeIndex | None = None) -> tuple[GraphProto, list[PassResult]]:
    """Apply the passes in order (``graph`` is edited; ``index``: of it, if at hand); returns
    the repaired graph and what each pass did. A pass that crashes or breaks the graph is
    rolled back (its ``error`` says why, a graphport bug to report) and the rest go on. The
    graph is checked once before the first pass that has work, then after each pass that
    changed it."""
    results = []
    known: list[Problem] | None = None
    fetch_nodes = list(fetch_nodes)
    for call in calls:
        graph, result, known, index = _run_checked(graph, call, fetch_nodes, known, index)
        if result.error:
            result.notes.append(f"rolled back: {result.error} (a graphport bug; please report "
                                "it with the graph)")
            result.dropped_outputs = []
        fetch_nodes = [n for n in fetch_nodes if n not in result.dropped_outputs]
        results.append(result)
    return graph, results


def repairing_passes(op: str) -> list[str]:
    """The passes that remove ``op`` where they apply (for "needs Select ops" errors), in the
    default pipeline's order."""
    order = {name: i for i, name in reversed(list(enumerate(DEFAULT_PIPELINE)))}
    return sorted((name for name, cls in available().items() if op in cls.repairs),
                  key=lambda name: order.get(name, len(order)))

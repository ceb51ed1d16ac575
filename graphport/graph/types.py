"""Names for the protobuf messages graphport passes around.

graphport reads graphs with its own TensorFlow-free schema (graph/schema.py) and hands them to
TensorFlow as TensorFlow's own GraphDef (backend/tf_graph.py); both are generated message
classes a type checker cannot see into, so these aliases are ``Any``, but they say which of the
two a function takes."""

from __future__ import annotations

from typing import Any, TypeAlias

GraphProto: TypeAlias = Any  # graphport.graph.schema.GraphDef
NodeProto: TypeAlias = Any  # graphport.graph.schema.NodeDef
TFGraphDef: TypeAlias = Any  # tensorflow.compat.v1.GraphDef (same wire format as GraphProto)

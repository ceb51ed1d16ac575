"""graphport's own GraphDef/SavedModel schema must stay wire-compatible with TensorFlow's."""

from __future__ import annotations

import pytest

from graphport.backend.runtime import tensorflow
from graphport.graph import schema

pytestmark = pytest.mark.tf



def _tf_descriptor(name: str) -> object:
    tensorflow()
    from google.protobuf import descriptor_pool

    return descriptor_pool.Default().FindMessageTypeByName(f"tensorflow.{name}")


@pytest.mark.parametrize("name", sorted(schema._MESSAGES))
def test_fields_match_tensorflow(name: str) -> None:
    ours = schema._POOL.FindMessageTypeByName(f"graphport.tf.{name}")
    theirs = _tf_descriptor(name)
    by_number = {f.number: f for f in theirs.fields}
    for field in ours.fields:
        other = by_number.get(field.number)
        assert other is not None, f"{name}.{field.name} ({field.number}) not in TensorFlow"
        assert field.name == other.name
        assert field.type == other.type, f"{name}.{field.name}"
        assert field.is_repeated == other.is_repeated, f"{name}.{field.name}"


def test_data_types_match_tensorflow() -> None:
    tensorflow()
    from tensorflow.core.framework import types_pb2

    for name, number in schema.DATA_TYPES.items():
        assert types_pb2.DataType.Value(name) == number
        if number:
            assert types_pb2.DataType.Value(f"{name}_REF") == number + 100


def test_mtcnn_round_trips_unchanged(mtcnn: object) -> None:
    tf = tensorflow()
    data = mtcnn.read_bytes()
    ours = schema.GraphDef.FromString(data)
    assert tf.compat.v1.GraphDef.FromString(ours.SerializeToString()) == \
        tf.compat.v1.GraphDef.FromString(data)

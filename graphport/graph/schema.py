"""A wire-compatible schema for TensorFlow's GraphDef and SavedModel messages.

Parsing a model file must not cost the 2+ s of ``import tensorflow``. Protobuf only needs a
descriptor to parse bytes, so we describe the messages we read here, with TensorFlow's own field
numbers, in a private descriptor pool (package ``graphport.tf``, so it never clashes with
TensorFlow's classes when both are loaded). Fields we do not model are kept by protobuf as unknown
fields and survive a parse/serialize round trip unchanged. ``tests/test_schema.py`` checks every
field number here against TensorFlow's generated classes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "graphport.tf"

# TensorFlow's DataType enum (tensorflow/core/framework/types.proto); *_REF types are +100.
DATA_TYPES: dict[str, int] = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
    "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9,
    "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12, "DT_QINT32": 13, "DT_BFLOAT16": 14,
    "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18, "DT_HALF": 19,
    "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23,
    "DT_FLOAT8_E5M2": 24, "DT_FLOAT8_E4M3FN": 25, "DT_FLOAT8_E4M3FNUZ": 26,
    "DT_FLOAT8_E4M3B11FNUZ": 27, "DT_FLOAT8_E5M2FNUZ": 28, "DT_INT4": 29, "DT_UINT4": 30,
    "DT_INT2": 31, "DT_UINT2": 32,
}

# (name, number, type, label or "rep", message/enum type name or None)
_SCALAR = {
    "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES, "int32": _F.TYPE_INT32,
    "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32, "uint64": _F.TYPE_UINT64,
    "float": _F.TYPE_FLOAT, "double": _F.TYPE_DOUBLE, "bool": _F.TYPE_BOOL,
}

# message name -> list of (field name, number, type, repeated). A type of "map:K,V" is a map.
# A field name starting with "?" belongs to the oneof "value" (AttrValue) or "encoding".
_MESSAGES: dict[str, list[tuple[str, int, str, bool]]] = {
    "TensorShapeProto.Dim": [("size", 1, "int64", False), ("name", 2, "string", False)],
    "TensorShapeProto": [
        ("dim", 2, "TensorShapeProto.Dim", True),
        ("unknown_rank", 3, "bool", False),
    ],
    "TensorProto": [
        ("dtype", 1, "DataType", False),
        ("tensor_shape", 2, "TensorShapeProto", False),
        ("version_number", 3, "int32", False),
        ("tensor_content", 4, "bytes", False),
        ("half_val", 13, "int32", True),
        ("float_val", 5, "float", True),
        ("double_val", 6, "double", True),
        ("int_val", 7, "int32", True),
        ("string_val", 8, "bytes", True),
        ("scomplex_val", 9, "float", True),
        ("int64_val", 10, "int64", True),
        ("bool_val", 11, "bool", True),
        ("dcomplex_val", 12, "double", True),
        ("uint32_val", 16, "uint32", True),
        ("uint64_val", 17, "uint64", True),
        ("float8_val", 18, "bytes", False),
    ],
    "NameAttrList": [("name", 1, "string", False), ("attr", 2, "map:string,AttrValue", True)],
    "AttrValue.ListValue": [
        ("s", 2, "bytes", True),
        ("i", 3, "int64", True),
        ("f", 4, "float", True),
        ("b", 5, "bool", True),
        ("type", 6, "DataType", True),
        ("shape", 7, "TensorShapeProto", True),
        ("tensor", 8, "TensorProto", True),
        ("func", 9, "NameAttrList", True),
    ],
    "AttrValue": [
        ("?s", 2, "bytes", False),
        ("?i", 3, "int64", False),
        ("?f", 4, "float", False),
        ("?b", 5, "bool", False),
        ("?type", 6, "DataType", False),
        ("?shape", 7, "TensorShapeProto", False),
        ("?tensor", 8, "TensorProto", False),
        ("?list", 1, "AttrValue.ListValue", False),
        ("?func", 10, "NameAttrList", False),
        ("?placeholder", 9, "string", False),
    ],
    "NodeDef": [
        ("name", 1, "string", False),
        ("op", 2, "string", False),
        ("input", 3, "string", True),
        ("device", 4, "string", False),
        ("attr", 5, "map:string,AttrValue", True),
    ],
    "VersionDef": [
        ("producer", 1, "int32", False),
        ("min_consumer", 2, "int32", False),
        ("bad_consumers", 3, "int32", True),
    ],
    "OpDef.ArgDef": [
        ("name", 1, "string", False),
        ("description", 2, "string", False),
        ("type", 3, "DataType", False),
        ("type_attr", 4, "string", False),
        ("number_attr", 5, "string", False),
        ("type_list_attr", 6, "string", False),
        ("is_ref", 16, "bool", False),
    ],
    "OpDef.AttrDef": [
        ("name", 1, "string", False),
        ("type", 2, "string", False),
        ("default_value", 3, "AttrValue", False),
        ("description", 4, "string", False),
        ("has_minimum", 5, "bool", False),
        ("minimum", 6, "int64", False),
        ("allowed_values", 7, "AttrValue", False),
    ],
    "OpDef": [
        ("name", 1, "string", False),
        ("input_arg", 2, "OpDef.ArgDef", True),
        ("output_arg", 3, "OpDef.ArgDef", True),
        ("control_output", 20, "string", True),
        ("attr", 4, "OpDef.AttrDef", True),
        ("summary", 5, "string", False),
        ("description", 6, "string", False),
        ("is_commutative", 18, "bool", False),
        ("is_aggregate", 16, "bool", False),
        ("is_stateful", 17, "bool", False),
        ("allows_uninitialized_input", 19, "bool", False),
        ("is_distributed_communication", 21, "bool", False),
    ],
    "FunctionDef": [
        ("signature", 1, "OpDef", False),
        ("attr", 5, "map:string,AttrValue", True),
        ("node_def", 3, "NodeDef", True),
        ("ret", 4, "map:string,string", True),
        ("control_ret", 6, "map:string,string", True),
    ],
    "GradientDef": [("function_name", 1, "string", False), ("gradient_func", 2, "string", False)],
    "FunctionDefLibrary": [
        ("function", 1, "FunctionDef", True),
        ("gradient", 2, "GradientDef", True),
    ],
    "GraphDef": [
        ("node", 1, "NodeDef", True),
        ("versions", 4, "VersionDef", False),
        ("version", 3, "int32", False),
        ("library", 2, "FunctionDefLibrary", False),
    ],
    "TensorInfo": [
        ("?name", 1, "string", False),
        ("dtype", 2, "DataType", False),
        ("tensor_shape", 3, "TensorShapeProto", False),
    ],
    "SignatureDef": [
        ("inputs", 1, "map:string,TensorInfo", True),
        ("outputs", 2, "map:string,TensorInfo", True),
        ("method_name", 3, "string", False),
        ("defaults", 4, "map:string,TensorProto", True),
    ],
    "MetaGraphDef.MetaInfoDef": [
        ("meta_graph_version", 1, "string", False),
        ("tags", 4, "string", True),
        ("tensorflow_version", 5, "string", False),
        ("tensorflow_git_version", 6, "string", False),
        ("stripped_default_attrs", 7, "bool", False),
    ],
    "MetaGraphDef": [
        ("meta_info_def", 1, "MetaGraphDef.MetaInfoDef", False),
        ("graph_def", 2, "GraphDef", False),
        ("signature_def", 5, "map:string,SignatureDef", True),
    ],
    "SavedModel": [
        ("saved_model_schema_version", 1, "int64", False),
        ("meta_graphs", 2, "MetaGraphDef", True),
    ],
}

_ONEOF_NAME = {"AttrValue": "value", "TensorInfo": "encoding"}


def _set_type(field: descriptor_pb2.FieldDescriptorProto, type_name: str) -> None:
    if type_name in _SCALAR:
        field.type = _SCALAR[type_name]
    elif type_name == "DataType":
        field.type = _F.TYPE_ENUM
        field.type_name = f".{_PACKAGE}.DataType"
    else:
        field.type = _F.TYPE_MESSAGE
        field.type_name = f".{_PACKAGE}.{type_name}"


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="graphport/tf_schema.proto", package=_PACKAGE, syntax="proto3"
    )
    enum = fdp.enum_type.add(name="DataType")
    for name, number in DATA_TYPES.items():
        enum.value.add(name=name, number=number)
    for name, number in list(DATA_TYPES.items())[1:]:
        enum.value.add(name=f"{name}_REF", number=number + 100)

    protos: dict[str, descriptor_pb2.DescriptorProto] = {}
    # Parents before nested types ("TensorShapeProto" before "TensorShapeProto.Dim").
    for full_name, fields in sorted(_MESSAGES.items(), key=lambda kv: kv[0].count(".")):
        parent, _, short = full_name.rpartition(".")
        msg = (protos[parent].nested_type if parent else fdp.message_type).add(name=short)
        protos[full_name] = msg
        if full_name in _ONEOF_NAME:
            msg.oneof_decl.add(name=_ONEOF_NAME[full_name])
        for fname, number, ftype, repeated in fields:
            in_oneof = fname.startswith("?")
            fname = fname.lstrip("?")
            field = msg.field.add(name=fname, number=number)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if in_oneof:
                field.oneof_index = 0
            if ftype.startswith("map:"):
                key, value = ftype[4:].split(",")
                entry_name = "".join(p.capitalize() for p in fname.split("_")) + "Entry"
                entry = msg.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                k = entry.field.add(name="key", number=1, label=_F.LABEL_OPTIONAL)
                _set_type(k, key)
                v = entry.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL)
                _set_type(v, value)
                field.type = _F.TYPE_MESSAGE
                field.type_name = f".{_PACKAGE}.{full_name}.{entry_name}"
            else:
                _set_type(field, ftype)
    return fdp


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_build_file())


def message_class(name: str) -> Any:
    """The protobuf class for one of the modelled messages, e.g. ``message_class("GraphDef")``."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


GraphDef = message_class("GraphDef")
NodeDef = message_class("NodeDef")
AttrValue = message_class("AttrValue")
TensorProto = message_class("TensorProto")
TensorShapeProto = message_class("TensorShapeProto")
SavedModel = message_class("SavedModel")
MetaGraphDef = message_class("MetaGraphDef")

DTYPE_NAMES: dict[int, str] = {number: name[3:].lower() for name, number in DATA_TYPES.items()}
DTYPE_NAMES.update({n + 100: f"{name}_ref" for n, name in list(DTYPE_NAMES.items())[1:]})

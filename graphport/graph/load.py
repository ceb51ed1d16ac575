"""Find out what a model path holds and read it, with one clear error for each way it can be bad.

Formats are told apart by content, not by file name: a binary GraphDef, a text GraphDef, a
SavedModel directory, or a TFLite flatbuffer. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

from google.protobuf import message

from graphport.errors import UserError
from graphport.graph.checkpoint_files import find_checkpoint
from graphport.graph.schema import GraphDef, SavedModel

GRAPHDEF = "graphdef"
GRAPHDEF_TEXT = "graphdef_text"
SAVED_MODEL = "saved_model"
TFLITE = "tflite"
CHECKPOINT = "checkpoint"

PROTOBUF_LIMIT = 2**31 - 1  # protobuf cannot parse a message of 2 GiB or more
_TEXT_BYTES = frozenset(b"\t\n\r\f\v") | frozenset(range(0x20, 0x7F))


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file or directory", "check the path")
    if path.is_dir():
        return
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: permission denied", "make the file readable (chmod +r)")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path} is empty", "pass a frozen .pb/.pbtxt, a SavedModel or a .tflite")
    if size > PROTOBUF_LIMIT:
        raise UserError(
            f"{path} is {size / 2**30:.1f} GiB, over protobuf's 2 GiB limit for one message",
            "a frozen GraphDef cannot be that large; save the model as a SavedModel instead",
        )


def _saved_model_file(directory: Path) -> Path | None:
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        if (directory / name).is_file():
            return directory / name
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        if error.start < len(head) - 4:
            return False
    return all(b in _TEXT_BYTES or b >= 0x80 for b in head)


def detect_format(path: str | os.PathLike[str]) -> str:
    """One of GRAPHDEF, GRAPHDEF_TEXT, SAVED_MODEL, TFLITE, CHECKPOINT (any of a checkpoint's
    files, its prefix, or a directory with a ``checkpoint`` file), or a UserError saying what is
    wrong."""
    path = Path(path)
    if path.is_dir() and _saved_model_file(path) is not None:
        return SAVED_MODEL
    if find_checkpoint(path) is not None:
        return CHECKPOINT
    _check_readable_file(path)
    if path.is_dir():
        raise UserError(
            f"{path} is a directory but not a SavedModel (no saved_model.pb) nor a "
            "checkpoint directory (no checkpoint file)",
            "pass a SavedModel directory, a checkpoint, a frozen .pb/.pbtxt or a .tflite file",
        )
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[4:8] == b"TFL3":
        return TFLITE
    if _looks_like_text(head):
        return GRAPHDEF_TEXT
    return GRAPHDEF


def _not_a_model(path: Path, why: str) -> UserError:
    return UserError(
        f"{path} is not a TensorFlow GraphDef, SavedModel or TFLite file ({why})",
        "pass a frozen .pb/.pbtxt, a SavedModel directory or a .tflite file",
    )


def _validate_graph(path: Path, graph: Any) -> None:
    if not graph.node and not graph.library.function:
        raise _not_a_model(path, "it parses as protobuf but holds no graph nodes")
    for node in graph.node:
        if not node.name or not node.op:
            raise _not_a_model(path, "a node without a name or op type: the file is corrupt")


def parse_graph_def(path: Path, data: bytes | memoryview) -> Any:
    """Parse binary GraphDef bytes, telling a SavedModel's saved_model.pb apart from garbage."""
    # GraphDef has no varint field 1; SavedModel starts with one (saved_model_schema_version).
    if data[:1] == b"\x08":
        saved = SavedModel()
        try:
            saved.ParseFromString(data)
        except message.DecodeError:
            saved = None
        if saved is not None and saved.meta_graphs:
            raise UserError(
                f"{path} is a SavedModel's saved_model.pb, not a frozen graph",
                f"pass the SavedModel directory instead: {path.parent}",
            )
    graph = GraphDef()
    try:
        graph.ParseFromString(data)
    except message.DecodeError as error:
        raise _not_a_model(path, f"protobuf parse failed: {error or 'truncated or corrupt'}"
                           ) from None
    except RecursionError:
        raise _not_a_model(path, "protobuf nesting too deep") from None
    _validate_graph(path, graph)
    return graph


def parse_graph_def_text(path: Path, text: str) -> Any:
    """Parse a text-format GraphDef (.pbtxt); fields we do not model are skipped."""
    from google.protobuf import text_format  # only for text files: 20 ms of every inspect

    graph = GraphDef()
    try:
        text_format.Parse(text, graph, allow_unknown_field=True)
    except text_format.ParseError as error:
        raise UserError(f"{path}: invalid text GraphDef: {error}",
                        "fix the .pbtxt syntax") from None
    _validate_graph(path, graph)
    return graph


def read_graph_def(path: str | os.PathLike[str]) -> Any:
    """Read a frozen GraphDef (binary or text, by content) into graphport's own schema."""
    path = Path(path)
    kind = detect_format(path)
    if kind == SAVED_MODEL:
        raise UserError(
            f"{path} is a SavedModel directory, not a frozen graph",
            "this command takes a frozen .pb/.pbtxt; SavedModels are read by inspect and tflite",
        )
    if kind == TFLITE:
        raise UserError(f"{path} is a TFLite model, not a frozen graph",
                        "pass the frozen .pb/.pbtxt it was made from")
    if kind == CHECKPOINT:
        raise UserError(f"{path} is a checkpoint, not a frozen graph",
                        f"freeze it first: graphport freeze {path} -o frozen.pb")
    if kind == GRAPHDEF_TEXT:
        try:
            return parse_graph_def_text(path, path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise _not_a_model(path, "text that is not valid UTF-8") from None
    # Parsed straight from the page cache: reading 179 MB into bytes first cost 0.09 s of
    # inspect's 0.6 s. Protobuf copies what it keeps, so the mapping can go right after.
    with path.open("rb") as handle:
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a pipe or a file system without mmap
            return parse_graph_def(path, handle.read())
        with mapped:
            view = memoryview(mapped)
            try:
                return parse_graph_def(path, view)
            finally:
                view.release()


def read_saved_model(directory: str | os.PathLike[str]) -> Any:
    """Read a SavedModel directory's saved_model.pb(txt) into graphport's own schema."""
    directory = Path(directory)
    if detect_format(directory) != SAVED_MODEL:
        raise UserError(f"{directory} is not a SavedModel directory",
                        "pass a directory with a saved_model.pb in it")
    file = _saved_model_file(directory)
    assert file is not None
    _check_readable_file(file)
    from google.protobuf import text_format

    saved = SavedModel()
    try:
        if file.suffix == ".pbtxt":
            text_format.Parse(file.read_text(), saved, allow_unknown_field=True)
        else:
            saved.ParseFromString(file.read_bytes())
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
        raise UserError(f"{file} is corrupt: {error}", "re-export the SavedModel") from None
    if not saved.meta_graphs:
        raise UserError(f"{file} holds no MetaGraph", "re-export the SavedModel")
    return saved


INIT_OP_SIGNATURE = "__saved_model_init_op"  # the loader's, not a model's


def pick_meta_graph(saved: Any, tag_set: str | None, path: Path) -> Any:
    """The meta graph of ``tag_set`` ("serve" or "serve,gpu"), else the one tagged "serve",
    else the first."""
    metas = list(saved.meta_graphs)
    described = "; ".join(",".join(m.meta_info_def.tags) or "(none)" for m in metas)
    if tag_set is not None:
        wanted = {t.strip() for t in tag_set.split(",") if t.strip()}
        found = [m for m in metas if set(m.meta_info_def.tags) == wanted]
        if not found:
            raise UserError(f"--tag-set {tag_set}: {path} has no such tag-set",
                            f"its tag-sets are: {described}")
        return found[0]
    return next((m for m in metas if "serve" in m.meta_info_def.tags), metas[0])


def main_signature(signatures: dict[str, Any], signature: str | None, path: Path
                   ) -> str | None:
    """``signature`` when given (checked), else serving_default, else the first signature
    that is the model's (not the loader's init op)."""
    if signature is not None:
        if signature not in signatures:
            raise UserError(f"--signature {signature}: {path} has no such signature",
                            "its signatures are: "
                            f"{', '.join(k for k in signatures if k != INIT_OP_SIGNATURE)}")
        return signature
    if "serving_default" in signatures:
        return "serving_default"
    return next((k for k in signatures if k != INIT_OP_SIGNATURE), None)

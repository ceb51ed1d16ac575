"""Recognise a TF1 checkpoint on disk without TensorFlow: the files `tf.train.Saver` writes
(``model.ckpt.meta``, ``.index``, ``.data-00000-of-00001``) and the ``checkpoint`` file that
names the latest one in a directory. Any of them, or the shared prefix, names the checkpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import message

from graphport.errors import UserError
from graphport.graph.schema import MetaGraphDef

_DATA = re.compile(r"\.data-\d{5}-of-(\d{5})$")
# How freezing for inspection begins the note on a training graph (outputs mixed with the loss).
TRAINING_GRAPH = "a training graph"


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint's prefix (``dir/model.ckpt``) and its meta graph file, when it has one."""

    prefix: Path
    meta: Path | None
    warning: str | None = None  # the folder's ``checkpoint`` file named another place

    @property
    def index(self) -> Path:
        return Path(f"{self.prefix}.index")

    def data_files(self) -> list[Path]:
        return sorted(self.prefix.parent.glob(f"{self.prefix.name}.data-*"))


def _latest_in(directory: Path) -> tuple[Path | None, str | None]:
    """The prefix of the checkpoint in a directory, and a warning when its ``checkpoint`` file
    names a place outside it. The files inside the folder given win: a copied folder keeps the
    original's absolute path, which may still exist and hold other (older) weights."""
    state = directory / "checkpoint"
    indexes = sorted(directory.glob("*.index"))
    if not state.is_file():  # tf.train.Checkpoint.write leaves no state file: one index will do
        return (indexes[0].with_suffix("") if len(indexes) == 1 else None), None
    found = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(errors="replace"),
                      re.MULTILINE)
    if not found:
        raise UserError(f"{state} names no checkpoint (no model_checkpoint_path line)",
                        "pass the checkpoint prefix instead, e.g. DIR/model.ckpt")
    named = Path(found.group(1))
    prefix = named if named.is_absolute() else directory / named
    if prefix.absolute().parent.resolve() == directory.resolve():
        return prefix, None
    local = directory / named.name
    outside = f"{state} names {prefix}, outside {directory}"
    if Path(f"{local}.index").is_file():
        return local, f"{outside}; using {local}, the checkpoint in the folder given"
    if len(indexes) == 1:
        chosen = indexes[0].with_suffix("")
        return chosen, f"{outside}; using {chosen}, the only checkpoint in the folder given"
    if len(indexes) > 1:
        listed = ", ".join(i.with_suffix("").name for i in indexes[:4])
        raise UserError(f"{outside}, and the folder holds several checkpoints ({listed})",
                        f"pass the one to use, e.g. {indexes[-1].with_suffix('')}")
    return prefix, f"{outside}, and the folder holds none; using {prefix}"


def _prefix_of(path: Path) -> tuple[Path | None, str | None]:
    name = path.name
    if path.is_dir():
        return _latest_in(path)
    if name.endswith((".meta", ".index")):
        return path.with_name(name.rsplit(".", 1)[0]), None
    if _DATA.search(name):
        return path.with_name(_DATA.sub("", name)), None
    if not path.exists() and Path(f"{path}.index").is_file():
        return path, None
    return None, None


def find_checkpoint(path: Path) -> CheckpointFiles | None:
    """The checkpoint ``path`` names, or None if it names none."""
    prefix, warning = _prefix_of(path)
    if prefix is None:
        return None
    if not Path(f"{prefix}.index").is_file():
        if path.suffix == ".meta" and path.is_file():  # a meta graph alone: no values
            raise UserError(f"{path} is a meta graph but {prefix}.index is missing",
                            "the checkpoint's .index and .data files belong beside it")
        return None
    meta = Path(f"{prefix}.meta")
    return CheckpointFiles(prefix, meta if meta.is_file() else None, warning)


def read_meta_graph(files: CheckpointFiles) -> object:
    """The GraphDef inside the checkpoint's ``.meta`` file."""
    assert files.meta is not None
    try:
        meta = MetaGraphDef.FromString(files.meta.read_bytes())
    except message.DecodeError as error:
        raise UserError(f"{files.meta} is not a meta graph ({error or 'corrupt'})",
                        "pass the graph with --graph instead") from None
    if not meta.graph_def.node:
        raise UserError(f"{files.meta} holds no graph nodes", "pass the graph with --graph")
    return meta.graph_def

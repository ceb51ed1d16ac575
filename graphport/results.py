"""The base of graphport's typed results: dataclasses with ``to_json()`` that also read like
the JSON the CLI prints (``result["inputs"]``), so a notebook can use either."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any


class JsonResult(Mapping[str, Any]):
    """Mixin for result dataclasses: ``to_json()`` is the ``--json`` object; item access and
    iteration go through it."""

    def to_json(self) -> dict[str, Any]:
        assert is_dataclass(self)
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())

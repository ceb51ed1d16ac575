"""The integer input and output types of a full-integer model, set apart (as TFLite's
``inference_input_type`` / ``inference_output_type`` are): ``--io`` sets both,
``--input-type`` / ``--output-type`` one each."""

from __future__ import annotations

from dataclasses import dataclass

from graphport.errors import UserError

INTEGER_TYPES = ("uint8", "int8")
FLOAT = "float32"


@dataclass(frozen=True)
class IoTypes:
    """``input``/``output``: "uint8", "int8" or "float32". ``both``: set by ``--io`` (one
    type for the whole boundary), so outputs that cannot be integer may stay float."""

    input: str = FLOAT
    output: str = FLOAT
    both: bool = False

    @classmethod
    def parse(cls, io: str | IoTypes | None = None, input_type: str | None = None,
              output_type: str | None = None) -> IoTypes | None:
        """The options as given; None when every side stays float32."""
        if isinstance(io, IoTypes):
            return io
        for option, value, allowed in (("--io", io, INTEGER_TYPES),
                                       ("--input-type", input_type, (*INTEGER_TYPES, FLOAT)),
                                       ("--output-type", output_type, (*INTEGER_TYPES, FLOAT))):
            if value is not None and value not in allowed:
                raise UserError(f"{option} {value}: use {' or '.join(allowed)}")
        if io and (input_type or output_type):
            raise UserError("--io sets both the input and the output type",
                            "use --io alone, or --input-type and --output-type")
        types = cls(io, io, both=True) if io else \
            cls(input_type or FLOAT, output_type or FLOAT)
        return types if types.integer else None

    @property
    def integer(self) -> bool:
        return (self.input, self.output) != (FLOAT, FLOAT)

    def float_output(self) -> IoTypes:
        """The same input type with float32 outputs."""
        return IoTypes(self.input, FLOAT, self.both)

    def __str__(self) -> str:
        if self.input == self.output:
            return f"{self.input} I/O"
        return f"{self.input} input, {self.output} output"

    @property
    def suffix(self) -> str:
        """For file names: ``uint8io``, ``uint8in``, ``int8out``, ``uint8in-int8out``."""
        if self.input == self.output:
            return f"{self.input}io"
        return "-".join(f"{kind}{side}" for kind, side in ((self.input, "in"),
                                                           (self.output, "out"))
                        if kind != FLOAT)

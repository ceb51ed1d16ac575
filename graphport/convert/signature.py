"""Give a converted model the `serving_default` signature its SavedModel would have had.

TensorFlow's GraphDef converter writes no SignatureDef; LiteRT's signature runner (and our
parity check) call models by signature keys, so we add one naming the converter's inputs and
outputs, which keep the order they were given in."""

from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from graphport.graph.tflite_model import pack_model
from graphport.spec.signature import SignatureTensor


def add_signature(model: bytes, inputs: list[SignatureTensor], outputs: list[SignatureTensor],
                  key: str = "serving_default") -> bytes:
    """The same model with one SignatureDef mapping our keys to subgraph 0's I/O tensors."""
    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    main = tree.subgraphs[0]
    if len(main.inputs) != len(inputs) or len(main.outputs) != len(outputs):
        raise ValueError(f"model has {len(main.inputs)} inputs and {len(main.outputs)} outputs; "
                         f"the signature names {len(inputs)} and {len(outputs)}")
    tree.signatureDefs = [schema.SignatureDefT(
        inputs=[schema.TensorMapT(name=t.key, tensorIndex=int(i))
                for t, i in zip(inputs, main.inputs, strict=True)],
        outputs=[schema.TensorMapT(name=t.key, tensorIndex=int(i))
                 for t, i in zip(outputs, main.outputs, strict=True)],
        signatureKey=key, subgraphIndex=0)]
    return pack_model(tree, len(model) + 4096)

"""Build the onnx-tf face detector issue 27 measures: Ultra-Light-Fast-Generic-Face-Detector-1MB,
version-slim (Linzaer, MIT: vision/nn/mb_tiny.py, vision/ssd/mb_tiny_fd.py, the box decoding its
ONNX export holds), written by PyTorch's ONNX exporter, turned into TensorFlow by onnx-tf, frozen
with convert_variables_to_constants_v2: every step by the producer users ran. Random weights,
BatchNorm statistics in a trained range (the exporter folds them into the convolutions).

The producers need their own environment (onnx-tf needs TensorFlow 2.15 and tensorflow-addons,
which do not install beside graphport's TensorFlow 2.21):

    python3.11 -m venv /tmp/onnxtf
    /tmp/onnxtf/bin/pip install tensorflow-cpu==2.15.1 tensorflow-addons==0.23.0 \
        tensorflow-probability==0.23.0 onnx-tf==1.10.0 onnx==1.16.2 torch==2.13.0
    /tmp/onnxtf/bin/python scripts/make_onnx_tf_face.py out/bench/face_slim_onnx_tf.pb

Measured with it: scripts/bench_int8_floor.py.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def priors(width: int = 320, height: int = 240) -> np.ndarray:
    """The detector's anchors (centre x, centre y, w, h), as its repository generates them."""
    sizes = [[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]]
    rows = []
    for stride, mins in zip([8, 16, 32, 64], sizes, strict=True):
        cols, lines = math.ceil(width / stride), math.ceil(height / stride)
        for j in range(lines):
            for i in range(cols):
                rows += [[(i + 0.5) / cols, (j + 0.5) / lines, s / width, s / height]
                         for s in mins]
    return np.clip(np.array(rows, np.float32), 0, 1)


def slim(base: int = 16, classes: int = 2) -> Any:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv_bn(i: int, o: int, stride: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o),
                             nn.ReLU(inplace=True))

    def conv_dw(i: int, o: int, stride: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(i, i, 3, stride, 1, groups=i, bias=False), nn.BatchNorm2d(i),
            nn.ReLU(inplace=True), nn.Conv2d(i, o, 1, 1, 0, bias=False), nn.BatchNorm2d(o),
            nn.ReLU(inplace=True))

    def separable(i: int, o: int, k: int = 1, stride: int = 1, padding: int = 0) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, i, k, stride, padding, groups=i), nn.ReLU(),
                             nn.Conv2d(i, o, 1))

    class Slim(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            b = base
            self.model = nn.Sequential(
                conv_bn(3, b, 2), conv_dw(b, b * 2, 1), conv_dw(b * 2, b * 2, 2),
                conv_dw(b * 2, b * 2, 1), conv_dw(b * 2, b * 4, 2), conv_dw(b * 4, b * 4, 1),
                conv_dw(b * 4, b * 4, 1), conv_dw(b * 4, b * 4, 1), conv_dw(b * 4, b * 8, 2),
                conv_dw(b * 8, b * 8, 1), conv_dw(b * 8, b * 8, 1), conv_dw(b * 8, b * 16, 2),
                conv_dw(b * 16, b * 16, 1))
            self.extras = nn.Sequential(nn.Conv2d(b * 16, b * 4, 1), nn.ReLU(),
                                        separable(b * 4, b * 16, 3, 2, 1), nn.ReLU())
            heads = [(b * 4, 3), (b * 8, 2), (b * 16, 2)]
            self.reg = nn.ModuleList([separable(c, n * 4, 3, padding=1) for c, n in heads]
                                     + [nn.Conv2d(b * 16, 3 * 4, 3, padding=1)])
            self.cls = nn.ModuleList([separable(c, n * classes, 3, padding=1) for c, n in heads]
                                     + [nn.Conv2d(b * 16, 3 * classes, 3, padding=1)])
            self.register_buffer("priors", torch.tensor(priors()))

        def forward(self, x: Any) -> Any:
            confs, locs, k = [], [], 0
            for i, layer in enumerate(self.model):
                x = layer(x)
                if i in (7, 10, 12):
                    confs.append(self.cls[k](x).permute(0, 2, 3, 1).reshape(1, -1, classes))
                    locs.append(self.reg[k](x).permute(0, 2, 3, 1).reshape(1, -1, 4))
                    k += 1
            x = self.extras(x)
            confs.append(self.cls[3](x).permute(0, 2, 3, 1).reshape(1, -1, classes))
            locs.append(self.reg[3](x).permute(0, 2, 3, 1).reshape(1, -1, 4))
            loc, p = torch.cat(locs, 1), self.priors
            boxes = torch.cat([loc[..., :2] * 0.1 * p[..., 2:] + p[..., :2],
                               torch.exp(loc[..., 2:] * 0.2) * p[..., 2:]], dim=-1)
            corners = torch.cat([boxes[..., :2] - boxes[..., 2:] / 2,
                                 boxes[..., :2] + boxes[..., 2:] / 2], -1)
            return F.softmax(torch.cat(confs, 1), dim=2), corners

    torch.manual_seed(0)
    model = Slim().eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def main() -> int:
    import onnx
    import tensorflow as tf
    import torch
    from onnx_tf.backend import prepare
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    out = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "slim.onnx"
        torch.onnx.export(slim(), torch.randn(1, 3, 240, 320), str(onnx_path),
                          input_names=["input"], output_names=["scores", "boxes"],
                          opset_version=11, do_constant_folding=True, dynamo=False)
        prepare(onnx.load(str(onnx_path))).export_graph(str(Path(scratch) / "saved"))
        function = tf.saved_model.load(str(Path(scratch) / "saved")).signatures[
            "serving_default"]
        frozen = convert_variables_to_constants_v2(function).graph.as_graph_def()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(frozen.SerializeToString())
    print(f"{out}: {len(frozen.node)} nodes, {out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

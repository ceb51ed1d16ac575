"""Build graphport's own small frozen GraphDefs into fixtures/, deterministically.

Every graph is built the TF1 way (tf.compat.v1 graph, variables, then
convert_variables_to_constants, as `freeze_graph` did in 2017-2019), so the fixtures look like
the legacy files users bring.
Each <name>.pb gets a <name>.json sidecar with its inputs and outputs.

    python scripts/make_fixtures.py            # write fixtures/
    python scripts/make_fixtures.py --out DIR  # write elsewhere (the reproducibility test does)

Needs scikit-learn (the `fixtures` extra) for the bundled 8x8 digits data: no download.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1
ROOT = Path(__file__).resolve().parent.parent
SEED = 20171107


def _session(graph: tf.Graph) -> Any:
    config = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    return v1.Session(graph=graph, config=config)


def _freeze(sess: Any, outputs: list[str]) -> Any:
    """convert_variables_to_constants, the legacy freeze_graph step."""
    graph_def = sess.graph.as_graph_def()
    frozen = v1.graph_util.convert_variables_to_constants(sess, graph_def, outputs)
    return v1.graph_util.extract_sub_graph(frozen, outputs)


def _io_entry(graph: tf.Graph, name: str) -> dict[str, Any]:
    tensor = graph.get_tensor_by_name(f"{name}:0")
    shape = tensor.shape
    return {"name": name, "dtype": tensor.dtype.name,
            "shape": None if shape.rank is None else [-1 if d is None else d for d in shape]}


def _write(out: Path, name: str, graph_def: Any, sidecar: dict[str, Any]) -> None:
    (out / f"{name}.pb").write_bytes(graph_def.SerializeToString(deterministic=True))
    (out / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")


def _sidecar(graph_def: Any, inputs: list[str], outputs: list[str], **extra: Any) -> dict[str, Any]:
    graph = tf.Graph()
    with graph.as_default():
        v1.import_graph_def(graph_def, name="")
    return {"inputs": [_io_entry(graph, n) for n in inputs],
            "outputs": [_io_entry(graph, n) for n in outputs], **extra}


# ---------------------------------------------------------------- 1. digits CNN (trained)

def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits upsampled to 28x28 in [0, 1], split 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    up = tf.image.resize(images, (28, 28), method="bilinear").numpy()
    up = np.round(np.clip(up, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0
    order = np.random.RandomState(SEED).permutation(len(up))
    split = int(len(up) * 0.8)
    train, test = order[:split], order[split:]
    labels = digits.target.astype(np.int64)
    return up[train], labels[train], up[test], labels[test]


def _digits_forward(x: Any, p: dict[str, Any], keep_prob: Any,
                    batch_norm: Callable[[Any], Any], scoped: bool = False) -> Any:
    """``scoped`` names the dense layers fc1/..., fc2/... (digits_cnn keeps its 2017 names)."""
    def conv(h: Any, w: str, b: str) -> Any:
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, p[w], [1, 1, 1, 1], "SAME"), p[b]))

    def dense(h: Any, scope: str) -> Any:
        if not scoped:
            return tf.matmul(h, p[f"{scope}/weights"]) + p[f"{scope}/biases"]
        with tf.name_scope(scope):
            return tf.add(tf.matmul(h, p[f"{scope}/weights"], name="MatMul"),
                          p[f"{scope}/biases"], name="add")

    pool = lambda h: tf.nn.max_pool2d(h, 2, 2, "SAME")  # noqa: E731
    h = pool(conv(x, "conv1/weights", "conv1/biases"))
    h = batch_norm(h)
    h = pool(conv(h, "conv2/weights", "conv2/biases"))
    h = tf.reshape(h, [-1, 7 * 7 * 16], name="flatten")
    h = tf.nn.relu(dense(h, "fc1"), name="fc1/Relu" if scoped else None)
    h = v1.nn.dropout(h, keep_prob=keep_prob)
    return dense(h, "fc2")


DIGITS_SHAPES = {"conv1/weights": [5, 5, 1, 8], "conv1/biases": [8],
                 "conv2/weights": [5, 5, 8, 16], "conv2/biases": [16],
                 "fc1/weights": [784, 128], "fc1/biases": [128],
                 "fc2/weights": [128, 10], "fc2/biases": [10]}


@functools.cache
def _trained_digits() -> dict[str, np.ndarray]:
    """Conv5x5/8, MaxPool, BatchNorm, Conv5x5/16, MaxPool, Flatten, Dense 128, Dropout, Dense 10,
    trained on the digits training split (trained once per run, shared by two fixtures)."""
    x_train, y_train, _, _ = digits_data()
    shapes = DIGITS_SHAPES
    rng = np.random.RandomState(SEED)
    init = {k: (rng.normal(0, np.sqrt(2.0 / np.prod(s[:-1])), s) if len(s) > 1
                else np.zeros(s)).astype(np.float32) for k, s in shapes.items()}

    train_graph = tf.Graph()
    with train_graph.as_default():
        v1.set_random_seed(SEED)
        p = {k: v1.Variable(v, name=k) for k, v in init.items()}
        gamma = v1.Variable(np.ones(8, np.float32), name="bn/gamma")
        beta = v1.Variable(np.zeros(8, np.float32), name="bn/beta")
        moving_mean = v1.Variable(np.zeros(8, np.float32), name="bn/moving_mean", trainable=False)
        moving_var = v1.Variable(np.ones(8, np.float32), name="bn/moving_variance",
                                 trainable=False)
        updates = []

        def train_bn(h: Any) -> Any:
            mean, var = tf.nn.moments(h, [0, 1, 2])
            updates.append(v1.assign(moving_mean, 0.9 * moving_mean + 0.1 * mean))
            updates.append(v1.assign(moving_var, 0.9 * moving_var + 0.1 * var))
            return tf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3)

        xs = v1.placeholder(tf.float32, [None, 28, 28, 1])
        ys = v1.placeholder(tf.int64, [None])
        logits = _digits_forward(xs, p, 0.5, train_bn)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ys,
                                                                             logits=logits))
        with tf.control_dependencies(updates):
            step = v1.train.AdamOptimizer(2e-3).minimize(loss)
        sess = _session(train_graph)
        sess.run(v1.global_variables_initializer())
        order_rng = np.random.RandomState(SEED + 1)
        for _ in range(12):
            order = order_rng.permutation(len(x_train))
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                sess.run(step, {xs: x_train[batch], ys: y_train[batch]})
        trained: dict[str, np.ndarray] = sess.run({
            **p, "bn/gamma": gamma, "bn/beta": beta, "bn/moving_mean": moving_mean,
            "bn/moving_variance": moving_var})
        sess.close()
    return trained


def _frozen_digits(trained: dict[str, np.ndarray], scoped: bool = False
                   ) -> tuple[Any, np.ndarray]:
    """The inference graph, frozen, and its class probabilities on the test split."""
    _, _, x_test, _ = digits_data()
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED)
        x = v1.placeholder(tf.float32, [None, 28, 28, 1], name="input")
        keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")
        p = {k: v1.Variable(trained[k], name=k) for k in DIGITS_SHAPES}
        bn = {k: v1.Variable(trained[f"bn/{k}"], name=f"bn/{k}")
              for k in ("gamma", "beta", "moving_mean", "moving_variance")}

        def frozen_bn(h: Any) -> Any:
            y, _, _ = v1.nn.fused_batch_norm(h, bn["gamma"], bn["beta"], bn["moving_mean"],
                                             bn["moving_variance"], epsilon=1e-3,
                                             is_training=False, name="bn/FusedBatchNorm")
            return y

        logits = _digits_forward(x, p, keep_prob, frozen_bn, scoped)
        tf.nn.softmax(logits, name="probs")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = _freeze(sess, ["probs"])
            probs = sess.run("probs:0", {x: x_test})
    return frozen, probs


def build_digits(out: Path) -> dict[str, float]:
    """The trained digits CNN, its held-out test split and 100 calibration images."""
    x_train, _, x_test, y_test = digits_data()
    frozen, probs = _frozen_digits(_trained_digits())
    accuracy = float(np.mean(np.argmax(probs, 1) == y_test))
    _write(out, "digits_cnn", frozen, _sidecar(
        frozen, ["input", "keep_prob"], ["probs"],
        description="MNIST-style CNN trained on scikit-learn's digits upsampled to 28x28",
        eval_data="digits_test.npz", test_accuracy=round(accuracy, 4)))
    np.savez_compressed(out / "digits_test.npz", x=x_test, y=y_test)
    np.savez_compressed(out / "digits_calib.npz", input=x_train[:100])
    return {"digits_cnn test accuracy": accuracy}


OUTLIER = 3000.0


def build_digits_outlier(out: Path) -> dict[str, float]:
    """The same trained CNN with one massive activation: fc1 gains a unit that always outputs
    OUTLIER and carries fc2's bias (fc2 reads it with weights bias/OUTLIER, its own bias 0), the
    pattern of the "massive activations" found in large trained networks. Float results are
    those of digits_cnn; full int8 is not: fc1's output shares one per-tensor scale, which the
    outlier stretches until the 128 real units get a handful of levels."""
    _, _, _, y_test = digits_data()
    trained = dict(_trained_digits())
    fc1_w, fc1_b = trained["fc1/weights"], trained["fc1/biases"]
    trained["fc1/weights"] = np.concatenate([fc1_w, np.zeros((len(fc1_w), 1), np.float32)], 1)
    trained["fc1/biases"] = np.append(fc1_b, np.float32(OUTLIER))
    fc2_b = trained["fc2/biases"]
    trained["fc2/weights"] = np.concatenate([trained["fc2/weights"],
                                             (fc2_b / np.float32(OUTLIER))[None]], 0)
    trained["fc2/biases"] = np.zeros_like(fc2_b)
    frozen, probs = _frozen_digits(trained, scoped=True)
    accuracy = float(np.mean(np.argmax(probs, 1) == y_test))
    _write(out, "digits_outlier", frozen, _sidecar(
        frozen, ["input", "keep_prob"], ["probs"],
        description=f"digits_cnn with a massive activation: fc1 unit 128 always outputs "
                    f"{OUTLIER:g} and carries fc2's bias; loses accuracy in full int8",
        eval_data="digits_test.npz", calib_data="digits_calib.npz", outlier_layer="fc1",
        test_accuracy=round(accuracy, 4)))
    return {"digits_outlier test accuracy": accuracy}


def build_cond_conv(out: Path) -> dict[str, float]:
    """MTCNN's RNet/ONet pattern in small: convolutions whose frozen weights reach a TF1
    `tf.cond` branch through Switch (the stage runs only when there are candidates)."""
    rng = np.random.RandomState(SEED + 6)
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [1, 12, 12, 3], name="input")
        w1 = v1.Variable(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32), name="conv1/w")
        b1 = v1.Variable(rng.normal(0, 0.1, 8).astype(np.float32), name="conv1/b")
        w2 = v1.Variable(rng.normal(0, 0.3, (3, 3, 8, 4)).astype(np.float32), name="conv2/w")

        def stage() -> Any:
            h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w1, 1, "SAME"), b1))
            return tf.nn.conv2d(h, w2, 1, "SAME")

        found = tf.reduce_max(x) > 0.0
        tf.identity(tf.cond(found, stage, lambda: tf.zeros([1, 12, 12, 4])), name="features")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = _freeze(sess, ["features"])
    _write(out, "cond_conv", frozen, _sidecar(
        frozen, ["input"], ["features"],
        description="two convolutions inside a TF1 tf.cond, weights switched in (MTCNN's "
                    "RNet/ONet pattern)"))
    return {}


# ---------------------------------------------------------------- 2. TF1 pyramid loop

def build_pyramid(out: Path) -> dict[str, float]:
    """MTCNN-like: image + scalar knobs, a v1 while_loop over scales writing a TensorArray."""
    graph = tf.Graph()
    rng = np.random.RandomState(SEED + 2)
    with graph.as_default():
        image = v1.placeholder(tf.float32, [None, None, 3], name="image")
        min_size = v1.placeholder(tf.float32, [], name="min_size")
        factor = v1.placeholder(tf.float32, [], name="factor")
        thresholds = v1.placeholder(tf.float32, [3], name="thresholds")
        kernel = v1.Variable(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32),
                             name="pnet/conv1/weights")
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        base = 12.0 / min_size
        scores = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)

        def cond(i: Any, scale: Any, ta: Any) -> Any:
            return tf.reduce_min(hw) * scale >= 12.0

        def body(i: Any, scale: Any, ta: Any) -> Any:
            size = tf.cast(tf.math.ceil(hw * scale), tf.int32)
            scaled = v1.image.resize_bilinear(image[None], size)
            response = tf.nn.conv2d(scaled, kernel, [1, 2, 2, 1], "VALID")
            row = tf.stack([scale, tf.reduce_mean(tf.nn.relu(response))])[None]
            return i + 1, scale * factor, ta.write(i, row)

        _, _, scores = v1.while_loop(cond, body, [tf.constant(0), base, scores])
        rows = scores.concat()
        tf.identity(rows, name="pyramid")
        tf.reduce_sum(tf.cast(rows[:, 1] > thresholds[0], tf.int32), name="count")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = _freeze(sess, ["pyramid", "count"])
    _write(out, "pyramid", frozen, _sidecar(
        frozen, ["image", "min_size", "factor", "thresholds"], ["pyramid", "count"],
        description="TF1 while_loop over image scales with a TensorArray, MTCNN-style knobs",
        usual_values={"min_size": 20.0, "factor": 0.709, "thresholds": [0.6, 0.7, 0.7]}))
    return {}


# ---------------------------------------------------------------- 3. ResNet-v2-style

def build_resnet(out: Path) -> dict[str, float]:
    """Pre-activation residual blocks (BN-ReLU-Conv), 64x64x3 input, 10 classes."""
    rng = np.random.RandomState(SEED + 3)
    graph = tf.Graph()
    with graph.as_default():
        def var(name: str, shape: list[int], kind: str = "he") -> Any:
            if kind == "he":
                value = rng.normal(0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
            elif kind == "pos":
                value = rng.uniform(0.5, 1.5, shape)
            else:
                value = rng.normal(0, 0.1, shape)
            return v1.Variable(value.astype(np.float32), name=name)

        def bn_relu(h: Any, scope: str) -> Any:
            c = h.shape[-1]
            y, _, _ = v1.nn.fused_batch_norm(
                h, var(f"{scope}/gamma", [c], "pos"), var(f"{scope}/beta", [c], "small"),
                var(f"{scope}/moving_mean", [c], "small"),
                var(f"{scope}/moving_variance", [c], "pos"),
                epsilon=1.001e-5, is_training=False, name=f"{scope}/FusedBatchNorm")
            return tf.nn.relu(y, name=f"{scope}/Relu")

        def conv(h: Any, scope: str, cout: int, stride: int = 1, k: int = 3) -> Any:
            w = var(f"{scope}/weights", [k, k, int(h.shape[-1]), cout])
            return tf.nn.conv2d(h, w, [1, stride, stride, 1], "SAME", name=f"{scope}/Conv2D")

        def block(h: Any, scope: str, cout: int, stride: int) -> Any:
            pre = bn_relu(h, f"{scope}/preact")
            shortcut = h if stride == 1 and int(h.shape[-1]) == cout else conv(
                pre, f"{scope}/shortcut", cout, stride, k=1)
            r = conv(pre, f"{scope}/conv1", cout, stride)
            r = conv(bn_relu(r, f"{scope}/bn1"), f"{scope}/conv2", cout)
            return tf.add(shortcut, r, name=f"{scope}/add")

        x = v1.placeholder(tf.float32, [1, 64, 64, 3], name="input")
        h = conv(x, "resnet_v2/conv1", 16)
        for i, (cout, stride) in enumerate([(16, 1), (32, 2), (64, 2)]):
            h = block(h, f"resnet_v2/block{i + 1}/unit_1", cout, stride)
        h = bn_relu(h, "resnet_v2/postnorm")
        h = tf.reduce_mean(h, [1, 2], name="resnet_v2/pool")
        w = var("resnet_v2/logits/weights", [64, 10])
        b = var("resnet_v2/logits/biases", [10], "small")
        tf.nn.softmax(tf.matmul(h, w) + b, name="predictions")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = _freeze(sess, ["predictions"])
    _write(out, "resnet_v2_small", frozen, _sidecar(
        frozen, ["input"], ["predictions"],
        description="ResNet-v2-style pre-activation network, random weights (seeded)"))
    return {}


# ---------------------------------------------------------------- 4. odd legacy graphs

def build_odd_graphs(out: Path) -> dict[str, float]:
    """Small graphs for the awkward cases: a TF1 cond on an is_training switch, a baked-in FIFO
    queue with no placeholder, a WriteFile side effect, unfrozen variables, a custom op, and a
    text-format copy of the pyramid graph."""
    rng = np.random.RandomState(SEED + 4)
    weights = rng.normal(0, 0.5, (4, 3)).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        is_training = v1.placeholder(tf.bool, [], name="is_training")
        w = v1.Variable(weights, name="dense/weights")
        h = tf.cond(is_training, lambda: x * 0.5, lambda: x)
        tf.matmul(h, w, name="logits")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            _write(out, "cond_training", _freeze(sess, ["logits"]), _sidecar(
                _freeze(sess, ["logits"]), ["x", "is_training"], ["logits"],
                description="TF1 tf.cond (Switch/Merge) on an is_training bool placeholder"))
            _write(out, "unfrozen", graph.as_graph_def(), {
                "inputs": [_io_entry(graph, "x"), _io_entry(graph, "is_training")],
                "outputs": [_io_entry(graph, "logits")],
                "description": "the same graph before freezing: VariableV2 nodes, not frozen"})

    graph = tf.Graph()
    with graph.as_default():
        queue = v1.FIFOQueue(8, [tf.float32], shapes=[[4]], name="input_queue")
        queue.enqueue_many([tf.constant(rng.normal(0, 1, (8, 4)).astype(np.float32))],
                           name="fill")
        batch = queue.dequeue_many(2, name="batch")
        w = v1.Variable(weights, name="dense/weights")
        tf.nn.softmax(tf.matmul(batch, w), name="scores")
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = _freeze(sess, ["scores", "fill"])
    _write(out, "input_pipeline", frozen, {
        "inputs": [], "outputs": [{"name": "scores", "dtype": "float32", "shape": [2, 3]}],
        "cut_points": ["batch:0"],
        "description": "no placeholder: a FIFO queue feeds the network (cut at batch:0)"})

    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [], name="x")
        write = tf.io.write_file("graphport_unsafe_marker.txt", tf.strings.as_string(x),
                                 name="write_marker")
        with tf.control_dependencies([write]):
            tf.identity(x * 2.0, name="y")
    _write(out, "unsafe_writefile", graph.as_graph_def(), _sidecar(
        graph.as_graph_def(), ["x"], ["y"],
        description="runs WriteFile('graphport_unsafe_marker.txt') as a side effect of y"))

    text = (out / "pyramid.pb").read_bytes()
    pyramid = v1.GraphDef.FromString(text)
    (out / "pyramid.pbtxt").write_text(str(pyramid))
    custom = v1.GraphDef()
    custom.node.add(name="x", op="Placeholder").attr["dtype"].type = tf.float32.as_datatype_enum
    node = custom.node.add(name="y", op="GraphportTestCustomOp", input=["x"])
    node.attr["T"].type = tf.float32.as_datatype_enum
    (out / "custom_op.pbtxt").write_text(str(custom))
    return {}


# ---------------------------------------------------------------- 5. ops the repairs handle

def build_legacy_ops(out: Path) -> dict[str, float]:
    """One output per repair pass: quantized weights and static shapes (fold), training
    leftovers and keep_prob dropout (strip), NMS V2/V3 at top level and in a cond (nms),
    CropAndResize with extrapolation (crop), TensorArray accumulation in a while loop."""
    rng = np.random.RandomState(SEED + 5)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED)
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        image = v1.placeholder(tf.float32, [1, 16, 16, 3], name="image")
        boxes = v1.placeholder(tf.float32, [8, 4], name="boxes")
        scores = v1.placeholder(tf.float32, [8], name="scores")
        keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")

        quantized = tf.constant(rng.randint(0, 256, (4, 4)).astype(np.uint8), tf.quint8)
        weights = tf.quantization.dequantize(quantized, -1.0, 1.0, name="weights/dequantize")
        pixels = tf.cast(tf.reduce_prod(tf.shape(image)), tf.float32) * (2.0 - 1.0)
        folded = tf.identity(tf.matmul(x, weights) + pixels / 768.0, name="fold_out")

        checked = tf.debugging.check_numerics(folded, "bad values")
        assertion = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(checked)), [checked])
        with tf.control_dependencies([assertion]):
            printed = v1.Print(checked, [checked], "x")
        stopped = tf.stop_gradient(printed)
        noise = v1.random_uniform(tf.shape(stopped), dtype=tf.float32)
        mask = tf.floor(keep_prob + noise)
        tf.identity(tf.divide(stopped, keep_prob) * mask, name="strip_out")

        v2 = tf.raw_ops.NonMaxSuppressionV2(boxes=boxes, scores=scores, max_output_size=5,
                                            iou_threshold=0.5)
        v3 = tf.raw_ops.NonMaxSuppressionV3(boxes=boxes, scores=scores, max_output_size=6,
                                            iou_threshold=0.4, score_threshold=0.3)
        in_cond = tf.cond(tf.reduce_sum(scores) > 0.0,
                          lambda: tf.raw_ops.NonMaxSuppressionV2(
                              boxes=boxes, scores=scores, max_output_size=4,
                              iou_threshold=0.6),
                          lambda: tf.zeros([0], tf.int32))
        tf.concat([v2, v3, in_cond], 0, name="nms_out")

        crops = tf.image.crop_and_resize(image, boxes, tf.zeros([8], tf.int32), [5, 7],
                                         extrapolation_value=-1.0)
        centres = tf.image.crop_and_resize(image, boxes, tf.zeros([8], tf.int32), [1, 1])
        tf.identity(tf.reduce_sum(crops, [1, 2]) + tf.reduce_sum(centres, [1, 2]),
                    name="crop_out")

        rows = tf.TensorArray(tf.float32, size=0, dynamic_size=True,
                              element_shape=tf.TensorShape([None, 4]))
        _, rows = v1.while_loop(lambda i, ta: i < 3,
                                lambda i, ta: (i + 1, ta.write(i, x * tf.cast(i + 1,
                                                                              tf.float32))),
                                [tf.constant(0), rows])
        tf.identity(rows.concat(), name="tensor_array_out")
        outputs = ["fold_out", "strip_out", "nms_out", "crop_out", "tensor_array_out"]
        frozen = v1.graph_util.extract_sub_graph(graph.as_graph_def(), outputs)
    _write(out, "legacy_ops", frozen, _sidecar(
        frozen, ["x", "image", "boxes", "scores", "keep_prob"], outputs,
        description="one output per repair pass (fold, strip, nms, crop, tensor_array)"))
    return {}


# ---------------------------------------------------------------- 6. patterns of others' graphs

def build_foreign_patterns(out: Path) -> dict[str, float]:
    """Patterns seen in graphs written by others, each in a few KB: an early (producer 0)
    placeholder whose `shape {}` means unknown, a PlaceholderWithDefault side input fed from the
    image path (TF-for-Poets), a tf.map_fn loop with TensorArray scatter/read/gather and an
    Assert anchoring constants inside the while frame (Object Detection API postprocessing), a
    graph whose source output is NaN for part of its inputs, and a scalar string input holding
    a WAV file (speech commands)."""
    rng = np.random.RandomState(SEED + 6)

    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        kernel = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))
        conv = tf.nn.relu(tf.nn.conv2d(image, kernel, [1, 2, 2, 1], "SAME"))
        tf.reduce_mean(conv, [1, 2], name="score")
        legacy = graph.as_graph_def()
    legacy.versions.producer = 0
    for node in legacy.node:
        if node.op == "Placeholder":  # what TF 1.0 wrote for a shape it did not know
            node.attr["shape"].shape.Clear()
    _write(out, "legacy_shape", legacy, {
        "inputs": [{"name": "image", "dtype": "float32", "shape": None}],
        "outputs": [{"name": "score", "dtype": "float32", "shape": [-1, 4]}],
        "description": "producer 0: `shape {}` on the placeholder means unknown rank"})

    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.float32, [1, 8, 8, 3], name="input")
        bottleneck = tf.reshape(tf.reduce_mean(image, [1, 2]), [1, 3])
        side = v1.placeholder_with_default(bottleneck, [None, 3],
                                           name="input_1/BottleneckInputPlaceholder")
        weights = tf.constant(rng.normal(0, 1, (3, 5)).astype(np.float32))
        tf.nn.softmax(tf.matmul(side, weights), name="final_result")
        optional = graph.as_graph_def()
    _write(out, "optional_input", optional, _sidecar(
        optional, ["input", "input_1/BottleneckInputPlaceholder"], ["final_result"],
        description="TF-for-Poets: a PlaceholderWithDefault side input fed from the image"))

    graph = tf.Graph()
    with graph.as_default():
        boxes = v1.placeholder(tf.float32, [2, 8, 4], name="boxes")
        scores = v1.placeholder(tf.float32, [2, 8], name="scores")

        def per_image(args: Any) -> Any:
            b, s = args
            check = tf.debugging.Assert(tf.reduce_all(s >= 0.0), [s])
            with tf.control_dependencies([check]):  # constants anchored on the Assert
                b = tf.reshape(b, tf.stack([-1, 4]))
            b = tf.clip_by_value(b, 0.0, 1.0)
            keep = tf.raw_ops.NonMaxSuppressionV2(boxes=b, scores=s, max_output_size=4,
                                                  iou_threshold=0.5)
            kept = tf.gather(s, keep)
            return tf.pad(kept, [[0, 4 - tf.shape(kept)[0]]])

        tf.identity(tf.map_fn(per_image, (boxes, scores), dtype=tf.float32), name="kept")
        mapped = graph.as_graph_def()
    _write(out, "map_fn_nms", mapped, _sidecar(
        mapped, ["boxes", "scores"], ["kept"],
        description="tf.map_fn: TensorArray scatter/read/gather in a while frame with an "
                    "Assert that anchors constants, NMS per image"))

    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        tf.math.log(x - 0.5, name="y")
        nan = graph.as_graph_def()
    _write(out, "makes_nan", nan, _sidecar(
        nan, ["x"], ["y"], description="log(x - 0.5): NaN wherever x < 0.5"))

    graph = tf.Graph()
    with graph.as_default():
        wav = v1.placeholder(tf.string, [], name="wav_data")
        audio, _rate = tf.audio.decode_wav(wav, desired_channels=1, desired_samples=160)
        tf.sqrt(tf.reduce_mean(tf.square(audio)), name="rms")
        strings = graph.as_graph_def()
    _write(out, "string_input", strings, _sidecar(
        strings, ["wav_data"], ["rms"],
        description="speech-commands front end: a scalar string holding a WAV file"))
    return {}


# ---------------------------------------------------------------- 7. Object Detection API SSDs

def _ssd_export(rng: np.random.RandomState, size: int, dynamic: bool, scores_kind: str,
                nms: str, classes: int = 2, top: int = 10) -> Any:
    """A tiny SSD in the Object Detection API's shape: uint8 image, a preprocessing map_fn
    (resizing inside for a dynamic input), x*2/255-1, a conv backbone with box and class
    predictors, anchors decoded with scales 10, 10, 5, 5, then BatchMultiClassNonMaxSuppression
    as a map_fn over the batch: per class, score filter (V2) or V3's threshold, clip to the
    window, drop empty boxes, NMS, then the top detections padded, classes 1-based."""
    cells, per_cell = size // 4, 2
    anchors_n = cells * cells * per_cell
    centres = (np.arange(cells) + 0.5) / cells
    yc, xc = np.meshgrid(centres, centres, indexing="ij")
    corner = []
    for y, x in zip(yc.ravel(), xc.ravel(), strict=True):
        for extent in (0.3, 0.6):
            corner.append([y - extent / 2, x - extent / 2, y + extent / 2, x + extent / 2])
    anchors = np.array(corner, np.float32)
    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.uint8, [1, None, None, 3] if dynamic else [1, size, size, 3],
                               name="image_tensor")
        pixels = tf.cast(image, tf.float32, name="ToFloat")

        def preprocess(one: Any) -> Any:
            return v1.image.resize_bilinear(one[None], [size, size])[0] if dynamic else one

        resized = tf.map_fn(preprocess, pixels, dtype=tf.float32)
        x = resized * (2.0 / 255.0) - 1.0
        w = tf.constant(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))
        features = tf.nn.relu(tf.nn.conv2d(x, w, [1, 4, 4, 1], "SAME"))
        box_w = tf.constant(rng.normal(0, 0.2, (3, 3, 8, per_cell * 4)).astype(np.float32))
        cls_w = tf.constant(rng.normal(0, 0.8, (3, 3, 8, per_cell * (classes + 1))
                                       ).astype(np.float32))
        encodings = tf.reshape(tf.nn.conv2d(features, box_w, [1, 1, 1, 1], "SAME"),
                               [1, anchors_n, 4])
        logits = tf.reshape(tf.nn.conv2d(features, cls_w, [1, 1, 1, 1], "SAME"),
                            [1, anchors_n, classes + 1])
        ty, tx, th, tw = tf.unstack(tf.transpose(tf.reshape(encodings, [anchors_n, 4])))
        ya, xa = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
        ha, wa = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        h, w_ = tf.exp(th / 5.0) * ha, tf.exp(tw / 5.0) * wa
        ycenter, xcenter = ty / 10.0 * ha + ya, tx / 10.0 * wa + xa
        decoded = tf.stack([ycenter - h / 2, xcenter - w_ / 2, ycenter + h / 2,
                            xcenter + w_ / 2], 1)
        boxes = tf.reshape(decoded, [1, anchors_n, 1, 4])
        if scores_kind == "softmax":
            scores = tf.nn.softmax(logits)[:, :, 1:]
        elif scores_kind == "sigmoid_first":
            scores = tf.sigmoid(logits)[:, :, 1:]
        else:
            scores = tf.sigmoid(logits[:, :, 1:])

        def per_image(args: Any) -> Any:
            image_boxes, image_scores = args
            found_boxes, found_scores, found_classes = [], [], []
            for label in range(classes):
                b, s = image_boxes[:, 0, :], image_scores[:, label]
                if nms == "v2":
                    keep = tf.reshape(tf.where(s > 0.05), [-1])
                    b, s = tf.gather(b, keep), tf.gather(s, keep)
                b = tf.clip_by_value(b, 0.0, 1.0)
                alive = tf.reshape(tf.where((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) > 0.0),
                                   [-1])
                b, s = tf.gather(b, alive), tf.gather(s, alive)
                if nms == "v2":
                    chosen = tf.raw_ops.NonMaxSuppressionV2(
                        boxes=b, scores=s, max_output_size=5, iou_threshold=0.5)
                else:
                    chosen = tf.raw_ops.NonMaxSuppressionV3(
                        boxes=b, scores=s, max_output_size=5, iou_threshold=0.5,
                        score_threshold=0.05)
                found_boxes.append(tf.gather(b, chosen))
                found_scores.append(tf.gather(s, chosen))
                found_classes.append(tf.fill(tf.shape(chosen), float(label)))
            all_boxes, all_scores = tf.concat(found_boxes, 0), tf.concat(found_scores, 0)
            all_classes = tf.concat(found_classes, 0)
            count = tf.minimum(tf.shape(all_scores)[0], top)
            best = tf.nn.top_k(all_scores, count).indices
            pad = top - count  # padded to a static size, as the API's pad_or_clip does
            return (tf.reshape(tf.pad(tf.gather(all_boxes, best), [[0, pad], [0, 0]]),
                               [top, 4]),
                    tf.reshape(tf.pad(tf.gather(all_scores, best), [[0, pad]]), [top]),
                    tf.reshape(tf.pad(tf.gather(all_classes, best), [[0, pad]]), [top]),
                    tf.cast(count, tf.float32))

        out_boxes, out_scores, out_classes, out_count = tf.map_fn(
            per_image, (boxes, scores), dtype=(tf.float32, tf.float32, tf.float32, tf.float32))
        tf.identity(out_boxes, name="detection_boxes")
        tf.identity(out_scores, name="detection_scores")
        tf.identity(out_classes + 1.0, name="detection_classes")
        tf.identity(out_count, name="num_detections")
        return graph.as_graph_def()


def build_ssd_exports(out: Path) -> dict[str, float]:
    """The Object Detection API export shapes the detection rewrite must handle, each a few KB:
    NMS V3 with its score threshold input; a dynamic input resized inside the preprocessing
    loop; sigmoid before the background slice; softmax scores."""
    outputs = ["detection_boxes", "detection_scores", "detection_classes", "num_detections"]
    variants = {
        "ssd_nms_v3": dict(size=32, dynamic=False, scores_kind="sigmoid_after", nms="v3"),
        "ssd_resize_inside": dict(size=32, dynamic=True, scores_kind="sigmoid_after",
                                  nms="v2"),
        "ssd_sigmoid_first": dict(size=32, dynamic=False, scores_kind="sigmoid_first",
                                  nms="v2"),
        "ssd_softmax": dict(size=32, dynamic=False, scores_kind="softmax", nms="v2"),
    }
    for offset, (name, options) in enumerate(variants.items()):
        graph_def = _ssd_export(np.random.RandomState(SEED + 7 + offset), **options)
        _write(out, name, graph_def, _sidecar(
            graph_def, ["image_tensor"], outputs,
            description=f"Object Detection API SSD shape: {options}"))
    return {}


OD_OUTPUTS = {"v3": ["detection_boxes", "detection_scores", "detection_classes",
                     "num_detections"]}
OD_OUTPUTS["v5"] = [*OD_OUTPUTS["v3"], "detection_multiclass_scores", "raw_detection_boxes",
                    "raw_detection_scores"]


def _od_api_export(rng: np.random.RandomState, vintage: str, size: int = 64,
                   classes: int = 3, per_class: int = 10, total: int = 10) -> Any:
    """An SSD written the way the Object Detection API's exporter writes one, with the parts
    that decide whether a converter copes: image_tensor uint8 [?, ?, ?, 3]; Preprocessor/map, a
    v1 map_fn (no inferred element shape, as 2017-2019 exports have) resizing to size x size
    and returning the true image shape; convolutions with frozen batch norm; box and class
    predictors reshaped from dynamic shapes (combined_static_and_dynamic_shape of unknown
    dims); grid anchors computed at run time from the feature maps' shapes; decoding with
    scales 10, 10, 5, 5 against anchors tiled over the batch; sigmoid scores, background
    sliced off; then BatchMultiClassNonMaxSuppression: a map_fn over the batch of per-class
    NMS (per-class limit min(limit, boxes)), concatenate, sort, clip to the window from the
    true image shape, drop boxes with no area, keep and pad to ``total``.

    ``vintage`` "v3" (TF 1.12-1.14 exports): NonMaxSuppressionV3, FusedBatchNorm, Add, four
    outputs. "v5" (TF 1.15's exporter): NonMaxSuppressionV5 with soft_nms_sigma 0,
    FusedBatchNormV3, AddV2, and seven outputs: the four, detection_multiclass_scores,
    raw_detection_boxes and raw_detection_scores."""
    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.uint8, [None, None, None, 3], name="image_tensor")
        with tf.name_scope("Preprocessor"):
            pixels = tf.cast(image, tf.float32, name="ToFloat")

            def resize(one: Any) -> Any:
                with tf.name_scope("ResizeImage"):
                    resized = v1.image.resize_bilinear(one[None], tf.constant([size, size]))[0]
                return resized, tf.shape(resized)

            resized, true_shapes = v1.map_fn(resize, pixels, dtype=(tf.float32, tf.int32),
                                             infer_shape=False)
            inputs = (2.0 / 255.0) * resized - 1.0

        def conv_bn(x: Any, channels: int, stride: int, name: str) -> Any:
            with tf.name_scope(name):
                w = tf.constant(rng.normal(0, 0.4, (3, 3, int(x.shape[-1] or 3), channels))
                                .astype(np.float32), name="weights")
                y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")
                stats = [tf.constant(v.astype(np.float32)) for v in (
                    rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels),
                    rng.normal(0, 0.1, channels), rng.uniform(0.5, 1.5, channels))]
                if vintage == "v3":
                    y = tf.raw_ops.FusedBatchNorm(x=y, scale=stats[0], offset=stats[1],
                                                  mean=stats[2], variance=stats[3],
                                                  epsilon=1e-3, is_training=False)[0]
                else:
                    y = v1.nn.fused_batch_norm(y, *stats, epsilon=1e-3, is_training=False)[0]
                return tf.nn.relu6(y)

        with tf.name_scope("FeatureExtractor"):
            features = conv_bn(inputs, 8, 4, "Conv2d_0")
            feature_maps = [conv_bn(features, 8, 2, "Conv2d_1"),
                            conv_bn(features, 8, 4, "Conv2d_2")]

        def dynamic_shape(t: Any) -> list[Any]:  # the exporter's view: static dims unknown
            return [tf.shape(t)[k] for k in range(4)]

        encodings, predictions, anchors = [], [], []
        per_cell = 2
        for n, fmap in enumerate(feature_maps):
            with tf.name_scope(f"BoxPredictor_{n}"):
                dims = dynamic_shape(fmap)
                count = dims[1] * dims[2] * per_cell
                box_w = tf.constant(rng.normal(0, 0.2, (1, 1, 8, per_cell * 4))
                                    .astype(np.float32))
                cls_w = tf.constant(rng.normal(0, 0.25, (1, 1, 8, per_cell * (classes + 1)))
                                    .astype(np.float32))
                box = tf.nn.conv2d(fmap, box_w, [1, 1, 1, 1], "SAME")
                cls = tf.nn.conv2d(fmap, cls_w, [1, 1, 1, 1], "SAME") - 2.0
                encodings.append(tf.reshape(box, tf.stack([dims[0], count, 1, 4])))
                predictions.append(tf.reshape(cls, tf.stack([dims[0], count, classes + 1])))
            with tf.name_scope(f"MultipleGridAnchorGenerator_{n}"):
                h, w = tf.cast(dims[1], tf.float32), tf.cast(dims[2], tf.float32)
                yc = (tf.range(h) + 0.5) / h
                xc = (tf.range(w) + 0.5) / w
                ys, xs = tf.meshgrid(yc, xc, indexing="ij")
                centres = tf.reshape(tf.stack([ys, xs], -1), [-1, 1, 2])
                extents = tf.constant([[0.3, 0.3], [0.6, 0.45]], np.float32)[None] * (n + 1) / 2
                corners = tf.concat([centres - extents / 2, centres + extents / 2], -1)
                anchors.append(tf.reshape(corners, [-1, 4]))
        box_encodings = tf.concat(encodings, 1, name="concat")
        class_predictions = tf.concat(predictions, 1, name="concat_1")
        all_anchors = tf.concat(anchors, 0, name="anchors")

        with tf.name_scope("Postprocessor"):
            batch = tf.shape(box_encodings)[0]
            tiled = tf.reshape(tf.tile(all_anchors[None], tf.stack([batch, 1, 1])), [-1, 4])
            ty, tx, th, tw = tf.unstack(tf.transpose(tf.reshape(box_encodings, [-1, 4])))
            ymin_a, xmin_a, ymax_a, xmax_a = tf.unstack(tf.transpose(tiled))
            ha, wa = ymax_a - ymin_a, xmax_a - xmin_a
            ya, xa = ymin_a + ha / 2.0, xmin_a + wa / 2.0
            ty, tx, th, tw = ty / 10.0, tx / 10.0, th / 5.0, tw / 5.0
            hh, ww = tf.exp(th) * ha, tf.exp(tw) * wa
            yc, xc = ty * ha + ya, tx * wa + xa
            decoded = tf.transpose(tf.stack([yc - hh / 2.0, xc - ww / 2.0, yc + hh / 2.0,
                                             xc + ww / 2.0]))
            boxes = tf.reshape(decoded, tf.stack([batch, -1, 1, 4]))
            with_background = tf.sigmoid(class_predictions)
            scores = tf.slice(with_background, [0, 0, 1], [-1, -1, -1])
            window = tf.cast(true_shapes, tf.float32) / tf.constant([size, size, 3], np.float32)
            clip_windows = tf.stack([tf.zeros([batch]), tf.zeros([batch]), window[:, 0],
                                     window[:, 1]], 1)

            def single_image_nms(args: Any) -> Any:
                per_boxes, per_scores, clip = args
                found: list[list[Any]] = [[], [], [], []]
                available = tf.shape(per_scores)[0]
                for label in range(classes):
                    class_boxes = tf.unstack(per_boxes, axis=1)[0]
                    class_scores = tf.reshape(tf.slice(per_scores, [0, label],
                                                       tf.stack([available, 1])), [-1])
                    limit = tf.minimum(per_class, available)
                    if vintage == "v3":
                        chosen = tf.raw_ops.NonMaxSuppressionV3(
                            boxes=class_boxes, scores=class_scores, max_output_size=limit,
                            iou_threshold=0.6, score_threshold=1e-8)
                        kept_scores = tf.gather(class_scores, chosen)
                    else:
                        chosen, kept_scores = tf.raw_ops.NonMaxSuppressionV5(
                            boxes=class_boxes, scores=class_scores, max_output_size=limit,
                            iou_threshold=0.6, score_threshold=1e-8, soft_nms_sigma=0.0,
                            pad_to_max_output_size=False)[:2]
                    found[0].append(tf.gather(class_boxes, chosen))
                    found[1].append(kept_scores)
                    found[2].append(tf.zeros_like(kept_scores) + float(label))
                    found[3].append(tf.gather(per_scores, chosen))
                found_boxes, found_scores, found_classes, multiclass = (
                    tf.concat(f, 0) for f in found)
                order = tf.nn.top_k(found_scores, tf.shape(found_scores)[0]).indices
                found_boxes, found_scores, found_classes, multiclass = (
                    tf.gather(f, order) for f in (found_boxes, found_scores, found_classes,
                                                  multiclass))
                ymin, xmin, ymax, xmax = tf.unstack(found_boxes, axis=1)
                ymin = tf.maximum(tf.minimum(ymin, clip[2]), clip[0])
                ymax = tf.maximum(tf.minimum(ymax, clip[2]), clip[0])
                xmin = tf.maximum(tf.minimum(xmin, clip[3]), clip[1])
                xmax = tf.maximum(tf.minimum(xmax, clip[3]), clip[1])
                clipped = tf.stack([ymin, xmin, ymax, xmax], 1)
                alive = tf.reshape(tf.where((ymax - ymin) * (xmax - xmin) > 0.0), [-1])
                clipped, found_scores, found_classes, multiclass = (
                    tf.gather(f, alive) for f in (clipped, found_scores, found_classes,
                                                  multiclass))
                count = tf.minimum(tf.shape(found_scores)[0], total)
                pad = total - count
                kept = (tf.reshape(tf.pad(clipped[:count], [[0, pad], [0, 0]]), [total, 4]),
                        tf.reshape(tf.pad(found_scores[:count], [[0, pad]]), [total]),
                        tf.reshape(tf.pad(found_classes[:count], [[0, pad]]), [total]), count)
                if vintage == "v3":  # no multiclass scores field before TF 1.15's exporter
                    return kept
                return (*kept, tf.reshape(tf.pad(multiclass[:count], [[0, pad], [0, 0]]),
                                          [total, classes]))

            with tf.name_scope("BatchMultiClassNonMaxSuppression"):
                results = v1.map_fn(
                    single_image_nms, (boxes, scores, clip_windows),
                    dtype=(tf.float32, tf.float32, tf.float32, tf.int32,
                           *([tf.float32] if vintage == "v5" else [])))
        tf.identity(results[0], name="detection_boxes")
        tf.identity(results[1], name="detection_scores")
        tf.identity(results[2] + 1.0, name="detection_classes")
        tf.identity(tf.cast(results[3], tf.float32), name="num_detections")
        if vintage == "v5":
            tf.identity(results[4], name="detection_multiclass_scores")
            tf.identity(tf.squeeze(boxes, 2), name="raw_detection_boxes")
            tf.identity(with_background, name="raw_detection_scores")
    # the exporter's freeze keeps what the outputs need (extract_sub_graph)
    graph_def = v1.graph_util.extract_sub_graph(graph.as_graph_def(), OD_OUTPUTS[vintage])
    if vintage == "v3":  # as TF 1.12-1.14 wrote the same code
        for node in graph_def.node:
            if node.op == "AddV2":
                node.op = "Add"
    return graph_def


def build_od_api_exports(out: Path) -> dict[str, float]:
    """Object Detection API SSD exports of two exporter vintages with dynamic inputs (see
    _od_api_export): what users bring, which the ssd_* fixtures above do not reproduce (their
    shapes stay static through the preprocessing loop)."""
    for offset, vintage in enumerate(("v3", "v5")):
        graph_def = _od_api_export(np.random.RandomState(SEED + 60 + offset), vintage)
        _write(out, f"od_ssd_{vintage}_dynamic", graph_def, _sidecar(
            graph_def, ["image_tensor"], OD_OUTPUTS[vintage],
            description=f"Object Detection API SSD export, NMS {vintage}, dynamic input"))
    return {}


def _tflite_ssd_graph(rng: np.random.RandomState, qat: bool, size: int = 64,
                      classes: int = 3) -> Any:
    """What the Object Detection API's export_tflite_ssd_graph.py writes: the network from
    ``normalized_input_image_tensor`` (float [1, size, size, 3], pixels already in [-1, 1]) to
    ``raw_outputs/box_encodings`` [1, N, 4] and ``raw_outputs/class_predictions`` [1, N, C+1]
    (sigmoid applied), the anchors as a constant (ycenter, xcenter, h, w), and one
    TFLite_Detection_PostProcess node appended by hand with the exporter's attributes (the
    exporter needs the TF1 Object Detection API, so its node is copied here attribute by
    attribute). ``qat``: quantization-aware trained, as tf.contrib.quantize left it frozen:
    FakeQuantWithMinMaxVars on the input, every weight and every activation."""
    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.float32, [1, size, size, 3],
                               name="normalized_input_image_tensor")

        def fake_quant(x: Any, low: float, high: float, name: str) -> Any:
            if not qat:
                return x
            return tf.quantization.fake_quant_with_min_max_vars(
                x, tf.constant(low), tf.constant(high), name=name)

        def conv(x: Any, channels: int, stride: int, name: str, act: bool = True,
                 shift: float = 0.0) -> Any:
            w = rng.normal(0, 0.3, (3, 3, int(x.shape[-1]), channels)).astype(np.float32)
            weights = fake_quant(tf.constant(w), float(w.min()), float(w.max()),
                                 f"{name}/weights_quant")
            y = tf.nn.conv2d(x, weights, [1, stride, stride, 1], "SAME", name=name)
            y = tf.nn.bias_add(y, tf.constant(
                (rng.normal(0, 0.1, channels) + shift).astype(np.float32)))
            if act:
                return fake_quant(tf.nn.relu6(y), 0.0, 6.0, f"{name}/act_quant")
            return fake_quant(y, -12.0, 12.0, f"{name}/act_quant")  # as contrib.quantize

        x = fake_quant(image, -1.0, 1.0, "input_quant")
        features = conv(x, 8, 4, "FeatureExtractor/Conv2d_0")
        maps = [conv(features, 8, 2, "FeatureExtractor/Conv2d_1"),
                conv(features, 8, 4, "FeatureExtractor/Conv2d_2")]
        per_cell, encodings, predictions, anchors = 2, [], [], []
        for n, fmap in enumerate(maps):
            cells = int(fmap.shape[1])
            box = conv(fmap, per_cell * 4, 1, f"BoxPredictor_{n}/BoxEncodingPredictor", False)
            cls = conv(fmap, per_cell * (classes + 1), 1,
                       f"BoxPredictor_{n}/ClassPredictor", False, shift=-2.0)
            encodings.append(tf.reshape(box, [1, -1, 4]))
            predictions.append(tf.reshape(cls, [1, -1, classes + 1]))
            centres = (np.arange(cells) + 0.5) / cells
            for y in centres:
                for x_ in centres:
                    for extent in ((0.3, 0.3), (0.6, 0.45)):
                        anchors.append([y, x_, extent[0] * (n + 1) / 2, extent[1] * (n + 1) / 2])
        boxes = fake_quant(tf.concat(encodings, 1), -8.0, 8.0, "box_quant")
        tf.identity(boxes, name="raw_outputs/box_encodings")
        scores = fake_quant(tf.sigmoid(tf.concat(predictions, 1)), 0.0, 1.0, "score_quant")
        tf.identity(scores, name="raw_outputs/class_predictions")
        tf.constant(np.array(anchors, np.float32), name="anchors")
    graph_def = v1.graph_util.extract_sub_graph(graph.as_graph_def(), [
        "raw_outputs/box_encodings", "raw_outputs/class_predictions", "anchors"])
    op = graph_def.node.add(name="TFLite_Detection_PostProcess", op="TFLite_Detection_PostProcess",
                            input=["raw_outputs/box_encodings", "raw_outputs/class_predictions",
                                   "anchors"])
    op.attr["_output_quantized"].b = True
    op.attr["_output_types"].list.type.extend([tf.float32.as_datatype_enum] * 4)
    op.attr["_support_output_type_float_in_quantized_op"].b = True
    for key, value in (("max_detections", 10), ("max_classes_per_detection", 1),
                       ("num_classes", classes), ("detections_per_class", 100)):
        op.attr[key].i = value
    for key, value in (("nms_score_threshold", 1e-8), ("nms_iou_threshold", 0.6),
                       ("y_scale", 10.0), ("x_scale", 10.0), ("h_scale", 5.0),
                       ("w_scale", 5.0)):
        op.attr[key].f = value
    op.attr["use_regular_nms"].b = False
    return graph_def


def build_tflite_ssd_graphs(out: Path) -> dict[str, float]:
    """tflite_graph.pb as export_tflite_ssd_graph.py writes it, float and QAT (the route the
    2019 notes converted with toco --inference_type=QUANTIZED_UINT8 --mean_values=128
    --std_values=128 --allow_custom_ops)."""
    outputs = ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1",
               "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"]
    for offset, qat in enumerate((False, True)):
        graph_def = _tflite_ssd_graph(np.random.RandomState(SEED + 70 + offset), qat)
        name = "tflite_graph_qat" if qat else "tflite_graph"
        sidecar = {"inputs": [{"name": "normalized_input_image_tensor", "dtype": "float32",
                               "shape": [1, 64, 64, 3]}], "outputs": outputs,
                   "description": f"export_tflite_ssd_graph.py output{', QAT' if qat else ''}"}
        _write(out, name, graph_def, sidecar)
    return {}


# ---------------------------------------------------------------- an unrolled LSTM

def lstm_graph(steps: int, hidden: int, features: int = 16) -> Any:
    """A frozen 2-layer LSTM unrolled over ``steps`` time steps by TensorFlow's own
    static_rnn (MultiRNNCell of two BasicLSTMCells, zero state): the input unstacked per step,
    one kernel per layer shared by every step."""
    from tensorflow.python.ops import rnn as rnn_ops
    from tensorflow.python.ops import rnn_cell_impl as rnn

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 50)
        x = v1.placeholder(tf.float32, [1, steps, features], name="x")
        cells = rnn.MultiRNNCell([rnn.BasicLSTMCell(hidden) for _ in range(2)])
        outputs, _ = rnn_ops.static_rnn(cells, tf.unstack(x, axis=1), dtype=tf.float32)
        tf.identity(outputs[-1], name="y")
        return _frozen(graph, ["y"])


def har_graph(steps: int = 200, hidden: int = 64, features: int = 3, classes: int = 6,
              cell: str = "BasicLSTMCell") -> Any:
    """The human-activity-recognition LSTM of 2017 tutorials as TF 1.x wrote it: an open
    batch, the input made time-major and split per step, a dense ReLU layer, two stacked
    BasicLSTMCells by static_rnn, a dense layer on the last output. ``cell``: GRUCell, or
    LSTMCell (with peepholes and a projection to hidden / 2) in place of BasicLSTMCell."""
    from tensorflow.python.ops import rnn as rnn_ops
    from tensorflow.python.ops import rnn_cell_impl as rnn

    make = {"BasicLSTMCell": lambda: rnn.BasicLSTMCell(hidden, forget_bias=1.0),
            "GRUCell": lambda: rnn.GRUCell(hidden),
            "LSTMCell": lambda: rnn.LSTMCell(hidden, use_peepholes=True,
                                             num_proj=hidden // 2)}[cell]
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 80)
        x = v1.placeholder(tf.float32, [None, steps, features], name="x")
        h = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, features])
        h = tf.nn.relu(_layer(h, hidden, "hidden"))
        cells = rnn.MultiRNNCell([make() for _ in range(2)])
        outputs, _ = rnn_ops.static_rnn(cells, tf.split(h, steps, 0), dtype=tf.float32)
        _layer(outputs[-1], classes, "logits")
        return _frozen(graph, ["logits/BiasAdd"])


def build_lstm_unrolled(out: Path) -> dict[str, float]:
    """64 steps, 48 units: unrolled, its int8 model came out 1.6x the float one (quadratic
    joined names, a quantization table per tensor); re-rolled (issue 27) it is one fused LSTM
    per layer. scripts/bench_size.py measures 200 steps and the HAR shapes."""
    frozen = lstm_graph(64, 48)
    _write(out, "lstm_unrolled", frozen, _sidecar(
        frozen, ["x"], ["y"],
        description="2-layer LSTM unrolled 64 steps by static_rnn, shared weights"))
    return {}


# ---------------------------------------------------------------- QAT (issue 24)

def _qat_forward(x: Any, p: dict[str, Any], ranges: dict[str, tuple[Any, Any]]) -> Any:
    """Conv 5x5/8 s2, Conv 3x3/16 s2, Dense 10, with fake-quant points where
    tf.contrib.quantize put them: the input, every weight (narrow range), every activation."""
    def fq(name: str, h: Any, narrow: bool = False) -> Any:
        low, high = ranges[name]
        return tf.quantization.fake_quant_with_min_max_vars(h, low, high, num_bits=8,
                                                            narrow_range=narrow,
                                                            name=f"{name}/act_quant")
    h = fq("input", x)
    h = fq("conv1", tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(
        h, fq("conv1/weights", p["conv1/weights"], True), 2, "SAME"), p["conv1/biases"])))
    h = fq("conv2", tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(
        h, fq("conv2/weights", p["conv2/weights"], True), 2, "SAME"), p["conv2/biases"])))
    h = tf.reshape(h, [-1, 7 * 7 * 16])
    return fq("logits", tf.matmul(h, fq("fc/weights", p["fc/weights"], True)) + p["fc/biases"])


def build_digits_qat(out: Path) -> dict[str, float]:
    """A quantization-aware-trained digits CNN: fake_quant_with_min_max_vars at the input,
    weights and activations, weight ranges their last min/max and activation ranges moving
    averages (tf.contrib.quantize's scheme), trained 3 epochs, frozen."""
    x_train, y_train, x_test, y_test = digits_data()
    shapes = {"conv1/weights": [5, 5, 1, 8], "conv1/biases": [8],
              "conv2/weights": [3, 3, 8, 16], "conv2/biases": [16],
              "fc/weights": [784, 10], "fc/biases": [10]}
    rng = np.random.RandomState(SEED + 70)
    graph = tf.Graph()
    with graph.as_default():
        p = {k: v1.Variable((rng.normal(0, np.sqrt(2.0 / np.prod(s[:-1])), s) if len(s) > 1
                             else np.zeros(s)).astype(np.float32), name=k)
             for k, s in shapes.items()}
        names = ["input", "conv1", "conv2", "logits", "conv1/weights", "conv2/weights",
                 "fc/weights"]
        ranges = {n: (v1.Variable(-1.0 if n != "input" else 0.0, name=f"{n}/min",
                                  trainable=False),
                      v1.Variable(1.0, name=f"{n}/max", trainable=False)) for n in names}
        x = v1.placeholder(tf.float32, [None, 28, 28, 1], name="input")
        ys = v1.placeholder(tf.int64, [None])
        logits = _qat_forward(x, p, ranges)
        tf.nn.softmax(logits, name="probs")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ys,
                                                                             logits=logits))
        updates = []
        for name in ("conv1/weights", "conv2/weights", "fc/weights"):
            updates += [v1.assign(ranges[name][0], tf.reduce_min(p[name])),
                        v1.assign(ranges[name][1], tf.reduce_max(p[name]))]
        graph_ops = {o.name: o for o in graph.get_operations()}
        for name in ("conv1", "conv2", "logits"):  # the value entering each fake-quant point
            value = graph_ops[f"{name}/act_quant"].inputs[0]
            updates += [v1.assign(ranges[name][0], 0.9 * ranges[name][0]
                                  + 0.1 * tf.minimum(tf.reduce_min(value), 0.0)),
                        v1.assign(ranges[name][1], 0.9 * ranges[name][1]
                                  + 0.1 * tf.reduce_max(value))]
        step = v1.train.AdamOptimizer(2e-3).minimize(loss)
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            order_rng = np.random.RandomState(SEED + 71)
            for _ in range(3):
                order = order_rng.permutation(len(x_train))
                for start in range(0, len(order), 64):
                    batch = order[start:start + 64]
                    feed = {x: x_train[batch], ys: y_train[batch]}
                    sess.run(step, feed)
                    sess.run(updates, feed)
            probs = sess.run("probs:0", {x: x_test})
            frozen = _freeze(sess, ["probs"])
    accuracy = float(np.mean(np.argmax(probs, 1) == y_test))
    _write(out, "digits_qat", frozen, _sidecar(
        frozen, ["input"], ["probs"], eval_data="digits_test.npz",
        description="quantization-aware trained digits CNN (fake_quant_with_min_max_vars)",
        test_accuracy=round(accuracy, 4)))
    return {"accuracy": accuracy}


def build_fix_neuron(out: Path) -> dict[str, float]:
    """A Vitis AI decent_q deploy graph in small: FixNeuron after the input, every weight and
    bias, and every activation (attrs bit_width, method, mode 1 activation / 2 weight, phase 1
    evaluation, quantize_pos). Stock TensorFlow has no FixNeuron, so the NodeDefs are written by
    hand, node for node as decent_q writes them, around a float graph TensorFlow built."""
    rng = np.random.RandomState(SEED + 80)
    positions = {"input/aquant": 5, "fc1/weights/wquant": 6, "fc1/biases/wquant": 7,
                 "fc1/Relu/aquant": 4, "fc2/weights/wquant": 6, "fc2/biases/wquant": 7,
                 "fc2/BiasAdd/aquant": 3}
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 16], name="input")
        h = tf.identity(x, name="input/aquant")
        for layer, units in (("fc1", 12), ("fc2", 4)):
            w = tf.identity(tf.constant(rng.normal(0, 0.4, (int(h.shape[-1]), units))
                                        .astype(np.float32), name=f"{layer}/weights"),
                            name=f"{layer}/weights/wquant")
            b = tf.identity(tf.constant(rng.normal(0, 0.1, units).astype(np.float32),
                                        name=f"{layer}/biases"), name=f"{layer}/biases/wquant")
            h = tf.nn.bias_add(tf.matmul(h, w, name=f"{layer}/MatMul"), b,
                               name=f"{layer}/BiasAdd")
            if layer == "fc1":
                h = tf.identity(tf.nn.relu(h, name="fc1/Relu"), name="fc1/Relu/aquant")
        tf.identity(h, name="fc2/BiasAdd/aquant")
        graph_def = graph.as_graph_def()
    for node in graph_def.node:
        if node.name in positions:
            node.op = "FixNeuron"
            node.ClearField("attr")
            node.attr["T"].type = tf.float32.as_datatype_enum
            node.attr["bit_width"].i = 8
            node.attr["method"].i = 1
            node.attr["mode"].i = 2 if "wquant" in node.name else 1
            node.attr["phase"].i = 1
            node.attr["quantize_pos"].i = positions[node.name]
    _write(out, "fix_neuron", graph_def, {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 16]}],
        "outputs": [{"name": "fc2/BiasAdd/aquant", "dtype": "float32", "shape": [-1, 4]}],
        "description": "Vitis AI decent_q deploy graph: FixNeuron nodes (hand-written NodeDefs)"})
    return {}


def build_eightbit_conv(out: Path) -> dict[str, float]:
    """An eightbit image model in the quantize_nodes layout (the transform is gone from
    TensorFlow 2.x; its ops are not, so each node is written as it wrote them): MirrorPad,
    QuantizeV2, QuantizedConv2D, Requantize with RequantizationRange, QuantizedBiasAdd,
    QuantizedRelu, QuantizedMaxPool, QuantizedConcat, QuantizedReshape, Dequantize, then a
    style vector picked with the v1 Gather op from a second input, and a uint8 image out; the
    image input is declared `shape {}` by a producer-0 graph."""
    raw = tf.raw_ops
    rng = np.random.RandomState(SEED + 90)

    def weights(values: np.ndarray, name: str) -> tuple[Any, Any, Any]:
        low, high = float(values.min()), float(values.max())
        quantized = np.round((values - low) / (high - low) * 255).astype(np.uint8)
        return (tf.constant(quantized, dtype=tf.quint8, name=f"{name}_quint8_const"),
                tf.constant(low, name=f"{name}_min"), tf.constant(high, name=f"{name}_max"))

    def quantize(x: Any, name: str) -> Any:
        flat = tf.reshape(x, [-1], name=f"{name}_eightbit_reshape")
        return raw.QuantizeV2(input=x, min_range=tf.reduce_min(flat, 0, name=f"{name}_min"),
                              max_range=tf.reduce_max(flat, 0, name=f"{name}_max"),
                              T=tf.quint8, mode="MIN_FIRST", name=f"{name}_eightbit_quantize")

    def requantize(q: Any, name: str) -> Any:
        measured = raw.RequantizationRange(input=q[0], input_min=q[1], input_max=q[2],
                                           name=f"{name}_eightbit_requant_range")
        return raw.Requantize(input=q[0], input_min=q[1], input_max=q[2],
                              requested_output_min=measured[0],
                              requested_output_max=measured[1], out_type=tf.quint8,
                              name=f"{name}_eightbit_requantize")

    graph = tf.Graph()
    with graph.as_default():
        image = v1.placeholder(tf.float32, [1, 8, 8, 3], name="image")
        style = v1.placeholder(tf.int32, [1], name="style")
        padded = tf.pad(image, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT", name="pad")
        q = quantize(padded, "conv")
        w, w_min, w_max = weights(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32),
                                  "conv/weights")
        conv = raw.QuantizedConv2D(input=q[0], filter=w, min_input=q[1], max_input=q[2],
                                   min_filter=w_min, max_filter=w_max, strides=[1, 1, 1, 1],
                                   padding="VALID", out_type=tf.qint32,
                                   name="conv_eightbit_quantized_conv")
        conv = requantize(conv, "conv")
        b, b_min, b_max = weights(rng.normal(0, 0.1, 8).astype(np.float32), "conv/biases")
        biased = requantize(raw.QuantizedBiasAdd(
            input=conv[0], bias=b, min_input=conv[1], max_input=conv[2], min_bias=b_min,
            max_bias=b_max, out_type=tf.qint32, name="bias_eightbit_quantized_bias_add"), "bias")
        relu = raw.QuantizedRelu(features=biased[0], min_features=biased[1],
                                 max_features=biased[2], out_type=tf.quint8,
                                 name="relu_eightbit_quantized")
        pool = raw.QuantizedMaxPool(input=relu[0], min_input=relu[1], max_input=relu[2],
                                    ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID",
                                    name="pool_eightbit_quantized")
        joined = raw.QuantizedConcat(concat_dim=tf.constant(3), values=[pool[0], pool[0]],
                                     input_mins=[pool[1], pool[1]],
                                     input_maxes=[pool[2], pool[2]],
                                     name="concat_eightbit_quantized_concat")
        flat = raw.QuantizedReshape(tensor=joined[0], shape=tf.constant([1, -1]),
                                    input_min=joined[1], input_max=joined[2],
                                    name="flatten_eightbit_quantized_reshape")
        features = raw.Dequantize(input=flat[0], min_range=flat[1], max_range=flat[2],
                                  mode="MIN_FIRST", name="flatten")
        table = tf.constant(rng.uniform(0.5, 1.5, (4, 256)).astype(np.float32), name="styles")
        vector = raw.Gather(params=table, indices=style, name="style_vector")
        tf.cast(tf.clip_by_value(features * vector * 40.0, 0, 255), tf.uint8, name="stylized")
        graph_def = graph.as_graph_def()
    graph_def.versions.producer = 0
    for node in graph_def.node:
        if node.name == "image":  # what TF 1.0 wrote for a shape it did not know
            node.attr["shape"].shape.Clear()
    _write(out, "eightbit_conv", graph_def, {
        "inputs": [{"name": "image", "dtype": "float32", "shape": None},
                   {"name": "style", "dtype": "int32", "shape": [1]}],
        "outputs": [{"name": "stylized", "dtype": "uint8", "shape": [1, 256]}],
        "description": "eightbit conv model (quantize_nodes layout), MirrorPad, Gather v1, "
                       "two inputs, uint8 output, producer 0"})
    return {}


# ---------------------------------------------------------------- TF1 loops (issue 23)

def _frozen(graph: tf.Graph, outputs: list[str]) -> Any:
    with _session(graph) as sess:
        sess.run(v1.global_variables_initializer())
        return _freeze(sess, outputs)


def _layer(x: Any, units: int, name: str) -> Any:
    """A dense layer as tf.layers.dense wrote it: NAME/kernel, NAME/bias, NAME/BiasAdd."""
    with v1.variable_scope(name):  # the output is NAME/BiasAdd
        kernel = v1.get_variable("kernel", [int(x.shape[-1]), units])
        bias = v1.get_variable("bias", [units], initializer=v1.constant_initializer(0.1))
        if x.shape.rank == 2:
            return tf.nn.bias_add(tf.matmul(x, kernel), bias)
        return tf.nn.bias_add(tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]]), bias)


def build_loops(out: Path) -> dict[str, float]:
    """The TF1 loop shapes of 2016-2019 code, each written by TensorFlow's own producer: a
    peephole/projection LSTMCell, a conv -> GRU -> CTC decoder OCR model, a BasicLSTMCell whose
    state is an input and an output, a bidirectional GRU with sequence lengths, tf.map_fn
    resizing each image of a dynamic batch, a raw
    while_loop writing a dynamic-size TensorArray, and a Keras LSTM frozen by
    convert_variables_to_constants_v2 (TensorList loop, dangling placeholders) as text."""
    # tf.compat.v1.nn.rnn_cell's classes, which Keras 3 hides behind that name
    from tensorflow.python.ops import rnn_cell_impl as rnn

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 60)
        x = v1.placeholder(tf.float32, [None, None, 12], name="x")
        cell = rnn.LSTMCell(24, use_peepholes=True, num_proj=16)
        outputs, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        tf.identity(outputs, name="outputs")
        _layer(outputs[:, -1], 5, "logits")
        frozen = _frozen(graph, ["outputs", "logits/BiasAdd"])
    _write(out, "rnn_lstm_peephole", frozen, _sidecar(
        frozen, ["x"], ["outputs", "logits/BiasAdd"],
        description="dynamic_rnn, LSTMCell(use_peepholes, num_proj), dynamic batch and time"))

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 61)
        image = v1.placeholder(tf.float32, [1, 16, 64, 1], name="image")
        kernel = v1.get_variable("conv/kernel", [3, 3, 1, 8])
        features = tf.nn.relu(tf.nn.conv2d(image, kernel, 2, "SAME"))  # [1, 8, 32, 8]
        sequence = tf.reshape(tf.transpose(features, [0, 2, 1, 3]), [1, 32, 64])
        outputs, _ = v1.nn.dynamic_rnn(rnn.GRUCell(32), sequence, dtype=tf.float32)
        logits = _layer(outputs, 11, "logits")  # 10 characters + blank
        decoded, _ = tf.nn.ctc_greedy_decoder(tf.transpose(logits, [1, 0, 2]), [32])
        tf.sparse.to_dense(decoded[0], default_value=-1, name="decoded")
        frozen = _frozen(graph, ["decoded"])
    _write(out, "rnn_gru_ctc", frozen, _sidecar(
        frozen, ["image"], ["decoded"],
        description="OCR: conv -> GRU dynamic_rnn -> CTCGreedyDecoder -> SparseToDense"))

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 62)
        obs = v1.placeholder(tf.float32, [None, None, 8], name="obs")
        state_in = v1.placeholder(tf.float32, [None, 64], name="lstm_state_in")
        c, h = tf.split(state_in, 2, axis=1)
        outputs, state = v1.nn.dynamic_rnn(rnn.BasicLSTMCell(32), obs,
                                           initial_state=rnn.LSTMStateTuple(c, h))
        tf.concat([state.c, state.h], 1, name="lstm_state_out")
        tf.nn.softmax(_layer(outputs, 4, "policy"), name="action_probs")
        frozen = _frozen(graph, ["action_probs", "lstm_state_out"])
    _write(out, "rnn_state_io", frozen, _sidecar(
        frozen, ["obs", "lstm_state_in"], ["action_probs", "lstm_state_out"],
        description="LSTM policy: recurrent state fed in and returned, dynamic batch and time"))

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(SEED + 65)
        sequences = v1.placeholder(tf.float32, [None, None, 6], name="sequences")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        (forward, backward), _ = v1.nn.bidirectional_dynamic_rnn(
            rnn.GRUCell(8), rnn.GRUCell(8), sequences, sequence_length=lengths,
            dtype=tf.float32)
        tf.concat([forward, backward], 2, name="encoded")
        frozen = _frozen(graph, ["encoded"])
    _write(out, "rnn_bidi_lengths", frozen, _sidecar(
        frozen, ["sequences", "lengths"], ["encoded"],
        description="bidirectional GRU dynamic_rnn with sequence_length (ReverseSequence, "
                    "masking by length), a second input sharing the batch"))

    graph = tf.Graph()
    with graph.as_default():
        images = v1.placeholder(tf.float32, [None, 6, 6, 3], name="images")

        def per_image(image: Any) -> Any:  # the Object Detection API's Preprocessor/map
            resized = v1.image.resize_bilinear(tf.expand_dims(image, 0), [4, 4])[0]
            return tf.image.per_image_standardization(resized)

        tf.identity(v1.map_fn(per_image, images), name="preprocessed")
        mapped = graph.as_graph_def()
    _write(out, "map_fn_resize", mapped, _sidecar(
        mapped, ["images"], ["preprocessed"],
        description="tf.map_fn over a dynamic batch, a resize inside (element shape changes)"))

    graph = tf.Graph()
    with graph.as_default():
        rng = np.random.RandomState(SEED + 63)
        x = v1.placeholder(tf.float32, [1, 5], name="x")
        weights = tf.constant(rng.normal(0, 0.5, (5, 5)).astype(np.float32))
        steps = tf.constant(4, name="steps")
        history = tf.TensorArray(tf.float32, size=0, dynamic_size=True)

        def body(i: Any, state: Any, written: Any) -> Any:
            state = tf.tanh(tf.matmul(state, weights) + 0.1)
            return i + 1, state, written.write(i, state)

        _, _, written = v1.while_loop(lambda i, *_: i < steps, body, [0, x, history])
        tf.identity(written.stack(), name="history")
        raw = graph.as_graph_def()
    _write(out, "while_ta", raw, _sidecar(
        raw, ["x"], ["history"],
        description="raw while_loop writing a dynamic-size TensorArray, stacked after"))
    return {}


def build_keras_lstm(out: Path) -> dict[str, float]:
    """A TF2 Keras LSTM frozen with convert_variables_to_constants_v2 (lowered control flow):
    a v1 loop over TensorList ops whose element shapes are not static, and placeholders named
    unused_control_flow_input that nothing reads; written as a text GraphDef."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras = tf.keras
    keras.utils.set_random_seed(SEED + 64)
    model = keras.Sequential([keras.Input((None, 6), batch_size=None),
                              keras.layers.LSTM(16, return_sequences=False),
                              keras.layers.Dense(3)])
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec([None, None, 6], tf.float32, "x"))
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=True)
    graph_def = frozen.graph.as_graph_def()
    ordered = sorted(graph_def.node, key=lambda n: n.name)  # the converter's order varies
    del graph_def.node[:]
    graph_def.node.extend(ordered)
    inputs = [t.name.split(":")[0] for t in frozen.inputs]
    outputs = [t.name.split(":")[0] for t in frozen.outputs]
    (out / "keras_lstm.pbtxt").write_text(str(graph_def))
    (out / "keras_lstm.json").write_text(json.dumps(_sidecar(
        graph_def, inputs, outputs,
        description="Keras LSTM, convert_variables_to_constants_v2(lower_control_flow=True)"),
        indent=2) + "\n")
    return {}


# ---------------------------------------------------------------- checkpoints (unfrozen)

def _dense_model(x: Any, rng: np.random.RandomState) -> Any:
    """Two dense layers, as a 2018 tutorial would write them, with named variables."""
    w1 = v1.Variable(rng.normal(0, 0.5, (4, 8)).astype(np.float32), name="fc1/weights")
    b1 = v1.Variable(rng.normal(0, 0.1, (8,)).astype(np.float32), name="fc1/biases")
    w2 = v1.Variable(rng.normal(0, 0.5, (8, 3)).astype(np.float32), name="fc2/weights")
    b2 = v1.Variable(rng.normal(0, 0.1, (3,)).astype(np.float32), name="fc2/biases")
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1, name="fc1/relu")
    return tf.add(tf.matmul(hidden, w2), b2, name="logits")


def _training_checkpoint(directory: Path, resource: bool) -> None:
    """A training graph (loss, optimizer, saver) saved as Saver did: meta graph, index, data
    and the ``checkpoint`` file; VariableV2 or resource variables."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(SEED + 40)
    if resource:
        v1.enable_resource_variables()
    try:
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(SEED)
            x = v1.placeholder(tf.float32, [None, 4], name="x")
            labels = v1.placeholder(tf.int32, [None], name="labels")
            logits = _dense_model(x, rng)
            tf.nn.softmax(logits, name="probs")
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits), name="loss")
            train = v1.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
            saver = v1.train.Saver(save_relative_paths=True)
            data = rng.normal(0, 1, (32, 4)).astype(np.float32)
            with _session(graph) as sess:
                sess.run(v1.global_variables_initializer())
                for _ in range(5):
                    sess.run(train, {x: data, labels: (data.sum(1) > 0).astype(np.int32)})
                saver.save(sess, str(directory / "model.ckpt"), write_meta_graph=True)
    finally:
        v1.disable_resource_variables()
    # Saver's state file holds the time of writing; ours names the prefix only.
    (directory / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\n'
                                          'all_model_checkpoint_paths: "model.ckpt"\n')


def build_checkpoints(out: Path) -> dict[str, float]:
    """checkpoints/: a TF1 training checkpoint with VariableV2 (plus an eval graph .pbtxt
    beside it, as TensorFlow's ResNet-v2 release ships), the same with resource variables,
    and a TF2 object-based checkpoint (refused: tf.saved_model is its route)."""
    root = out / "checkpoints"
    _training_checkpoint(root / "dense_v1", resource=False)
    _training_checkpoint(root / "dense_resource", resource=True)
    graph = tf.Graph()
    with graph.as_default():  # the eval graph: the same variables, no loss, no saver
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        tf.nn.softmax(_dense_model(x, np.random.RandomState(SEED + 40)), name="probs")
    (root / "dense_v1" / "model_eval.pbtxt").write_text(str(graph.as_graph_def()))
    object_dir = root / "tf2_object"
    object_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = tf.train.Checkpoint(dense=tf.Variable(np.ones((4, 3), np.float32)))
    checkpoint.write(str(object_dir / "ckpt-1"))
    return {}


BUILDERS: dict[str, Callable[[Path], dict[str, float]]] = {
    "digits_cnn": build_digits,
    "digits_outlier": build_digits_outlier,
    "pyramid": build_pyramid,
    "resnet_v2_small": build_resnet,
    "odd_graphs": build_odd_graphs,
    "legacy_ops": build_legacy_ops,
    "cond_conv": build_cond_conv,
    "foreign_patterns": build_foreign_patterns,
    "ssd_exports": build_ssd_exports,
    "od_api_exports": build_od_api_exports,
    "tflite_ssd_graphs": build_tflite_ssd_graphs,
    "checkpoints": build_checkpoints,
    "lstm_unrolled": build_lstm_unrolled,
    "loops": build_loops,
    "digits_qat": build_digits_qat,
    "fix_neuron": build_fix_neuron,
    "eightbit_conv": build_eightbit_conv,
    "keras_lstm": build_keras_lstm,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures")
    parser.add_argument("--only", nargs="*", choices=list(BUILDERS), default=list(BUILDERS))
    args = parser.parse_args(argv)
    tf.config.experimental.enable_op_determinism()
    # Legacy graphs: Switch/Merge/Enter/Exit control flow and VariableV2, as TF 1.x wrote them.
    v1.disable_control_flow_v2()
    v1.disable_resource_variables()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        facts = BUILDERS[name](args.out)
        extra = "  ".join(f"{k}: {v:.4f}" for k, v in facts.items())
        print(f"built {name}  {extra}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Makes models/testdata/hf-audio-test/model.onnx: a tiny model with the interface of a Hugging Face
audio-classification ONNX export (wav2vec2 / HuBERT style), so the voice pipeline's support for that
shape is tested without a large download.

Interface: `input_values` f32 [N, 16000] (1 s at 16 kHz, z-normalised by the caller),
`attention_mask` i64 [N, 16000] (1 = real sample, 0 = padding), `logits` f32 [N, 3].

What it computes, so a test can predict its output exactly:
    m      = float(attention_mask)
    real   = sum(m) / 16000                       (share of the window that is real audio)
    energy = sum((input_values * m)^2) / sum(m)   (about 1 for z-normalised input)
    logits = [energy, 2 * real, -real]            (labels: steady, present, absent)

Needs the `onnx` package (pip install onnx). Run from anywhere; writes next to the manifest.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

T = 16000
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "testdata", "hf-audio-test", "model.onnx")

axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
length = numpy_helper.from_array(np.array(float(T), dtype=np.float32), "length")
weights = numpy_helper.from_array(
    np.array([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0]], dtype=np.float32), "weights"
)
nodes = [
    helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["input_values", "m"], ["xm"]),
    helper.make_node("Mul", ["xm", "xm"], ["sq"]),
    helper.make_node("ReduceSum", ["sq", "axes"], ["sq_sum"], keepdims=1),
    helper.make_node("ReduceSum", ["m", "axes"], ["m_sum"], keepdims=1),
    helper.make_node("Div", ["sq_sum", "m_sum"], ["energy"]),
    helper.make_node("Div", ["m_sum", "length"], ["real"]),
    helper.make_node("Concat", ["energy", "real"], ["features"], axis=1),
    helper.make_node("MatMul", ["features", "weights"], ["logits"]),
]
graph = helper.make_graph(
    nodes,
    "hf_audio_classification_test",
    [
        helper.make_tensor_value_info("input_values", TensorProto.FLOAT, ["batch", T]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", T]),
    ],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
    initializer=[axes, length, weights],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
print(f"wrote {out} ({os.path.getsize(out)} bytes)")

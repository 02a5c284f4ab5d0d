"""Single-operator ONNX Runtime sessions for the side-by-side benchmark (built in memory with onnx.helper).

Constant operands (scales, zero points, the MatMulInteger weight) are initializers, so ORT can prepack
them, as it would in a real model.
"""
from __future__ import annotations

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # the benchmark prints a note and runs without ORT
    ort = None


def available() -> bool:
    return ort is not None


def _session(node, inputs, outputs, initializers, threads: int, opset: int = 13, ir_version: int = 8):
    graph = helper.make_graph([node], "op", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # ORT's workers otherwise keep spinning after each run and steal the cores of the contender timed next
    # (runs are interleaved); with spinning off each contender gets the machine to itself.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def quantize_linear(n: int, scale: float, zero_point: int, threads: int):
    s = _session(
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"]),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [n])],
        [numpy_helper.from_array(np.array(scale, np.float32), "s"),
         numpy_helper.from_array(np.array(zero_point, np.int8), "z")], threads)
    return lambda x: s.run(None, {"x": x})[0]


def quantize_linear_float8(n: int, scale: float, onnx_type: int, threads: int):
    """QuantizeLinear (opset 21, saturate = 1) to an FP8 type. ORT's Python binding cannot hand float8 tensors
    to NumPy, so the session runs with IO binding and the output stays an OrtValue (no copy, as in a graph);
    ``fetch()`` reads its bytes for the equality check."""
    import ctypes
    sess = _session(
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], saturate=1),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])], [helper.make_tensor_value_info("y", onnx_type, [n])],
        [numpy_helper.from_array(np.array(scale, np.float32), "s"), helper.make_tensor("z", onnx_type, [], [0.0])],
        threads, opset=21, ir_version=10)
    binding = sess.io_binding()
    state = {}

    def run(x):
        if state.get("x") is not x:  # bind once per input array (binding copies nothing)
            state["x"] = x
            state["xv"] = ort.OrtValue.ortvalue_from_numpy(x)
            binding.bind_ortvalue_input("x", state["xv"])
            binding.bind_output("y", "cpu")
        sess.run_with_iobinding(binding)

    def fetch():
        out = binding.get_outputs()[0]
        return np.frombuffer(ctypes.string_at(out.data_ptr(), n), dtype=np.uint8)

    return run, fetch


def dequantize_linear(n: int, scale: float, zero_point: int, threads: int):
    s = _session(
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
        [helper.make_tensor_value_info("q", TensorProto.INT8, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
        [numpy_helper.from_array(np.array(scale, np.float32), "s"),
         numpy_helper.from_array(np.array(zero_point, np.int8), "z")], threads)
    return lambda q: s.run(None, {"q": q})[0]


def matmul_integer(b: np.ndarray, a_zero_point: int, m: int, threads: int):
    k, n = b.shape
    s = _session(
        helper.make_node("MatMulInteger", ["a", "b", "za"], ["c"]),
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [m, n])],
        [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.array(a_zero_point, np.uint8), "za")], threads)
    return lambda a: s.run(None, {"a": a})[0]


def matmul_nbits(nb: dict, accuracy_level: int, threads: int):
    """com.microsoft.MatMulNBits with the weights of QuantizedWeight.to_matmul_nbits() as initializers."""
    k, n = nb["K"], nb["N"]
    inits = [numpy_helper.from_array(nb["B"], "B"), numpy_helper.from_array(nb["scales"].ravel(), "scales")]
    names = ["A", "B", "scales"]
    if nb["zero_points"] is not None:
        inits.append(numpy_helper.from_array(nb["zero_points"].ravel(), "zp"))
        names.append("zp")
    node = helper.make_node("MatMulNBits", names, ["Y"], domain="com.microsoft", K=k, N=n, bits=nb["bits"],
                            block_size=nb["block_size"], accuracy_level=accuracy_level)
    graph = helper.make_graph([node], "op", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [None, k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    s = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda x: s.run(None, {"A": x})[0]

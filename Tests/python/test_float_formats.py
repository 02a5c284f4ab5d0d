"""Float formats (FP8, FP6, FP4) against three independent implementations: ml_dtypes' casts, ONNX's own
reference evaluator (QuantizeLinear / DequantizeLinear at opset 23) and ONNX Runtime (the FP8 types), on data
built to hit every rule: ties, each format's subnormals, the overflow boundaries, +-inf, NaN and -0."""
import numpy as np
import pytest

import swiftquant as sq

import ml_dtypes  # noqa: E402  (requirements-dev.txt: the oracles are required, never skipped)
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

# Inputs include inf, NaN and overflow on purpose; the references warn about them.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FORMATS = {
    # name: (ml_dtypes type, ONNX type, has NaN, largest finite, smallest subnormal)
    "float8_e4m3fn": (ml_dtypes.float8_e4m3fn, TensorProto.FLOAT8E4M3FN, True, 448.0, 2.0 ** -9),
    "float8_e4m3fnuz": (ml_dtypes.float8_e4m3fnuz, TensorProto.FLOAT8E4M3FNUZ, True, 240.0, 2.0 ** -10),
    "float8_e5m2": (ml_dtypes.float8_e5m2, TensorProto.FLOAT8E5M2, True, 57344.0, 2.0 ** -16),
    "float8_e5m2fnuz": (ml_dtypes.float8_e5m2fnuz, TensorProto.FLOAT8E5M2FNUZ, True, 57344.0, 2.0 ** -17),
    "float4_e2m1": (ml_dtypes.float4_e2m1fn, TensorProto.FLOAT4E2M1, False, 6.0, 0.5),
    "float6_e3m2": (ml_dtypes.float6_e3m2fn, TensorProto.FLOAT6E3M2, False, 28.0, 2.0 ** -4),
    "float6_e2m3": (ml_dtypes.float6_e2m3fn, TensorProto.FLOAT6E2M3, False, 7.5, 2.0 ** -3),
}
FP8 = [f for f in FORMATS if f.startswith("float8")]
NAN_CODES = {"float8_e4m3fn": (0x7F, 0xFF), "float8_e4m3fnuz": (0x80,), "float8_e5m2": (0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF),
             "float8_e5m2fnuz": (0x80,)}


def values_of(fmt):
    """Every finite value of the format (from ml_dtypes' decoding of every code), sorted, unique."""
    t = FORMATS[fmt][0]
    bits = 8 if fmt.startswith("float8") else (6 if fmt.startswith("float6") else 4)
    v = np.arange(1 << bits, dtype=np.uint8).view(t).astype(np.float32)
    return np.unique(v[np.isfinite(v)])


def hard_inputs(fmt, seed=0, with_nan=True):
    """Float32 inputs in units of the format: its values, every midpoint (tie) and its neighbours one float32
    ulp away, the overflow boundary, float32 subnormals, +-0, +-inf, NaN, and random data of every magnitude."""
    vals = values_of(fmt).astype(np.float64)
    top = FORMATS[fmt][3]
    mids = (vals[:-1] + vals[1:]) / 2  # exact in float32: the formats have few mantissa bits
    mids32 = mids.astype(np.float32)
    assert np.array_equal(mids32.astype(np.float64), mids)
    above = np.float32(top) * np.float32(1 + 2.0 ** -4)  # the first midpoint above max, roughly
    parts = [vals.astype(np.float32), mids32, np.nextafter(mids32, np.float32(np.inf)),
             np.nextafter(mids32, np.float32(-np.inf)),
             np.array([top, np.nextafter(np.float32(top), np.float32(np.inf)), above, np.nextafter(above, np.float32(0)),
                       2 * top, 1e30, 3.4e38, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-40, 1.2e-38,
                       FORMATS[fmt][4] / 2, -FORMATS[fmt][4] / 2, FORMATS[fmt][4] * 0.75], np.float32)]
    rng = np.random.default_rng(seed)
    parts.append((rng.standard_normal(4000) * np.exp2(rng.uniform(-30, 30, 4000))).astype(np.float32))
    x = np.concatenate(parts).astype(np.float32)
    x = np.concatenate([x, -x])
    if with_nan:
        nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF, 0x7FA00000], np.uint32).view(np.float32)
        x = np.concatenate([x, nans])
    return x


def ml_reference(v, fmt, saturate):
    """ONNX's definition, as onnx.numpy_helper.saturate_cast writes it: clip to the finite range, then cast."""
    t, _, _, top, _ = FORMATS[fmt]
    if saturate or not FORMATS[fmt][2]:
        v = np.clip(v, -top, top)  # FP4 / FP6: no inf or NaN, the cast saturates anyway
    return v.astype(t).view(np.uint8)


def assert_codes(got, want, x, fmt):
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{fmt}: {bad.size} codes differ, first x={x.ravel()[bad[0]]!r} "
                           f"(bits {x.view(np.uint32).ravel()[bad[0]]:#010x}): got {got.ravel()[bad[0]]:#04x}, "
                           f"want {want.ravel()[bad[0]]:#04x}")


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("scale", [1.0, 0.37, 2.0 ** -20])
def test_quantize_matches_ml_dtypes(fmt, saturate, scale):
    has_nan = FORMATS[fmt][2]
    if not has_nan and not saturate:
        x = hard_inputs(fmt, with_nan=False) * np.float32(scale)
    else:
        x = hard_inputs(fmt, with_nan=has_nan) * np.float32(scale)
    p = sq.QParams(scale, dtype=fmt)
    got = sq.quantize(x, p, saturate=saturate)
    v = x / np.float32(scale)  # ONNX: a float32 division
    assert_codes(got, ml_reference(v, fmt, saturate), x, fmt)
    if has_nan:
        assert set(np.unique(got[np.isnan(v)]).tolist()) <= set(NAN_CODES[fmt])
        # ml_dtypes keeps NaN's sign for E4M3FN / E5M2; so do we (the comparison above includes NaN).


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_dequantize_every_code_matches_ml_dtypes(fmt):
    bits = 8 if fmt.startswith("float8") else (6 if fmt.startswith("float6") else 4)
    codes = np.arange(1 << bits, dtype=np.uint8)
    t = FORMATS[fmt][0]
    for scale in (1.0, 0.37, 3.0e-3):
        got = sq.dequantize(codes, sq.QParams(scale, dtype=fmt))
        want = codes.view(t).astype(np.float32) * np.float32(scale)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))
    # An ml_dtypes array of the same format is read as its codes.
    np.testing.assert_array_equal(sq.dequantize(codes.view(t), sq.QParams(1.0, dtype=fmt))[~np.isnan(want)],
                                  codes.view(t).astype(np.float32)[~np.isnan(want)])


@pytest.mark.parametrize("fmt", ["float4_e2m1", "float6_e3m2", "float6_e2m3"])
def test_codes_beyond_the_format_and_nan_are_errors(fmt):
    bits = 4 if fmt == "float4_e2m1" else 6
    p = sq.QParams(1.0, dtype=fmt)
    with pytest.raises(sq.SwiftQuantError, match=f"element 2 is {1 << bits}, not a {fmt} code"):
        sq.dequantize(np.array([0, 1, 1 << bits], np.uint8), p)
    x = np.array([1.0, 2.0, np.nan], np.float32)
    with pytest.raises(sq.SwiftQuantError, match=f"element 2 is NaN, and {fmt} has no NaN"):
        sq.quantize(x, p)
    with pytest.raises(sq.SwiftQuantError, match="no NaN"):
        sq.fake_quantize(x, p)


def onnx_quantize(x, scale, fmt, axis=1, block_size=0, saturate=1):
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], output_dtype=FORMATS[fmt][1], saturate=saturate,
                            axis=axis, block_size=block_size)
    return ReferenceEvaluator(node, opsets={"": 23}).run(None, {"x": x, "s": scale})[0]


def onnx_dequantize(q, scale, axis=1, block_size=0):
    node = helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=axis, block_size=block_size)
    return ReferenceEvaluator(node, opsets={"": 23}).run(None, {"q": q, "s": scale})[0]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("granularity", ["tensor", "axis", "block"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_matches_onnx_reference_evaluator(fmt, granularity, saturate):
    has_nan = FORMATS[fmt][2]
    hard = hard_inputs(fmt, seed=3, with_nan=has_nan)
    rng = np.random.default_rng(5)
    n = 48
    rows = -(-hard.size // n)
    x = np.resize(hard, rows * n).reshape(rows, n)
    if granularity == "tensor":
        scale = np.float32(0.75)
        p = sq.QParams(scale, dtype=fmt)
        kw = dict(axis=1, block_size=0)
    elif granularity == "axis":
        scale = rng.uniform(0.1, 4, n).astype(np.float32)
        p = sq.QParams(scale, dtype=fmt, axis=1)
        kw = dict(axis=1, block_size=0)
    else:
        scale = rng.uniform(0.1, 4, (rows, n // 16)).astype(np.float32)
        p = sq.QParams(scale, dtype=fmt, axis=1, block_size=16)
        kw = dict(axis=1, block_size=16)
    got = sq.quantize(x, p, saturate=bool(saturate))
    want = onnx_quantize(x, np.asarray(scale, np.float32), fmt, saturate=saturate, **kw)
    assert_codes(got, want.view(np.uint8), x, fmt)
    back = sq.dequantize(got, p)
    ref = onnx_dequantize(want, np.asarray(scale, np.float32), **kw)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_array_equal(back[ok].view(np.uint32), ref[ok].view(np.uint32))
    # Fake quantization is the same round trip in one pass (saturating).
    if saturate:
        fq = sq.fake_quantize(x, p)
        np.testing.assert_array_equal(np.isnan(fq), np.isnan(back))
        np.testing.assert_array_equal(fq[ok].view(np.uint32), back[ok].view(np.uint32))


@pytest.mark.parametrize("fmt", FP8)
@pytest.mark.parametrize("saturate", [1, 0])
def test_matches_onnx_runtime(fmt, saturate):
    t, onnx_type = FORMATS[fmt][0], FORMATS[fmt][1]
    x = hard_inputs(fmt, seed=11)
    scale = np.float32(0.625)
    # ORT's Python binding cannot return float8 tensors: the graph dequantizes too, and the comparison is of
    # the decoded values, bit for bit (decoding is one to one on finite codes, -0 included).
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], saturate=saturate),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"])]
    graph = helper.make_graph(
        nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
        [helper.make_tensor("s", TensorProto.FLOAT, [], [float(scale)]), helper.make_tensor("zp", onnx_type, [], [0.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    p = sq.QParams(scale, dtype=fmt)
    back = sq.dequantize(sq.quantize(x, p, saturate=bool(saturate)), p)
    want = sess.run(None, {"x": x})[0]
    v = x / scale
    top = FORMATS[fmt][3]
    same = np.isnan(back) == np.isnan(want)
    same[~np.isnan(want)] = back[~np.isnan(want)].view(np.uint32) == want[~np.isnan(want)].view(np.uint32)
    if saturate:
        assert same.all(), x[~same][:5]
    else:
        # ORT departs from ONNX's reference (and ml_dtypes) without saturation: values beyond the largest
        # finite one that still lie in its binade (E4M3FN: (464, 512), E5M2: [61440, 65536)) come back as
        # +-max (E4M3FN) or NaN (E5M2) instead of ONNX's NaN / inf. Everything else agrees; test_matches_onnx_reference_evaluator pins the
        # reference's answer.
        assert same[np.abs(v) <= top].all()
        off = ~same
        binade_top = 2.0 ** (np.floor(np.log2(top)) + 1)
        assert np.all((np.abs(v[off]) > top) & (np.abs(v[off]) < binade_top))
        assert np.all((np.abs(want[off]) == np.float32(top) * scale) | np.isnan(want[off]))
        assert np.all(~np.isfinite(back[off]))
    del t


def test_encode_is_the_nearest_value_ties_to_even():
    """An independent statement of the rounding rule: the nearest finite value, ties to the even code."""
    rng = np.random.default_rng(9)
    for fmt in FORMATS:
        t, _, _, top, _ = FORMATS[fmt]
        vals = values_of(fmt)
        pos = vals[vals >= 0].astype(np.float64)
        x = rng.uniform(0, top, 5000).astype(np.float32)
        got = sq.dequantize(sq.quantize(x, sq.QParams(1.0, dtype=fmt)), sq.QParams(1.0, dtype=fmt)).astype(np.float64)
        i = np.clip(np.searchsorted(pos, x, side="left"), 1, pos.size - 1)
        lo, hi = pos[i - 1], pos[i]
        d_lo, d_hi = x - lo, hi - x
        want = np.where(d_lo < d_hi, lo, hi)
        tie = d_lo == d_hi
        # Ties: the value whose code is even (lowest mantissa bit 0).
        lo_code = np.asarray(lo, np.float32).astype(t).view(np.uint8)
        want[tie] = np.where(lo_code[tie] % 2 == 0, lo[tie], hi[tie])
        exact = np.isin(x.astype(np.float64), pos)
        want[exact] = x[exact]
        np.testing.assert_array_equal(got, want, err_msg=fmt)


def test_specials_by_hand():
    """The header's table, value by value."""
    q = lambda x, fmt, sat=True: sq.quantize(np.array(x, np.float32), sq.QParams(1.0, dtype=fmt), saturate=sat).tolist()
    assert q([448, 464, 465, 1e9, np.inf, -np.inf], "float8_e4m3fn") == [0x7E, 0x7E, 0x7E, 0x7E, 0x7E, 0xFE]
    assert q([448, 464, 465, np.inf, -np.inf], "float8_e4m3fn", False) == [0x7E, 0x7E, 0x7F, 0x7F, 0xFF]
    assert q([57344, 61439, 61440, np.inf, -np.inf], "float8_e5m2", False) == [0x7B, 0x7B, 0x7C, 0x7C, 0xFC]
    assert q([240, 248, np.inf, -0.0, -1e-9], "float8_e4m3fnuz", False) == [0x7F, 0x80, 0x80, 0x00, 0x00]
    assert q([-0.0, -1e-9, 2.0 ** -9, 2.0 ** -10, 3 * 2.0 ** -11], "float8_e4m3fn") == [0x80, 0x80, 0x01, 0x00, 0x01]
    assert q([np.nan, -np.nan], "float8_e4m3fn") == [0x7F, 0xFF]
    assert q([np.nan, -np.nan], "float8_e5m2") == [0x7E, 0xFE]
    assert q([np.nan, -np.nan], "float8_e5m2fnuz") == [0x80, 0x80]
    assert q([0.25, 0.26, 0.75, 5, 7, 1e9, -6], "float4_e2m1", False) == [0x0, 0x1, 0x2, 0x6, 0x7, 0x7, 0xF]
    assert sq.dtype_range("float8_e4m3fn") == (-448.0, 448.0)
    assert sq.dtype_range("float4_e2m1") == (-6.0, 6.0)
    assert sq.dtype_range("float6_e2m3") == (-7.5, 7.5)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_calibrate_scale_is_amax_over_max(fmt):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((6, 40)) * rng.uniform(0.1, 30, (6, 1))).astype(np.float32)
    top = np.float32(FORMATS[fmt][3])
    p = sq.calibrate(x, dtype=fmt)
    assert p.dtype == fmt and int(p.zero_point) == 0
    assert p.scale.view(np.uint32) == (np.abs(x).max() / top).view(np.uint32)
    pa = sq.calibrate(x, dtype=fmt, axis=0)
    np.testing.assert_array_equal(pa.scale, np.abs(x).max(axis=1) / top)
    pb = sq.calibrate(x, dtype=fmt, axis=1, block_size=16)
    amax = np.stack([np.abs(x[:, i:i + 16]).max(axis=1) for i in range(0, 40, 16)], axis=1)
    np.testing.assert_array_equal(pb.scale, amax / top)
    # Saturation never triggers on calibrated data: the largest |x| maps to the format's largest value.
    q = sq.quantize(x, pa)
    back = sq.dequantize(q, pa)
    assert np.abs(back).max(axis=1).tolist() == pytest.approx(np.abs(x).max(axis=1).tolist(), rel=0.07)
    # Streaming observers give the same scale; percentile applies to |x| as for symmetric integers.
    ob = sq.Observer("minmax", dtype=fmt, axis=0)
    ob.update(x[:, :20]).update(x[:, 20:])
    assert ob.qparams() == pa
    sq.Observer("percentile", dtype=fmt, percentile=99.0).update(x).qparams()
    for method in ("entropy", "mse"):
        with pytest.raises(sq.SwiftQuantError, match=f"{method}.*use minmax, moving_average or percentile"):
            sq.Observer(method, dtype=fmt)
    # All-zero data: a usable scale.
    assert float(sq.calibrate(np.zeros(5, np.float32), dtype=fmt).scale) == 1.0


def test_argument_errors():
    with pytest.raises(ValueError, match="zero_point must be 0 for the float format float8_e4m3fn"):
        sq.QParams(1.0, zero_point=3, dtype="float8_e4m3fn")
    p = sq.QParams(1.0, dtype="float8_e5m2")
    x = np.ones(4, np.float32)
    with pytest.raises(sq.SwiftQuantError, match="rounds to nearest even"):
        sq.quantize(x, p, rounding="half_away")
    with pytest.raises(sq.SwiftQuantError, match="rounds to nearest even"):
        sq.fake_quantize(x, p, rounding="floor")
    with pytest.raises(sq.SwiftQuantError, match="always saturates"):
        sq.quantize(x, sq.QParams(1.0, dtype="int8"), saturate=False)
    with pytest.raises(TypeError, match="saturate must be a bool"):
        sq.quantize(x, p, saturate=1)
    with pytest.raises(ValueError, match="must be 'int8' or 'uint8'"):
        sq.matmul_float(np.ones((2, 2), np.uint8), p, np.ones((2, 2), np.int8), sq.QParams(1.0))
    assert p.numpy_dtype == np.uint8 and p.is_float and not sq.QParams(1.0).is_float


def test_float4_codes_pack_two_per_byte_as_onnx():
    x = np.array([0.5, -6, 1.5, 3, -0.0, 2], np.float32)
    p = sq.QParams(1.0, dtype="float4_e2m1")
    q = sq.quantize(x, p)
    packed = sq.pack_int4(q, dtype="float4_e2m1")
    assert packed.tolist() == [0x1 | 0xF << 4, 0x3 | 0x5 << 4, 0x8 | 0x4 << 4]
    np.testing.assert_array_equal(sq.unpack_int4(packed, q.shape, "float4_e2m1"), q)
    # ONNX stores FLOAT4E2M1 tensors the same way (onnx.numpy_helper packs element 2i in the low nibble).
    tensor = onnx.numpy_helper.from_array(x.astype(ml_dtypes.float4_e2m1fn))
    assert bytes(packed) == tensor.raw_data
    with pytest.raises(sq.SwiftQuantError, match="float4_e2m1 \\[0, 15\\]"):
        sq.pack_int4(np.array([3, 16], np.uint8), dtype="float4_e2m1")


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1"])
def test_error_report_splits_rounding_from_clipping(fmt):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((4, 64)) * 3).astype(np.float32)
    top = FORMATS[fmt][3]
    scale = np.float32(np.abs(x).max() / top / 1.5)  # a third of the range beyond max: clipping
    p = sq.QParams(scale, dtype=fmt)
    r = sq.error_report(x, p)
    xhat = sq.dequantize(sq.quantize(x, p), p).astype(np.float64)
    e2 = (x.astype(np.float64) - xhat) ** 2
    # Clipped: saturation changed the value, i.e. v rounds beyond max (ml_dtypes' unsaturated cast of v
    # overflows); FP4 has no overflow value, so its threshold is written out: max + half its ulp (6 + 1),
    # where the tie rounds up (max's mantissa is odd).
    v = x / scale
    if fmt == "float4_e2m1":
        clipped = np.abs(v) >= 7.0
    else:
        clipped = ~np.isfinite(v.astype(FORMATS[fmt][0]).astype(np.float32))
    assert r.clipped == int(clipped.sum()) > 0
    n = x.size
    assert r.mse == pytest.approx(e2.sum() / n, rel=1e-12)
    assert r.clipping_mse == pytest.approx(e2[clipped].sum() / n, rel=1e-12)
    assert r.rounding_mse == pytest.approx(e2[~clipped].sum() / n, rel=1e-12)
    assert r.max_abs_error == pytest.approx(np.sqrt(e2.max()), rel=1e-12)


def test_readme_example_prints_what_it_says(capsys):
    """The README's "Float formats" code block, executed verbatim: each print matches its comment."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Float formats: FP8, FP6, FP4 and OCP MX", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("#")[-1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert printed == promised and len(promised) == 3
    # The comparison the README states beside it: int8, symmetric, per row.
    x = np.random.default_rng(0).standard_t(3, size=(64, 256)).astype(np.float32)
    assert round(sq.error_report(x, sq.calibrate(x, dtype="int8", symmetric=True, axis=0)).sqnr_db, 2) == 35.89


def test_readme_fp8_beats_int8_numbers():
    """README "When FP8 beats int8": Laplace data with one outlier, the SQNRs it quotes."""
    x = np.random.default_rng(0).laplace(size=20000).astype(np.float32)
    x[0] = 200.0
    rows = {r.name: round(r.sqnr_db, 2) for r in sq.analyze(x)}
    assert rows["float8_e4m3fn, minmax, per tensor"] == 34.47
    assert rows["mxfp8_e4m3, blocks of 32 along axis 0"] == 28.84
    assert rows["float8_e5m2, minmax, per tensor"] == 28.65
    assert max(v for k, v in rows.items() if "float" not in k and "mx" not in k) == 18.75

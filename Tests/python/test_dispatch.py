"""Kernel dispatch: cpu_info reports what runs, and a SWIFTQUANT_ISA override the machine cannot honour is
a clear error at import, never a crash or a silent fallback."""
import os
import subprocess
import sys

import swiftquant as sq


def _import_with(isa: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SWIFTQUANT_ISA=isa)
    code = "import swiftquant as sq; print(sq.cpu_info()['isa'], sq.cpu_info()['kernels']['quantize'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_cpu_info_is_consistent():
    info = sq.cpu_info()
    assert info["isa"] in ("reference", "avx2", "avx512", "vnni", "amx")
    assert info["error"] is None
    assert set(info["kernels"]) == {"quantize", "dequantize", "minmax", "gemm", "codebook_quantize", "fake_quantize",
                                    "block_gemm_per_block", "block_gemm_weight_only", "gguf_quantize", "gguf_dequantize",
                                    "float_quantize", "float_dequantize", "float_fake_quantize", "mx_quantize",
                                    "mx_dequantize"}
    # Registry names: <input>[-<output>]-<op>-<tile>-<isa> (README "Kernels").
    for op, name in info["kernels"].items():
        parts = name.split("-")
        assert len(parts) >= 4 and parts[-1] in ("reference", "simd", "avx2", "avx512", "avx512vnni"), (op, name)
    assert info["kernels"]["minmax"] == "f32-minmax-x16-simd"
    assert info["kernels"]["gguf_quantize"] == "f32-gguf-quantize-x32-simd"
    assert info["kernels"]["gguf_dequantize"] == "gguf-f32-dequantize-x32-simd"
    # The GEMM has a VNNI record and the reference; at the avx512 level it runs the reference.
    want_gemm = "qu8s8-gemm-6x64c4-avx512vnni" if info["isa"] in ("vnni", "amx") else "qx8-gemm-1x1-reference"
    assert info["kernels"]["gemm"] == want_gemm, info
    if info["isa"] in ("avx512", "vnni"):
        assert info["kernels"]["quantize"] == "f32-qint-quantize-x16-avx512"
    if info["isa"] == "avx2":
        assert info["kernels"]["quantize"] == "f32-qint-quantize-x8-avx2"
        assert info["kernels"]["dequantize"] == "qint-f32-dequantize-x8-avx2"
        assert info["kernels"]["fake_quantize"] == "f32-f32-fakequantize-x8-avx2"
    # The block-weight layers, the float formats and MX have AVX2 records, run at every level from avx2 up.
    fast_block = info["isa"] != "reference"
    tail = "avx2" if fast_block else "reference"
    assert info["kernels"]["float_quantize"] == ("f32-qfp-quantize-x8-" if fast_block else "f32-qfp-quantize-x1-") + tail
    assert info["kernels"]["float_dequantize"] == ("qfp-f32-dequantize-x8-" if fast_block else "qfp-f32-dequantize-x1-") + tail
    assert info["kernels"]["float_fake_quantize"] == (
        "f32-f32-fpfakequantize-x8-" if fast_block else "f32-f32-fpfakequantize-x1-") + tail
    assert info["kernels"]["mx_quantize"] == "f32-mx-quantize-x32-" + tail
    assert info["kernels"]["mx_dequantize"] == "mx-f32-dequantize-x32-" + tail
    assert info["kernels"]["block_gemm_per_block"] == (
        "qbs8-f32-blockgemm-4x16c8-avx2" if fast_block else "qbs8-f32-blockgemm-1x1-reference")
    assert info["kernels"]["block_gemm_weight_only"] == (
        "qbf32-f32-blockgemm-4x16-avx2" if fast_block else "qbf32-f32-blockgemm-1x1-reference")
    f = info["features"]
    if info["isa"] in ("avx2", "avx512", "vnni", "amx"):
        assert f["avx2"] and f["fma"]
    if info["isa"] in ("avx512", "vnni", "amx"):
        assert f["avx512f"] and f["avx512bw"] and f["avx512vl"] and f["avx512dq"]
    if info["isa"] in ("vnni", "amx"):
        assert f["avx512vnni"]
    if not f["amx_int8"]:
        assert not f["amx_permitted"] and info["isa"] != "amx"


def test_forced_reference_runs_reference_kernels():
    out = _import_with("reference")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["reference", "f32-qint-quantize-x1-reference"]


def test_unknown_isa_is_a_clear_import_error():
    out = _import_with("sse9")
    assert out.returncode != 0
    assert "SWIFTQUANT_ISA=sse9 is not one of reference, avx2, avx512, vnni, amx" in out.stderr


def test_unsupported_isa_names_the_reason():
    info = sq.cpu_info()
    # AMX kernels are not built yet, so forcing AMX fails on every machine, with the reason.
    out = _import_with("amx")
    assert out.returncode != 0
    assert "SWIFTQUANT_ISA=amx" in out.stderr and ("no amx kernels" in out.stderr or "does not support" in out.stderr)
    if not info["features"]["avx512f"]:
        assert "does not support" in _import_with("avx512").stderr

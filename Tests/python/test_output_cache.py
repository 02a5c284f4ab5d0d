"""The output cache (_convert._OutputCache): large results reuse the memory of results already collected,
never the memory of one still alive (or of a view of it)."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftquant as sq

N = 3 << 20  # 12 MB of float32: above the cache's 4 MiB threshold


def _data():
    x = np.linspace(-1, 1, N, dtype=np.float32)
    p = sq.calibrate(x, dtype="int8")
    return x, p, sq.quantize(x, p)


def test_live_results_never_share_memory():
    x, p, q = _data()
    a = sq.dequantize(q, p)
    b = sq.dequantize(q, p)
    assert not np.shares_memory(a, b)
    a[:] = 7
    np.testing.assert_array_equal(b, sq.dequantize(q, p))
    view = b[5:]
    addr = b.ctypes.data
    del b
    gc.collect()
    c = sq.dequantize(q, p)  # b's buffer is still held by `view`
    assert not np.shares_memory(c, view) and c.ctypes.data != addr
    np.testing.assert_array_equal(view, c[5:])


def test_collected_results_are_reused_and_correct():
    x, p, q = _data()
    a = sq.dequantize(q, p)
    addr = a.ctypes.data
    want = a.copy()
    a[:] = np.nan  # garbage left in the buffer must not show through
    del a
    gc.collect()
    b = sq.dequantize(q, p)
    assert b.ctypes.data == addr
    np.testing.assert_array_equal(b, want)
    assert b.flags.c_contiguous and b.flags.writeable and b.shape == (N,) and b.dtype == np.float32
    # another dtype of the same byte size reuses it too, with its own values
    del b
    gc.collect()
    qq = sq.quantize(np.tile(x, 4), p)  # 12 MB of int8
    assert qq.dtype == np.int8 and qq.size == 4 * N
    np.testing.assert_array_equal(qq, np.tile(q, 4))


def _run(env_value, code):
    env = dict(os.environ, SWIFTQUANT_OUTPUT_CACHE_MB=env_value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_cache_can_be_turned_off_and_bad_settings_are_errors():
    code = ("import numpy as np, swiftquant as sq\n"
            f"x = np.ones({N}, np.float32); p = sq.calibrate(x)\n"
            "print(sq.dequantize(sq.quantize(x, p), p).flags.owndata)\n")
    assert _run("0", code).stdout.split() == ["True"]
    assert _run("256", code).stdout.split() == ["False"]
    out = _run("lots", code)
    assert out.returncode != 0 and "SWIFTQUANT_OUTPUT_CACHE_MB must be an integer" in out.stderr


def test_small_results_are_plain_arrays():
    x = np.ones(1000, np.float32)
    p = sq.calibrate(x)
    assert sq.dequantize(sq.quantize(x, p), p).flags.owndata

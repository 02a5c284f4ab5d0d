"""Thread safety (header convention 4): concurrent calls from many Python threads (ctypes releases the
GIL) give the sequential results, and sq_last_error_message() is per thread."""
import threading
from ctypes import byref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import numpy_reference as ref
import swiftquant as sq
from conftest import assert_same
from raw_abi import ptr, qp, raw, shape_of


def _tasks():
    rng = np.random.default_rng(2024)
    tasks = []
    for i in range(16):
        x = (rng.standard_normal((64, 257)) * (i + 1)).astype(np.float32)
        p = sq.calibrate(x, dtype=sq.DTYPES[i % 6], axis=1 if i % 2 else None)
        rounding = sq.ROUNDINGS[i % 4]
        seed = i if rounding == "stochastic" else None  # a seed with another rounding is an error
        tasks.append(("quantize", lambda x=x, p=p, r=rounding, s=seed: sq.quantize(x, p, rounding=r, seed=s)))
        q = sq.quantize(x, p)
        tasks.append(("dequantize", lambda q=q, p=p: sq.dequantize(q, p)))
        a = rng.integers(-128, 128, (48 + i, 200)).astype(np.int8)
        b = rng.integers(0, 256, (200, 40 + i)).astype(np.uint8)
        zb = rng.integers(0, 256, 40 + i).astype(np.int32)
        tasks.append(("matmul", lambda a=a, b=b, zb=zb, za=i: sq.matmul(a, b, za, zb)))
        w = sq.pack(b, b_zero_point=zb)
        tasks.append(("packed", lambda a=a, w=w, za=i: sq.matmul(a, w, za)))
        ap, bp, yp = sq.QParams(0.02, i, "int8"), sq.QParams(0.01, 100, "uint8"), sq.QParams(0.5 + i, 3, "uint8")
        tasks.append(("qlinear", lambda a=a, b=b, ap=ap, bp=bp, yp=yp: sq.qlinear_matmul(a, ap, b, bp, yp)))
        tasks.append(("calibrate", lambda x=x, i=i: np.asarray(sq.calibrate(x, dtype="uint8", axis=0).scale)))
        tasks.append(("dynamic", lambda x=x: sq.dynamic_quantize(x)[0]))
    return tasks


def test_concurrent_calls_match_sequential():
    tasks = _tasks()
    expected = [fn() for _, fn in tasks]
    # Spot-check the sequential results against the reference, so "consistent" also means "right".
    for j, (name, fn) in enumerate(tasks):
        if name == "matmul":
            a, b, zb, za = fn.__defaults__
            assert_same(expected[j], ref.matmul_ref(a, b, za, zb).astype(np.int32), "sequential matmul", task=j)
    order = list(range(len(tasks))) * 3
    np.random.default_rng(0).shuffle(order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda j: (j, tasks[j][1]()), order))
    for j, got in results:
        assert_same(got, expected[j], f"concurrent {tasks[j][0]} (task {j})")


def test_concurrent_stochastic_is_deterministic_per_seed():
    x = (np.arange(100_000, dtype=np.float32) * np.float32(0.013)).astype(np.float32)
    p = sq.QParams(0.1, 0, "int16")
    expected = sq.quantize(x, p, rounding="stochastic", seed=42)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outs = list(pool.map(lambda _: sq.quantize(x, p, rounding="stochastic", seed=42), range(16)))
    for got in outs:
        assert_same(got, expected, "stochastic across threads")


# Two failing calls with different messages.
def _fail_zero_scale():
    p, keep = qp(scale=(0.0,))
    x = np.ones(4, np.float32)
    out = np.zeros(4, np.int8)
    return raw.sq_quantize(ptr(x), ptr(shape_of(4)), 1, byref(p), 0, 0, ptr(out))


def _fail_nan():
    p, keep = qp()
    x = np.array([1.0, np.nan, 2.0], np.float32)
    out = np.zeros(3, np.int8)
    return raw.sq_quantize(ptr(x), ptr(shape_of(3)), 1, byref(p), 0, 0, ptr(out))


def test_last_error_message_is_thread_local():
    # Sequential messages first: they must differ for the test to mean anything.
    assert _fail_zero_scale() == -4
    msg_scale = raw.sq_last_error_message().decode()
    assert _fail_nan() == -6
    msg_nan = raw.sq_last_error_message().decode()
    assert msg_scale and msg_nan and msg_scale != msg_nan

    rounds = 20
    barrier1 = threading.Barrier(2)
    barrier2 = threading.Barrier(2)
    seen = {"A": [], "B": []}

    def thread_a():
        for _ in range(rounds):
            _fail_zero_scale()        # A fails first ...
            barrier1.wait()
            barrier2.wait()           # ... B fails in between ...
            seen["A"].append(raw.sq_last_error_message().decode())  # ... A still sees its own message

    def thread_b():
        for _ in range(rounds):
            barrier1.wait()
            _fail_nan()
            barrier2.wait()
            seen["B"].append(raw.sq_last_error_message().decode())

    ta, tb = threading.Thread(target=thread_a), threading.Thread(target=thread_b)
    ta.start()
    tb.start()
    ta.join(60)
    tb.join(60)
    assert not ta.is_alive() and not tb.is_alive()
    assert seen["A"] == [msg_scale] * rounds, seen["A"][:3]
    assert seen["B"] == [msg_nan] * rounds, seen["B"][:3]
    # A thread that never failed has an empty message.
    fresh = []
    t = threading.Thread(target=lambda: fresh.append(raw.sq_last_error_message().decode()))
    t.start()
    t.join()
    assert fresh == [""]


def test_python_errors_carry_their_own_message_under_concurrency():
    x_nan = np.array([1.0, np.nan], np.float32)
    p = sq.QParams(1.0)

    def err_nan():
        sq.quantize(x_nan, p)

    def err_overflow():
        sq.matmul(np.zeros((1, 131072), np.int8), np.zeros((131072, 1), np.int8))

    def err_int4():
        sq.dequantize(np.array([9], np.int8), sq.QParams(1.0, 0, "int4"))

    cases = [(err_nan, "SQ_ERROR_NONFINITE"), (err_overflow, "SQ_ERROR_OVERFLOW"), (err_int4, "SQ_ERROR_OUT_OF_RANGE")]
    expected = {}
    for fn, name in cases:
        with pytest.raises(sq.SwiftQuantError) as ei:
            fn()
        assert ei.value.status_name == name
        expected[name] = str(ei.value)
    assert len(set(expected.values())) == 3

    def run(j):
        fn, name = cases[j % 3]
        try:
            fn()
        except sq.SwiftQuantError as e:
            return name, e.status_name, str(e)
        return name, None, None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(96)))
    for name, status_name, message in results:
        assert status_name == name, (name, status_name, message)
        assert message == expected[name], (name, message, expected[name])

"""Fidelity to the user's notes (shared/reference/quantization-notes.zh.md): the worked example
0.3 * 0.5 with int8 asymmetric quantization, and the symmetric example of the "uniform quantization"
paragraph. The numbers below are the issue's, not the library's."""
import numpy as np
import pytest

import swiftquant as sq
from conftest import assert_same


@pytest.fixture(scope="module")
def example():
    p1 = sq.calibrate(np.array([-1.2, 1.0], np.float32), dtype="int8")  # matrix 1: min -1.2, max 1.0
    p2 = sq.calibrate(np.array([-1.0, 1.2], np.float32), dtype="int8")  # matrix 2: min -1.0, max 1.2
    p3 = sq.calibrate(np.array([-0.8, 2.0], np.float32), dtype="int8")  # matrix 3 (calibrated output)
    return p1, p2, p3


def test_scales_and_zero_points(example):
    p1, p2, p3 = example
    # S = (rmax - rmin) / 255 stored as float32; equal to the notes' printed values to their 9 digits.
    assert p1.scale.dtype == np.float32 and p1.scale.shape == ()
    assert p1.scale == np.float32(0.008627451), p1.scale
    assert p2.scale == np.float32(0.008627451), p2.scale
    assert p3.scale == np.float32(0.010980392), p3.scale
    assert int(p1.zero_point) == 11
    assert int(p2.zero_point) == -12
    assert int(p3.zero_point) == -55
    assert p1.zero_point.dtype == np.int32


def test_inputs_quantize_to_46(example):
    p1, p2, _ = example
    q1 = sq.quantize(np.array([0.3], np.float32), p1)
    q2 = sq.quantize(np.array([0.5], np.float32), p2)
    assert_same(q1, np.array([46], np.int8), "0.3 in matrix 1")
    assert_same(q2, np.array([46], np.int8), "0.5 in matrix 2")


def test_multiplier(example):
    p1, p2, p3 = example
    m = np.float32(np.float32(p1.scale * p2.scale) / p3.scale)
    assert abs(float(m) - 0.006778711) < 1e-9, m


@pytest.mark.parametrize(
    "rounding, q_expected, x_expected",
    [
        # C = (46 - 11) * (46 + 12) = 2030; 2030 * M - 55 = -41.239...: floor gives the notes' -42.
        ("floor", -42, 0.142745),
        # Half-to-even (the default) rounds -41.239 to -41 -> (-41 + 55) * S3 = 0.153725.
        ("nearest_even", -41, 0.153725),
    ],
)
def test_qlinear_matmul_and_dequantize(example, rounding, q_expected, x_expected):
    p1, p2, p3 = example
    a = np.array([[46]], np.int8)
    b = np.array([[46]], np.int8)
    assert_same(sq.matmul(a, b, a_zero_point=11, b_zero_point=-12), np.array([[2030]], np.int32))
    y = sq.qlinear_matmul(a, p1, b, p2, p3, rounding=rounding)
    assert_same(y, np.array([[q_expected]], np.int8), "qlinear_matmul", rounding=rounding)
    x = sq.dequantize(y, p3)
    assert x.dtype == np.float32
    assert abs(float(x[0, 0]) - x_expected) < 1e-6, (rounding, float(x[0, 0]), x_expected)
    # The float result it approximates: 0.3 * 0.5 = 0.15.
    assert abs(float(x[0, 0]) - 0.15) < float(p3.scale)


def test_default_rounding_is_nearest_even(example):
    p1, p2, p3 = example
    a = np.array([[46]], np.int8)
    y = sq.qlinear_matmul(a, p1, a, p2, p3)
    assert_same(y, np.array([[-41]], np.int8))


def test_symmetric_example():
    x = np.array([10, -10, 0.11, 0.21, 0.15, 0.05, -0.14, -0.22, -0.08, -0.35], np.float32)
    p = sq.calibrate(x, dtype="int8", symmetric=True)
    # Narrow range [-127, 127]: S = 20 / 254, Z = 0.
    assert int(p.zero_point) == 0
    assert p.scale == np.float32(20.0 / 254.0), p.scale
    q = sq.quantize(x, p)
    assert_same(q, np.array([127, -127, 1, 3, 2, 1, -2, -3, -1, -4], np.int8), "notes' symmetric example")

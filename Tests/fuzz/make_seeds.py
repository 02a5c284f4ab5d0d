#!/usr/bin/env python3
"""Writes the seed corpus Tests/fuzz/corpus/<harness>/seed-* (committed; rerun only to regenerate).

Each seed is a byte string in the decoding of its harness (see the harness sources and fuzz_common.h):
a handful of ordinary, valid calls per entry point, so fuzzing starts from inputs that reach the kernels,
plus the shapes of known defects. Bytes past the end of an input decode as zeros.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# fz_pick_dim: a byte < 128 gives byte % 9; 128..191 gives the small table entry byte % 20
# (16 -> 129, 17 -> 130, 32 -> 132, 64 -> 135, 100 -> 137, 256 -> 139).
DIM = {d: d for d in range(9)}
DIM.update({15: 128 + 8, 16: 129, 17: 130, 31: 131, 32: 132, 33: 133, 63: 134, 64: 135, 65: 136,
            100: 137, 255: 138, 256: 139})
# fz_pick_dim from the full table (192..249: byte % 32): 2^31 -> 212, 2^40 -> 215, 2^59 -> 216,
# 2^62 -> 217, INT64_MAX -> 218.
DIM.update({2**31: 212, 2**40: 215, 2**59: 216, 2**62: 217, 2**63 - 1: 218})
NAN_VALUE = [0, 180]   # fz_fill_floats mode 0 (one value) + fz_pick_value NaN
RAMP = (50, 0, 0, 1, 0)  # fz_fill_floats mode 50 (a ramp), x[0] = 0


def dims(shape):
    return [len(shape), 0] + [DIM[d] for d in shape]


def u64(v):
    return list(struct.pack("<Q", v))


def elementwise(op, shape, dtype=0, axis=0, block=None, fill=RAMP, tail=()):
    """op: 0 quantize 1 dequantize 2 fake 3 calibrate 4 minmax 5 count 6 error_report 7 dynamic 8 from_range.
    axis: 0 = per tensor, else a byte 80..219 selecting axis byte % ndim; block: None or a fz_pick_block
    byte (byte % 17 indexes its table: 105 -> 4, 106 -> 8, 107 -> 16)."""
    b = [op] + dims(shape) + [dtype, axis]
    b += [1, block] if block is not None else [0]
    b += [0, 0] + u64(12345)            # count right, rounding nearest-even, seed
    b += [0, 1, 0]                      # scale buffer, one scale for all, scale 1.0
    b += [0, 0, 0]                      # zero point NULL, params given, x buffer
    b += list(fill) + list(tail)
    return bytes(b)


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fnv1a(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def observer_bytes(method, shape, groups, mins, maxs, fine_bins=0, exps=(), counts=(), num_bins=16,
                   dtype=0, symmetric=0, axis=-1, block=0, batches=1, values=None, percentile=99.99):
    """Format version 1 of Sources/SwiftQuant/Calibrate/ObserverSerialization.swift."""
    b = bytearray(b"SQOB") + struct.pack("<I", 1)
    b += struct.pack("<iiiiqii", method, dtype, symmetric, axis, block, num_bins, 0)
    b += struct.pack("<dd", percentile, 0.01)
    b += struct.pack("<i", len(shape)) + b"".join(struct.pack("<q", d) for d in shape)
    n = 1
    for d in shape:
        n *= d
    b += struct.pack("<qqq", batches, n if values is None else values, 0)
    b += b"".join(struct.pack("<f", v) for v in mins) + b"".join(struct.pack("<f", v) for v in maxs)
    b += b"".join(struct.pack("<i", e) for e in exps) + b"".join(struct.pack("<q", c) for c in counts)
    b += struct.pack("<Q", fnv1a(bytes(b)))
    return bytes(b)


def observer_bytes_v2(method, shape, mins, maxs, exps, groups_blocks, num_bins=16, axis=-1, batches=1, values=None):
    """Format version 2: as version 1 up to the exponents, then per group a uint32 block count, a uint32
    (index << 4 | width) per block and the block's 64 counts at that width. groups_blocks: per group a list
    of (index, width, 64 counts)."""
    head = observer_bytes(method, shape, len(mins), mins, maxs, exps=exps, num_bins=num_bins, axis=axis,
                          batches=batches, values=values)[:-8]
    b = bytearray(head)
    struct.pack_into("<I", b, 4, 2)
    for blocks in groups_blocks:
        b += struct.pack("<I", len(blocks)) + b"".join(struct.pack("<I", k << 4 | w) for k, w, _ in blocks)
        for _, w, counts in blocks:
            b += b"".join(c.to_bytes(w, "little") for c in counts)
    b += struct.pack("<Q", fnv1a(bytes(b)))
    return bytes(b)


def hessian_bytes(k, count, upper, version=1):
    """Format version 1 of Sources/SwiftQuant/Calibrate/Hessian.swift: "SQHS", version, K, count, the
    K(K+1)/2 upper-triangle sums row by row, FNV-1a checksum."""
    b = b"SQHS" + struct.pack("<Iqq", version, k, count) + struct.pack(f"<{len(upper)}d", *upper)
    return b + struct.pack("<Q", fnv1a(b))


def regression(harness, name, data):
    d = os.path.join(HERE, "regressions", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "crash-" + name), "wb") as f:
        f.write(data)


def main():
    # Regressions written by hand (the header's known defects; the fuzzers' own finds are saved as found).
    regression("fuzz_elementwise", "minmax-16-nan-returns-ok",
               elementwise(4, [16], fill=NAN_VALUE, tail=[0, 0, 0, 1]))
    regression("fuzz_elementwise", "minmax-ignore-nonfinite-16-nan-counts-0",
               elementwise(4, [16], fill=NAN_VALUE, tail=[1, 0, 0, 1]))
    # Found by fuzz_elementwise (decoded differently there): per-block dequantize along axis 0 reads past
    # the scale array on the avx512 path. Block byte 106 -> block size 8.
    regression("fuzz_elementwise", "dequantize-per-block-axis0-8x1x64-scale-overread",
               elementwise(1, [8, 1, 64], dtype=1, axis=81, block=106))

    # Counts of 2^61 in width-8 blocks (format 2), summing to the value count: valid, and every merge or
    # wider batch after loading must stay exact or report an overflow, never trap.
    regression("fuzz_observer", "deserialized-v2-width8-counts-2p61-merge-copy",
               b"\x04" + observer_bytes_v2(2, [2], [-1.0], [1.0], [1],
                                           [[(0, 8, [0] * 32 + [1 << 61] + [0] * 31),
                                             (1, 8, [0] * 32 + [1 << 61] + [0] * 31)]], values=1 << 62))
    # ---- fuzz_elementwise
    e = "fuzz_elementwise"
    write(e, "quantize-int8-8x4", elementwise(0, [8, 4]))
    write(e, "quantize-per-axis-uint8", elementwise(0, [4, 8], dtype=1, axis=81))
    write(e, "quantize-per-block-int4", elementwise(0, [4, 32], dtype=4, axis=81, block=105))  # block 16? 105 % 17 = 3 -> 4
    write(e, "dequantize-int16", elementwise(1, [16], dtype=2, tail=[7] * 16))
    write(e, "fake-quantize-in-place", elementwise(2, [33], tail=[1]))
    write(e, "calibrate-per-axis", elementwise(3, [4, 16], axis=80, tail=[0, 0, 0]))
    write(e, "minmax-ignore-nonfinite", elementwise(4, [32, 2], axis=81, fill=NAN_VALUE, tail=[1, 0, 0, 1]))
    write(e, "qparams-count-block", elementwise(5, [8, 64], axis=81, block=107))
    write(e, "error-report-groups", elementwise(6, [4, 8], axis=80, tail=[3, 0]))
    write(e, "dynamic-quantize", bytes([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 135, 0, 81]))
    write(e, "from-range", elementwise(8, [], tail=[0, 4, 0, 0, 0, 0, 0, 10, 20, 1, 30, 40, 0]))
    # ---- fuzz_int4: unpack_first, count mode, count (u16), dtype mode, dtype, packed count, buffers, values
    i4 = "fuzz_int4"
    write(i4, "pack-int4-7", bytes([0, 1, 7, 0, 1, 0, 0, 0, 0]) + bytes(range(7)))
    write(i4, "pack-uint4-8", bytes([0, 1, 8, 0, 1, 1, 0, 0, 0]) + bytes(range(8)))
    write(i4, "unpack-int4-odd", bytes([1, 1, 5, 0, 1, 0, 0, 0, 0, 0x21, 0x43, 0x05]))
    write(i4, "unpack-bad-padding", bytes([1, 1, 5, 0, 1, 0, 0, 0, 0, 0x21, 0x43, 0xF5]))
    write(i4, "pack-huge-count", bytes([0, 0, 218, 1, 0, 0, 0, 0, 0]))   # INT64_MAX: rejected (NULL buffer)
    # ---- fuzz_matmul: op, a_ndim, b_ndim, shape selectors and dims, tie byte, dtypes, buffers, fills, count
    mm = "fuzz_matmul"
    def matmul(op, a, b, adt=0, bdt=0, tail=()):
        bb = [op, len(a)] + ([len(b)] if op != 4 else [0]) + [0] + [DIM[d] for d in a] + [0] + [DIM[d] for d in b]
        bb += [0, adt, bdt, 0, 0, 200, 200, 0]
        return bytes(bb + list(tail))
    write(mm, "shape-broadcast", matmul(0, [2, 1, 3, 4], [5, 4, 2]))
    write(mm, "i32-int8-uint8", matmul(1, [3, 17], [17, 5], 0, 1, tail=[0, 0, 0]))
    write(mm, "i32-per-column-zp", matmul(1, [4, 8], [8, 3], 1, 1, tail=[0, 128, 4, 150, 160, 170]))
    write(mm, "i32-1d", matmul(1, [16], [16], 0, 0))
    write(mm, "qlinear", matmul(2, [2, 4, 8], [8, 6], 0, 0))
    write(mm, "f32-bias", matmul(3, [5, 32], [32, 4], 1, 0))
    write(mm, "packed-i32", matmul(4, [3, 16], [16, 8], 0, 1, tail=[0, 0, 0, 0, 0, 0, 0]))
    write(mm, "packed-qlinear", matmul(4, [2, 2, 16], [16, 8], 1, 0, tail=[0, 0, 0, 0, 0, 0, 1]))
    # ---- fuzz_codebook: ndim, shape selector, dims, axis, x selector, fill, bits, kind, max_iter, tol, count
    cb = "fuzz_codebook"
    def codebook(shape, axis=0, bits=2, kind=0, op=0, fill=RAMP):
        bb = dims(shape) + [axis, 0] + list(fill)
        return bytes(bb + [bits - 1, kind, 10, 1, 0, 0, 1, 0, 0, op])
    write(cb, "fit-lloyd-2bit", codebook([64], bits=2, kind=0))
    write(cb, "fit-log2-4bit-per-axis", codebook([4, 32], axis=80, bits=4, kind=1))
    write(cb, "fit-quantile-3bit", codebook([100], bits=3, kind=2))
    write(cb, "fit-then-dequantize", codebook([16, 4], axis=81, bits=1, op=1))
    write(cb, "fit-then-error-report", codebook([33], bits=8, op=2))
    # ---- fuzz_observer: crafted mode (first byte & 3 != 0) and raw serialized bytes (first byte 4)
    ob = "fuzz_observer"
    def crafted(method, dtype=0, sym=0, axis_byte=0, shape=(16,), extra=()):
        # config: method, dtype, symmetric, axis, [block flag for per-axis minmax], num_bins 16, ignore 0,
        # percentile (2 bytes), averaging constant; then the first batch: "new shape" byte and the shape.
        block_flag = [0] if method == 0 and axis_byte >= 120 else []
        bb = [1, method, dtype, sym, axis_byte] + block_flag + [0, 0, 0, 0, 0] + [0] + dims(list(shape))
        return bytes(bb + [0] + list(RAMP) + list(extra))
    write(ob, "minmax-per-tensor", crafted(0))
    write(ob, "moving-average", crafted(1, shape=(8, 8)))
    write(ob, "percentile-per-axis", crafted(2, axis_byte=120, shape=(3, 16)))
    write(ob, "entropy-symmetric", crafted(3, sym=1, shape=(64,)))
    write(ob, "mse-uint8", crafted(4, dtype=1, shape=(32,)))
    write(ob, "minmax-then-mutate", crafted(0, axis_byte=121, shape=(2, 4), extra=[0, 0, 3, 0, 1, 2, 3]))
    write(ob, "raw-minmax", b"\x04" + observer_bytes(0, [4], 1, [-1.0], [2.0]))
    write(ob, "raw-percentile", b"\x04" + observer_bytes(2, [2], 1, [-1.0], [1.0], exps=[1],
                                                         counts=[0] * 64 + [2] + [0] * 63))
    # Format 2: the same percentile state (2 in bin 64, the first of block 1), and two groups per channel.
    write(ob, "raw-percentile-v2", b"\x04" + observer_bytes_v2(2, [2], [-1.0], [1.0], [1],
                                                               [[(1, 1, [2] + [0] * 63)]]))
    write(ob, "raw-percentile-v2-per-axis", b"\x04" + observer_bytes_v2(
        2, [300, 2], [-3.0, 0.0], [3.9, 1.0], [2, 1],
        [[(0, 1, [0] * 17 + [1] + [0] * 46), (1, 2, [0] * 12 + [298] + [0] * 51), (2, 1, [0] * 6 + [1] + [0] * 57)],
         [(1, 2, [0] * 38 + [300] + [0] * 25)]], num_bins=17, axis=1))
    write(ob, "raw-no-batch", b"\x04" + observer_bytes(0, [], 0, [], [], batches=0)[:56]
          + struct.pack("<i", -1) + struct.pack("<qqq", 0, 0, 0) + bytes(8))
    # ---- fuzz_hessian: crafted mode (first byte & 3 != 0) and raw serialized bytes (first byte 0 or 4)
    hs = "fuzz_hessian"
    def hcrafted(k, rows, extra=()):
        # K byte (k - 1), update: ndim 2 (byte 1), rows (fz_pick_dim), last dimension K (byte 0), a buffer,
        # a ramp; then: second update flag, mutation count, checksum fix, the actions.
        return bytes([1, k - 1, 1, DIM[rows], 0, 0] + list(RAMP) + list(extra))
    write(hs, "create-update-5x8", hcrafted(5, 8))
    write(hs, "k24-rows-33-two-batches", hcrafted(24, 33, extra=[1, 1, DIM[100], 0, 0] + list(RAMP)))
    write(hs, "mutate-count-int64-max", hcrafted(3, 4, extra=[0, 1, 0, 2, 8, 1, 1, 0]))
    write(hs, "mutate-sum-nan", hcrafted(6, 7, extra=[0, 1, 1, 3, 5, 0, 13, 1]))
    write(hs, "merge-itself-then-update", hcrafted(7, 16, extra=[0, 0, 1, 2, 2, 3, 0, 1, DIM[3], 0, 0] + list(RAMP)))
    write(hs, "update-nan", hcrafted(4, 8, extra=[0, 0, 1, 0, 0, 1, DIM[2], 0, 0, 0, 180]))
    write(hs, "raw-k1", b"\x04" + hessian_bytes(1, 2, [5.0]))
    write(hs, "raw-k3", b"\x00" + hessian_bytes(3, 4, [4.0, 1.0, -2.0, 9.0, 0.0, 1.0]))
    write(hs, "raw-empty", b"\x00" + hessian_bytes(2, 0, [0.0, 0.0, 0.0]))
    write(hs, "raw-huge-sums", b"\x04" + hessian_bytes(2, 1, [1e308, -1e308, 1.0]))
    # ---- fuzz_awq: op byte (0 AWQ, 1 SmoothQuant, 2 both), then each call's fields (see fuzz_awq.c);
    # sizes are byte % 40
    aw = "fuzz_awq"
    w_ramp, x_ramp = [50, 0, 0, 0, 8], [50, 5, 0, 0, 80]   # fz_fill_floats ramps with one ordinary value
    def awq(n, k, rows, bits_byte, bs_byte, sym):
        return [n, k, rows, bits_byte, bs_byte, 1, sym] + [0] * 6 + w_ramp + x_ramp + [1, 1]
    write(aw, "awq-4bit-b32-16x32", bytes([0] + awq(16, 32, 20, 0, 1, 1)))
    write(aw, "awq-3bit-b16-asym-9x36", bytes([0] + awq(9, 36, 33, 3, 0, 0)))
    # SmoothQuant: n, k, rows, alpha byte (0: 0.5, 5: auto), selector (1: x NULL, 2: act_absmax NULL), buffers.
    write(aw, "smooth-auto-12x30", bytes([1, 12, 30, 25, 5, 2, 0, 0, 0] + w_ramp + x_ramp + [1]))
    write(aw, "smooth-fixed-no-x", bytes([1, 8, 32, 0, 0, 1, 0, 0, 0] + w_ramp + [50, 0, 0, 0, 8] + [1, 1]))
    write(aw, "both", bytes([2] + awq(8, 32, 10, 1, 0, 1) + [8, 32, 10, 0, 0, 0, 0, 0, 0] + w_ramp + x_ramp
                            + [50, 0, 0, 0, 8] + [1, 1]))

    # ---- fuzz_gptq: n, k (byte % 40), bits (index: 0 -> 4, 1 -> 8, 3 -> 3), block (0 -> 16, 1 -> 32),
    # symmetric (byte % 3 != 2, then bit 0), act_order (byte % 5 != 4, then bit 0), damp (0 -> 0.01, 1 -> 0),
    # five buffer selectors, the weights (byte < 240, then value / 16), the Hessian kind (0: X^T X of
    # `rows` rows, then rows * k bytes), the input-scales byte (1: none) and the report byte.
    gp = "fuzz_gptq"
    def gptq(n, k, bits, bs, sym, act, damp, rows, scales_byte=1):
        weights = []
        for i in range(n * k):
            weights += [0, (i * 37) % 256]
        xs = [(i * 11) % 7 for i in range(rows * k)]
        return bytes([n, k, bits, bs, 0, sym, 0, act, damp] + [0] * 5 + weights + [0, rows] + xs
                     + [scales_byte, 1])
    write(gp, "gptq-4bit-b16-4x20", gptq(4, 20, 0, 0, 1, 0, 0, 8))
    write(gp, "gptq-act-order-asym-3x33", gptq(3, 33, 0, 1, 0, 1, 0, 12))
    write(gp, "gptq-singular-damp0-3bit", gptq(2, 18, 3, 0, 1, 0, 1, 3))
    write(gp, "gptq-8bit-input-scales", gptq(3, 17, 1, 0, 1, 1, 0, 10, scales_byte=0) + bytes(range(1, 40)))

    # ---- fuzz_floatfmt: op (0 quantize_float, 1 quantize, 2 fake, 3 dequantize), format index (0..6:
    # e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e2m1, e3m2, e2m3), ndim, shape, axis (0: per tensor), no block,
    # count right, rounding byte 0, saturate bit, scale buffer, one scale (byte: 0 -> 1.0, 1 -> 0.5,
    # 2 -> 0.1), no zero points, params given, x buffer, then the data: fill mode 90 (one fz_pick_value
    # per element: [0, v] is v / 8; 180 NaN, 181 inf, 182 -inf, 183 -0, 184 1e-40), then the output buffer.
    ff = "fuzz_floatfmt"
    def floatfmt(op, fmt, values, saturate=1, scale_byte=0):
        b = [op, fmt, 1, 0, DIM[len(values)], 0, 0, 0, 0, saturate, 0, 1, scale_byte, 0, 0, 0, 90]
        for v in values:
            b += [v] if v >= 180 else [0, v]
        return bytes(b + [0])
    ramp = [(i * 29) % 256 for i in range(33)]
    specials = [180, 181, 182, 183, 184, 120, 127, 255]
    for fmt, name in enumerate(["e4m3fn", "e4m3fnuz", "e5m2", "e5m2fnuz", "e2m1", "e3m2", "e2m3"]):
        write(ff, f"quantize-{name}-ramp", floatfmt(0, fmt, ramp, scale_byte=2))
        write(ff, f"quantize-{name}-specials-nosat", floatfmt(0, fmt, specials if fmt < 4 else [128] + specials[1:], saturate=0))
        write(ff, f"fake-{name}", floatfmt(2, fmt, ramp, scale_byte=1))
    write(ff, "dequantize-e5m2-codes", bytes([3, 2, 1, 0, DIM[16], 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 90]
                                            + [0] * 16 + [0] + list(range(0, 256, 16))))


if __name__ == "__main__":
    main()

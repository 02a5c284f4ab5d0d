/*
 * swiftquant.h - the public C ABI of SwiftQuant (libSwiftQuant.so / .dylib).
 *
 * The header is the contract: every function states its formula, rounding, saturation and the errors it
 * returns. The maths is written out once in README.md ("Semantics"); the implementation is Swift
 * (Sources/SwiftQuant), exported with @_cdecl.
 *
 * Conventions
 *  1. Every function returns sq_status: SQ_OK (0) or a negative error code. On error,
 *     sq_last_error_message() gives a detailed, thread-local message naming the argument and the problem,
 *     and the contents of output buffers are unspecified. Inputs are never modified.
 *  2. Sizes and indices are int64_t. Shapes are (const int64_t *shape, int32_t ndim) with
 *     0 <= ndim <= SQ_MAX_NDIM; ndim == 0 is a scalar (one element) and its shape pointer may be NULL.
 *     Every buffer is C-contiguous and owned by the caller; no function keeps a pointer after it returns.
 *     A data pointer may be NULL only when the buffer holds zero elements.
 *  3. Quantized buffers (void *) hold one value per element in the storage type of their dtype:
 *     int8_t (SQ_INT8, SQ_INT4), uint8_t (SQ_UINT8, SQ_UINT4), int16_t (SQ_INT16), uint16_t (SQ_UINT16);
 *     the float formats (SQ_FLOAT8E4M3FN .. SQ_FLOAT6E2M3) as uint8_t bit patterns, one per byte.
 *  4. Threads: every function is safe to call from several threads at once, on separate or shared
 *     objects. Calls on one observer handle are serialized by a lock inside it (so sharing one is correct,
 *     but updates to it do not run in parallel); packed matrices are immutable. Destroying a handle while
 *     another thread still uses it is the one thing a caller must not do.
 *  5. Floating-point environment: every call computes under the IEEE default (round to nearest even, no
 *     flush-to-zero, no denormals-are-zero), on the calling thread and on the library's worker threads,
 *     and restores the caller's MXCSR (modes and sticky flags) before it returns. Results therefore do not
 *     depend on fesetround() or on FTZ/DAZ set by the caller (or by a -ffast-math library at load time).
 *  6. Limits: the product of a shape's non-zero dimensions is at most SQ_MAX_EXTENT (2^60), so sizes
 *     computed from dimensions cannot overflow (a zero dimension makes the element count 0, but the other
 *     dimensions still size parameter arrays and results); larger shapes, including broadcast matmul
 *     results, are SQ_ERROR_SHAPE. An observer's state is at most SQ_MAX_OBSERVER_STATE_BYTES (1 GiB):
 *     per group 8 bytes, plus 20 + 64 * num_bins + 4 * ceil(num_bins / 8) for histogram methods (every
 *     bin held at 8 bytes), e.g. 8126 channels at 2048 bins; more is SQ_ERROR_OUT_OF_MEMORY, refused
 *     before anything is allocated. Otherwise memory and time are
 *     proportional to the elements of the inputs and outputs the caller passes, never to a dimension alone
 *     (an empty matrix packs in O(1)). Counters (observer batches and values) are checked: an addition
 *     that would overflow int64 is SQ_ERROR_OVERFLOW.
 */
#ifndef SWIFTQUANT_H
#define SWIFTQUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SQ_API __declspec(dllimport)
#else
#define SQ_API __attribute__((visibility("default")))
#endif

#define SQ_VERSION_MAJOR 0
#define SQ_VERSION_MINOR 1
#define SQ_VERSION_PATCH 0
/* SQ_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH; compare it with sq_version_number(). */
#define SQ_VERSION_NUMBER (SQ_VERSION_MAJOR * 10000 + SQ_VERSION_MINOR * 100 + SQ_VERSION_PATCH)

/* Largest number of dimensions a shape may have. */
#define SQ_MAX_NDIM 32
/* Largest product of a shape's non-zero dimensions (convention 6). */
#define SQ_MAX_EXTENT ((int64_t)1 << 60)
/* Largest state of one observer, in bytes (convention 6). */
#define SQ_MAX_OBSERVER_STATE_BYTES ((int64_t)1 << 30)

/* Status codes. The values are pinned: they never change meaning between versions. */
typedef enum sq_status {
    SQ_OK = 0,
    SQ_ERROR_NULL_POINTER = -1,      /* a required pointer is NULL */
    SQ_ERROR_INVALID_ARGUMENT = -2,  /* unknown dtype, rounding or method; axis out of range; bad flag */
    SQ_ERROR_SHAPE = -3,             /* negative or overflowing size, shape mismatch, wrong parameter count,
                                        output buffer of the wrong size */
    SQ_ERROR_INVALID_SCALE = -4,     /* a scale that is zero, negative, subnormal, NaN or infinite */
    SQ_ERROR_INVALID_ZERO_POINT = -5,/* a zero point outside the dtype's range */
    SQ_ERROR_NONFINITE = -6,         /* NaN in data (or NaN / +-inf in calibration data) */
    SQ_ERROR_OUT_OF_RANGE = -7,      /* a quantized input value outside its dtype (int4/uint4 storage) */
    SQ_ERROR_OVERFLOW = -8,          /* the int32 accumulator could overflow for this K, dtypes and zero points */
    SQ_ERROR_OUT_OF_MEMORY = -9,     /* an allocation failed */
    SQ_ERROR_UNSUPPORTED = -10,      /* valid request this build or CPU cannot serve */
    SQ_ERROR_INTERNAL = -100         /* a bug in SwiftQuant: please report it with the message */
} sq_status;

/* Quantized data types. Ranges: int8 [-128,127], uint8 [0,255], int16 [-32768,32767], uint16 [0,65535],
 * int4 [-8,7], uint4 [0,15]. 4-bit values are stored one per byte (sq_pack_int4 packs two per byte).
 *
 * Float formats (ONNX QuantizeLinear / DequantizeLinear, opsets 19 and 23; OCP MX v1.0 elements): codes
 * are the formats' bit patterns, sign in the top bit, stored one per uint8_t (FP4 and FP6 in the low bits,
 * the rest 0). Their zero point must be 0.
 *   dtype             exp/mant  bias  largest finite  smallest subnormal  inf      NaN codes      -0
 *   FLOAT8E4M3FN      4 / 3     7     448             2^-9                none     0x7F, 0xFF     yes
 *   FLOAT8E4M3FNUZ    4 / 3     8     240             2^-10               none     0x80 only      no
 *   FLOAT8E5M2        5 / 2     15    57344           2^-16               0x7C/FC  0x7D-7F, FD-FF yes
 *   FLOAT8E5M2FNUZ    5 / 2     16    57344           2^-17               none     0x80 only      no
 *   FLOAT4E2M1        2 / 1     1     6               0.5                 none     none           yes
 *   FLOAT6E3M2        3 / 2     3     28              2^-4                none     none           yes
 *   FLOAT6E2M3        2 / 3     1     7.5             2^-3                none     none           yes
 * Conversion of v = x / scale (a float32 division) to a code, exactly as ONNX and ml_dtypes:
 *   - round to nearest, ties to even, directly from float32 (no intermediate rounding), subnormals of the
 *     format included;
 *   - saturate = 1 (ONNX's default; sq_quantize always): |v| beyond the largest finite value, and +-inf,
 *     become +-largest finite (ONNX clips, then converts);
 *   - saturate = 0 (sq_quantize_float): a value that rounds beyond the largest finite value becomes +-inf
 *     for E5M2 and NaN for E4M3FN (0x7F / 0xFF) and the FNUZ types (0x80); +-inf likewise. FP4 and FP6 have
 *     neither, so they always saturate;
 *   - NaN becomes NaN: 0x7F / 0xFF (E4M3FN, by the input's sign), 0x7E / 0xFE (E5M2), 0x80 (FNUZ). FP4 and
 *     FP6 have no NaN: NaN input is SQ_ERROR_NONFINITE, as for the integer dtypes;
 *   - FNUZ types have no -0: -0 and negative values that round to zero give 0x00.
 * Decoding is exact: code -> float32, times the scale in float32; NaN codes decode to float32 quiet NaN
 * (0x7FC00000 with the code's sign; FNUZ's NaN as 0xFFC00000). Only SQ_ROUND_NEAREST_EVEN applies.
 * sq_dtype_range gives a float format's code range [0, 2^bits - 1]; sq_dtype_max_value its largest value.
 */
typedef enum sq_dtype {
    SQ_INT8 = 0,
    SQ_UINT8 = 1,
    SQ_INT16 = 2,
    SQ_UINT16 = 3,
    SQ_INT4 = 4,
    SQ_UINT4 = 5,
    SQ_FLOAT8E4M3FN = 6,
    SQ_FLOAT8E4M3FNUZ = 7,
    SQ_FLOAT8E5M2 = 8,
    SQ_FLOAT8E5M2FNUZ = 9,
    SQ_FLOAT4E2M1 = 10,
    SQ_FLOAT6E3M2 = 11,
    SQ_FLOAT6E2M3 = 12
} sq_dtype;

/* Rounding of v = x / scale (or of the requantized matmul value) to an integer.
 *
 *   v               -2.5  -1.5  -0.5   0.5   1.5   2.5   2.3  -2.3
 *   NEAREST_EVEN     -2    -2    -0     0     2     2     2    -2     (default; ONNX, numpy.rint)
 *   HALF_AWAY        -3    -2    -1     1     2     3     2    -2     (C round(), TFLite)
 *   FLOOR            -3    -2    -1     0     1     2     2    -3     (the source notes' worked example)
 *   STOCHASTIC: floor(v) + 1 with probability v - floor(v), else floor(v). The random bits come from a
 *   counter-based generator keyed by (seed, flat element index): the same seed gives the same result,
 *   whatever the ISA, thread count or chunking. The probability is exact to 2^-24; E[result] = v.
 */
typedef enum sq_rounding {
    SQ_ROUND_NEAREST_EVEN = 0,
    SQ_ROUND_HALF_AWAY = 1,
    SQ_ROUND_FLOOR = 2,
    SQ_ROUND_STOCHASTIC = 3
} sq_rounding;

/* axis value meaning "one scale for the whole tensor". */
#define SQ_PER_TENSOR (-1)

/*
 * Quantization parameters of one tensor.
 *   per tensor : axis = SQ_PER_TENSOR, block_size = 0, count = 1
 *   per axis   : axis = k (0 <= k < ndim), block_size = 0, count = shape[k]
 *   per block  : axis = k, block_size = b > 0, count = product of the shape with dim k replaced by
 *                ceil(shape[k] / b); scale and zero_point are C-contiguous arrays of that shape (ONNX blocked
 *                layout). Element x[..., i_k, ...] uses entry [..., i_k / b, ...].
 * zero_point may be NULL (all zero points 0). Zero points must lie in the dtype's range; scales must be
 * finite, positive and normal (>= FLT_MIN).
 */
typedef struct sq_qparams {
    const float *scale;         /* count entries */
    const int32_t *zero_point;  /* count entries, or NULL */
    int64_t count;
    int32_t dtype;              /* sq_dtype */
    int32_t axis;               /* SQ_PER_TENSOR or 0 .. ndim-1 */
    int64_t block_size;         /* 0, or > 0 for per-block */
} sq_qparams;

/* ---------------------------------------------------------------------------------------------------- */
/* Version and errors                                                                                    */

/* "MAJOR.MINOR.PATCH" of the loaded library (static storage). */
SQ_API const char *sq_version(void);
/* SQ_VERSION_NUMBER of the loaded library. */
SQ_API int32_t sq_version_number(void);
/* The name of a status code, e.g. "SQ_ERROR_SHAPE"; "SQ_UNKNOWN_STATUS" for values not listed (static). */
SQ_API const char *sq_status_string(int32_t status);
/* The message of the last failed call on this thread ("" if none). Valid until the next failing call on
 * this thread. */
SQ_API const char *sq_last_error_message(void);

/* ---------------------------------------------------------------------------------------------------- */
/* CPU features and kernel dispatch                                                                      */
/*
 * Kernels are chosen once per process: the best path that is built, supported by the CPU, permitted by
 * the OS (AMX needs Linux's arch_prctl grant) and allowed by the environment variable
 * SWIFTQUANT_ISA = reference | avx2 | avx512 | vnni | amx. Every path gives bit-identical results. If
 * SWIFTQUANT_ISA names a path this build or machine cannot run, every computing function fails with
 * SQ_ERROR_UNSUPPORTED and a message saying why (no silent fallback). The levels are ordered reference <
 * avx2 < avx512 < vnni < amx (each includes the kernels of the ones below it); the values below are
 * pinned codes, not that order.
 */
typedef enum sq_isa {
    SQ_ISA_REFERENCE = 0,  /* portable Swift */
    SQ_ISA_AVX512 = 1,     /* AVX-512 F/BW/VL/DQ element-wise kernels */
    SQ_ISA_VNNI = 2,       /* plus AVX-512 VNNI int8 GEMM */
    SQ_ISA_AMX = 3,        /* plus AMX-INT8 tiles (not built yet) */
    SQ_ISA_AVX2 = 4        /* AVX2 + FMA (x86-64-v3): the block-weight linear kernels */
} sq_isa;

/* Operations whose kernel sq_kernel_name reports. */
typedef enum sq_op {
    SQ_OP_QUANTIZE = 0,
    SQ_OP_DEQUANTIZE = 1,
    SQ_OP_MINMAX = 2,
    SQ_OP_GEMM = 3,
    SQ_OP_CODEBOOK_QUANTIZE = 4,
    SQ_OP_FAKE_QUANTIZE = 5,
    SQ_OP_BLOCK_GEMM_PER_BLOCK = 6,   /* sq_block_linear with SQ_ACTIVATION_PER_BLOCK */
    SQ_OP_BLOCK_GEMM_WEIGHT_ONLY = 7, /* sq_block_linear with SQ_ACTIVATION_NONE */
    SQ_OP_GGUF_QUANTIZE = 8,          /* sq_gguf_quantize */
    SQ_OP_GGUF_DEQUANTIZE = 9,        /* sq_gguf_dequantize */
    SQ_OP_FLOAT_QUANTIZE = 10,        /* sq_quantize / sq_quantize_float with a float format */
    SQ_OP_FLOAT_DEQUANTIZE = 11,      /* sq_dequantize with a float format */
    SQ_OP_FLOAT_FAKE_QUANTIZE = 12,   /* sq_fake_quantize with a float format */
    SQ_OP_MX_QUANTIZE = 13,           /* sq_mx_quantize */
    SQ_OP_MX_DEQUANTIZE = 14          /* sq_mx_dequantize */
} sq_op;

typedef struct sq_cpu_info {
    int32_t avx512f, avx512bw, avx512vl, avx512dq; /* CPU has it and the OS saves its state: 0 or 1 */
    int32_t avx512vnni;
    int32_t amx_int8;       /* AMX-TILE and AMX-INT8 with OS state support */
    int32_t amx_permitted;  /* Linux granted the tile data state */
    int32_t isa;            /* sq_isa in force */
    int32_t isa_forced;     /* 1 when SWIFTQUANT_ISA chose it */
    int32_t avx2, fma;      /* CPU has it and the OS saves the YMM state: 0 or 1 */
} sq_cpu_info;

/* Fills *info. Returns SQ_ERROR_UNSUPPORTED (info still filled) when SWIFTQUANT_ISA cannot be honoured.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_UNSUPPORTED. */
SQ_API sq_status sq_get_cpu_info(sq_cpu_info *info);
/* "reference", "avx2", "avx512", "vnni", "amx"; "unknown" otherwise (static storage). */
SQ_API const char *sq_isa_name(int32_t isa);
/* The name of the kernel an operation runs with in this process (static storage), from the kernel
 * registry (Sources/SwiftQuant/Kernels/Registry.swift): the highest record of the operation at or below
 * the ISA in force. Names follow one grammar, <input>[-<output>]-<op>-<tile>-<isa>, e.g.
 * "f32-qint-quantize-x16-avx512", "qu8s8-gemm-6x64c4-avx512vnni", "f32-minmax-x16-simd" (portable SIMD,
 * the same on every ISA), "qx8-gemm-1x1-reference"; README "Kernels" defines each field. "unknown" for an
 * unknown op. */
SQ_API const char *sq_kernel_name(int32_t op);

/* ---------------------------------------------------------------------------------------------------- */
/* Parameters                                                                                            */

/* The range [qmin, qmax] of a dtype; for a float format, its code range [0, 2^bits - 1].
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (unknown dtype). */
SQ_API sq_status sq_dtype_range(int32_t dtype, int32_t *qmin, int32_t *qmax);

/* The largest finite value of a dtype: qmax for the integer dtypes, e.g. 448 for SQ_FLOAT8E4M3FN.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (unknown dtype). */
SQ_API sq_status sq_dtype_max_value(int32_t dtype, float *max_out);

/* The number of scale entries for a granularity (see sq_qparams) over a shape.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape), SQ_ERROR_INVALID_ARGUMENT (axis out of range,
 * block_size < 0, block_size > 0 with SQ_PER_TENSOR). */
SQ_API sq_status sq_qparams_count(const int64_t *shape, int32_t ndim, int32_t axis, int64_t block_size,
                                  int64_t *count);

/* Minimum and maximum of x per granularity group (count groups, see sq_qparams).
 * ignore_nonfinite = 0: NaN or +-inf in x is SQ_ERROR_NONFINITE (the message says how many).
 * ignore_nonfinite = 1: they are skipped; *nonfinite_count (if not NULL) receives how many.
 * A group with no finite element gets min = +inf, max = -inf (which sq_qparams_from_range accepts).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE, SQ_ERROR_INVALID_ARGUMENT, SQ_ERROR_NONFINITE. */
SQ_API sq_status sq_minmax(const float *x, const int64_t *shape, int32_t ndim, int32_t axis,
                           int64_t block_size, int32_t ignore_nonfinite, float *min_out, float *max_out,
                           int64_t count, int64_t *nonfinite_count);

/* Scale and zero point from a range, per entry (computed in float64, scale stored as float32):
 *   rmin = min(min[i], 0), rmax = max(max[i], 0)            (zero is always exactly representable)
 *   asymmetric: scale = (rmax - rmin) / (qmax - qmin)
 *               zero_point = clamp(round_half_even(qmin - rmin / scale), qmin, qmax)
 *   symmetric : a = max(-rmin, rmax); signed dtypes use the narrow range [-qmax, qmax] (int8: [-127, 127]);
 *               scale = 2a / (qmax' - qmin'), zero_point = (qmin + qmax + 1) / 2 for unsigned dtypes
 *               (uint8: 128), 0 for signed ones
 *   A scale that would be zero, subnormal or infinite becomes 1.0 (asymmetric: zero_point 0 clamped into
 *   the dtype's range; symmetric: the zero point above), so constant or all-zero data is usable.
 *   float formats (symmetric by construction; the flag changes nothing): scale = max(-rmin, rmax) / the
 *               format's largest finite value, one float32 division (e4m3fn: amax / 448); zero_point 0
 * min[i] = +inf with max[i] = -inf (an empty group) is allowed and gives scale 1.0.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (dtype, symmetric not 0/1), SQ_ERROR_SHAPE
 * (count < 0), SQ_ERROR_NONFINITE (NaN, or a range whose finite part is infinite). */
SQ_API sq_status sq_qparams_from_range(const float *min, const float *max, int64_t count, int32_t dtype,
                                       int32_t symmetric, float *scale_out, int32_t *zero_point_out);

/* sq_minmax (non-finite values are an error) followed by sq_qparams_from_range.
 * count must equal sq_qparams_count(shape, ndim, axis, block_size). */
SQ_API sq_status sq_calibrate_minmax(const float *x, const int64_t *shape, int32_t ndim, int32_t dtype,
                                     int32_t symmetric, int32_t axis, int64_t block_size, float *scale_out,
                                     int32_t *zero_point_out, int64_t count);

/* ---------------------------------------------------------------------------------------------------- */
/* Calibration observers                                                                                 */
/*
 * An observer streams over batches of float32 data and chooses a range, then (scale, zero point) with the
 * rules of sq_qparams_from_range. State is bounded: O(num_bins x groups) whatever the number of batches.
 * Methods (each symmetric or asymmetric, any dtype; per tensor or per axis; per block for MINMAX only):
 *   MINMAX          the observed min and max.
 *   MOVING_AVERAGE  min and max are exponential moving averages of each batch's min and max:
 *                   m = m + c * (batch_m - m), c = averaging_constant (default 0.01); the first batch sets m.
 *   PERCENTILE      asymmetric: [P(100 - p), P(p)] of x; symmetric: amax = P(p) of |x|; p = percentile.
 *   ENTROPY         TensorRT's algorithm, as NVIDIA's pytorch-quantization computes it (calib/histogram.py,
 *                   _compute_amax_entropy, start_bin 128, stride 1), on H, the |x| histogram of num_bins
 *                   bins over [0, amax = max|x|] (bin width w = amax / num_bins). L = qmax + 1 levels
 *                   (TensorRT's 1 << (num_bits - 1 + unsigned): int8 128, uint8 256, int16 32768,
 *                   uint16 65536, int4 8, uint4 16). First B = H with B[0] = B[1] (so a spike of exact
 *                   zeros, as ReLU outputs, does not decide the search). For each i in 128 .. num_bins:
 *                   p = B[0:i] with sum(B[i:]) added to p[i-1]; bin k < i is in chunk floor(k*L/i) (of L);
 *                   q gives each non-zero bin of B[0:i] its chunk's sum of B[0:i] (the tail not folded in)
 *                   divided by the chunk's number of non-zero bins (other bins 0). No smoothing:
 *                   KL = sum over p > 0 of p/|p| log((p/|p|) / (q/|q|)), +inf where some p > 0 has q = 0
 *                   (or q is all zero): so a candidate whose last bin B[i-1] is empty while the tail is
 *                   not is never chosen, and far outliers past empty bins can leave T = amax only. The
 *                   smallest KL wins, the largest i on ties; T = i * w. If num_bins < 128 (or every KL
 *                   is +inf), T = amax. An exact search in O(num_bins * min(num_bins, L)) additions
 *                   (prefix sums): well under a second per group for every dtype and num_bins.
 *                   Symmetric: [-T, T]; asymmetric: [max(min, -T), min(max, T)].
 *   ENTROPY_ORT     ONNX Runtime's algorithm (onnxruntime.quantization.calibrate, HistogramCollector
 *                   .get_entropy_threshold with its default num_quantized_bins = 128, whatever the dtype),
 *                   on G, the histogram of x (not |x|) of num_bins = n bins over [-amax, amax] (ORT's
 *                   collect_value; bin width w = 2 amax / n, z = n / 2). For each i in 64 .. z: the window
 *                   is bins [z - i, min(z + i + 1, n)) (m bins); p = the window with the counts left and
 *                   right of it added to its first and last bin; q: the window (no outliers) in 128 chunks
 *                   of floor(m / 128) bins, the leftover bins' counts added to the last chunk; every bin of
 *                   chunk j gets trunc(sum_j / nonzeros of p in chunk j) (0 if none), the leftover bins 0.
 *                   Both smoothed with eps = 1e-4: v' = eps where v = 0, v - eps * zeros / nonzeros
 *                   elsewhere (a vector that is all zero, or whose correction is >= 1, where ORT's assertion
 *                   stops, makes the candidate's KL +inf). KL = sum p'/|p'| log((p'/|p'|) / (q'/|q'|)),
 *                   computed in float64 (ORT: float32). The first minimum wins; the range is the window's
 *                   edges [-amax + (z - i) w, -amax + min(z + i + 1, n) w] clipped to [min, max]
 *                   (symmetric: [-T, T], T the larger magnitude). n < 128: the min/max range. Tested
 *                   against ONNX Runtime itself (same window on the same histogram; within 2 bins on its
 *                   own numpy.histogram). Prefix sums make it O(n * 128): 0.1 s for n = 65536.
 *   MSE             the range minimising the expected squared error of quantize -> dequantize over the
 *                   histogram: sum over bins of count * (S^2 / 12 if the bin centre is inside the range,
 *                   else the squared distance of the centre to the range), S the scale of that range.
 *                   Candidate ends are bin edges of a num_bins histogram (of |x| over [0, max|x|] when
 *                   symmetric: [-T, T]; of x over [min, max] otherwise, widened to include zero; searched on
 *                   a grid of every max(1, num_bins/256)-th edge, then edge by edge around the best).
 * Histograms. Each group keeps 8 * num_bins bins of x over [-R, R), R the smallest power of two above
 * max|x| seen so far. When a batch raises max|x|, R doubles (as often as needed) and each pair of bins
 * merges into one, so counts stay exact; raw batches are never stored. Because R and the bin edges depend
 * only on max|x|, feeding data in 1 batch or 100, or merging observers of shards, gives identical
 * histograms. The method's num_bins histogram is re-binned from these bins (counts split in proportion to
 * overlap, then made whole by rounding the running total, so no count is lost): percentiles are exact to
 * one bin of it; entropy and MSE see a histogram close to numpy.histogram's (splitting assumes values
 * spread evenly inside a streaming bin).
 * Non-finite values: NaN or +-inf in a batch make sq_observer_update fail with SQ_ERROR_NONFINITE (the
 * message says how many) and leave the observer unchanged, unless ignore_nonfinite = 1: then they are
 * skipped and counted (sq_observer_stats).
 * Batches: per axis, every batch must have the same ndim and the same length along the axis; per block,
 * the same shape. Groups with no finite value give scale 1.0 (the degenerate-range rule).
 * Threads: calls on one observer are serialized by a lock inside it (convention 4), so an observer may be
 * shared; distinct observers run in parallel.
 */

typedef enum sq_method {
    SQ_METHOD_MINMAX = 0,
    SQ_METHOD_MOVING_AVERAGE = 1,
    SQ_METHOD_PERCENTILE = 2,
    SQ_METHOD_ENTROPY = 3,
    SQ_METHOD_MSE = 4,
    SQ_METHOD_ENTROPY_ORT = 5
} sq_method;

typedef struct sq_observer_config {
    int32_t method;             /* sq_method */
    int32_t dtype;              /* sq_dtype */
    int32_t symmetric;          /* 0 or 1 */
    int32_t axis;               /* SQ_PER_TENSOR or a non-negative axis of every batch */
    int64_t block_size;         /* 0, or > 0 for per-block (MINMAX only) */
    int32_t num_bins;           /* histogram methods: 16 .. 65536 (2048 is a good default); else ignored */
    int32_t ignore_nonfinite;   /* 0 or 1 */
    double percentile;          /* PERCENTILE: in (0, 100], e.g. 99.99; else ignored */
    double averaging_constant;  /* MOVING_AVERAGE: in (0, 1], e.g. 0.01; else ignored */
} sq_observer_config;

typedef struct sq_observer sq_observer;

/* Creates an observer. Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (method, dtype, flags,
 * block_size with a method other than MINMAX, num_bins, percentile, averaging_constant),
 * SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_observer_create(const sq_observer_config *config, sq_observer **out);

/* Frees an observer; NULL is accepted and ignored. */
SQ_API void sq_observer_destroy(sq_observer *observer);

/* The observer's configuration. Errors: SQ_ERROR_NULL_POINTER. */
SQ_API sq_status sq_observer_config_get(const sq_observer *observer, sq_observer_config *config);

/* Adds a batch. On any error the observer is unchanged.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape, axis out of range for it, a batch that does not
 * match the earlier ones), SQ_ERROR_NONFINITE, SQ_ERROR_OUT_OF_MEMORY (the first batch's groups would need
 * more than SQ_MAX_OBSERVER_STATE_BYTES of state), SQ_ERROR_OVERFLOW (the batch or value count would
 * overflow int64; also from sq_observer_merge). */
SQ_API sq_status sq_observer_update(sq_observer *observer, const float *x, const int64_t *shape, int32_t ndim);

/* Number of parameter groups (1 per tensor, the axis length, or the block count); 0 before the first batch.
 * Also the parameters' shape: shape_out (SQ_MAX_NDIM entries, may be NULL) and *ndim_out (may be NULL)
 * receive the scale shape (ndim 0 per tensor, [n] per axis, the blocked shape per block). */
SQ_API sq_status sq_observer_groups(const sq_observer *observer, int64_t *count, int64_t *shape_out,
                                    int32_t *ndim_out);

/* The method's chosen range per group (before zero is added to it): min_out and max_out hold count
 * entries (count = sq_observer_groups). Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (count),
 * SQ_ERROR_INVALID_ARGUMENT (no batch observed yet). */
SQ_API sq_status sq_observer_range(const sq_observer *observer, float *min_out, float *max_out, int64_t count);

/* sq_observer_range followed by sq_qparams_from_range with the observer's dtype and symmetry. */
SQ_API sq_status sq_observer_qparams(const sq_observer *observer, float *scale_out, int32_t *zero_point_out,
                                     int64_t count);

/* Counters and state size: batches observed, finite values observed, non-finite values skipped, and the
 * bytes of state held now (histogram methods store their 8 * num_bins streaming bins in blocks of 64,
 * only the blocks holding a value, each at the narrowest count width (1, 2, 4 or 8 bytes) its largest
 * count needs: data-dependent, batching-independent, at most the worst case of "Limits"). Any output may be
 * NULL. */
SQ_API sq_status sq_observer_stats(const sq_observer *observer, int64_t *batches, int64_t *values,
                                   int64_t *nonfinite, int64_t *state_bytes);

/* Merges `from` into `into`, as if `into` had also seen every batch `from` saw (exact for min/max and
 * histograms; MOVING_AVERAGE merges the two averages weighted by their batch counts). `from` is unchanged.
 * An observer with no batch merges as a no-op either way. `into` and `from` must be different handles (to
 * count an observer's data twice, merge a copy: sq_observer_serialize, then sq_observer_deserialize).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (different configurations, or one handle as both),
 * SQ_ERROR_SHAPE (different group layouts). */
SQ_API sq_status sq_observer_merge(sq_observer *into, const sq_observer *from);

/* Serializes the observer into buf (capacity bytes); *size receives the bytes needed. With buf NULL (and
 * capacity 0) only *size is set. The format is versioned, little-endian, portable across machines, and
 * ends in a checksum, so corrupted bytes are rejected by sq_observer_deserialize. Version 2 writes the
 * histograms as stored (only the blocks holding a value, at their count widths), so the bytes are about
 * state_bytes and, like it, a function of the data alone; version 1 (every bin as an int64) is still read.
 * Errors: SQ_ERROR_NULL_POINTER (size), SQ_ERROR_SHAPE (capacity too small; *size is still set). */
SQ_API sq_status sq_observer_serialize(const sq_observer *observer, uint8_t *buf, int64_t capacity,
                                       int64_t *size);

/* A new observer from sq_observer_serialize's bytes. The checksum only catches accidents (anyone can
 * recompute it), so every field is validated as hostile: the configuration as sq_observer_create does, the
 * shape as any shape (convention 6), the state size against SQ_MAX_OBSERVER_STATE_BYTES before allocating,
 * counters non-negative and consistent with the shape, ranges finite with min <= max (or empty), each
 * histogram's range exponent equal to the one its min and max imply, its blocks in order, within the
 * group, non-empty and at their narrowest width (the bytes are canonical), and the histogram counts summing
 * exactly to the number of values observed (so no later update or merge can overflow a bin).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (not observer data, unsupported format version,
 * truncated or inconsistent data), SQ_ERROR_SHAPE (a shape beyond the limits), SQ_ERROR_OUT_OF_MEMORY
 * (state beyond the limit). */
SQ_API sq_status sq_observer_deserialize(const uint8_t *buf, int64_t size, sq_observer **out);

/* ---------------------------------------------------------------------------------------------------- */
/* Hessian observers                                                                                     */
/*
 * A Hessian observer streams over calibration activations x, float32 rows of K = in_features values, and
 * keeps S = sum over rows of x x^T (float64, K x K) and count = the number of rows; its Hessian is
 *   H[i][j] = S[i][j] / count        (float64, full symmetric; GPTQ's loss Hessian is 2H)
 * State: K*K float64 values (K <= 65536), whatever the number of rows.
 * Summation order: a product of two float32 values is exact in float64, so only the additions round. An
 * update adds its rows in blocks of 256 consecutive rows: t = sum over the block of x[i] * x[j] (fused
 * multiply-adds, rows ascending, from 0), then S[i][j] += t; a merge adds the two S. Splitting the same rows
 * into other batches, or into shards merged in any order, therefore changes S by float64 rounding only
 * (not at all when the values are integers whose sums stay below 2^53), and nothing depends on the thread
 * count or the CPU's instruction set.
 * Calls on one handle are serialized by a lock inside it (convention 4).
 */
typedef struct sq_hessian sq_hessian;

/* Creates an observer of K = k features with S = 0, count = 0. On success *out owns a new handle; free it
 * with sq_hessian_destroy.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (k outside [1, 65536]), SQ_ERROR_OUT_OF_MEMORY (the
 * 8 * k * k bytes of S). */
SQ_API sq_status sq_hessian_create(int64_t k, sq_hessian **out);

/* Frees an observer; NULL is accepted and ignored. */
SQ_API void sq_hessian_destroy(sq_hessian *hessian);

/* Adds every row of x, shape [..., K] (ndim >= 1; the leading dimensions are flattened into rows; zero rows
 * are allowed). On any error the observer is unchanged.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape, ndim 0, last dimension not K),
 * SQ_ERROR_NONFINITE (NaN or +-inf in x: the message names the first element as [row, column]),
 * SQ_ERROR_OVERFLOW (the row count would overflow int64), SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_hessian_update(sq_hessian *hessian, const float *x, const int64_t *shape, int32_t ndim);

/* Adds from's rows to into's: S_into += S_from, count_into += count_from; from is unchanged, and may be into
 * itself (its rows then count twice). Equal to one observer over both sets of rows, up to the float64
 * rounding of the summation order (exact for integer-valued data).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (different K: the message gives both), SQ_ERROR_OVERFLOW. */
SQ_API sq_status sq_hessian_merge(sq_hessian *into, const sq_hessian *from);

/* The number of rows observed (including merged ones). Errors: SQ_ERROR_NULL_POINTER. */
SQ_API sq_status sq_hessian_count(const sq_hessian *hessian, int64_t *count);

/* K. Errors: SQ_ERROR_NULL_POINTER. */
SQ_API sq_status sq_hessian_k(const sq_hessian *hessian, int64_t *k);

/* H = S / count into out (K * K doubles, row-major, full symmetric; each element divided by count).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (no data observed: count 0). */
SQ_API sq_status sq_hessian_get(const sq_hessian *hessian, double *out);

/* The raw sums S into out (K * K doubles, row-major, full symmetric); zeros before any row.
 * Errors: SQ_ERROR_NULL_POINTER. */
SQ_API sq_status sq_hessian_sum(const sq_hessian *hessian, double *out);

/* Serializes the observer into buf (capacity bytes); *size receives the bytes needed. With buf NULL (and
 * capacity 0) only *size is set. Format (version 1, little-endian, the observers' family): "SQHS", uint32
 * version, int64 K, int64 count, the K(K+1)/2 doubles of S's upper triangle row by row (row i: columns
 * i .. K-1), and the FNV-1a 64 checksum of all preceding bytes: 32 + 4K(K+1) bytes.
 * Errors: SQ_ERROR_NULL_POINTER (size; buf NULL with capacity > 0), SQ_ERROR_SHAPE (capacity too small;
 * *size is still set). */
SQ_API sq_status sq_hessian_serialize(const sq_hessian *hessian, uint8_t *buf, int64_t capacity, int64_t *size);

/* A new observer from sq_hessian_serialize's bytes. Every field is validated as hostile (the checksum only
 * catches accidents): the magic and version, K in [1, 2^20] with exactly its K(K+1)/2 sums present (checked
 * before anything is allocated; K above 65536 is then SQ_ERROR_SHAPE as in sq_hessian_create), count >= 0,
 * every sum finite, the diagonal >= 0 (sums of squares), all sums zero when count is 0. An observer whose
 * sums could overflow float64 on a later update or merge (possible only for crafted bytes: real sums stay
 * below count * 2^256) makes that call fail with SQ_ERROR_OVERFLOW.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (not Hessian data, unsupported version,
 * truncated or inconsistent data), SQ_ERROR_SHAPE (size negative, K above 65536), SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_hessian_deserialize(const uint8_t *buf, int64_t size, sq_hessian **out);

/* ---------------------------------------------------------------------------------------------------- */
/* Quantize and dequantize                                                                               */

/* q = saturate(round(x / scale) + zero_point), per element, with the element's scale and zero point.
 * x / scale is a float32 division (not a multiplication by 1/scale). +-inf saturate to qmin / qmax.
 * rounding is an sq_rounding; seed is used by SQ_ROUND_STOCHASTIC only.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape, params->count wrong for the granularity),
 * SQ_ERROR_INVALID_ARGUMENT (dtype, rounding, axis, block_size), SQ_ERROR_INVALID_SCALE,
 * SQ_ERROR_INVALID_ZERO_POINT, SQ_ERROR_NONFINITE (NaN in x). */
SQ_API sq_status sq_quantize(const float *x, const int64_t *shape, int32_t ndim, const sq_qparams *params,
                             int32_t rounding, uint64_t seed, void *q_out);

/* Float formats with ONNX's saturate attribute: q = convert(x / scale) by the rules at sq_dtype, with
 * saturate 1 (as sq_quantize) or 0 (out-of-range values and +-inf become the format's inf or NaN).
 * Errors: as sq_quantize; SQ_ERROR_INVALID_ARGUMENT also for an integer dtype (they always saturate) and
 * saturate not 0 or 1; SQ_ERROR_NONFINITE for NaN with FP4 / FP6. */
SQ_API sq_status sq_quantize_float(const float *x, const int64_t *shape, int32_t ndim, const sq_qparams *params,
                                   int32_t saturate, uint8_t *q_out);

/* Fake quantization, float32 to float32 in one pass: y = (saturate(round(x / scale) + zero_point) -
 * zero_point) * scale, bit-identical to sq_quantize followed by sq_dequantize. y_out may equal x (in
 * place); otherwise the buffers must not overlap. Errors: as sq_quantize. */
SQ_API sq_status sq_fake_quantize(const float *x, const int64_t *shape, int32_t ndim, const sq_qparams *params,
                                  int32_t rounding, uint64_t seed, float *y_out);

/* x = (q - zero_point) * scale in float32 ((q - zero_point) is exact, then one float32 multiply).
 * Errors: as sq_quantize, plus SQ_ERROR_OUT_OF_RANGE (an int4/uint4 value outside [qmin, qmax]). */
SQ_API sq_status sq_dequantize(const void *q, const int64_t *shape, int32_t ndim, const sq_qparams *params,
                               float *x_out);

/* ONNX DynamicQuantizeLinear, in float32 arithmetic as the ONNX reference:
 *   scale = (max(0, max(x)) - min(0, min(x))) / 255
 *   zero_point = round_half_even(clamp(-min(0, min(x)) / scale, 0, 255))
 *   q = saturate_uint8(round_half_even(x / scale) + zero_point)
 * When x is empty or all zero, scale = 1.0 and zero_point = 0 (ONNX would divide by zero).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (count < 0), SQ_ERROR_NONFINITE (NaN or +-inf in x). */
SQ_API sq_status sq_dynamic_quantize(const float *x, int64_t count, uint8_t *q_out, float *scale_out,
                                     uint8_t *zero_point_out);

/* 4-bit packing: int4/uint4 values live one per byte in every other function; these halve their storage.
 * Layout as ONNX's INT4/UINT4 tensors: element 2i in bits 0-3 of byte i, element 2i+1 in bits 4-7, int4
 * as two's complement nibbles; an odd count leaves the last byte's high nibble 0 (padding).
 * sq_pack_int4: q holds count values (int8 bytes for SQ_INT4, uint8 for SQ_UINT4); packed_out receives
 *   packed_count = (count + 1) / 2 bytes. A value outside the dtype is SQ_ERROR_OUT_OF_RANGE (the message
 *   names the first such element and its value); packed_out is then unspecified.
 *   SQ_FLOAT4E2M1 codes (0 .. 15) pack the same way, as ONNX stores FLOAT4E2M1 tensors.
 * sq_unpack_int4: the inverse, sign-extending int4. With an odd count, a non-zero padding nibble is
 *   SQ_ERROR_INVALID_ARGUMENT (it usually means a wrong count).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (dtype not 4-bit), SQ_ERROR_SHAPE (count < 0,
 * packed_count != (count + 1) / 2), as above. */
SQ_API sq_status sq_pack_int4(const void *q, int64_t count, int32_t dtype, uint8_t *packed_out,
                              int64_t packed_count);
SQ_API sq_status sq_unpack_int4(const uint8_t *packed, int64_t packed_count, int32_t dtype, void *q_out,
                                int64_t count);

/* ---------------------------------------------------------------------------------------------------- */
/* OCP Microscaling (MX) block formats                                                                   */
/*
 * OCP Microscaling Formats (MX) v1.0: blocks of SQ_MX_BLOCK_SIZE (32) consecutive elements along one axis
 * share one E8M0 scale; each element is an FP8 / FP6 / FP4 code (the formats of sq_dtype) or an int8.
 *   format            element       emax_elem  element max   element storage
 *   SQ_MX_FP8_E4M3    FLOAT8E4M3FN  8          448           uint8_t code
 *   SQ_MX_FP8_E5M2    FLOAT8E5M2    15         57344         uint8_t code
 *   SQ_MX_FP6_E3M2    FLOAT6E3M2    4          28            uint8_t code (0 .. 63)
 *   SQ_MX_FP6_E2M3    FLOAT6E2M3    2          7.5           uint8_t code (0 .. 63)
 *   SQ_MX_FP4         FLOAT4E2M1    2          6             uint8_t code (0 .. 15), one per byte
 *   SQ_MX_INT8        int8, 2^-6    0          127/64        int8_t (-127 .. 127)
 * Layout: elements has x's shape (one per element, C order); scales has x's shape with dimension axis
 * replaced by ceil(shape[axis] / 32) (scale_count entries, C order); x[..., i, ...] (i along axis) uses
 * scale [..., i / 32, ...]. The last block along the axis holds shape[axis] % 32 elements when that is not
 * 0: it is scaled by its own amax, exactly as a full block (nothing is padded).
 * Scales (E8M0): code c in 0 .. 254 is 2^(c - 127); 255 is NaN.
 *
 * Quantize (OCP MX v1.0 section 6.3), per block of values V:
 *   amax = max |V|;  X = floor(log2(amax)) - emax_elem, clamped to [-127, 127];  scale code = X + 127
 *     (floor(log2) of a float32 subnormal is its true exponent, so such blocks clamp to X = -127; X never
 *     reaches the upper clamp: floor(log2(FLT_MAX)) = 127)
 *   elements P = convert(V / 2^X): round to nearest, ties to even, directly from the exact quotient, and
 *     SATURATING: V / 2^X < 2^(emax_elem + 1) may round above the element's largest value; it becomes
 *     +-max (the spec's choice; ONNX's saturate = 1). -0 and negative values that round to zero keep the
 *     sign bit (the -0 code, as ml_dtypes).
 *   SQ_MX_INT8: P = clamp(round_half_even(V / 2^X * 64), -127, 127) (the implicit scale 2^-6; -128 is never
 *     produced).
 *   Choices the spec leaves open:
 *   - an all-zero block (+-0 only) gets scale code 0 (2^-127, the smallest) and zero elements (-0 stays the
 *     -0 code for the float elements);
 *   - a block containing NaN gets the NaN scale code 255 and elements 0;
 *   - a block containing +-inf (and no NaN) gets 255 too: no finite scale represents it, and a finite
 *     scale with saturated elements would silently replace inf by a finite value. Other blocks are
 *     unaffected; non-finite values are never an error.
 *   - No double rounding: 2^-X is exactly representable in float32 (2^-127 as a subnormal), so V * 2^-X is
 *     one correctly rounded product, exact unless it is below 2^-126, where every element format rounds
 *     it to +-0 anyway.
 * Dequantize: x = value(P) * 2^(c - 127) in float32: one multiply of two exactly representable values, so
 *   the correctly rounded product (exact unless it underflows into float32 subnormals, or, for hand-made
 *   codes, overflows to +-inf; quantize's output never overflows). value(P) is the element's value
 *   (NaN codes of the FP8 formats give NaN, E5M2's inf codes +-inf); SQ_MX_INT8: P / 64, and -128, which
 *   quantize never writes, decodes as -2. Scale code 255 gives NaN for every element of its block.
 * Whole blocks along the last axis (and, for quantize, 8 columns at a time along another axis) take the
 * kernel sq_kernel_name(SQ_OP_MX_QUANTIZE / SQ_OP_MX_DEQUANTIZE) names (e.g. "f32-mx-quantize-x32-avx2"),
 * partial blocks the reference; every kernel and thread count gives bit-identical results.
 */
#define SQ_MX_BLOCK_SIZE 32

typedef enum sq_mx_format {
    SQ_MX_FP8_E4M3 = 0,
    SQ_MX_FP8_E5M2 = 1,
    SQ_MX_FP6_E3M2 = 2,
    SQ_MX_FP6_E2M3 = 3,
    SQ_MX_FP4 = 4,
    SQ_MX_INT8 = 5
} sq_mx_format;

/* Quantizes x (shape, ndim >= 1) to an MX format in blocks along axis (0 <= axis < ndim): elements_out
 * receives one code per element (uint8_t; int8_t for SQ_MX_INT8), scales_out scale_count E8M0 codes.
 * Errors: SQ_ERROR_NULL_POINTER (x, elements_out or scales_out NULL while non-empty; shape NULL),
 * SQ_ERROR_SHAPE (bad shape, scale_count not the block count above), SQ_ERROR_INVALID_ARGUMENT (ndim 0,
 * axis out of range, unknown format). NaN and +-inf in x are not errors (see above). */
SQ_API sq_status sq_mx_quantize(const float *x, const int64_t *shape, int32_t ndim, int32_t axis, int32_t format,
                                void *elements_out, uint8_t *scales_out, int64_t scale_count);

/* Dequantizes MX elements and scales (layout as sq_mx_quantize) into x_out (float32, shape).
 * Errors: as sq_mx_quantize, plus SQ_ERROR_OUT_OF_RANGE for an element code outside the format (>= 64 for
 * the FP6 formats, >= 16 for SQ_MX_FP4; checked in every block, NaN-scale blocks included): the message
 * names the first such element (flat index) and its code. */
SQ_API sq_status sq_mx_dequantize(const void *elements, const uint8_t *scales, int64_t scale_count,
                                  const int64_t *shape, int32_t ndim, int32_t axis, int32_t format, float *x_out);

/* ---------------------------------------------------------------------------------------------------- */
/* Error analysis                                                                                        */
/*
 * Quantization error statistics of x under given parameters, in one pass and without any output buffer.
 * For each element (s, z its scale and zero point, [qmin, qmax] the dtype's range):
 *   v     = x / s                          the float32 division of sq_quantize
 *   q     = saturate(round(v) + z)         exactly sq_quantize (same rounding, seed and flat index)
 *   x_hat = (q - z) * s                    exactly sq_dequantize (float32)
 *   e     = double(x) - double(x_hat)      the error, in float64
 * An element is CLIPPED when saturation changes it: round(v) + z lies outside [qmin, qmax] (the value
 * before saturation), i.e. x lies outside the representable range [(qmin - z) s, (qmax - z) s] by more than
 * the rounding reaches (nearest modes: by more than about s / 2). +-inf are clipped. So each finite
 * element's error is either rounding error (|e| about s / 2 at most for the nearest modes, s for floor and
 * stochastic) or clipping error. Symmetric unsigned parameters put +a at v = qmax - z + 0.5, which rounds
 * past qmax: that element is clipped (by half a step).
 * +-inf are counted in count, clipped and infinite but add nothing to the sums or to max_abs_error (their
 * error is infinite). All accumulation is in float64.
 */
typedef struct sq_error_stats {
    double sum_sq_error;           /* sum of e^2 over finite elements */
    double sum_sq_signal;          /* sum of double(x)^2 over finite elements */
    double max_abs_error;          /* max |e| over finite elements (0 if none) */
    double sum_sq_error_rounding;  /* sum of e^2 over finite elements that are not clipped */
    double sum_sq_error_clipping;  /* sum of e^2 over finite elements that are clipped */
    int64_t count;                 /* elements (including +-inf) */
    int64_t clipped;               /* clipped elements (including +-inf) */
    int64_t infinite;              /* elements that are +-inf */
} sq_error_stats;
/* Derived numbers (the Python ErrorReport): with n = count - infinite,
 *   mse = sum_sq_error / n, rounding_mse = sum_sq_error_rounding / n, clipping_mse = sum_sq_error_clipping / n
 *   (all 0 when n = 0; rounding_mse + clipping_mse = mse up to float64 summation),
 *   sqnr_db = 10 log10(sum_sq_signal / sum_sq_error), +inf when sum_sq_error = 0 (zero signal is always
 *   exactly representable, so it gives +inf), clipped_fraction = clipped / count (0 when count = 0). */

/* Error statistics of quantizing x with params (any dtype and granularity) and rounding / seed as
 * sq_quantize. per_group: NULL with group_count = 0, or group_count = params->count entries, one per
 * scale entry (per tensor 1, per axis shape[axis], per block the blocked count), each over the elements
 * that use that entry. *total (required) receives the statistics of the whole tensor (the groups summed
 * in order). Groups are accumulated element by element in flat index order, so results are deterministic.
 * Errors: as sq_quantize (SQ_ERROR_NONFINITE for NaN in x), plus SQ_ERROR_NULL_POINTER (total) and
 * SQ_ERROR_SHAPE (group_count neither 0 nor params->count, or per_group NULL with group_count > 0). */
SQ_API sq_status sq_error_report(const float *x, const int64_t *shape, int32_t ndim, const sq_qparams *params,
                                 int32_t rounding, uint64_t seed, sq_error_stats *per_group,
                                 int64_t group_count, sq_error_stats *total);

/* ---------------------------------------------------------------------------------------------------- */
/* Codebook (non-uniform) quantization                                                                   */
/*
 * A codebook is L ascending float32 levels; a value is stored as the uint8 index of its nearest level
 * (L <= 256). Granularity: one codebook for the tensor (axis = SQ_PER_TENSOR) or one per index along axis
 * (axis = k: shape[k] codebooks; codebook g is levels[g * L .. g * L + L - 1], the element x[..., i_k, ...]
 * uses codebook i_k). levels_count is always (number of codebooks) * L.
 */
typedef enum sq_codebook_kind {
    SQ_CODEBOOK_LLOYD = 0,          /* Lloyd-Max from the optimal partition: least squared error */
    SQ_CODEBOOK_LOG2 = 1,           /* powers of two (and 0), scaled to the data's largest magnitude */
    SQ_CODEBOOK_LLOYD_QUANTILE = 2  /* classic Lloyd-Max from quantiles (can stop in a poor local optimum) */
} sq_codebook_kind;

/* Fits L = 2^bits levels (1 <= bits <= 8) per codebook to x; levels_out receives levels_count floats.
 * Both Lloyd kinds (1-D k-means) work in float64 on the codebook's values sorted ascending, s[0..n-1];
 * they differ only in where the levels start:
 *   SQ_CODEBOOK_LLOYD_QUANTILE: level i = the (i + 0.5) / L quantile: pos = (i + 0.5) / L * (n - 1),
 *          lo = floor(pos), c_i = s[lo] + (pos - lo) * (s[min(lo + 1, n - 1)] - s[lo]) (NumPy's "linear").
 *          Lloyd from there can stop far from the optimum on heavy tails and at many levels.
 *   SQ_CODEBOOK_LLOYD: the cluster means of the partition of s into L contiguous clusters with the least
 *          squared error among partitions made of whole "atoms" (dynamic programming, O(L K log K)).
 *          Atoms: the runs of equal values when there are at most K = min(max(64 L, 1024), 4096) of them,
 *          so the start is the exact optimum (exact 1-D k-means) and Lloyd keeps it; otherwise the runs
 *          between K/2 - 1 equal-count and K/2 - 1 equal-width cuts (each cut moved to the start of its run
 *          of equal values), so the start is near optimal and Lloyd refines it. Fewer atoms than levels:
 *          one level per atom, the largest repeated.
 *   repeat at most max_iter times:
 *          assign  each value to the lowest j with s <= (c_j + c_{j+1}) / 2 (else L - 1), then to the
 *                  first of a run of equal levels: its nearest level, ties to the lower level; stop if no
 *                  assignment changed since the last update;
 *          update  c_j = mean of the values assigned to j (an empty cluster keeps its level);
 *                  stop if no level moved by more than tol (tol = 0: only the assignment test stops early).
 *   The levels are then sorted ascending and rounded to float32. max_iter = 0 gives the starting levels.
 *   Each iteration costs O(L log n) (prefix sums, binary-searched boundaries) after one sort of the data.
 * SQ_CODEBOOK_LOG2: m = max|x| of the codebook, e = the integer nearest to log2(m) (exact: m = f * 2^k
 *   with f in [0.5, 1) gives e = k if f >= sqrt(1/2), else k - 1), capped at 127; P = L/2 - 1. Levels,
 *   ascending: -2^e, -2^(e-1), ..., -2^(e-P), 0, 2^(e-P+1), ..., 2^(e-1), 2^e (P + 1 negative, zero,
 *   P positive: the extra level is the smallest negative magnitude, as int4's extra -8). 4 bits:
 *   -2^e .. -2^(e-7), 0, 2^(e-6) .. 2^e. Magnitudes below 2^-149 become 0. max_iter and tol are ignored.
 * A codebook with no values, or (LOG2) with m = 0, gets L levels equal to 0.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape; levels_count not codebooks * 2^bits),
 * SQ_ERROR_INVALID_ARGUMENT (axis out of range, bits, kind, max_iter < 0, tol negative or not finite),
 * SQ_ERROR_NONFINITE (NaN or +-inf in x; the message gives the count and the first flat index). */
SQ_API sq_status sq_codebook_fit(const float *x, const int64_t *shape, int32_t ndim, int32_t axis, int32_t bits,
                                 int32_t kind, int32_t max_iter, double tol, float *levels_out,
                                 int64_t levels_count);

/* idx = the index of the level nearest to x in its codebook, ties to the lower index: k = the number of
 * midpoints (levels[j] + levels[j+1]) / 2, computed in float64, that are < x, then the lowest index whose
 * level equals levels[k] (equal levels tie). +inf gives L - 1 (or the first of equal top levels), -inf 0.
 * levels: levels_count = codebooks * levels_per_group floats, each codebook ascending (non-decreasing)
 * and finite; 1 <= levels_per_group <= 256. idx_out holds one uint8 per element of x.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (bad shape, levels_count), SQ_ERROR_INVALID_ARGUMENT (axis,
 * levels_per_group, levels not ascending or not finite), SQ_ERROR_NONFINITE (NaN in x: the message gives
 * its flat index). */
SQ_API sq_status sq_codebook_quantize(const float *x, const int64_t *shape, int32_t ndim, int32_t axis,
                                      const float *levels, int64_t levels_per_group, int64_t levels_count,
                                      uint8_t *idx_out);

/* x = levels[g * levels_per_group + idx], g the element's codebook. The levels are copied as they are.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE, SQ_ERROR_INVALID_ARGUMENT (axis, levels_per_group),
 * SQ_ERROR_OUT_OF_RANGE (an index >= levels_per_group: the message names the index and its flat position). */
SQ_API sq_status sq_codebook_dequantize(const uint8_t *idx, const int64_t *shape, int32_t ndim, int32_t axis,
                                        const float *levels, int64_t levels_per_group, int64_t levels_count,
                                        float *x_out);

/* Error statistics (sq_error_stats, "Error analysis" above) of codebook quantization of x: each element goes
 * to its nearest level exactly as sq_codebook_quantize, x_hat = that level, e = double(x) - double(x_hat).
 * An element is CLIPPED when it lies beyond an end level by more than half the gap to that level's
 * neighbour: x < l_0 - (l_1 - l_0) / 2 or x > l_{L-1} + (l_{L-1} - l_{L-2}) / 2 in float64 (the codebook's
 * analogue of the uniform range's half step; with one level, every x other than l_0 is clipped); +-inf are
 * clipped and infinite. per_group: NULL with group_count = 0, or one entry per codebook; *total (required)
 * receives the codebooks summed in order. Accumulated element by element in flat index order.
 * Errors: as sq_codebook_quantize, plus SQ_ERROR_NULL_POINTER (total, or per_group with group_count > 0)
 * and SQ_ERROR_SHAPE (group_count neither 0 nor the number of codebooks). */
SQ_API sq_status sq_codebook_error_report(const float *x, const int64_t *shape, int32_t ndim, int32_t axis,
                                          const float *levels, int64_t levels_per_group, int64_t levels_count,
                                          sq_error_stats *per_group, int64_t group_count, sq_error_stats *total);

/* ---------------------------------------------------------------------------------------------------- */
/* Integer matrix multiplication                                                                         */
/*
 * All products compute, for every batch index and (m, n):
 *   C[m, n] = sum_k (A[m, k] - za) * (B[k, n] - zb[n])          exactly, in int32
 * A is int8 or uint8 with a scalar zero point; B is int8 or uint8 with one zero point or one per column.
 * Shapes follow numpy.matmul: A [..., M, K], B [..., K, N], leading dimensions broadcast; a 1-D A is
 * [1, K] with M dropped from the result, a 1-D B is [K, 1] with N dropped. K = 0 gives C = 0 on every path
 * (so requantized outputs are zy and float outputs the bias).
 * If K * max|A - za| * max|B - zb| (over the dtypes' ranges) exceeds INT32_MAX the call fails with
 * SQ_ERROR_OVERFLOW instead of wrapping.
 */

/* The result shape of a matmul of a_shape by b_shape; out_shape must hold SQ_MAX_NDIM entries.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (ndim 0, K mismatch, batch dims that do not broadcast). */
SQ_API sq_status sq_matmul_shape(const int64_t *a_shape, int32_t a_ndim, const int64_t *b_shape, int32_t b_ndim,
                                 int64_t *out_shape, int32_t *out_ndim);

/* ONNX MatMulInteger: c (c_count elements, the product of sq_matmul_shape) receives C.
 * b_zero_point: NULL (0), or b_zero_point_count = 1 (scalar) or N (per column).
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (dtype not int8/uint8), SQ_ERROR_SHAPE,
 * SQ_ERROR_INVALID_ZERO_POINT, SQ_ERROR_OVERFLOW. */
SQ_API sq_status sq_matmul_i32(const void *a, int32_t a_dtype, const int64_t *a_shape, int32_t a_ndim,
                               int32_t a_zero_point, const void *b, int32_t b_dtype, const int64_t *b_shape,
                               int32_t b_ndim, const int32_t *b_zero_point, int64_t b_zero_point_count,
                               int32_t *c, int64_t c_count);

/* ONNX QLinearMatMul: y = saturate(round(double(C) * M + zy)), M = float32(float32(sa * sb[n]) / sy),
 * the zero point added before rounding. a_params: per tensor, dtype int8/uint8. b_params: per tensor or
 * (b_ndim >= 2) per column (axis = b_ndim - 1), dtype int8/uint8. y_params: per tensor, dtype int8 or
 * uint8; y holds y_count elements of that dtype. rounding and seed as sq_quantize (the stochastic index
 * is the flat output index).
 * Errors: as sq_matmul_i32, plus SQ_ERROR_INVALID_ARGUMENT (granularity) and SQ_ERROR_INVALID_SCALE (a
 * scale that is not finite, positive and normal, or finite scales whose M is not finite, e.g. sa = sb =
 * 1e30: the same error on every kernel path; an M that underflows to 0 is allowed and gives zy). */
SQ_API sq_status sq_qlinear_matmul(const void *a, const int64_t *a_shape, int32_t a_ndim,
                                   const sq_qparams *a_params, const void *b, const int64_t *b_shape,
                                   int32_t b_ndim, const sq_qparams *b_params, const sq_qparams *y_params,
                                   int32_t rounding, uint64_t seed, void *y, int64_t y_count);

/* Float output: y = float32(C) * float32(sa * sb[n]) + bias[n], in float32 (multiply, then add; no FMA).
 * bias: NULL (no bias), or bias_count = N. a_params and b_params as sq_qlinear_matmul. A float32(sa * sb[n])
 * that overflows is SQ_ERROR_INVALID_SCALE; a finite factor times C may still round to +-inf (IEEE).
 * Errors: as sq_qlinear_matmul. */
SQ_API sq_status sq_matmul_f32(const void *a, const int64_t *a_shape, int32_t a_ndim, const sq_qparams *a_params,
                               const void *b, const int64_t *b_shape, int32_t b_ndim, const sq_qparams *b_params,
                               const float *bias, int64_t bias_count, float *y, int64_t y_count);

/* ---------------------------------------------------------------------------------------------------- */
/* Prepacked B (weights)                                                                                 */

/* An immutable B matrix [K, N] laid out once for the active kernel, with its zero points folded in.
 * A packed matrix may be used from several threads at once. */
typedef struct sq_packed sq_packed;

/* Packs a 2-D B [K, N]. b_params gives dtype (int8/uint8) and zero points (per tensor, or per column:
 * axis = 1). b_params->scale may be NULL: the packed matrix then serves only sq_matmul_i32_packed.
 * On success *out owns a new handle; free it with sq_packed_destroy.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (ndim != 2, count), SQ_ERROR_INVALID_ARGUMENT,
 * SQ_ERROR_INVALID_SCALE, SQ_ERROR_INVALID_ZERO_POINT, SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_pack(const void *b, const int64_t *b_shape, int32_t b_ndim, const sq_qparams *b_params,
                         sq_packed **out);

/* Frees a packed matrix; NULL is accepted and ignored. */
SQ_API void sq_packed_destroy(sq_packed *packed);

/* K, N, dtype and whether scales were given (any output pointer may be NULL). */
SQ_API sq_status sq_packed_info(const sq_packed *packed, int64_t *k, int64_t *n, int32_t *dtype,
                                int32_t *has_scale);

/* The packed forms of the three products: B is the packed [K, N] matrix (a_shape [..., K] -> [..., N]).
 * Same formulas and errors as the unpacked functions; the qlinear and f32 forms need a packed scale
 * (SQ_ERROR_INVALID_ARGUMENT otherwise). */
SQ_API sq_status sq_matmul_i32_packed(const void *a, int32_t a_dtype, const int64_t *a_shape, int32_t a_ndim,
                                      int32_t a_zero_point, const sq_packed *b, int32_t *c, int64_t c_count);
SQ_API sq_status sq_qlinear_matmul_packed(const void *a, const int64_t *a_shape, int32_t a_ndim,
                                          const sq_qparams *a_params, const sq_packed *b,
                                          const sq_qparams *y_params, int32_t rounding, uint64_t seed, void *y,
                                          int64_t y_count);
SQ_API sq_status sq_matmul_f32_packed(const void *a, const int64_t *a_shape, int32_t a_ndim,
                                      const sq_qparams *a_params, const sq_packed *b, const float *bias,
                                      int64_t bias_count, float *y, int64_t y_count);

/* ---------------------------------------------------------------------------------------------------- */
/* Quantized linear layer                                                                                */
/*
 * y = x W^T + b in int8: W [out_features, in_features] (PyTorch's nn.Linear layout) is quantized once per
 * output channel, symmetric int8 (scale sw[n] = max|W[n, :]| / 127, round half to even), and packed. Each
 * forward call quantizes x [..., in_features] to uint8 as ONNX DynamicQuantizeLinear does, over the whole
 * tensor (SQ_ACTIVATION_PER_TENSOR) or over each row (SQ_ACTIVATION_PER_ROW, "per token"), then
 *   y[m, n] = float32(C[m, n]) * float32(sx[m] * sw[n]) + bias[n],  C = sum_k (xq[m, k] - zx[m]) * wq[n, k]
 * with C exact in int32; y is [..., out_features], float32.
 */
typedef enum sq_activation_granularity {
    SQ_ACTIVATION_PER_TENSOR = 0,
    SQ_ACTIVATION_PER_ROW = 1,
    SQ_ACTIVATION_PER_BLOCK = 2,  /* sq_block_linear only: int8 per block of the weight's block size */
    SQ_ACTIVATION_NONE = 3        /* sq_block_linear only: float activations, weights dequantized on the fly */
} sq_activation_granularity;

typedef struct sq_linear sq_linear;

/* Creates a layer. bias is NULL or holds out_features values. The weights are copied.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (a feature count < 1, or too large: in_features * 255 *
 * 128 must fit int32, i.e. in_features <= 65793), SQ_ERROR_INVALID_ARGUMENT (activation),
 * SQ_ERROR_NONFINITE (NaN or inf in weight or bias), SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_linear_create(const float *weight, int64_t out_features, int64_t in_features, const float *bias,
                                  int32_t activation, sq_linear **out);

/* Frees a layer; NULL is accepted and ignored. */
SQ_API void sq_linear_destroy(sq_linear *linear);

/* Sizes, activation granularity and (weight_scales may be NULL) the out_features weight scales. */
SQ_API sq_status sq_linear_info(const sq_linear *linear, int64_t *out_features, int64_t *in_features,
                                int32_t *activation, float *weight_scales);

/* y = layer(x): x has shape [..., in_features] (ndim >= 1); y holds y_count = (rows * out_features) floats.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_SHAPE (last dimension not in_features, y_count wrong),
 * SQ_ERROR_NONFINITE (NaN or inf in x), SQ_ERROR_OUT_OF_MEMORY. */
SQ_API sq_status sq_linear_forward(const sq_linear *linear, const float *x, const int64_t *shape, int32_t ndim,
                                   float *y, int64_t y_count);

/* ---- Block-quantized weights (4-bit / 8-bit, ONNX Runtime MatMulNBits, llama.cpp Q4_0 / Q8_0) -------------
 *
 * A weight W [n, k] = [out_features, in_features] (row-major, PyTorch's nn.Linear layout) is quantized in
 * blocks of block_size consecutive elements along k (a power of two in [16, 65536]; the last block of a row
 * is partial when block_size does not divide k). Storage, one byte per code:
 *   codes        uint8 [n, k], 0 .. 2^bits - 1 (bits 2, 3, 4 or 8)
 *   scales       float [n, kb], kb = ceil(k / block_size); finite, may be negative or zero
 *   zero_points  uint8 [n, kb]; NULL where accepted means every zero point is 2^(bits-1)
 *   value = (code - zero_point) * scale   (an int difference converted to float, times the scale)
 * Quantization is ONNX Runtime's (MlasQuantizeBlockwise), so codes, scales and zero points match the ones
 * ORT's MatMulNBits quantizer writes:
 *   symmetric:  v = max if |max| > |min| else min, scale = v / -2^(bits-1), zero point 2^(bits-1)
 *               (the value of largest magnitude maps to code 0; the scale is negative when v > 0);
 *   asymmetric: lo = min(min, 0), hi = max(max, 0), scale = (hi - lo) / (2^bits - 1),
 *               zero_point = clamp(roundf(-lo / scale), 0, 2^bits - 1), 0 when scale is 0;
 *   code = clamp(roundf(x * (1 / scale) + zero_point), 0, 2^bits - 1), 1 / 0 taken as 0, roundf rounding
 *   half away from zero (for a subnormal scale 1 / scale is infinite: 0 gets the zero point, every other
 *   value an end code). */

/* Quantizes w [n, k]. codes: n*k bytes; scales and zero_points: n*kb.
 * Errors: SQ_ERROR_NULL_POINTER, SQ_ERROR_INVALID_ARGUMENT (bits, block_size, symmetric), SQ_ERROR_SHAPE,
 * SQ_ERROR_NONFINITE (NaN or inf in w, with its index). */
SQ_API sq_status sq_weight_quantize(const float *w, int64_t n, int64_t k, int32_t bits, int64_t block_size,
                                    int32_t symmetric, uint8_t *codes, float *scales, uint8_t *zero_points);

/* out [n, k] = (code - zero_point) * scale. zero_points may be NULL (2^(bits-1)).
 * Errors: as sq_weight_quantize, plus SQ_ERROR_OUT_OF_RANGE (a code above 2^bits - 1),
 * SQ_ERROR_INVALID_ZERO_POINT, SQ_ERROR_INVALID_SCALE (NaN or inf). */
SQ_API sq_status sq_weight_dequantize(const uint8_t *codes, const float *scales, const uint8_t *zero_points,
                                      int64_t n, int64_t k, int32_t bits, int64_t block_size, float *out);

/* The com.microsoft.MatMulNBits tensors (bits 2, 4 or 8):
 *   B            uint8 [n, kb, block_size * bits / 8]: 8 / bits elements per byte, element j of a byte's group
 *                in bits [j * bits, (j + 1) * bits) (4 bits: element 2i in the low nibble of byte i, element
 *                2i + 1 in the high nibble); elements past k are 0.
 *   zero_points  uint8 [n, ceil(kb * bits / 8)]: packed the same way along the blocks (4 bits: block 2i in
 *                the low nibble); padding fields hold 2^(bits-1).
 *   scales       float [n, kb], as above.
 * sq_matmul_nbits_sizes gives the byte counts of B and of the packed zero points (either pointer may be NULL). */
SQ_API sq_status sq_matmul_nbits_sizes(int64_t n, int64_t k, int32_t bits, int64_t block_size, int64_t *b_bytes,
                                       int64_t *zero_point_bytes);

/* Writes B (b_bytes) and, when packed_zero_points is not NULL, the packed zero points (zero_point_bytes)
 * from codes, scales (checked, not written) and zero_points (NULL: 2^(bits-1)). */
SQ_API sq_status sq_matmul_nbits_pack(const uint8_t *codes, const float *scales, const uint8_t *zero_points,
                                      int64_t n, int64_t k, int32_t bits, int64_t block_size, uint8_t *b,
                                      uint8_t *packed_zero_points);

/* The inverse: codes [n, k] and zero_points [n, kb] from B and packed_zero_points (NULL: MatMulNBits'
 * default 2^(bits-1)); scales are checked (finite). Padding bits are ignored. */
SQ_API sq_status sq_matmul_nbits_unpack(const uint8_t *b, const float *scales, const uint8_t *packed_zero_points,
                                        int64_t n, int64_t k, int32_t bits, int64_t block_size, uint8_t *codes,
                                        uint8_t *zero_points);

/* ---- GPTQ (Frantar et al. 2022) on the block-weight grid ---------------------------------------------------
 *
 * The same codes / scales / zero points as sq_weight_quantize (same rule per block), chosen column by column
 * (the IST-DASLab / AutoGPTQ loop) so that each column's rounding error is compensated on the columns not yet
 * quantized, weighted by the layer's input Hessian H = E[x x^T] (float64 [k, k], e.g. sq_hessian_get):
 *   1. dead inputs (H[j,j] = 0): H[j,j] = 1 and weight column j set to 0;
 *   2. act_order != 0: columns processed by descending H[j,j] (stable); block parameters are then static
 *      (sq_weight_quantize's rule on the original blocks), so the result needs no permutation index;
 *      act_order = 0: a block's parameters come from the rule on its columns as updated when the loop
 *      reaches its first column;
 *   3. lambda = damp * mean(diag H) added to the diagonal; if the Cholesky factorization fails, damp is
 *      multiplied by 10 (starting from 1e-4 when damp is 0) up to 1e4, and report->damp tells the value used;
 *   4. U = upper Cholesky factor of H^-1 (H^-1 = U^T U), float64, then float32;
 *   5. column blocks of max(128, block_size): err = (w - q) / U[j,j], later columns w -= err * U[j, .],
 *      the columns after the block updated at once; float32 weights.
 * input_scales (NULL or [k], finite > 0): quantizes w * s with the Hessian of x / s (AWQ scaling before GPTQ);
 * the caller's layer must divide its input by s. The result does not depend on the thread count.
 * report (may be NULL): damp used, dead inputs, and the relative output error sum e^T H e / sum w^T H w
 * (undamped H, e = w - dequantized) of round-to-nearest (before) and of the result (after), over all
 * rows_measured = n rows (H e in float32, sums in float64; about 3 n k^2 multiply-adds, a third of the
 * whole call at n = k = 2048, so a NULL report skips the measurement).
 * Errors: as sq_weight_quantize; SQ_ERROR_NULL_POINTER (hessian); SQ_ERROR_INVALID_ARGUMENT (damp not in
 * [0, 1e4], act_order, hessian with a negative diagonal, not symmetric to 1e-6 relative, or not positive
 * definite even at damp 1e4); SQ_ERROR_NONFINITE (NaN or inf in hessian); SQ_ERROR_INVALID_SCALE
 * (input_scales). */
typedef struct sq_gptq_report {
    double damp;
    int64_t dead_inputs;
    double relative_error_before;
    double relative_error_after;
    int64_t rows_measured;
} sq_gptq_report;

SQ_API sq_status sq_weight_quantize_gptq(const float *w, int64_t n, int64_t k, int32_t bits, int64_t block_size,
                                         int32_t symmetric, const double *hessian, int32_t act_order, double damp,
                                         const float *input_scales, uint8_t *codes, float *scales,
                                         uint8_t *zero_points, sq_gptq_report *report);

/* A linear layer y = x W^T + bias on block-quantized weights (copied and packed once at creation).
 * SQ_ACTIVATION_PER_BLOCK (ONNX Runtime MatMulNBits accuracy_level 4, llama.cpp Q4_0 x Q8_0): each row of x
 * is quantized per block of block_size along k to int8, sx = max|x| / 127,
 * qx = clamp(round_half_even(x / sx), -127, 127) (0 when sx = 0), and
 *     acc = 0;  for each block b in order:  acc = fma((float)D_b, sx[m,b] * scale[n,b], acc)
 *     D_b = sum over k in b of qx[m,k] * (code[n,k] - zero_point[n,b])   (exact in int32)
 *     y[m,n] = acc + bias[n]
 * SQ_ACTIVATION_NONE (weight-only, float activations):
 *     acc = 0;  for each block b:  t = 0;  for k in b ascending:  t = fma(x[m,k], (float)(code - zero_point), t)
 *                                  acc = fma(t, scale[n,b], acc)
 *     y[m,n] = acc + bias[n]
 * The order of operations is part of the contract: every kernel (sq_kernel_name SQ_OP_BLOCK_GEMM_*) gives
 * these bits. Errors (create): as sq_weight_dequantize, SQ_ERROR_SHAPE (n or k < 1), SQ_ERROR_INVALID_ARGUMENT
 * (activation), SQ_ERROR_NONFINITE (bias). (forward): SQ_ERROR_SHAPE (last dimension not k, y_count not
 * rows * n), SQ_ERROR_NONFINITE (NaN or inf in x). */
typedef struct sq_block_linear sq_block_linear;

SQ_API sq_status sq_block_linear_create(const uint8_t *codes, const float *scales, const uint8_t *zero_points,
                                        int64_t n, int64_t k, int32_t bits, int64_t block_size, const float *bias,
                                        int32_t activation, sq_block_linear **out);

/* The layer with per-input-channel scales s = input_scales [k] (finite, > 0; NULL: none, the layer of
 * sq_block_linear_create): y = (x / s) W^T + bias. Forward replaces x[m, k] by the float32 quotient
 * x[m, k] / s[k] before either activation mode sees it, then computes as above: the layer of an
 * sq_weight_quantize_awq weight (codes of w * s, input_scales = s), whose effective weight is deq / s.
 * Errors: as sq_block_linear_create, plus SQ_ERROR_INVALID_SCALE (an input scale NaN, inf, zero or
 * negative). Forward also fails with SQ_ERROR_NONFINITE when some x / s overflows float32. */
SQ_API sq_status sq_block_linear_create_scaled(const uint8_t *codes, const float *scales, const uint8_t *zero_points,
                                               int64_t n, int64_t k, int32_t bits, int64_t block_size,
                                               const float *bias, const float *input_scales, int32_t activation,
                                               sq_block_linear **out);

/* Frees a layer; NULL is accepted and ignored. */
SQ_API void sq_block_linear_destroy(sq_block_linear *linear);

/* y = layer(x): x has shape [..., k] (ndim >= 1); y holds y_count = rows * n floats. */
SQ_API sq_status sq_block_linear_forward(const sq_block_linear *linear, const float *x, const int64_t *shape,
                                         int32_t ndim, float *y, int64_t y_count);

/* ---------------------------------------------------------------------------------------------------- */
/* Activation-aware weights: AWQ-style quantization and SmoothQuant scales                               */
/*
 * Both take a weight w [n, k] = [out_features, in_features] and calibration activations x [rows, k] (the
 * layer's inputs, row-major, leading dimensions flattened into rows), and choose per-input-channel scales
 * s [k]: x w^T = (x / s)(w * s)^T, so s moves magnitude between activations and weight columns. Matrix
 * products are float32 in a fixed order of operations (results do not depend on the thread count or the
 * CPU); sums of squared errors are float64. Every error below is a mean squared output error over
 * (rows, n); one that is not finite (w * s, x / s or a product overflowing float32) counts as +inf, so its
 * candidate never wins.
 *
 * AWQ-style (sq_weight_quantize_awq): block weights by the RTN rule of sq_weight_quantize ("RTN" below,
 * deq = its values (code - zero_point) * scale) on w * s, with s and per-block clipping chosen on x.
 *   rows:   t = min(rows, 512): for rows > 512 the rows x[i * rows / 512] (i < 512, integer division),
 *           for both searches and the report. mean_abs[j] = mean over the t rows of |x[., j]| (float64 sum,
 *           float32 result).
 *   scales: for r = i / 20, i = 0 .. 19:
 *             s = max(float32(pow(mean_abs, r)), 1e-4);  s = s / float32(sqrt(max(s) * min(s)))   (float32)
 *             Wq = deq(RTN(w * s)) / s;  err(r) = mean of (x (Wq - w)^T)^2
 *           r* = the first r of least err (r = 0 is s = 1: plain RTN, so r* never does worse on x).
 *   clip:   on ws = w * s* and xs = x / s* (float32), for each (row, block) and i = 0 .. 9:
 *             m = max|ws[row, block]| * float32(1 - i / 20),  qw = deq(RTN(clamp(ws[row, block], -m, m)))
 *             err_i = sum over the t rows of (xs[., block] . (qw - ws[row, block]))^2
 *           i* = the first i of least err_i (i = 0 clips nothing); codes = RTN(clamp(ws, -m_i*, m_i*)).
 * Outputs: codes, scales, zero_points in sq_weight_quantize's layout (they quantize w * s: dequantizing
 * them gives deq, the effective weight is deq / s), input_scales = s* [k]. A layer from
 * sq_block_linear_create_scaled(..., input_scales, ...) divides its input by s*. The clip objective is per
 * block, so the final error is not guaranteed to be at most err(r*) (in practice it is lower).
 */
typedef struct sq_awq_report {
    double ratio;                 /* r* */
    double error_before;          /* err(0): plain RTN (s = 1, no clipping) */
    double error_after;           /* the result: mean of (x (deq / s - w)^T)^2 over the t rows */
    double relative_error_before; /* error_before / mean((x w^T)^2); 0 when the error is 0, +inf when */
    double relative_error_after;  /*   it is +inf or mean((x w^T)^2) is 0 (never NaN) */
    int64_t rows_used;            /* t */
} sq_awq_report;

/* w [n, k] (n, k >= 1), x [rows, k] (rows >= 1); codes n*k bytes, scales and zero_points n*kb, input_scales
 * k floats; report may be NULL. Time: 20 products for the scales and 10 for the clipping, each about
 * t * n * k multiply-adds.
 * Errors: as sq_weight_quantize (SQ_ERROR_NONFINITE also for NaN or inf in x), SQ_ERROR_SHAPE (n, k or rows
 * < 1; rows * k overflowing), SQ_ERROR_NULL_POINTER, SQ_ERROR_OUT_OF_RANGE (no r with a finite error). */
SQ_API sq_status sq_weight_quantize_awq(const float *w, int64_t n, int64_t k, int32_t bits, int64_t block_size,
                                        int32_t symmetric, const float *x, int64_t rows, uint8_t *codes,
                                        float *scales, uint8_t *zero_points, float *input_scales,
                                        sq_awq_report *report);

/*
 * SmoothQuant (sq_smooth_quant_scales), for int8 x int8 layers:
 *   wmax[j] = max(max over n of |w[n, j]|, 1e-5)
 *   s[j]    = max(float32(pow(act_absmax[j], alpha) / pow(wmax[j], 1 - alpha)), 1e-5)   (pow, / in float64)
 * act_absmax [k] (finite, >= 0) is max |x[., j]| of the calibration activations; NULL computes it from x.
 * The caller divides the layer's input by s (folding 1 / s into the previous operation) and multiplies the
 * weight's columns by s.
 * alpha = SQ_SMOOTH_ALPHA_AUTO searches alpha = i / 20, i = 0 .. 20, on all rows of x: for each,
 *   x' = x / s, w' = w * s (float32);
 *   x' int8 per tensor, symmetric: sx = max|x'| / 127, q = clamp(rint(x' / sx), -127, 127) (half to even);
 *   w' int8 per output row by the same rule, sw[n] = max|w'[n]| / 127;
 *   a zero or subnormal sx or sw is 1.0 (as every scale rule of the library);
 *   y = deq(x') deq(w')^T (deq = q * scale), err(alpha) = mean of (y - x w^T)^2;
 *   alpha* = the first alpha of least err.
 * Report: alpha (the one used), error = err(alpha), error_unsmoothed = err with s = 1. Both errors are
 * computed whenever x is given, for a fixed alpha too, and are NaN without x.
 */
#define SQ_SMOOTH_ALPHA_AUTO (-1.0)

typedef struct sq_smooth_report {
    double alpha;            /* the alpha of the scales (alpha* for SQ_SMOOTH_ALPHA_AUTO) */
    double error;            /* err(alpha); NaN without x */
    double error_unsmoothed; /* err with s = 1; NaN without x */
} sq_smooth_report;

/* scales [k]; report may be NULL. x: NULL with rows = 0 for none, else rows >= 1 rows. alpha in [0, 1] or
 * exactly SQ_SMOOTH_ALPHA_AUTO (which needs x).
 * Errors: SQ_ERROR_INVALID_ARGUMENT (alpha NaN or outside [0, 1] and not SQ_SMOOTH_ALPHA_AUTO),
 * SQ_ERROR_NULL_POINTER (w, scales; x with rows > 0 or for auto; act_absmax when x is NULL), SQ_ERROR_SHAPE
 * (n or k < 1, rows < 0, rows = 0 with x not NULL: empty activations, sizes overflowing),
 * SQ_ERROR_NONFINITE (NaN or inf in w or x), SQ_ERROR_OUT_OF_RANGE (an act_absmax element negative or not
 * finite; auto with no alpha of finite error). */
SQ_API sq_status sq_smooth_quant_scales(const float *act_absmax, const float *w, int64_t n, int64_t k, double alpha,
                                        const float *x, int64_t rows, float *scales, sq_smooth_report *report);

/* ---------------------------------------------------------------------------------------------------- */
/* GGUF block formats (llama.cpp)                                                                        */
/*
 * llama.cpp's Q4_0, Q4_1 and Q8_0, byte for byte as ggml-quants.c's reference quantizers
 * (quantize_row_q4_0_ref, quantize_row_q4_1_ref, quantize_row_q8_0_ref) write them and its dequantize_row_*
 * read them; gguf-py's gguf.quants computes the same (the tests compare with it). Values are cut into
 * blocks of 32 consecutive elements: a weight row of K values is K / 32 blocks (K must be a multiple of 32),
 * and a matrix is its rows one after another, which is the flat array these functions take. A block is a
 * little-endian float16 scale d (Q4_1: then a float16 minimum m), then its codes:
 *
 *   type   id  bytes  layout                                       decodes to (float32)
 *   Q4_0    2   18    d, 16 bytes: byte j = q[j] | q[j + 16] << 4   x[j] = (q[j] - 8) * d      q in 0..15
 *   Q4_1    3   20    d, m, 16 bytes as Q4_0                        x[j] = q[j] * d + m        q in 0..15
 *   Q8_0    8   34    d, 32 int8 q[j]                               x[j] = q[j] * d            q in -127..127
 *
 * Quantization of a block v[0..31], in float32 (each operation rounded, no fused multiply-add):
 *   Q4_0  max = the first v[j] of largest |v[j]| (+0 when all are zero); d = max / -8;
 *         id = d != 0 ? 1 / d : 0; q[j] = min(15, trunc(v[j] * id + 8.5))
 *   Q4_1  min, max = the block's smallest and largest value (the first such element, which only matters
 *         for the sign of a zero); d = (max - min) / 15; id = d != 0 ? 1 / d : 0;
 *         q[j] = min(15, trunc((v[j] - min) * id + 0.5)); m = min
 *   Q8_0  amax = max |v[j]|; d = amax / 127; id = d != 0 ? 1 / d : 0; q[j] = roundf(v[j] * id)
 * v * id multiplies by the float32 reciprocal (llama.cpp's rule; it can differ from v / d in the last bit).
 * d and m are rounded to float16 (nearest even) only when stored: id comes from the float32 d.
 * Ties, with s = v * id (Q4_1: (v - min) * id, never negative):
 *   s           -2.5  -1.5  -0.5   0.5   1.5   2.5
 *   Q4_0 q - 8   -2    -1     0     1     2     3     (trunc(s + 8.5) - 8: half up)
 *   Q4_1 q                          1     2     3     (trunc(s + 0.5): half up)
 *   Q8_0 q       -3    -2    -1     1     2     3     (roundf: half away from zero)
 * Two cases llama.cpp leaves undefined, fixed here as x86 computes them:
 *   - 0 < |d| < 2^-128 (a block's largest magnitude, Q4_1: its range, below about 2^-125): 1 / d overflows
 *     to inf and C's float-to-int conversion of inf or NaN is undefined; x86 (and NumPy) give 0, so every
 *     code is 0. d is then 0 in float16, so the block decodes to zeros (Q4_1: to m) either way.
 *   - Signed zeros follow the C scans: an all-zero Q4_0 block has d = +0 / -8 = -0 (bits 0x8000). gguf-py
 *     takes max = v[0] there, so a block starting with -0.0 gets d = +0 (0x0000) in gguf-py; Q4_1 m of a
 *     zero minimum can differ from gguf-py's in the same way (its min/max may pick either zero).
 * Results do not depend on the thread count.
 */
typedef enum sq_gguf_type {
    SQ_GGUF_Q4_0 = 2,  /* ggml's type ids (GGMLQuantizationType) */
    SQ_GGUF_Q4_1 = 3,
    SQ_GGUF_Q8_0 = 8
} sq_gguf_type;

/* Values per block (32) and bytes per block (18, 20, 34) of a GGUF type; either output may be NULL.
 * Errors: SQ_ERROR_INVALID_ARGUMENT (type not an sq_gguf_type). */
SQ_API sq_status sq_gguf_block_info(int32_t type, int64_t *block_elements, int64_t *block_bytes);

/* Quantizes count floats (count / 32 blocks) into out_bytes = count / 32 * block_bytes bytes.
 * Errors: SQ_ERROR_INVALID_ARGUMENT (type), SQ_ERROR_SHAPE (count negative or not a multiple of 32;
 * out_bytes not exactly count / 32 * block_bytes), SQ_ERROR_NULL_POINTER (x or out NULL while count > 0),
 * SQ_ERROR_NONFINITE (NaN or +-inf in x, where llama.cpp writes a meaningless block: the message names
 * the first flat index), SQ_ERROR_OUT_OF_RANGE (a block whose d or m rounds to inf in float16, i.e.
 * |d| or |m| >= 65520: Q4_0 |max| >= about 524160, Q8_0 amax >= about 8.32e6, Q4_1 max - min >= about
 * 982800 or |min| >= 65520; llama.cpp stores inf there; the message names the block). A NaN anywhere is
 * reported before any overflowing block. */
SQ_API sq_status sq_gguf_quantize(int32_t type, const float *x, int64_t count, uint8_t *out, int64_t out_bytes);

/* Dequantizes data_bytes = count / 32 * block_bytes bytes into count floats, with d and m converted exactly
 * from float16 and the formulas of the table above (Q4_1: a multiply, then an add). Every code value is
 * valid; a block whose stored d (or Q4_1 m) is inf or NaN (float16 exponent bits all ones) would decode to
 * non-finite values and is refused.
 * Errors: SQ_ERROR_INVALID_ARGUMENT (type), SQ_ERROR_SHAPE (count negative or not a multiple of 32;
 * data_bytes not exactly count / 32 * block_bytes), SQ_ERROR_NULL_POINTER (data or out NULL while
 * count > 0), SQ_ERROR_NONFINITE (an inf or NaN d or m: the message names the first such block). */
SQ_API sq_status sq_gguf_dequantize(int32_t type, const uint8_t *data, int64_t data_bytes, float *out,
                                    int64_t count);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTQUANT_H */

/*
 * fuzz_hessian - libFuzzer harness for Hessian observers, centred on untrusted serialized bytes.
 * Two ways to get an observer, chosen by the first byte:
 *   raw     (byte & 3 == 0): sq_hessian_deserialize of the remaining input bytes (bit 2 set: with the
 *           FNV-1a checksum recomputed, so mutations of the payload get past it);
 *   crafted : sq_hessian_create with a decoded K (small, or hostile: 0, negative, 65537, INT64_MAX, ...), one
 *             or two batches, sq_hessian_serialize, then mutations field by field (version, K, count, one
 *             sum) or byte by byte, truncation or 8 inserted / removed bytes, the checksum recomputed
 *             (FNV-1a 64 over all bytes but the last 8, little-endian in the last 8; see
 *             Sources/SwiftQuant/Calibrate/Hessian.swift), and sq_hessian_deserialize.
 * A deserialized observer then goes through decoded actions: sq_hessian_update (last dimension K or not,
 * NaN / inf, zero rows, hostile shapes), sq_hessian_merge (with its copy, a fresh observer, itself, an
 * observer of another K), sq_hessian_get / sq_hessian_sum, sq_hessian_count / sq_hessian_k and
 * sq_hessian_serialize. Checks: statuses the header predicts; a failed update or merge leaves the bytes
 * unchanged; sums stay finite and symmetric with a non-negative diagonal; H = S / count bit for bit; a merge
 * with its own copy doubles every sum exactly; serialized bytes deserialize and re-serialize identically.
 */
#include "fuzz_common.h"


/* Largest K whose K x K matrices the harness reads back (raw inputs could claim more with enough bytes). */
#define FZ_MAX_K 256

static int64_t k_of(const sq_hessian *h)
{
    int64_t k = -1;
    if (sq_hessian_k(h, &k) != SQ_OK || k < 1 || k > 65536) fz_fail("sq_hessian_k: %lld", (long long)k);
    return k;
}
static int64_t count_of(const sq_hessian *h)
{
    int64_t c = -1;
    if (sq_hessian_count(h, &c) != SQ_OK || c < 0) fz_fail("sq_hessian_count: %lld", (long long)c);
    return c;
}

/* Serialized bytes of h (malloc'ed, *n bytes). Checks the size query and a too-small capacity. */
static uint8_t *serialize(const sq_hessian *h, size_t *n)
{
    int64_t size = -1, k = k_of(h);
    if (sq_hessian_serialize(h, NULL, 0, &size) != SQ_OK) fz_fail("sq_hessian_serialize(size) failed");
    if (size != 32 + 4 * k * (k + 1)) fz_fail("sq_hessian_serialize: size %lld for K %lld", (long long)size, (long long)k);
    uint8_t *buf = (uint8_t *)malloc((size_t)size);
    if (buf == NULL) abort();
    int64_t size2 = -1;
    if (sq_hessian_serialize(h, buf, size - 1, &size2) != SQ_ERROR_SHAPE || size2 != size)
        fz_fail("sq_hessian_serialize with capacity size - 1 did not fail with SQ_ERROR_SHAPE and the size");
    if (sq_hessian_serialize(h, buf, size, &size2) != SQ_OK || size2 != size) fz_fail("sq_hessian_serialize failed");
    *n = (size_t)size;
    return buf;
}

/* Whether h serializes to exactly these bytes. */
static int same_bytes(const sq_hessian *h, const uint8_t *b, size_t n)
{
    size_t m = 0;
    uint8_t *c = serialize(h, &m);
    int same = m == n && memcmp(b, c, n) == 0;
    free(c);
    return same;
}

static void check_roundtrip(const sq_hessian *h)
{
    size_t n = 0;
    uint8_t *buf = serialize(h, &n);
    sq_hessian *back = NULL;
    sq_status st = sq_hessian_deserialize(buf, (int64_t)n, &back);
    if (st != SQ_OK) fz_fail("sq_hessian_deserialize of sq_hessian_serialize's bytes failed: %d", (int)st);
    if (!same_bytes(back, buf, n)) fz_fail("serialize(deserialize(bytes)) != bytes");
    sq_hessian_destroy(back);
    free(buf);
}

/* S (and H when count > 0): finite, symmetric, diagonal >= 0, H = S / count exactly. */
static void check_matrices(const sq_hessian *h)
{
    int64_t k = k_of(h), c = count_of(h);
    if (k > FZ_MAX_K) return;
    double *s = (double *)malloc(sizeof(double) * (size_t)(k * k)), *m = (double *)malloc(sizeof(double) * (size_t)(k * k));
    if (s == NULL || m == NULL) abort();
    if (sq_hessian_sum(h, s) != SQ_OK) fz_fail("sq_hessian_sum failed");
    for (int64_t i = 0; i < k; i++) {
        if (!(s[i * k + i] >= 0)) fz_fail("S[%lld][%lld] = %g", (long long)i, (long long)i, s[i * k + i]);
        for (int64_t j = 0; j < k; j++) {
            double v = s[i * k + j];
            if (!isfinite(v)) fz_fail("S[%lld][%lld] = %g is not finite", (long long)i, (long long)j, v);
            if (memcmp(&v, &s[j * k + i], 8) != 0) fz_fail("S is not symmetric at [%lld][%lld]", (long long)i, (long long)j);
            if (c == 0 && v != 0) fz_fail("S[%lld][%lld] = %g with count 0", (long long)i, (long long)j, v);
        }
    }
    sq_status st = sq_hessian_get(h, m);
    fz_check_message(st, "sq_hessian_get");
    if ((st == SQ_OK) != (c > 0)) fz_fail("sq_hessian_get: status %d with count %lld", (int)st, (long long)c);
    for (int64_t i = 0; st == SQ_OK && i < k * k; i++) {
        double want = s[i] / (double)c;
        if (memcmp(&want, &m[i], 8) != 0) fz_fail("H[%lld] = %g, S / count = %g", (long long)i, m[i], want);
    }
    free(s);
    free(m);
}

/* An update with a decoded batch; checks the status and that a failed update changes nothing. */
static void do_update(FuzzIn *f, sq_hessian *h)
{
    int64_t k = k_of(h), c0 = count_of(h);
    int64_t *shape = NULL;
    int32_t ndim;
    int null_shape = 0;
    uint8_t m = fz_u8(f);
    if (m < 200) {
        ndim = 1 + m % 3;
        shape = (int64_t *)malloc(sizeof(int64_t) * 3);
        if (shape == NULL) abort();
        for (int32_t i = 0; i < ndim - 1; i++) shape[i] = fz_pick_dim(f);
        shape[ndim - 1] = fz_u8(f) < 220 ? k : fz_pick_dim(f);
    } else {
        ndim = fz_pick_ndim(f);
        shape = fz_pick_shape(f, ndim, &null_shape);
    }
    int64_t n = 0, extent = 1;
    int cls = fz_numel(shape, ndim, &n, NULL);
    int mf = cls != FZ_SHAPE_OK || null_shape || ndim == 0 || (ndim > 0 && shape != NULL && shape[ndim - 1] != k);
    /* An empty batch whose other dimensions multiply past SQ_MAX_EXTENT may be refused (convention 6). */
    int may_fail = 0;
    for (int32_t i = 0; cls == FZ_SHAPE_OK && i < ndim; i++)
        if (shape[i] > 0 && (!fz_mul(extent, shape[i], &extent) || extent > SQ_MAX_EXTENT)) may_fail = 1;
    float *x = (float *)fz_buffer(cls == FZ_SHAPE_OK ? n : -1, sizeof(float), &mf, fz_u8(f));
    int64_t nv = (x && cls == FZ_SHAPE_OK && n <= FZ_MAX_ELEMS) ? n : 0;
    fz_fill_floats(f, x, nv);
    if (fz_has_nonfinite(x, nv)) mf = 1;
    size_t before_n = 0;
    uint8_t *before = serialize(h, &before_n);
    fz_log("  sq_hessian_update: K %lld, ", (long long)k);
    fz_log_shape("shape", shape, ndim);
    fz_log(", x %s, must fail %d\n", x ? "buffer" : "NULL", mf);
    sq_status st = sq_hessian_update(h, x, shape, ndim);
    fz_check_message(st, "sq_hessian_update");
    fz_expect_fail(st, mf, "sq_hessian_update");
    /* Sums near the float64 maximum (crafted bytes) or a count near INT64_MAX may refuse an update. */
    if (!mf && st != SQ_OK && st != SQ_ERROR_OVERFLOW && !(may_fail && st == SQ_ERROR_SHAPE))
        fz_fail("sq_hessian_update of a valid batch failed: %d", (int)st);
    if (st != SQ_OK && !same_bytes(h, before, before_n)) fz_fail("a failed sq_hessian_update changed the observer");
    if (st == SQ_OK && count_of(h) != c0 + (k > 0 ? n / k : 0)) fz_fail("sq_hessian_update: count %lld -> %lld", (long long)c0, (long long)count_of(h));
    free(before);
    free(shape);
    free(x);
}

static void do_merge(FuzzIn *f, sq_hessian *h)
{
    int64_t k = k_of(h);
    uint8_t w = fz_u8(f) % 5;
    sq_hessian *other = NULL;
    size_t n = 0;
    uint8_t *before = serialize(h, &n);
    if (w == 0) {
        if (sq_hessian_deserialize(before, (int64_t)n, &other) != SQ_OK) fz_fail("copy failed");
    } else if (w == 1 || w == 2) {
        if (sq_hessian_create(k, &other) != SQ_OK) fz_fail("sq_hessian_create of the observer's K failed");
        if (w == 2) do_update(f, other);
    } else if (w == 4) {
        if (sq_hessian_create(k < 200 ? k + 1 : k - 1, &other) != SQ_OK) fz_fail("sq_hessian_create of K +- 1 failed");
    }
    sq_hessian *from = w == 3 ? h : other;
    fz_log("  sq_hessian_merge (%s)\n", (const char *[]){"copy", "fresh", "fresh + update", "itself", "other K"}[w]);
    int64_t c0 = count_of(h), c1 = count_of(from);
    sq_status st = sq_hessian_merge(h, from);
    fz_check_message(st, "sq_hessian_merge");
    if (w == 4 && st != SQ_ERROR_SHAPE) fz_fail("sq_hessian_merge of different K: %d", (int)st);
    if (w != 4 && st != SQ_OK && st != SQ_ERROR_OVERFLOW) fz_fail("sq_hessian_merge failed: %d", (int)st);
    if (st != SQ_OK && !same_bytes(h, before, n)) fz_fail("a failed sq_hessian_merge changed the observer");
    if (st == SQ_OK && count_of(h) != c0 + c1) fz_fail("sq_hessian_merge: count %lld + %lld -> %lld", (long long)c0, (long long)c1, (long long)count_of(h));
    if (st == SQ_OK && (w == 0 || w == 3) && k <= FZ_MAX_K) {
        /* S + S = 2S exactly (no rounding below overflow, which the merge refuses). */
        sq_hessian *copy = NULL;
        if (sq_hessian_deserialize(before, (int64_t)n, &copy) != SQ_OK) fz_fail("copy failed");
        double *a = (double *)malloc(sizeof(double) * (size_t)(k * k)), *b = (double *)malloc(sizeof(double) * (size_t)(k * k));
        if (a == NULL || b == NULL) abort();
        sq_hessian_sum(h, a);
        sq_hessian_sum(copy, b);
        for (int64_t i = 0; i < k * k; i++)
            if (a[i] != 2 * b[i]) fz_fail("merge with a copy: S[%lld] = %g, not 2 x %g", (long long)i, a[i], b[i]);
        free(a);
        free(b);
        sq_hessian_destroy(copy);
    }
    if (st == SQ_OK) check_roundtrip(h);
    free(before);
    sq_hessian_destroy(other);
}

static void exercise(FuzzIn *f, sq_hessian *h)
{
    int actions = 1 + fz_u8(f) % 5;
    for (int i = 0; i < actions; i++) {
        switch (fz_u8(f) % 5) {
        case 0:
        case 1: do_update(f, h); break;
        case 2: do_merge(f, h); break;
        case 3: check_matrices(h); break;
        default: check_roundtrip(h); break;
        }
    }
    check_matrices(h);
    check_roundtrip(h);
}

/* K for sq_hessian_create: small mostly, else hostile (never a valid K whose matrix is large). */
static int64_t pick_k(FuzzIn *f)
{
    static const int64_t t[] = {0, -1, 65537, INT64_MAX, INT64_MIN, INT64_C(1) << 40, INT64_C(1) << 32, 64, 100, 200,
                                -65536, (INT64_C(1) << 32) + 5};
    uint8_t b = fz_u8(f);
    return b < 240 ? 1 + b % 24 : t[b % (sizeof t / sizeof t[0])];
}

static uint64_t hostile64(FuzzIn *f)
{
    static const uint64_t t[] = {0, 1, 2, 3, 65536, 65537, UINT64_C(1) << 20, (UINT64_C(1) << 20) + 1, INT64_MAX,
                                 (uint64_t)INT64_MIN, UINT64_MAX, UINT64_C(0x7FF0000000000000) /* +inf */,
                                 UINT64_C(0xFFF0000000000000) /* -inf */, UINT64_C(0x7FF8000000000000) /* NaN */,
                                 UINT64_C(0x8000000000000000) /* -0.0 */, UINT64_C(0xBFF0000000000000) /* -1.0 */,
                                 UINT64_C(0x7FEFFFFFFFFFFFFF) /* DBL_MAX */, UINT64_C(0x0000000000000001) /* subnormal */};
    uint8_t b = fz_u8(f);
    return b < 240 ? t[b % 18] : fz_u64(f);
}

static void mutate(FuzzIn *f, uint8_t **bufp, size_t *np)
{
    uint8_t *buf = *bufp;
    size_t n = *np;
    uint8_t kind = fz_u8(f) % 6;
    if (kind <= 2 && n >= 40) {
        /* A field: version (4 bytes at 4), K (8 at 8), count (8 at 16), or one sum (8 at 24 + 8i). */
        uint8_t which = fz_u8(f) % 4;
        size_t at = which == 0 ? 4 : which == 1 ? 8 : which == 2 ? 16 : 24 + 8 * (fz_u16(f) % ((n - 32) / 8));
        int width = which == 0 ? 4 : 8;
        uint64_t v = which == 0 ? (uint64_t)(fz_u8(f) % 4) : hostile64(f);
        fz_log("  mutate: field %d at byte %zu = %llu\n", which, at, (unsigned long long)v);
        put_le(buf + at, v, width);
    } else if (kind == 3 && n > 0) {
        size_t at = fz_u16(f) % n;
        buf[at] = fz_u8(f);
        fz_log("  mutate: byte %zu = %u\n", at, buf[at]);
    } else if (kind == 4 && n > 0) {
        *np = fz_u16(f) % n;
        fz_log("  mutate: truncated to %zu bytes\n", *np);
    } else {
        /* Insert or remove 8 bytes (one more or one less sum) after the header. */
        uint8_t *nb = (uint8_t *)malloc(n + 8);
        if (nb == NULL) abort();
        size_t cut = n < 24 ? n : 24;
        if (fz_u8(f) & 1) {
            memcpy(nb, buf, cut);
            put_le(nb + cut, hostile64(f), 8);
            memcpy(nb + cut + 8, buf + cut, n - cut);
            *np = n + 8;
        } else if (n >= cut + 8) {
            memcpy(nb, buf, cut);
            memcpy(nb + cut, buf + cut + 8, n - cut - 8);
            *np = n - 8;
        } else {
            memcpy(nb, buf, n);
        }
        free(buf);
        *bufp = nb;
    }
}

static sq_hessian *load(const uint8_t *bytes, size_t n)
{
    uint8_t *exact = (uint8_t *)malloc(n ? n : 1); /* exactly sized for ASan */
    if (exact == NULL) abort();
    memcpy(exact, bytes, n);
    sq_hessian *h = (sq_hessian *)&h; /* must be reset to NULL on failure */
    sq_status st = sq_hessian_deserialize(n ? exact : NULL, (int64_t)n, &h);
    fz_check_message(st, "sq_hessian_deserialize");
    if ((st == SQ_OK) != (h != NULL)) fz_fail("sq_hessian_deserialize: status %d with handle %p", (int)st, (void *)h);
    if (st == SQ_OK && !same_bytes(h, exact, n)) fz_fail("accepted bytes re-serialize differently");
    free(exact);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if ((data[0] & 3) == 0) {
        size_t n = size - 1;
        uint8_t *buf = (uint8_t *)malloc(n ? n : 1);
        if (buf == NULL) abort();
        memcpy(buf, data + 1, n);
        if (data[0] & 4) fix_checksum(buf, n);
        sq_hessian *h = load(buf, n);
        free(buf);
        if (h != NULL) {
            /* The input is consumed: actions decode from the data again (bytes past its end read as 0). */
            FuzzIn f2 = {data, size};
            fz_u8(&f2);
            exercise(&f2, h);
            sq_hessian_destroy(h);
        }
        return 0;
    }

    FuzzIn in = {data + 1, size - 1};
    FuzzIn *f = &in;
    int64_t k = pick_k(f);
    sq_hessian *h = (sq_hessian *)&h;
    fz_log("sq_hessian_create: K %lld\n", (long long)k);
    sq_status st = sq_hessian_create(k, &h);
    fz_check_message(st, "sq_hessian_create");
    if ((k >= 1 && k <= 65536) != (st == SQ_OK)) fz_fail("sq_hessian_create(%lld): status %d", (long long)k, (int)st);
    if (st != SQ_OK) {
        if (h != NULL) fz_fail("sq_hessian_create failed but set a handle");
        if (st != SQ_ERROR_SHAPE) fz_fail("sq_hessian_create(%lld): status %d, not SQ_ERROR_SHAPE", (long long)k, (int)st);
        return 0;
    }
    do_update(f, h);
    if (fz_u8(f) & 1) do_update(f, h);

    size_t n = 0;
    uint8_t *buf = serialize(h, &n);
    int muts = fz_u8(f) % 4;
    for (int i = 0; i < muts; i++) mutate(f, &buf, &n);
    if ((fz_u8(f) & 15) != 0) fix_checksum(buf, n);
    sq_hessian *d = load(buf, n);
    if (muts == 0 && d == NULL) fz_fail("sq_hessian_deserialize of unmutated bytes failed");
    free(buf);
    if (d != NULL) {
        exercise(f, d);
        sq_hessian_destroy(d);
    }
    exercise(f, h);
    sq_hessian_destroy(h);
    return 0;
}

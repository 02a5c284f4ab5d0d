/*
 * fuzz_observer - libFuzzer harness for calibration observers, centred on untrusted serialized bytes.
 * Two ways to get an observer, chosen by the first byte:
 *   raw     : sq_observer_deserialize of the remaining input bytes as they are;
 *   crafted : an observer made with sq_observer_create from a decoded configuration, fed one or two
 *             batches, serialized with sq_observer_serialize, then mutated field by field (ndim, dimensions,
 *             counters, min/max, histogram exponents, block counts, block words and counts, configuration)
 *             or byte by byte, with the
 *             checksum recomputed (FNV-1a 64 over all bytes but the last 8, stored little-endian in the last
 *             8; see Sources/SwiftQuant/Calibrate/ObserverSerialization.swift for the format), and
 *             deserialized.
 * A deserialized observer then goes through decoded actions: sq_observer_update (shapes matching or not,
 * NaN / inf data, huge dimensions), sq_observer_merge (with a copy, with a fresh observer of the same
 * configuration, with itself), sq_observer_groups, sq_observer_range and sq_observer_qparams (right and
 * wrong counts), sq_observer_stats, sq_observer_config_get and sq_observer_serialize (a serialized observer
 * must deserialize again and re-serialize to the same bytes). Handles are always destroyed.
 */
#include "fuzz_common.h"


/* Serialized bytes of o (malloc'ed, *n bytes), or NULL. Checks the size query and a too-small capacity. */
static uint8_t *serialize(const sq_observer *o, size_t *n)
{
    int64_t size = -1;
    sq_status st = sq_observer_serialize(o, NULL, 0, &size);
    fz_check_message(st, "sq_observer_serialize(size)");
    if (st != SQ_OK) return NULL;
    if (size < 12 || size > (INT64_C(1) << 30)) fz_fail("sq_observer_serialize: size %lld", (long long)size);
    uint8_t *buf = (uint8_t *)malloc((size_t)size);
    if (buf == NULL) abort();
    int64_t size2 = -1;
    if (sq_observer_serialize(o, buf, size - 1, &size2) != SQ_ERROR_SHAPE || size2 != size)
        fz_fail("sq_observer_serialize with capacity size - 1 did not fail with SQ_ERROR_SHAPE and the size");
    st = sq_observer_serialize(o, buf, size, &size2);
    if (st != SQ_OK || size2 != size) fz_fail("sq_observer_serialize failed after the size query: %d", (int)st);
    *n = (size_t)size;
    return buf;
}

/* Deserializes bytes the library wrote: must succeed and re-serialize to the same bytes. */
static void check_roundtrip(const sq_observer *o)
{
    size_t n = 0;
    uint8_t *buf = serialize(o, &n);
    if (buf == NULL) return;
    sq_observer *back = NULL;
    sq_status st = sq_observer_deserialize(buf, (int64_t)n, &back);
    if (st != SQ_OK) fz_fail("sq_observer_deserialize of sq_observer_serialize's bytes failed: %d", (int)st);
    size_t n2 = 0;
    uint8_t *buf2 = serialize(back, &n2);
    if (buf2 == NULL || n2 != n || memcmp(buf, buf2, n) != 0) fz_fail("serialize(deserialize(bytes)) != bytes");
    free(buf2);
    sq_observer_destroy(back);
    free(buf);
}

static sq_observer_config pick_config(FuzzIn *f)
{
    sq_observer_config c;
    memset(&c, 0, sizeof c);
    c.method = fz_pick_enum(f, 5);
    c.dtype = fz_pick_int_dtype(f);
    c.symmetric = fz_pick_enum(f, 2);
    uint8_t a = fz_u8(f);
    c.axis = a < 120 ? SQ_PER_TENSOR : (a < 240 ? (int32_t)(a % 3) : fz_pick_axis(f, 2));
    c.block_size = (c.method == SQ_METHOD_MINMAX && c.axis >= 0 && (fz_u8(f) & 1)) ? fz_pick_block(f) : 0;
    uint8_t nb = fz_u8(f);
    static const int32_t bins[] = {16, 17, 32, 64, 128, 2048, 15, 0, 65537, -1, 65536, INT32_MAX};
    c.num_bins = nb < 200 ? 16 : bins[nb % 12];
    c.ignore_nonfinite = fz_pick_enum(f, 2);
    static const double pct[] = {99.99, 50.0, 100.0, 0.0, -1.0, 100.5, NAN, 1e-300};
    c.percentile = pct[fz_u8(f) % 8 < 5 ? (fz_u8(f) % 8 < 3 ? 0 : 1) : fz_u8(f) % 8];
    static const double avg[] = {0.01, 0.5, 1.0, 0.0, -0.1, 1.5, NAN, INFINITY};
    c.averaging_constant = avg[fz_u8(f) % 8];
    return c;
}

/* A batch for update: shape (heap), data (heap, or NULL when it must fail), *must_fail. */
typedef struct Batch {
    int64_t *shape;
    int32_t ndim;
    float *x;
    int64_t n;
    int mf;
    int nonfinite;
} Batch;

static Batch pick_batch(FuzzIn *f, const int64_t *like, int32_t like_ndim)
{
    Batch b;
    memset(&b, 0, sizeof b);
    uint8_t m = fz_u8(f);
    int null_shape = 0;
    if (like != NULL && like_ndim >= 0 && like_ndim <= SQ_MAX_NDIM && m < 160) {
        b.ndim = like_ndim;
        b.shape = (int64_t *)malloc(sizeof(int64_t) * (size_t)(like_ndim > 0 ? like_ndim : 1));
        if (b.shape == NULL) abort();
        memcpy(b.shape, like, sizeof(int64_t) * (size_t)like_ndim);
        /* Sometimes change one dimension (batches may differ outside the axis, per axis). */
        if (like_ndim > 0 && (m & 1)) b.shape[fz_u8(f) % like_ndim] = fz_pick_dim(f);
    } else {
        b.ndim = fz_pick_ndim(f);
        b.shape = fz_pick_shape(f, b.ndim, &null_shape);
    }
    int cls = fz_numel(b.shape, b.ndim, &b.n, NULL);
    if (cls != FZ_SHAPE_OK || null_shape) b.mf = 1;
    b.x = (float *)fz_buffer(cls == FZ_SHAPE_OK ? b.n : -1, sizeof(float), &b.mf, fz_u8(f));
    int64_t nv = (b.x && cls == FZ_SHAPE_OK && b.n <= FZ_MAX_ELEMS) ? b.n : 0;
    fz_fill_floats(f, b.x, nv);
    b.nonfinite = fz_has_nonfinite(b.x, nv);
    if (cls != FZ_SHAPE_OK) b.n = 0;
    return b;
}
static void free_batch(Batch *b) { free(b->shape); free(b->x); }

static void do_update(FuzzIn *f, sq_observer *o, const int64_t *like, int32_t like_ndim)
{
    sq_observer_config c;
    if (sq_observer_config_get(o, &c) != SQ_OK) fz_fail("sq_observer_config_get failed");
    int64_t b0 = -1, v0 = -1, nf0 = -1, sb0 = -1;
    sq_observer_stats(o, &b0, &v0, &nf0, &sb0);
    Batch b = pick_batch(f, like, like_ndim);
    fz_log("  sq_observer_update: ");
    fz_log_shape("shape", b.shape, b.ndim);
    fz_log(", x %s, nonfinite %d\n", b.x ? "buffer" : "NULL", b.nonfinite);
    sq_status st = sq_observer_update(o, b.x, b.shape, b.ndim);
    fz_check_message(st, "sq_observer_update");
    fz_expect_fail(st, b.mf || (b.nonfinite && c.ignore_nonfinite == 0), "sq_observer_update");
    int64_t b1 = -1, v1 = -1, nf1 = -1, sb1 = -1;
    if (sq_observer_stats(o, &b1, &v1, &nf1, &sb1) != SQ_OK) fz_fail("sq_observer_stats failed");
    if (st != SQ_OK && (b1 != b0 || v1 != v0 || nf1 != nf0))
        fz_fail("a failed sq_observer_update changed the observer's counters");
    if (st == SQ_OK && b1 != b0 + 1) fz_fail("sq_observer_update: batches %lld -> %lld", (long long)b0, (long long)b1);
    free_batch(&b);
}

static void do_outputs(FuzzIn *f, sq_observer *o)
{
    int64_t groups = -1, pshape[SQ_MAX_NDIM];
    int32_t pndim = -1;
    if (sq_observer_groups(o, &groups, pshape, &pndim) != SQ_OK) fz_fail("sq_observer_groups failed");
    if (groups < 0 || pndim < 0 || pndim > SQ_MAX_NDIM) fz_fail("sq_observer_groups: %lld groups, ndim %d", (long long)groups, pndim);
    int64_t batches = -1;
    sq_observer_stats(o, &batches, NULL, NULL, NULL);
    int64_t count = fz_pick_count(f, groups);
    int mf = count != groups || (batches == 0 && groups == 0); /* no batch observed yet */
    float *a = (float *)fz_buffer(count >= 0 ? count : -1, sizeof(float), &mf, fz_u8(f));
    float *b = (float *)fz_buffer(count >= 0 ? count : -1, sizeof(float), &mf, fz_u8(f));
    int32_t *z = (int32_t *)fz_buffer(count >= 0 ? count : -1, sizeof(int32_t), &mf, fz_u8(f));
    fz_log("  sq_observer_range / qparams: groups %lld, count %lld\n", (long long)groups, (long long)count);
    sq_status st = sq_observer_range(o, a, b, count);
    fz_check_message(st, "sq_observer_range");
    fz_expect_fail(st, mf, "sq_observer_range");
    st = sq_observer_qparams(o, a, z, count);
    fz_check_message(st, "sq_observer_qparams");
    fz_expect_fail(st, mf, "sq_observer_qparams");
    if (st == SQ_OK) {
        sq_observer_config c;
        sq_observer_config_get(o, &c);
        int32_t lo, hi;
        fz_dtype_range(c.dtype, &lo, &hi);
        for (int64_t i = 0; i < count; i++) {
            if (!fz_scale_valid(a[i])) fz_fail("sq_observer_qparams: scale[%lld] = %g", (long long)i, (double)a[i]);
            if (z[i] < lo || z[i] > hi) fz_fail("sq_observer_qparams: zero_point[%lld] = %d", (long long)i, z[i]);
        }
    }
    free(a);
    free(b);
    free(z);
}

static void exercise(FuzzIn *f, sq_observer *o, const int64_t *like, int32_t like_ndim)
{
    int actions = 1 + fz_u8(f) % 5;
    /* Copies and merges cost time proportional to the state (up to 1 GiB, as the caller asked): one action
     * on a large state keeps an input within the fuzzer's time budget. */
    int64_t sb = 0;
    if (sq_observer_stats(o, NULL, NULL, NULL, &sb) == SQ_OK && sb > (1 << 22)) actions = 1;
    for (int i = 0; i < actions; i++) {
        switch (fz_u8(f) % 6) {
        case 0:
        case 1: do_update(f, o, like, like_ndim); break;
        case 2: {
            /* Merge with a copy (serialize / deserialize), a fresh observer of the same config, or itself. */
            uint8_t w = fz_u8(f) % 4;
            sq_observer *other = NULL;
            if (w == 0) {
                size_t n = 0;
                uint8_t *buf = serialize(o, &n);
                if (buf && sq_observer_deserialize(buf, (int64_t)n, &other) != SQ_OK) fz_fail("copy failed");
                free(buf);
            } else if (w == 1 || w == 2) {
                sq_observer_config c;
                sq_observer_config_get(o, &c);
                if (sq_observer_create(&c, &other) != SQ_OK) fz_fail("sq_observer_create of a config_get config failed");
                if (w == 2) do_update(f, other, like, like_ndim);
            }
            int from_first = fz_u8(f) & 1;
            fz_log("  sq_observer_merge (%s, %s)\n", w == 0 ? "copy" : (w == 3 ? "itself" : "fresh"), from_first ? "into other" : "into o");
            sq_status st;
            if (w == 3) st = sq_observer_merge(o, o);
            else st = from_first ? sq_observer_merge(other, o) : sq_observer_merge(o, other);
            fz_check_message(st, "sq_observer_merge");
            /* A copy always merges, unless its counters would overflow int64 when doubled (SQ_ERROR_OVERFLOW). */
            if (w == 0 && st != SQ_OK && st != SQ_ERROR_OVERFLOW) fz_fail("sq_observer_merge with its own copy failed: %d", (int)st);
            if (w == 0 && st == SQ_ERROR_OVERFLOW) {
                int64_t b, v, nf, sb;
                sq_observer_stats(o, &b, &v, &nf, &sb);
                if (b <= INT64_MAX / 2 && v <= INT64_MAX / 2 && nf <= INT64_MAX / 2)
                    fz_fail("sq_observer_merge with its own copy reported overflow for counters %lld, %lld, %lld",
                            (long long)b, (long long)v, (long long)nf);
            }
            if (st == SQ_OK && other != NULL) check_roundtrip(from_first ? other : o);
            sq_observer_destroy(other);
            break;
        }
        case 3: do_outputs(f, o); break;
        case 4: check_roundtrip(o); break;
        default: {
            int64_t b, v, nf, sb;
            if (sq_observer_stats(o, &b, &v, &nf, &sb) != SQ_OK) fz_fail("sq_observer_stats failed");
            if (b < 0 || v < 0 || nf < 0 || sb < 0) fz_fail("sq_observer_stats: negative counter");
            sq_observer_config c;
            if (sq_observer_config_get(o, &c) != SQ_OK) fz_fail("sq_observer_config_get failed");
            break;
        }
        }
    }
}

/* Hostile values for 8- and 4-byte fields. */
static uint64_t hostile64(FuzzIn *f)
{
    static const uint64_t t[] = {0, 1, 2, 16, UINT64_C(1) << 31, UINT64_C(1) << 40, UINT64_C(1) << 59, UINT64_C(1) << 62,
                                 INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX, (uint64_t)INT64_MAX - 1, 3, 4096, 65536};
    uint8_t b = fz_u8(f);
    return b < 240 ? t[b % 15] : fz_u64(f);
}
static uint32_t hostile32(FuzzIn *f)
{
    static const uint32_t t[] = {0, 1, 2, 3, 4, 5, 16, 32, 33, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 200, 201, 0xFFFFFF38, 65536,
                                 0x7F800000 /* +inf */, 0xFF800000 /* -inf */, 0x7FC00000 /* NaN */, 0x00000001 /* subnormal */};
    uint8_t b = fz_u8(f);
    return b < 240 ? t[b % 20] : fz_u32(f);
}

/* Byte offsets of the serialized fields (format version 2: after the exponents, each group's histogram is
 * a uint32 block count n, n uint32 words (block index << 4 | count width), then 64 counts per block at
 * the block's width). */
typedef struct Layout {
    int valid, hist;
    size_t ndim_at, dims_at, counters_at, mins_at, maxs_at, exps_at, blocks_at, end;
    int64_t groups;
    int32_t ndim;
} Layout;

static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Walks group sections from `at`: the offset after `groups` of them, or 0 when they do not fit in n bytes.
 * *count / *data receive the last group's block count offset and its counts' offset and length. */
static size_t walk_groups(const uint8_t *buf, size_t n, size_t at, int64_t groups, size_t *count, size_t *data, size_t *len)
{
    for (int64_t g = 0; g < groups; g++) {
        if (at + 4 > n) return 0;
        uint32_t blocks = get_u32(buf + at);
        if (blocks > (n - at - 4) / 4) return 0; /* its words must fit */
        size_t units = 0;
        for (uint32_t b = 0; b < blocks; b++) units += get_u32(buf + at + 4 + 4 * (size_t)b) & 15;
        if (count) *count = at;
        if (data) *data = at + 4 + 4 * (size_t)blocks;
        if (len) *len = 64 * units;
        at += 4 + 4 * (size_t)blocks + 64 * units;
        if (at > n) return 0;
    }
    return at;
}

static Layout layout_of(const sq_observer_config *c, int32_t ndim, int64_t groups, const uint8_t *buf, size_t size)
{
    Layout l;
    memset(&l, 0, sizeof l);
    l.hist = c->method == SQ_METHOD_PERCENTILE || c->method == SQ_METHOD_ENTROPY || c->method == SQ_METHOD_MSE ||
             c->method == SQ_METHOD_ENTROPY_ORT;
    l.ndim = ndim;
    l.groups = ndim >= 0 ? groups : 0;
    l.ndim_at = 56;
    l.dims_at = 60;
    l.counters_at = l.dims_at + 8 * (size_t)(ndim > 0 ? ndim : 0);
    l.mins_at = l.counters_at + 24;
    size_t g = (size_t)l.groups;
    l.maxs_at = l.mins_at + 4 * g;
    l.exps_at = l.maxs_at + 4 * g;
    l.blocks_at = l.exps_at + (l.hist ? 4 * g : 0);
    l.end = l.hist ? walk_groups(buf, size, l.blocks_at, l.groups, NULL, NULL, NULL) : l.blocks_at;
    l.valid = l.end != 0 && l.end + 8 == size;
    return l;
}

static void mutate(FuzzIn *f, uint8_t **bufp, size_t *np, const Layout *l)
{
    uint8_t *buf = *bufp;
    size_t n = *np;
    uint8_t kind = fz_u8(f) % 8;
    if (kind <= 4 && l->valid) {
        /* A field: config, ndim, a dimension, a counter, a min/max, an exponent, a histogram count. */
        uint8_t which = fz_u8(f) % 8;
        uint16_t idx = fz_u16(f);
        size_t at = 0;
        int width = 8;
        switch (which) {
        case 0: at = 8 + 4 * (idx % 12); width = 4; break; /* method .. num_bins / ignore / percentile halves */
        case 1: at = l->ndim_at; width = 4; break;
        case 2: if (l->ndim <= 0) return; at = l->dims_at + 8 * (idx % (unsigned)l->ndim); break;
        case 3: at = l->counters_at + 8 * (idx % 3); break;
        case 4: if (l->groups <= 0) return; at = l->mins_at + 4 * (idx % (uint64_t)(2 * l->groups)); width = 4; break;
        case 5: if (l->groups <= 0 || !l->hist) return; at = l->exps_at + 4 * (idx % (uint64_t)l->groups); width = 4; break;
        default: {
            /* One group's histogram: its block count, one of its block words, or a count at any offset and
               width within its counts. */
            if (l->groups <= 0 || !l->hist) return;
            size_t count_at = 0, data_at = 0, len = 0;
            if (walk_groups(buf, n, l->blocks_at, 1 + (int64_t)(idx % (uint64_t)l->groups), &count_at, &data_at, &len) == 0) return;
            uint8_t part = fz_u8(f);
            uint32_t blocks = get_u32(buf + count_at);
            static const int widths[] = {1, 2, 4, 8};
            if (part < 40 || (blocks == 0 && part < 128)) {
                at = count_at; width = 4;
            } else if (part < 128) {
                at = count_at + 4 + 4 * (size_t)(fz_u16(f) % blocks); width = 4;
            } else {
                if (len == 0) return;
                width = widths[part & 3];
                at = data_at + fz_u16(f) % len;
            }
            break;
        }
        }
        if (at + (size_t)width > n) return;
        uint64_t v = width == 8 ? hostile64(f) : hostile32(f);
        fz_log("  mutate: field %d at byte %zu (%d bytes) = %llu\n", which, at, width, (unsigned long long)v);
        put_le(buf + at, v, width);
    } else if (kind == 5 && n > 0) {
        size_t at = fz_u16(f) % n;
        buf[at] = fz_u8(f);
        fz_log("  mutate: byte %zu = %u\n", at, buf[at]);
    } else if (kind == 6 && n > 0) {
        *np = fz_u16(f) % n; /* truncate */
        fz_log("  mutate: truncated to %zu bytes\n", *np);
    } else {
        /* Insert or remove 8 bytes (e.g. one more dimension) after the ndim field. */
        size_t extra = 8;
        uint8_t *nb = (uint8_t *)malloc(n + extra);
        if (nb == NULL) abort();
        size_t cut = l->valid ? l->dims_at : 60;
        if (cut > n) cut = n; /* an earlier mutation may have truncated the bytes */
        if (fz_u8(f) & 1) {
            memcpy(nb, buf, cut);
            put_le(nb + cut, hostile64(f), 8);
            memcpy(nb + cut + extra, buf + cut, n - cut);
            *np = n + extra;
        } else if (n >= cut + extra) {
            memcpy(nb, buf, cut);
            memcpy(nb + cut, buf + cut + extra, n - cut - extra);
            *np = n - extra;
        } else {
            memcpy(nb, buf, n);
        }
        free(buf);
        *bufp = nb;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if ((data[0] & 3) == 0) {
        /* Raw: the rest of the input is the observer data. The copy is exactly sized (ASan bounds). */
        size_t n = size - 1;
        uint8_t *buf = (uint8_t *)malloc(n ? n : 1);
        if (buf == NULL) abort();
        memcpy(buf, data + 1, n);
        if (data[0] & 4) fix_checksum(buf, n); /* so mutations of the payload get past the checksum */
        sq_observer *o = NULL;
        sq_status st = sq_observer_deserialize(n ? buf : NULL, (int64_t)n, &o);
        fz_check_message(st, "sq_observer_deserialize");
        if ((st == SQ_OK) != (o != NULL)) fz_fail("sq_observer_deserialize: status %d with handle %p", (int)st, (void *)o);
        free(buf);
        if (o != NULL) {
            /* No shape to imitate; the actions use decoded shapes. The input is consumed already, so
               actions decode from a fixed small stream derived from the data. */
            FuzzIn f2 = {data, size};
            fz_u8(&f2);
            exercise(&f2, o, NULL, 0);
            sq_observer_destroy(o);
        }
        return 0;
    }

    FuzzIn in = {data + 1, size - 1};
    FuzzIn *f = &in;
    sq_observer_config c = pick_config(f);
    sq_observer *o = NULL;
    fz_log("sq_observer_create: method %d dtype %d symmetric %d axis %d block %lld bins %d ignore %d pct %g avg %g\n",
           c.method, c.dtype, c.symmetric, c.axis, (long long)c.block_size, c.num_bins, c.ignore_nonfinite,
           c.percentile, c.averaging_constant);
    sq_status st = sq_observer_create(&c, &o);
    fz_check_message(st, "sq_observer_create");
    if (st != SQ_OK) {
        if (o != NULL) fz_fail("sq_observer_create failed but set a handle");
        return 0;
    }
    /* A first batch (its shape is reused for later batches), maybe a second one. */
    Batch first = pick_batch(f, NULL, 0);
    fz_log("  first batch: ");
    fz_log_shape("shape", first.shape, first.ndim);
    fz_log("\n");
    st = sq_observer_update(o, first.x, first.shape, first.ndim);
    fz_check_message(st, "sq_observer_update");
    fz_expect_fail(st, first.mf || (first.nonfinite && c.ignore_nonfinite == 0), "sq_observer_update (first)");
    if (fz_u8(f) & 1) do_update(f, o, first.shape, first.ndim);

    int64_t groups = 0;
    int32_t pnd = 0;
    sq_observer_groups(o, &groups, NULL, &pnd);
    /* A state of many MB (an empty batch can imply millions of groups, up to the 1 GiB limit) takes seconds
     * to copy under ASan; the limit and its large-state paths have their own regression inputs. */
    /* state_bytes is the compact size held now, about the serialized size (16 bytes per empty group). */
    int64_t state_bytes = 0;
    sq_observer_stats(o, NULL, NULL, NULL, &state_bytes);
    if (state_bytes > (1 << 24) || groups > (1 << 20)) {
        free_batch(&first);
        sq_observer_destroy(o);
        return 0;
    }
    int64_t batches = 0;
    sq_observer_stats(o, &batches, NULL, NULL, NULL);
    size_t n = 0;
    uint8_t *buf = serialize(o, &n);
    if (buf != NULL) {
        Layout l = layout_of(&c, batches > 0 ? first.ndim : -1, groups, buf, n);
        if (batches > 0 && !l.valid && n < (1u << 20))
            fz_log("  (layout not recognised: size %zu)\n", n);
        int muts = fz_u8(f) % 4;
        for (int i = 0; i < muts; i++) mutate(f, &buf, &n, &l);
        if ((fz_u8(f) & 15) != 0) fix_checksum(buf, n);
        uint8_t *exact = (uint8_t *)malloc(n ? n : 1); /* exactly sized for ASan */
        if (exact == NULL) abort();
        memcpy(exact, buf, n);
        free(buf);
        sq_observer *d = NULL;
        st = sq_observer_deserialize(exact, (int64_t)n, &d);
        fz_check_message(st, "sq_observer_deserialize");
        if (muts == 0 && st != SQ_OK && (n >= 12)) {
            /* Unmutated bytes (checksum recomputed over the same bytes) must load. */
            fz_fail("sq_observer_deserialize of unmutated bytes failed: %d", (int)st);
        }
        free(exact);
        if (d != NULL) {
            exercise(f, d, first.shape, first.ndim);
            sq_observer_destroy(d);
        }
    }
    exercise(f, o, first.shape, first.ndim);
    free_batch(&first);
    sq_observer_destroy(o);
    return 0;
}

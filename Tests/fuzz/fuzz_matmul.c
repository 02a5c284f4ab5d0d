/*
 * fuzz_matmul - libFuzzer harness for the integer matrix products of swiftquant.h:
 *   sq_matmul_shape, sq_matmul_i32, sq_qlinear_matmul, sq_matmul_f32, sq_pack / sq_packed_info /
 *   sq_packed_destroy and sq_matmul_i32_packed, sq_qlinear_matmul_packed, sq_matmul_f32_packed.
 * The input decodes to A and B shapes (ndim 0..4 or invalid, 1-D operands, broadcast batch dimensions,
 * huge / zero / negative dimensions), dtypes, zero points (in and out of range, scalar or per column, wrong
 * counts), scales (0, subnormal, NaN, inf, 1e30), rounding, output counts (right or wrong) and the data.
 * Checks: memory safety, no trap, SQ_OK only for valid calls (shapes that broadcast, right counts, valid
 * dtypes / zero points / scales, no int32 overflow by the header's bound), sq_matmul_shape agrees with
 * numpy.matmul's rule, and sq_matmul_i32 (plain and packed) equals a naive int64 reference.
 */
#include "fuzz_common.h"

/* numpy.matmul's shape rule, computed here independently. */
typedef struct MM {
    int ok;                       /* 1: the shapes are valid for a matmul */
    int32_t out_ndim;
    int64_t out_shape[SQ_MAX_NDIM + 2];
    int64_t M, K, N;
    int32_t nbo;                  /* batch dims of the output */
    int64_t a_batch[SQ_MAX_NDIM], b_batch[SQ_MAX_NDIM]; /* right-aligned to nbo, 1 where absent */
    int out_cls;                  /* fz_numel class of the output shape */
    int64_t out_count;
    int out_zero_overflow;
} MM;

static MM mm_shape(const int64_t *a, int32_t an, const int64_t *b, int32_t bn)
{
    MM r;
    memset(&r, 0, sizeof r);
    int64_t dummy;
    if (an < 1 || bn < 1 || an > SQ_MAX_NDIM || bn > SQ_MAX_NDIM || a == NULL || b == NULL) return r;
    if (fz_numel(a, an, &dummy, NULL) == FZ_SHAPE_INVALID || fz_numel(b, bn, &dummy, NULL) == FZ_SHAPE_INVALID) return r;
    int64_t M = an >= 2 ? a[an - 2] : 1, K = a[an - 1];
    int64_t Kb = bn >= 2 ? b[bn - 2] : b[0], N = bn >= 2 ? b[bn - 1] : 1;
    if (K != Kb) return r;
    int32_t na = an >= 2 ? an - 2 : 0, nb = bn >= 2 ? bn - 2 : 0;
    int32_t nbo = na > nb ? na : nb;
    for (int32_t i = 0; i < nbo; i++) {
        int32_t ia = i - (nbo - na), ib = i - (nbo - nb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) return r;
        r.a_batch[i] = da;
        r.b_batch[i] = db;
        r.out_shape[i] = da == 1 ? db : da;
    }
    r.out_ndim = nbo;
    if (an >= 2) r.out_shape[r.out_ndim++] = M;
    if (bn >= 2) r.out_shape[r.out_ndim++] = N;
    if (r.out_ndim > SQ_MAX_NDIM) return r;
    r.ok = 1;
    r.M = M;
    r.K = K;
    r.N = N;
    r.nbo = nbo;
    r.out_cls = fz_numel(r.out_shape, r.out_ndim, &r.out_count, &r.out_zero_overflow);
    return r;
}

static int32_t load_q(const void *p, int32_t dtype, int64_t i)
{
    return dtype == SQ_INT8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

/* The naive reference of C (int64, exact) for small problems; c_ref holds out_count entries. */
static void mm_reference(const MM *m, const int64_t *a_shape, int32_t an, const int64_t *b_shape, int32_t bn,
                         const void *a, int32_t adt, int32_t za, const void *b, int32_t bdt, const int32_t *zb,
                         int64_t zb_count, int64_t *c_ref)
{
    int64_t ob = 1;
    for (int32_t i = 0; i < m->nbo; i++) ob *= m->out_shape[i];
    int32_t na = an >= 2 ? an - 2 : 0, nb = bn >= 2 ? bn - 2 : 0;
    for (int64_t t = 0; t < ob; t++) {
        /* Batch offsets of A and B for output batch index t. */
        int64_t rem = t, aoff = 0, boff = 0, astride = 1, bstride = 1;
        for (int32_t i = m->nbo - 1; i >= 0; i--) {
            int64_t idx = rem % m->out_shape[i];
            rem /= m->out_shape[i];
            int32_t ia = i - (m->nbo - na), ib = i - (m->nbo - nb);
            if (ia >= 0) { aoff += (a_shape[ia] == 1 ? 0 : idx) * astride; astride *= a_shape[ia]; }
            if (ib >= 0) { boff += (b_shape[ib] == 1 ? 0 : idx) * bstride; bstride *= b_shape[ib]; }
        }
        for (int64_t i = 0; i < m->M; i++)
            for (int64_t j = 0; j < m->N; j++) {
                int64_t zbj = zb == NULL || zb_count == 0 ? 0 : zb[zb_count == 1 ? 0 : j];
                int64_t s = 0;
                for (int64_t k = 0; k < m->K; k++) {
                    int64_t av = load_q(a, adt, aoff * m->M * m->K + i * m->K + k) - za;
                    int64_t bv = load_q(b, bdt, boff * m->K * m->N + k * m->N + j) - zbj;
                    s += av * bv;
                }
                c_ref[(t * m->M + i) * m->N + j] = s;
            }
    }
}

/* Valid matmul operand dtype. */
static int mm_dtype_ok(int32_t d) { return d == SQ_INT8 || d == SQ_UINT8; }

/* K * max|A - za| * max|B - zb| > INT32_MAX (the header's overflow rule; K >= 0). */
static int mm_overflows(int64_t K, int32_t adt, int32_t za, int32_t bdt, const int32_t *zb, int64_t nzb)
{
    int32_t alo, ahi, blo, bhi;
    fz_dtype_range(adt, &alo, &ahi);
    fz_dtype_range(bdt, &blo, &bhi);
    int64_t am = (int64_t)ahi - za > (int64_t)za - alo ? (int64_t)ahi - za : (int64_t)za - alo;
    int64_t bm = 0;
    for (int64_t j = 0; j < (zb && nzb > 0 ? nzb : 1); j++) {
        int64_t z = zb && nzb > 0 ? zb[j] : 0;
        int64_t v = (int64_t)bhi - z > z - blo ? (int64_t)bhi - z : z - blo;
        if (v > bm) bm = v;
    }
    if (K == 0 || am == 0 || bm == 0) return 0;
    __int128 p = (__int128)K * am * bm;
    return p > INT32_MAX;
}

/* Parameters owned by the harness. */
typedef struct FP {
    sq_qparams p;
    float *s;
    int32_t *z;
    int mf;      /* invalid by the header */
    int per_col; /* per column (count N) */
} FP;

/*
 * Quantization parameters of a matmul operand: per tensor, or (allow_col) per column with n entries;
 * sometimes hostile (wrong count, axis, block size, dtype). scale may be NULL when scale_optional.
 */
static FP make_params(FuzzIn *f, int32_t dtype, int allow_col, int32_t col_axis, int64_t n, int scale_optional)
{
    FP r;
    memset(&r, 0, sizeof r);
    uint8_t g = fz_u8(f);
    int col = allow_col && (g & 1);
    int64_t right = col ? n : 1;
    int64_t count = fz_pick_count(f, right);
    int32_t axis = col ? col_axis : SQ_PER_TENSOR;
    int64_t block = 0;
    if ((g & 0xf0) == 0xf0) { axis = fz_pick_axis(f, col_axis + 1); block = fz_pick_block(f); }
    /* Valid: per tensor (count 1), or per column (axis col_axis, count n) where allowed. */
    int per_tensor_ok = axis == SQ_PER_TENSOR && block == 0 && count == 1;
    int per_col_ok = allow_col && axis == col_axis && block == 0 && count == n;
    if (!per_tensor_ok && !per_col_ok) r.mf = 1;
    col = per_col_ok && !per_tensor_ok;
    if (!mm_dtype_ok(dtype)) r.mf = 1;
    int mfb = 0;
    int64_t cb = count >= 0 ? count : -1;
    int64_t nv = (count >= 0 && count <= FZ_MAX_ELEMS) ? count : (count < 0 ? 4 : 0);
    if (scale_optional && (g & 2)) {
        r.s = NULL;
    } else {
        r.s = (float *)fz_buffer(cb, sizeof(float), &mfb, fz_u8(f));
        if (count > 0 && r.s == NULL) mfb = 1;
        float one = fz_pick_scale(f);
        int each = fz_u8(f) & 1;
        for (int64_t i = 0; r.s && i < nv; i++) {
            r.s[i] = each ? fz_pick_scale(f) : one;
            if (!fz_scale_valid(r.s[i])) r.mf = 1;
        }
    }
    if (g & 4) {
        int mz = 0;
        r.z = (int32_t *)fz_buffer(cb, sizeof(int32_t), &mz, 0);
        if (mz) mfb = 1;
        int32_t lo, hi;
        fz_dtype_range(dtype, &lo, &hi);
        int32_t one = fz_pick_zp(f, dtype);
        int each = fz_u8(f) & 1;
        for (int64_t i = 0; r.z && i < nv; i++) {
            r.z[i] = each ? fz_pick_zp(f, dtype) : one;
            if (r.z[i] < lo || r.z[i] > hi) r.mf = 1;
        }
    }
    if (mfb) r.mf = 1;
    r.per_col = col;
    r.p.scale = r.s;
    r.p.zero_point = r.z;
    r.p.count = count;
    r.p.dtype = dtype;
    r.p.axis = axis;
    r.p.block_size = block;
    return r;
}
static void free_params(FP *p) { free(p->s); free(p->z); }

static int32_t pick_mm_dtype(FuzzIn *f)
{
    uint8_t b = fz_u8(f);
    return b < 240 ? (int32_t)(b & 1) : fz_pick_enum(f, 6);
}

/* Fills a quantized operand of n elements of dtype with values from the input. */
static void fill_q(FuzzIn *f, void *p, int64_t n, size_t esize)
{
    if (p == NULL || n <= 0) return;
    uint8_t mode = fz_u8(f);
    for (int64_t i = 0; i < n; i++) {
        uint8_t v = mode < 64 ? (uint8_t)mode : (mode < 128 ? (uint8_t)(i * 37 + 11) : fz_u8(f));
        if (esize == 1) ((uint8_t *)p)[i] = v;
        else ((uint16_t *)p)[i] = v;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int op = fz_u8(f) % 5; /* 0 shape, 1 i32, 2 qlinear, 3 f32, 4 packed */

    int32_t an = fz_pick_ndim(f), bn = op == 4 ? 2 : fz_pick_ndim(f);
    if (op == 4 && fz_u8(f) == 255) bn = fz_pick_ndim(f);
    int nsa = 0, nsb = 0;
    int64_t *as = fz_pick_shape(f, an, &nsa);
    int64_t *bs = fz_pick_shape(f, bn, &nsb);
    /* Often make the operands agree on K, so the products run. */
    uint8_t tie = fz_u8(f);
    if (as && bs && an >= 1 && an <= SQ_MAX_NDIM && bn >= 1 && bn <= SQ_MAX_NDIM && tie < 200) {
        if (op == 4) bs[0] = as[an - 1];
        else if (bn >= 2) bs[bn - 2] = as[an - 1];
        else bs[0] = as[an - 1];
    }
    MM m = mm_shape(as, an, bs, bn);
    int mf_shape = !m.ok || m.out_cls == FZ_SHAPE_OVERFLOW || m.out_cls == FZ_SHAPE_INVALID;

    int64_t na = 0, nb = 0;
    int ca = fz_numel(as, an, &na, NULL), cbn = fz_numel(bs, bn, &nb, NULL);
    int32_t adt = pick_mm_dtype(f), bdt = pick_mm_dtype(f);
    int mf_a = 0, mf_b = 0;
    void *a = fz_buffer(ca == FZ_SHAPE_OK ? na : -1, fz_dtype_size(adt), &mf_a, fz_u8(f));
    void *b = fz_buffer(cbn == FZ_SHAPE_OK ? nb : -1, fz_dtype_size(bdt), &mf_b, fz_u8(f));
    int64_t nva = (a && ca == FZ_SHAPE_OK && na <= FZ_MAX_ELEMS) ? na : 0;
    int64_t nvb = (b && cbn == FZ_SHAPE_OK && nb <= FZ_MAX_ELEMS) ? nb : 0;
    fill_q(f, a, nva, fz_dtype_size(adt));
    fill_q(f, b, nvb, fz_dtype_size(bdt));
    int mf_dt = !mm_dtype_ok(adt) || !mm_dtype_ok(bdt);

    int64_t right_out = (m.ok && m.out_cls == FZ_SHAPE_OK) ? m.out_count : 0;
    int64_t out_count = fz_pick_count(f, right_out);
    int mf_out = !(m.ok && m.out_cls == FZ_SHAPE_OK && out_count == m.out_count);
    int mf_obuf = 0;

    if (fz_verbose()) {
        static const char *names[5] = {"sq_matmul_shape", "sq_matmul_i32", "sq_qlinear_matmul", "sq_matmul_f32", "sq_pack + packed"};
        fz_log("%s: ", names[op]);
        fz_log_shape("a_shape", as, an);
        fz_log(", ");
        fz_log_shape("b_shape", bs, bn);
        fz_log(", a_dtype %d, b_dtype %d, a %s, b %s, out_count %lld (right %lld, shape ok %d)\n", adt, bdt,
               a ? "buffer" : "NULL", b ? "buffer" : "NULL", (long long)out_count, (long long)right_out, m.ok);
    }

    switch (op) {
    case 0: {
        int64_t out_shape[SQ_MAX_NDIM];
        int32_t out_ndim = -1;
        uint8_t nulls = fz_u8(f);
        sq_status st = sq_matmul_shape(as, an, bs, bn, nulls == 255 ? NULL : out_shape, nulls == 254 ? NULL : &out_ndim);
        fz_check_message(st, "sq_matmul_shape");
        fz_expect_fail(st, !m.ok || nulls >= 254 || nsa || nsb, "sq_matmul_shape");
        if (st == SQ_OK) {
            if (out_ndim != m.out_ndim) fz_fail("sq_matmul_shape: ndim %d, expected %d", out_ndim, m.out_ndim);
            for (int32_t i = 0; i < out_ndim; i++)
                if (out_shape[i] != m.out_shape[i]) fz_fail("sq_matmul_shape: dim %d = %lld, expected %lld", i,
                                                          (long long)out_shape[i], (long long)m.out_shape[i]);
        }
        break;
    }
    case 1: {
        int32_t za = fz_pick_zp(f, adt);
        int32_t alo, ahi, blo, bhi;
        fz_dtype_range(adt, &alo, &ahi);
        fz_dtype_range(bdt, &blo, &bhi);
        uint8_t zmode = fz_u8(f);
        int64_t right_zb = (zmode & 1) ? 1 : m.N;
        int64_t nzb = (zmode & 2) ? fz_pick_count(f, right_zb) : right_zb;
        int32_t *zb = NULL;
        int mf_z = 0;
        if (zmode & 4) {
            zb = (int32_t *)fz_buffer(nzb >= 0 ? nzb : -1, sizeof(int32_t), &mf_z, 0);
            for (int64_t j = 0; zb && j < nzb && j < FZ_MAX_ELEMS; j++) {
                zb[j] = fz_pick_zp(f, bdt);
                if (zb[j] < blo || zb[j] > bhi) mf_z = 1;
            }
            /* count 0 means "no zero points" whatever the pointer (as bias NULL / count 0). */
            if (nzb != 0 && nzb != 1 && nzb != m.N) mf_z = 1;
            if (nzb > 0 && zb == NULL) mf_z = 1;
        } else {
            nzb = (zmode & 8) ? nzb : 0;
        }
        if (za < alo || za > ahi) mf_z = 1;
        int over = m.ok && !mf_dt && !mf_z && mm_overflows(m.K, adt, za, bdt, zb, nzb);
        int32_t *c = (int32_t *)fz_buffer(out_count >= 0 ? out_count : -1, sizeof(int32_t), &mf_obuf, fz_u8(f));
        fz_log("  za %d, b_zero_point %s count %lld, c_count %lld\n", za, zb ? "buffer" : "NULL", (long long)nzb, (long long)out_count);
        sq_status st = sq_matmul_i32(a, adt, as, an, za, b, bdt, bs, bn, zb, nzb, c, out_count);
        fz_check_message(st, "sq_matmul_i32");
        fz_expect_fail(st, mf_shape || mf_a || mf_b || mf_dt || mf_out || mf_obuf || mf_z || over || nsa || nsb,
                       "sq_matmul_i32");
        if (st == SQ_OK && out_count > 0 && m.K <= 4096 && out_count * (m.K + 1) <= 200000) {
            int64_t *ref = (int64_t *)fz_alloc(out_count, sizeof(int64_t));
            mm_reference(&m, as, an, bs, bn, a, adt, za, b, bdt, zb, nzb, ref);
            for (int64_t i = 0; i < out_count; i++)
                if ((int64_t)c[i] != ref[i])
                    fz_fail("sq_matmul_i32: c[%lld] = %d, reference %lld (M %lld K %lld N %lld)", (long long)i, c[i],
                            (long long)ref[i], (long long)m.M, (long long)m.K, (long long)m.N);
            free(ref);
        }
        free(zb);
        free(c);
        break;
    }
    case 2:
    case 3: {
        FP ap = make_params(f, adt, 0, 0, 1, 0);
        FP bp = make_params(f, bdt, bn >= 2, bn >= 2 ? bn - 1 : 0, m.N, 0);
        int32_t ydt = op == 2 ? pick_mm_dtype(f) : SQ_INT8;
        FP yp = make_params(f, ydt, 0, 0, 1, 0);
        int mf_p = ap.mf || bp.mf || (op == 2 && yp.mf);
        int64_t nzb = bp.per_col ? m.N : 1;
        int over = m.ok && !mf_dt && !mf_p && bp.p.count == nzb &&
                   mm_overflows(m.K, adt, ap.z ? ap.z[0] : 0, bdt, bp.z, nzb);
        if (op == 2) {
            int32_t rounding = fz_pick_enum(f, 4);
            uint64_t seed = fz_u64(f);
            void *y = fz_buffer(out_count >= 0 ? out_count : -1, fz_dtype_size(ydt), &mf_obuf, fz_u8(f));
            fz_log_params("  a_params", &ap.p); fz_log_params(", b_params", &bp.p); fz_log_params(", y_params", &yp.p); fz_log(", rounding %d\n", rounding);
        sq_status st = sq_qlinear_matmul(a, as, an, &ap.p, b, bs, bn, &bp.p, &yp.p, rounding, seed, y, out_count);
            fz_check_message(st, "sq_qlinear_matmul");
            fz_expect_fail(st, mf_shape || mf_a || mf_b || mf_dt || mf_out || mf_obuf || mf_p || over || nsa || nsb ||
                                   !(rounding >= 0 && rounding <= 3), "sq_qlinear_matmul");
            free(y);
        } else {
            uint8_t bm = fz_u8(f);
            int64_t nbias = (bm & 1) ? fz_pick_count(f, m.N) : 0;
            int mf_bias = 0;
            float *bias = (bm & 1) ? (float *)fz_buffer(nbias >= 0 ? nbias : -1, sizeof(float), &mf_bias, 0) : NULL;
            for (int64_t j = 0; bias && j < nbias && j < FZ_MAX_ELEMS; j++) bias[j] = fz_pick_value(f);
            if ((bm & 1) && (nbias != m.N || (nbias > 0 && bias == NULL))) mf_bias = 1;
            float *y = (float *)fz_buffer(out_count >= 0 ? out_count : -1, sizeof(float), &mf_obuf, fz_u8(f));
            fz_log_params("  a_params", &ap.p); fz_log_params(", b_params", &bp.p); fz_log(", bias_count %lld\n", (long long)nbias);
        sq_status st = sq_matmul_f32(a, as, an, &ap.p, b, bs, bn, &bp.p, bias, nbias, y, out_count);
            fz_check_message(st, "sq_matmul_f32");
            fz_expect_fail(st, mf_shape || mf_a || mf_b || mf_dt || mf_out || mf_obuf || ap.mf || bp.mf || over ||
                                   mf_bias || nsa || nsb, "sq_matmul_f32");
            free(bias);
            free(y);
        }
        free_params(&ap);
        free_params(&bp);
        free_params(&yp);
        break;
    }
    case 4: {
        /* sq_pack of B [K, N], then the packed products with A [..., K]. */
        int64_t K = (bn == 2 && bs) ? bs[0] : 0, N = (bn == 2 && bs) ? bs[1] : 0;
        FP bp = make_params(f, bdt, 1, 1, N, 1);
        sq_packed *pk = NULL;
        int null_params = fz_u8(f) == 255;
        int mf_pack = bn != 2 || nsb || mf_b || !mm_dtype_ok(bdt) || bp.mf || cbn != FZ_SHAPE_OK || null_params;
        fz_log_params("  sq_pack b_params", null_params ? NULL : &bp.p); fz_log("\n");
        sq_status st = sq_pack(b, bs, bn, null_params ? NULL : &bp.p, &pk);
        fz_check_message(st, "sq_pack");
        fz_expect_fail(st, mf_pack, "sq_pack");
        if (st == SQ_OK) {
            int64_t pk_k = -1, pk_n = -1;
            int32_t pk_dt = -1, pk_hs = -1;
            if (sq_packed_info(pk, &pk_k, &pk_n, &pk_dt, &pk_hs) != SQ_OK) fz_fail("sq_packed_info failed");
            if (pk_k != K || pk_n != N || pk_dt != bdt || pk_hs != (bp.s != NULL))
                fz_fail("sq_packed_info: K %lld N %lld dtype %d has_scale %d", (long long)pk_k, (long long)pk_n, pk_dt, pk_hs);
            /* A [..., K] against the packed [K, N]: the result is [..., N]. */
            int64_t bshape2[2] = {K, N};
            MM mp = mm_shape(as, an, bshape2, 2);
            int mf_sp = !mp.ok || mp.out_cls != FZ_SHAPE_OK || nsa;
            int64_t right_p = (mp.ok && mp.out_cls == FZ_SHAPE_OK) ? mp.out_count : 0;
            int64_t pc = fz_pick_count(f, right_p);
            int mf_pc = mf_sp || pc != right_p;
            int which = fz_u8(f) % 3;
            int mf_ob = 0;
            if (which == 0) {
                int32_t za = fz_pick_zp(f, adt);
                int32_t alo, ahi;
                fz_dtype_range(adt, &alo, &ahi);
                int over = mp.ok && mm_dtype_ok(adt) && za >= alo && za <= ahi &&
                           mm_overflows(K, adt, za, bdt, bp.z, bp.z ? bp.p.count : 1);
                int32_t *c = (int32_t *)fz_buffer(pc >= 0 ? pc : -1, sizeof(int32_t), &mf_ob, fz_u8(f));
                sq_status s2 = sq_matmul_i32_packed(a, adt, as, an, za, pk, c, pc);
                fz_check_message(s2, "sq_matmul_i32_packed");
                fz_expect_fail(s2, mf_pc || mf_a || mf_ob || !mm_dtype_ok(adt) || za < alo || za > ahi || over,
                               "sq_matmul_i32_packed");
                if (s2 == SQ_OK && pc > 0 && K <= 4096 && pc * (K + 1) <= 200000) {
                    int64_t *ref = (int64_t *)fz_alloc(pc, sizeof(int64_t));
                    mm_reference(&mp, as, an, bshape2, 2, a, adt, za, b, bdt, bp.z, bp.z ? bp.p.count : 1, ref);
                    for (int64_t i = 0; i < pc; i++)
                        if ((int64_t)c[i] != ref[i])
                            fz_fail("sq_matmul_i32_packed: c[%lld] = %d, reference %lld", (long long)i, c[i], (long long)ref[i]);
                    free(ref);
                }
                free(c);
            } else {
                FP ap = make_params(f, adt, 0, 0, 1, 0);
                int over = mp.ok && !ap.mf && mm_overflows(K, adt, ap.z ? ap.z[0] : 0, bdt, bp.z, bp.z ? bp.p.count : 1);
                int no_scale = bp.s == NULL;
                if (which == 1) {
                    int32_t ydt = pick_mm_dtype(f);
                    FP yp = make_params(f, ydt, 0, 0, 1, 0);
                    int32_t rounding = fz_pick_enum(f, 4);
                    uint64_t seed = fz_u64(f);
                    void *y = fz_buffer(pc >= 0 ? pc : -1, fz_dtype_size(ydt), &mf_ob, fz_u8(f));
                    sq_status s2 = sq_qlinear_matmul_packed(a, as, an, &ap.p, pk, &yp.p, rounding, seed, y, pc);
                    fz_check_message(s2, "sq_qlinear_matmul_packed");
                    fz_expect_fail(s2, mf_pc || mf_a || mf_ob || ap.mf || yp.mf || over || no_scale ||
                                           !(rounding >= 0 && rounding <= 3), "sq_qlinear_matmul_packed");
                    free(y);
                    free_params(&yp);
                } else {
                    uint8_t bm = fz_u8(f);
                    int64_t nbias = (bm & 1) ? fz_pick_count(f, N) : 0;
                    int mf_bias = 0;
                    float *bias = (bm & 1) ? (float *)fz_buffer(nbias >= 0 ? nbias : -1, sizeof(float), &mf_bias, 0) : NULL;
                    for (int64_t j = 0; bias && j < nbias && j < FZ_MAX_ELEMS; j++) bias[j] = fz_pick_value(f);
                    if ((bm & 1) && (nbias != N || (nbias > 0 && bias == NULL))) mf_bias = 1;
                    float *y = (float *)fz_buffer(pc >= 0 ? pc : -1, sizeof(float), &mf_ob, fz_u8(f));
                    sq_status s2 = sq_matmul_f32_packed(a, as, an, &ap.p, pk, bias, nbias, y, pc);
                    fz_check_message(s2, "sq_matmul_f32_packed");
                    fz_expect_fail(s2, mf_pc || mf_a || mf_ob || ap.mf || over || no_scale || mf_bias,
                                   "sq_matmul_f32_packed");
                    free(bias);
                    free(y);
                }
                free_params(&ap);
            }
        }
        sq_packed_destroy(pk);
        free_params(&bp);
        break;
    }
    }
    free(a);
    free(b);
    free(as);
    free(bs);
    return 0;
}

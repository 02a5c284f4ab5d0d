/*
 * fuzz_int4 - libFuzzer harness for sq_pack_int4 and sq_unpack_int4.
 * The input decodes to a count (small, huge, negative), a dtype (4-bit, other valid, invalid), a packed
 * count (right, off by one, huge, negative) and the values: in range, out of range, or raw packed bytes
 * with a non-zero padding nibble. Checks: memory safety, no trap, SQ_OK only for valid calls (4-bit
 * dtype, packed_count = (count + 1) / 2, values in range, zero padding nibble), and pack -> unpack
 * round-trips exactly.
 */
#include "fuzz_common.h"

static int64_t packed_of(int64_t count) { return count / 2 + (count % 2); } /* (count + 1) / 2, no overflow */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int unpack_first = fz_u8(f) & 1;
    int64_t count = (fz_u8(f) & 3) ? (int64_t)(fz_u16(f) % 300) : fz_pick_dim(f);
    int32_t dtype = (fz_u8(f) & 3) ? SQ_INT4 + (fz_u8(f) & 1) : fz_pick_enum(f, 6);
    int is4 = dtype == SQ_INT4 || dtype == SQ_UINT4;
    int32_t lo, hi;
    fz_dtype_range(dtype, &lo, &hi);
    int64_t right = count >= 0 ? packed_of(count) : 0;
    int64_t pcount = fz_pick_count(f, right);
    int mf = !is4 || count < 0 || pcount != right;

    int mf_b = 0;
    void *q = fz_buffer(count >= 0 ? count : -1, 1, &mf_b, fz_u8(f));
    uint8_t *packed = (uint8_t *)fz_buffer(pcount >= 0 ? pcount : -1, 1, &mf_b, fz_u8(f));
    int64_t nq = (q != NULL && count > 0 && count <= FZ_MAX_ELEMS) ? count : 0;
    int64_t np = (packed != NULL && pcount > 0 && pcount <= FZ_MAX_ELEMS) ? pcount : 0;
    sq_status st;

    if (!unpack_first) {
        int bad = 0;
        for (int64_t i = 0; i < nq; i++) {
            uint8_t b = fz_u8(f);
            int32_t v = b < 240 ? lo + (int32_t)(b % (uint32_t)(hi - lo + 1)) : (int32_t)(int8_t)fz_u8(f);
            ((uint8_t *)q)[i] = (uint8_t)v;
            int32_t stored = (dtype == SQ_INT4) ? (int32_t)(int8_t)(uint8_t)v : (int32_t)(uint8_t)v;
            if (stored < lo || stored > hi) bad = 1;
        }
        st = sq_pack_int4(q, count, dtype, packed, pcount);
        fz_check_message(st, "sq_pack_int4");
        fz_expect_fail(st, mf || mf_b || bad, "sq_pack_int4");
        if (st == SQ_OK && nq > 0) {
            if (count % 2 == 1 && (packed[np - 1] >> 4) != 0) fz_fail("sq_pack_int4: padding nibble not 0");
            /* Round trip. */
            uint8_t *back = (uint8_t *)fz_alloc(nq, 1);
            sq_status st2 = sq_unpack_int4(packed, pcount, dtype, back, count);
            if (st2 != SQ_OK) fz_fail("sq_unpack_int4 of sq_pack_int4's output failed: %d", (int)st2);
            if (memcmp(back, q, (size_t)nq) != 0) fz_fail("pack/unpack round trip differs");
            free(back);
        }
    } else {
        for (int64_t i = 0; i < np; i++) packed[i] = fz_u8(f);
        int bad_pad = np > 0 && count % 2 == 1 && pcount == right && (packed[np - 1] >> 4) != 0;
        st = sq_unpack_int4(packed, pcount, dtype, q, count);
        fz_check_message(st, "sq_unpack_int4");
        fz_expect_fail(st, mf || mf_b || bad_pad, "sq_unpack_int4");
        if (st == SQ_OK) {
            for (int64_t i = 0; i < nq; i++) {
                int32_t v = (dtype == SQ_INT4) ? (int32_t)((int8_t *)q)[i] : (int32_t)((uint8_t *)q)[i];
                int32_t nib = (packed[i / 2] >> (4 * (i % 2))) & 15;
                int32_t want = (dtype == SQ_INT4 && nib >= 8) ? nib - 16 : nib;
                if (v != want) fz_fail("sq_unpack_int4: element %lld = %d, expected %d", (long long)i, v, want);
            }
        }
    }
    free(q);
    free(packed);
    return 0;
}

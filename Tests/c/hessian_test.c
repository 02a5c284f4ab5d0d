/*
 * hessian_test.c - Hessian observers through the public header, from C: sums of integer-valued rows equal
 * a plain double loop exactly (so do the Hessian, merges of shards and a serialize / deserialize round
 * trip, whose bytes follow the header's layout); the error cases return their status with a message; NULL
 * handles and pointers are refused (destroy accepts NULL).
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 19
#define ROWS 600

static int has(const char *needle) { return strstr(sq_last_error_message(), needle) != NULL; }

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The serialized bytes of h (malloc'ed, *n bytes). */
static uint8_t *serialize(const sq_hessian *h, int64_t *n)
{
    *n = -1;
    if (sq_hessian_serialize(h, NULL, 0, n) != SQ_OK) return NULL;
    uint8_t *buf = malloc((size_t)*n);
    if (buf == NULL || sq_hessian_serialize(h, buf, *n, n) != SQ_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static sq_status deserialize_resealed(uint8_t *buf, int64_t n, sq_hessian **out)
{
    put_le(buf + n - 8, fnv1a(buf, (size_t)(n - 8)), 8);
    return sq_hessian_deserialize(buf, n, out);
}

int main(void)
{
    static float x[ROWS * K];
    static double want[K * K], got[K * K];
    for (int i = 0; i < ROWS * K; i++) x[i] = (float)((i * 7919) % 41 - 20);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) want[i * K + j] += (double)x[r * K + i] * (double)x[r * K + j];

    /* One observer over all rows, as [2, 300, K]. */
    sq_hessian *h = NULL;
    int64_t shape3[3] = {2, ROWS / 2, K}, v = 0;
    check(sq_hessian_create(K, &h) == SQ_OK && h != NULL, "sq_hessian_create");
    check(sq_hessian_k(h, &v) == SQ_OK && v == K, "sq_hessian_k");
    check(sq_hessian_count(h, &v) == SQ_OK && v == 0, "count 0 at first");
    check(sq_hessian_get(h, got) == SQ_ERROR_INVALID_ARGUMENT && has("no data observed"), "get before data");
    check(sq_hessian_sum(h, got) == SQ_OK && got[0] == 0.0 && got[K * K - 1] == 0.0, "zero sums at first");
    check(sq_hessian_update(h, x, shape3, 3) == SQ_OK, "sq_hessian_update [2, 300, K]");
    check(sq_hessian_count(h, &v) == SQ_OK && v == ROWS, "count");
    check(sq_hessian_sum(h, got) == SQ_OK && memcmp(got, want, sizeof want) == 0, "sums equal the plain loop");
    int exact = sq_hessian_get(h, got) == SQ_OK;
    for (int i = 0; i < K * K && exact; i++) exact = got[i] == want[i] / ROWS;
    check(exact, "H = S / count, each element divided");

    /* Shards of 1, 255, 256 and 88 rows merged: the same bits. */
    sq_hessian *m = NULL, *part = NULL;
    check(sq_hessian_create(K, &m) == SQ_OK, "create the merged one");
    int64_t lens[4] = {1, 255, 256, 88}, start = 0;
    for (int s = 0; s < 4; s++) {
        int64_t shape2[2] = {lens[s], K};
        check(sq_hessian_create(K, &part) == SQ_OK && sq_hessian_update(part, x + start * K, shape2, 2) == SQ_OK &&
                  sq_hessian_merge(m, part) == SQ_OK, "shard update and merge");
        sq_hessian_destroy(part);
        start += lens[s];
    }
    check(sq_hessian_sum(m, got) == SQ_OK && memcmp(got, want, sizeof want) == 0, "merged shards equal one observer");
    check(sq_hessian_count(m, &v) == SQ_OK && v == ROWS, "merged count");

    /* Serialization: the header's layout, a size query, capacity checks, an exact round trip. */
    int64_t n = 0, n2 = 0;
    uint8_t *bytes = serialize(h, &n);
    check(bytes != NULL && n == 32 + 4 * K * (K + 1), "serialized size 32 + 4K(K+1)");
    if (bytes == NULL) return 1;
    check(memcmp(bytes, "SQHS", 4) == 0 && get_le(bytes + 4, 4) == 1 && get_le(bytes + 8, 8) == K &&
              get_le(bytes + 16, 8) == ROWS, "magic, version, K, count");
    double s01;
    uint64_t bits = get_le(bytes + 24 + 8, 8);
    memcpy(&s01, &bits, 8);
    check(s01 == want[1], "the second double is S[0][1]");
    check(get_le(bytes + n - 8, 8) == fnv1a(bytes, (size_t)(n - 8)), "FNV-1a checksum");
    check(sq_hessian_serialize(h, bytes, n - 1, &n2) == SQ_ERROR_SHAPE && n2 == n, "capacity too small, size set");
    check(sq_hessian_serialize(h, NULL, 5, &n2) == SQ_ERROR_NULL_POINTER, "NULL buf with capacity");
    check(sq_hessian_serialize(h, NULL, 0, NULL) == SQ_ERROR_NULL_POINTER, "NULL size");
    sq_hessian *back = NULL;
    check(sq_hessian_deserialize(bytes, n, &back) == SQ_OK && back != NULL, "deserialize");
    uint8_t *again = serialize(back, &n2);
    check(again != NULL && n2 == n && memcmp(again, bytes, (size_t)n) == 0, "re-serialized bytes equal");
    free(again);
    check(sq_hessian_merge(back, m) == SQ_OK && sq_hessian_count(back, &v) == SQ_OK && v == 2 * ROWS,
          "a restored observer merges");
    sq_hessian_destroy(back);

    /* Hostile bytes. */
    back = (sq_hessian *)1;
    check(sq_hessian_deserialize(bytes, n - 1, &back) == SQ_ERROR_INVALID_ARGUMENT && back == NULL, "truncated");
    bytes[40] ^= 1;
    check(sq_hessian_deserialize(bytes, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("checksum"), "flipped byte");
    bytes[40] ^= 1;
    uint8_t *bad = malloc((size_t)n);
    if (bad == NULL) return 1;
    memcpy(bad, bytes, (size_t)n);
    bad[0] = 'X';
    check(sq_hessian_deserialize(bad, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("magic"), "bad magic");
    memcpy(bad, bytes, (size_t)n);
    put_le(bad + 4, 2, 4);
    check(deserialize_resealed(bad, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("version 2"), "version 2");
    memcpy(bad, bytes, (size_t)n);
    put_le(bad + 8, K + 1, 8);
    check(deserialize_resealed(bad, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("needs exactly"), "K mismatch");
    memcpy(bad, bytes, (size_t)n);
    put_le(bad + 16, (uint64_t)-5, 8);
    check(deserialize_resealed(bad, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("negative"), "negative count");
    memcpy(bad, bytes, (size_t)n);
    put_le(bad + 24 + 8 * 3, 0x7FF8000000000000ull, 8);
    check(deserialize_resealed(bad, n, &back) == SQ_ERROR_INVALID_ARGUMENT && has("not finite"), "NaN sum");
    free(bad);
    check(sq_hessian_deserialize(NULL, 10, &back) == SQ_ERROR_NULL_POINTER, "NULL buf");
    check(sq_hessian_deserialize(bytes, -1, &back) == SQ_ERROR_SHAPE, "negative size");
    check(sq_hessian_deserialize(bytes, n, NULL) == SQ_ERROR_NULL_POINTER, "NULL out");
    free(bytes);

    /* Bad updates change nothing. */
    float saved = x[5 * K + 7];
    int64_t shape2[2] = {ROWS, K};
    x[5 * K + 7] = NAN;
    check(sq_hessian_update(h, x, shape2, 2) == SQ_ERROR_NONFINITE && has("element [5, 7]"), "NaN named [row, column]");
    x[5 * K + 7] = INFINITY;
    check(sq_hessian_update(h, x, shape2, 2) == SQ_ERROR_NONFINITE, "inf");
    x[5 * K + 7] = saved;
    int64_t wrong[2] = {ROWS, K - 1};
    check(sq_hessian_update(h, x, wrong, 2) == SQ_ERROR_SHAPE && has("last dimension"), "wrong last dimension");
    check(sq_hessian_update(h, x, NULL, 0) == SQ_ERROR_SHAPE && has("scalar"), "ndim 0");
    check(sq_hessian_update(h, x, shape2, -1) == SQ_ERROR_SHAPE, "ndim -1");
    check(sq_hessian_update(h, NULL, shape2, 2) == SQ_ERROR_NULL_POINTER, "NULL x");
    int64_t empty[2] = {0, K};
    check(sq_hessian_update(h, NULL, empty, 2) == SQ_OK, "zero rows, NULL x");
    check(sq_hessian_count(h, &v) == SQ_OK && v == ROWS && sq_hessian_sum(h, got) == SQ_OK &&
              memcmp(got, want, sizeof want) == 0, "unchanged by the failed updates");

    /* Create, merge and NULL handles. */
    sq_hessian *o = (sq_hessian *)1;
    check(sq_hessian_create(0, &o) == SQ_ERROR_SHAPE && o == NULL, "k 0");
    check(sq_hessian_create(65537, &o) == SQ_ERROR_SHAPE && has("65536"), "k 65537");
    check(sq_hessian_create(-3, &o) == SQ_ERROR_SHAPE, "k -3");
    check(sq_hessian_create(4, NULL) == SQ_ERROR_NULL_POINTER, "NULL out");
    check(sq_hessian_create(K + 1, &o) == SQ_OK, "create K + 1");
    check(sq_hessian_merge(h, o) == SQ_ERROR_SHAPE && has("K = 20") && has("K = 19"), "merge K mismatch names both");
    check(sq_hessian_merge(h, h) == SQ_OK && sq_hessian_count(h, &v) == SQ_OK && v == 2 * ROWS, "merge with itself");
    check(sq_hessian_merge(NULL, h) == SQ_ERROR_NULL_POINTER && sq_hessian_merge(h, NULL) == SQ_ERROR_NULL_POINTER,
          "merge NULL");
    check(sq_hessian_update(NULL, x, shape2, 2) == SQ_ERROR_NULL_POINTER, "update NULL handle");
    check(sq_hessian_count(NULL, &v) == SQ_ERROR_NULL_POINTER && sq_hessian_count(h, NULL) == SQ_ERROR_NULL_POINTER,
          "count NULL");
    check(sq_hessian_k(NULL, &v) == SQ_ERROR_NULL_POINTER && sq_hessian_k(h, NULL) == SQ_ERROR_NULL_POINTER, "k NULL");
    check(sq_hessian_get(NULL, got) == SQ_ERROR_NULL_POINTER && sq_hessian_get(h, NULL) == SQ_ERROR_NULL_POINTER,
          "get NULL");
    check(sq_hessian_sum(NULL, got) == SQ_ERROR_NULL_POINTER && sq_hessian_sum(h, NULL) == SQ_ERROR_NULL_POINTER,
          "sum NULL");
    check(sq_hessian_serialize(NULL, NULL, 0, &n) == SQ_ERROR_NULL_POINTER, "serialize NULL");
    sq_hessian_destroy(NULL);
    sq_hessian_destroy(o);
    sq_hessian_destroy(m);
    sq_hessian_destroy(h);
    return finish();
}

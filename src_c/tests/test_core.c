/*
 * C-only tests of the core: Random123 known answers, the mask rule against a per-element model,
 * the kernels on contiguous and strided arrays, float16 and bfloat16 conversion, the error codes,
 * and (on POSIX systems) that no kernel touches memory outside its arrays.
 * Build and run: see .ci/run (it uses -fsanitize=address,undefined).
 */
#define _DEFAULT_SOURCE /* glibc: mmap's MAP_ANONYMOUS under -std=c99 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fd_dropout.h"
#include "../fd_kernels.h"
#include "../fd_philox.h"
#include "box_element.h"

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#define FENCED_PAGES 1
#endif

static int checks = 0, failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Random123's kat_vectors, the three "philox4x32 10" lines: counter, key, expected output. */
static void test_known_answers(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    int i, w;
    for (i = 0; i < 3; i++) {
        uint32_t out[4], many[4];
        fd_philox4x32_10(kat[i], kat[i] + 4, out);
        fd_philox4x32_10_many(1, kat[i], kat[i] + 4, many);
        for (w = 0; w < 4; w++) {
            CHECK(out[w] == kat[i][6 + w]);
            CHECK(many[w] == kat[i][6 + w]);
        }
    }
}

/* A small deterministic generator for test inputs (splitmix64). */
static uint64_t test_state = 0x853c49e6748fea9bULL;
static uint64_t next_random(void)
{
    uint64_t z = (test_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Bytes of one element of dtype d. */
static int64_t element_size(fd_dtype d) { return d == FD_FLOAT32 ? 4 : d == FD_FLOAT64 ? 8 : 2; }

#define LAST_DTYPE FD_BFLOAT16 /* loops over every dtype run FD_FLOAT16 .. LAST_DTYPE */

/* Output word `word` of the Philox call at counter (offset + block, c3) of the rule. */
static uint32_t rule_output(const fd_bernoulli *rule, uint64_t block, uint32_t c3, int word)
{
    uint64_t counter = rule->offset + block;
    uint32_t key[2] = {(uint32_t)rule->key, (uint32_t)(rule->key >> 32)};
    uint32_t ctr[4], out[4];
    ctr[0] = (uint32_t)counter;
    ctr[1] = (uint32_t)(counter >> 32);
    ctr[2] = counter < rule->offset;
    ctr[3] = c3;
    fd_philox4x32_10(ctr, key, out);
    return out[word];
}

/* The rule of fd_dropout.h, one element at a time: the whole 32-bit U_i, then U_i < T. */
static uint32_t model_uniform(const fd_bernoulli *rule, uint64_t i)
{
    const uint64_t block = i / FD_BLOCK_ELEMENTS;
    const uint32_t e = (uint32_t)(i % FD_BLOCK_ELEMENTS);
    uint32_t u = 0;
    uint32_t plane;
    for (plane = 0; plane < FD_PLANES; plane++)
        u = (u << 1) | ((rule_output(rule, block, plane, (int)(e / 32)) >> (e % 32)) & 1u);
    return (u << 24) | (rule_output(rule, block, FD_PLANES + e / 4, (int)(e % 4)) >> 8);
}

static int model_keep(const fd_bernoulli *rule, uint64_t i)
{
    return (uint64_t)model_uniform(rule, i) < rule->threshold;
}

static void test_threshold(void)
{
    CHECK(fd_threshold(0.0) == FD_THRESHOLD_ONE);
    CHECK(fd_threshold(1.0) == 0);
    CHECK(fd_threshold(0.5) == (uint64_t)1 << 31);
    CHECK(fd_threshold(0.25) == (uint64_t)3 << 30);
    CHECK(fd_threshold(1e-300) == FD_THRESHOLD_ONE);
    CHECK(fd_threshold(ldexp(1.0, -32)) == FD_THRESHOLD_ONE - 1);
    CHECK(fd_threshold(ldexp(1.0, -33)) == FD_THRESHOLD_ONE - 1);           /* a half: up */
    CHECK(fd_threshold(nextafter(ldexp(1.0, -33), 0.0)) == FD_THRESHOLD_ONE); /* just below */
    CHECK(fd_blocks(0) == 0 && fd_blocks(1) == 1 && fd_blocks(128) == 1 && fd_blocks(129) == 2);
}

static void test_masks_against_model(void)
{
    static const uint64_t thresholds[] = {0, 1, 2, 0x80000000u, 0x80000001u, 0xe6666666u,
                                          0xffffffffu, (uint64_t)1 << 32, 0x1999999au,
                                          0x80800000u, 0x00800000u};
    static const uint64_t offsets[] = {0, 7, 0xfffffffeu, 0xffffffffffffffffULL - 3};
    /* in blocks: 1, 2, 11, 16, 17, 40, 157 (the paths' last 1 to 4 vectors of blocks) */
    static const uint64_t sizes[] = {1, 31, 128, 129, 1400, 2048, 2049, 5000, 20000};
    size_t t, o, s;
    for (t = 0; t < sizeof thresholds / sizeof *thresholds; t++)
        for (o = 0; o < sizeof offsets / sizeof *offsets; o++)
            for (s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                fd_bernoulli rule = {next_random(), offsets[o], thresholds[t]};
                uint64_t n = sizes[s], i;
                uint8_t *mask = malloc((size_t)n);
                uint8_t *packed = malloc((size_t)((n + 7) / 8));
                int bad = 0;
                CHECK(fd_mask_bool(&rule, n, mask) == FD_OK);
                CHECK(fd_mask_packed(&rule, n, packed) == FD_OK);
                for (i = 0; i < n; i++) {
                    bad += mask[i] != model_keep(&rule, i);
                    bad += mask[i] != ((packed[i / 8] >> (i % 8)) & 1);
                }
                if (n % 8) bad += (packed[n / 8] >> (n % 8)) != 0;
                CHECK(bad == 0);
                free(mask);
                free(packed);
            }
}

/* T equal to an element's own U_i (a 2^-32 event at a random T), and one above: the element is
 * dropped, then kept, in bool and packed masks and in dropout, on the active path. */
static void test_threshold_at_an_element(void)
{
    static const uint64_t elements[] = {0, 17, 127, 128, 1000, 2047, 2048};
    enum { N = 2049 };
    uint8_t mask[N], packed[(N + 7) / 8], dropout_mask[N];
    float x[N], y[N];
    const int64_t shape[1] = {N}, strides[1] = {sizeof(float)};
    size_t e, i;
    int above;
    for (i = 0; i < N; i++) x[i] = 1.0f;
    for (e = 0; e < sizeof elements / sizeof *elements; e++)
        for (above = 0; above <= 1; above++) {
            fd_bernoulli rule = {next_random(), next_random(), 0};
            int bad = 0;
            rule.threshold = (uint64_t)model_uniform(&rule, elements[e]) + (uint64_t)above;
            CHECK(fd_mask_bool(&rule, N, mask) == FD_OK);
            CHECK(fd_mask_packed(&rule, N, packed) == FD_OK);
            CHECK(fd_dropout(FD_FLOAT32, &rule, 1.0, 1, shape, x, strides, y, strides,
                             dropout_mask) == FD_OK);
            CHECK(mask[elements[e]] == above);
            for (i = 0; i < N; i++) {
                bad += mask[i] != model_keep(&rule, i) || mask[i] != dropout_mask[i];
                bad += mask[i] != ((packed[i / 8] >> (i % 8)) & 1) || y[i] != (float)mask[i];
            }
            CHECK(bad == 0);
        }
}

/* Every float16 survives the round trip; a few float32 values round as IEEE says. */
static void test_float16_conversion(void)
{
    uint32_t h;
    int bad = 0;
    for (h = 0; h < 65536; h++) {
        int nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        if (!nan) bad += fd_f32_to_f16(fd_f16_to_f32((uint16_t)h)) != h;
        else bad += !isnan(fd_f16_to_f32((uint16_t)h));
    }
    CHECK(bad == 0);
    CHECK(fd_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(fd_f32_to_f16(65519.99f) == 0x7bff);
    CHECK(fd_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(fd_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00);     /* tie to even: down */
    CHECK(fd_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02); /* tie to even: up */
    CHECK(fd_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);            /* tie to even: zero */
    CHECK(fd_f32_to_f16(ldexpf(1.5f, -25)) == 0x0001);
    CHECK(fd_f32_to_f16(ldexpf(1.0f, -14)) == 0x0400);
    CHECK(fd_f32_to_f16(-0.0f) == 0x8000);
    CHECK(fd_f32_to_f16(1e10f) == 0x7c00);
    CHECK(fd_f32_to_f16(NAN) != 0x7c00 && (fd_f32_to_f16(NAN) & 0x7c00) == 0x7c00);
}

/* Inverted dropout of every float16 or bfloat16 value, all kept, against the model (through
 * float32, one multiply, rounded once) on the active path: paths may convert with their own
 * instructions. Scales that round ties, overflow to infinity and make subnormals or normals. */
static void test_half_every_value(fd_dtype dtype)
{
    static const double scales[] = {1.0 / 0.9, 1.5, 2.0, 1e4, 1.0000001, 1.0 / 0.3, 1e30, 0x1p-100};
    static uint16_t h[65536], got[65536];
    const fd_bernoulli keep_all = {1, 0, FD_THRESHOLD_ONE};
    const int64_t shape[1] = {65536}, strides[1] = {2};
    size_t i, k;
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    for (k = 0; k < sizeof scales / sizeof *scales; k++) {
        int bad = 0;
        CHECK(fd_dropout(dtype, &keep_all, scales[k], 1, shape, h, strides, got, strides, NULL) ==
              FD_OK);
        for (i = 0; i < 65536; i++) {
            const float in = dtype == FD_FLOAT16 ? fd_f16_to_f32(h[i]) : fd_bf16_to_f32(h[i]);
            const float want = in * (float)scales[k];
            bad += got[i] != (dtype == FD_FLOAT16 ? fd_f32_to_f16(want) : fd_f32_to_bf16(want));
        }
        CHECK(bad == 0);
    }
}

/* bfloat16 -> float32 -> bfloat16 gives every bfloat16 back (a NaN quieted); float32 values round
 * to nearest even, overflow to inf, and NaNs keep their sign and top payload bits. */
static void test_bfloat16_conversion(void)
{
    static const uint32_t signaling = 0xffa0ffffu, all_ones = 0x7fffffffu; /* rounding: a carry */
    uint32_t b;
    float f;
    int bad = 0;
    for (b = 0; b < 65536; b++) {
        const int nan = (b & 0x7f80u) == 0x7f80u && (b & 0x7fu);
        bad += fd_f32_to_bf16(fd_bf16_to_f32((uint16_t)b)) != (nan ? b | 0x40u : b);
        bad += nan != (isnan(fd_bf16_to_f32((uint16_t)b)) != 0);
    }
    CHECK(bad == 0);
    CHECK(fd_bf16_to_f32(0x3f80) == 1.0f && fd_bf16_to_f32(0xc000) == -2.0f);
    CHECK(fd_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80);     /* tie to even: down */
    CHECK(fd_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)) == 0x3f82); /* tie to even: up */
    CHECK(fd_f32_to_bf16(1.0f + ldexpf(1.0f, -8) + ldexpf(1.0f, -20)) == 0x3f81); /* above */
    CHECK(fd_f32_to_bf16(FLT_MAX) == 0x7f80);                     /* rounds up to inf */
    CHECK(fd_f32_to_bf16(-FLT_MAX) == 0xff80);
    CHECK(fd_f32_to_bf16(ldexpf(255.0f, 120)) == 0x7f7f);         /* the largest bfloat16 */
    CHECK(fd_f32_to_bf16(ldexpf(1.0f, -134)) == 0x0000); /* half the smallest subnormal: even */
    CHECK(fd_f32_to_bf16(ldexpf(3.0f, -134)) == 0x0002); /* 1.5 subnormals: to even, 2 */
    CHECK(fd_f32_to_bf16(-0.0f) == 0x8000);
    CHECK(fd_f32_to_bf16(INFINITY) == 0x7f80);
    memcpy(&f, &signaling, sizeof f);
    CHECK(fd_f32_to_bf16(f) == 0xffe0);
    memcpy(&f, &all_ones, sizeof f);
    CHECK(fd_f32_to_bf16(f) == 0x7fff);
}

/* fd_dropout of a strided 2-d float32 view against the per-element model, in place and not. */
static void test_dropout_float32_strided(void)
{
    enum { ROWS = 37, COLS = 75 };
    float *base = malloc(sizeof(float) * ROWS * COLS * 2);
    float *out = malloc(sizeof(float) * ROWS * COLS);
    uint8_t *mask = malloc(ROWS * COLS);
    fd_bernoulli rule = {12345, 99, fd_threshold(0.3)};
    const double scale = 1.0 / 0.7;
    int64_t shape[2] = {ROWS, COLS};
    /* every other column of a ROWS x 2*COLS buffer, rows walked backwards */
    int64_t x_strides[2] = {-(int64_t)(2 * COLS * sizeof(float)), 2 * sizeof(float)};
    int64_t out_strides[2] = {COLS * sizeof(float), sizeof(float)};
    const float *x0 = base + (ROWS - 1) * 2 * COLS;
    int r, c, bad = 0;
    for (r = 0; r < ROWS * COLS * 2; r++) base[r] = (float)(next_random() % 2001) / 100.0f - 10.0f;
    CHECK(fd_dropout(FD_FLOAT32, &rule, scale, 2, shape, x0, x_strides, out, out_strides, mask) ==
          FD_OK);
    for (r = 0; r < ROWS; r++)
        for (c = 0; c < COLS; c++) {
            uint64_t i = (uint64_t)r * COLS + (uint64_t)c;
            float x = x0[-r * 2 * COLS + 2 * c];
            float want = model_keep(&rule, i) ? x * (float)scale : 0.0f;
            bad += memcmp(&out[i], &want, sizeof want) != 0;
            bad += mask[i] != model_keep(&rule, i);
        }
    CHECK(bad == 0);
    /* in place on the contiguous result gives the result scaled again where kept */
    memcpy(base, out, sizeof(float) * ROWS * COLS);
    CHECK(fd_dropout(FD_FLOAT32, &rule, scale, 2, shape, base, out_strides, base, out_strides,
                     NULL) == FD_OK);
    for (r = 0, bad = 0; r < ROWS * COLS; r++) {
        float want = model_keep(&rule, (uint64_t)r) ? out[r] * (float)scale : 0.0f;
        bad += memcmp(&base[r], &want, sizeof want) != 0;
    }
    CHECK(bad == 0);
    free(base);
    free(out);
    free(mask);
}

/* float64, float16 and bfloat16, contiguous, with NaN and inf inputs; vanilla (scale 1) copies
 * bits; bfloat16 is scaled in float32 and rounded once. */
static void test_dropout_other_dtypes(void)
{
    enum { N = 3001 };
    double *x = malloc(sizeof(double) * N), *y = malloc(sizeof(double) * N);
    uint16_t *h = malloc(sizeof(uint16_t) * N), *hy = malloc(sizeof(uint16_t) * N);
    uint16_t *b = malloc(sizeof(uint16_t) * N), *by = malloc(sizeof(uint16_t) * N);
    fd_bernoulli rule = {next_random(), 5, fd_threshold(0.5)};
    int64_t shape[1] = {N}, s64[1] = {8}, s16[1] = {2};
    int i, bad = 0;
    for (i = 0; i < N; i++) {
        x[i] = i % 97 == 0 ? NAN : i % 89 == 0 ? -INFINITY : (double)(next_random() % 1000) - 500.0;
        h[i] = fd_f32_to_f16((float)x[i]);
        b[i] = fd_f32_to_bf16((float)x[i] * 0.001f);
    }
    CHECK(fd_dropout(FD_FLOAT64, &rule, 2.0, 1, shape, x, s64, y, s64, NULL) == FD_OK);
    CHECK(fd_dropout(FD_FLOAT16, &rule, 1.0, 1, shape, h, s16, hy, s16, NULL) == FD_OK);
    CHECK(fd_dropout(FD_BFLOAT16, &rule, 1.0 / 0.7, 1, shape, b, s16, by, s16, NULL) == FD_OK);
    for (i = 0; i < N; i++) {
        const float scaled = fd_bf16_to_f32(b[i]) * (float)(1.0 / 0.7);
        int keep = model_keep(&rule, (uint64_t)i);
        double want = keep ? x[i] * 2.0 : 0.0;
        if (keep && isnan(x[i])) bad += !isnan(y[i]);
        else bad += memcmp(&y[i], &want, sizeof want) != 0;
        bad += hy[i] != (keep ? h[i] : 0);
        if (keep && isnan(scaled)) bad += !isnan(fd_bf16_to_f32(by[i]));
        else bad += by[i] != (keep ? fd_f32_to_bf16(scaled) : 0);
    }
    CHECK(bad == 0);
    free(x);
    free(y);
    free(h);
    free(hy);
    free(b);
    free(by);
}

/* Vanilla training (scale 1) copies kept elements bit for bit: a multiply by 1 would quiet
 * signaling NaNs, as a Clang -O3 build once did. Signaling NaNs only (random signs and
 * payloads), every dtype, contiguous at four offsets and strided both ways, in place or not;
 * checked against the input and the per-element model, not another path. */
static void test_vanilla_keeps_signaling_nans(void)
{
    enum { N = 3001, SPAN = 3 * N + 8 };
    static const uint64_t exponent[4] = {0x7c00u, 0x7f800000u, 0x7ff0000000000000u, 0x7f80u};
    static const int quiet_bit[4] = {9, 22, 51, 6}; /* indexed by fd_dtype */
    static uint8_t x[8 * SPAN], out[8 * SPAN];
    int d, layout, in_place;
    for (d = FD_FLOAT16; d <= LAST_DTYPE; d++)
        for (layout = 0; layout < 6; layout++) /* offsets 0..3, stride 3, stride -2 */
            for (in_place = 0; in_place < 2; in_place++) {
                const int64_t size = element_size((fd_dtype)d);
                const int64_t step = layout < 4 ? 1 : layout == 4 ? 3 : -2;
                const size_t first = layout < 4 ? (size_t)layout : layout == 4 ? 0 : 2 * (N - 1);
                const int64_t shape[1] = {N}, strides[1] = {step * size}, dense[1] = {size};
                const double p = in_place ? 0.5 : 0.4; /* 0.5: one pass on some paths */
                fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(p)};
                size_t i, bad = 0;
                for (i = 0; i < SPAN; i++) {
                    const uint64_t payload = next_random() % ((uint64_t)1 << quiet_bit[d]) | 1u;
                    const uint64_t sign = (next_random() & 1u) << (8 * size - 1);
                    const uint64_t bits = sign | exponent[d] | payload;
                    char *at = (char *)x + (size_t)size * i;
                    if (size == 2) fd_store_u16(at, (uint16_t)bits);
                    else if (d == FD_FLOAT32) fd_store_u32(at, (uint32_t)bits);
                    else fd_store_u64(at, bits);
                }
                memcpy(out, x, sizeof out);
                CHECK(fd_dropout((fd_dtype)d, &rule, 1.0, 1, shape, x + (size_t)size * first,
                                 strides, in_place ? out + (size_t)size * first : out,
                                 in_place ? strides : dense, NULL) == FD_OK);
                for (i = 0; i < N; i++) {
                    static const uint8_t zero[8] = {0};
                    const size_t from = (size_t)size * (size_t)((int64_t)first + step * (int64_t)i);
                    const size_t to = in_place ? from : (size_t)size * i;
                    const uint8_t *want = model_keep(&rule, i) ? x + from : zero;
                    bad += memcmp(out + to, want, (size_t)size) != 0;
                }
                CHECK(bad == 0);
            }
}

static void test_errors(void)
{
    fd_bernoulli rule = {1, 0, FD_THRESHOLD_ONE + 1};
    fd_bernoulli good = {1, 0, 7};
    int64_t shape[1] = {4}, bad_shape[1] = {-1}, strides[1] = {4};
    int64_t empty_then_negative[2] = {0, -1}, strides2[2] = {4, 4};
    float buf[4] = {1, 2, 3, 4};
    uint8_t m;
    CHECK(fd_dropout(FD_FLOAT32, &rule, 1.0, 1, shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_THRESHOLD);
    CHECK(fd_dropout(FD_FLOAT32, NULL, 1.0, 1, shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_NULL);
    CHECK(fd_dropout((fd_dtype)7, &good, 1.0, 1, shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_DTYPE);
    CHECK(fd_dropout((fd_dtype)(LAST_DTYPE + 1), &good, 1.0, 1, shape, buf, strides, buf, strides,
                     NULL) == FD_ERR_DTYPE);
    CHECK(fd_dropout(FD_FLOAT32, &good, 1.0, 65, shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_NDIM);
    CHECK(fd_dropout(FD_FLOAT32, &good, 1.0, 1, bad_shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_SHAPE);
    CHECK(fd_dropout(FD_FLOAT32, &good, 1.0, 2, empty_then_negative, buf, strides2, buf, strides2,
                     NULL) == FD_ERR_SHAPE);
    CHECK(fd_dropout(FD_FLOAT32, &good, 1.0, 1, shape, NULL, strides, buf, strides, NULL) ==
          FD_ERR_NULL);
    CHECK(fd_dropout(FD_FLOAT32, &good, nan(""), 1, shape, buf, strides, buf, strides, NULL) ==
          FD_ERR_SCALE);
    CHECK(buf[0] == 1 && buf[3] == 4); /* nothing written on error */
    CHECK(fd_mask_bool(&rule, 1, &m) == FD_ERR_THRESHOLD);
    CHECK(fd_mask_packed(&good, 1, NULL) == FD_ERR_NULL);
    CHECK(fd_mask_bool(&good, 0, NULL) == FD_OK);
    CHECK(fd_simd_select("no-such-path") == FD_ERR_SIMD);
    CHECK(fd_simd_select("scalar") == FD_OK && strcmp(fd_simd_path(), "scalar") == 0);
    CHECK(strcmp(fd_status_message(FD_ERR_SHAPE), "unknown status") != 0);
    CHECK(strcmp(fd_status_message(FD_ERR_SCALE), "unknown status") != 0);
}

/* A 0-d array is one element; an empty one writes nothing. */
static void test_zero_d_and_empty(void)
{
    fd_bernoulli keep_all = {3, 0, FD_THRESHOLD_ONE};
    double x = 1.5, y = 0.0;
    int64_t shape[2] = {0, 5}, strides[2] = {40, 8};
    CHECK(fd_dropout(FD_FLOAT64, &keep_all, 2.0, 0, NULL, &x, NULL, &y, NULL, NULL) == FD_OK);
    CHECK(y == 3.0);
    CHECK(fd_dropout(FD_FLOAT64, &keep_all, 2.0, 2, shape, NULL, strides, NULL, strides, NULL) ==
          FD_OK);
}

/* Every path this CPU runs gives the bytes of the scalar path, for masks and all dtypes; with
 * 1 to 8 planes and ties (p = 0.5: 1 plane; 0.25: 2; 0.125 and 0.375: 3; 1/32: 5). */
static void test_paths_agree(const char *path)
{
    enum { N = 70001 };
    static const double ps[] = {0.0, 0.1, 0.5, 0.7, 1.0 / 3.0, 0.999, 1.0,
                                0.25, 0.125, 0.375, 1.0 / 32};
    uint8_t *x = malloc(8 * N), *ref = malloc(8 * N), *got = malloc(8 * N);
    size_t i, k;
    int d;
    for (i = 0; i < 8 * N; i++) x[i] = (uint8_t)next_random();
    for (k = 0; k < sizeof ps / sizeof *ps; k++)
        for (d = FD_FLOAT16; d <= LAST_DTYPE; d++) {
            fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(ps[k])};
            int64_t size = element_size((fd_dtype)d);
            int64_t shape[1] = {N - d}, strides[1] = {size};
            CHECK(fd_simd_select("scalar") == FD_OK);
            CHECK(fd_dropout((fd_dtype)d, &rule, 1.5, 1, shape, x, strides, ref, strides, NULL) ==
                  FD_OK);
            CHECK(fd_simd_select(path) == FD_OK);
            CHECK(fd_dropout((fd_dtype)d, &rule, 1.5, 1, shape, x, strides, got, strides, NULL) ==
                  FD_OK);
            CHECK(memcmp(ref, got, (size_t)(size * shape[0])) == 0);
            CHECK(fd_mask_packed(&rule, N, got) == FD_OK);
            CHECK(fd_simd_select("scalar") == FD_OK);
            CHECK(fd_mask_packed(&rule, N, ref) == FD_OK);
            CHECK(memcmp(ref, got, (N + 7) / 8) == 0);
        }
    free(x);
    free(ref);
    free(got);
}

/* Runs fd_dropout on the scalar path and on `path` from the same input, out at byte offset
 * out_at of a guarded buffer (x at x_at of another, or out itself in place); checks that the
 * bytes agree and that nothing around out was written. */
static void check_placement(const char *path, fd_dtype dtype, const fd_bernoulli *rule,
                            double scale, size_t n, size_t x_at, size_t out_at, int in_place)
{
    enum { GUARD = 128, CAP = 8 * 4096 };
    static uint8_t source[CAP + 2 * GUARD], x[CAP + 2 * GUARD], ref[CAP + 2 * GUARD],
        got[CAP + 2 * GUARD];
    const int64_t size = element_size(dtype);
    const int64_t shape[1] = {(int64_t)n}, strides[1] = {size};
    const size_t bytes = n * (size_t)size;
    size_t i;
    for (i = 0; i < sizeof source; i++) source[i] = (uint8_t)next_random();
    memcpy(ref, source, sizeof ref); /* in place: out starts as the input */
    memcpy(got, source, sizeof got);
    memcpy(x, source, sizeof x);
    CHECK(fd_simd_select("scalar") == FD_OK);
    CHECK(fd_dropout(dtype, rule, scale, 1, shape, in_place ? ref + out_at : x + x_at, strides,
                     ref + out_at, strides, NULL) == FD_OK);
    CHECK(fd_simd_select(path) == FD_OK);
    CHECK(fd_dropout(dtype, rule, scale, 1, shape, in_place ? got + out_at : x + x_at, strides,
                     got + out_at, strides, NULL) == FD_OK);
    CHECK(memcmp(ref + out_at, got + out_at, bytes) == 0);
    CHECK(memcmp(got, source, out_at) == 0);
    CHECK(memcmp(got + out_at + bytes, source + out_at + bytes, sizeof got - out_at - bytes) == 0);
}

/* fd_mask_bool at byte offset at of a guarded buffer: the scalar path's bytes, nothing around. */
static void check_bool_placement(const char *path, const fd_bernoulli *rule, size_t n, size_t at)
{
    enum { GUARD = 128, CAP = 3 * 8192 };
    static uint8_t ref[CAP + 2 * GUARD], got[CAP + 2 * GUARD];
    size_t i, touched = 0;
    memset(ref, 0xa5, sizeof ref);
    memset(got, 0xa5, sizeof got);
    CHECK(fd_simd_select("scalar") == FD_OK);
    CHECK(fd_mask_bool(rule, n, ref + at) == FD_OK);
    CHECK(fd_simd_select(path) == FD_OK);
    CHECK(fd_mask_bool(rule, n, got + at) == FD_OK);
    CHECK(memcmp(ref + at, got + at, n) == 0);
    for (i = 0; i < sizeof got; i++) touched += (i < at || i >= at + n) && got[i] != 0xa5;
    CHECK(touched == 0);
}

/* Every path gives the scalar path's bytes wherever the arrays start in a cache line (kernels
 * may align their stores to lines), for lengths with and without partial words and groups. */
static void test_paths_agree_any_alignment(const char *path)
{
    static const size_t lengths[] = {1, 7, 31, 32, 33, 64, 100, 1000, 4096 - 3};
    static const size_t offsets[] = {0, 1, 2, 4, 8, 12, 16, 24, 36, 48, 60};
    size_t l, o;
    int d;
    for (d = FD_FLOAT16; d <= LAST_DTYPE; d++)
        for (l = 0; l < sizeof lengths / sizeof *lengths; l++)
            for (o = 0; o < sizeof offsets / sizeof *offsets; o++) {
                fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(0.3)};
                const size_t out_at = 64 + offsets[o], x_at = 64 + offsets[(o + 3) % 11];
                check_placement(path, (fd_dtype)d, &rule, 1.5, lengths[l], x_at, out_at, 1);
                check_placement(path, (fd_dtype)d, &rule, 1.0, lengths[l], x_at, out_at, 1);
                check_placement(path, (fd_dtype)d, &rule, 1.5, lengths[l], x_at, out_at, 0);
                check_placement(path, (fd_dtype)d, &rule, 1.0, lengths[l], out_at, out_at, 0);
                if (d == FD_FLOAT32) { /* p = 0.5: one pass on some paths */
                    rule.threshold = fd_threshold(0.5);
                    check_placement(path, FD_FLOAT32, &rule, 1.5, lengths[l], x_at, out_at, 1);
                    check_placement(path, FD_FLOAT32, &rule, 1.0, lengths[l], x_at, out_at, 0);
                }
            }
    for (l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (o = 0; o < 64; o++) {
            fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(0.3)};
            check_bool_placement(path, &rule, lengths[l], 64 + o);
            check_bool_placement(path, &rule, 2 * FD_CHUNK_ELEMENTS + lengths[l], 64 + o);
        }
}

/* The group kernels called directly with more groups than a chunk's (the driver passes one
 * chunk's words at most; a path that works in pieces must still cover all): the scalar path's
 * bytes at every alignment of out, and nothing past the end written. */
static void test_groups_past_a_chunk(const char *path)
{
    enum { GROUPS = 2 * FD_CHUNK_WORDS + 37, BYTES = 32 * 8 * GROUPS + 128 };
    static uint32_t words[GROUPS];
    static uint8_t x[BYTES], ref[BYTES], got[BYTES];
    const fd_kernels *scalar, *kernels;
    size_t i, at;
    int d, multiply;
    for (i = 0; i < GROUPS; i++) words[i] = (uint32_t)next_random();
    for (i = 0; i < BYTES; i++) x[i] = (uint8_t)next_random();
    CHECK(fd_simd_select("scalar") == FD_OK);
    scalar = fd_active_kernels();
    CHECK(fd_simd_select(path) == FD_OK);
    kernels = fd_active_kernels();
    for (d = FD_FLOAT16; d <= LAST_DTYPE; d++)
        for (multiply = 0; multiply < 2; multiply++)
            for (at = 0; at < 64; at += 4) {
                memset(ref, 0xa5, BYTES);
                memset(got, 0xa5, BYTES);
                if (multiply) {
                    scalar->scale_groups[d](words, GROUPS, (char *)x + at, (char *)ref + at, 1.5);
                    kernels->scale_groups[d](words, GROUPS, (char *)x + at, (char *)got + at, 1.5);
                } else {
                    scalar->select_groups[d](words, GROUPS, (char *)x + at, (char *)ref + at);
                    kernels->select_groups[d](words, GROUPS, (char *)x + at, (char *)got + at);
                }
                CHECK(memcmp(ref, got, BYTES) == 0);
            }
}

#if FENCED_PAGES
enum { FENCED = 20 }; /* pages: a chunk and more of float64 */

/* FENCED read-write pages between two inaccessible ones: any access outside them faults. */
static uint8_t *fenced_pages(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *base = mmap(NULL, (FENCED + 2) * page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    if (mprotect(base, page, PROT_NONE) != 0 ||
        mprotect(base + (FENCED + 1) * page, page, PROT_NONE) != 0) {
        munmap(base, (FENCED + 2) * page);
        return NULL;
    }
    return base + page;
}

static void on_stray_access(int signal_number)
{
    static const char message[] = "test_no_access_outside: a kernel touched a fenced page\n";
    (void)signal_number;
    if (write(2, message, sizeof message - 1) < 0) _exit(2);
    _exit(1);
}

static void unfence(uint8_t *pages)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(pages - page, (FENCED + 2) * page);
}

/* `bytes` of fenced pages from `offset` past the first fence, or (FLUSH_END) flush against the
 * last. */
#define FLUSH_END ((size_t)-1)
static uint8_t *placed(uint8_t *pages, size_t bytes, size_t offset)
{
    return offset == FLUSH_END ? pages + FENCED * (size_t)sysconf(_SC_PAGESIZE) - bytes
                               : pages + offset;
}

/* No kernel touches memory outside what it is given. The SIMD paths use masked loads and stores
 * at the ends of arrays and keep words, which ASan does not check; here every array, mask and
 * word array lies flush against an inaccessible page, before or after it, so that a stray access
 * faults. The results are checked against the scalar path's too. */
static void test_no_access_outside(const char *path)
{
    static const size_t lengths[] = {1, 5, 31, 33, 100, 1000, FD_CHUNK_ELEMENTS + 37};
    static const size_t offsets[] = {0, 16, 36, FLUSH_END}, ends[] = {0, FLUSH_END};
    uint8_t *xs = fenced_pages(), *outs = fenced_pages(), *words_pages = fenced_pages();
    uint8_t *ref = malloc(FD_CHUNK_ELEMENTS * 8 + 37 * 8);
    const fd_kernels *scalar, *kernels;
    size_t l, i, o;
    int d, at_end, in_place, multiply;
    CHECK(xs && outs && words_pages && ref);
    if (!xs || !outs || !words_pages || !ref) return;
    signal(SIGSEGV, on_stray_access);
    signal(SIGBUS, on_stray_access); /* what macOS raises for some protection faults */
    for (i = 0; i < FENCED * (size_t)sysconf(_SC_PAGESIZE); i++) xs[i] = (uint8_t)next_random();
    for (l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (at_end = 0; at_end < 4; at_end++) { /* bit 0: x flush at the end, bit 1: out */
            const size_t n = lengths[l];
            const double p = (l + (size_t)at_end) % 2 ? 0.5 : 0.3; /* 0.5: one pass on some paths */
            fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(p)};
            for (d = FD_FLOAT16; d <= LAST_DTYPE; d++)
                for (in_place = 0; in_place < 2; in_place++)
                    for (multiply = 0; multiply < 2; multiply++) {
                        const int64_t size = element_size((fd_dtype)d);
                        const int64_t shape[1] = {(int64_t)n}, strides[1] = {size};
                        const size_t bytes = n * (size_t)size;
                        const double scale = multiply ? 1.5 : 1.0;
                        uint8_t *x = placed(xs, bytes, ends[at_end & 1]);
                        uint8_t *out = placed(outs, bytes, ends[at_end >> 1]);
                        memcpy(out, x, bytes);
                        CHECK(fd_simd_select("scalar") == FD_OK);
                        CHECK(fd_dropout((fd_dtype)d, &rule, scale, 1, shape, in_place ? out : x,
                                         strides, out, strides, NULL) == FD_OK);
                        memcpy(ref, out, bytes);
                        memcpy(out, x, bytes);
                        CHECK(fd_simd_select(path) == FD_OK);
                        CHECK(fd_dropout((fd_dtype)d, &rule, scale, 1, shape, in_place ? out : x,
                                         strides, out, strides, NULL) == FD_OK);
                        CHECK(memcmp(ref, out, bytes) == 0);
                    }
            CHECK(fd_simd_select("scalar") == FD_OK);
            CHECK(fd_mask_bool(&rule, n, ref) == FD_OK);
            CHECK(fd_simd_select(path) == FD_OK);
            CHECK(fd_mask_bool(&rule, n, placed(outs, n, ends[at_end & 1])) == FD_OK);
            CHECK(memcmp(ref, placed(outs, n, ends[at_end & 1]), n) == 0);
            CHECK(fd_simd_select("scalar") == FD_OK);
            CHECK(fd_mask_packed(&rule, n, ref) == FD_OK);
            CHECK(fd_simd_select(path) == FD_OK);
            CHECK(fd_mask_packed(&rule, n, placed(outs, (n + 7) / 8, ends[at_end & 1])) == FD_OK);
            CHECK(memcmp(ref, placed(outs, (n + 7) / 8, ends[at_end & 1]), (n + 7) / 8) == 0);
        }
    /* the group kernels, called directly: the words flush (the driver hands them stack buffers),
     * the elements flush or at offsets into a line (where the SIMD paths shift the words) */
    CHECK(fd_simd_select("scalar") == FD_OK);
    scalar = fd_active_kernels();
    CHECK(fd_simd_select(path) == FD_OK);
    kernels = fd_active_kernels();
    for (l = 1; l <= FD_CHUNK_WORDS; l += l < 20 ? 1 : 47)
        for (at_end = 0; at_end < 2; at_end++)
            for (o = 0; o < 16; o++) { /* x at offsets[o / 4], out at offsets[o % 4] */
                uint32_t *words = (uint32_t *)(void *)placed(words_pages, 4 * l, ends[at_end]);
                for (i = 0; i < l; i++) words[i] = (uint32_t)next_random();
                kernels->bool_groups(words, l, placed(outs, 32 * l, offsets[o % 4]));
                scalar->bool_groups(words, l, ref);
                CHECK(memcmp(ref, placed(outs, 32 * l, offsets[o % 4]), 32 * l) == 0);
                for (d = FD_FLOAT16; d <= LAST_DTYPE; d++) {
                    const size_t bytes = 32 * l * (size_t)element_size((fd_dtype)d);
                    const char *x = (const char *)placed(xs, bytes, offsets[o / 4]);
                    char *out = (char *)placed(outs, bytes, offsets[o % 4]);
                    scalar->scale_groups[d](words, l, x, (char *)ref, 1.5);
                    kernels->scale_groups[d](words, l, x, out, 1.5);
                    CHECK(memcmp(ref, out, bytes) == 0);
                    scalar->select_groups[d](words, l, x, (char *)ref);
                    kernels->select_groups[d](words, l, x, out);
                    CHECK(memcmp(ref, out, bytes) == 0);
                }
            }
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    unfence(xs);
    unfence(outs);
    unfence(words_pages);
    free(ref);
}
#endif

/* Every thread count on `path` gives the bytes of one thread on the scalar path, strided n-d
 * arrays and masks included. */
static void test_threads_agree(const char *path)
{
    enum { ROWS = 700, COLS = 1001 }; /* 700 * 1001 elements: several parts of several chunks */
    const size_t n = (size_t)ROWS * COLS;
    float *x = malloc(2 * n * sizeof *x);
    float *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
    uint8_t *ref_mask = malloc(n), *got_mask = malloc(n);
    /* x: every other column of a (700, 2002) array, read in reverse row order */
    int64_t shape[2] = {ROWS, COLS}, x_strides[2] = {-2 * COLS * 4, 8}, strides[2] = {COLS * 4, 4};
    const float *x_first = x + (size_t)(ROWS - 1) * 2 * COLS;
    fd_bernoulli rule = {next_random(), next_random(), fd_threshold(0.3)};
    int threads;
    size_t i;
    for (i = 0; i < 2 * n; i++) x[i] = (float)(int32_t)(uint32_t)next_random();
    fd_set_num_threads(1);
    CHECK(fd_simd_select("scalar") == FD_OK); /* the reference: one thread, the scalar path */
    CHECK(fd_dropout(FD_FLOAT32, &rule, 1.25, 2, shape, x_first, x_strides, ref, strides,
                     ref_mask) == FD_OK);
    CHECK(fd_simd_select(path) == FD_OK);
    for (threads = 2; threads <= 5; threads++) {
        fd_set_num_threads(threads);
        CHECK(fd_get_num_threads() == threads);
        memset(got, 0xab, n * sizeof *got);
        CHECK(fd_dropout(FD_FLOAT32, &rule, 1.25, 2, shape, x_first, x_strides, got, strides,
                         got_mask) == FD_OK);
        CHECK(memcmp(ref, got, n * sizeof *got) == 0 && memcmp(ref_mask, got_mask, n) == 0);
        CHECK(fd_mask_bool(&rule, n, got_mask) == FD_OK && memcmp(ref_mask, got_mask, n) == 0);
    }
    fd_set_num_threads(0);
    CHECK(fd_get_num_threads() == 1);
    fd_set_num_threads(100000);
    CHECK(fd_get_num_threads() == FD_MAX_THREADS);
    fd_set_num_threads(1);
    free(x);
    free(ref);
    free(got);
    free(ref_mask);
    free(got_mask);
}

/* A path's one-pass p = 0.5 float32 dropout (half_dropout_32), called directly: the scalar path's
 * keep words and bytes for windows of 1 to 256 blocks (whole steps and a remainder), groups from
 * any word, out at any 4-byte offset in a line, in place or not, scaled or selected; nothing
 * around out written. */
static void test_half_dropout_kernel(const char *path)
{
    enum { MOST = 256, GUARD = 64, BYTES = 4 * FD_BLOCK_ELEMENTS * MOST + 2 * GUARD };
    static const size_t blocks[] = {1, 3, 7, 8, 9, 16, 17, 31, 33, 63, 64, 65, 200, MOST};
    static uint8_t source[BYTES], x[BYTES], ref[BYTES], got[BYTES];
    static uint32_t ref_words[4 * MOST], got_words[4 * MOST];
    const fd_kernels *scalar, *kernels;
    size_t b, i;
    int trial;
    CHECK(fd_simd_select(path) == FD_OK);
    kernels = fd_active_kernels();
    CHECK(fd_simd_select("scalar") == FD_OK);
    scalar = fd_active_kernels();
    if (!kernels->half_dropout_32) return;
    for (i = 0; i < BYTES; i++) source[i] = (uint8_t)next_random();
    for (b = 0; b < sizeof blocks / sizeof *blocks; b++)
        for (trial = 0; trial < 24; trial++) {
            const fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(0.5)};
            const size_t words = 4 * blocks[b], g0 = trial < 8 ? 0 : next_random() % words;
            const size_t ngroups = trial % 4 == 3 ? 0 : (words - g0) - next_random() % 3 % (words - g0 + 1);
            const size_t at = GUARD + 4 * (next_random() % 16), bytes = 128 * ngroups;
            const int multiply = trial % 2, in_place = trial / 2 % 2;
            const double scale = multiply ? 1.5 : 1.0;
            memcpy(x, source, BYTES);
            memcpy(ref, source, BYTES);
            memcpy(got, source, BYTES);
            for (i = 0; i < blocks[b]; i += FD_CHUNK_BLOCKS) /* a chunk at most a call */
                scalar->keep_words(&rule, 77 + i, blocks[b] - i < FD_CHUNK_BLOCKS ? blocks[b] - i
                                                                                 : FD_CHUNK_BLOCKS,
                                   ref_words + 4 * i, NULL, 0);
            if (multiply)
                scalar->scale_groups[FD_FLOAT32](ref_words + g0, ngroups,
                                                 (char *)(in_place ? ref : x) + at, (char *)ref + at,
                                                 scale);
            else
                scalar->select_groups[FD_FLOAT32](ref_words + g0, ngroups,
                                                  (char *)(in_place ? ref : x) + at, (char *)ref + at);
            kernels->half_dropout_32(&rule, 77, blocks[b], got_words, g0, ngroups,
                                     (char *)(in_place ? got : x) + at, (char *)got + at, scale,
                                     multiply);
            CHECK(memcmp(ref_words, got_words, words * sizeof *got_words) == 0);
            CHECK(memcmp(ref, got, BYTES) == 0);
            CHECK(memcmp(got, source, at) == 0 && memcmp(got + at + bytes, source + at + bytes,
                                                         BYTES - at - bytes) == 0);
        }
}

/* float64 dropout at p = 0.1 of 2^22 elements and more (quarter windows of keep bits), in
 * place, on 1 and 2 threads, against the scalar path. */
static void test_long_float64_calls(const char *path)
{
    const size_t n = ((size_t)1 << 22) + 333;
    const int64_t shape[1] = {(int64_t)n}, strides[1] = {8};
    double *x = malloc(n * sizeof *x), *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
    const fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(0.1)};
    size_t i;
    int threads;
    CHECK(x && ref && got);
    if (!x || !ref || !got) return;
    for (i = 0; i < n; i++) x[i] = (double)(int64_t)next_random();
    fd_set_num_threads(1);
    CHECK(fd_simd_select("scalar") == FD_OK);
    memcpy(ref, x, n * sizeof *x);
    CHECK(fd_dropout(FD_FLOAT64, &rule, 1.25, 1, shape, ref, strides, ref, strides, NULL) == FD_OK);
    CHECK(fd_simd_select(path) == FD_OK);
    for (threads = 1; threads <= 2; threads++) {
        fd_set_num_threads(threads);
        memcpy(got, x, n * sizeof *x);
        CHECK(fd_dropout(FD_FLOAT64, &rule, 1.25, 1, shape, got, strides, got, strides, NULL) ==
              FD_OK);
        CHECK(memcmp(ref, got, n * sizeof *got) == 0);
    }
    fd_set_num_threads(1);
    free(x);
    free(ref);
    free(got);
}

/* p = 0.5 float32 dropout (in one pass on some paths) of calls split into pieces (2^18 elements
 * and more): in place, on 1 to 3 threads, and a box of a longer array, against the scalar path. */
static void test_half_dropout_calls(const char *path)
{
    const size_t n = ((size_t)1 << 20) + 333;
    const int64_t global[1] = {(int64_t)n + 1000}, start[1] = {333}, extent[1] = {(int64_t)n};
    const int64_t shape[1] = {(int64_t)n}, strides[1] = {4};
    const fd_box box = {1, global, start, extent};
    float *x = malloc(n * sizeof *x), *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
    fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(0.5)};
    size_t i;
    int threads;
    CHECK(x && ref && got);
    if (!x || !ref || !got) return;
    for (i = 0; i < n; i++) x[i] = (float)(int32_t)(uint32_t)next_random();
    for (threads = 1; threads <= 4; threads++) { /* 4: the box, on 2 threads */
        const int is_box = threads == 4;
        if (threads == 1 || is_box) { /* the reference: one thread, the scalar path */
            fd_set_num_threads(1);
            CHECK(fd_simd_select("scalar") == FD_OK);
            memcpy(ref, x, n * sizeof *x);
            CHECK((is_box ? fd_dropout_box(FD_FLOAT32, &rule, 2.0, &box, ref, strides, ref,
                                           strides, NULL)
                          : fd_dropout(FD_FLOAT32, &rule, 2.0, 1, shape, ref, strides, ref,
                                       strides, NULL)) == FD_OK);
        }
        fd_set_num_threads(is_box ? 2 : threads);
        CHECK(fd_simd_select(path) == FD_OK);
        memcpy(got, x, n * sizeof *x);
        CHECK((is_box ? fd_dropout_box(FD_FLOAT32, &rule, 2.0, &box, got, strides, got, strides,
                                       NULL)
                      : fd_dropout(FD_FLOAT32, &rule, 2.0, 1, shape, got, strides, got, strides,
                                   NULL)) == FD_OK);
        CHECK(memcmp(ref, got, n * sizeof *got) == 0);
    }
    fd_set_num_threads(1);
    free(x);
    free(ref);
    free(got);
}

/* fd_normal against the formula of fd_dropout.h computed with the C library's log, sin and cos
 * (fastdrop's own agree to a few units in the 15th digit), across the 96-bit carry; float32 is the double rounded
 * once; every thread count gives the same bits; and the errors. */
static void test_normal(void)
{
    enum { N = 300001 }; /* odd: the last pair is cut; several parts of several chunks */
    double *ref = malloc(N * sizeof *ref), *got = malloc(N * sizeof *got);
    double *first = malloc(N * sizeof *first);
    float *got32 = malloc(N * sizeof *got32);
    const uint64_t key = 0x0123456789abcdefu, offset = ~(uint64_t)0 - 100;
    size_t i, bad = 0, bad32 = 0, same = 0;
    int threads;
    for (i = 0; i < N; i++) {
        const uint64_t counter = offset + i / 128;
        const uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), counter < offset,
                                 64u + (uint32_t)(i % 128) / 2u};
        const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
        uint32_t w[4];
        double u1, u2;
        fd_philox4x32_10(ctr, k, w);
        u1 = ((double)((((uint64_t)w[1] << 32) | w[0]) >> 11) + 1.0) / 9007199254740992.0;
        u2 = (double)((((uint64_t)w[3] << 32) | w[2]) >> 11) / 9007199254740992.0;
        ref[i] = sqrt(-2.0 * log(u1)) * (i % 2 ? sin(6.283185307179586 * u2)
                                                : cos(6.283185307179586 * u2));
    }
    fd_set_num_threads(1);
    CHECK(fd_normal(key, offset, N, FD_FLOAT64, first) == FD_OK);
    for (i = 0; i < N; i++) bad += !(fabs(first[i] - ref[i]) <= 4e-15 * (1.0 + fabs(ref[i])));
    for (threads = 1; threads <= 3; threads++) {
        fd_set_num_threads(threads);
        CHECK(fd_normal(key, offset, N, FD_FLOAT64, got) == FD_OK);
        CHECK(fd_normal(key, offset, N, FD_FLOAT32, got32) == FD_OK);
        for (i = 0; i < N; i++) {
            same += got[i] == first[i];
            bad32 += got32[i] != (float)first[i];
        }
    }
    CHECK(bad == 0);
    CHECK(same == 3 * (size_t)N);
    CHECK(bad32 == 0);
    fd_set_num_threads(1);
    CHECK(fd_normal(key, offset, N, FD_FLOAT16, got) == FD_ERR_DTYPE);
    CHECK(fd_normal(key, offset, N, FD_BFLOAT16, got) == FD_ERR_DTYPE);
    CHECK(fd_normal(key, offset, N, FD_FLOAT64, NULL) == FD_ERR_NULL);
    CHECK(fd_normal(key, offset, 0, FD_FLOAT64, NULL) == FD_OK);
    free(ref);
    free(got);
    free(first);
    free(got32);
}

/* One box of one whole array, every way: dropout of every dtype from a strided x (rows in reverse,
 * every other element) and in place, with its mask; the bool and packed masks; the normals. Each
 * is checked against the whole array's call at the box's elements. whole_x holds the whole
 * array's values in each dtype (indexed by fd_dtype); the whole call's results come in ref_*. */
typedef struct {
    const fd_bernoulli *rule;
    double scale;
    uint64_t total;
    const uint8_t *whole_x[LAST_DTYPE + 1], *ref_y[LAST_DTYPE + 1], *ref_mask;
    const double *ref_normal;
    const float *ref_normal32;
} whole_results;

static void check_box(const whole_results *whole, const fd_box *box)
{
    uint64_t count = 1, k;
    int64_t strides[FD_MAX_NDIM], dense[FD_MAX_NDIM], step;
    size_t bad = 0;
    uint8_t *x, *y, *mask, *packed;
    uint64_t *at; /* the logical index of each element of the box */
    double *normal;
    float *normal32;
    int d, t;
    for (d = 0; d < box->ndim; d++) count *= (uint64_t)box->shape[d];
    at = malloc(8 * count + 8);
    for (k = 0; k < count; k++) at[k] = box_element(box, k);
    x = malloc(2 * 8 * count + 8);
    y = malloc(8 * count + 8);
    mask = malloc(count + 1);
    packed = malloc(count / 8 + 1);
    normal = malloc(8 * count + 8);
    normal32 = malloc(4 * count + 4);
    for (t = FD_FLOAT16; t <= LAST_DTYPE; t++) {
        const int64_t size = element_size((fd_dtype)t);
        /* x: every other element, rows walked backwards (first index at the end of the buffer) */
        uint8_t *x_first = x;
        for (d = box->ndim - 1, step = size; d >= 0; d--) {
            dense[d] = step;
            strides[d] = d == box->ndim - 1 ? 2 * size : -2 * step;
            step *= box->shape[d];
        }
        for (d = 0; d < box->ndim - 1; d++)
            if (box->shape[d] > 0) x_first += (size_t)(-strides[d] * (box->shape[d] - 1));
        for (k = 0; k < count; k++) {
            uint64_t rest = k;
            int64_t offset = 0;
            for (d = box->ndim - 1; d >= 0; d--) {
                offset += (int64_t)(rest % (uint64_t)box->shape[d]) * strides[d];
                rest /= (uint64_t)box->shape[d];
            }
            memcpy(x_first + offset, whole->whole_x[t] + (size_t)size * at[k], (size_t)size);
        }
        memset(mask, 0xa5, count + 1);
        CHECK(fd_dropout_box((fd_dtype)t, whole->rule, whole->scale, box, x_first, strides, y,
                             dense, mask) == FD_OK);
        for (k = 0; k < count; k++) {
            const uint64_t i = at[k];
            bad += memcmp(y + (size_t)size * k, whole->ref_y[t] + (size_t)size * i, (size_t)size) != 0;
            bad += mask[k] != whole->ref_mask[i];
        }
        bad += mask[count] != 0xa5;
        /* in place, on a C-ordered copy of the box */
        for (k = 0; k < count; k++)
            memcpy(y + (size_t)size * k, whole->whole_x[t] + (size_t)size * at[k],
                   (size_t)size);
        CHECK(fd_dropout_box((fd_dtype)t, whole->rule, whole->scale, box, y, dense, y, dense,
                             NULL) == FD_OK);
        for (k = 0; k < count; k++)
            bad += memcmp(y + (size_t)size * k,
                          whole->ref_y[t] + (size_t)size * at[k], (size_t)size) != 0;
    }
    memset(packed, 0xa5, count / 8 + 1);
    CHECK(fd_mask_bool_box(whole->rule, box, mask) == FD_OK);
    CHECK(fd_mask_packed_box(whole->rule, box, packed) == FD_OK);
    CHECK(fd_normal_box(whole->rule->key, whole->rule->offset, box, FD_FLOAT64, normal) == FD_OK);
    CHECK(fd_normal_box(whole->rule->key, whole->rule->offset, box, FD_FLOAT32, normal32) == FD_OK);
    for (k = 0; k < count; k++) {
        const uint64_t i = at[k];
        bad += mask[k] != whole->ref_mask[i];
        bad += ((packed[k / 8] >> (k % 8)) & 1) != whole->ref_mask[i];
        bad += memcmp(&normal[k], &whole->ref_normal[i], 8) != 0;
        bad += memcmp(&normal32[k], &whole->ref_normal32[i], 4) != 0;
    }
    if (count % 8) bad += (packed[count / 8] >> (count % 8)) != 0;
    else bad += packed[count / 8] != 0xa5;
    CHECK(bad == 0);
    if (bad) {
        fprintf(stderr, "  box of ndim %d:", box->ndim);
        for (d = 0; d < box->ndim; d++)
            fprintf(stderr, " [%lld + %lld of %lld]", (long long)box->start[d],
                    (long long)box->shape[d], (long long)box->global[d]);
        fprintf(stderr, ", %s path, %d threads\n", fd_simd_path(), fd_get_num_threads());
    }
    free(at);
    free(x);
    free(y);
    free(mask);
    free(packed);
    free(normal);
    free(normal32);
}

/* The whole array's results for a rule, then boxes of it: random ones of every ndim (rows that
 * start anywhere in a block, single elements, empty boxes, whole rows that merge into one run,
 * single columns) and fixed ones of a large array (windows of many blocks, several threads). */
static void test_boxes_of(const fd_bernoulli *rule, int ndim, const int64_t *global, int boxes,
                          const fd_box *fixed, int n_fixed)
{
    uint64_t total = 1, i;
    int64_t start[FD_MAX_NDIM], shape[FD_MAX_NDIM], dense[1];
    uint8_t *whole_x[LAST_DTYPE + 1], *ref_y[LAST_DTYPE + 1], *ref_mask;
    double *ref_normal;
    float *ref_normal32;
    whole_results whole;
    fd_box box;
    int d, t, b;
    for (d = 0; d < ndim; d++) total *= (uint64_t)global[d];
    ref_mask = malloc(total);
    ref_normal = malloc(8 * total);
    ref_normal32 = malloc(4 * total);
    whole.rule = rule;
    whole.scale = 1.25;
    whole.total = total;
    for (t = FD_FLOAT16; t <= LAST_DTYPE; t++) {
        const int64_t size = element_size((fd_dtype)t);
        const int64_t shape1[1] = {(int64_t)total};
        whole_x[t] = malloc((size_t)size * total);
        ref_y[t] = malloc((size_t)size * total);
        for (i = 0; i < total; i++) {
            const double v = (double)(int32_t)(uint32_t)next_random() / 65536.0;
            if (t == FD_FLOAT16) fd_store_u16((char *)whole_x[t] + 2 * i, fd_f32_to_f16((float)v));
            else if (t == FD_FLOAT32) fd_store_u32((char *)whole_x[t] + 4 * i, fd_f32_bits((float)v));
            else if (t == FD_BFLOAT16)
                fd_store_u16((char *)whole_x[t] + 2 * i, fd_f32_to_bf16((float)v));
            else memcpy(whole_x[t] + 8 * i, &v, 8);
        }
        dense[0] = size;
        CHECK(fd_dropout((fd_dtype)t, rule, whole.scale, 1, shape1, whole_x[t], dense, ref_y[t],
                         dense, ref_mask) == FD_OK);
        whole.whole_x[t] = whole_x[t];
        whole.ref_y[t] = ref_y[t];
    }
    CHECK(fd_normal(rule->key, rule->offset, total, FD_FLOAT64, ref_normal) == FD_OK);
    CHECK(fd_normal(rule->key, rule->offset, total, FD_FLOAT32, ref_normal32) == FD_OK);
    whole.ref_mask = ref_mask;
    whole.ref_normal = ref_normal;
    whole.ref_normal32 = ref_normal32;
    box.ndim = ndim;
    box.global = global;
    box.start = start;
    box.shape = shape;
    for (b = 0; b < boxes; b++) {
        for (d = 0; d < ndim; d++) {
            const unsigned kind = (unsigned)(next_random() % 8);
            if (kind == 0) { /* the whole extent: merges with the dimension before */
                start[d] = 0;
                shape[d] = global[d];
            } else if (kind == 1) { /* one coordinate */
                start[d] = (int64_t)(next_random() % (uint64_t)global[d]);
                shape[d] = 1;
            } else if (kind == 2 && b % 7 == 0) { /* empty, at either end */
                start[d] = next_random() % 2 ? global[d] : 0;
                shape[d] = 0;
            } else {
                start[d] = (int64_t)(next_random() % (uint64_t)global[d]);
                shape[d] = 1 + (int64_t)(next_random() % (uint64_t)(global[d] - start[d]));
            }
        }
        check_box(&whole, &box);
    }
    for (b = 0; b < n_fixed; b++) check_box(&whole, &fixed[b]);
    for (t = FD_FLOAT16; t <= LAST_DTYPE; t++) {
        free(whole_x[t]);
        free(ref_y[t]);
    }
    free(ref_mask);
    free(ref_normal);
    free(ref_normal32);
}

static void test_boxes(void)
{
    static const int64_t shapes[][4] = {{1, 1, 1, 1},  {300, 1, 1, 1}, {37, 75, 1, 1},
                                        {3, 5000, 1, 1}, {5, 7, 9, 11},  {2, 3, 130, 2},
                                        {1000, 3, 1, 1}, {4, 1, 2, 300}, {1, 1, 1, 1}};
    static const double ps[] = {0.3, 0.5, 0.999, 0.0, 1.0};
    static const int ndims[] = {0, 1, 2, 2, 4, 4, 2, 4, 1};
    const int64_t large[2] = {700, 1001}, large_start[2] = {100, 3}, large_shape[2] = {550, 997};
    const int64_t rows_start[2] = {1, 0}, rows_shape[2] = {698, 1001};
    size_t s;
    int threads;
    for (s = 0; s < sizeof ndims / sizeof *ndims; s++) {
        fd_bernoulli rule = {next_random(), next_random() >> 1, fd_threshold(ps[s % 5])};
        if (s % 3 == 1) rule.offset = ~(uint64_t)0 - 2; /* the carry into the counter's c2 */
        test_boxes_of(&rule, ndims[s], shapes[s], 40, NULL, 0);
    }
    for (threads = 1; threads <= 3; threads++) { /* several parts, windows of many blocks */
        fd_bernoulli rule = {next_random(), ~(uint64_t)0 - 3000, fd_threshold(0.3)};
        const fd_box fixed[2] = {{2, large, large_start, large_shape},
                                 {2, large, rows_start, rows_shape}};
        fd_set_num_threads(threads);
        test_boxes_of(&rule, 2, large, 2, fixed, 2);
    }
    fd_set_num_threads(1);
}

/* Every path gives the scalar path's normals, float32 and float64, for lengths around the vector
 * widths, the block (128) and the chunk, offsets across the 96-bit carry, and 1 to 3 threads
 * (the longest is split into parts). */
static void test_normal_paths_agree(const char *path)
{
    static const size_t lengths[] = {1,   2,    3,    5,    7,    9,    15,   17,   63,
                                     127, 128,  129,  255,  257,  1000, 8191, 8192, 8193,
                                     3 * 8192 + 77, 2 * FD_MIN_PART_ELEMENTS + 333};
    static const uint64_t offsets[] = {0, 1, 0xffffffffu, ~(uint64_t)0 - 3, ~(uint64_t)0};
    const size_t most = 2 * FD_MIN_PART_ELEMENTS + 333;
    uint8_t *ref = malloc(8 * most), *got = malloc(8 * most + 1);
    size_t l, o, bytes;
    int d, threads;
    for (l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (o = 0; o < sizeof offsets / sizeof *offsets; o++)
            for (d = FD_FLOAT32; d <= FD_FLOAT64; d++) {
                const uint64_t key = next_random();
                bytes = lengths[l] * (size_t)element_size((fd_dtype)d);
                fd_set_num_threads(1);
                CHECK(fd_simd_select("scalar") == FD_OK);
                CHECK(fd_normal(key, offsets[o], lengths[l], (fd_dtype)d, ref) == FD_OK);
                CHECK(fd_simd_select(path) == FD_OK);
                for (threads = 1; threads <= (lengths[l] == most ? 3 : 1); threads++) {
                    fd_set_num_threads(threads);
                    memset(got, 0xa5, 8 * most + 1);
                    CHECK(fd_normal(key, offsets[o], lengths[l], (fd_dtype)d, got) == FD_OK);
                    CHECK(memcmp(ref, got, bytes) == 0);
                    CHECK(got[bytes] == 0xa5); /* nothing past the end */
                }
            }
    fd_set_num_threads(1);
    free(ref);
    free(got);
}

/* The model of fd_gaussian_dropout: fastdrop.gaussian_dropout's NumPy operations on the scalar
 * path's normals, one rounding a statement. */
static void gaussian_model(fd_dtype dtype, const uint8_t *z, size_t n, double sigma,
                           const uint8_t *x, uint8_t *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (dtype == FD_FLOAT64) {
            double v, noise;
            memcpy(&v, x + 8 * i, 8);
            memcpy(&noise, z + 8 * i, 8);
            noise = noise * sigma;
            noise = noise + 1.0;
            v = v * noise;
            memcpy(out + 8 * i, &v, 8);
        } else {
            float v, noise;
            memcpy(&noise, z + 4 * i, 4);
            noise = noise * (float)sigma;
            noise = noise + 1.0f;
            if (dtype == FD_FLOAT32) {
                memcpy(&v, x + 4 * i, 4);
                v = v * noise;
                memcpy(out + 4 * i, &v, 4);
            } else {
                uint16_t h;
                memcpy(&h, x + 2 * i, 2);
                v = fd_f16_to_f32(h) * noise;
                h = fd_f32_to_f16(v);
                memcpy(out + 2 * i, &h, 2);
            }
        }
    }
}

/* fd_gaussian_dropout on every path is the model's bytes, in place and not, at odd byte offsets,
 * with infinities, NaNs and zeros among x, for lengths around the block and the part, and 1 to 3
 * threads; and its errors. */
static void test_gaussian_dropout(const char *path)
{
    static const size_t lengths[] = {1, 7, 127, 128, 129, 1000, 3 * 8192 + 77,
                                     2 * FD_MIN_PART_ELEMENTS + 333};
    static const double sigmas[] = {0.3333333333333333, 1.0, 3.0};
    const size_t most = 2 * FD_MIN_PART_ELEMENTS + 333;
    uint8_t *x = malloc(8 * most + 8), *z = malloc(8 * most), *ref = malloc(8 * most);
    uint8_t *got = malloc(8 * most + 8);
    size_t l, i, k;
    int d, threads, in_place;
    for (d = FD_FLOAT16; d <= FD_FLOAT64; d++)
        for (l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            const size_t n = lengths[l], size = (size_t)element_size((fd_dtype)d);
            const uint64_t key = next_random(), offset = ~(uint64_t)0 - (next_random() & 255);
            const double sigma = sigmas[l % 3];
            for (i = 0; i < n; i++) { /* values near 1, some special */
                const double v = (double)(next_random() % 2001) / 1000.0 - 1.0;
                const double special[4] = {INFINITY, -0.0, NAN, 65504.0};
                const double value = i % 97 == 3 ? special[i / 97 % 4] : v;
                if (d == FD_FLOAT64) memcpy(x + 1 + 8 * i, &value, 8);
                if (d == FD_FLOAT32) {
                    const float f = (float)value;
                    memcpy(x + 1 + 4 * i, &f, 4);
                }
                if (d == FD_FLOAT16) {
                    const uint16_t h = fd_f32_to_f16((float)value);
                    memcpy(x + 1 + 2 * i, &h, 2);
                }
            }
            CHECK(fd_simd_select("scalar") == FD_OK);
            fd_set_num_threads(1);
            CHECK(fd_normal(key, offset, n, d == FD_FLOAT64 ? FD_FLOAT64 : FD_FLOAT32, z) == FD_OK);
            gaussian_model((fd_dtype)d, z, n, sigma, x + 1, ref);
            CHECK(fd_simd_select(path) == FD_OK);
            for (threads = 1; threads <= (n == most ? 3 : 1); threads++)
                for (in_place = 0; in_place < 2; in_place++) {
                    fd_set_num_threads(threads);
                    memset(got, 0xa5, 8 * most + 8);
                    if (in_place) memcpy(got + 1, x + 1, size * n);
                    CHECK(fd_gaussian_dropout((fd_dtype)d, key, offset, n, sigma,
                                              in_place ? got + 1 : x + 1, got + 1) == FD_OK);
                    CHECK(memcmp(ref, got + 1, size * n) == 0);
                    CHECK(got[0] == 0xa5 && got[1 + size * n] == 0xa5);
                }
        }
    fd_set_num_threads(1);
    k = 16;
    CHECK(fd_gaussian_dropout((fd_dtype)3, 1, 0, k, 1.0, x, got) == FD_ERR_DTYPE);
    CHECK(fd_gaussian_dropout(FD_FLOAT32, 1, 0, k, NAN, x, got) == FD_ERR_SCALE);
    CHECK(fd_gaussian_dropout(FD_FLOAT32, 1, 0, ((uint64_t)1 << 62) + 1, 1.0, x, got) ==
          FD_ERR_SHAPE);
    CHECK(fd_gaussian_dropout(FD_FLOAT32, 1, 0, k, 1.0, NULL, got) == FD_ERR_NULL);
    CHECK(fd_gaussian_dropout(FD_FLOAT32, 1, 0, k, 1.0, x, NULL) == FD_ERR_NULL);
    CHECK(fd_gaussian_dropout(FD_FLOAT32, 1, 0, 0, 1.0, NULL, NULL) == FD_OK);
    free(x);
    free(z);
    free(ref);
    free(got);
}

/* The RNG floor kernel of every path generates exactly the outputs it is asked for: the xor of
 * their words is that of fd_philox4x32_10's, for block counts that are not whole vectors, offsets
 * across the carry and counts of c3 from 1 to 64; and the floor calls' errors. */
static void test_floors(const char *path)
{
    static const size_t counts[] = {1, 2, 5, 8, 64};
    static const size_t blocks[] = {1, 3, 4, 15, 16, 17, 33, 64};
    static const uint64_t offsets[] = {5, ~(uint64_t)0 - 20};
    const fd_kernels *kernels;
    size_t c, b, o, i, k;
    CHECK(fd_simd_select(path) == FD_OK);
    kernels = fd_active_kernels();
    for (c = 0; c < sizeof counts / sizeof *counts; c++)
        for (b = 0; b < sizeof blocks / sizeof *blocks; b++)
            for (o = 0; o < 2; o++) {
                const fd_bernoulli rule = {next_random(), offsets[o], 0};
                const uint32_t c3 = (uint32_t)(next_random() % 100);
                uint32_t expected = 0;
                for (i = 0; i < blocks[b]; i++)
                    for (k = 0; k < counts[c]; k++) {
                        int w;
                        for (w = 0; w < 4; w++)
                            expected ^= rule_output(&rule, 7 + i, c3 + (uint32_t)k, w);
                    }
                CHECK(kernels->philox_floor(rule.key, rule.offset, 7, blocks[b], c3,
                                            (unsigned)counts[c]) == expected);
            }
    {
        const fd_bernoulli rule = {1, 2, fd_threshold(0.1)}, bad = {1, 2, FD_THRESHOLD_ONE + 1};
        CHECK(fd_floor_mask(&rule, 100000) == FD_OK);
        CHECK(fd_floor_mask(&rule, 0) == FD_OK);
        CHECK(fd_floor_mask(NULL, 10) == FD_ERR_NULL);
        CHECK(fd_floor_mask(&bad, 10) == FD_ERR_THRESHOLD);
        CHECK(fd_floor_mask(&rule, ((uint64_t)1 << 62) + 1) == FD_ERR_SHAPE);
        CHECK(fd_floor_normal(1, 2, 100000) == FD_OK);
        CHECK(fd_floor_normal(1, 2, ((uint64_t)1 << 62) + 1) == FD_ERR_SHAPE);
    }
}

int main(void)
{
    char paths[64];
    char *path;
    CHECK(fd_simd_select("auto") == FD_OK);
    strcpy(paths, fd_simd_available());
    printf("kernel paths this CPU runs: %s\n", paths);
    for (path = strtok(paths, ","); path; path = strtok(NULL, ",")) {
        CHECK(fd_simd_select(path) == FD_OK);
        test_known_answers();
        test_masks_against_model();
        test_threshold_at_an_element();
        test_dropout_float32_strided();
        test_dropout_other_dtypes();
        test_vanilla_keeps_signaling_nans();
        test_half_every_value(FD_FLOAT16);
        test_half_every_value(FD_BFLOAT16);
        test_zero_d_and_empty();
        test_paths_agree(path);
        test_paths_agree_any_alignment(path);
        test_groups_past_a_chunk(path);
        test_boxes();
        test_normal_paths_agree(path);
        test_floors(path);
        test_gaussian_dropout(path);
#if FENCED_PAGES
        test_no_access_outside(path);
#endif
        test_threads_agree(path);
        test_half_dropout_kernel(path);
        test_half_dropout_calls(path);
        test_long_float64_calls(path);
    }
    test_normal();
    test_threshold();
    test_float16_conversion();
    test_bfloat16_conversion();
    test_errors();
    printf("C core checks: %d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}

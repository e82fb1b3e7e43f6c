/*
 * C-only microbenchmark of the kernels, no Python: ns per element of fd_dropout (in place),
 * fd_mask_packed and fd_mask_bool, for each kernel path this CPU runs, against an in-place
 * multiply loop (the memory-bandwidth reference) measured in the same run. Median of repeats.
 *
 *   cc -O3 -std=c99 -Isrc_c src_c/fd_*.c benchmarks/bench_kernels.c -lm -o bench_kernels
 *   ./bench_kernels [log2 size = 18] [repeats = 21]
 * (-O3 as setup.py builds the extension.)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fd_dropout.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { MAX_REPEATS = 101 };

/* Median ns per element of `what` over `repeats` runs, each of `inner` calls. */
#define MEDIAN_NS(result, repeats, inner, n, what)                    \
    do {                                                              \
        double times_[MAX_REPEATS];                                   \
        int r_, i_;                                                   \
        for (r_ = 0; r_ < (repeats); r_++) {                          \
            double t0_ = now_ns();                                    \
            for (i_ = 0; i_ < (inner); i_++) { what; }                \
            times_[r_] = (now_ns() - t0_) / (inner) / (double)(n);    \
        }                                                             \
        qsort(times_, (size_t)(repeats), sizeof(double), compare_doubles); \
        result = times_[(repeats) / 2];                               \
    } while (0)

static volatile float sink, one = 1.0f; /* volatile: the multiply cannot be folded away */

int main(int argc, char **argv)
{
    int log2n = argc > 1 ? atoi(argv[1]) : 18;
    int repeats = argc > 2 ? atoi(argv[2]) : 21;
    size_t n = (size_t)1 << log2n, i;
    int inner = log2n >= 22 ? 2 : 1 << (22 - log2n);
    float *x = malloc(n * sizeof *x);
    uint8_t *mask = malloc(n);
    int64_t shape[1] = {(int64_t)n}, strides[1] = {4};
    static const double ps[] = {0.1, 0.5};
    char paths[64], *path;
    size_t k;
    if (repeats < 1 || repeats > MAX_REPEATS || log2n < 10 || log2n > 30) {
        fprintf(stderr, "usage: bench_kernels [log2 size 10..30] [repeats 1..%d]\n", MAX_REPEATS);
        return 2;
    }
    for (i = 0; i < n; i++) x[i] = (float)(i % 1000) * 0.001f;
    fd_simd_select("auto");
    strcpy(paths, fd_simd_available());
    printf("float32, n = 2^%d, median of %d repeats x %d calls, ns per element\n", log2n, repeats,
           inner);
    printf("%-8s %5s %12s %12s %12s %12s %8s\n", "path", "p", "multiply", "dropout", "mask_bool",
           "mask_packed", "ratio");
    for (path = strtok(paths, ","); path; path = strtok(NULL, ",")) {
        fd_simd_select(path);
        for (k = 0; k < sizeof ps / sizeof *ps; k++) {
            fd_bernoulli rule = {12345, 0, fd_threshold(ps[k])};
            const float c = one;
            double t_mul, t_drop, t_bool, t_packed;
            MEDIAN_NS(t_mul, repeats, inner, n, {
                size_t j_;
                for (j_ = 0; j_ < n; j_++) x[j_] *= c;
                sink = x[n / 2];
            });
            MEDIAN_NS(t_drop, repeats, inner, n, {
                rule.offset += fd_blocks(n);
                fd_dropout(FD_FLOAT32, &rule, 1.0 / (1.0 - ps[k]), 1, shape, x, strides, x, strides,
                           NULL);
            });
            /* each call a new mask, as from a stream: the same one over and over would let the
             * branch predictor learn where its ties are */
            MEDIAN_NS(t_bool, repeats, inner, n, {
                rule.offset += fd_blocks(n);
                fd_mask_bool(&rule, n, mask);
            });
            MEDIAN_NS(t_packed, repeats, inner, n, {
                rule.offset += fd_blocks(n);
                fd_mask_packed(&rule, n, mask);
            });
            printf("%-8s %5.2f %12.3f %12.3f %12.3f %12.3f %8.2f\n", path, ps[k], t_mul, t_drop,
                   t_bool, t_packed, t_drop / t_mul);
        }
    }
    free(x);
    free(mask);
    return 0;
}

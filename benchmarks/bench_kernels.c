/*
 * C-only microbenchmark of the kernels, no Python: ns per element of fd_dropout (in place),
 * fd_mask_packed and fd_mask_bool, for each kernel path this CPU runs, against an in-place
 * multiply loop (the memory-bandwidth reference, as np.multiply(x, c, out=x): built for the
 * widest vectors the CPU has) measured in the same run. One untimed round, then rounds that
 * time each candidate in turn; medians.
 *
 *   cc -O3 -std=c99 -pthread -Isrc_c src_c/fd_*.c benchmarks/bench_kernels.c -lm -o bench_kernels
 *   ./bench_kernels [log2 size = 18] [repeats = 21]
 * (-O3 as setup.py builds the extension; GCC or Clang on x86-64 Linux, for the reference's
 * target clones.)
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

/* The reference, compiled for AVX-512, AVX2 and the baseline; the loader picks what the CPU
 * runs, as NumPy's dispatch does for np.multiply (a baseline-only loop would be SSE2, slower
 * than memory at cache sizes, and flatter the kernels). */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
scale_in_place(float *x, size_t n, float c)
{
    size_t j;
    for (j = 0; j < n; j++) x[j] *= c;
}

enum { MAX_REPEATS = 101, CANDIDATES = 4 };

static volatile float one = 1.0f; /* volatile: the multiply cannot be folded away */

int main(int argc, char **argv)
{
    static const double ps[] = {0.1, 0.5};
    static const char *names[CANDIDATES] = {"multiply", "dropout", "mask_bool", "mask_packed"};
    const int log2n = argc > 1 ? atoi(argv[1]) : 18, repeats = argc > 2 ? atoi(argv[2]) : 21;
    double times[CANDIDATES][MAX_REPEATS], median[CANDIDATES];
    char paths[64], *path;
    size_t n, i, k;
    int inner, r, c, call;
    float *x;
    uint8_t *mask;
    if (repeats < 1 || repeats > MAX_REPEATS || log2n < 10 || log2n > 30) {
        fprintf(stderr, "usage: bench_kernels [log2 size 10..30] [repeats 1..%d]\n", MAX_REPEATS);
        return 2;
    }
    n = (size_t)1 << log2n;
    inner = log2n >= 22 ? 2 : 1 << (22 - log2n);
    x = malloc(n * sizeof *x);
    mask = malloc(n);
    if (!x || !mask) {
        fprintf(stderr, "bench_kernels: out of memory for 2^%d elements\n", log2n);
        return 1;
    }
    for (i = 0; i < n; i++) x[i] = (float)(i % 1000) * 0.001f;
    fd_simd_select("auto");
    strcpy(paths, fd_simd_available());
    printf("float32, n = 2^%d, median of %d rounds x %d calls, ns per element\n", log2n, repeats,
           inner);
    printf("%-8s %5s %12s %12s %12s %12s %8s\n", "path", "p", names[0], names[1], names[2],
           names[3], "ratio");
    for (path = strtok(paths, ","); path; path = strtok(NULL, ",")) {
        fd_simd_select(path);
        for (k = 0; k < sizeof ps / sizeof *ps; k++) {
            const int64_t shape[1] = {(int64_t)n}, strides[1] = {4};
            const double scale = 1.0 / (1.0 - ps[k]);
            /* each call a new mask, as from a stream: the same one over and over would let the
             * branch predictor learn where its ties are */
            fd_bernoulli rule = {12345, 0, fd_threshold(ps[k])};
            for (r = -1; r < repeats; r++) { /* round -1: warm-up, untimed */
                for (c = 0; c < CANDIDATES; c++) {
                    const double t0 = now_ns();
                    for (call = 0; call < inner; call++) {
                        rule.offset += fd_blocks(n);
                        if (c == 0) scale_in_place(x, n, one);
                        if (c == 1)
                            fd_dropout(FD_FLOAT32, &rule, scale, 1, shape, x, strides, x, strides,
                                       NULL);
                        if (c == 2) fd_mask_bool(&rule, n, mask);
                        if (c == 3) fd_mask_packed(&rule, n, mask);
                    }
                    if (r >= 0) times[c][r] = (now_ns() - t0) / inner / (double)n;
                }
            }
            for (c = 0; c < CANDIDATES; c++) {
                qsort(times[c], (size_t)repeats, sizeof(double), compare_doubles);
                median[c] = times[c][repeats / 2];
            }
            printf("%-8s %5.2f %12.3f %12.3f %12.3f %12.3f %8.2f\n", path, ps[k], median[0],
                   median[1], median[2], median[3], median[1] / median[0]);
        }
    }
    free(x);
    free(mask);
    return 0;
}

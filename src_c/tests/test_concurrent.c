/*
 * Several threads call the core at once while another changes the thread count: every call must
 * still give the bytes of a one-thread call. Run under ThreadSanitizer by .ci/tsan_c (a race in
 * the helper pool is an error there even when the bytes come out right) and under Wine by
 * .ci/windows_c (the pool's Win32 threads). POSIX threads for the callers; MinGW has them too.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fd_dropout.h"

enum {
    N = 3 * FD_MIN_PART_ELEMENTS + 1000, /* split into 3 parts, with a tail */
    CALLERS = 4,                         /* more than the machine's cores: they share the pool */
    ROUNDS = 12
};

/* What one caller computes: a different kind of call per caller, so they meet in the pool. */
typedef struct {
    int kind;
    const float *x;
    float *y;
    uint8_t *bytes;
    double *normal;
} work;

static void compute(const work *w)
{
    const fd_bernoulli rule = {0x5eedu + (uint64_t)w->kind, 1000u, fd_threshold(0.1)};
    const int64_t shape[1] = {N / 2}, x_strides[1] = {-2 * (int64_t)sizeof(float)};
    const int64_t y_strides[1] = {sizeof(float)};
    fd_status status = FD_OK;
    switch (w->kind) {
    case 0: /* every other element of x, backwards, with its mask */
        status = fd_dropout(FD_FLOAT32, &rule, 1.0 / 0.9, 1, shape, w->x + N - 1, x_strides,
                            w->y, y_strides, w->bytes);
        break;
    case 1:
        status = fd_mask_bool(&rule, N, w->bytes);
        break;
    case 2:
        status = fd_mask_packed(&rule, N, w->bytes);
        break;
    case 3:
        status = fd_normal(rule.key, rule.offset, N, FD_FLOAT64, w->normal);
        break;
    }
    if (status != FD_OK) {
        printf("call %d failed: %s\n", w->kind, fd_status_message(status));
        exit(1);
    }
}

static work reference[CALLERS];
static int mismatches[CALLERS];
static int finished; /* callers done, under `lock` */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int callers_finished(void)
{
    int n;
    pthread_mutex_lock(&lock);
    n = finished;
    pthread_mutex_unlock(&lock);
    return n;
}

static void *call_repeatedly(void *arg)
{
    const work *ref = &reference[(size_t)arg];
    work w = *ref;
    int round;
    /* zeroed like the reference's: a call writes only its own kind of output */
    w.y = calloc(N, sizeof *w.y);
    w.bytes = calloc(N, 1);
    w.normal = calloc(N, sizeof *w.normal);
    if (!w.y || !w.bytes || !w.normal) exit(1);
    for (round = 0; round < ROUNDS; round++) {
        compute(&w);
        mismatches[w.kind] += memcmp(w.y, ref->y, N * sizeof *w.y) != 0 ||
                              memcmp(w.bytes, ref->bytes, N) != 0 ||
                              memcmp(w.normal, ref->normal, N * sizeof *w.normal) != 0;
    }
    free(w.y);
    free(w.bytes);
    free(w.normal);
    pthread_mutex_lock(&lock);
    finished++;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    float *x = malloc(N * sizeof *x);
    pthread_t callers[CALLERS];
    int kind, failed = 0, i;
    if (!x || fd_simd_select("auto") != FD_OK) return 1;
    for (i = 0; i < N; i++) x[i] = (float)i - 1e5f;
    fd_set_num_threads(1);
    for (kind = 0; kind < CALLERS; kind++) {
        work *w = &reference[kind];
        w->kind = kind;
        w->x = x;
        w->y = calloc(N, sizeof *w->y);
        w->bytes = calloc(N, 1);
        w->normal = calloc(N, sizeof *w->normal);
        if (!w->y || !w->bytes || !w->normal) return 1;
        compute(w);
    }
    fd_set_num_threads(3);
    for (kind = 0; kind < CALLERS; kind++)
        if (pthread_create(&callers[kind], NULL, call_repeatedly, (void *)(size_t)kind)) return 1;
    for (i = 0; callers_finished() < CALLERS; i++) {
        fd_set_num_threads(1 + i % 4);
        sched_yield();
    }
    for (kind = 0; kind < CALLERS; kind++) pthread_join(callers[kind], NULL);
    for (kind = 0; kind < CALLERS; kind++) {
        printf("call kind %d (%s path): %d of %d rounds differ from one thread's bytes\n", kind,
               fd_simd_path(), mismatches[kind], ROUNDS);
        failed |= mismatches[kind] != 0;
        free(reference[kind].y);
        free(reference[kind].bytes);
        free(reference[kind].normal);
    }
    free(x);
    return failed;
}

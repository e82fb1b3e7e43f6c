/*
 * Run-time choice of the kernel path. fastdrop's import calls fd_simd_select once, with the value
 * of FASTDROP_SIMD or "auto"; every path gives the same bytes, so the choice only changes speed.
 */
#include <string.h>

#include "fd_kernels.h"

#if FD_X86_GNUC
#include <cpuid.h>

/* AVX2 needs the CPU flag and the OS saving YMM state on context switches (XCR0 bits 1, 2). */
static int cpu_runs_avx2(void)
{
    unsigned a, b, c, d, xcr0_low, xcr0_high;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    (void)xcr0_high;
    if ((xcr0_low & 6u) != 6u) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX2) != 0;
}
#endif

static int cpu_runs_any(void) { return 1; }

/* Best first. */
static const struct {
    const fd_kernels *kernels;
    int (*supported)(void);
} paths[] = {
#if FD_X86_GNUC
    {&fd_kernels_avx2, cpu_runs_avx2},
#endif
    {&fd_kernels_scalar, cpu_runs_any},
};
#define N_PATHS (sizeof paths / sizeof paths[0])

static const fd_kernels *active = &fd_kernels_scalar;
static char available[64]; /* filled by the first fd_simd_select, at import */

const fd_kernels *fd_active_kernels(void) { return active; }

fd_status fd_simd_select(const char *name)
{
    fd_status status = FD_ERR_SIMD;
    size_t i;
    if (!name) return FD_ERR_NULL;
    available[0] = '\0';
    for (i = 0; i < N_PATHS; i++) {
        if (!paths[i].supported()) continue;
        if (available[0]) strcat(available, ",");
        strcat(available, paths[i].kernels->name);
        if (status != FD_OK &&
            (strcmp(name, "auto") == 0 || strcmp(name, paths[i].kernels->name) == 0)) {
            active = paths[i].kernels;
            status = FD_OK;
        }
    }
    return status;
}

const char *fd_simd_path(void) { return active->name; }

const char *fd_simd_available(void) { return available; }

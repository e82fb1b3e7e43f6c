/*
 * Run-time choice of the kernel path. fastdrop's import calls fd_simd_select once, with the value
 * of FASTDROP_SIMD or "auto"; every path gives the same bytes, so the choice only changes speed.
 */
#include <string.h>

#include "fd_kernels.h"

#if FD_X86_GNUC
#include <cpuid.h>

/* The state the OS saves on context switches (XCR0), or 0 if the CPU has no AVX or XSAVE. */
static unsigned os_saved_state(void)
{
    unsigned a, b, c, d, xcr0_low, xcr0_high;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    (void)xcr0_high;
    return xcr0_low;
}

static unsigned cpuid7_ebx(void)
{
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    return b;
}

static unsigned cpuid1_ecx(void)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    return c;
}

/* AVX2 and F16C: the CPU flags and YMM state saved (XCR0 bits 1, 2). */
static int cpu_runs_avx2(void)
{
    return (os_saved_state() & 0x6u) == 0x6u && (cpuid7_ebx() & bit_AVX2) &&
           (cpuid1_ecx() & bit_F16C);
}

/* AVX-512 F/BW/DQ/VL: the CPU flags and opmask and ZMM state saved too (XCR0 bits 5, 6, 7). */
static int cpu_runs_avx512(void)
{
    const unsigned flags = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    return (os_saved_state() & 0xe6u) == 0xe6u && (cpuid7_ebx() & flags) == flags;
}
#endif

static int cpu_runs_any(void) { return 1; }

/* Best first. */
static const struct {
    const fd_kernels *kernels;
    int (*supported)(void);
} paths[] = {
#if FD_X86_GNUC
    {&fd_kernels_avx512, cpu_runs_avx512},
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
    size_t i, used = 0;
    if (!name) return FD_ERR_NULL;
    for (i = 0; i < N_PATHS; i++) {
        const char *path = paths[i].kernels->name;
        const size_t length = strlen(path);
        if (!paths[i].supported()) continue;
        if (used) available[used++] = ',';
        memcpy(available + used, path, length); /* the names fit: "avx512,avx2,scalar" */
        used += length;
        if (status != FD_OK &&
            (strcmp(name, "auto") == 0 || strcmp(name, path) == 0)) {
            active = paths[i].kernels;
            status = FD_OK;
        }
    }
    available[used] = '\0';
    return status;
}

const char *fd_simd_path(void) { return active->name; }

const char *fd_simd_available(void) { return available; }

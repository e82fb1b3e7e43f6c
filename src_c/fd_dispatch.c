/*
 * Run-time choice of the kernel path. fastdrop's import calls fd_simd_select once, with the value
 * of FASTDROP_SIMD or "auto"; every path gives the same bytes, so the choice only changes speed.
 */
#include <string.h>

#include "fd_kernels.h"

#if FD_X86_SIMD
#if FD_MSVC
#include <immintrin.h> /* _xgetbv */
#else
#include <cpuid.h>
#endif

/* CPUID leaf `leaf`, subleaf `sub`: registers eax, ebx, ecx, edx. */
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if FD_MSVC
    int v[4], i;
    __cpuidex(v, (int)leaf, (int)sub);
    for (i = 0; i < 4; i++) r[i] = (unsigned)v[i];
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* The low word of XCR0 (the state the OS saves on context switches); only once CPUID has said
 * that the OS enabled XSAVE. */
static unsigned xcr0_low(void)
{
#if FD_MSVC
    return (unsigned)_xgetbv(0);
#else
    unsigned low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    (void)high;
    return low;
#endif
}

/* The CPUID bits used below (Intel SDM, volume 2, CPUID). */
#define LEAF1_ECX_OSXSAVE (1u << 27)
#define LEAF1_ECX_AVX (1u << 28)
#define LEAF1_ECX_F16C (1u << 29)
#define LEAF7_EBX_AVX2 (1u << 5)
#define LEAF7_EBX_AVX512F (1u << 16)
#define LEAF7_EBX_AVX512DQ (1u << 17)
#define LEAF7_EBX_AVX512BW (1u << 30)
#define LEAF7_EBX_AVX512VL (1u << 31)

typedef struct {
    unsigned xcr0;      /* what the OS saves, or 0 if the CPU has no AVX or the OS no XSAVE */
    unsigned leaf1_ecx; /* CPUID leaf 1's ECX, and leaf 7's EBX (0 if the CPU has no leaf 7) */
    unsigned leaf7_ebx;
} cpu_flags;

static cpu_flags read_cpu_flags(void)
{
    cpu_flags f = {0, 0, 0};
    unsigned r[4];
    cpuid(0, 0, r);
    if (r[0] < 7) return f;
    cpuid(1, 0, r);
    f.leaf1_ecx = r[2];
    cpuid(7, 0, r);
    f.leaf7_ebx = r[1];
    if ((f.leaf1_ecx & LEAF1_ECX_OSXSAVE) && (f.leaf1_ecx & LEAF1_ECX_AVX)) f.xcr0 = xcr0_low();
    return f;
}

/* AVX2 and F16C: the CPU flags and YMM state saved (XCR0 bits 1, 2). */
static int cpu_runs_avx2(void)
{
    const cpu_flags f = read_cpu_flags();
    return (f.xcr0 & 0x6u) == 0x6u && (f.leaf7_ebx & LEAF7_EBX_AVX2) &&
           (f.leaf1_ecx & LEAF1_ECX_F16C);
}

/* AVX-512 F/BW/DQ/VL: the CPU flags and opmask and ZMM state saved too (XCR0 bits 5, 6, 7). */
static int cpu_runs_avx512(void)
{
    const unsigned wanted =
        LEAF7_EBX_AVX512F | LEAF7_EBX_AVX512DQ | LEAF7_EBX_AVX512BW | LEAF7_EBX_AVX512VL;
    const cpu_flags f = read_cpu_flags();
    return (f.xcr0 & 0xe6u) == 0xe6u && (f.leaf7_ebx & wanted) == wanted;
}
#endif

static int cpu_runs_any(void) { return 1; }

/* Best first. */
static const struct {
    const fd_kernels *kernels;
    int (*supported)(void);
} paths[] = {
#if FD_X86_SIMD
    {&fd_kernels_avx512, cpu_runs_avx512},
    {&fd_kernels_avx2, cpu_runs_avx2},
#endif
#if FD_ARM_NEON
    {&fd_kernels_neon, cpu_runs_any}, /* NEON is part of AArch64 */
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

/*
 * Internal: what differs between the compilers that build the core (GCC, Clang, MSVC), in one
 * place. The rest of the core is plain C.
 */
#ifndef FD_COMPILER_H
#define FD_COMPILER_H

#include <float.h>

/* Every double operation rounded once, as IEEE says: x87 maths (GCC's default for 32-bit x86)
 * rounds to 80 bits first, and float64 dropout and normals would differ from other platforms'. */
#if defined(FLT_EVAL_METHOD) && (FLT_EVAL_METHOD == 1 || FLT_EVAL_METHOD == 2)
#error "fastdrop needs floating-point operations without excess precision: on 32-bit x86, build with -msse2 -mfpmath=sse"
#endif

/* MSVC proper (clang-cl defines _MSC_VER too, but speaks GCC's dialect). A test build may set
 * FD_MSVC=1 to compile MSVC's spellings with Clang (.ci/windows_c). */
#ifndef FD_MSVC
#if defined(_MSC_VER) && !defined(__clang__)
#define FD_MSVC 1
#else
#define FD_MSVC 0
#endif
#endif
#if FD_MSVC
#include <intrin.h> /* _BitScanForward, __cpuidex */
#endif

/* x86-64 builds have the AVX2 and AVX-512 paths: GCC and Clang compile them under function target
 * attributes; MSVC compiles the intrinsics with no flags (not on ARM64EC, which has no AVX).
 * 32-bit x86 builds take the scalar path (GCC 12's <immintrin.h> does not even compile there
 * without SSE2). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FD_X86_SIMD 1
#elif FD_MSVC && defined(_M_X64) && !defined(_M_ARM64EC)
#define FD_X86_SIMD 1
#else
#define FD_X86_SIMD 0
#endif

/* Little-endian ARM64 builds have the NEON path (part of the AArch64 baseline: no flags, no
 * run-time check); MSVC's _M_ARM64 excludes ARM64EC, which is x64 code to the rest of the core.
 * Big-endian AArch64 takes the scalar path (the NEON file reinterprets 64-bit lanes as 32-bit
 * ones, whose order differs there). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__) && defined(__ARM_NEON) && \
    !defined(__AARCH64EB__)
#define FD_ARM_NEON 1
#elif FD_MSVC && defined(_M_ARM64)
#define FD_ARM_NEON 1
#else
#define FD_ARM_NEON 0
#endif

/* A static function always inlined, or never, whatever the compiler's heuristics say: the SIMD
 * paths rely on the first so that a loop's flags are constants in each kernel (the comment above
 * fd_kernels_avx512.c's apply16 says why). */
#if FD_MSVC
#define FD_STATIC_FORCEINLINE static __forceinline
#define FD_STATIC_NOINLINE static __declspec(noinline)
#else
#define FD_STATIC_FORCEINLINE __attribute__((always_inline)) static inline
#define FD_STATIC_NOINLINE __attribute__((noinline)) static
#endif

/* Unroll the next loop 4 (or 8) times (GCC and Clang; MSVC has no such pragma, and before Visual
 * Studio 2019 no _Pragma). */
#if FD_MSVC
#define FD_UNROLL4
#define FD_UNROLL8
#else
#define FD_UNROLL4 _Pragma("GCC unroll 4")
#define FD_UNROLL8 _Pragma("GCC unroll 8")
#endif

/* A hint that the cache line at p is written soon (nothing where the compiler has no hint). */
#if FD_MSVC && FD_X86_SIMD
#include <xmmintrin.h>
#define fd_prefetch_for_write(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#elif FD_MSVC && defined(_M_ARM64)
#define fd_prefetch_for_write(p) __prefetch2((p), 16) /* PRFM PSTL1KEEP, as GCC's builtin */
#elif defined(__GNUC__) || defined(__clang__)
#define fd_prefetch_for_write(p) __builtin_prefetch((p), 1)
#else
#define fd_prefetch_for_write(p) ((void)(p))
#endif

#endif /* FD_COMPILER_H */

/*
 * The portable kernel path ("scalar"): the kernels compiled for the baseline ISA (SSE2 on x86-64,
 * NEON on ARM64), vectorised by the compiler.
 */
#include "fd_kernels_impl.h"

const fd_kernels fd_kernels_scalar = FD_KERNEL_TABLE("scalar");

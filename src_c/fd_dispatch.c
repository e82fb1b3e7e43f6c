/*
 * Run-time choice of the kernel path. fastdrop's import calls fd_simd_select once, with the value
 * of FASTDROP_SIMD or "auto"; every path gives the same bytes, so the choice only changes speed.
 */
#include <string.h>

#include "fd_kernels.h"

/* Best first; each entry is listed only if this CPU runs it. */
static const fd_kernels *const paths[] = {&fd_kernels_scalar};
#define N_PATHS (sizeof paths / sizeof paths[0])

static const fd_kernels *active = &fd_kernels_scalar;

const fd_kernels *fd_active_kernels(void) { return active; }

fd_status fd_simd_select(const char *name)
{
    size_t i;
    if (!name) return FD_ERR_NULL;
    if (strcmp(name, "auto") == 0) {
        active = paths[0];
        return FD_OK;
    }
    for (i = 0; i < N_PATHS; i++) {
        if (strcmp(name, paths[i]->name) == 0) {
            active = paths[i];
            return FD_OK;
        }
    }
    return FD_ERR_SIMD;
}

const char *fd_simd_path(void) { return active->name; }

const char *fd_simd_available(void) { return "scalar"; }

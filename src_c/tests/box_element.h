/*
 * The tests' model of a box (fd_box.h): where its elements stand in the whole array, written
 * apart from the core's walk. test_core.c and fuzz_kernels.c both check boxes against it.
 */
#ifndef FD_TESTS_BOX_ELEMENT_H
#define FD_TESTS_BOX_ELEMENT_H

#include "../fd_dropout.h"

/* The logical index (in the whole array) of the box's element k (its C order in the box). */
static uint64_t box_element(const fd_box *box, uint64_t k)
{
    uint64_t i = 0, step = 1;
    int d;
    for (d = box->ndim - 1; d >= 0; d--) {
        const uint64_t j = k % (uint64_t)box->shape[d];
        k /= (uint64_t)box->shape[d];
        i += ((uint64_t)box->start[d] + j) * step;
        step *= (uint64_t)box->global[d];
    }
    return i;
}

#endif /* FD_TESTS_BOX_ELEMENT_H */

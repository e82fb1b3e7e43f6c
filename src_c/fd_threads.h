/*
 * Internal: a small pool of helper threads for splitting one call into parts. Output never
 * depends on the split (every element's decision is a pure function of its index), so the pool
 * only changes speed. Helpers are shared by all callers: a call takes only idle helpers, so calls
 * from several threads at once never run more than fd_num_threads threads in total beyond their own.
 */
#ifndef FD_THREADS_H
#define FD_THREADS_H

/* One part of a split call: part in [0, parts). */
typedef void (*fd_part_fn)(void *arg, int part, int parts);

/* Runs fn(arg, part, parts) for every part, the caller taking part 0 and idle helpers the others;
 * parts is at most `wanted` and at least 1. */
void fd_run_parts(fd_part_fn fn, void *arg, int wanted);

#endif /* FD_THREADS_H */

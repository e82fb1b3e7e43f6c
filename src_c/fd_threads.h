/*
 * Internal: a small pool of helper threads for splitting one call into parts. Output never
 * depends on the split (every element's decision is a pure function of its index), so the pool
 * only changes speed. Helpers are shared by all callers: a call takes only idle helpers, so calls
 * from several threads at once never run more than fd_num_threads threads in total beyond their own.
 */
#ifndef FD_THREADS_H
#define FD_THREADS_H

/* One piece of a split call: piece in [0, pieces). */
typedef void (*fd_part_fn)(void *arg, int piece, int pieces);

/* Runs fn(arg, piece, pieces) for every piece in [0, pieces), pieces >= 1: the caller and idle
 * helpers, `wanted` threads at most (and fd_num_threads), take the next piece until none is left,
 * so a slow or descheduled thread delays the call by about one piece. */
void fd_run_parts(fd_part_fn fn, void *arg, int pieces, int wanted);

#endif /* FD_THREADS_H */

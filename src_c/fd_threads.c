/*
 * The helper pool of fd_threads.h: POSIX threads, or Win32 threads on Windows. Helpers start
 * lazily, the first time a call can use them, and then sleep until given a part.
 */
#include "fd_compiler.h"
#include "fd_dropout.h"
#include "fd_threads.h"

#if defined(_WIN32)
#include <windows.h>
typedef SRWLOCK fd_mutex;
typedef CONDITION_VARIABLE fd_cond;
#define FD_MUTEX_INIT SRWLOCK_INIT
#define fd_lock(m) AcquireSRWLockExclusive(m)
#define fd_unlock(m) ReleaseSRWLockExclusive(m)
#define fd_cond_init(c) InitializeConditionVariable(c)
#define fd_wait(c, m) SleepConditionVariableSRW((c), (m), INFINITE, 0)
#define fd_signal(c) WakeConditionVariable(c)
#define cpu_relax() YieldProcessor()
#define yield_cpu() SwitchToThread()
#else
#include <pthread.h>
#include <sched.h>
typedef pthread_mutex_t fd_mutex;
typedef pthread_cond_t fd_cond;
#define FD_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#define fd_lock(m) pthread_mutex_lock(m)
#define fd_unlock(m) pthread_mutex_unlock(m)
#define fd_cond_init(c) pthread_cond_init((c), NULL)
#define fd_wait(c, m) pthread_cond_wait((c), (m))
#define fd_signal(c) pthread_cond_signal(c)
#define yield_cpu() sched_yield()
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif
#endif

/* A helper's state, read without the lock while spinning, and a call's next piece: MSVC's
 * interlocked functions, or the GCC builtins that GCC and Clang (MinGW and clang-cl too) have. */
#if FD_MSVC
#define load_state(p) InterlockedOr((volatile LONG *)(p), 0)
#define store_state(p, v) InterlockedExchange((volatile LONG *)(p), (v))
static int swap_state(long *p, long from, long to)
{
    return InterlockedCompareExchange((volatile LONG *)p, to, from) == from;
}
static long take_next(long *p) { return InterlockedExchangeAdd((volatile LONG *)p, 1); }
#else
#define load_state(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_state(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
static int swap_state(long *p, long from, long to)
{
    return __atomic_compare_exchange_n(p, &from, to, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static long take_next(long *p) { return __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
#endif

/* Waking a sleeping thread takes tens of microseconds on some machines, as long as a whole
 * part of a mid-sized call: helpers and callers poll this many times before they sleep. */
#define SPINS 20000
#define YIELD_EVERY 64

#define FD_MAX_HELPERS (FD_MAX_THREADS - 1)

/*
 * A helper is WAITING (or DONE) until a caller gives it a job (GIVEN); it then takes the job
 * (RUNNING) unless the caller has taken it back first, which a caller does when it has run out
 * of pieces before a sleeping or descheduled helper woke: a call never waits for a helper that
 * has no work. Both sides move GIVEN on with a compare-and-swap, so exactly one of them wins.
 */
enum { WAITING = 0, GIVEN = 1, RUNNING = 2, DONE = 3 };

/* One call's pieces, taken one at a time by the caller and its helpers. */
typedef struct {
    fd_part_fn fn;
    void *arg;
    int pieces;
    long next; /* the next piece to take */
} job;

typedef struct {
    fd_cond wake; /* state changed; one thread at most waits on it at a time */
    long state;
    job *job;     /* set while WAITING, read by the helper once RUNNING */
} helper;

static fd_mutex pool_lock = FD_MUTEX_INIT; /* guards everything below and every helper's fields */
static helper helpers[FD_MAX_HELPERS];
static int started;                  /* helpers [0, started) exist */
static int idle[FD_MAX_HELPERS];     /* indexes of idle helpers */
static int n_idle;
static int num_threads = 1;          /* what a call may use, the caller included */

/* Polls, then sleeps, until h's state is `state`. */
static void wait_for(helper *h, long state)
{
    int spin;
    for (spin = 1; spin <= SPINS; spin++) {
        if (load_state(&h->state) == state) return;
        if (spin % YIELD_EVERY == 0)
            yield_cpu(); /* to the caller, if it shares this CPU: woken threads often do */
        else
            cpu_relax();
    }
    fd_lock(&pool_lock);
    while (load_state(&h->state) != state) fd_wait(&h->wake, &pool_lock);
    fd_unlock(&pool_lock);
}

/* Sets h's state and wakes whoever sleeps on it. */
static void set_state(helper *h, long state)
{
    store_state(&h->state, state);
    fd_lock(&pool_lock);
    fd_signal(&h->wake);
    fd_unlock(&pool_lock);
}

static void run_pieces(job *j)
{
    long piece;
    while ((piece = take_next(&j->next)) < j->pieces) j->fn(j->arg, (int)piece, j->pieces);
}

static void helper_loop(helper *h)
{
    for (;;) {
        wait_for(h, GIVEN);
        if (!swap_state(&h->state, GIVEN, RUNNING)) continue; /* taken back */
        run_pieces(h->job);
        set_state(h, DONE);
    }
}

#if defined(_WIN32)
static DWORD WINAPI helper_main(LPVOID h) { helper_loop((helper *)h); return 0; }
static int start_thread(helper *h)
{
    HANDLE t = CreateThread(NULL, 0, helper_main, h, 0, NULL);
    if (!t) return 0;
    CloseHandle(t);
    return 1;
}
#else
static void *helper_main(void *h) { helper_loop((helper *)h); return NULL; }
static int start_thread(helper *h)
{
    pthread_t t;
    pthread_attr_t attr;
    int ok;
    if (pthread_attr_init(&attr)) return 0;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = pthread_create(&t, &attr, helper_main, h) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

/* A forked child has none of the parent's threads: it starts its own helpers when it needs them. */
static void forget_helpers(void)
{
    static const fd_mutex fresh = FD_MUTEX_INIT;
    pool_lock = fresh;
    started = 0;
    n_idle = 0;
}
#endif

void fd_set_num_threads(int n)
{
    if (n < 1) n = 1;
    if (n > FD_MAX_THREADS) n = FD_MAX_THREADS;
    fd_lock(&pool_lock);
#if !defined(_WIN32)
    {
        static int at_fork_set;
        if (!at_fork_set) at_fork_set = pthread_atfork(NULL, NULL, forget_helpers) == 0;
    }
#endif
    num_threads = n;
    fd_unlock(&pool_lock);
}

int fd_get_num_threads(void)
{
    int n;
    fd_lock(&pool_lock);
    n = num_threads;
    fd_unlock(&pool_lock);
    return n;
}

void fd_run_parts(fd_part_fn fn, void *arg, int pieces, int wanted)
{
    int mine[FD_MAX_HELPERS];
    int n = 0, i;
    job j;
    j.fn = fn;
    j.arg = arg;
    j.pieces = pieces;
    j.next = 0;
    fd_lock(&pool_lock);
    if (wanted > num_threads) wanted = num_threads;
    /* Idle helpers first, then new ones while the pool is below its size; never more. */
    while (n + 1 < wanted && n_idle > 0) mine[n++] = idle[--n_idle];
    while (n + 1 < wanted && started < num_threads - 1) {
        helper *h = &helpers[started];
        fd_cond_init(&h->wake);
        h->state = WAITING;
        if (!start_thread(h)) break; /* no thread: fewer threads, same result */
        mine[n++] = started++;
    }
    fd_unlock(&pool_lock);
    for (i = 0; i < n; i++) {
        helpers[mine[i]].job = &j;
        set_state(&helpers[mine[i]], GIVEN); /* publishes the job */
    }

    run_pieces(&j);

    for (i = 0; i < n; i++) /* a helper still GIVEN has not started: take its job back */
        if (!swap_state(&helpers[mine[i]].state, GIVEN, WAITING)) wait_for(&helpers[mine[i]], DONE);
    fd_lock(&pool_lock);
    for (i = 0; i < n; i++) idle[n_idle++] = mine[i];
    fd_unlock(&pool_lock);
}

/*
 * grn_scoreboard.h: what every worker thread is doing, in memory the master shares.
 *
 * The master maps the scoreboard before it forks anything: one slot per process-table entry,
 * one word per thread saying since when the thread has been inside the app (0: not in it).
 * The master reads it to enforce each app's `timeout`; a status page can read it too. Writers
 * are the workers (one thread per word), the reader is the master: plain aligned 64-bit stores
 * and loads are enough, nothing is locked.
 */

#ifndef GRN_SCOREBOARD_H
#define GRN_SCOREBOARD_H

#define GRN_SB_THREADS  256           /* the `threads` directive's upper bound */

/*
 * Request figures a process adds to as it serves (relaxed atomic adds: a process may run
 * several threads, and the status page reads them while they change). When a worker exits,
 * the master folds its slot's figures into its group's totals (grn_sb_group_t), so counts
 * survive worker restarts and reset only with the master.
 */
#define GRN_SB_BUCKETS    12          /* request duration histogram, the last is +Inf */
#define GRN_SB_LISTENERS  32          /* listeners with figures of their own */

typedef struct {
    volatile uint64_t  status[5];                    /* by class: 1xx .. 5xx */
    volatile uint64_t  buckets[GRN_SB_BUCKETS];      /* not cumulative: one bucket each */
    volatile uint64_t  duration_us;                  /* sum of the durations */
    volatile uint64_t  tls_handshakes;               /* completed */
    volatile uint64_t  tls_failures;                 /* failed (plain HTTP not counted) */
} grn_sb_counts_t;

typedef struct {
    volatile int64_t   busy_since[GRN_SB_THREADS];   /* monotonic ms; 0 when idle */
    volatile uint64_t  requests;                     /* served by the process */
    volatile int64_t   pid;                          /* 0: no process (written by the master) */
    volatile uint64_t  group_key;                    /* grn_hash_name() of its group's name */
    volatile uint64_t  generation;                   /* of the cycle it was started for */
    volatile int32_t   state;                        /* GRN_SB_STARTING ... (the master's view) */
    grn_sb_counts_t    counts;
    volatile uint64_t  accepted[GRN_SB_LISTENERS];   /* connections, by listener index */
    volatile int32_t   active[GRN_SB_LISTENERS];     /* open now */
    volatile int32_t   idle[GRN_SB_LISTENERS];       /* of them, waiting for a request */
} grn_sb_slot_t;

#define GRN_SB_STARTING      0            /* forked, not ready yet */
#define GRN_SB_READY         1            /* serving */
#define GRN_SB_DRAINING      2            /* told to stop: finishing what it has */

/* Why a worker was replaced, for grn_sb_group_t.restarts. */
#define GRN_SB_EXIT          0            /* exited by itself, not told to */
#define GRN_SB_SIGNAL        1            /* killed by a signal it was not sent: a crash */
#define GRN_SB_TIMEOUT       2            /* killed by the master for its app's `timeout` */
#define GRN_SB_MAX_REQUESTS  3            /* retired after max_requests */
#define GRN_SB_BOOT          4            /* failed to boot */
#define GRN_SB_CAUSES        5

/* A group's totals: kept by the master, in shared memory so that workers can read them. */
typedef struct {
    volatile uint64_t  key;                          /* 0: free entry */
    grn_sb_counts_t    counts;                       /* of its exited workers */
    volatile uint64_t  timeouts;
    volatile uint64_t  restarts[GRN_SB_CAUSES];
} grn_sb_group_t;

typedef struct {
    volatile uint64_t  key;                          /* grn_hash_name() of addr_text; 0: free */
    volatile uint64_t  accepted;                     /* of its exited workers */
} grn_sb_listener_t;

/* Request duration bucket bounds in microseconds (the last bucket has none). */
extern const uint64_t  grn_sb_bucket_us[GRN_SB_BUCKETS - 1];

/* Master, before forking a worker for `group_key`: claims the group's and the listeners'
 * entries (listeners get their index in ls->sb_index) and prepares the slot. */
void grn_sb_slot_prepare(grn_uint_t slot, uint64_t group_key, grn_cycle_t *cycle);

/* Adds the figures of `from` to `to`. */
void grn_sb_counts_fold(grn_sb_counts_t *to, grn_sb_counts_t *from);

/* Master, when the slot's worker is gone: folds its figures into the totals. */
void grn_sb_slot_retire(grn_uint_t slot, int cause);

/* Master: a worker of the group ran over its timeout. */
void grn_sb_count_timeout(uint64_t group_key);

grn_sb_group_t *grn_sb_group_find(uint64_t key);
grn_sb_listener_t *grn_sb_listener_at(grn_uint_t index);

/*
 * Which app each slot's process serves and whether it takes requests now (from ready until it
 * drains). Kept apart from the big slots so that the router's look at them reads 16 KB, not
 * the whole scoreboard: before it opens a connection to an app's internal socket, the router
 * asks whether any worker of that app accepts, and answers 502 at once when none does.
 */
typedef struct {
    volatile uint64_t  app_key;          /* grn_hash_name() of the app's name */
    volatile int64_t   accepting;
} grn_sb_app_t;

/* The master's mapping (all slots), and in a worker the slot that is its own. */
extern grn_sb_slot_t  *grn_scoreboard;
extern grn_sb_slot_t  *grn_sb_self;
extern grn_sb_app_t   *grn_sb_apps;      /* one per slot */
extern grn_uint_t      grn_sb_nslots;

/* Master: what a slot's worker is doing now. */
static inline void
grn_sb_set_state(grn_uint_t slot, int32_t state)
{
    if (grn_scoreboard) {
        grn_scoreboard[slot].state = state;
    }
}

/* A worker says it takes requests for its app (key), or no longer does (key 0). */
void grn_sb_set_accepting(uint64_t app_key);

/* Whether some worker of the app takes requests. */
grn_flag_t grn_sb_app_accepting(uint64_t app_key);

/*
 * The master marks an app down when its workers fail to boot, and up again when one is
 * ready. An app with no accepting worker that is not down is booting (first start, respawn):
 * the router then queues on its socket as a direct listener would, instead of answering 502.
 */
#define GRN_SB_APPS  256
void grn_sb_set_app_down(uint64_t app_key, grn_flag_t down);
grn_flag_t grn_sb_app_down(uint64_t app_key);

/* Maps the shared memory: MAP_SHARED | MAP_ANONYMOUS, inherited by every fork. */
grn_int_t grn_scoreboard_init(grn_uint_t nslots, grn_log_t *log);

/* The calling worker thread enters the app at `now`, or leaves it. */
static inline void
grn_sb_busy(grn_uint_t tid, grn_msec_t now)
{
    if (grn_sb_self && tid < GRN_SB_THREADS) {
        grn_sb_self->busy_since[tid] = now > 0 ? now : 1;
    }
}

static inline void
grn_sb_idle(grn_uint_t tid)
{
    if (grn_sb_self && tid < GRN_SB_THREADS) {
        grn_sb_self->busy_since[tid] = 0;
        grn_sb_self->requests++;
    }
}

/* The connection figures of this process for listener `index` (-1: none). */
static inline void
grn_sb_conn_add(int index, grn_flag_t accepted, int32_t active, int32_t idle)
{
    if (grn_sb_self == NULL || index < 0) {
        return;
    }
    if (accepted) {
        __atomic_fetch_add(&grn_sb_self->accepted[index], 1, __ATOMIC_RELAXED);
    }
    if (active) {
        __atomic_fetch_add(&grn_sb_self->active[index], active, __ATOMIC_RELAXED);
    }
    if (idle) {
        __atomic_fetch_add(&grn_sb_self->idle[index], idle, __ATOMIC_RELAXED);
    }
}

/*
 * A request is answered with `status` after `us` microseconds: the loop's millisecond clock
 * would make the sum of a fast app's durations 0.
 */
static inline void
grn_sb_request_done(grn_uint_t status, int64_t us)
{
    grn_uint_t  b;

    if (grn_sb_self == NULL) {
        return;
    }
    if (status >= 100 && status < 600) {
        __atomic_fetch_add(&grn_sb_self->counts.status[status / 100 - 1], 1, __ATOMIC_RELAXED);
    }
    if (us < 0) {
        us = 0;
    }
    for (b = 0; b < GRN_SB_BUCKETS - 1 && (uint64_t) us > grn_sb_bucket_us[b]; b++) {
        /* void */
    }
    __atomic_fetch_add(&grn_sb_self->counts.buckets[b], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&grn_sb_self->counts.duration_us, (uint64_t) us, __ATOMIC_RELAXED);
}

#endif /* GRN_SCOREBOARD_H */

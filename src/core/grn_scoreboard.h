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

typedef struct {
    volatile int64_t   busy_since[GRN_SB_THREADS];   /* monotonic ms; 0 when idle */
    volatile uint64_t  requests;                     /* served by the process */
} grn_sb_slot_t;

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

#endif /* GRN_SCOREBOARD_H */

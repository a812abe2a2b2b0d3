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

/* The master's mapping (all slots), and in a worker the slot that is its own. */
extern grn_sb_slot_t  *grn_scoreboard;
extern grn_sb_slot_t  *grn_sb_self;

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

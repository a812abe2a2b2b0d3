/*
 * grn_event.h: one event loop per worker thread: epoll plus a heap of timers.
 *
 * Sockets are registered once, edge-triggered, for both directions; the owner keeps its own
 * "ready" flags and reads or writes until EAGAIN. That costs one epoll_ctl per connection
 * instead of one each time interest changes. Timers are kept in a binary min-heap whose entries
 * know their own index, so re-arming or deleting one (every request re-arms a timeout) is
 * O(log n) with no allocation.
 */

#ifndef GRN_EVENT_H
#define GRN_EVENT_H

#include <sys/epoll.h>

typedef struct grn_event_s       grn_event_t;
typedef struct grn_timer_s       grn_timer_t;
typedef struct grn_event_loop_s  grn_event_loop_t;

typedef void (*grn_event_handler_pt)(grn_event_t *ev, uint32_t events);
typedef void (*grn_timer_handler_pt)(grn_timer_t *timer);

/*
 * Whatever epoll reports on: its first member is the handler. A handler may close another
 * event's descriptor (a router's app connection failing closes its client), and that event may
 * be waiting later in the same batch: an event whose fd is -1 is not dispatched. `instance`
 * (nginx's trick) flips at each grn_event_add() and travels in epoll's data, so an event
 * reported for an earlier registration of the same struct, closed and reused within one batch,
 * is not dispatched either.
 */
struct grn_event_s {
    grn_event_handler_pt   handler;
    int                    fd;
    unsigned               instance:1;
};

#define GRN_TIMER_IDLE     ((grn_uint_t) -1)

struct grn_timer_s {
    grn_msec_t             when;       /* on the loop's monotonic clock */
    grn_uint_t             index;      /* in the heap, or GRN_TIMER_IDLE */
    grn_timer_handler_pt   handler;
    void                  *data;
};

struct grn_event_loop_s {
    int                    epfd;
    grn_msec_t             now;        /* monotonic ms, updated after every wait */
    grn_timer_t          **timers;     /* the heap */
    grn_uint_t             ntimers;
    grn_uint_t             timers_size;
    struct epoll_event    *events;
    int                    nevents;
    grn_log_t             *log;
};

grn_int_t grn_event_loop_init(grn_event_loop_t *loop, int nevents, grn_log_t *log);
void grn_event_loop_done(grn_event_loop_t *loop);

/* Registers fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, EPOLLEXCLUSIVE, ...). */
grn_int_t grn_event_add(grn_event_loop_t *loop, grn_event_t *ev, uint32_t events);
grn_int_t grn_event_del(grn_event_loop_t *loop, grn_event_t *ev);

/*
 * Waits for events at most `max_wait` ms (-1: until the next timer), dispatches them, then runs
 * the timers that expired. Returns GRN_OK, or GRN_AGAIN when interrupted by a signal.
 */
grn_int_t grn_event_process(grn_event_loop_t *loop, grn_msec_t max_wait);

/* Arms (or re-arms) a timer to fire `after` ms from the loop's current time. */
grn_int_t grn_timer_add(grn_event_loop_t *loop, grn_timer_t *timer, grn_msec_t after);
void grn_timer_del(grn_event_loop_t *loop, grn_timer_t *timer);

#define grn_timer_init(t, h, d)                                                            \
    ((t)->index = GRN_TIMER_IDLE, (t)->handler = (h), (t)->data = (d), (t)->when = 0)
#define grn_timer_is_set(t)  ((t)->index != GRN_TIMER_IDLE)

/* The monotonic clock in ms. */
grn_msec_t grn_monotonic_msec(void);
uint64_t grn_monotonic_usec(void);

#endif /* GRN_EVENT_H */

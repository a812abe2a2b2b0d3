/*
 * grn_event.c: the per-thread event loop: epoll dispatch and the timer heap.
 */

#include "grn_core.h"
#include "grn_event.h"

#include <sched.h>

static void grn_timer_sift_up(grn_event_loop_t *loop, grn_uint_t i);
static void grn_timer_sift_down(grn_event_loop_t *loop, grn_uint_t i);

grn_msec_t
grn_monotonic_msec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (grn_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
grn_monotonic_usec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

grn_int_t
grn_event_loop_init(grn_event_loop_t *loop, int nevents, grn_log_t *log)
{
    memset(loop, 0, sizeof(*loop));
    loop->log = log;

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "epoll_create1() failed");
        return GRN_ERROR;
    }

    loop->events = grn_alloc(sizeof(struct epoll_event) * nevents, log);
    if (loop->events == NULL) {
        goto failed;
    }
    loop->nevents = nevents;

    loop->timers_size = 64;
    loop->timers = grn_alloc(sizeof(grn_timer_t *) * loop->timers_size, log);
    if (loop->timers == NULL) {
        goto failed;
    }

    loop->now = grn_monotonic_msec();
    return GRN_OK;

failed:

    free(loop->events);
    close(loop->epfd);
    loop->epfd = -1;
    return GRN_ERROR;
}

void
grn_event_loop_done(grn_event_loop_t *loop)
{
    if (loop->epfd != -1) {
        close(loop->epfd);
        loop->epfd = -1;
    }
    free(loop->events);
    free(loop->timers);
    loop->events = NULL;
    loop->timers = NULL;
}

grn_int_t
grn_event_add(grn_event_loop_t *loop, grn_event_t *ev, uint32_t events)
{
    struct epoll_event  ee;

    /* The low bit of the pointer is free: the struct holds a function pointer. */
    ev->instance ^= 1;
    ee.events = events;
    ee.data.u64 = (uint64_t) (uintptr_t) ev | ev->instance;

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, ev->fd, &ee) == -1) {
        grn_log_error(GRN_LOG_ALERT, loop->log, errno, "epoll_ctl(ADD, %d) failed", ev->fd);
        return GRN_ERROR;
    }
    return GRN_OK;
}

grn_int_t
grn_event_del(grn_event_loop_t *loop, grn_event_t *ev)
{
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, ev->fd, NULL) == -1) {
        grn_log_error(GRN_LOG_ALERT, loop->log, errno, "epoll_ctl(DEL, %d) failed", ev->fd);
        return GRN_ERROR;
    }
    return GRN_OK;
}

grn_int_t
grn_event_process(grn_event_loop_t *loop, grn_msec_t max_wait)
{
    int           i, n, timeout;
    grn_msec_t    wait;
    grn_timer_t  *t;
    grn_event_t  *ev;

    wait = max_wait;
    if (loop->ntimers) {
        grn_msec_t  next = loop->timers[0]->when - loop->now;

        if (next < 0) {
            next = 0;
        }
        if (wait < 0 || next < wait) {
            wait = next;
        }
    }
    timeout = (wait < 0) ? -1 : (int) grn_min(wait, INT_MAX);

    n = epoll_wait(loop->epfd, loop->events, loop->nevents, timeout);
    loop->now = grn_monotonic_msec();

    if (n == -1) {
        if (errno == EINTR) {
            return GRN_AGAIN;
        }
        grn_log_error(GRN_LOG_ALERT, loop->log, errno, "epoll_wait() failed");
        return GRN_ERROR;
    }

    for (i = 0; i < n; i++) {
        uint64_t  data = loop->events[i].data.u64;

        ev = (grn_event_t *) (uintptr_t) (data & ~(uint64_t) 1);
        if (ev->fd == -1 || (data & 1) != ev->instance) {
            continue;                   /* closed (and perhaps reused) by an earlier handler */
        }
        ev->handler(ev, loop->events[i].events);
    }

    /* A handler may re-arm or delete any timer, so the heap top is looked at afresh each time. */
    while (loop->ntimers && loop->timers[0]->when <= loop->now) {
        t = loop->timers[0];
        grn_timer_del(loop, t);
        t->handler(t);
    }

    /*
     * A batch of several events means the process is saturated: let a sibling worker that
     * shares the CPU run before taking the next batch. Without this, two workers on one core
     * each ran a whole scheduler slice while the other's connections waited. The bench's
     * pinned hello world, same binary with and without, 5 alternating rounds: keep-alive p99
     * 1.5-5.2 ms -> 0.8-1.1 ms; `Connection: close` CPU per request 42.0-44.0 -> 42.7-46.1
     * us, within the noise or a little more. With nothing else runnable it returns at once.
     */
    if (n > 1) {
        sched_yield();
    }

    return GRN_OK;
}

grn_int_t
grn_timer_add(grn_event_loop_t *loop, grn_timer_t *timer, grn_msec_t after)
{
    grn_timer_t  **timers;

    if (grn_timer_is_set(timer)) {
        grn_msec_t  old = timer->when;

        timer->when = loop->now + after;
        if (timer->when < old) {
            grn_timer_sift_up(loop, timer->index);
        } else {
            grn_timer_sift_down(loop, timer->index);
        }
        return GRN_OK;
    }

    if (loop->ntimers == loop->timers_size) {
        timers = realloc(loop->timers, sizeof(grn_timer_t *) * loop->timers_size * 2);
        if (timers == NULL) {
            grn_log_error(GRN_LOG_ALERT, loop->log, errno, "realloc() of the timer heap failed");
            return GRN_ERROR;
        }
        loop->timers = timers;
        loop->timers_size *= 2;
    }

    timer->when = loop->now + after;
    timer->index = loop->ntimers;
    loop->timers[loop->ntimers++] = timer;
    grn_timer_sift_up(loop, timer->index);
    return GRN_OK;
}

void
grn_timer_del(grn_event_loop_t *loop, grn_timer_t *timer)
{
    grn_uint_t    i;
    grn_timer_t  *last;

    if (!grn_timer_is_set(timer)) {
        return;
    }

    i = timer->index;
    timer->index = GRN_TIMER_IDLE;
    last = loop->timers[--loop->ntimers];

    if (last == timer) {
        return;
    }

    loop->timers[i] = last;
    last->index = i;
    grn_timer_sift_up(loop, i);
    grn_timer_sift_down(loop, last->index);
}

static void
grn_timer_swap(grn_event_loop_t *loop, grn_uint_t a, grn_uint_t b)
{
    grn_timer_t  *t = loop->timers[a];

    loop->timers[a] = loop->timers[b];
    loop->timers[b] = t;
    loop->timers[a]->index = a;
    loop->timers[b]->index = b;
}

static void
grn_timer_sift_up(grn_event_loop_t *loop, grn_uint_t i)
{
    while (i > 0) {
        grn_uint_t  parent = (i - 1) / 2;

        if (loop->timers[parent]->when <= loop->timers[i]->when) {
            break;
        }
        grn_timer_swap(loop, parent, i);
        i = parent;
    }
}

static void
grn_timer_sift_down(grn_event_loop_t *loop, grn_uint_t i)
{
    for ( ;; ) {
        grn_uint_t  l = 2 * i + 1, r = l + 1, m = i;

        if (l < loop->ntimers && loop->timers[l]->when < loop->timers[m]->when) {
            m = l;
        }
        if (r < loop->ntimers && loop->timers[r]->when < loop->timers[m]->when) {
            m = r;
        }
        if (m == i) {
            return;
        }
        grn_timer_swap(loop, m, i);
        i = m;
    }
}

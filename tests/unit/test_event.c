/*
 * test_event.c: the event loop does not dispatch an event whose descriptor an earlier handler
 * of the same batch closed, or closed and registered again.
 */

#include "grn_core.h"
#include "grn_event.h"
#include "grn_test.h"

#include <sys/socket.h>

typedef struct {
    grn_event_t   ev;          /* first: epoll dispatch */
    int           peer;        /* the other end, written to make ev readable */
    grn_uint_t    calls;
} t_ev_t;

static t_ev_t      t_evs[2];
static int         t_reuse_fd = -1;
static grn_event_loop_t  t_loop;

static void t_handler(grn_event_t *ev, uint32_t events);

static void
t_pair(t_ev_t *e)
{
    int  sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
        perror("socketpair");
        exit(2);
    }
    e->ev.fd = sv[0];
    e->ev.handler = t_handler;
    e->peer = sv[1];
    (void) write(e->peer, "x", 1);
}

/* The first of the two to run closes the other, as a router's app connection closes its client. */
static void
t_handler(grn_event_t *ev, uint32_t events GRN_UNUSED)
{
    t_ev_t  *e = (t_ev_t *) ev, *other = (e == &t_evs[0]) ? &t_evs[1] : &t_evs[0];

    e->calls++;
    if (other->ev.fd == -1 || other->calls) {
        return;
    }
    close(other->ev.fd);
    other->ev.fd = -1;
    if (t_reuse_fd != -1) {
        /* The struct is taken again at once, as a connection from the free list is. */
        other->ev.fd = t_reuse_fd;
        (void) grn_event_add(&t_loop, &other->ev, EPOLLIN | EPOLLET);
    }
}

static void
t_run(grn_flag_t reuse)
{
    int       sv[2];
    grn_uint_t  i;

    memset(t_evs, 0, sizeof(t_evs));
    if (grn_event_loop_init(&t_loop, 8, grn_log_init()) != GRN_OK) {
        exit(2);
    }
    t_pair(&t_evs[0]);
    t_pair(&t_evs[1]);
    t_reuse_fd = -1;
    if (reuse) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
            exit(2);
        }
        (void) write(sv[1], "y", 1);
        t_reuse_fd = sv[0];
    }
    for (i = 0; i < 2; i++) {
        grn_expect(grn_event_add(&t_loop, &t_evs[i].ev, EPOLLIN | EPOLLET) == GRN_OK);
    }

    /* Both are readable: one runs, and the one it closed must not run in the same batch. */
    grn_expect(grn_event_process(&t_loop, 0) == GRN_OK);
    grn_expect(t_evs[0].calls + t_evs[1].calls == 1);

    if (reuse) {
        /* The new registration's readiness is reported by the next wait, and dispatched. */
        grn_expect(grn_event_process(&t_loop, 0) == GRN_OK);
        grn_expect(t_evs[0].calls == 1 && t_evs[1].calls == 1);
    }

    for (i = 0; i < 2; i++) {
        if (t_evs[i].ev.fd != -1) {
            close(t_evs[i].ev.fd);
        }
        close(t_evs[i].peer);
    }
    grn_event_loop_done(&t_loop);
}

GRN_TEST(event_closed_by_an_earlier_handler_is_not_dispatched)
{
    t_run(0);
}

GRN_TEST(event_closed_and_registered_again_in_one_batch_is_not_dispatched_stale)
{
    t_run(1);
}

GRN_TEST_MAIN(
    GRN_TEST_ENTRY(event_closed_by_an_earlier_handler_is_not_dispatched),
    GRN_TEST_ENTRY(event_closed_and_registered_again_in_one_batch_is_not_dispatched_stale)
)

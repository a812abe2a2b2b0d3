/*
 * grn_worker.c: a worker process, from fork to exit.
 *
 * Order matters here: resource limits and the switch to the app's user come first, so that
 * Python (and the app's import-time code) never runs with the master's privileges; then the
 * interpreter loads the app; only then does the worker accept connections and tell the
 * master it is ready. A worker whose app cannot load exits with GRN_EXIT_BOOT_FAILED so the
 * master backs off instead of respawning in a loop.
 */

#include "grn_core.h"
#include "grn_process.h"
#include "grn_event.h"
#include "grn_http.h"
#include "grn_py.h"
#include "grn_scoreboard.h"

#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static grn_int_t
grn_worker_limits(grn_cycle_t *cycle, grn_app_conf_t *app)
{
    struct rlimit  rl;

    if (app->limit_nofile != GRN_CONF_UNSET) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) app->limit_nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
            grn_log_error(GRN_LOG_EMERG, cycle->log, errno,
                          "app \"%.*s\": setrlimit(RLIMIT_NOFILE, %ld) failed",
                          (int) app->name.len, app->name.data, (long) app->limit_nofile);
            return GRN_ERROR;
        }
    }
    if (app->limit_as != GRN_CONF_UNSET) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) app->limit_as;
        if (setrlimit(RLIMIT_AS, &rl) == -1) {
            grn_log_error(GRN_LOG_EMERG, cycle->log, errno,
                          "app \"%.*s\": setrlimit(RLIMIT_AS) failed",
                          (int) app->name.len, app->name.data);
            return GRN_ERROR;
        }
    }
    return GRN_OK;
}

/* setgid, initgroups, setuid: only when started as root and a user is configured. */
static grn_int_t
grn_worker_drop_privileges(grn_cycle_t *cycle, grn_str_t *user, grn_str_t *group)
{
    gid_t           gid;
    struct group   *gr;
    struct passwd  *pw;

    if (geteuid() != 0 || user->data == NULL) {
        return GRN_OK;
    }

    pw = getpwnam(user->data);
    if (pw == NULL) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, 0, "user \"%s\" does not exist", user->data);
        return GRN_ERROR;
    }
    gid = pw->pw_gid;
    if (group->data) {
        gr = getgrnam(group->data);
        if (gr == NULL) {
            grn_log_error(GRN_LOG_EMERG, cycle->log, 0, "group \"%s\" does not exist",
                          group->data);
            return GRN_ERROR;
        }
        gid = gr->gr_gid;
    }

    if (setgid(gid) == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "setgid(%d) failed", (int) gid);
        return GRN_ERROR;
    }
    if (initgroups(user->data, gid) == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "initgroups(%s, %d) failed",
                      user->data, (int) gid);
        return GRN_ERROR;
    }
    if (setuid(pw->pw_uid) == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "setuid(%d) failed", (int) pw->pw_uid);
        return GRN_ERROR;
    }
    /* fork() cleared it: allow core dumps of a worker that crashes, for post-mortems. */
    (void) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return GRN_OK;
}

/*
 * One event loop per thread; thread 0 is the process's main thread. One more thread, the
 * control thread, does nothing but wait for signals (on the signalfd) and act on them at once,
 * whatever the event-loop threads are doing: it tells them through their eventfd.
 *
 * Stopping to accept. On QUIT this process must stop accepting at once, even while its threads
 * are inside the app: it closes its copies of the listeners, so that once the master and the
 * siblings have closed theirs the port refuses connections instead of queueing them for a
 * worker that will never take them. Closing an fd that another thread may be using is a race
 * (accept4() or epoll_ctl() on a number the kernel has meanwhile given to a new connection),
 * and a listener still registered in a thread's epoll stays registered after close() as long
 * as another process holds the socket, where it would keep taking EPOLLEXCLUSIVE wakeups from
 * the siblings. Hence the gate: an event-loop thread holds its own `gate` whenever it runs C
 * code and lets go of it only while it is in the app (grn_worker_app_enter/leave(), called
 * around every call into Python) and, for good, once it has stopped accepting. The control
 * thread takes each gate in turn. An idle thread has by then drained by itself, accepting what
 * was already queued as before; a thread inside the app has its listeners deleted from its
 * epoll by the control thread and, back from the app, finds `taken` and forgets them before
 * it runs anything else. Only then are the fds closed.
 */
typedef struct {
    int                 fd;
    grn_listening_t    *listening;
} grn_worker_handoff_t;

typedef struct {
    grn_event_t         wake;        /* first: eventfd for "look at the flags" and the baton */
    pthread_t           thread;
    grn_uint_t          index;
    grn_group_t        *group;
    grn_event_loop_t    loop;
    grn_http_worker_t   http;

    /* Connections other threads accepted for this one (see grn_worker_dispatch()). */
    pthread_mutex_t         handoff_lock;
    grn_worker_handoff_t    handoff[64];
    grn_uint_t              nhandoff;

    pthread_mutex_t         gate;        /* see "Stopping to accept" above */
    grn_flag_t              gated;       /* the thread holds the gate outside the app */
    grn_flag_t              stopped;     /* under the gate: it uses no listener any more */
    grn_flag_t              taken;       /* under the gate: the control thread stopped it */
} grn_worker_thread_t;

static volatile sig_atomic_t  grn_worker_stop_threads;   /* 1: drain, 2: exit now */
static __thread grn_worker_thread_t  *grn_worker_self;
static int                    grn_worker_signal_fd;

/*
 * USR1: each thread writes out its own buffered access log lines (the buffers are per thread
 * and unlocked), so thread 0 bumps this count and wakes the others.
 */
static grn_uint_t             grn_worker_log_flushes;

/*
 * The baton: with EPOLLEXCLUSIVE, the wakeups for connections that queue up together can all
 * land on one thread, which accepts one and then may spend a second in Python while the others
 * wait. So a thread that accepts pokes the next one, which accepts too if anything is queued
 * and passes the baton on; the first EAGAIN ends the chain. Only with threads > 1.
 */
static grn_worker_thread_t   *grn_worker_threads;
static grn_uint_t             grn_worker_nthreads;

static void grn_worker_thread_wake(grn_worker_thread_t *t);

static void
grn_worker_pass_baton(grn_http_worker_t *w)
{
    grn_worker_thread_t  *self = w->data;

    grn_worker_thread_wake(&grn_worker_threads[(self->index + 1) % grn_worker_nthreads]);
}

/*
 * A connection is served start to end by the thread that opened it, and a thread in Python
 * serves nobody else meanwhile. The wakeups of connections that arrive together tend to land
 * on one thread (EPOLLEXCLUSIVE wakes the first waiter), which then held them all and served
 * their requests one after another while its siblings sat idle: four 1 s requests took 3 s
 * on 4 threads. So the accepting thread hands a new connection to the thread with the fewest
 * open connections when that is not itself; the target adopts it from its handoff queue when
 * its eventfd wakes it.
 */
static grn_int_t
grn_worker_dispatch(grn_http_worker_t *w, int fd, grn_listening_t *ls)
{
    grn_uint_t            i, n, least;
    grn_worker_thread_t  *self = w->data, *t, *best = self;

    if (grn_worker_stop_threads) {
        return GRN_DECLINED;
    }

    /*
     * A thread's load counts the connections handed to it and not adopted yet: a burst of
     * accepts would otherwise send them all to the thread that looked empty.
     */
    least = w->connections + __atomic_load_n(&self->nhandoff, __ATOMIC_RELAXED);
    for (i = 0; i < grn_worker_nthreads && least > 0; i++) {
        t = &grn_worker_threads[i];
        n = __atomic_load_n(&t->http.connections, __ATOMIC_RELAXED)
            + __atomic_load_n(&t->nhandoff, __ATOMIC_RELAXED);
        if (t != self && n < least) {
            best = t;
            least = n;
        }
    }
    if (best == self) {
        return GRN_DECLINED;
    }

    pthread_mutex_lock(&best->handoff_lock);
    if (best->nhandoff == grn_nelems(best->handoff)) {
        pthread_mutex_unlock(&best->handoff_lock);
        return GRN_DECLINED;
    }
    best->handoff[best->nhandoff].fd = fd;
    best->handoff[best->nhandoff].listening = ls;
    __atomic_store_n(&best->nhandoff, best->nhandoff + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&best->handoff_lock);

    grn_worker_thread_wake(best);
    return GRN_OK;
}

/* Takes the connections handed over to this thread; on exit (`adopt` 0) closes them. */
static void
grn_worker_take_handoffs(grn_worker_thread_t *t, grn_flag_t adopt)
{
    grn_uint_t            i, n;
    grn_worker_handoff_t  taken[grn_nelems(t->handoff)];

    pthread_mutex_lock(&t->handoff_lock);
    n = t->nhandoff;
    memcpy(taken, t->handoff, n * sizeof(grn_worker_handoff_t));
    __atomic_store_n(&t->nhandoff, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&t->handoff_lock);

    for (i = 0; i < n; i++) {
        if (adopt) {
            grn_http_worker_adopt(&t->http, taken[i].fd, taken[i].listening);
        } else {
            close(taken[i].fd);
        }
    }
}

/* max_requests: the requests this process may serve (all threads), 0 for no limit. */
static grn_uint_t             grn_worker_max_requests;
static grn_uint_t             grn_worker_requests;
static int                    grn_worker_channel_fd;

/* Each event-loop thread drains (grn_worker_thread_stop()) at the top of its next turn. */
static void
grn_worker_tell_threads_to_drain(void)
{
    grn_uint_t  i;

    grn_worker_stop_threads = 1;
    for (i = 0; i < grn_worker_nthreads; i++) {
        grn_worker_thread_wake(&grn_worker_threads[i]);
    }
}

static void
grn_worker_count_request(grn_http_worker_t *w)
{
    char        retiring = GRN_CHANNEL_RETIRING;
    grn_uint_t  n;

    n = __atomic_add_fetch(&grn_worker_requests, 1, __ATOMIC_RELAXED);
    if (n != grn_worker_max_requests) {
        return;
    }

    /*
     * Exactly one thread gets here. The master starts the replacement now; the drain is the
     * same as on QUIT, so no request in flight or queued is lost.
     */
    grn_log_error(GRN_LOG_NOTICE, w->log, 0, "worker retiring after %lu requests (max_requests)",
                  (unsigned long) n);
    if (write(grn_worker_channel_fd, &retiring, 1) != 1) {
        grn_log_error(GRN_LOG_ALERT, w->log, errno, "write() to the master failed");
    }

    /*
     * The event-loop threads stop accepting at the top of their next turn, without waiting for
     * the control thread: on a busy machine it may not run for milliseconds, and meanwhile this
     * thread, holding its gate everywhere but in the app, would accept and serve request after
     * request past the limit. The control thread still does the rest on the SIGQUIT.
     */
    grn_worker_tell_threads_to_drain();
    kill(getpid(), SIGQUIT);
}

static void
grn_worker_wake_handler(grn_event_t *ev, uint32_t events GRN_UNUSED)
{
    uint64_t              n;
    grn_worker_thread_t  *t = (grn_worker_thread_t *) ev;    /* `wake` is its first member */

    (void) read(ev->fd, &n, sizeof(n));
    grn_worker_take_handoffs(t, 1);
    if (!t->http.draining) {
        grn_http_worker_accept(&t->http);
    }
}

/*
 * The master is gone: finish what is in flight and leave, as on QUIT (the control thread acts
 * on it). The channel goes out of the loop: at EOF it would be ready at every turn.
 */
static void
grn_worker_channel_handler(grn_event_t *ev, uint32_t events GRN_UNUSED)
{
    char     buf[16];
    ssize_t  n;

    n = read(ev->fd, buf, sizeof(buf));
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
        grn_event_del(&grn_worker_threads[0].loop, ev);
        kill(getpid(), SIGQUIT);
    }
}

/* Takes the gate back; forgets the listeners if the control thread took them meanwhile. */
static void
grn_worker_gate_lock(grn_worker_thread_t *t)
{
    pthread_mutex_lock(&t->gate);
    if (t->taken && t->http.nlisteners) {
        /*
         * They are out of this thread's epoll and their fds are closed or about to be: neither
         * the drain, nor an event left in this turn's batch, nor the baton may reach them.
         */
        t->http.nlisteners = 0;
        t->http.draining = 1;
    }
}

/* For good: the thread will not use a listener again, or is leaving. */
static void
grn_worker_gate_leave(grn_worker_thread_t *t)
{
    if (t->gated) {
        t->stopped = 1;
        t->gated = 0;
        pthread_mutex_unlock(&t->gate);
    }
}

void
grn_worker_app_enter(void)
{
    grn_worker_thread_t  *t = grn_worker_self;

    if (t && t->gated) {
        pthread_mutex_unlock(&t->gate);
    }
}

void
grn_worker_app_leave(void)
{
    grn_worker_thread_t  *t = grn_worker_self;

    if (t && t->gated) {
        grn_worker_gate_lock(t);
    }
}

/* The thread's own part of a graceful stop, at the top of a loop turn. */
static void
grn_worker_thread_stop(grn_worker_thread_t *t)
{
    if (!t->gated) {
        return;
    }
    if (t->taken) {
        /* Its listeners are forgotten: the drain only closes the idle keep-alive connections. */
        t->http.draining = 0;
    }
    grn_http_worker_drain(&t->http);
    grn_worker_gate_leave(t);
}

/*
 * The control thread's part of a graceful stop: every event-loop thread is told, each one's
 * listeners leave its epoll (by the thread itself when it is free to drain, by this thread
 * when it is in the app), then the process's copies of the listening sockets are closed.
 */
static void
grn_worker_stop_accepting(grn_cycle_t *cycle)
{
    grn_uint_t             i, j;
    grn_listening_t       *ls;
    grn_worker_thread_t   *t;
    grn_http_listener_t   *l;

    grn_log_error(GRN_LOG_INFO, cycle->log, 0, "worker draining");
    grn_sb_set_accepting(0);
    grn_worker_tell_threads_to_drain();

    for (i = 0; i < grn_worker_nthreads; i++) {
        t = &grn_worker_threads[i];
        pthread_mutex_lock(&t->gate);
        if (!t->stopped) {
            for (j = 0; j < t->http.nlisteners; j++) {
                l = &t->http.listeners[j];
                if (l->active) {
                    (void) grn_event_del(&t->loop, &l->ev);
                }
            }
            t->taken = 1;
            t->stopped = 1;
        }
        pthread_mutex_unlock(&t->gate);
    }

    /* Listeners of other groups too: this process never accepts them. */
    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1) {
            continue;
        }
        if (close(ls[i].fd) == -1) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "close() of listener %.*s failed",
                          (int) ls[i].addr_text.len, ls[i].addr_text.data);
        }
        ls[i].fd = -1;
    }
}

/*
 * Signals are blocked in every thread and read here only. TERM and INT (the master's fast
 * stop) end the process on the spot, with no interpreter shutdown and no waiting for clients;
 * QUIT stops the accepting at once, however long the requests in flight take.
 */
static void *
grn_worker_control(void *data)
{
    grn_flag_t      stopping = 0;
    grn_cycle_t    *cycle = data;
    struct pollfd   pfd;

    grn_log_tid = grn_worker_nthreads;
    pfd.fd = grn_worker_signal_fd;
    pfd.events = POLLIN;

    for ( ;; ) {
        if (poll(&pfd, 1, -1) == -1) {
            if (errno != EINTR) {
                grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "poll() on the signalfd failed");
                sleep(1);
            }
            continue;
        }
        grn_signals_read_worker(pfd.fd);

        if (grn_sig_terminate) {
            grn_log_error(GRN_LOG_INFO, cycle->log, 0, "worker exiting (fast)");
            _exit(0);
        }
        if (grn_sig_quit && !stopping) {
            stopping = 1;
            grn_worker_stop_accepting(cycle);
        }
        if (grn_sig_reopen) {
            grn_worker_thread_wake(&grn_worker_threads[0]);
        }
    }

    return NULL;
}

static grn_int_t
grn_worker_thread_init(grn_worker_thread_t *t, grn_uint_t index, grn_cycle_t *cycle,
    grn_group_t *group)
{
    memset(t, 0, sizeof(*t));
    t->index = index;
    t->group = group;
    pthread_mutex_init(&t->handoff_lock, NULL);
    pthread_mutex_init(&t->gate, NULL);

    if (grn_event_loop_init(&t->loop, 512, cycle->log) != GRN_OK) {
        return GRN_ERROR;
    }

    t->wake.handler = grn_worker_wake_handler;
    t->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->wake.fd == -1) {
        grn_log_error(GRN_LOG_EMERG, cycle->log, errno, "eventfd() failed");
        return GRN_ERROR;
    }
    if (grn_event_add(&t->loop, &t->wake, EPOLLIN) != GRN_OK) {
        return GRN_ERROR;
    }
    if (grn_http_worker_init(&t->http, &t->loop, cycle, group) != GRN_OK) {
        return GRN_ERROR;
    }
    if (grn_worker_max_requests) {
        t->http.on_request = grn_worker_count_request;
    }
    t->http.data = t;
    if (grn_worker_nthreads > 1) {
        t->http.on_accept = grn_worker_pass_baton;
        t->http.dispatch = grn_worker_dispatch;
    }
    return GRN_OK;
}

static void
grn_worker_thread_wake(grn_worker_thread_t *t)
{
    uint64_t  one = 1;

    (void) write(t->wake.fd, &one, sizeof(one));
}

static void *
grn_worker_thread_run(void *data)
{
    grn_uint_t            flushed = 0;
    grn_worker_thread_t  *t = data;

    grn_log_tid = t->index;
    grn_worker_self = t;
    t->gated = 1;
    grn_worker_gate_lock(t);

    for ( ;; ) {
        if (grn_worker_stop_threads == 2) {
            break;
        }
        if (flushed != __atomic_load_n(&grn_worker_log_flushes, __ATOMIC_ACQUIRE)) {
            flushed = __atomic_load_n(&grn_worker_log_flushes, __ATOMIC_ACQUIRE);
            grn_http_log_flush(&t->http);
        }
        if (grn_worker_stop_threads == 1) {
            grn_worker_thread_stop(t);
        }
        if (t->http.draining) {
            grn_worker_take_handoffs(t, 1);     /* handed over just before the drain */
        }
        if (t->http.draining && t->http.connections == 0) {
            break;
        }
        if (grn_event_process(&t->loop, -1) == GRN_ERROR) {
            break;
        }
    }

    grn_worker_gate_leave(t);
    grn_worker_take_handoffs(t, 0);
    grn_http_worker_done(&t->http);
    if (t->group->app) {
        grn_py_thread_done();
    }
    return NULL;
}

void
grn_worker_process(grn_cycle_t *cycle, grn_group_t *group, int channel)
{
    int                    rc;
    char                   ready = GRN_CHANNEL_READY;
    sigset_t               all, saved;
    pthread_t              control;
    grn_uint_t             i, nthreads;
    grn_event_t            ch = { .fd = -1 };
    grn_app_conf_t        *app = group->app;
    grn_worker_thread_t   *threads, *main;

    grn_log_tid = 0;
    grn_systemd_worker();

    grn_worker_signal_fd = grn_signals_init_worker(cycle->log);
    if (grn_worker_signal_fd == -1) {
        exit(2);
    }

    if (app) {
        if (grn_worker_limits(cycle, app) != GRN_OK
            || grn_worker_drop_privileges(cycle, &app->user, &app->group) != GRN_OK)
        {
            exit(GRN_EXIT_BOOT_FAILED);
        }
        if (grn_py_init(cycle, app) != GRN_OK) {
            exit(GRN_EXIT_BOOT_FAILED);
        }
    } else if (grn_worker_drop_privileges(cycle, &cycle->core->user, &cycle->core->group)
               != GRN_OK)
    {
        exit(GRN_EXIT_BOOT_FAILED);
    }

    grn_worker_channel_fd = channel;
    if (app && app->max_requests > 0) {
        grn_uint_t  jitter = 0;

        if (app->max_requests_jitter > 0) {
            srandom((unsigned) (getpid() ^ time(NULL)));
            jitter = (grn_uint_t) (random() % (app->max_requests_jitter + 1));
        }
        grn_worker_max_requests = (grn_uint_t) app->max_requests + jitter;
    }

    nthreads = grn_max(group->threads, 1);
    threads = grn_calloc(sizeof(grn_worker_thread_t) * nthreads, cycle->log);
    if (threads == NULL) {
        exit(2);
    }
    main = &threads[0];
    grn_worker_threads = threads;
    grn_worker_nthreads = nthreads;

    for (i = 0; i < nthreads; i++) {
        if (grn_worker_thread_init(&threads[i], i, cycle, group) != GRN_OK) {
            exit(2);
        }
    }

    if (fcntl(channel, F_SETFL, O_NONBLOCK) == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "fcntl(O_NONBLOCK) on channel failed");
    }
    ch.handler = grn_worker_channel_handler;
    ch.fd = channel;
    if (grn_event_add(&main->loop, &ch, EPOLLIN) != GRN_OK) {
        exit(2);
    }

    grn_worker_self = main;
    main->gated = 1;
    grn_worker_gate_lock(main);

    /* The new threads start with every signal blocked: they arrive on the signalfd only. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    for (i = 1; i <= nthreads; i++) {
        rc = (i < nthreads)
             ? pthread_create(&threads[i].thread, NULL, grn_worker_thread_run, &threads[i])
             : pthread_create(&control, NULL, grn_worker_control, cycle);
        if (rc != 0) {
            grn_log_error(GRN_LOG_EMERG, cycle->log, rc, "pthread_create() failed");
            exit(2);
        }
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);

    if (app) {
        grn_sb_set_accepting(grn_hash_name(app->name.data, app->name.len));
    }
    if (write(channel, &ready, 1) != 1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "write() of ready to the master failed");
    }

    for ( ;; ) {
        if (grn_worker_stop_threads == 1) {
            grn_worker_thread_stop(main);
        }

        if (grn_sig_reopen) {
            grn_sig_reopen = 0;
            /* Lines buffered before the signal go to the file logrotate renamed. */
            grn_http_log_flush(&main->http);
            grn_cycle_reopen_files(cycle);
            /* Lands in the new file: the sign that this worker writes there now. */
            grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "logs reopened");
            __atomic_add_fetch(&grn_worker_log_flushes, 1, __ATOMIC_RELEASE);
            for (i = 1; i < nthreads; i++) {
                grn_worker_thread_wake(&threads[i]);
            }
        }

        if (main->http.draining) {
            grn_worker_take_handoffs(main, 1);
        }
        if (main->http.draining && main->http.connections == 0) {
            break;
        }

        if (grn_event_process(&main->loop, -1) == GRN_ERROR) {
            grn_worker_stop_threads = 2;
            break;
        }
    }

    for (i = 1; i < nthreads; i++) {
        grn_worker_thread_wake(&threads[i]);
        pthread_join(threads[i].thread, NULL);
    }

    grn_worker_gate_leave(main);
    grn_worker_take_handoffs(main, 0);
    grn_http_worker_done(&main->http);
    close(channel);

    if (app) {
        grn_py_done();
    }
    grn_log_error(GRN_LOG_INFO, cycle->log, 0, "worker exiting");
    exit(0);
}

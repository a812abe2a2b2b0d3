/*
 * grn_master.c: the master process. It never runs Python.
 *
 * The master's loop is a reconciliation: every turn it compares the workers that run with the
 * workers the current generation wants, and starts, retires or kills processes to close the
 * gap. Signals only set flags (grn_process.c) and are unblocked only inside ppoll(), which
 * also watches each worker's channel for its "ready" byte. That one loop gives respawn with
 * backoff, reload (new workers first, old ones retired when their successors are ready),
 * TTIN/TTOU, WINCH and graceful or fast stop.
 */

#include "grn_core.h"
#include "grn_process.h"
#include "grn_event.h"
#include "grn_scoreboard.h"
#include "grn_py.h"

#include <poll.h>
#include <sys/wait.h>

#define GRN_MAX_OLD_CYCLES    32
#define GRN_FAST_STOP_GRACE   2000     /* ms a worker gets to exit on INT before SIGKILL */
#define GRN_BACKOFF_MAX       30000    /* ms between attempts to boot a failing app */

static grn_cycle_t  *grn_old_cycles[GRN_MAX_OLD_CYCLES];
static grn_uint_t    grn_nold_cycles;

static grn_flag_t    grn_exiting;      /* stop requested: no more spawns */
static grn_flag_t    grn_noaccept;     /* WINCH: workers stopped, master keeps listeners */

static void grn_master_reap(grn_cycle_t *cycle, grn_msec_t now);
static void grn_master_reconcile(grn_cycle_t *cycle, grn_msec_t now);
static void grn_master_read_channels(struct pollfd *fds, grn_uint_t *slots, grn_uint_t n,
    grn_cycle_t *cycle);
static grn_cycle_t *grn_master_reload(grn_cycle_t *cycle);
static void grn_master_stop_all(grn_cycle_t *cycle, int signo, grn_msec_t now, grn_msec_t grace);
static void grn_master_close_listening(grn_cycle_t *cycle);
static void grn_master_free_old_cycles(grn_cycle_t *cycle);

#define GRN_TIMEOUT_CHECK      500      /* ms between looks at the scoreboard */
#define GRN_TIMEOUT_DUMP_WAIT  1000     /* ms for the traceback to be written before SIGKILL */

/*
 * An app's `timeout`: a thread inside the app for longer gets its process's tracebacks dumped
 * (SIGUSR2, which Python's faulthandler handles in the worker) and the process replaced. The
 * replacement starts at once: the stuck process no longer counts as live.
 */
static grn_msec_t
grn_master_check_timeouts(grn_msec_t now)
{
    int64_t          since;
    grn_uint_t       i, t;
    grn_msec_t       wake = -1;
    grn_app_conf_t  *app;
    grn_process_t   *p;

    for (i = 0; i < grn_nprocesses; i++) {
        p = &grn_processes[i];
        if (p->pid == 0 || p->stopping || p->group->app == NULL) {
            continue;
        }
        app = p->group->app;
        if (app->timeout <= 0) {
            continue;
        }
        wake = now + GRN_TIMEOUT_CHECK;

        for (t = 0; t < p->group->threads && t < GRN_SB_THREADS; t++) {
            since = grn_scoreboard[i].busy_since[t];
            if (since == 0 || now - since <= app->timeout) {
                continue;
            }
            grn_log_error(GRN_LOG_ERR, p->cycle->log, 0,
                          "app \"%.*s\": worker process %d has run a request for %.1fs, over "
                          "its timeout of %gs; its threads' tracebacks follow, then it is "
                          "replaced", (int) app->name.len, app->name.data, (int) p->pid,
                          (double) (now - since) / 1000, (double) app->timeout / 1000);
            kill(p->pid, SIGUSR2);
            grn_sb_count_timeout(grn_hash_name(p->group->name.data, p->group->name.len));
            grn_sb_set_state(i, GRN_SB_DRAINING);
            p->timed_out = 1;
            p->stopping = 1;
            p->kill_at = now + GRN_TIMEOUT_DUMP_WAIT;
            break;
        }
    }
    return wake;
}

static grn_uint_t
grn_master_live_processes(void)
{
    grn_uint_t  i, n = 0;

    for (i = 0; i < grn_nprocesses; i++) {
        if (grn_processes[i].pid) {
            n++;
        }
    }
    return n;
}

/*
 * Tells systemd the service stops, unless a new binary has taken over (an upgrade being
 * committed): then the service goes on in the new master.
 */
static void
grn_master_stopping(grn_cycle_t *cycle)
{
    if (grn_upgrade_new_master() == 0) {
        grn_systemd_stopping(cycle->log);
    }
}

int
grn_master_process(grn_cycle_t *cycle)
{
    int             rc, timeout;
    sigset_t        wait_mask;
    grn_uint_t      i, n, slots[GRN_MAX_PROCESSES];
    grn_msec_t      now, wake;
    struct pollfd   fds[GRN_MAX_PROCESSES];
    struct timespec ts;

    if (grn_signals_init_master(cycle->log, &wait_mask) != GRN_OK
        || grn_scoreboard_init(GRN_MAX_PROCESSES, cycle->log) != GRN_OK)
    {
        grn_cycle_release(cycle, NULL);
        return 1;
    }

    /* Once, so app workers share one copy of the Python module (a failure: they retry). */
    (void) grn_py_image_prepare(cycle->log);

    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "%s started, generation %lu",
                  GREENC_VER, (unsigned long) cycle->generation);

    for ( ;; ) {
        now = grn_monotonic_msec();

        if (grn_sig_reap) {
            grn_sig_reap = 0;
            grn_master_reap(cycle, now);
            grn_master_free_old_cycles(cycle);
        }

        if (!grn_exiting) {
            grn_systemd_check_ready(cycle);
        }

        if (grn_sig_terminate) {
            grn_sig_terminate = 0;
            grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "fast shutdown");
            grn_master_stopping(cycle);
            grn_exiting = 1;
            grn_master_close_listening(cycle);
            grn_master_stop_all(cycle, SIGTERM, now, GRN_FAST_STOP_GRACE);
        }

        if (grn_sig_quit) {
            grn_sig_quit = 0;
            if (!grn_exiting) {
                grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "graceful shutdown");
                grn_master_stopping(cycle);
                grn_exiting = 1;
                grn_master_close_listening(cycle);
                grn_master_stop_all(cycle, SIGQUIT, now, cycle->core->graceful_timeout);
            }
        }

        if (grn_sig_reconfigure) {
            grn_sig_reconfigure = 0;
            if (grn_exiting) {
                /* nothing: a stopping server does not start a new generation */
            } else if (grn_noaccept) {
                grn_log_error(GRN_LOG_NOTICE, cycle->log, 0,
                              "restarting workers (after WINCH), configuration unchanged");
                grn_noaccept = 0;
            } else {
                grn_systemd_reloading(cycle->log);
                cycle = grn_master_reload(cycle);
            }
        }

        if (grn_sig_reopen) {
            grn_sig_reopen = 0;
            grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "reopening logs");
            grn_cycle_reopen_files(cycle);
            for (i = 0; i < grn_nprocesses; i++) {
                if (grn_processes[i].pid) {
                    kill(grn_processes[i].pid, SIGUSR1);
                }
            }
        }

        if (grn_sig_upgrade) {
            grn_sig_upgrade = 0;
            if (!grn_exiting) {
                grn_upgrade_start(cycle);
            }
        }

        if (grn_sig_noaccept) {
            grn_sig_noaccept = 0;
            if (!grn_exiting) {
                grn_log_error(GRN_LOG_NOTICE, cycle->log, 0,
                              "gracefully stopping workers (WINCH); HUP starts them again");
                grn_noaccept = 1;
                grn_master_stop_all(cycle, SIGQUIT, now, cycle->core->graceful_timeout);
            }
        }

        while (grn_sig_more > 0 || grn_sig_fewer > 0) {
            grn_group_t  *g = cycle->groups.elts;
            int           more = grn_sig_more > 0;

            if (more) {
                grn_sig_more--;
            } else {
                grn_sig_fewer--;
            }
            for (i = 0; i < cycle->groups.nelts; i++) {
                if (more && g[i].workers < 1024) {
                    g[i].workers++;
                } else if (!more && g[i].workers > 1) {
                    g[i].workers--;
                }
                grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "group \"%.*s\": %lu workers",
                              (int) g[i].name.len, g[i].name.data,
                              (unsigned long) g[i].workers);
            }
        }

        if (!grn_exiting && !grn_noaccept) {
            grn_master_reconcile(cycle, now);
        }

        wake = grn_master_check_timeouts(now);

        /* Workers that outstay their grace period are killed. */
        for (i = 0; i < grn_nprocesses; i++) {
            grn_process_t  *p = &grn_processes[i];

            if (p->pid == 0 || !p->stopping || p->kill_at == 0) {
                continue;
            }
            if (p->kill_at <= now) {
                grn_log_error(GRN_LOG_WARN, cycle->log, 0,
                              "worker process %d did not exit in time; killing it",
                              (int) p->pid);
                kill(p->pid, SIGKILL);
                p->kill_at = 0;
                continue;
            }
            if (wake == -1 || p->kill_at < wake) {
                wake = p->kill_at;
            }
        }

        if (grn_exiting && grn_master_live_processes() == 0) {
            break;
        }

        if (!grn_exiting && !grn_noaccept) {
            grn_group_t  *g = cycle->groups.elts;

            for (i = 0; i < cycle->groups.nelts; i++) {
                if (g[i].next_spawn > now && (wake == -1 || g[i].next_spawn < wake)) {
                    wake = g[i].next_spawn;
                }
            }
        }

        n = 0;
        for (i = 0; i < grn_nprocesses; i++) {
            if (grn_processes[i].pid && grn_processes[i].channel != -1) {
                fds[n].fd = grn_processes[i].channel;
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                slots[n++] = i;
            }
        }

        timeout = (wake == -1) ? -1 : (int) grn_max(wake - now, 0);
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (long) (timeout % 1000) * 1000000;

        rc = ppoll(fds, n, timeout == -1 ? NULL : &ts, &wait_mask);
        if (rc == -1 && errno != EINTR) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "ppoll() failed");
            continue;
        }
        if (rc > 0) {
            grn_master_read_channels(fds, slots, n, cycle);
        }
    }

    if (unlink(grn_upgrade_pid_path(cycle)) == -1 && errno != ENOENT) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "unlink() \"%s\" failed",
                      grn_upgrade_pid_path(cycle));
    }
    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "exit");

    /*
     * Free every generation, the running one too: after a reload nothing else points at it,
     * and a leak check at exit (LeakSanitizer in the test builds) must find the master clean.
     */
    for (i = 0; i < grn_nold_cycles; i++) {
        grn_cycle_release(grn_old_cycles[i], cycle);
    }
    grn_nold_cycles = 0;
    grn_cycle_release(cycle, NULL);

    return 0;
}

static void
grn_master_read_channels(struct pollfd *fds, grn_uint_t *slots, grn_uint_t n,
    grn_cycle_t *cycle)
{
    char            buf[16];
    ssize_t         k, j;
    grn_uint_t      i;
    grn_process_t  *p;

    for (i = 0; i < n; i++) {
        if (fds[i].revents == 0) {
            continue;
        }
        p = &grn_processes[slots[i]];

        k = read(p->channel, buf, sizeof(buf));
        if (k == -1 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (k <= 0) {
            /* The worker is exiting; SIGCHLD brings its status. */
            close(p->channel);
            p->channel = -1;
            continue;
        }

        for (j = 0; j < k; j++) {
            if (buf[j] == GRN_CHANNEL_RETIRING && !p->stopping) {
                /* Not counted as live any more: its replacement starts at once. */
                p->stopping = 1;
                p->retiring = 1;
                grn_sb_set_state(slots[i], GRN_SB_DRAINING);
                p->kill_at = grn_monotonic_msec() + cycle->core->graceful_timeout;
                grn_log_error(GRN_LOG_NOTICE, cycle->log, 0,
                              "worker process %d of app \"%.*s\" retires (max_requests)",
                              (int) p->pid, (int) p->group->name.len, p->group->name.data);
                continue;
            }
            if (buf[j] == GRN_CHANNEL_READY && !p->ready) {
                p->ready = 1;
                p->group->ready++;
                grn_sb_set_state(slots[i], GRN_SB_READY);
                p->group->boot_failures = 0;
                p->group->next_spawn = 0;
                if (p->group->app) {
                    grn_sb_set_app_down(grn_hash_name(p->group->name.data,
                                                      p->group->name.len), 0);
                }
                grn_log_error(GRN_LOG_INFO, cycle->log, 0,
                              "worker process %d of %s \"%.*s\" is ready", (int) p->pid,
                              p->group->app ? "app" : "group", (int) p->group->name.len,
                              p->group->name.data);
            }
        }
    }
}

/* Why a worker is gone, for the status page; -1 when it was told to stop (no restart). */
static int
grn_master_restart_cause(grn_process_t *p, int status)
{
    if (p->timed_out) {
        return GRN_SB_TIMEOUT;
    }
    if (p->retiring) {
        return GRN_SB_MAX_REQUESTS;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == GRN_EXIT_BOOT_FAILED && !p->ready) {
        return GRN_SB_BOOT;
    }
    if (p->stopping) {
        return -1;
    }
    return WIFSIGNALED(status) ? GRN_SB_SIGNAL : GRN_SB_EXIT;
}

static void
grn_master_reap(grn_cycle_t *cycle, grn_msec_t now)
{
    int             status;
    pid_t           pid;
    grn_uint_t      i;
    grn_msec_t      delay;
    grn_group_t    *g;
    grn_process_t  *p;

    for ( ;; ) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            return;
        }
        if (pid == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECHILD) {
                grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "waitpid() failed");
            }
            return;
        }

        if (pid == grn_upgrade_new_master()) {
            grn_upgrade_reaped(cycle, status);
            continue;
        }

        p = NULL;
        for (i = 0; i < grn_nprocesses; i++) {
            if (grn_processes[i].pid == pid) {
                p = &grn_processes[i];
                break;
            }
        }
        if (p == NULL) {
            continue;
        }
        g = p->group;

        if (WIFSIGNALED(status)) {
            grn_log_error(p->stopping && WTERMSIG(status) == SIGKILL ? GRN_LOG_WARN
                                                                       : GRN_LOG_ALERT,
                          cycle->log, 0,
                          "worker process %d of %s \"%.*s\" exited on signal %d%s", (int) pid,
                          g->app ? "app" : "group", (int) g->name.len, g->name.data,
                          WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");

        } else if (WEXITSTATUS(status) == GRN_EXIT_BOOT_FAILED && !p->ready) {
            g->boot_failures++;
            /* The router answers 502 for it now rather than queue requests nobody takes. */
            grn_sb_set_app_down(grn_hash_name(g->name.data, g->name.len), 1);
            delay = (grn_msec_t) 1000 << grn_min(g->boot_failures - 1, 5);
            delay = grn_min(delay, GRN_BACKOFF_MAX);
            g->next_spawn = now + delay;
            grn_log_error(GRN_LOG_ERR, cycle->log, 0,
                          "app \"%.*s\": worker process %d failed to boot (exit code %d); "
                          "next attempt in %lds", (int) g->name.len, g->name.data, (int) pid,
                          WEXITSTATUS(status), (long) (delay / 1000));

        } else if (WEXITSTATUS(status) != 0) {
            grn_log_error(GRN_LOG_ALERT, cycle->log, 0,
                          "worker process %d of %s \"%.*s\" exited with code %d", (int) pid,
                          g->app ? "app" : "group", (int) g->name.len, g->name.data,
                          WEXITSTATUS(status));

        } else {
            grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "worker process %d exited",
                          (int) pid);
        }

        /*
         * A worker that dies before it is ready (exit 3 is counted above), or again and again
         * right after it started, backs off too: a crash loop must never spin the CPU.
         */
        if (!p->stopping && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            && !(WIFEXITED(status) && WEXITSTATUS(status) == GRN_EXIT_BOOT_FAILED)
            && (!p->ready || now - p->started < 1000))
        {
            g->boot_failures++;
            g->next_spawn = now + grn_min((grn_msec_t) 1000 << grn_min(g->boot_failures - 1, 5),
                                          GRN_BACKOFF_MAX);
        }

        if (p->ready && g->ready > 0) {
            g->ready--;
        }
        grn_sb_slot_retire((grn_uint_t) (p - grn_processes), grn_master_restart_cause(p, status));
        if (grn_sb_apps) {
            /* It died without draining (killed, crashed): the router must not count on it. */
            grn_sb_apps[p - grn_processes].accepting = 0;
        }
        if (p->channel != -1) {
            close(p->channel);
        }
        memset(p, 0, sizeof(*p));
        p->channel = -1;
    }
}

/* The group of the current generation that takes over from an old group of the same name. */
static grn_group_t *
grn_master_successor(grn_cycle_t *cycle, grn_group_t *old)
{
    grn_uint_t    i;
    grn_group_t  *g = cycle->groups.elts;

    for (i = 0; i < cycle->groups.nelts; i++) {
        if (grn_str_eq(&g[i].name, &old->name)) {
            return &g[i];
        }
    }
    return NULL;
}

static void
grn_master_reconcile(grn_cycle_t *cycle, grn_msec_t now)
{
    grn_uint_t      i, j, live, booting;
    grn_group_t    *g, *successor;
    grn_process_t  *p;

    g = cycle->groups.elts;
    for (i = 0; i < cycle->groups.nelts; i++) {
        live = 0;
        booting = 0;
        for (j = 0; j < grn_nprocesses; j++) {
            p = &grn_processes[j];
            if (p->pid && p->group == &g[i] && !p->stopping) {
                live++;
                booting += !p->ready;
            }
        }

        /* TTOU: retire the newest extra workers. */
        for (j = grn_nprocesses; live > g[i].workers && j-- > 0; ) {
            p = &grn_processes[j];
            if (p->pid && p->group == &g[i] && !p->stopping) {
                grn_process_signal(p, SIGQUIT, now, cycle->core->graceful_timeout);
                live--;
            }
        }

        if (now < g[i].next_spawn) {
            continue;
        }
        /* While an app fails to boot, probe with one worker at a time. */
        if (g[i].boot_failures && booting) {
            continue;
        }
        while (live < g[i].workers) {
            if (grn_process_spawn(cycle, &g[i], now) != GRN_OK) {
                g[i].next_spawn = now + 1000;
                break;
            }
            live++;
            if (g[i].boot_failures) {
                break;
            }
        }
    }

    /*
     * Workers of older generations are retired once their successors are all ready; a group
     * whose new workers cannot boot keeps its old ones serving.
     */
    for (j = 0; j < grn_nprocesses; j++) {
        p = &grn_processes[j];
        if (p->pid == 0 || p->cycle == cycle || p->stopping) {
            continue;
        }
        successor = grn_master_successor(cycle, p->group);
        if (successor == NULL || successor->ready >= successor->workers) {
            grn_process_signal(p, SIGQUIT, now, cycle->core->graceful_timeout);
        }
    }
}

static grn_cycle_t *
grn_master_reload(grn_cycle_t *cycle)
{
    grn_cycle_t  *new_cycle;

    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "reconfiguring from \"%s\"",
                  cycle->conf_file.data);

    if (grn_nold_cycles == GRN_MAX_OLD_CYCLES) {
        grn_log_error(GRN_LOG_ERR, cycle->log, 0, "too many generations are still draining; "
                      "reload refused, try again when they have exited");
        return cycle;
    }

    new_cycle = grn_cycle_init(cycle, cycle->log, &cycle->conf_file, &cycle->prefix,
                               &cycle->conf_param);
    if (new_cycle == NULL) {
        grn_log_error(GRN_LOG_ERR, cycle->log, 0,
                      "reload failed; still serving with the previous configuration");
        return cycle;
    }

    if (grn_cycle_open_listening(new_cycle) != GRN_OK
        || grn_cycle_open_files(new_cycle) != GRN_OK)
    {
        grn_cycle_close_new_listening(new_cycle);
        grn_destroy_pool(new_cycle->pool);
        grn_log_error(GRN_LOG_ERR, cycle->log, 0,
                      "reload failed; still serving with the previous configuration");
        return cycle;
    }

    grn_old_cycles[grn_nold_cycles++] = cycle;
    grn_log_error(GRN_LOG_NOTICE, new_cycle->log, 0, "generation %lu configured, starting workers",
                  (unsigned long) new_cycle->generation);
    return new_cycle;
}

static void
grn_master_stop_all(grn_cycle_t *cycle GRN_UNUSED, int signo, grn_msec_t now, grn_msec_t grace)
{
    grn_uint_t  i;

    for (i = 0; i < grn_nprocesses; i++) {
        grn_process_t  *p = &grn_processes[i];

        if (p->pid == 0) {
            continue;
        }
        if (signo == SIGQUIT && p->stopping) {
            continue;
        }
        grn_process_signal(p, signo, now, grace);
        if (signo == SIGTERM) {
            /* INT overrides a longer graceful deadline. */
            p->kill_at = grn_min(p->kill_at ? p->kill_at : now + grace, now + grace);
        }
    }
}

static grn_flag_t
grn_master_cycle_holds(grn_cycle_t *cycle, int fd)
{
    grn_uint_t        i;
    grn_listening_t  *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == fd) {
            return 1;
        }
    }
    return 0;
}

/* Whether any generation other than `except` still holds this listening fd. */
static grn_flag_t
grn_master_fd_shared(grn_cycle_t *cycle, grn_cycle_t *except, int fd)
{
    grn_uint_t    c;
    grn_cycle_t  *other;

    for (c = 0; c <= grn_nold_cycles; c++) {
        other = (c < grn_nold_cycles) ? grn_old_cycles[c] : cycle;
        if (other != except && other != NULL && grn_master_cycle_holds(other, fd)) {
            return 1;
        }
    }
    return 0;
}

/* Whether the cycle writes to this fd: its error log or one of its open files. */
static grn_flag_t
grn_master_cycle_writes(grn_cycle_t *cycle, int fd)
{
    grn_uint_t        i;
    grn_open_file_t  *file = cycle->open_files.elts;

    if (fd == STDERR_FILENO || cycle->log->fd == fd) {
        return 1;
    }
    for (i = 0; i < cycle->open_files.nelts; i++) {
        if (file[i].fd == fd) {
            return 1;
        }
    }
    return 0;
}

/*
 * In a worker just forked: the master keeps the listeners and files of older generations open
 * until their last worker exits, and a new worker that inherited them would keep an address
 * removed by the reload listening (and queueing clients nobody serves) after the master closed
 * it, and hold the old error and access logs open for its whole life (a descriptor more per
 * reload, and files logrotate can never free). Sockets the worker's own generation took over
 * (same address) stay open.
 */
void
grn_master_close_old_fds(grn_cycle_t *cycle)
{
    grn_uint_t        i, c;
    grn_cycle_t      *old;
    grn_open_file_t  *file;
    grn_listening_t  *ls;

    for (c = 0; c < grn_nold_cycles; c++) {
        old = grn_old_cycles[c];
        if (old == cycle) {
            continue;
        }
        ls = old->listening.elts;
        for (i = 0; i < old->listening.nelts; i++) {
            if (ls[i].fd != -1 && !grn_master_cycle_holds(cycle, ls[i].fd)) {
                close(ls[i].fd);
            }
        }
        if (old->log->fd != -1 && !grn_master_cycle_writes(cycle, old->log->fd)) {
            close(old->log->fd);
        }
        file = old->open_files.elts;
        for (i = 0; i < old->open_files.nelts; i++) {
            if (file[i].fd != -1 && !grn_master_cycle_writes(cycle, file[i].fd)) {
                close(file[i].fd);
            }
        }
    }
}

/* A stopping server closes its listeners, so new connections are refused, not left queued. */
static void
grn_master_close_listening(grn_cycle_t *cycle)
{
    grn_uint_t        i, c;
    grn_flag_t        keep_files = grn_upgrade_socket_files_shared();
    grn_cycle_t      *one;
    grn_listening_t  *ls;

    for (c = 0; c <= grn_nold_cycles; c++) {
        one = (c < grn_nold_cycles) ? grn_old_cycles[c] : cycle;
        ls = one->listening.elts;
        for (i = 0; i < one->listening.nelts; i++) {
            if (ls[i].fd == -1) {
                continue;
            }
            if (!grn_master_fd_shared(cycle, one, ls[i].fd)) {
                close(ls[i].fd);
                if (ls[i].u.sockaddr.sa_family == AF_UNIX && !keep_files) {
                    unlink(ls[i].u.sun.sun_path);
                }
            }
            ls[i].fd = -1;
        }
    }
}

static void
grn_master_free_old_cycles(grn_cycle_t *cycle)
{
    grn_uint_t        i, j, k;
    grn_cycle_t      *old;
    grn_listening_t  *ls;

    for (i = 0; i < grn_nold_cycles; ) {
        old = grn_old_cycles[i];
        for (j = 0; j < grn_nprocesses; j++) {
            if (grn_processes[j].pid && grn_processes[j].cycle == old) {
                break;
            }
        }
        if (j < grn_nprocesses) {
            i++;
            continue;
        }

        /* Sockets another generation still holds are theirs to close. */
        ls = old->listening.elts;
        for (j = 0; j < old->listening.nelts; j++) {
            if (ls[j].fd != -1 && grn_master_fd_shared(cycle, old, ls[j].fd)) {
                ls[j].fd = -1;
            }
        }
        grn_cycle_release(old, NULL);

        for (k = i + 1; k < grn_nold_cycles; k++) {
            grn_old_cycles[k - 1] = grn_old_cycles[k];
        }
        grn_nold_cycles--;
    }
}

/*
 * grn_process.c: signal handling for master and workers, and forking a worker.
 */

#include "grn_core.h"
#include "grn_process.h"
#include "grn_scoreboard.h"

#include <sys/signalfd.h>

grn_process_t          grn_processes[GRN_MAX_PROCESSES];
grn_uint_t             grn_nprocesses;

volatile sig_atomic_t  grn_sig_reap;
volatile sig_atomic_t  grn_sig_quit;
volatile sig_atomic_t  grn_sig_terminate;
volatile sig_atomic_t  grn_sig_reconfigure;
volatile sig_atomic_t  grn_sig_reopen;
volatile sig_atomic_t  grn_sig_upgrade;
volatile sig_atomic_t  grn_sig_noaccept;
volatile sig_atomic_t  grn_sig_more;
volatile sig_atomic_t  grn_sig_fewer;

static void
grn_master_signal_handler(int signo)
{
    int  saved = errno;

    switch (signo) {
    case SIGCHLD:  grn_sig_reap = 1; break;
    case SIGTERM:
    case SIGQUIT:  grn_sig_quit = 1; break;
    case SIGINT:   grn_sig_terminate = 1; break;
    case SIGHUP:   grn_sig_reconfigure = 1; break;
    case SIGUSR1:  grn_sig_reopen = 1; break;
    case SIGUSR2:  grn_sig_upgrade = 1; break;
    case SIGWINCH: grn_sig_noaccept = 1; break;
    case SIGTTIN:  grn_sig_more++; break;
    case SIGTTOU:  grn_sig_fewer++; break;
    default: break;
    }

    errno = saved;
}

static const int  grn_master_signals[] = {
    SIGCHLD, SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU
};

grn_int_t
grn_signals_init_master(grn_log_t *log, sigset_t *wait_mask)
{
    size_t            i;
    sigset_t          set;
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    sigemptyset(&set);
    for (i = 0; i < grn_nelems(grn_master_signals); i++) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = grn_master_signal_handler;
        sigfillset(&sa.sa_mask);
        if (sigaction(grn_master_signals[i], &sa, NULL) == -1) {
            grn_log_error(GRN_LOG_EMERG, log, errno, "sigaction(%d) failed",
                          grn_master_signals[i]);
            return GRN_ERROR;
        }
        sigaddset(&set, grn_master_signals[i]);
    }

    if (sigprocmask(SIG_BLOCK, &set, wait_mask) == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "sigprocmask() failed");
        return GRN_ERROR;
    }
    for (i = 0; i < grn_nelems(grn_master_signals); i++) {
        sigdelset(wait_mask, grn_master_signals[i]);
    }
    return GRN_OK;
}

/*
 * A worker takes its signals through a signalfd in its main loop, not through handlers: they
 * stay blocked and arrive as an ordinary event. (Unblocking them only inside epoll_pwait()
 * does not do: when ready events are waiting, epoll_pwait() returns without delivering a
 * pending signal, so a worker under constant load would not see QUIT until it fell idle.)
 */
static const int  grn_worker_signals[] = { SIGQUIT, SIGTERM, SIGINT, SIGUSR1 };

int
grn_signals_init_worker(grn_log_t *log)
{
    int               fd;
    size_t            i;
    sigset_t          set;
    struct sigaction  sa;

    /* SIGUSR2 stays ignored in a C-only worker; an app worker's Python takes it over. */
    static const int  ignored[] = { SIGHUP, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU, SIGPIPE };

    grn_sig_reap = grn_sig_quit = grn_sig_terminate = grn_sig_reconfigure = 0;
    grn_sig_reopen = grn_sig_upgrade = grn_sig_noaccept = grn_sig_more = grn_sig_fewer = 0;

    for (i = 0; i < grn_nelems(ignored); i++) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(ignored[i], &sa, NULL);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);

    sigemptyset(&set);
    for (i = 0; i < grn_nelems(grn_worker_signals); i++) {
        sigaddset(&set, grn_worker_signals[i]);
        sigaction(grn_worker_signals[i], &sa, NULL);           /* SIG_DFL: never run */
    }
    if (sigprocmask(SIG_SETMASK, &set, NULL) == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "sigprocmask() failed");
        return -1;
    }

    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1) {
        grn_log_error(GRN_LOG_EMERG, log, errno, "signalfd() failed");
    }
    return fd;
}

void
grn_signals_read_worker(int fd)
{
    struct signalfd_siginfo  si[8];
    ssize_t                  n, i;

    while ((n = read(fd, si, sizeof(si))) > 0) {
        for (i = 0; i < n / (ssize_t) sizeof(si[0]); i++) {
            switch (si[i].ssi_signo) {
            case SIGQUIT:  grn_sig_quit = 1; break;
            case SIGTERM:
            case SIGINT:   grn_sig_terminate = 1; break;
            case SIGUSR1:  grn_sig_reopen = 1; break;
            default: break;
            }
        }
    }
}

grn_int_t
grn_process_spawn(grn_cycle_t *cycle, grn_group_t *group, grn_msec_t now)
{
    int             pair[2];
    pid_t           pid;
    grn_uint_t      i, slot;
    grn_process_t  *p;

    for (slot = 0; slot < GRN_MAX_PROCESSES; slot++) {
        if (grn_processes[slot].pid == 0) {
            break;
        }
    }
    if (slot == GRN_MAX_PROCESSES) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, 0,
                      "no more than %d worker processes can run", GRN_MAX_PROCESSES);
        return GRN_ERROR;
    }

    grn_sb_slot_prepare(slot, grn_hash_name(group->name.data, group->name.len), cycle);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "socketpair() failed");
        return GRN_ERROR;
    }

    pid = fork();

    switch (pid) {

    case -1:
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "fork() failed");
        close(pair[0]);
        close(pair[1]);
        return GRN_ERROR;

    case 0:
        /* The master's ends of the other workers' channels are not this worker's business. */
        for (i = 0; i < grn_nprocesses; i++) {
            if (grn_processes[i].pid && grn_processes[i].channel != -1) {
                close(grn_processes[i].channel);
            }
        }
        close(pair[0]);
        grn_master_close_old_fds(cycle);
        grn_sb_self = grn_scoreboard ? &grn_scoreboard[slot] : NULL;
        grn_worker_process(cycle, group, pair[1]);
    }

    close(pair[1]);
    if (fcntl(pair[0], F_SETFL, O_NONBLOCK) == -1) {
        grn_log_error(GRN_LOG_ALERT, cycle->log, errno, "fcntl(O_NONBLOCK) failed");
    }

    if (grn_scoreboard) {
        grn_scoreboard[slot].pid = pid;
    }
    p = &grn_processes[slot];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->cycle = cycle;
    p->group = group;
    p->channel = pair[0];
    p->started = now;
    if (slot >= grn_nprocesses) {
        grn_nprocesses = slot + 1;
    }

    grn_log_error(GRN_LOG_NOTICE, cycle->log, 0, "start worker process %d for %s \"%.*s\"",
                  (int) pid, group->app ? "app" : "group", (int) group->name.len,
                  group->name.data);
    return GRN_OK;
}

void
grn_process_signal(grn_process_t *p, int signo, grn_msec_t now, grn_msec_t grace)
{
    if (kill(p->pid, signo) == -1 && errno != ESRCH) {
        grn_log_error(GRN_LOG_ALERT, p->cycle->log, errno, "kill(%d, %d) failed",
                      (int) p->pid, signo);
    }
    if (signo == SIGQUIT || signo == SIGTERM) {
        grn_sb_set_state((grn_uint_t) (p - grn_processes), GRN_SB_DRAINING);
    }
    if ((signo == SIGQUIT || signo == SIGTERM) && !p->stopping) {
        p->stopping = 1;
        p->kill_at = now + grace;
    }
}

int
grn_signal_by_name(const char *name)
{
    if (strcmp(name, "stop") == 0) {
        return SIGTERM;
    }
    if (strcmp(name, "quit") == 0) {
        return SIGQUIT;
    }
    if (strcmp(name, "reload") == 0) {
        return SIGHUP;
    }
    if (strcmp(name, "reopen") == 0) {
        return SIGUSR1;
    }
    return 0;
}

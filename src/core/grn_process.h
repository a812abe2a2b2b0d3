/*
 * grn_process.h: the master's table of worker processes, and the signals both kinds of
 * process understand.
 *
 * Each worker is forked with one end of a socketpair (its channel): it writes a byte when its
 * app is loaded (ready), and it reads EOF when the master is gone, so no worker outlives its
 * master. Signal handlers only set the flags below; the loops act on them.
 */

#ifndef GRN_PROCESS_H
#define GRN_PROCESS_H

#include <signal.h>

#include "grn_cycle.h"

#define GRN_MAX_PROCESSES      1024

#define GRN_CHANNEL_READY      'R'     /* the app is loaded */
#define GRN_CHANNEL_RETIRING   'X'     /* max_requests reached: start my replacement */

typedef struct {
    pid_t            pid;             /* 0: free slot */
    grn_cycle_t     *cycle;           /* the generation it belongs to */
    grn_group_t     *group;
    int              channel;         /* the master's end; -1 once closed */
    grn_msec_t       started;
    grn_msec_t       kill_at;         /* when told to stop: SIGKILL after this, 0 otherwise */
    unsigned         ready:1;         /* the worker said its app is loaded */
    unsigned         stopping:1;      /* told to stop (QUIT or TERM) */
    unsigned         timed_out:1;     /* killed for its app's timeout */
    unsigned         retiring:1;      /* max_requests reached */
} grn_process_t;

extern grn_process_t           grn_processes[GRN_MAX_PROCESSES];
extern grn_uint_t              grn_nprocesses;   /* slots in use up to this index */

/* Flags set by the signal handlers (the master) or from the signalfd (workers). */
extern volatile sig_atomic_t   grn_sig_reap;       /* CHLD */
extern volatile sig_atomic_t   grn_sig_quit;       /* QUIT, and TERM in the master */
extern volatile sig_atomic_t   grn_sig_terminate;  /* INT, and TERM in workers */
extern volatile sig_atomic_t   grn_sig_reconfigure;/* HUP */
extern volatile sig_atomic_t   grn_sig_reopen;     /* USR1 */
extern volatile sig_atomic_t   grn_sig_upgrade;    /* USR2 */
extern volatile sig_atomic_t   grn_sig_noaccept;   /* WINCH */
extern volatile sig_atomic_t   grn_sig_more;       /* TTIN */
extern volatile sig_atomic_t   grn_sig_fewer;      /* TTOU */

/*
 * Installs the master's handlers and blocks those signals: the master unblocks them only
 * while it waits in ppoll(), so a flag is never set between the check and the wait.
 */
grn_int_t grn_signals_init_master(grn_log_t *log, sigset_t *wait_mask);

/*
 * In a new worker: QUIT (drain), TERM/INT (exit), USR1 (reopen) are blocked and read from the
 * returned signalfd (-1 on error, logged); grn_signals_read_worker() turns them into flags.
 */
int grn_signals_init_worker(grn_log_t *log);
void grn_signals_read_worker(int fd);

/* Forks a worker of `group`; GRN_ERROR when fork or socketpair fails (logged). */
grn_int_t grn_process_spawn(grn_cycle_t *cycle, grn_group_t *group, grn_msec_t now);

/* Sends a signal to a worker and records that it was told to stop when it is QUIT/TERM. */
void grn_process_signal(grn_process_t *p, int signo, grn_msec_t now, grn_msec_t grace);

/* Parses "stop", "quit", "reload", "reopen" for -s; 0 when unknown (and for "status"). */
int grn_signal_by_name(const char *name);

/*
 * grn_http_status.c: -s status. Fetches the text summary from the config's first status
 * location and prints it; returns the exit code (the master's pid is for the error messages).
 */
int grn_http_status_client(grn_cycle_t *cycle, pid_t pid);

/* grn_upgrade.c: binary upgrade (USR2). */
void grn_upgrade_save_argv(char **argv);
void grn_upgrade_start(grn_cycle_t *cycle);
pid_t grn_upgrade_new_master(void);
void grn_upgrade_reaped(grn_cycle_t *cycle, int status);
const char *grn_upgrade_pid_path(grn_cycle_t *cycle);
/* The other master of an upgrade still serves this master's unix socket files. */
grn_flag_t grn_upgrade_socket_files_shared(void);
/* A master started by an upgrade adopts the listening sockets named in GREENC. */
grn_int_t grn_upgrade_adopt(grn_cycle_t *cycle, grn_log_t *log);
grn_flag_t grn_upgrade_inherited(void);

/* grn_systemd.c: Type=notify readiness and socket activation (see the file's comment). */
void grn_systemd_init(grn_log_t *log);
void grn_systemd_check_ready(grn_cycle_t *cycle);
void grn_systemd_reloading(grn_log_t *log);
void grn_systemd_stopping(grn_log_t *log);
void grn_systemd_main_again(grn_log_t *log);
grn_int_t grn_systemd_adopt(grn_cycle_t *cycle, grn_log_t *log);
void grn_systemd_worker(void);

/*
 * Around every call into the app (grn_py_loader.c): an event-loop thread of a worker lets go
 * of its gate while the app runs, so that a graceful stop can take its listeners meanwhile
 * (see grn_worker.c). No-ops in any other thread.
 */
void grn_worker_app_enter(void);
void grn_worker_app_leave(void);

/* The worker process: never returns. */
void grn_worker_process(grn_cycle_t *cycle, grn_group_t *group, int channel)
    __attribute__((noreturn));

/* In a new worker: closes the older generations' listeners and log files `cycle` does not use. */
void grn_master_close_old_fds(grn_cycle_t *cycle);

/*
 * The master: runs until stopped, then removes the pid file; returns the exit status. It owns
 * `cycle` from here on: a reload replaces it.
 */
int grn_master_process(grn_cycle_t *cycle);

#endif /* GRN_PROCESS_H */

/*
 * grn_cycle.h: a generation, everything one reading of the config produces.
 *
 * A cycle holds the parsed settings (main context, apps, http), the listening sockets, the
 * worker groups that accept them and the files to reopen on USR1. Reload builds a new cycle
 * next to the running one and swaps only when it is complete: listeners whose address did not
 * change move to the new cycle with the same fd, so no connection is ever refused.
 */

#ifndef GRN_CYCLE_H
#define GRN_CYCLE_H

#include <sys/un.h>
#include <netinet/in.h>

#include "grn_conf_file.h"

#define GRN_WORKERS_AUTO      -2

typedef struct {
    grn_flag_t       daemon;
    grn_str_t        pid;               /* full path */
    grn_str_t        user;              /* default user/group of workers when run as root */
    grn_str_t        group;
    grn_msec_t       graceful_timeout;
    grn_array_t     *env;               /* of grn_str_t "KEY=VALUE" for every app */
    grn_int_t        worker_connections;
    grn_int_t        router_workers;
    grn_flag_t       allow_root_workers; /* an explicit "user root" for an app is meant */
    grn_flag_t       error_log_set;     /* an error_log directive was given */
} grn_core_conf_t;

typedef struct {
    grn_str_t        name;
    grn_str_t        wsgi;              /* as written: "module:callable" or "module:factory()" */
    grn_str_t        module;            /* "blog.wsgi" */
    grn_str_t        callable;          /* "application" */
    grn_flag_t       factory;           /* callable() is called once at load to get the app */
    grn_str_t        factory_args;      /* "'prod', debug=True": literals, as Gunicorn takes */
    grn_array_t     *python_path;       /* of grn_str_t, full paths, prepended to sys.path */
    grn_str_t        home;              /* virtualenv, full path */
    grn_str_t        chdir;             /* full path */
    grn_array_t     *env;               /* of grn_str_t "KEY=VALUE" */
    grn_int_t        workers;           /* GRN_WORKERS_AUTO: one per core */
    grn_int_t        threads;
    grn_msec_t       timeout;
    grn_int_t        max_requests;      /* 0: never recycle */
    grn_int_t        max_requests_jitter;
    grn_str_t        user;
    grn_str_t        group;
    grn_int_t        limit_nofile;      /* GRN_CONF_UNSET: leave as inherited */
    off_t            limit_as;
    grn_str_t        file;              /* where the block starts, for messages */
    grn_uint_t       line;
    grn_uint_t       index;             /* position in cycle->apps */
    struct grn_listening_s *internal;   /* the socket the router forwards to; NULL: none */
} grn_app_conf_t;

typedef struct grn_group_s  grn_group_t;

typedef struct grn_listening_s {
    int                      fd;
    union {
        struct sockaddr          sockaddr;
        struct sockaddr_in       sin;
        struct sockaddr_in6      sin6;
        struct sockaddr_un       sun;
        struct sockaddr_storage  storage;
    } u;
    socklen_t                socklen;
    grn_str_t                addr_text;   /* "127.0.0.1:8000", "[::1]:8000", "unix:/run/x.sock" */
    int                      backlog;
    unsigned                 reuseport:1;
    unsigned                 ipv6only:1;
    unsigned                 deferred:1;   /* TCP_DEFER_ACCEPT */
    int                      mode;         /* unix socket file: chmod after bind; -1: 0666 */
    uid_t                    owner_uid;    /* unix socket file: chown after bind; -1: leave */
    gid_t                    owner_gid;
    unsigned                 ssl:1;
    unsigned                 proxy_protocol:1;
    unsigned                 inherited:1;  /* fd came from the previous cycle or binary */
    unsigned                 shared:1;     /* leads to several apps: the router accepts it */
    unsigned                 internal:1;   /* an app's socket for the router's forwarding */
    void                    *servers;      /* grn_http_addr_t: the servers listening here */
    void                    *app;          /* grn_app_conf_t * when every route leads to it */
    grn_group_t             *group;        /* whose workers accept it */
    int                      sb_index;     /* its figures in the scoreboard; -1: none */
} grn_listening_t;

/* A group of worker processes: one per app, plus the C-only router group when needed. */
struct grn_group_s {
    grn_str_t          name;              /* the app's name, or "router" */
    grn_app_conf_t    *app;               /* NULL for the router group */
    grn_uint_t         workers;           /* target number of processes */
    grn_uint_t         threads;
    grn_array_t        listening;         /* of grn_listening_t * accepted by this group */
    grn_uint_t         index;

    /* The master's bookkeeping for this group (never touched by workers). */
    grn_uint_t         boot_failures;     /* workers that died before ready, in a row */
    grn_msec_t         next_spawn;        /* no spawn before this (boot-failure backoff) */
    grn_uint_t         ready;             /* workers of this cycle that reported ready */
    unsigned           took_over:1;       /* the previous generation's workers were retired */
};

/* A file opened by the config that USR1 reopens (error and access logs). */
typedef struct {
    grn_str_t          name;              /* full path, NUL-terminated */
    int                fd;
} grn_open_file_t;

struct grn_cycle_s {
    grn_pool_t        *pool;
    grn_log_t         *log;               /* error_log of this cycle */
    grn_core_conf_t   *core;
    grn_array_t        apps;              /* of grn_app_conf_t * */
    void              *http;              /* grn_http_main_conf_t *, NULL without http { } */
    grn_array_t        listening;         /* of grn_listening_t */
    grn_array_t        groups;            /* of grn_group_t */
    grn_array_t        open_files;        /* of grn_open_file_t */
    grn_array_t        config_dump;       /* of grn_conf_dump_t, for -T */
    grn_str_t          conf_file;         /* full path */
    grn_str_t          conf_param;        /* -g */
    grn_str_t          prefix;            /* ends with '/' */
    grn_uint_t         generation;
    uint64_t           id;                /* random: tells generations (and binaries) apart */
    uid_t              router_uid;        /* whom app workers accept forwarded requests from */
    grn_uint_t         ncpu;
    grn_cycle_t       *old_cycle;
};

/*
 * Reads the config into a new cycle. With an old cycle, listeners of the same address are
 * taken over rather than opened (the caller opens the rest). NULL on error (logged).
 */
grn_cycle_t *grn_cycle_init(grn_cycle_t *old_cycle, grn_log_t *log, const grn_str_t *conf_file,
    const grn_str_t *prefix, const grn_str_t *conf_param);

/* Opens (bind + listen) every listener that was not taken over; GRN_ERROR when one fails. */
grn_int_t grn_cycle_open_listening(grn_cycle_t *cycle);

/* Closes the listeners the cycle opened itself; used when a reload fails after opening. */
void grn_cycle_close_new_listening(grn_cycle_t *cycle);

/* Closes the old cycle's listeners the new one did not take over, then frees the old cycle. */
void grn_cycle_release(grn_cycle_t *old_cycle, grn_cycle_t *new_cycle);

/* Opens the files of cycle->open_files; USR1 calls the reopen form. */
grn_int_t grn_cycle_open_files(grn_cycle_t *cycle);
void grn_cycle_reopen_files(grn_cycle_t *cycle);

/* Adds a file to reopen on USR1 (logs); the same path is opened once. */
grn_open_file_t *grn_cycle_add_open_file(grn_cycle_t *cycle, const grn_str_t *name);

/* Prints every directive and the blocks it may stand in (greenc -L). */
void grn_cycle_list_directives(FILE *out);

/* Finds an app by name; NULL when none. */
grn_app_conf_t *grn_cycle_find_app(grn_cycle_t *cycle, const grn_str_t *name);

/* Defaults and whole-config checks of the main context and apps, after the file is read. */
grn_int_t grn_core_conf_finish(grn_cycle_t *cycle, grn_log_t *log);

/* Opens one listener: socket, options, bind, listen. GRN_ERROR (logged) when it fails. */
grn_int_t grn_listening_open(grn_listening_t *ls, grn_log_t *log);

/* Takes an inherited listening fd for the listener of its address; GRN_DECLINED: none. */
grn_int_t grn_listening_adopt(grn_cycle_t *cycle, int fd, grn_log_t *log);

/* The port of a TCP listener, 0 for unix sockets. */
grn_uint_t grn_listening_port(grn_listening_t *ls);

extern const grn_command_t grn_core_commands[];
extern const grn_command_t grn_app_commands[];

#endif /* GRN_CYCLE_H */

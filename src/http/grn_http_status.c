/*
 * grn_http_status.c: the status page (`location /x { status; }`) and `greenc -s status`.
 *
 * Everything shown comes from the scoreboard (grn_scoreboard.h), which every worker maps: the
 * worker that answers reads the slots of all processes and the totals the master keeps for
 * exited ones, so any worker of any group can serve the page, and the figures are the same
 * whichever one does. Nothing is locked; a page is a snapshot of counters that keep moving.
 *
 * Three renderings of one collected snapshot: JSON (the default), the Prometheus text format
 * (`?format=prometheus`, or an Accept header that asks for text/plain) and a one-screen text
 * summary (`?format=text`), which is what `greenc -s status` fetches and prints.
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_process.h"
#include "grn_scoreboard.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>

#define GRN_STATUS_MAX_WORKERS  64        /* listed one by one per group */

typedef struct {
    pid_t                  pid;
    const char            *state;
    uint64_t               requests;
    grn_msec_t             age;           /* of the oldest request in the app; -1: none */
} grn_status_worker_t;

typedef struct {
    grn_group_t           *group;
    grn_uint_t             states[4];     /* starting, idle, busy, draining */
    grn_sb_counts_t        counts;
    uint64_t               timeouts;
    uint64_t               restarts[GRN_SB_CAUSES];
    int64_t                in_flight;
    int64_t                queue;         /* -1: no TCP listener of its own */
    grn_uint_t             nworkers;
    grn_status_worker_t    workers[GRN_STATUS_MAX_WORKERS];
} grn_status_group_t;

typedef struct {
    grn_listening_t       *ls;
    uint64_t               accepted;
    int64_t                active;
    int64_t                idle;
    int64_t                queue;         /* -1: not reported (unix sockets) */
} grn_status_listener_t;

typedef struct {
    char                  *data;
    size_t                 len;
    size_t                 size;
    grn_flag_t             failed;
} grn_status_buf_t;

static const char *grn_status_states[4] = { "starting", "idle", "busy", "draining" };
static const char *grn_status_causes[GRN_SB_CAUSES] = {
    "exit", "signal", "timeout", "max_requests", "boot_failure"
};

static void grn_status_printf(grn_status_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
grn_status_printf(grn_status_buf_t *b, const char *fmt, ...)
{
    int       n;
    char     *p;
    size_t    size;
    va_list   args;

    if (b->failed) {
        return;
    }
    for ( ;; ) {
        va_start(args, fmt);
        n = vsnprintf(b->data + b->len, b->size - b->len, fmt, args);
        va_end(args);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t) n < b->size - b->len) {
            b->len += (size_t) n;
            return;
        }
        size = b->size * 2 + (size_t) n;
        p = realloc(b->data, size);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->size = size;
    }
}

/* A name or address inside a JSON string or a Prometheus label value: \, " and controls. */
static void
grn_status_escaped(grn_status_buf_t *b, grn_str_t *s)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < s->len; i++) {
        c = (unsigned char) s->data[i];
        if (c == '"' || c == '\\') {
            grn_status_printf(b, "\\%c", c);
        } else if (c == '\n') {
            grn_status_printf(b, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            grn_status_printf(b, "\\u%04x", c);
        } else {
            grn_status_printf(b, "%c", c);
        }
    }
}

/* The accept queue of a listening TCP socket: Linux reports it as tcpi_unacked. */
static int64_t
grn_status_queue(grn_listening_t *ls)
{
    socklen_t        len;
    struct tcp_info  ti;

    if (ls->fd == -1 || ls->u.sockaddr.sa_family == AF_UNIX) {
        return -1;
    }
    len = sizeof(ti);
    if (getsockopt(ls->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1) {
        return -1;
    }
    return ti.tcpi_unacked;
}

static void
grn_status_collect(grn_cycle_t *cycle, grn_status_group_t *groups, grn_status_listener_t *lst,
    grn_msec_t now)
{
    int                     idx;
    int64_t                 q, busy;
    uint64_t                key, reqs;
    grn_uint_t              i, j, k, t, state;
    grn_msec_t              age;
    grn_group_t            *g = cycle->groups.elts;
    grn_sb_slot_t          *s;
    grn_sb_group_t         *tot;
    grn_listening_t        *ls = cycle->listening.elts;
    grn_sb_listener_t      *sl;
    grn_status_worker_t    *w;

    for (i = 0; i < cycle->listening.nelts; i++) {
        lst[i].ls = &ls[i];
        lst[i].queue = grn_status_queue(&ls[i]);
        sl = ls[i].sb_index >= 0 ? grn_sb_listener_at((grn_uint_t) ls[i].sb_index) : NULL;
        lst[i].accepted = sl ? sl->accepted : 0;
    }

    for (i = 0; i < cycle->groups.nelts; i++) {
        memset(&groups[i], 0, sizeof(grn_status_group_t));
        groups[i].group = &g[i];
        groups[i].queue = -1;
        key = grn_hash_name(g[i].name.data, g[i].name.len);

        tot = grn_sb_group_find(key);
        if (tot) {
            groups[i].counts = tot->counts;
            groups[i].timeouts = tot->timeouts;
            memcpy(groups[i].restarts, (void *) tot->restarts, sizeof(groups[i].restarts));
        }

        for (j = 0; j < cycle->listening.nelts; j++) {
            if (ls[j].group == &g[i] && (q = lst[j].queue) >= 0) {
                groups[i].queue = (groups[i].queue < 0 ? 0 : groups[i].queue) + q;
            }
        }

        for (j = 0; j < grn_sb_nslots; j++) {
            s = &grn_scoreboard[j];
            if (s->pid == 0 || s->group_key != key) {
                continue;
            }
            reqs = 0;
            for (k = 0; k < 5; k++) {
                reqs += s->counts.status[k];
            }
            grn_sb_counts_fold(&groups[i].counts, &s->counts);

            busy = 0;
            for (idx = 0; idx < GRN_SB_LISTENERS; idx++) {
                busy += s->active[idx] - s->idle[idx];
                for (k = 0; k < cycle->listening.nelts; k++) {
                    if (ls[k].sb_index == idx) {
                        lst[k].accepted += s->accepted[idx];
                        lst[k].active += s->active[idx];
                        lst[k].idle += s->idle[idx];
                    }
                }
            }

            groups[i].in_flight += busy;

            age = -1;
            for (t = 0; t < g[i].threads && t < GRN_SB_THREADS; t++) {
                if (s->busy_since[t] && now - s->busy_since[t] > age) {
                    age = now - s->busy_since[t];
                }
            }
            if (s->state == GRN_SB_STARTING) {
                state = 0;
            } else if (s->state == GRN_SB_DRAINING) {
                state = 3;
            } else if (age >= 0 || (g[i].app == NULL && busy > 0)) {
                /* an app's worker is busy in the app; a router's, with any request open */
                state = 2;
            } else {
                state = 1;
            }
            groups[i].states[state]++;

            if (groups[i].nworkers < GRN_STATUS_MAX_WORKERS) {
                w = &groups[i].workers[groups[i].nworkers++];
                w->pid = (pid_t) s->pid;
                w->state = grn_status_states[state];
                w->requests = reqs;
                w->age = age;
            }
        }
    }
}

static uint64_t
grn_status_total(grn_sb_counts_t *c)
{
    return c->status[0] + c->status[1] + c->status[2] + c->status[3] + c->status[4];
}

/* TLS handshakes completed (ok) or failed, over every group (TLS is the listener's). */
static uint64_t
grn_status_tls(grn_status_group_t *groups, grn_uint_t n, grn_flag_t ok)
{
    uint64_t    sum = 0;
    grn_uint_t  i;

    for (i = 0; i < n; i++) {
        sum += ok ? groups[i].counts.tls_handshakes : groups[i].counts.tls_failures;
    }
    return sum;
}

/* One group's object: the same shape for an app and for the router group. */
static void
grn_status_json_group(grn_status_buf_t *b, grn_status_group_t *g)
{
    uint64_t    cum;
    grn_uint_t  k;

    grn_status_printf(b, "{\"workers\":{\"starting\":%u,\"idle\":%u,\"busy\":%u,"
                      "\"draining\":%u},", (unsigned) g->states[0], (unsigned) g->states[1],
                      (unsigned) g->states[2], (unsigned) g->states[3]);
    grn_status_printf(b, "\"requests_total\":%lu,\"requests\":{\"1xx\":%lu,\"2xx\":%lu,"
                      "\"3xx\":%lu,\"4xx\":%lu,\"5xx\":%lu},",
                      (unsigned long) grn_status_total(&g->counts),
                      (unsigned long) g->counts.status[0],
                      (unsigned long) g->counts.status[1],
                      (unsigned long) g->counts.status[2],
                      (unsigned long) g->counts.status[3],
                      (unsigned long) g->counts.status[4]);
    grn_status_printf(b, "\"request_duration_seconds\":{\"buckets\":{");
    for (cum = 0, k = 0; k < GRN_SB_BUCKETS; k++) {
        cum += g->counts.buckets[k];
        if (k < GRN_SB_BUCKETS - 1) {
            grn_status_printf(b, "\"%g\":%lu,", (double) grn_sb_bucket_us[k] / 1000000,
                              (unsigned long) cum);
        } else {
            grn_status_printf(b, "\"+Inf\":%lu},", (unsigned long) cum);
        }
    }
    grn_status_printf(b, "\"sum\":%.6f,\"count\":%lu},",
                      (double) g->counts.duration_us / 1000000, (unsigned long) cum);
    grn_status_printf(b, "\"in_flight\":%lld,\"timeouts\":%lu,\"restarts\":{",
                      (long long) g->in_flight, (unsigned long) g->timeouts);
    for (k = 0; k < GRN_SB_CAUSES; k++) {
        grn_status_printf(b, "%s\"%s\":%lu", k ? "," : "", grn_status_causes[k],
                          (unsigned long) g->restarts[k]);
    }
    if (g->queue >= 0) {
        grn_status_printf(b, "},\"listen_queue\":%lld,\"processes\":[",
                          (long long) g->queue);
    } else {
        grn_status_printf(b, "},\"listen_queue\":null,\"processes\":[");
    }
    for (k = 0; k < g->nworkers; k++) {
        grn_status_printf(b, "%s{\"pid\":%ld,\"state\":\"%s\",\"requests\":%lu,"
                          "\"request_age_ms\":", k ? "," : "",
                          (long) g->workers[k].pid, g->workers[k].state,
                          (unsigned long) g->workers[k].requests);
        if (g->workers[k].age >= 0) {
            grn_status_printf(b, "%lld}", (long long) g->workers[k].age);
        } else {
            grn_status_printf(b, "null}");
        }
    }
    grn_status_printf(b, "]}");
}

static void
grn_status_json(grn_status_buf_t *b, grn_cycle_t *cycle, time_t mtime,
    grn_status_group_t *groups, grn_status_listener_t *lst)
{
    grn_uint_t           i, napps = 0;
    grn_status_group_t  *g;

    grn_status_printf(b, "{\"version\":\"%s\",\"master_pid\":%ld,\"generation\":%lu,"
                      "\"config_file\":\"", GREENC_VERSION, (long) getppid(),
                      (unsigned long) cycle->generation);
    grn_status_escaped(b, &cycle->conf_file);
    grn_status_printf(b, "\",\"config_mtime\":%lld,\"apps\":{", (long long) mtime);

    for (i = 0; i < cycle->groups.nelts; i++) {
        g = &groups[i];
        if (g->group->app == NULL) {
            continue;
        }
        grn_status_printf(b, "%s\"", napps++ ? "," : "");
        grn_status_escaped(b, &g->group->name);
        grn_status_printf(b, "\":");

        grn_status_json_group(b, g);
    }

    grn_status_printf(b, "}");
    for (i = 0; i < cycle->groups.nelts; i++) {
        if (groups[i].group->app == NULL) {
            /* requests it forwarded are counted under their app as well */
            grn_status_printf(b, ",\"router\":");
            grn_status_json_group(b, &groups[i]);
        }
    }

    grn_status_printf(b, ",\"listeners\":{");
    for (i = 0; i < cycle->listening.nelts; i++) {
        grn_status_printf(b, "%s\"", i ? "," : "");
        grn_status_escaped(b, &lst[i].ls->addr_text);
        grn_status_printf(b, "\":{\"accepted\":%lu,\"active\":%lld,\"idle\":%lld,",
                          (unsigned long) lst[i].accepted, (long long) lst[i].active,
                          (long long) lst[i].idle);
        if (lst[i].queue >= 0) {
            grn_status_printf(b, "\"queue\":%lld}", (long long) lst[i].queue);
        } else {
            grn_status_printf(b, "\"queue\":null}");
        }
    }
    grn_status_printf(b, "},\"tls\":{\"handshakes\":%lu,\"failures\":%lu}}\n",
                      (unsigned long) grn_status_tls(groups, cycle->groups.nelts, 1),
                      (unsigned long) grn_status_tls(groups, cycle->groups.nelts, 0));
}

static void
grn_status_prom_head(grn_status_buf_t *b, const char *name, const char *type, const char *help)
{
    grn_status_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
grn_status_prom_app(grn_status_buf_t *b, const char *name, grn_status_group_t *g)
{
    grn_status_printf(b, "%s{app=\"", name);
    grn_status_escaped(b, &g->group->name);
    grn_status_printf(b, "\"");
}

static void
grn_status_prometheus(grn_status_buf_t *b, grn_cycle_t *cycle, time_t mtime,
    grn_status_group_t *groups, grn_status_listener_t *lst)
{
    uint64_t             cum;
    grn_uint_t           i, k, n = cycle->groups.nelts;
    grn_status_group_t  *g;

    grn_status_prom_head(b, "greenc_generation", "gauge",
                         "Configuration generation (1 at start, one more per reload).");
    grn_status_printf(b, "greenc_generation %lu\n", (unsigned long) cycle->generation);
    grn_status_prom_head(b, "greenc_config_mtime_seconds", "gauge",
                         "Modification time of the configuration file.");
    grn_status_printf(b, "greenc_config_mtime_seconds %lld\n", (long long) mtime);

    grn_status_prom_head(b, "greenc_workers", "gauge", "Worker processes by state.");
    for (i = 0; i < n; i++) {
        for (k = 0; k < 4; k++) {
            grn_status_prom_app(b, "greenc_workers", &groups[i]);
            grn_status_printf(b, ",state=\"%s\"} %u\n", grn_status_states[k],
                              (unsigned) groups[i].states[k]);
        }
    }

    grn_status_prom_head(b, "greenc_requests_total", "counter",
                         "Requests answered, by status class.");
    for (i = 0; i < n; i++) {
        for (k = 0; k < 5; k++) {
            grn_status_prom_app(b, "greenc_requests_total", &groups[i]);
            grn_status_printf(b, ",code=\"%uxx\"} %lu\n", (unsigned) k + 1,
                              (unsigned long) groups[i].counts.status[k]);
        }
    }

    grn_status_prom_head(b, "greenc_request_duration_seconds", "histogram",
                         "Time from the start of a request to its response's end.");
    for (i = 0; i < n; i++) {
        g = &groups[i];
        for (cum = 0, k = 0; k < GRN_SB_BUCKETS; k++) {
            cum += g->counts.buckets[k];
            grn_status_prom_app(b, "greenc_request_duration_seconds_bucket", g);
            if (k < GRN_SB_BUCKETS - 1) {
                grn_status_printf(b, ",le=\"%g\"} %lu\n", (double) grn_sb_bucket_us[k] / 1000000,
                                  (unsigned long) cum);
            } else {
                grn_status_printf(b, ",le=\"+Inf\"} %lu\n", (unsigned long) cum);
            }
        }
        grn_status_prom_app(b, "greenc_request_duration_seconds_sum", g);
        grn_status_printf(b, "} %.6f\n", (double) g->counts.duration_us / 1000000);
        grn_status_prom_app(b, "greenc_request_duration_seconds_count", g);
        grn_status_printf(b, "} %lu\n", (unsigned long) cum);
    }

    grn_status_prom_head(b, "greenc_requests_in_flight", "gauge",
                         "Connections with a request being read, run or answered.");
    for (i = 0; i < n; i++) {
        grn_status_prom_app(b, "greenc_requests_in_flight", &groups[i]);
        grn_status_printf(b, "} %lld\n", (long long) groups[i].in_flight);
    }

    grn_status_prom_head(b, "greenc_request_timeouts_total", "counter",
                         "Requests that ran over the app's timeout (their worker was killed).");
    for (i = 0; i < n; i++) {
        grn_status_prom_app(b, "greenc_request_timeouts_total", &groups[i]);
        grn_status_printf(b, "} %lu\n", (unsigned long) groups[i].timeouts);
    }

    grn_status_prom_head(b, "greenc_worker_restarts_total", "counter",
                         "Workers replaced, by cause.");
    for (i = 0; i < n; i++) {
        for (k = 0; k < GRN_SB_CAUSES; k++) {
            grn_status_prom_app(b, "greenc_worker_restarts_total", &groups[i]);
            grn_status_printf(b, ",cause=\"%s\"} %lu\n", grn_status_causes[k],
                              (unsigned long) groups[i].restarts[k]);
        }
    }

    grn_status_prom_head(b, "greenc_listen_queue", "gauge",
                         "Connections waiting in the accept queues of the group's TCP "
                         "listeners.");
    for (i = 0; i < n; i++) {
        if (groups[i].queue >= 0) {
            grn_status_prom_app(b, "greenc_listen_queue", &groups[i]);
            grn_status_printf(b, "} %lld\n", (long long) groups[i].queue);
        }
    }

    grn_status_prom_head(b, "greenc_listener_accepted_total", "counter",
                         "Connections accepted on the listener.");
    for (i = 0; i < cycle->listening.nelts; i++) {
        grn_status_printf(b, "greenc_listener_accepted_total{listener=\"");
        grn_status_escaped(b, &lst[i].ls->addr_text);
        grn_status_printf(b, "\"} %lu\n", (unsigned long) lst[i].accepted);
    }
    grn_status_prom_head(b, "greenc_listener_connections", "gauge",
                         "Open connections on the listener: all (active), waiting (idle).");
    for (i = 0; i < cycle->listening.nelts; i++) {
        grn_status_printf(b, "greenc_listener_connections{listener=\"");
        grn_status_escaped(b, &lst[i].ls->addr_text);
        grn_status_printf(b, "\",state=\"active\"} %lld\n", (long long) lst[i].active);
        grn_status_printf(b, "greenc_listener_connections{listener=\"");
        grn_status_escaped(b, &lst[i].ls->addr_text);
        grn_status_printf(b, "\",state=\"idle\"} %lld\n", (long long) lst[i].idle);
    }

    grn_status_prom_head(b, "greenc_tls_handshakes_total", "counter",
                         "Completed TLS handshakes.");
    grn_status_printf(b, "greenc_tls_handshakes_total %lu\n",
                      (unsigned long) grn_status_tls(groups, cycle->groups.nelts, 1));
    grn_status_prom_head(b, "greenc_tls_handshake_failures_total", "counter",
                         "Failed TLS handshakes.");
    grn_status_printf(b, "greenc_tls_handshake_failures_total %lu\n",
                      (unsigned long) grn_status_tls(groups, cycle->groups.nelts, 0));
}

static void
grn_status_text(grn_status_buf_t *b, grn_cycle_t *cycle, time_t mtime,
    grn_status_group_t *groups, grn_status_listener_t *lst)
{
    char                 when[32];
    uint64_t             reqs, total = 0, timeouts = 0, restarts = 0, r;
    grn_uint_t           i, k, workers = 0;
    struct tm            tm;
    grn_status_group_t  *g;

    gmtime_r(&mtime, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    grn_status_printf(b, "greenc %s, master %ld, generation %lu, config %.*s (modified %s)\n",
                      GREENC_VERSION, (long) getppid(), (unsigned long) cycle->generation,
                      (int) cycle->conf_file.len, cycle->conf_file.data, when);

    for (i = 0; i < cycle->groups.nelts; i++) {
        g = &groups[i];
        reqs = grn_status_total(&g->counts);
        for (r = 0, k = 0; k < GRN_SB_CAUSES; k++) {
            r += g->restarts[k];
        }
        total += reqs;
        timeouts += g->timeouts;
        restarts += r;
        workers += g->nworkers;
        grn_status_printf(b, "\n%s \"%.*s\": %u workers (%u idle, %u busy, %u starting, "
                          "%u draining)\n", g->group->app ? "app" : "group",
                          (int) g->group->name.len, g->group->name.data,
                          (unsigned) g->nworkers, (unsigned) g->states[1],
                          (unsigned) g->states[2], (unsigned) g->states[0],
                          (unsigned) g->states[3]);
        grn_status_printf(b, "  requests %lu (1xx %lu, 2xx %lu, 3xx %lu, 4xx %lu, 5xx %lu), "
                          "in flight %lld, timeouts %lu, restarts %lu",
                          (unsigned long) reqs, (unsigned long) g->counts.status[0],
                          (unsigned long) g->counts.status[1],
                          (unsigned long) g->counts.status[2],
                          (unsigned long) g->counts.status[3],
                          (unsigned long) g->counts.status[4], (long long) g->in_flight,
                          (unsigned long) g->timeouts, (unsigned long) r);
        if (g->queue >= 0) {
            grn_status_printf(b, ", listen queue %lld", (long long) g->queue);
        }
        grn_status_printf(b, "\n  %-8s %-9s %10s  %s\n", "PID", "STATE", "REQUESTS",
                          "REQUEST AGE");
        for (k = 0; k < g->nworkers; k++) {
            grn_status_printf(b, "  %-8ld %-9s %10lu  ", (long) g->workers[k].pid,
                              g->workers[k].state, (unsigned long) g->workers[k].requests);
            if (g->workers[k].age >= 0) {
                grn_status_printf(b, "%.1fs\n", (double) g->workers[k].age / 1000);
            } else {
                grn_status_printf(b, "-\n");
            }
        }
    }

    grn_status_printf(b, "\n");
    for (i = 0; i < cycle->listening.nelts; i++) {
        grn_status_printf(b, "listener %.*s: accepted %lu, active %lld, idle %lld",
                          (int) lst[i].ls->addr_text.len, lst[i].ls->addr_text.data,
                          (unsigned long) lst[i].accepted, (long long) lst[i].active,
                          (long long) lst[i].idle);
        if (lst[i].queue >= 0) {
            grn_status_printf(b, ", queue %lld", (long long) lst[i].queue);
        }
        grn_status_printf(b, "\n");
    }
    grn_status_printf(b, "total: %u workers, %lu requests, %lu timeouts, %lu restarts\n",
                      (unsigned) workers, (unsigned long) total, (unsigned long) timeouts,
                      (unsigned long) restarts);
}

/* `format=NAME` in the query string. */
static grn_flag_t
grn_status_format_is(grn_str_t *query, const char *name)
{
    size_t       n = strlen(name);
    const char  *p = query->data, *end = query->data + query->len;

    while (p < end) {
        if ((size_t) (end - p) >= 7 + n && memcmp(p, "format=", 7) == 0
            && memcmp(p + 7, name, n) == 0 && (p + 7 + n == end || p[7 + n] == '&'))
        {
            return 1;
        }
        p = memchr(p, '&', (size_t) (end - p));
        if (p == NULL) {
            break;
        }
        p++;
    }
    return 0;
}

static grn_flag_t
grn_status_accepts_text(grn_http_request_t *r)
{
    grn_uint_t          i;
    grn_http_header_t  *h = r->headers.elts;

    for (i = 0; i < r->headers.nelts; i++) {
        if (h[i].name.len == 6 && strncasecmp(h[i].name.data, "accept", 6) == 0
            && memmem(h[i].value.data, h[i].value.len, "text/plain", 10) != NULL)
        {
            return 1;
        }
    }
    return 0;
}

grn_int_t
grn_http_status_handler(grn_http_request_t *r, grn_http_loc_conf_t *loc GRN_UNUSED)
{
    char                    path[PATH_MAX];
    time_t                  mtime = 0;
    grn_int_t               rc;
    const char             *type;
    grn_cycle_t            *cycle;
    struct stat             st;
    grn_http_conn_t        *hc = r->connection->data;
    grn_status_buf_t        b;
    grn_status_group_t     *groups;
    grn_status_listener_t  *lst;

    cycle = hc->worker->cycle;
    if (grn_scoreboard == NULL) {
        return grn_http_error_page(r, 503);
    }

    if (cycle->conf_file.len < sizeof(path)) {
        memcpy(path, cycle->conf_file.data, cycle->conf_file.len);
        path[cycle->conf_file.len] = '\0';
        if (stat(path, &st) == 0) {
            mtime = st.st_mtime;
        }
    }

    groups = grn_palloc(r->pool, sizeof(grn_status_group_t) * (cycle->groups.nelts + 1));
    lst = grn_palloc(r->pool, sizeof(grn_status_listener_t) * (cycle->listening.nelts + 1));
    b.size = 16384;
    b.len = 0;
    b.failed = 0;
    b.data = malloc(b.size);
    if (groups == NULL || lst == NULL || b.data == NULL) {
        free(b.data);
        return GRN_ERROR;
    }
    memset(lst, 0, sizeof(grn_status_listener_t) * (cycle->listening.nelts + 1));

    grn_status_collect(cycle, groups, lst, grn_monotonic_msec());

    if (grn_status_format_is(&r->query, "text")) {
        grn_status_text(&b, cycle, mtime, groups, lst);
        type = "text/plain; charset=utf-8";
    } else if (grn_status_format_is(&r->query, "prometheus")
               || (!grn_status_format_is(&r->query, "json") && grn_status_accepts_text(r)))
    {
        grn_status_prometheus(&b, cycle, mtime, groups, lst);
        type = "text/plain; version=0.0.4";
    } else {
        grn_status_json(&b, cycle, mtime, groups, lst);
        type = "application/json";
    }

    if (b.failed) {
        free(b.data);
        return GRN_ERROR;
    }
    rc = GRN_OK;
    if (grn_http_response_set_status(r, 200, NULL, 0) != GRN_OK
        || grn_http_response_add_header(r, "Content-Type", 12, type, strlen(type)) != GRN_OK
        || grn_http_response_add_header(r, "Cache-Control", 13, "no-store", 8) != GRN_OK
        || grn_http_response_append(r, b.data, b.len) != GRN_OK)
    {
        rc = GRN_ERROR;
    }
    free(b.data);
    return rc;
}

/*
 * `greenc -s status`. Why over HTTP rather than by attaching to the scoreboard: the scoreboard
 * is anonymous shared memory, reachable only by the master's children, and that is what keeps
 * it private to the processes that write it; the status location already renders every figure,
 * with its allow/deny rules deciding who may see them. So the command reads the same config as
 * the master, finds its first `status` location with a plain path, connects to that server's
 * first listener (a wildcard address through loopback) and prints the text rendering.
 */

static grn_flag_t
grn_status_find(grn_http_srv_conf_t *srv, grn_array_t *locations, grn_http_loc_conf_t **found)
{
    grn_uint_t             i;
    grn_http_loc_conf_t  **loc = locations->elts;

    for (i = 0; i < locations->nelts; i++) {
        if (loc[i]->action == GRN_HTTP_ACTION_STATUS && loc[i]->match != GRN_HTTP_LOC_REGEX
            && loc[i]->match != GRN_HTTP_LOC_REGEX_CASELESS
            && loc[i]->match != GRN_HTTP_LOC_NAMED && srv->listen.nelts > 0)
        {
            *found = loc[i];
            return 1;
        }
        if (grn_status_find(srv, &loc[i]->locations, found)) {
            return 1;
        }
    }
    return 0;
}

int
grn_http_status_client(grn_cycle_t *cycle, pid_t pid)
{
    int                     fd, n;
    char                    req[1024], *body, host[300];
    ssize_t                 k;
    grn_uint_t              i;
    struct pollfd           pfd;
    grn_status_buf_t        b;
    grn_http_listen_t       addr;
    grn_http_srv_conf_t   **srv, *s = NULL;
    grn_http_loc_conf_t    *loc = NULL;
    grn_http_main_conf_t   *hmcf = cycle->http;
    grn_http_server_name_t *names;

    if (hmcf) {
        srv = hmcf->servers.elts;
        for (i = 0; i < hmcf->servers.nelts && loc == NULL; i++) {
            if (grn_status_find(srv[i], &srv[i]->locations, &loc)) {
                s = srv[i];
            }
        }
    }
    if (loc == NULL) {
        grn_log_stderr(0, "%.*s has no \"status\" location (with a plain path, in a server "
                       "with a listen directive) for -s status to read; add one, for example "
                       "location /status { allow 127.0.0.1; deny all; status; }",
                       (int) cycle->conf_file.len, cycle->conf_file.data);
        return 1;
    }

    addr = *(grn_http_listen_t *) s->listen.elts;
    if (addr.u.sockaddr.sa_family == AF_INET && addr.u.sin.sin_addr.s_addr == INADDR_ANY) {
        addr.u.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (addr.u.sockaddr.sa_family == AF_INET6
               && IN6_IS_ADDR_UNSPECIFIED(&addr.u.sin6.sin6_addr))
    {
        addr.u.sin6.sin6_addr = in6addr_loopback;
    }

    names = s->names.elts;
    if (s->names.nelts && names[0].regex == NULL && names[0].name.len > 0
        && names[0].name.len < 256 && memchr(names[0].name.data, '*', names[0].name.len) == NULL)
    {
        snprintf(host, sizeof(host), "%.*s", (int) names[0].name.len, names[0].name.data);
    } else {
        snprintf(host, sizeof(host), "localhost");
    }

    fd = socket(addr.u.sockaddr.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        grn_log_stderr(errno, "socket() failed");
        return 1;
    }
    if (connect(fd, &addr.u.sockaddr, addr.socklen) == -1) {
        grn_log_stderr(errno, "connect() to %.*s failed; master %ld runs, but does its "
                       "configuration still listen there?", (int) addr.addr_text.len,
                       addr.addr_text.data, (long) pid);
        close(fd);
        return 1;
    }

    n = snprintf(req, sizeof(req), "GET %.*s?format=text HTTP/1.1\r\nHost: %s\r\n"
                 "Connection: close\r\nUser-Agent: greenc -s status\r\n\r\n",
                 (int) grn_min(loc->name.len, 512), loc->name.data, host);
    if (write(fd, req, (size_t) n) != n) {
        grn_log_stderr(errno, "write() to %.*s failed", (int) addr.addr_text.len,
                       addr.addr_text.data);
        close(fd);
        return 1;
    }

    b.size = 16384;
    b.len = 0;
    b.failed = 0;
    b.data = malloc(b.size + 1);
    if (b.data == NULL) {
        close(fd);
        return 1;
    }
    pfd.fd = fd;
    pfd.events = POLLIN;
    for ( ;; ) {
        if (poll(&pfd, 1, 10000) != 1) {
            grn_log_stderr(0, "no answer from %.*s within 10s", (int) addr.addr_text.len,
                           addr.addr_text.data);
            goto failed;
        }
        if (b.len == b.size) {
            body = realloc(b.data, b.size * 2 + 1);
            if (body == NULL) {
                goto failed;
            }
            b.data = body;
            b.size *= 2;
        }
        k = read(fd, b.data + b.len, b.size - b.len);
        if (k == -1 && errno == EINTR) {
            continue;
        }
        if (k == -1) {
            grn_log_stderr(errno, "read() from %.*s failed", (int) addr.addr_text.len,
                           addr.addr_text.data);
            goto failed;
        }
        if (k == 0) {
            break;
        }
        b.len += (size_t) k;
    }
    close(fd);
    b.data[b.len] = '\0';

    body = strstr(b.data, "\r\n\r\n");
    if (body == NULL || b.len < 12 || memcmp(b.data + 8, " 200", 4) != 0) {
        grn_log_stderr(0, "http://%s%.*s (%.*s) answered \"%.*s\"; the status location's "
                       "allow/deny rules must let this host in", host, (int) loc->name.len,
                       loc->name.data, (int) addr.addr_text.len, addr.addr_text.data,
                       (int) (strcspn(b.data, "\r\n")), b.data);
        free(b.data);
        return 1;
    }
    body += 4;
    fwrite(body, 1, b.len - (size_t) (body - b.data), stdout);
    free(b.data);
    return 0;

failed:

    close(fd);
    free(b.data);
    return 1;
}

/*
 * grn_fuzz.c: the harness the fuzz targets share (see grn_fuzz.h): a temp directory, a
 * generation from a config text, one worker thread's HTTP engine, and serving an input over
 * a socketpair through greenc's real connection code.
 */

#define _GNU_SOURCE 1

#include "grn_fuzz.h"
#include "grn_scoreboard.h"

#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define GRN_FUZZ_RESPONSE_MAX  (1024 * 1024)
#define GRN_FUZZ_MAX_WRITES    8
#define GRN_FUZZ_ROUNDS        256      /* event loop turns after the input before giving up */

/*
 * The Python half is a separate module the binary carries (grn_py_image.c, compiled after
 * the module is linked). The fuzz targets never load it: no config of theirs has a `pass`
 * that reaches an app worker, so an empty image stands in.
 */
const char  grn_py_image[1];
const char  grn_py_image_end[1];

static char  grn_fuzz_dir_path[64];

static int
grn_fuzz_rm(const char *path, const struct stat *st GRN_UNUSED, int flag GRN_UNUSED,
    struct FTW *ftw GRN_UNUSED)
{
    (void) remove(path);
    return 0;
}

static void
grn_fuzz_cleanup(void)
{
    if (grn_fuzz_dir_path[0]) {
        (void) nftw(grn_fuzz_dir_path, grn_fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
    }
}

const char *
grn_fuzz_dir(void)
{
    const char  *tmp;

    if (grn_fuzz_dir_path[0] == '\0') {
        tmp = getenv("TMPDIR");
        snprintf(grn_fuzz_dir_path, sizeof(grn_fuzz_dir_path), "%s/greenc-fuzz.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        if (mkdtemp(grn_fuzz_dir_path) == NULL) {
            perror("greenc fuzz: mkdtemp()");
            abort();
        }
        atexit(grn_fuzz_cleanup);
    }
    return grn_fuzz_dir_path;
}

void
grn_fuzz_write_file(const char *path, const void *data, size_t len)
{
    int    fd;
    char   full[PATH_MAX], *slash;

    snprintf(full, sizeof(full), "%s/%s", grn_fuzz_dir(), path);
    for (slash = full + strlen(grn_fuzz_dir()) + 1; (slash = strchr(slash, '/')); slash++) {
        *slash = '\0';
        (void) mkdir(full, 0755);
        *slash = '/';
    }
    fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1 || (len && write(fd, data, len) != (ssize_t) len)) {
        perror("greenc fuzz: writing a temp file");
        abort();
    }
    close(fd);
}

grn_log_t *
grn_fuzz_log(void)
{
    static grn_log_t  log;

    if (log.level == 0) {
        log.level = GRN_LOG_DEBUG;
        log.fd = getenv("GREENC_FUZZ_LOG") ? STDERR_FILENO
                                           : open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (log.fd == -1) {
            abort();
        }
    }
    return &log;
}

grn_cycle_t *
grn_fuzz_cycle(const char *name, const void *conf, size_t len)
{
    char       file[PATH_MAX], prefix[PATH_MAX];
    grn_str_t  conf_file, prefix_str, param = grn_null_string;

    grn_fuzz_write_file(name, conf, len);
    snprintf(file, sizeof(file), "%s/%s", grn_fuzz_dir(), name);
    snprintf(prefix, sizeof(prefix), "%s/", grn_fuzz_dir());
    conf_file.data = file;
    conf_file.len = strlen(file);
    prefix_str.data = prefix;
    prefix_str.len = strlen(prefix);

    return grn_cycle_init(NULL, grn_fuzz_log(), &conf_file, &prefix_str, &param);
}

grn_cycle_t *
grn_fuzz_server_start(grn_fuzz_server_t *s, const char *name, const char *conf_fmt)
{
    int           len;
    char         *conf;
    size_t        size;
    grn_cycle_t  *cycle;

    size = strlen(conf_fmt) + 16;
    conf = malloc(size);
    if (conf == NULL) {
        abort();
    }
    len = snprintf(conf, size, conf_fmt, getenv("GREENC_FUZZ_LOG") ? "stderr" : "/dev/null");
    cycle = grn_fuzz_cycle(name, conf, (size_t) len);
    free(conf);
    if (cycle == NULL) {
        fprintf(stderr, "%s: the config was refused (GREENC_FUZZ_LOG=1 shows why)\n", name);
        abort();
    }
    grn_fuzz_server_init(s, cycle);
    return cycle;
}

void
grn_fuzz_server_init(grn_fuzz_server_t *s, grn_cycle_t *cycle)
{
    grn_uint_t    i;
    grn_group_t  *group;

    /* A worker ignores SIGPIPE too: a write to a client gone fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);

    memset(s, 0, sizeof(*s));
    s->cycle = cycle;
    if (grn_cycle_open_files(cycle) != GRN_OK
        || grn_event_loop_init(&s->loop, 64, cycle->log) != GRN_OK)
    {
        abort();
    }

    /*
     * The C-only router group: it accepts the listeners that lead to no app or to several
     * (a `pass` there is forwarded, never run in this process).
     */
    group = cycle->groups.elts;
    for (i = 0; i < cycle->groups.nelts && group[i].app != NULL; i++) { /* void */ }
    if (i == cycle->groups.nelts) {
        fprintf(stderr, "greenc fuzz: the config has no router group\n");
        abort();
    }

    /* The scoreboard as a worker of that group sees it: counters, and the status page. */
    if (grn_scoreboard_init(4, cycle->log) != GRN_OK) {
        abort();
    }
    grn_sb_slot_prepare(0, grn_hash_name(group[i].name.data, group[i].name.len), cycle);
    grn_sb_self = &grn_scoreboard[0];

    if (grn_http_worker_init(&s->worker, &s->loop, cycle, &group[i]) != GRN_OK) {
        abort();
    }
    grn_http_time_update();

    s->response_size = GRN_FUZZ_RESPONSE_MAX;
    s->response = malloc(s->response_size);
    if (s->response == NULL) {
        abort();
    }
}

grn_listening_t *
grn_fuzz_listening(grn_cycle_t *cycle, const char *addr)
{
    grn_uint_t        i;
    grn_listening_t  *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].addr_text.len == strlen(addr)
            && memcmp(ls[i].addr_text.data, addr, ls[i].addr_text.len) == 0)
        {
            return &ls[i];
        }
    }
    fprintf(stderr, "greenc fuzz: no listener %s in the config\n", addr);
    abort();
}

/* Reads what greenc answered so far; returns how many bytes came. */
static size_t
grn_fuzz_drain(grn_fuzz_server_t *s, int fd)
{
    char     scratch[16384];
    size_t   total = 0;
    ssize_t  n;

    for ( ;; ) {
        n = read(fd, scratch, sizeof(scratch));
        if (n <= 0) {
            return total;
        }
        total += (size_t) n;
        n = grn_min(n, (ssize_t) (s->response_size - s->response_len));
        memcpy(s->response + s->response_len, scratch, (size_t) n);
        s->response_len += (size_t) n;
    }
}

void
grn_fuzz_apps_listen(grn_fuzz_server_t *s)
{
    grn_uint_t        i;
    grn_listening_t  *ls = s->cycle->listening.elts;

    for (i = 0; i < GRN_FUZZ_MAX_UPS; i++) {
        s->app_conn[i] = -1;
    }
    for (i = 0; i < s->cycle->listening.nelts && s->napps < GRN_FUZZ_MAX_APPS; i++) {
        if (ls[i].internal) {
            if (grn_listening_open(&ls[i], grn_fuzz_log()) != GRN_OK) {
                abort();
            }
            s->app_listen[s->napps++] = ls[i].fd;
        }
    }
}

/* The apps' side: take new connections, swallow what the router sends, answer once. */
static void
grn_fuzz_apps(grn_fuzz_server_t *s)
{
    int         fd;
    char        scratch[16384];
    ssize_t     n;
    grn_uint_t  i, j;

    for (i = 0; i < s->napps; i++) {
        while ((fd = accept4(s->app_listen[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
               != -1)
        {
            for (j = 0; j < GRN_FUZZ_MAX_UPS && s->app_conn[j] != -1; j++) { /* void */ }
            if (j == GRN_FUZZ_MAX_UPS) {
                close(fd);
                continue;
            }
            s->app_conn[j] = fd;
            s->app_answered[j] = 0;
        }
    }

    for (j = 0; j < GRN_FUZZ_MAX_UPS; j++) {
        if (s->app_conn[j] == -1) {
            continue;
        }
        while ((n = read(s->app_conn[j], scratch, sizeof(scratch))) > 0) {
            if (s->app_answered[j] != s->input) {
                s->app_answered[j] = s->input;
                (void) send(s->app_conn[j], s->app_answer, s->app_answer_len, MSG_NOSIGNAL);
            }
        }
        if (n == 0) {
            close(s->app_conn[j]);
            s->app_conn[j] = -1;
        }
    }
}

static void
grn_fuzz_apps_close(grn_fuzz_server_t *s)
{
    grn_uint_t  j;

    for (j = 0; j < GRN_FUZZ_MAX_UPS; j++) {
        if (s->app_conn[j] != -1) {
            close(s->app_conn[j]);
            s->app_conn[j] = -1;
        }
    }
}

/* One turn of the worker's event loop, without waiting, then the client and the apps read. */
static size_t
grn_fuzz_turn(grn_fuzz_server_t *s, int fd)
{
    (void) grn_event_process(&s->loop, 0);
    if (s->napps) {
        grn_fuzz_apps(s);
    }
    return grn_fuzz_drain(s, fd);
}

static void
grn_fuzz_send(grn_fuzz_server_t *s, int fd, const uint8_t *p, size_t len)
{
    ssize_t     n;
    grn_uint_t  stuck = 0;

    while (len) {
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t) n;
            stuck = 0;
        } else if (n == -1 && errno == EAGAIN && stuck++ < GRN_FUZZ_ROUNDS) {
            (void) grn_fuzz_turn(s, fd);    /* greenc must read before we can write more */
        } else {
            return;                         /* greenc closed, or reads nothing more */
        }
    }
}

static const char  grn_fuzz_mark[] = "\n--MARK--\n";

/*
 * The writes: h2o's seeds mark them; otherwise up to GRN_FUZZ_MAX_WRITES pieces cut at points
 * from a hash of the input, so that a mutation of the input also moves them and the parser
 * sees a head cut anywhere: inside a method, a header name, a chunk size, a PROXY header.
 */
typedef struct {
    size_t  start;
    size_t  end;
} grn_fuzz_piece_t;

#define GRN_FUZZ_MAX_PIECES  64

static uint64_t
grn_fuzz_hash(const uint8_t *data, size_t size)
{
    size_t    i;
    uint64_t  h = 1469598103934665603ULL;

    for (i = 0; i < size; i++) {
        h = (h ^ data[i]) * 1099511628211ULL;
    }
    return h;
}

/* Runs the handler of every armed timer once, earliest first, as the loop does when due. */
static void
grn_fuzz_expire_timers(grn_fuzz_server_t *s)
{
    grn_uint_t    n;
    grn_timer_t  *t;

    for (n = s->loop.ntimers; n && s->loop.ntimers; n--) {
        t = s->loop.timers[0];
        grn_timer_del(&s->loop, t);
        t->handler(t);
    }
}

static grn_uint_t
grn_fuzz_pieces(const uint8_t *data, size_t size, grn_fuzz_piece_t *pieces)
{
    size_t          i, j, t, cuts[GRN_FUZZ_MAX_WRITES];
    uint64_t        h;
    grn_uint_t      n;
    const uint8_t  *m, *p = data, *end = data + size;

    n = 0;
    if (memmem(data, size, grn_fuzz_mark, sizeof(grn_fuzz_mark) - 1) != NULL) {
        while (n < GRN_FUZZ_MAX_PIECES - 1
               && (m = memmem(p, (size_t) (end - p), grn_fuzz_mark,
                              sizeof(grn_fuzz_mark) - 1)) != NULL)
        {
            pieces[n].start = (size_t) (p - data);
            pieces[n++].end = (size_t) (m - data);
            p = m + sizeof(grn_fuzz_mark) - 1;
        }
        pieces[n].start = (size_t) (p - data);
        pieces[n++].end = size;
        return n;
    }

    h = grn_fuzz_hash(data, size);
    n = (grn_uint_t) (h % GRN_FUZZ_MAX_WRITES);
    for (i = 0; i < n; i++) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        cuts[i] = size ? (size_t) (h % size) : 0;
    }
    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    }
    for (i = 0; i < n; i++) {
        pieces[i].start = i ? cuts[i - 1] : 0;
        pieces[i].end = cuts[i];
    }
    pieces[n].start = n ? cuts[n - 1] : 0;
    pieces[n].end = size;
    return n + 1;
}

void
grn_fuzz_serve(grn_fuzz_server_t *s, grn_listening_t *ls, const uint8_t *data, size_t size)
{
    int               sv[2];
    grn_uint_t        i, n, k;
    grn_fuzz_piece_t  pieces[GRN_FUZZ_MAX_PIECES];

    static const char  app_mark[] = "\n--APP--\n";
    static const char  app_default[] = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfrom app";
    const uint8_t     *m;

    s->response_len = 0;
    s->input++;
    s->app_answer = (const uint8_t *) app_default;
    s->app_answer_len = sizeof(app_default) - 1;
    m = memmem(data, size, app_mark, sizeof(app_mark) - 1);
    if (m) {
        s->app_answer = m + sizeof(app_mark) - 1;
        s->app_answer_len = size - (size_t) (s->app_answer - data);
        size = (size_t) (m - data);
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
        perror("greenc fuzz: socketpair()");
        abort();
    }

    /* As a sibling thread hands over a connection it accepted: greenc owns sv[0] now. */
    grn_http_worker_adopt(&s->worker, sv[0], ls);

    n = grn_fuzz_pieces(data, size, pieces);
    for (i = 0; i < n; i++) {
        if (pieces[i].end > pieces[i].start) {
            grn_fuzz_send(s, sv[1], data + pieces[i].start, pieces[i].end - pieces[i].start);
        }
        for (k = 0; k < 2; k++) {
            (void) grn_fuzz_turn(s, sv[1]);
        }
    }

    /*
     * For some inputs (a bit of their hash), every timer the connection armed expires now, as
     * if the client had stalled: header, body and send timeouts answer 408 or close.
     */
    if (grn_fuzz_hash(data, size) & 0x100) {
        grn_fuzz_expire_timers(s);
        for (k = 0; k < 4; k++) {
            (void) grn_fuzz_turn(s, sv[1]);
        }
    }

    /* The client is done sending: greenc answers what it has, then closes. */
    (void) shutdown(sv[1], SHUT_WR);
    for (k = 0; k < GRN_FUZZ_ROUNDS && s->worker.nall; k++) {
        (void) grn_fuzz_turn(s, sv[1]);
    }

    /* Stuck (e.g. waiting for a timer): the fuzzer does not wait for timeouts. */
    while (s->worker.nall) {
        grn_http_conn_abort(s->worker.all[s->worker.nall - 1]);
    }
    (void) grn_fuzz_drain(s, sv[1]);
    close(sv[1]);

    /* The apps hang up too, so that the next input finds the router as this one did. */
    if (s->napps) {
        grn_fuzz_apps_close(s);
        for (k = 0; k < 2; k++) {
            (void) grn_event_process(&s->loop, 0);
        }
    }

    if (getenv("GREENC_FUZZ_DUMP")) {
        fprintf(stderr, "---- greenc answered %zu bytes:\n", s->response_len);
        fwrite(s->response, 1, s->response_len, stderr);
        fputc('\n', stderr);
    }
}

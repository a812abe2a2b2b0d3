/*
 * grn_fuzz.h: what the libFuzzer targets in tests/fuzz/ share.
 *
 * A target builds one generation from a config text once (grn_fuzz_cycle()), starts one
 * worker thread's HTTP engine on it (grn_fuzz_server_init(): an event loop and a
 * grn_http_worker_t, as grn_worker.c does, minus Python and the listening sockets), and then
 * serves each input over a socketpair: one end goes to greenc's own connection code through
 * grn_http_worker_adopt(), the way a sibling thread hands over an accepted connection, and
 * the input is written into the other end in several writes while the event loop runs
 * (grn_fuzz_serve()). Nothing is mocked between the socket and the response.
 *
 * The listeners of the generation are never opened: a target only needs their settings.
 * Temp files (the config, static roots, body temp files) live in one directory per process,
 * removed at exit.
 */

#ifndef GRN_FUZZ_H
#define GRN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_http.h"
#include "grn_http_conf.h"

#define GRN_FUZZ_MAX_APPS    4
#define GRN_FUZZ_MAX_UPS     8

typedef struct {
    grn_cycle_t         *cycle;
    /* Stand-ins for app workers on the apps' internal sockets (grn_fuzz_apps_listen()). */
    int                  app_listen[GRN_FUZZ_MAX_APPS];
    grn_uint_t           napps;
    int                  app_conn[GRN_FUZZ_MAX_UPS];
    grn_uint_t           app_answered[GRN_FUZZ_MAX_UPS];
    grn_uint_t           input;        /* inputs served so far */
    const uint8_t       *app_answer;
    size_t               app_answer_len;
    grn_event_loop_t     loop;
    grn_http_worker_t    worker;
    char                *response;    /* what the client end read, for checks */
    size_t               response_len;
    size_t               response_size;
} grn_fuzz_server_t;

/* The per-process temp directory ("/tmp/greenc-fuzz.XXXXXX"), made on the first call. */
const char *grn_fuzz_dir(void);

/* Writes a file under grn_fuzz_dir() (path relative to it), making its directories. */
void grn_fuzz_write_file(const char *path, const void *data, size_t len);

/*
 * A log for the targets: the error log lines greenc writes while it handles an input go to
 * /dev/null (they are formatted all the same), or to stderr when GREENC_FUZZ_LOG is set.
 */
grn_log_t *grn_fuzz_log(void);

/*
 * Reads `conf` (written to grn_fuzz_dir()/name) into a new generation with the prefix
 * grn_fuzz_dir()/. NULL when the config is refused (the reason is logged).
 */
grn_cycle_t *grn_fuzz_cycle(const char *name, const void *conf, size_t len);

/* Sets up the event loop and the HTTP engine of one worker thread on a generation. */
void grn_fuzz_server_init(grn_fuzz_server_t *s, grn_cycle_t *cycle);

/*
 * A target's set-up in one call: conf_fmt's one %s becomes the error log ("/dev/null", or
 * "stderr" with GREENC_FUZZ_LOG), the result is read as grn_fuzz_dir()/name and the server is
 * set up on it. Aborts, saying so, when the config is refused.
 */
grn_cycle_t *grn_fuzz_server_start(grn_fuzz_server_t *s, const char *name,
    const char *conf_fmt);

/*
 * Opens the apps' internal sockets (abstract unix sockets named after the temp directory's pid
 * file, so no other greenc hears them) and answers what the router forwards there: each
 * connection gets the input's app answer once (see grn_fuzz_serve()), and is closed when the
 * input is done.
 */
void grn_fuzz_apps_listen(grn_fuzz_server_t *s);

/* The generation's listener whose address text is `addr` ("127.0.0.1:8001"); aborts if none. */
grn_listening_t *grn_fuzz_listening(grn_cycle_t *cycle, const char *addr);

/*
 * Serves one connection: `data` is sent in several writes (at "\n--MARK--\n" separators as
 * h2o's seeds mark them, else at points picked from a hash of the input), the event loop runs
 * after each, then the client half-closes and the loop runs until greenc closes the
 * connection. After "\n--APP--\n" in the input come the bytes an app answers the router with
 * (when grn_fuzz_apps_listen() was called; by default a short 200). For some inputs the
 * connection's timers expire first, as if the client had stalled. What greenc answers is in
 * s->response (up to 1 MB); GREENC_FUZZ_DUMP=1 prints it.
 */
void grn_fuzz_serve(grn_fuzz_server_t *s, grn_listening_t *ls, const uint8_t *data,
    size_t size);

#endif /* GRN_FUZZ_H */

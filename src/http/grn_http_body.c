/*
 * grn_http_body.c: the request body, from the parser's on_body to the app's wsgi.input.
 *
 * Buffered (the default): the whole body is received before the app runs, so a slow client
 * never holds a Python thread. Up to client_body_buffer_size it stays in memory; beyond that
 * it goes to an unlinked temp file in client_body_temp_path (written in buffer-sized blocks,
 * as nginx does), and the app's reads are pread()s of that file.
 *
 * The default threshold is 1m, not nginx's 16k: a Python app reads the whole body into memory
 * anyway (Django's request.body, Flask's request.data), so spilling a 100 KB body to disk
 * only to read it back costs a write and a read for nothing. Measured with contrib/bench's
 * upload1m workload: a 1 MB body through a temp file cost about twice the server CPU per
 * request of the same body in memory. Memory grows as bytes arrive, so holding a body costs
 * what the client actually sent.
 *
 * Streamed (`request_buffering off`, or an HTTP/1.1 client that waits for "100 Continue"):
 * the app runs as soon as the head is complete, and its reads pull the body from the socket
 * with the GIL released: poll() for client_body_timeout, recv() into the connection's read
 * buffer, llhttp to undo the framing. The memory buffer then holds only what was received and
 * not yet read (a window that starts at body offset `mem_start`), so memory stays bounded by
 * one read buffer however large the upload. "100 Continue" goes out at the app's first read,
 * so an app that answers without reading (401, 413) never makes the client send the body.
 *
 * Forwarded (the router, `request_buffering off`): the memory buffer is a window between the
 * client and the app's connection, which empties it as the app's socket takes the bytes; the
 * router reads the client only while the window has room (grn_http_proxy.c).
 *
 * All of this runs on the thread that owns the connection: the app's read is a blocking call
 * in the middle of that thread's event loop turn, so nothing else touches the connection.
 */

#include "grn_core.h"

#include <poll.h>

#include "grn_http.h"
#include "grn_http_ssl.h"

/* The largest declared length allocated at once; beyond it memory grows as bytes arrive. */
#define GRN_HTTP_BODY_FIRST_ALLOC  65536

static grn_int_t grn_http_body_flush(grn_http_conn_t *hc);

static int
grn_http_body_open_temp(grn_http_conn_t *hc, grn_http_loc_conf_t *loc)
{
    int    fd;
    char   path[PATH_MAX];

    /* O_TMPFILE: the file never has a name, so a crash leaves nothing behind. */
    fd = open(loc->client_body_temp_path.data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        if (snprintf(path, sizeof(path), "%s/greenc-body-XXXXXX",
                     loc->client_body_temp_path.data) >= (int) sizeof(path))
        {
            errno = ENAMETOOLONG;
            goto failed;
        }
        fd = mkostemp(path, O_CLOEXEC);
        if (fd != -1) {
            (void) unlink(path);
        }
    }

    if (fd != -1) {
        return fd;
    }

failed:

    grn_http_conn_log(GRN_LOG_CRIT, hc, errno,
                      "cannot create a temp file for a request body in \"%s\" "
                      "(client_body_temp_path)", loc->client_body_temp_path.data);
    return -1;
}

/* An HTTP/1.1 request with "Expect: 100-continue" (HTTP/1.0 clients do not wait for it). */
static grn_flag_t
grn_http_expects_continue(grn_http_request_t *r)
{
    grn_uint_t          i;
    grn_http_header_t  *h = r->headers.elts;

    if (r->http_version != 1001) {
        return 0;
    }
    for (i = 0; i < r->headers.nelts; i++) {
        if (h[i].name.len == 6 && strncasecmp(h[i].name.data, "expect", 6) == 0
            && h[i].value.len == 12 && strncasecmp(h[i].value.data, "100-continue", 12) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/*
 * At the end of the head, before any body byte reaches on_body: whether the app will read the
 * body from the socket itself (request_buffering off, or an HTTP/1.1 client that waits for
 * 100 Continue), and whether the client waits for 100 Continue at all.
 */
void
grn_http_body_start(grn_http_conn_t *hc)
{
    grn_http_request_t   *r = hc->r;
    grn_http_loc_conf_t  *loc = r->loc;
    grn_http_body_t      *b = &hc->body;

    if (r->content_length <= 0 && !r->chunked) {
        return;
    }

    b->expect_continue = grn_http_expects_continue(r);

    if (loc == NULL || loc->action != GRN_HTTP_ACTION_PASS) {
        return;
    }

    if (hc->worker->group->app == NULL) {
        /*
         * The router (no app of its own) reads a body whole before it forwards it, unless
         * request_buffering is off: then it forwards it as it arrives (grn_http_proxy.c).
         */
        b->forward = !loc->request_buffering;
        return;
    }

    if (!loc->request_buffering || b->expect_continue) {
        b->streamed = 1;
    }
}

/* Called from the parser's on_body. 0, or -1 with hc->status set. */
int
grn_http_body_append(grn_http_conn_t *hc, const char *data, size_t len)
{
    char                 *mem;
    size_t                size, limit;
    grn_http_body_t      *b = &hc->body;
    grn_http_loc_conf_t  *loc = hc->r->loc ? hc->r->loc : hc->r->srv->loc;

    b->received += (off_t) len;
    b->expect_continue = 0;             /* the client sends without waiting */
    limit = loc->client_body_buffer_size;

    if (!b->streamed && !b->forward && !b->in_file && b->mem_len + len > limit) {
        b->fd = grn_http_body_open_temp(hc, loc);
        if (b->fd == -1) {
            hc->status = 500;
            return -1;
        }
        b->in_file = 1;
    }

    while (len) {
        if (b->in_file && b->mem_len == b->mem_size && b->mem_size == limit) {
            if (grn_http_body_flush(hc) != GRN_OK) {
                return -1;
            }
        }

        if (b->mem_len == b->mem_size) {
            /*
             * Grow. Into a temp file: one buffer of client_body_buffer_size. In memory: by
             * doubling, from the declared length when it is small, so that a client that
             * announces a large body but sends little of it makes us hold little. Streamed:
             * just enough, the window is emptied by the app.
             */
            if (b->in_file) {
                size = limit;
            } else if (b->streamed || b->forward) {
                size = grn_max(b->mem_len + len, 4096);
            } else if (b->mem_size == 0 && hc->r->content_length > 0
                       && hc->r->content_length <= GRN_HTTP_BODY_FIRST_ALLOC)
            {
                size = (size_t) hc->r->content_length;
            } else {
                size = grn_min(grn_max(b->mem_size * 2, 4096), limit);
                size = grn_max(size, b->mem_len + len);
            }

            mem = realloc(b->mem, size);
            if (mem == NULL) {
                grn_http_conn_log(GRN_LOG_ALERT, hc, errno,
                                  "realloc(%zu) for a request body failed", size);
                hc->status = 500;
                return -1;
            }
            b->mem = mem;
            b->mem_size = size;
        }

        size = grn_min(len, b->mem_size - b->mem_len);
        memcpy(b->mem + b->mem_len, data, size);
        b->mem_len += size;
        data += size;
        len -= size;
    }

    return 0;
}

/* Writes the memory buffer to the temp file. */
static grn_int_t
grn_http_body_flush(grn_http_conn_t *hc)
{
    ssize_t           n;
    size_t            done = 0;
    grn_http_body_t  *b = &hc->body;

    while (done < b->mem_len) {
        n = pwrite(b->fd, b->mem + done, b->mem_len - done, b->mem_start + (off_t) done);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            grn_http_conn_log(GRN_LOG_CRIT, hc, errno,
                              "writing a request body to its temp file failed");
            hc->status = 500;
            return GRN_ERROR;
        }
        done += (size_t) n;
    }

    b->mem_start += (off_t) b->mem_len;
    b->mem_len = 0;
    return GRN_OK;
}

/* Called from the parser's on_message_complete. 0, or -1 with hc->status set. */
int
grn_http_body_complete(grn_http_conn_t *hc)
{
    grn_http_body_t  *b = &hc->body;

    b->complete = 1;
    b->expect_continue = 0;

    if (b->in_file && b->mem_len && grn_http_body_flush(hc) != GRN_OK) {
        return -1;
    }
    return 0;
}

void
grn_http_body_free(grn_http_conn_t *hc)
{
    grn_http_body_t  *b = &hc->body;

    if (b->fd != -1) {
        close(b->fd);
    }
    free(b->mem);
    memset(b, 0, sizeof(grn_http_body_t));
    b->fd = -1;
}

/* After the head: the request's whole body is in memory, for actions that read it directly. */
void
grn_http_body_set_request(grn_http_conn_t *hc)
{
    grn_http_body_t     *b = &hc->body;
    grn_http_request_t  *r = hc->r;

    if (!b->streamed && !b->forward && !b->in_file) {
        r->body.data = b->mem;
        r->body.len = b->mem_len;
    } else {
        grn_str_null(&r->body);
    }
}

off_t
grn_http_body_length(grn_http_request_t *r)
{
    grn_http_conn_t  *hc = r->connection->data;

    if (r->content_length >= 0) {
        return r->content_length;
    }
    if (r->chunked && hc->body.complete) {
        return hc->body.received;
    }
    return r->chunked ? -1 : 0;
}

static grn_int_t
grn_http_body_fail(grn_http_conn_t *hc, grn_uint_t status, const char *what)
{
    hc->body.error = status;
    grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client %s", what);
    return GRN_ERROR;
}

/*
 * Streamed: receives and parses until some body bytes arrive or the body ends. Runs without
 * the GIL. The head's spans stay where they are (the app's environ and the access log point
 * at them); received body bytes are parsed right behind the head and copied out.
 */
static grn_int_t
grn_http_body_pull(grn_http_conn_t *hc)
{
    int                   rc;
    ssize_t               n;
    struct pollfd         pfd;
    grn_http_body_t      *b = &hc->body;
    grn_http_loc_conf_t  *loc = hc->r->loc ? hc->r->loc : hc->r->srv->loc;

    while (b->mem_len == 0 && !b->complete) {

        if (hc->parsed > hc->head_end) {
            memmove(hc->buf + hc->head_end, hc->buf + hc->parsed, hc->buf_len - hc->parsed);
            hc->buf_len -= hc->parsed - hc->head_end;
            hc->parsed = hc->head_end;
        }

        if (hc->buf_len == hc->parsed) {
            if (hc->buf_len == hc->buf_size) {
                /* The head fills the whole buffer: no room to receive the body into. */
                return grn_http_body_fail(hc, 413, "sent a head that leaves no room for "
                                          "the body");
            }

            n = grn_http_conn_recv(hc, hc->buf + hc->buf_len, hc->buf_size - hc->buf_len);

            if (n == 0) {
                return grn_http_body_fail(hc, 400, "closed the connection before sending "
                                          "the whole request body");
            }

            if (n == -1) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN) {
                    return grn_http_body_fail(hc, 400, "reset the connection while sending "
                                              "the request body");
                }

                pfd.fd = hc->c.fd;
                pfd.events = hc->ssl_read_wants_write ? POLLOUT : POLLIN | POLLRDHUP;
                rc = poll(&pfd, 1, (int) loc->client_body_timeout);
                if (rc == 0) {
                    return grn_http_body_fail(hc, 408, "timed out sending the request body");
                }
                if (rc == -1 && errno != EINTR) {
                    grn_http_conn_log(GRN_LOG_ALERT, hc, errno, "poll() failed");
                    b->error = 500;
                    return GRN_ERROR;
                }
                continue;
            }

            hc->buf_len += (size_t) n;
        }

        if (grn_http_execute(hc) != GRN_OK) {
            b->error = hc->status;
            return GRN_ERROR;
        }
    }

    return GRN_OK;
}

ssize_t
grn_http_body_read(grn_http_request_t *r, off_t pos, char *buf, size_t size)
{
    size_t            skip, n;
    ssize_t           got;
    grn_http_conn_t  *hc = r->connection->data;
    grn_http_body_t  *b = &hc->body;

    if (b->error) {
        return -1;
    }

    if (b->in_file) {
        for ( ;; ) {
            got = pread(b->fd, buf, size, pos);
            if (got == -1 && errno == EINTR) {
                continue;
            }
            if (got == -1) {
                grn_http_conn_log(GRN_LOG_CRIT, hc, errno,
                                  "reading a request body from its temp file failed");
                b->error = 500;
            }
            return got;
        }
    }

    if (b->streamed) {
        if (b->expect_continue) {
            /* The client waits for this before it sends the body (RFC 9110 10.1.1). */
            b->expect_continue = 0;
            grn_http_conn_send_continue(hc, (hc->r->loc ? hc->r->loc : hc->r->srv->loc)
                                            ->send_timeout);
        }

        /* What the app has read is dropped from the window. */
        if (pos > b->mem_start) {
            skip = (size_t) grn_min((off_t) b->mem_len, pos - b->mem_start);
            memmove(b->mem, b->mem + skip, b->mem_len - skip);
            b->mem_len -= skip;
            b->mem_start += (off_t) skip;
        }

        if (b->mem_len == 0 && grn_http_body_pull(hc) != GRN_OK) {
            return -1;
        }
    }

    if (pos < b->mem_start || pos >= b->mem_start + (off_t) b->mem_len) {
        return 0;
    }

    skip = (size_t) (pos - b->mem_start);
    n = grn_min(size, b->mem_len - skip);
    memcpy(buf, b->mem + skip, n);
    return (ssize_t) n;
}

grn_uint_t
grn_http_body_error(grn_http_request_t *r)
{
    grn_http_conn_t  *hc = r->connection->data;

    return hc->body.error;
}

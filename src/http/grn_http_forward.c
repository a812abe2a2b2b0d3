/*
 * grn_http_forward.c: the forwarding line the router puts before each request it forwards to
 * an app's internal socket, written on one side and read on the other.
 *
 *     GRNF/1 <generation> <server> <location> <flags> <client addr> <client port>
 *            <server port> <server name>\r\n
 *
 * (one line, single spaces), then the client's request as an HTTP/1.1 message. The generation
 * is the router's cycle id in hex; server and location are indexes into that generation's
 * tables, so an app worker of the same generation takes the location the router chose without
 * routing again. During a reload or binary upgrade, routers and app workers of two generations
 * share the internal socket: an app worker that sees another generation routes by server name
 * and path with its own configuration instead. Flags: 1 = https. The client address is
 * "unix:" for a unix-socket client (older routers sent "-"); it is the address after the
 * router applied proxy_protocol and real_ip_header, and https is the scheme after
 * X-Forwarded-Proto, so the app sees what a direct listener would have shown it. The server
 * name, the only field that could hold a space (a regex server_name as written), is last and
 * runs to the end of the line. Flag 2 says that the client came over TLS: a second line,
 * "GRNT/1 ...", carries the protocol, cipher, SNI name and client certificate
 * (grn_http_ssl.c), so the app's SSL_* variables are those a direct listener would give.
 *
 * The line is trusted only on an internal socket, whose peer must be the router's user: an
 * abstract unix socket has no file permissions, so the check is SO_PEERCRED at accept.
 */

#include "grn_core.h"
#include "grn_http_proxy.h"
#include "grn_http_ssl.h"

#include <arpa/inet.h>

#define GRN_HTTP_FWD_MAGIC     "GRNF/1 "
#define GRN_HTTP_FWD_HTTPS     1
#define GRN_HTTP_FWD_TLS       2      /* a GRNT line with the TLS facts follows */

size_t
grn_http_forward_line(grn_http_request_t *r, grn_cycle_t *cycle, char *buf)
{
    int                     n;
    grn_str_t               name = r->server_name;
    grn_http_connection_t  *c = r->connection;

    /* Server names come from a validated Host or the config: no CR or LF, bounded here. */
    if (name.len > 255) {
        name.len = 255;
    }
    n = snprintf(buf, GRN_HTTP_FWD_MAX_LINE,
                 GRN_HTTP_FWD_MAGIC "%016llx %lu %lu %u %.*s %lu %lu %.*s\r\n",
                 (unsigned long long) cycle->id, (unsigned long) r->srv->number,
                 (unsigned long) r->loc->number,
                 (r->https ? GRN_HTTP_FWD_HTTPS : 0)
                 | (((grn_http_conn_t *) c->data)->ssl ? GRN_HTTP_FWD_TLS : 0),
                 c->remote_addr.len ? (int) c->remote_addr.len : 1,
                 c->remote_addr.len ? c->remote_addr.data : "-",
                 (unsigned long) c->remote_port, (unsigned long) r->server_port,
                 (int) name.len, name.data);
    if (n <= 0 || n >= GRN_HTTP_FWD_MAX_LINE) {
        return 0;
    }
    if (((grn_http_conn_t *) c->data)->ssl) {
        size_t  tls = grn_http_ssl_forward_line(r, buf + n, GRN_HTTP_SSL_FWD_MAX_LINE);

        return tls ? (size_t) n + tls : 0;
    }
    return (size_t) n;
}

grn_int_t
grn_http_forward_peer_ok(int fd, grn_http_worker_t *w)
{
    struct ucred  cred;
    socklen_t     len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
        grn_log_error(GRN_LOG_ALERT, w->log, errno, "getsockopt(SO_PEERCRED) failed");
        return GRN_ERROR;
    }
    if (cred.uid != w->cycle->router_uid && cred.uid != 0) {
        grn_log_error(GRN_LOG_WARN, w->log, 0,
                      "process %d (uid %d) connected to the internal socket of app \"%.*s\", "
                      "which only the router (uid %d) may use; closed",
                      (int) cred.pid, (int) cred.uid, (int) w->group->name.len,
                      w->group->name.data, (int) w->cycle->router_uid);
        return GRN_ERROR;
    }
    return GRN_OK;
}

/* The next space-terminated field at *p (before end); GRN_ERROR when there is none. */
static grn_int_t
grn_http_forward_field(char **p, char *end, grn_str_t *field)
{
    char  *sp;

    sp = memchr(*p, ' ', (size_t) (end - *p));
    if (sp == NULL || sp == *p) {
        return GRN_ERROR;
    }
    field->data = *p;
    field->len = (size_t) (sp - *p);
    *p = sp + 1;
    return GRN_OK;
}

static grn_int_t
grn_http_forward_number(grn_str_t *field, grn_uint_t *n)
{
    grn_int_t  v = grn_atoi(field->data, field->len);

    if (v < 0) {
        return GRN_ERROR;
    }
    *n = (grn_uint_t) v;
    return GRN_OK;
}

grn_int_t
grn_http_forward_preamble(grn_http_conn_t *hc)
{
    char                  *p, *end, *eol, text[INET6_ADDRSTRLEN];
    size_t                 avail, i;
    uint64_t               id;
    grn_str_t              f;
    grn_uint_t             flags, port;
    unsigned char          addr[sizeof(struct in6_addr)];
    grn_http_forwarded_t  *fwd;

    p = hc->buf + hc->parsed;
    avail = hc->buf_len - hc->parsed;

    eol = memchr(p, '\n', grn_min(avail, GRN_HTTP_FWD_MAX_LINE));
    if (eol == NULL) {
        return avail < GRN_HTTP_FWD_MAX_LINE ? GRN_AGAIN : GRN_ERROR;
    }
    if (eol == p || eol[-1] != '\r' || (size_t) (eol - p) < sizeof(GRN_HTTP_FWD_MAGIC)
        || memcmp(p, GRN_HTTP_FWD_MAGIC, sizeof(GRN_HTTP_FWD_MAGIC) - 1) != 0)
    {
        return GRN_ERROR;
    }
    end = eol - 1;
    p += sizeof(GRN_HTTP_FWD_MAGIC) - 1;

    fwd = grn_pcalloc(hc->pool, sizeof(grn_http_forwarded_t));
    if (fwd == NULL) {
        return GRN_ERROR;
    }

    if (grn_http_forward_field(&p, end, &f) != GRN_OK || f.len != 16) {
        return GRN_ERROR;
    }
    id = 0;
    for (i = 0; i < 16; i++) {
        char  ch = f.data[i];

        if (ch >= '0' && ch <= '9') {
            id = id << 4 | (uint64_t) (ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            id = id << 4 | (uint64_t) (ch - 'a' + 10);
        } else {
            return GRN_ERROR;
        }
    }
    fwd->cycle_id = id;

    if (grn_http_forward_field(&p, end, &f) != GRN_OK
        || grn_http_forward_number(&f, &fwd->srv) != GRN_OK
        || grn_http_forward_field(&p, end, &f) != GRN_OK
        || grn_http_forward_number(&f, &fwd->loc) != GRN_OK
        || grn_http_forward_field(&p, end, &f) != GRN_OK
        || grn_http_forward_number(&f, &flags) != GRN_OK)
    {
        return GRN_ERROR;
    }
    fwd->https = (flags & GRN_HTTP_FWD_HTTPS) ? 1 : 0;

    /* The client's address: a literal inet_pton accepts, copied into the connection. */
    if (grn_http_forward_field(&p, end, &f) != GRN_OK || f.len >= sizeof(text)) {
        return GRN_ERROR;
    }
    if ((f.len == 1 && f.data[0] == '-') || (f.len == 5 && memcmp(f.data, "unix:", 5) == 0)) {
        memcpy(hc->c.remote_addr.data, "unix:", 6);
        hc->c.remote_addr.len = 5;
    } else {
        memcpy(text, f.data, f.len);
        text[f.len] = '\0';
        if (inet_pton(AF_INET, text, addr) != 1 && inet_pton(AF_INET6, text, addr) != 1) {
            return GRN_ERROR;
        }
        memcpy(hc->c.remote_addr.data, text, f.len + 1);
        hc->c.remote_addr.len = f.len;
    }

    if (grn_http_forward_field(&p, end, &f) != GRN_OK
        || grn_http_forward_number(&f, &port) != GRN_OK || port > 65535)
    {
        return GRN_ERROR;
    }
    hc->c.remote_port = port;

    /* The router vouches for the address: it is this request's peer as well. */
    memcpy(hc->c.peer_addr.data, hc->c.remote_addr.data, hc->c.remote_addr.len + 1);
    hc->c.peer_addr.len = hc->c.remote_addr.len;
    hc->c.peer_port = port;

    if (grn_http_forward_field(&p, end, &f) != GRN_OK
        || grn_http_forward_number(&f, &fwd->server_port) != GRN_OK
        || fwd->server_port > 65535)
    {
        return GRN_ERROR;
    }

    /* The rest is the server name: printable bytes only. */
    for (i = 0; p + i < end; i++) {
        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f) {
            return GRN_ERROR;
        }
    }
    fwd->server_name.len = (size_t) (end - p);
    fwd->server_name.data = grn_pnalloc(hc->pool, fwd->server_name.len + 1);
    if (fwd->server_name.data == NULL) {
        return GRN_ERROR;
    }
    memcpy(fwd->server_name.data, p, fwd->server_name.len);

    if (flags & GRN_HTTP_FWD_TLS) {
        /* The client's TLS facts, on a line of their own (grn_http_ssl_forward_line()). */
        p = eol + 1;
        avail = hc->buf_len - (size_t) (p - hc->buf);
        eol = memchr(p, '\n', grn_min(avail, GRN_HTTP_SSL_FWD_MAX_LINE));
        if (eol == NULL) {
            return avail < GRN_HTTP_SSL_FWD_MAX_LINE ? GRN_AGAIN : GRN_ERROR;
        }
        if (eol == p || eol[-1] != '\r'
            || grn_http_ssl_forward_parse(hc->pool, p, (size_t) (eol - 1 - p), &fwd->tls)
               != GRN_OK)
        {
            return GRN_ERROR;
        }
    }

    hc->fwd = fwd;
    hc->parsed = (size_t) (eol + 1 - hc->buf);
    return GRN_OK;
}

grn_uint_t
grn_http_forward_route(grn_http_conn_t *hc, const char **reason)
{
    static grn_str_t       root = grn_string("/");
    grn_http_request_t    *r = hc->r;
    grn_http_forwarded_t  *fwd = hc->fwd;
    grn_http_main_conf_t  *hmcf = hc->worker->cycle->http;

    if (fwd == NULL) {
        *reason = "sent a request without its forwarding line on an internal socket";
        return 400;
    }

    r->https = fwd->https;
    r->tls = fwd->tls;
    r->server_name = fwd->server_name;
    r->server_port = fwd->server_port;

    if (fwd->cycle_id == hc->worker->cycle->id && fwd->srv < hmcf->servers.nelts
        && fwd->loc < hmcf->locations.nelts)
    {
        r->srv = ((grn_http_srv_conf_t **) hmcf->servers.elts)[fwd->srv];
        r->loc = ((grn_http_loc_conf_t **) hmcf->locations.elts)[fwd->loc];

    } else {
        /* A router of another generation: its numbers mean nothing here, route by name. */
        r->srv = grn_http_find_server(r, hc->c.listening->servers, &r->server_name);
        r->loc = (r->path.len == 1 && r->path.data[0] == '*')
                 ? grn_http_find_location(r, r->srv, &root)
                 : grn_http_find_location(r, r->srv, &r->path);
    }

    if (r->loc == NULL || r->loc->action != GRN_HTTP_ACTION_PASS
        || r->loc->app != hc->worker->group->app)
    {
        *reason = "was forwarded a request for a location of another app";
        return 502;
    }
    return 0;
}

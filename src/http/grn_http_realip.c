/*
 * grn_http_realip.c: the client's address and scheme behind proxies greenc trusts.
 *
 * A connection has two addresses. Its peer (c->peer_addr) is whoever opened the socket, or,
 * on a `listen ... proxy_protocol` listener, the source the PROXY header names. Its client
 * (c->remote_addr, what REMOTE_ADDR, $remote_addr, the error log and the router's forwarding
 * line show) starts as the peer and is replaced for one request when the peer is listed in
 * set_real_ip_from and the request carries real_ip_header:
 *
 *   X-Real-IP (and any other field name)   one address (with a port, "[::1]:80", as RFC 3986)
 *   X-Forwarded-For                        a list, the original client first, each proxy
 *                                          appending the address it received from
 *   Forwarded (RFC 7239)                   the same list in its for= parameters
 *   proxy_protocol                         no field: the PROXY header's address stays
 *
 * In a list, with real_ip_recursive off the last address is the client (the one the trusted
 * peer saw); with it on, addresses are walked from the right past every trusted one, and the
 * first untrusted address is the client (as nginx). A value that is not an address ends the
 * walk; when the last address is not one, nothing changes.
 *
 * A trusted peer's X-Forwarded-Proto (exactly "http" or "https") also sets the scheme the app
 * sees (wsgi.url_scheme). An untrusted peer's fields change nothing: they reach the app as
 * HTTP_* variables only.
 *
 * The settings live at http and server level; a server's own set_real_ip_from replaces the
 * http level's list rather than adding to it (nginx's array inheritance). The check runs once
 * the server is chosen (the Host header picks it), so only after the head is read.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <arpa/inet.h>

#define GRN_HTTP_REALIP_MAX_ITEMS  64     /* list entries examined, at most */

typedef struct {
    int              family;
    unsigned char    addr[16];
    grn_uint_t       port;
} grn_realip_addr_t;

grn_int_t
grn_http_realip_compile(grn_pool_t *pool, grn_http_srv_conf_t *srv)
{
    char             *slash, buf[INET6_ADDRSTRLEN + 1];
    size_t            len;
    grn_uint_t        i;
    grn_str_t        *from;
    grn_http_cidr_t  *cidr;

    if (srv->real_ip_from == NULL || srv->real_ip_from == GRN_CONF_UNSET_PTR) {
        srv->real_ip_from = NULL;
        return GRN_OK;
    }

    srv->trusted = grn_array_create(pool, srv->real_ip_from->nelts, sizeof(grn_http_cidr_t));
    if (srv->trusted == NULL) {
        return GRN_ERROR;
    }

    /* The entries were checked when read (grn_http_real_ip_from): only conversion is left. */
    from = srv->real_ip_from->elts;
    for (i = 0; i < srv->real_ip_from->nelts; i++) {
        cidr = grn_array_push(srv->trusted);
        if (cidr == NULL) {
            return GRN_ERROR;
        }
        memset(cidr, 0, sizeof(*cidr));

        if (grn_str_eq_lit(&from[i], "unix:")) {
            cidr->family = AF_UNIX;
            continue;
        }

        slash = memchr(from[i].data, '/', from[i].len);
        len = slash ? (size_t) (slash - from[i].data) : from[i].len;
        if (len >= sizeof(buf)) {
            return GRN_ERROR;
        }
        memcpy(buf, from[i].data, len);
        buf[len] = '\0';

        if (inet_pton(AF_INET, buf, cidr->addr) == 1) {
            cidr->family = AF_INET;
            cidr->bits = 32;
        } else if (inet_pton(AF_INET6, buf, cidr->addr) == 1) {
            cidr->family = AF_INET6;
            cidr->bits = 128;
        } else {
            return GRN_ERROR;
        }
        if (slash) {
            cidr->bits = (grn_uint_t) grn_atoi(slash + 1, from[i].data + from[i].len - slash - 1);
        }
    }
    return GRN_OK;
}

static grn_flag_t
grn_realip_bits_match(const unsigned char *a, const unsigned char *b, grn_uint_t bits)
{
    grn_uint_t  bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, bytes) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

static grn_flag_t
grn_realip_in(grn_array_t *trusted, const grn_realip_addr_t *a)
{
    grn_uint_t        i;
    grn_http_cidr_t  *cidr = trusted->elts;

    for (i = 0; i < trusted->nelts; i++) {
        if (cidr[i].family == a->family
            && (a->family == AF_UNIX || grn_realip_bits_match(cidr[i].addr, a->addr,
                                                              cidr[i].bits)))
        {
            return 1;
        }
    }
    return 0;
}

/* A literal address (no brackets, no port) into a; 0 when it is not one. */
static grn_flag_t
grn_realip_parse(const char *p, size_t len, grn_realip_addr_t *a)
{
    char  text[INET6_ADDRSTRLEN];

    if (len == 0 || len >= sizeof(text)) {
        return 0;
    }
    memcpy(text, p, len);
    text[len] = '\0';
    a->port = 0;
    if (inet_pton(AF_INET, text, a->addr) == 1) {
        a->family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, text, a->addr) == 1) {
        a->family = AF_INET6;
        return 1;
    }
    return 0;
}

grn_flag_t
grn_http_realip_peer_trusted(grn_http_srv_conf_t *srv, grn_http_connection_t *c)
{
    grn_realip_addr_t  a;

    if (srv == NULL || srv->trusted == NULL || srv->trusted->nelts == 0) {
        return 0;
    }
    if (c->peer_addr.len == 5 && memcmp(c->peer_addr.data, "unix:", 5) == 0) {
        a.family = AF_UNIX;
    } else if (!grn_realip_parse(c->peer_addr.data, c->peer_addr.len, &a)) {
        return 0;
    }
    return grn_realip_in(srv->trusted, &a);
}

static void
grn_realip_trim(const char **p, const char **end)
{
    while (*p < *end && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) {
        (*end)--;
    }
}

/*
 * An address as RFC 3986 writes a host and optional port: "192.0.2.43", "192.0.2.43:47011",
 * "2001:db8::17", "[2001:db8::17]" or "[2001:db8::17]:4711". The port, when given, becomes
 * the client's port (as nginx).
 */
static grn_flag_t
grn_realip_node(const char *v, const char *ve, grn_realip_addr_t *a)
{
    const char  *colon, *close;
    grn_int_t    port = 0;

    if (v < ve && *v == '[') {
        close = memchr(v, ']', (size_t) (ve - v));
        if (close == NULL) {
            return 0;
        }
        if (close + 1 < ve) {
            if (close[1] != ':') {
                return 0;
            }
            port = grn_atoi(close + 2, (size_t) (ve - close - 2));
        }
        if (!grn_realip_parse(v + 1, (size_t) (close - v - 1), a) || a->family != AF_INET6) {
            return 0;
        }

    } else {
        /* One colon: IPv4 and a port; more: a bare IPv6 address. */
        colon = memchr(v, ':', (size_t) (ve - v));
        if (colon && memchr(colon + 1, ':', (size_t) (ve - colon - 1)) == NULL) {
            port = grn_atoi(colon + 1, (size_t) (ve - colon - 1));
            if (!grn_realip_parse(v, (size_t) (colon - v), a) || a->family != AF_INET) {
                return 0;
            }
        } else if (!grn_realip_parse(v, (size_t) (ve - v), a)) {
            return 0;
        }
    }

    if (port < 0 || port > 65535) {
        return 0;
    }
    a->port = (grn_uint_t) port;
    return 1;
}

/*
 * The node of one Forwarded element's for= parameter (RFC 7239 6), maybe quoted. "unknown" and
 * obfuscated names ("_hidden") are not addresses.
 */
static grn_flag_t
grn_realip_forwarded_for(const char *p, const char *end, grn_realip_addr_t *a)
{
    const char  *v, *ve;

    /* Pairs are separated by ';'; names are case-insensitive. */
    while (p < end) {
        const char  *semi = memchr(p, ';', (size_t) (end - p));
        const char  *pe = semi ? semi : end;

        grn_realip_trim(&p, &pe);
        if (pe - p > 4 && strncasecmp(p, "for=", 4) == 0) {
            v = p + 4;
            ve = pe;
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            return grn_realip_node(v, ve, a);
        }
        p = semi ? semi + 1 : end;
    }
    return 0;
}

static void
grn_realip_set(grn_http_conn_t *hc, const grn_realip_addr_t *a)
{
    /* remote_addr points at INET6_ADDRSTRLEN bytes of the connection (grn_http_connection.c). */
    if (inet_ntop(a->family, a->addr, hc->c.remote_addr.data, INET6_ADDRSTRLEN) == NULL) {
        return;
    }
    hc->c.remote_addr.len = strlen(hc->c.remote_addr.data);
    hc->c.remote_port = a->port;
    hc->realip = 1;
}

/*
 * X-Forwarded-For and Forwarded: every field line of that name, in order, is one list; it is
 * walked from its right end.
 */
static void
grn_realip_list(grn_http_conn_t *hc, grn_http_request_t *r, grn_http_srv_conf_t *srv)
{
    grn_uint_t          i, seen = 0;
    grn_flag_t          found = 0;
    const char         *p, *end, *comma, *item, *item_end;
    grn_realip_addr_t   a, client;
    grn_http_header_t  *h = r->headers.elts;

    for (i = r->headers.nelts; i-- > 0; ) {
        if (h[i].name.len != srv->real_ip_header_name.len
            || strncasecmp(h[i].name.data, srv->real_ip_header_name.data, h[i].name.len) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        end = p + h[i].value.len;

        while (end > p) {
            comma = memrchr(p, ',', (size_t) (end - p));
            item = comma ? comma + 1 : p;
            item_end = end;
            end = comma ? comma : p;
            grn_realip_trim(&item, &item_end);
            if (item == item_end) {
                continue;                   /* "a,,b": an empty entry is no entry */
            }
            if (++seen > GRN_HTTP_REALIP_MAX_ITEMS) {
                goto done;
            }

            if (srv->real_ip_header == GRN_HTTP_REALIP_FORWARDED
                ? !grn_realip_forwarded_for(item, item_end, &a)
                : !grn_realip_node(item, item_end, &a))
            {
                goto done;
            }
            client = a;
            found = 1;
            if (!srv->real_ip_recursive || !grn_realip_in(srv->trusted, &a)) {
                goto done;
            }
        }
    }

done:

    if (found) {
        grn_realip_set(hc, &client);
    }
}

void
grn_http_realip(grn_http_conn_t *hc, grn_http_request_t *r)
{
    grn_uint_t           i;
    const char          *p, *end;
    grn_realip_addr_t    a;
    grn_http_header_t   *h;
    grn_http_srv_conf_t *srv = r->srv;

    if (srv == NULL || !grn_http_realip_peer_trusted(srv, &hc->c)) {
        return;
    }

    h = r->headers.elts;

    /* The scheme the proxy received the request with; the last field line wins. */
    for (i = r->headers.nelts; i-- > 0; ) {
        if (h[i].name.len == 17 && strncasecmp(h[i].name.data, "X-Forwarded-Proto", 17) == 0) {
            if (h[i].value.len == 5 && strncasecmp(h[i].value.data, "https", 5) == 0) {
                r->https = 1;
            } else if (h[i].value.len == 4 && strncasecmp(h[i].value.data, "http", 4) == 0) {
                r->https = 0;
            }
            break;
        }
    }

    switch (srv->real_ip_header) {

    case GRN_HTTP_REALIP_PROXY_PROTOCOL:
        return;

    case GRN_HTTP_REALIP_X_FORWARDED_FOR:
    case GRN_HTTP_REALIP_FORWARDED:
        grn_realip_list(hc, r, srv);
        return;

    default:
        for (i = r->headers.nelts; i-- > 0; ) {
            if (h[i].name.len == srv->real_ip_header_name.len
                && strncasecmp(h[i].name.data, srv->real_ip_header_name.data, h[i].name.len)
                   == 0)
            {
                p = h[i].value.data;
                end = p + h[i].value.len;
                grn_realip_trim(&p, &end);
                if (grn_realip_node(p, end, &a)) {
                    grn_realip_set(hc, &a);
                }
                return;
            }
        }
    }
}

void
grn_http_realip_reset(grn_http_conn_t *hc)
{
    if (hc->realip) {
        memcpy(hc->c.remote_addr.data, hc->c.peer_addr.data, hc->c.peer_addr.len);
        hc->c.remote_addr.len = hc->c.peer_addr.len;
        hc->c.remote_port = hc->c.peer_port;
        hc->realip = 0;
    }
}

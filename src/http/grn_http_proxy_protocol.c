/*
 * grn_http_proxy_protocol.c: the PROXY protocol header (HAProxy's spec, versions 1 and 2) that
 * a TCP load balancer sends before the client's bytes on a `listen ... proxy_protocol`
 * listener.
 *
 *   v1: "PROXY TCP4 203.0.113.7 192.0.2.1 51234 80\r\n" (text, at most 107 bytes; "TCP6" with
 *       IPv6 addresses; "PROXY UNKNOWN ...\r\n" keeps the socket's address)
 *   v2: a 12-byte signature, version/command, family/transport, a 16-bit length, then the
 *       addresses and optional TLVs (skipped). LOCAL (the balancer's own health check) and
 *       the UNSPEC and unix families keep the socket's address.
 *
 * Every connection on such a listener must start with the header: anything else, a header that
 * does not parse, or one longer than the bounds below closes the connection without an answer
 * (an info line in the error log), since nothing after it can be told apart from the header.
 * The header must arrive within client_header_timeout like the request head it comes before.
 * Once read, the source address is the connection's peer for everything else: REMOTE_ADDR,
 * $remote_addr, the error log, set_real_ip_from checks and the router's forwarding line.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <arpa/inet.h>

#define GRN_PP_V1_MAX        107        /* the spec's longest v1 line, CRLF included */
#define GRN_PP_V2_MAX        1024       /* addresses and TLVs after the 16 fixed bytes */

static const char  grn_pp_v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* The header's source address becomes the connection's peer and client address. */
static void
grn_pp_set(grn_http_conn_t *hc, int family, const void *addr, grn_uint_t port)
{
    if (inet_ntop(family, addr, hc->c.peer_addr.data, INET6_ADDRSTRLEN) == NULL) {
        return;
    }
    hc->c.peer_addr.len = strlen(hc->c.peer_addr.data);
    hc->c.peer_port = port;
    memcpy(hc->c.remote_addr.data, hc->c.peer_addr.data, hc->c.peer_addr.len + 1);
    hc->c.remote_addr.len = hc->c.peer_addr.len;
    hc->c.remote_port = port;
}

/* A decimal port of 1 to 5 digits without a sign or leading zero ("0" itself is allowed). */
static grn_int_t
grn_pp_port(const char *p, size_t len)
{
    if (len == 0 || len > 5 || (len > 1 && p[0] == '0')) {
        return -1;
    }
    return grn_atoi(p, len);
}

static grn_int_t
grn_pp_v1(grn_http_conn_t *hc, const char *p, size_t avail, const char **reason)
{
    int            family;
    char           text[INET6_ADDRSTRLEN];
    const char    *eol, *end, *field[5];
    size_t         flen[5];
    grn_int_t      sport, dport;
    grn_uint_t     i;
    unsigned char  src[16], dst[16];

    eol = memchr(p, '\n', grn_min(avail, GRN_PP_V1_MAX));
    if (eol == NULL) {
        if (avail >= GRN_PP_V1_MAX) {
            *reason = "a v1 line longer than 107 bytes";
            return GRN_ERROR;
        }
        return GRN_AGAIN;
    }
    if (eol == p || eol[-1] != '\r') {
        *reason = "a v1 line not ended by CRLF";
        return GRN_ERROR;
    }
    end = eol - 1;
    p += 6;                                     /* "PROXY " */

    if (end - p >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (end - p == 7 || p[7] == ' ')) {
        hc->parsed += (size_t) (eol + 1 - (hc->buf + hc->parsed));
        return GRN_OK;
    }

    /* Exactly five fields separated by single spaces: proto src dst sport dport. */
    for (i = 0; i < 5; i++) {
        const char  *sp = (i < 4) ? memchr(p, ' ', (size_t) (end - p)) : NULL;
        const char  *fe = (i < 4) ? sp : end;

        if (fe == NULL || fe == p || (i == 4 && memchr(p, ' ', (size_t) (end - p)) != NULL)) {
            *reason = "a v1 line without its five fields";
            return GRN_ERROR;
        }
        field[i] = p;
        flen[i] = (size_t) (fe - p);
        p = fe + 1;
    }

    if (flen[0] == 4 && memcmp(field[0], "TCP4", 4) == 0) {
        family = AF_INET;
    } else if (flen[0] == 4 && memcmp(field[0], "TCP6", 4) == 0) {
        family = AF_INET6;
    } else {
        *reason = "a v1 line with an unknown protocol";
        return GRN_ERROR;
    }

    for (i = 1; i <= 2; i++) {
        if (flen[i] >= sizeof(text)) {
            *reason = "a v1 line with an invalid address";
            return GRN_ERROR;
        }
        memcpy(text, field[i], flen[i]);
        text[flen[i]] = '\0';
        if (inet_pton(family, text, i == 1 ? src : dst) != 1) {
            *reason = "a v1 line with an invalid address";
            return GRN_ERROR;
        }
    }

    sport = grn_pp_port(field[3], flen[3]);
    dport = grn_pp_port(field[4], flen[4]);
    if (sport < 0 || sport > 65535 || dport < 0 || dport > 65535) {
        *reason = "a v1 line with an invalid port";
        return GRN_ERROR;
    }

    grn_pp_set(hc, family, src, (grn_uint_t) sport);
    hc->parsed += (size_t) (eol + 1 - (hc->buf + hc->parsed));
    return GRN_OK;
}

static grn_int_t
grn_pp_v2(grn_http_conn_t *hc, const unsigned char *p, size_t avail, const char **reason)
{
    size_t      len;
    grn_uint_t  command, family;

    if (avail < 16) {
        return GRN_AGAIN;
    }
    if ((p[12] & 0xf0) != 0x20) {
        *reason = "a v2 header of another version";
        return GRN_ERROR;
    }
    command = p[12] & 0x0f;
    if (command > 1) {
        *reason = "a v2 header with an unknown command";
        return GRN_ERROR;
    }
    family = p[13] >> 4;
    len = (size_t) p[14] << 8 | p[15];
    if (len > GRN_PP_V2_MAX) {
        *reason = "a v2 header longer than 1024 bytes";
        return GRN_ERROR;
    }
    if (avail < 16 + len) {
        return GRN_AGAIN;
    }

    /* LOCAL: the balancer speaking for itself; UNSPEC and unix: no address to take. */
    if (command == 1) {
        if (family == 1) {
            if (len < 12) {
                *reason = "a v2 header too short for IPv4 addresses";
                return GRN_ERROR;
            }
            grn_pp_set(hc, AF_INET, p + 16, (grn_uint_t) p[24] << 8 | p[25]);

        } else if (family == 2) {
            if (len < 36) {
                *reason = "a v2 header too short for IPv6 addresses";
                return GRN_ERROR;
            }
            grn_pp_set(hc, AF_INET6, p + 16, (grn_uint_t) p[48] << 8 | p[49]);

        } else if (family > 3) {
            *reason = "a v2 header with an unknown address family";
            return GRN_ERROR;
        }
    }

    hc->parsed += 16 + len;
    return GRN_OK;
}

grn_int_t
grn_http_proxy_protocol_read(grn_http_conn_t *hc)
{
    grn_int_t    rc;
    const char  *p = hc->buf + hc->parsed, *reason = NULL;
    size_t       avail = hc->buf_len - hc->parsed, n;

    /* Which version, told from as many bytes as have arrived. */
    n = grn_min(avail, 6);
    if (memcmp(p, "PROXY ", n) == 0) {
        if (avail < 6) {
            return GRN_AGAIN;
        }
        rc = grn_pp_v1(hc, p, avail, &reason);

    } else {
        n = grn_min(avail, sizeof(grn_pp_v2_sig));
        if (memcmp(p, grn_pp_v2_sig, n) != 0) {
            grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client sent no PROXY protocol header on "
                              "%.*s, which expects one; closing the connection",
                              (int) hc->c.listening->addr_text.len,
                              hc->c.listening->addr_text.data);
            return GRN_ERROR;
        }
        rc = grn_pp_v2(hc, (const unsigned char *) p, avail, &reason);
    }

    if (rc == GRN_ERROR) {
        grn_http_conn_log(GRN_LOG_INFO, hc, 0, "client sent a broken PROXY protocol header "
                          "(%s); closing the connection", reason);
    }
    return rc;
}

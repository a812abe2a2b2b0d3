/*
 * grn_http_access.c: `allow` and `deny`, access by client address.
 *
 * The rules of a level are checked in the order written and the first that matches decides;
 * a client no rule matches is let in. As with nginx's access module, a level without rules of
 * its own takes its parent's whole list (location, then server, then http), and a level with
 * any rule replaces the parent's list rather than adding to it. A denied request gets 403
 * before its location's action runs, so the rules hold for `pass`, `return`, static files and
 * the status page alike. The address is the client's: the peer of the connection, or the one
 * a PROXY header or a trusted peer's real_ip_header named, or on an app's internal socket the
 * client the router forwarded for.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <arpa/inet.h>

typedef struct {
    int                    family;        /* AF_INET, AF_INET6, AF_UNIX ("unix:"), 0 ("all") */
    unsigned char          addr[16];
    grn_uint_t             bits;
    grn_flag_t             deny;
} grn_http_access_rule_t;

static char *grn_http_access_rule(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

const grn_command_t grn_http_access_commands[] = {

    { grn_string("allow"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_LOC_CONF | GRN_CONF_TAKE1,
      grn_http_access_rule, GRN_CONF_CTX_LOC, 0, NULL },

    { grn_string("deny"), GRN_HTTP_CONF | GRN_SRV_CONF | GRN_LOC_CONF | GRN_CONF_TAKE1,
      grn_http_access_rule, GRN_CONF_CTX_LOC, 0, NULL },

    grn_null_command
};

static char *
grn_http_access_rule(grn_conf_t *cf, const grn_command_t *cmd GRN_UNUSED, void *conf)
{
    char                    buf[INET6_ADDRSTRLEN + 1], *slash;
    size_t                  len;
    grn_int_t               bits;
    grn_str_t              *value = cf->args->elts;
    grn_http_loc_conf_t    *loc = conf;
    grn_http_access_rule_t *rule;

    if (loc->access == NULL || loc->access == GRN_CONF_UNSET_PTR) {
        loc->access = grn_array_create(cf->pool, 4, sizeof(grn_http_access_rule_t));
        if (loc->access == NULL) {
            return GRN_CONF_ERROR;
        }
    }
    rule = grn_array_push(loc->access);
    if (rule == NULL) {
        return GRN_CONF_ERROR;
    }
    memset(rule, 0, sizeof(*rule));
    rule->deny = value[0].data[0] == 'd';

    if (grn_str_eq_lit(&value[1], "all")) {
        return GRN_CONF_OK;
    }
    if (grn_str_eq_lit(&value[1], "unix:")) {
        rule->family = AF_UNIX;
        return GRN_CONF_OK;
    }

    slash = memchr(value[1].data, '/', value[1].len);
    len = slash ? (size_t) (slash - value[1].data) : value[1].len;
    if (len >= sizeof(buf)) {
        goto invalid;
    }
    memcpy(buf, value[1].data, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, buf, rule->addr) == 1) {
        rule->family = AF_INET;
        rule->bits = 32;
    } else if (inet_pton(AF_INET6, buf, rule->addr) == 1) {
        rule->family = AF_INET6;
        rule->bits = 128;
    } else {
        goto invalid;
    }

    if (slash) {
        bits = grn_atoi(slash + 1, value[1].data + value[1].len - slash - 1);
        if (bits < 0 || bits > (grn_int_t) rule->bits) {
            goto invalid;
        }
        rule->bits = (grn_uint_t) bits;
    }
    return GRN_CONF_OK;

invalid:

    grn_conf_log_error(GRN_LOG_EMERG, cf, 0, "invalid value \"%.*s\" in \"%.*s\" directive, it "
                       "must be an address, a CIDR (10.0.0.0/8, 2001:db8::/32), \"unix:\" or "
                       "\"all\"", (int) value[1].len, value[1].data, (int) value[0].len,
                       value[0].data);
    return GRN_CONF_ERROR;
}

/* The first `bits` bits of a and b are equal. */
static grn_flag_t
grn_http_access_prefix_eq(const unsigned char *a, const unsigned char *b, grn_uint_t bits)
{
    grn_uint_t  whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0) {
        return 0;
    }
    return rest == 0 || ((a[whole] ^ b[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

grn_flag_t
grn_http_access_denied(grn_http_request_t *r, grn_http_loc_conf_t *loc)
{
    int                      family;
    char                     text[INET6_ADDRSTRLEN];
    grn_str_t               *addr = &r->connection->remote_addr;
    grn_uint_t               i;
    unsigned char            bin[16];
    grn_http_access_rule_t  *rule;

    if (loc->access == NULL) {
        return 0;
    }

    /* Text to binary once per request, only where rules exist: the address is kept as text. */
    family = AF_UNIX;
    if (addr->len && addr->len < sizeof(text)) {
        memcpy(text, addr->data, addr->len);
        text[addr->len] = '\0';
        if (inet_pton(AF_INET, text, bin) == 1) {
            family = AF_INET;
        } else if (inet_pton(AF_INET6, text, bin) == 1) {
            family = AF_INET6;
            if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *) bin)) {
                /* An IPv4 client on a dual-stack socket: IPv4 rules apply to it. */
                memmove(bin, bin + 12, 4);
                family = AF_INET;
            }
        }
    }

    rule = loc->access->elts;
    for (i = 0; i < loc->access->nelts; i++) {
        if (rule[i].family == 0
            || (rule[i].family == family
                && (family == AF_UNIX
                    || grn_http_access_prefix_eq(rule[i].addr, bin, rule[i].bits))))
        {
            if (rule[i].deny) {
                grn_http_conn_log(GRN_LOG_ERR, r->connection->data, 0,
                                  "access forbidden by rule");
            }
            return rule[i].deny;
        }
    }
    return 0;
}

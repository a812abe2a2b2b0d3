/*
 * grn_http_route.c: which server and which location handle a request, and running the
 * location's action.
 *
 * Server selection follows nginx: exact name, longest leading wildcard ("*.example.com"),
 * longest trailing wildcard ("www.example.*"), first matching regex, then the default server
 * of the address. Location selection follows nginx too: an exact "=" match wins at once;
 * otherwise the longest prefix is remembered and its nested locations are searched; an exact
 * or regex match among them decides, else, unless the prefix is "^~", the regexes are tried in
 * order of appearance before falling back to the prefix the nested search ended on.
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_http_proxy.h"
#include "grn_py.h"
#include "grn_scoreboard.h"

#define GRN_HTTP_MAX_REDIRECTS  10

/*
 * PCRE2 allocates match data through this context from the request's pool: a match costs no
 * malloc, and its captures live as long as the request that uses them.
 */
static void *
grn_http_pcre2_alloc(PCRE2_SIZE size, void *data)
{
    return grn_palloc(data, size);
}

static void
grn_http_pcre2_free(void *p GRN_UNUSED, void *data GRN_UNUSED)
{
}

/* Up to 31 pairs are kept: $1..$9 and named captures among the first 31 groups. */
#define GRN_HTTP_CAPTURE_PAIRS  32

static grn_flag_t
grn_http_regex_match(grn_http_request_t *r, grn_http_captures_t *caps, pcre2_code *re,
    const char *data, size_t len)
{
    int                      rc;
    pcre2_general_context   *gc;

    if (caps->md == NULL) {
        gc = pcre2_general_context_create(grn_http_pcre2_alloc, grn_http_pcre2_free, r->pool);
        if (gc == NULL) {
            return 0;
        }
        caps->md = pcre2_match_data_create(GRN_HTTP_CAPTURE_PAIRS, gc);
        if (caps->md == NULL) {
            return 0;
        }
    }
    rc = pcre2_match(re, (PCRE2_SPTR) data, len, 0, 0, caps->md, NULL);
    if (rc < 0) {
        return 0;
    }
    caps->re = re;
    caps->subject = data;
    caps->rc = rc ? rc : GRN_HTTP_CAPTURE_PAIRS;
    return 1;
}

grn_http_srv_conf_t *
grn_http_find_server(grn_http_request_t *r, grn_http_addr_t *addr, grn_str_t *host)
{
    char                     name[256];
    size_t                   len, i, j, best_len;
    grn_http_srv_conf_t    **srv, *best;
    grn_http_server_name_t  *sn;

    if (host->len == 0) {
        return addr->default_server;
    }
    if (addr->servers.nelts == 1) {
        /* one server: only a regex name can still matter, for its captures */
        srv = addr->servers.elts;
        sn = srv[0]->names.elts;
        for (j = 0; j < srv[0]->names.nelts && sn[j].regex == NULL; j++) { /* void */ }
        if (j == srv[0]->names.nelts) {
            return addr->default_server;
        }
    }

    /* Lower-case, without port and trailing dot. */
    len = 0;
    if (host->data[0] == '[') {
        char  *close = memchr(host->data, ']', host->len);

        len = close ? (size_t) (close + 1 - host->data) : host->len;
    } else {
        char  *colon = memchr(host->data, ':', host->len);

        len = colon ? (size_t) (colon - host->data) : host->len;
    }
    if (len && host->data[len - 1] == '.') {
        len--;
    }
    if (len == 0 || len >= sizeof(name)) {
        return addr->default_server;
    }
    for (i = 0; i < len; i++) {
        char  ch = host->data[i];

        name[i] = (ch >= 'A' && ch <= 'Z') ? (char) (ch | 0x20) : ch;
    }
    name[len] = '\0';

    srv = addr->servers.elts;

    for (i = 0; i < addr->servers.nelts; i++) {
        sn = srv[i]->names.elts;
        for (j = 0; j < srv[i]->names.nelts; j++) {
            if (sn[j].regex == NULL && sn[j].name.len == len
                && memcmp(sn[j].name.data, name, len) == 0)
            {
                return srv[i];
            }
        }
    }

    best = NULL;
    best_len = 0;
    for (i = 0; i < addr->servers.nelts; i++) {
        sn = srv[i]->names.elts;
        for (j = 0; j < srv[i]->names.nelts; j++) {
            grn_str_t  *n = &sn[j].name;

            if (sn[j].regex || n->len < 2 || n->len - 1 > len || n->len <= best_len) {
                continue;
            }
            /* "*.example.com" matches "www.example.com"; ".example.com" also the bare name */
            if (n->data[0] == '*' && n->data[1] == '.'
                && memcmp(name + len - (n->len - 1), n->data + 1, n->len - 1) == 0)
            {
                best = srv[i];
                best_len = n->len;
            } else if (n->data[0] == '.'
                       && ((len == n->len - 1 && memcmp(name, n->data + 1, len) == 0)
                           || (len > n->len - 1
                               && memcmp(name + len - n->len, n->data, n->len) == 0)))
            {
                best = srv[i];
                best_len = n->len;
            }
        }
    }
    if (best) {
        return best;
    }

    for (i = 0; i < addr->servers.nelts; i++) {
        sn = srv[i]->names.elts;
        for (j = 0; j < srv[i]->names.nelts; j++) {
            grn_str_t  *n = &sn[j].name;

            if (sn[j].regex == NULL && n->len > 2 && n->len - 1 <= len
                && n->data[n->len - 1] == '*' && n->data[n->len - 2] == '.'
                && n->len > best_len && memcmp(name, n->data, n->len - 1) == 0)
            {
                best = srv[i];
                best_len = n->len;
            }
        }
    }
    if (best) {
        return best;
    }

    for (i = 0; i < addr->servers.nelts; i++) {
        sn = srv[i]->names.elts;
        for (j = 0; j < srv[i]->names.nelts; j++) {
            if (sn[j].regex
                && grn_http_regex_match(r, &r->srv_captures, sn[j].regex, name, len))
            {
                /* the captures point into the subject: keep it past this stack frame */
                if (r->srv_captures.rc > 1) {
                    char  *copy = grn_pnalloc(r->pool, len);

                    if (copy == NULL) {
                        r->srv_captures.re = NULL;
                        return srv[i];
                    }
                    memcpy(copy, name, len);
                    r->srv_captures.subject = copy;
                }
                return srv[i];
            }
        }
    }

    return addr->default_server;
}

/*
 * One level of the location search, as nginx's ngx_http_core_find_location(). GRN_OK: an
 * exact or a regex location matched, here or below, and the search is over. GRN_AGAIN: only
 * a prefix did (*found is the longest one, or the prefix its nested search ended on).
 * GRN_DECLINED: nothing did. A search that ends on a prefix leaves the level above to try its
 * regexes, unless that level's own prefix match is "^~": a nested "^~" skips only the regexes
 * nested beside it. A matching regex location's nested locations are searched too.
 */
static grn_int_t
grn_http_find_in(grn_http_request_t *r, grn_array_t *locations, grn_str_t *path,
    grn_http_loc_conf_t **found)
{
    grn_int_t              rc;
    grn_uint_t             i;
    grn_http_loc_conf_t  **loc, *best;

    loc = locations->elts;
    best = NULL;

    for (i = 0; i < locations->nelts; i++) {
        grn_str_t  *name = &loc[i]->name;

        switch (loc[i]->match) {
        case GRN_HTTP_LOC_EXACT:
            if (grn_str_eq(name, path)) {
                *found = loc[i];
                return GRN_OK;
            }
            break;

        case GRN_HTTP_LOC_PREFIX:
        case GRN_HTTP_LOC_PREFIX_NOREGEX:
            if (name->len <= path->len && memcmp(name->data, path->data, name->len) == 0
                && (best == NULL || name->len > best->name.len))
            {
                best = loc[i];
            }
            break;
        }
    }

    rc = GRN_DECLINED;

    if (best) {
        *found = best;
        rc = GRN_AGAIN;
        if (best->locations.nelts
            && grn_http_find_in(r, &best->locations, path, found) == GRN_OK)
        {
            return GRN_OK;
        }
        if (best->match == GRN_HTTP_LOC_PREFIX_NOREGEX) {
            return GRN_AGAIN;
        }
    }

    for (i = 0; i < locations->nelts; i++) {
        if ((loc[i]->match == GRN_HTTP_LOC_REGEX || loc[i]->match == GRN_HTTP_LOC_REGEX_CASELESS)
            && grn_http_regex_match(r, &r->loc_captures, loc[i]->regex, path->data, path->len))
        {
            *found = loc[i];
            if (loc[i]->locations.nelts) {
                (void) grn_http_find_in(r, &loc[i]->locations, path, found);
            }
            return GRN_OK;
        }
    }

    return rc;
}

grn_http_loc_conf_t *
grn_http_find_location(grn_http_request_t *r, grn_http_srv_conf_t *srv, grn_str_t *path)
{
    grn_http_loc_conf_t  *found = NULL;

    r->loc_captures.re = NULL;      /* a new search: an earlier location's captures go */
    (void) grn_http_find_in(r, &srv->locations, path, &found);
    return found;
}

/*
 * A capture for $N (name == NULL) or $name: the location regex's first, then the server
 * name's, as a request has at most one of each. len 0 when there is none.
 */
void
grn_http_capture(grn_http_request_t *r, grn_uint_t n, const grn_str_t *name, grn_str_t *value)
{
    int                   k;
    grn_uint_t            i, group;
    PCRE2_SIZE           *ov;
    grn_http_captures_t  *caps[2] = { &r->loc_captures, &r->srv_captures };
    char                  cname[64];

    value->len = 0;
    value->data = NULL;

    if (name) {
        if (name->len >= sizeof(cname)) {
            return;
        }
        memcpy(cname, name->data, name->len);
        cname[name->len] = '\0';
    }

    for (i = 0; i < 2; i++) {
        if (caps[i]->re == NULL) {
            continue;
        }
        group = n;
        if (name) {
            k = pcre2_substring_number_from_name(caps[i]->re, (PCRE2_SPTR) cname);
            if (k < 0) {
                continue;
            }
            group = (grn_uint_t) k;
        }
        if (group >= (grn_uint_t) caps[i]->rc) {
            if (name) {
                continue;               /* a named group that did not take part */
            }
            return;
        }
        ov = pcre2_get_ovector_pointer(caps[i]->md);
        if (ov[2 * group] == PCRE2_UNSET) {
            return;
        }
        value->data = (char *) caps[i]->subject + ov[2 * group];
        value->len = ov[2 * group + 1] - ov[2 * group];
        return;
    }
}

static grn_int_t
grn_http_return(grn_http_request_t *r)
{
    grn_uint_t            code;
    grn_str_t             text;
    grn_http_loc_conf_t  *loc = r->loc;

    code = (grn_uint_t) loc->return_code;
    text = loc->return_text;
    if (loc->return_vars && grn_http_vars_render(r, loc->return_vars, &text) != GRN_OK) {
        return GRN_ERROR;
    }

    if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
        if (grn_http_error_page(r, code) != GRN_OK) {
            return GRN_ERROR;
        }
        if (text.len) {
            return grn_http_response_add_header(r, "Location", 8, text.data, text.len);
        }
        return GRN_OK;
    }

    if (loc->return_text.data == NULL) {
        if (code >= 400) {
            return grn_http_error_page(r, code);
        }
        return grn_http_response_set_status(r, code, NULL, 0);
    }

    if (grn_http_response_set_status(r, code, NULL, 0) != GRN_OK
        || grn_http_response_add_header(r, "Content-Type", 12, loc->default_type.data,
                                        loc->default_type.len) != GRN_OK)
    {
        return GRN_ERROR;
    }
    return grn_http_response_append(r, text.data, text.len);
}

/*
 * Runs the location's action. try_files, index files and a path that normalizes to another
 * location end in an internal redirect: r->loc changes and the loop runs the new one, at most
 * GRN_HTTP_MAX_REDIRECTS times (nginx's limit), so a cycle of redirects is a 500, not a hang.
 */
void
grn_http_handle_request(grn_http_conn_t *hc)
{
    grn_int_t             rc;
    grn_uint_t            action, redirects;
    grn_http_request_t   *r = hc->r;
    grn_http_loc_conf_t  *loc;

    for (redirects = 0; ; redirects++) {
        loc = r->loc;

        if (loc) {
            action = loc->action;
        } else if (r->srv->loc->root.data) {
            /* no location matched: a server-level root serves it, as in nginx */
            loc = r->srv->loc;
            action = GRN_HTTP_ACTION_STATIC;
        } else {
            action = GRN_HTTP_ACTION_NONE;
        }

        /* allow/deny first, for every action (the server's rules when no location matched) */
        if ((loc ? loc : r->srv->loc)->access
            && grn_http_access_denied(r, loc ? loc : r->srv->loc))
        {
            rc = grn_http_error_page(r, 403);
            break;
        }

        switch (action) {

        case GRN_HTTP_ACTION_PASS:
            if (hc->worker->group->app == NULL) {
                /* The router: the app's workers answer over its internal socket. */
                rc = grn_http_proxy_start(hc);
                if (rc == GRN_AGAIN) {
                    return;
                }
                break;
            }
            if (loc->app != hc->worker->group->app) {
                grn_http_conn_log(GRN_LOG_ERR, hc, 0,
                                  "location \"%.*s\" passes to app \"%.*s\", which this "
                                  "listener's workers do not run", (int) loc->name.len,
                                  loc->name.data, (int) loc->app->name.len,
                                  loc->app->name.data);
                rc = grn_http_error_page(r, 502);
                break;
            }
            grn_sb_busy(grn_log_tid, hc->worker->loop->now);
            rc = grn_py_call(r);
            grn_sb_idle(grn_log_tid);
            if (rc == GRN_AGAIN) {
                rc = GRN_OK;                      /* a streaming response: it has begun */
            } else if (rc != GRN_OK) {
                /* A client that failed to send the body it announced gets its 4xx, not a 500. */
                rc = grn_http_error_page(r, hc->body.error ? hc->body.error : 500);
            }
            break;

        case GRN_HTTP_ACTION_RETURN:
            rc = grn_http_return(r);
            break;

        case GRN_HTTP_ACTION_STATIC:
            rc = grn_http_static_handler(r, loc);
            if (rc == GRN_DECLINED) {
                if (redirects < GRN_HTTP_MAX_REDIRECTS) {
                    continue;
                }
                grn_http_conn_log(GRN_LOG_ERR, hc, 0,
                                  "a cycle of internal redirects (try_files, index) while "
                                  "serving \"%.*s\"", (int) r->uri.len, r->uri.data);
                rc = grn_http_error_page(r, 500);
            }
            break;

        case GRN_HTTP_ACTION_STATUS:
            rc = grn_http_status_handler(r, loc);
            break;

        default:
            rc = grn_http_error_page(r, 404);
            break;
        }
        break;
    }

    if (rc != GRN_OK) {
        (void) grn_http_error_page(r, 500);
    }
}

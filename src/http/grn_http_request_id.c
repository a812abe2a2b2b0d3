/*
 * grn_http_request_id.c: $request_id, one id per request shared by the access log, the error
 * log, the app (environ REQUEST_ID) and the client (add_request_id_header), and the $connection
 * counter.
 *
 * An id is 32 hex digits (128 random bits), as nginx's $request_id. It is made the first time
 * something asks for it, from a per-thread xoshiro256** generator seeded once from getrandom():
 * no syscall and no lock per request. The ids are not secrets (they go to logs and clients), so
 * a fast statistical generator is enough; seeding every thread from the kernel keeps workers and
 * threads from repeating each other's sequences.
 *
 * With `request_id_header NAME`, an id sent in that header by a trusted peer (an address in
 * set_real_ip_from, the same trust as for the client address) is used instead, so one id
 * follows a request from a proxy in front of greenc into its logs. From any other peer the
 * header is only a header: it reaches the app as HTTP_*, and the request gets an id of its own.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <sys/mman.h>
#include <sys/random.h>

#define GRN_HTTP_REQUEST_ID_MAX  128     /* longest id taken from a trusted peer */

/*
 * Seeded at a thread's first id. The master never makes ids, so a worker forked from it never
 * inherits a seeded state: each worker thread seeds its own.
 */
static __thread uint64_t  grn_rid_state[4];
static __thread int       grn_rid_seeded;

static uint64_t
grn_rid_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64: spreads a weak seed (the fallback below) over the whole state. */
static uint64_t
grn_rid_splitmix(uint64_t *x)
{
    uint64_t  z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
grn_rid_seed(void)
{
    uint64_t         x;
    grn_uint_t       i;
    struct timespec  ts;

    if (getrandom(grn_rid_state, sizeof(grn_rid_state), 0) != sizeof(grn_rid_state)) {
        /* No getrandom (very old kernel, seccomp): time, pid and this thread's address. */
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) getpid()
            ^ (uint64_t) (uintptr_t) &grn_rid_seeded;
        for (i = 0; i < 4; i++) {
            grn_rid_state[i] = grn_rid_splitmix(&x);
        }
    }
    if ((grn_rid_state[0] | grn_rid_state[1] | grn_rid_state[2] | grn_rid_state[3]) == 0) {
        grn_rid_state[0] = 1;                   /* the one state xoshiro cannot leave */
    }
    grn_rid_seeded = 1;
}

/* xoshiro256** */
static uint64_t
grn_rid_next(void)
{
    uint64_t   *s = grn_rid_state;
    uint64_t    result, t;

    result = grn_rid_rotl(s[1] * 5, 7) * 9;
    t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = grn_rid_rotl(s[3], 45);
    return result;
}

/* "00" to "ff": the two hex digits of each byte value. */
static const char  grn_rid_hex[] =
    "000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f"
    "303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f"
    "505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f"
    "707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f"
    "909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* What an id from a peer may look like: it goes into logs and a response header unescaped. */
static grn_flag_t
grn_rid_valid(const grn_str_t *v)
{
    size_t  i;

    if (v->len == 0 || v->len > GRN_HTTP_REQUEST_ID_MAX) {
        return 0;
    }
    for (i = 0; i < v->len; i++) {
        unsigned char  ch = (unsigned char) v->data[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || strchr("-_.:/+=@", ch) != NULL) || ch == '\0')
        {
            return 0;
        }
    }
    return 1;
}

grn_str_t *
grn_http_request_id(grn_http_request_t *r)
{
    char                  *p;
    uint64_t               a, b;
    grn_uint_t             i, k;
    grn_http_conn_t       *hc = r->connection->data;
    grn_http_header_t     *h;
    grn_http_main_conf_t  *hmcf = hc->worker->cycle->http;

    if (r->request_id.len) {
        return &r->request_id;
    }

    if (hmcf && hmcf->request_id_header.len) {
        h = r->headers.elts;
        for (i = 0; i < r->headers.nelts; i++) {
            if (h[i].name.len == hmcf->request_id_header.len
                && strncasecmp(h[i].name.data, hmcf->request_id_header.data, h[i].name.len)
                   == 0)
            {
                if (grn_rid_valid(&h[i].value)
                    && grn_http_realip_peer_trusted(r->srv ? r->srv : hmcf->srv, r->connection))
                {
                    r->request_id = h[i].value;
                    return &r->request_id;
                }
                break;
            }
        }
    }

    p = grn_pnalloc(r->pool, 32);
    if (p == NULL) {
        return &r->request_id;                  /* empty: logged as "-" */
    }

    if (!grn_rid_seeded) {
        grn_rid_seed();
    }
    a = grn_rid_next();
    b = grn_rid_next();
    for (k = 0; k < 8; k++) {               /* a byte, two digits, at a time */
        memcpy(p + 2 * k, grn_rid_hex + 2 * ((a >> (56 - 8 * k)) & 0xff), 2);
        memcpy(p + 16 + 2 * k, grn_rid_hex + 2 * ((b >> (56 - 8 * k)) & 0xff), 2);
    }
    r->request_id.data = p;
    r->request_id.len = 32;
    return &r->request_id;
}


/*
 * $connection: nginx numbers connections across all its workers, so this counter lives in a
 * page shared by every process forked from the master. It is mapped once per master and kept
 * across reloads (numbers keep growing); a binary upgrade starts a new count.
 */
static uint64_t   *grn_http_conn_counter;
static uint64_t    grn_http_conn_counter_local;

grn_uint_t
grn_http_next_connection_number(void)
{
    return (grn_uint_t) __atomic_add_fetch(grn_http_conn_counter ? grn_http_conn_counter
                                                                 : &grn_http_conn_counter_local,
                                           1, __ATOMIC_RELAXED);
}

grn_int_t
grn_http_request_id_conf(grn_conf_t *cf, grn_http_main_conf_t *hmcf GRN_UNUSED)
{
    void  *page;

    if (grn_http_conn_counter == NULL) {
        page = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
        if (page == MAP_FAILED) {
            /* Numbers are then unique per worker only; not worth refusing to start for. */
            grn_log_error(GRN_LOG_WARN, cf->log, errno, "mmap() of the connection counter "
                          "failed");
        } else {
            grn_http_conn_counter = page;
        }
    }
    return GRN_OK;
}

/*
 * grn_string.c: counted-string helpers and the parsers of the config language's value kinds.
 *
 * Sizes ("8k") and times ("1h 30m") are parsed here rather than in the config parser so that
 * anything else that reads such values (the command line, tests) gets the same rules and the
 * same overflow checks.
 */

#include "grn_core.h"

#define GRN_OFF_T_MAX   ((off_t) (((uint64_t) 1 << (sizeof(off_t) * 8 - 1)) - 1))
#define GRN_MSEC_MAX    INT64_MAX


char *
grn_pstrdup(grn_pool_t *pool, const grn_str_t *src)
{
    char  *dst;

    dst = grn_pnalloc(pool, src->len + 1);
    if (dst == NULL) {
        return NULL;
    }

    if (src->len) {
        memcpy(dst, src->data, src->len);
    }

    dst[src->len] = '\0';

    return dst;
}


grn_int_t
grn_atoi(const char *data, size_t len)
{
    grn_int_t  value, digit;

    if (len == 0) {
        return -1;
    }

    value = 0;

    for ( /* void */ ; len; len--, data++) {
        if (*data < '0' || *data > '9') {
            return -1;
        }

        digit = *data - '0';

        if (value > (INTPTR_MAX - digit) / 10) {
            return -1;
        }

        value = value * 10 + digit;
    }

    return value;
}


off_t
grn_parse_size(const grn_str_t *value)
{
    size_t     len;
    off_t      scale;
    grn_int_t  n;

    len = value->len;

    if (len == 0) {
        return -1;
    }

    switch (value->data[len - 1]) {
    case 'k':
    case 'K':
        scale = 1024;
        len--;
        break;

    case 'm':
    case 'M':
        scale = 1024 * 1024;
        len--;
        break;

    case 'g':
    case 'G':
        scale = 1024 * 1024 * 1024;
        len--;
        break;

    default:
        scale = 1;
    }

    n = grn_atoi(value->data, len);
    if (n == -1) {
        return -1;
    }

    if ((uint64_t) n > (uint64_t) (GRN_OFF_T_MAX / scale)) {
        return -1;
    }

    return (off_t) n * scale;
}


/*
 * Units must come in decreasing order ("1h 30m", not "30m 1h") and each at most once, as
 * nginx requires: it catches typos such as "1m 1m" that a plain sum would hide.
 */
grn_msec_t
grn_parse_time(const grn_str_t *value)
{
    char        *p, *end;
    int          step, rank;
    int64_t      n, scale, total;
    grn_uint_t   digits;

    p = value->data;
    end = p + value->len;

    total = 0;
    step = 0;        /* the rank of the last unit seen; ranks grow as units get smaller */
    digits = 0;

    while (p < end && *p == ' ') {
        p++;
    }

    if (p == end) {
        return -1;
    }

    while (p < end) {
        n = 0;
        digits = 0;

        while (p < end && *p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - (*p - '0')) / 10) {
                return -1;
            }

            n = n * 10 + (*p - '0');
            p++;
            digits++;
        }

        if (digits == 0) {
            return -1;
        }

        if (p == end || *p == ' ') {
            /* a bare number means seconds */
            rank = 7;
            scale = 1000;

        } else {
            switch (*p) {
            case 'y':
                rank = 1;
                scale = 365LL * 24 * 60 * 60 * 1000;
                break;
            case 'M':
                rank = 2;
                scale = 30LL * 24 * 60 * 60 * 1000;
                break;
            case 'w':
                rank = 3;
                scale = 7LL * 24 * 60 * 60 * 1000;
                break;
            case 'd':
                rank = 4;
                scale = 24LL * 60 * 60 * 1000;
                break;
            case 'h':
                rank = 5;
                scale = 60LL * 60 * 1000;
                break;
            case 'm':
                if (p + 1 < end && p[1] == 's') {
                    rank = 8;
                    scale = 1;
                    p++;
                    break;
                }
                rank = 6;
                scale = 60LL * 1000;
                break;
            case 's':
                rank = 7;
                scale = 1000;
                break;
            default:
                return -1;
            }

            p++;
        }

        if (rank <= step) {
            return -1;
        }

        step = rank;

        if (n > (GRN_MSEC_MAX - total) / scale) {
            return -1;
        }

        total += n * scale;

        while (p < end && *p == ' ') {
            p++;
        }
    }

    return total;
}


void
grn_strlow(char *data, size_t len)
{
    for ( /* void */ ; len; len--, data++) {
        if (*data >= 'A' && *data <= 'Z') {
            *data = (char) (*data | 0x20);
        }
    }
}


uint64_t
grn_hash_name(const char *data, size_t len)
{
    uint64_t  h = 0xcbf29ce484222325ULL;

    while (len--) {
        h ^= (unsigned char) *data++;
        h *= 0x100000001b3ULL;
    }
    return h ? h : 1;
}

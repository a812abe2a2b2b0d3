/*
 * grn_http_cond.c: the pieces of HTTP that validators and ranges are made of: HTTP dates
 * (RFC 9110 5.6.7), entity-tag lists (8.8.3, 13.1.1-2) and a byte range (14.1-2).
 *
 * Static files use them for ETag/Last-Modified, the conditional headers and Range; they are
 * plain parsers over counted strings, without allocation, so unit tests can drive them.
 */

#include "grn_core.h"
#include "grn_http.h"

#include <ctype.h>

#define GRN_HTTP_COND_OFF_MAX  ((off_t) INT64_MAX)

/*
 * Whether an If-Match or If-None-Match list ("*", or entity tags separated by commas) holds
 * etag. With weak, W/"x" matches "x" (If-None-Match); without, weak tags never match.
 */
grn_flag_t
grn_http_etag_match(const grn_str_t *value, const char *etag, size_t etag_len,
    grn_flag_t weak)
{
    grn_flag_t   is_weak;
    const char  *p = value->data, *end = p + value->len, *q;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        if (p == end) {
            return 0;
        }
        if (*p == '*') {
            return 1;
        }
        is_weak = 0;
        if (end - p > 2 && p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        if (*p != '"') {
            return 0;
        }
        q = memchr(p + 1, '"', (size_t) (end - p - 1));
        if (q == NULL) {
            return 0;
        }
        q++;
        if ((weak || !is_weak) && (size_t) (q - p) == etag_len && memcmp(p, etag, etag_len) == 0) {
            return 1;
        }
        p = q;
    }
}

static int
grn_http_cond_digits(const char **pp, const char *end, int n)
{
    int          v = 0;
    const char  *p = *pp;

    if (end - p < n) {
        return -1;
    }
    for (; n; n--, p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    *pp = p;
    return v;
}

static int
grn_http_cond_month(const char **pp, const char *end)
{
    static const char  months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int                m;

    if (end - *pp < 3) {
        return -1;
    }
    for (m = 0; m < 12; m++) {
        if (memcmp(*pp, months + 3 * m, 3) == 0) {
            *pp += 3;
            return m;
        }
    }
    return -1;
}

#define grn_http_cond_expect(p, end, ch)  ((p) < (end) && *(p)++ == (ch))

/*
 * An HTTP-date (RFC 9110 5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete
 * "Sunday, 06-Nov-94 08:49:37 GMT" and "Sun Nov  6 08:49:37 1994". -1 when invalid.
 */
time_t
grn_http_parse_time(const grn_str_t *value)
{
    int          day, month, year, hour, min, sec;
    struct tm    tm;
    const char  *p = value->data, *end = p + value->len;

    while (p < end && isalpha((unsigned char) *p)) {
        p++;
    }

    if (p < end && *p == ',') {
        p++;
        if (!grn_http_cond_expect(p, end, ' ')
            || (day = grn_http_cond_digits(&p, end, 2)) < 0 || p == end)
        {
            return -1;
        }
        if (*p == ' ') {
            p++;
            if ((month = grn_http_cond_month(&p, end)) < 0
                || !grn_http_cond_expect(p, end, ' ')
                || (year = grn_http_cond_digits(&p, end, 4)) < 0)
            {
                return -1;
            }
        } else {
            p++;
            if ((month = grn_http_cond_month(&p, end)) < 0
                || !grn_http_cond_expect(p, end, '-')
                || (year = grn_http_cond_digits(&p, end, 2)) < 0)
            {
                return -1;
            }
            year += year < 70 ? 2000 : 1900;
        }
        if (!grn_http_cond_expect(p, end, ' ')
            || (hour = grn_http_cond_digits(&p, end, 2)) < 0
            || !grn_http_cond_expect(p, end, ':')
            || (min = grn_http_cond_digits(&p, end, 2)) < 0
            || !grn_http_cond_expect(p, end, ':')
            || (sec = grn_http_cond_digits(&p, end, 2)) < 0
            || end - p != 4 || memcmp(p, " GMT", 4) != 0)
        {
            return -1;
        }

    } else {
        if (!grn_http_cond_expect(p, end, ' ')
            || (month = grn_http_cond_month(&p, end)) < 0
            || !grn_http_cond_expect(p, end, ' ') || p == end)
        {
            return -1;
        }
        if (*p == ' ') {
            p++;
            day = grn_http_cond_digits(&p, end, 1);
        } else {
            day = grn_http_cond_digits(&p, end, 2);
        }
        if (day < 0
            || !grn_http_cond_expect(p, end, ' ')
            || (hour = grn_http_cond_digits(&p, end, 2)) < 0
            || !grn_http_cond_expect(p, end, ':')
            || (min = grn_http_cond_digits(&p, end, 2)) < 0
            || !grn_http_cond_expect(p, end, ':')
            || (sec = grn_http_cond_digits(&p, end, 2)) < 0
            || !grn_http_cond_expect(p, end, ' ')
            || (year = grn_http_cond_digits(&p, end, 4)) < 0 || p != end)
        {
            return -1;
        }
    }

    if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970) {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    return timegm(&tm);
}

size_t
grn_http_format_time(char *buf, time_t t)
{
    static const char  *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char  *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm           tm;

    /* an HTTP-date has four year digits: a file time outside them is clamped */
    if (t < 0) {
        t = 0;
    } else if (t > (time_t) 253402300799) {
        t = (time_t) 253402300799;              /* 9999-12-31 23:59:59 */
    }
    gmtime_r(&t, &tm);
    return (size_t) sprintf(buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                            tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                            tm.tm_min, tm.tm_sec);
}

static off_t
grn_http_cond_number(const char **pp, const char *end, grn_flag_t *found)
{
    off_t        n = 0;
    const char  *p = *pp;

    *found = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        *found = 1;
        /* saturate: a first byte this large is unsatisfiable, a last byte is cut to the size */
        n = n > (GRN_HTTP_COND_OFF_MAX - 9) / 10 ? GRN_HTTP_COND_OFF_MAX : n * 10 + (*p - '0');
        p++;
    }
    *pp = p;
    return n;
}

/*
 * A Range header for a file of `size` bytes. GRN_AGAIN: one satisfiable range [*start, *end);
 * GRN_DECLINED: unsatisfiable (416); GRN_OK: no range to honour (the whole file, 200): an
 * invalid header is ignored (RFC 9110 14.2), and several ranges are answered with the whole
 * file, which the RFC allows.
 */
grn_int_t
grn_http_parse_range(const grn_str_t *value, off_t size, off_t *start, off_t *end)
{
    off_t        first, last;
    grn_flag_t   has_first, has_last;
    const char  *p = value->data, *e = p + value->len;

    if (value->len < 6 || strncasecmp(p, "bytes=", 6) != 0) {
        return GRN_OK;
    }
    p += 6;
    if (memchr(p, ',', (size_t) (e - p)) != NULL) {
        return GRN_OK;
    }
    while (p < e && (*p == ' ' || *p == '\t')) {
        p++;
    }

    first = grn_http_cond_number(&p, e, &has_first);
    if (!grn_http_cond_expect(p, e, '-')) {
        return GRN_OK;
    }
    last = grn_http_cond_number(&p, e, &has_last);
    while (p < e && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p != e || (!has_first && !has_last) || (has_first && has_last && last < first)) {
        return GRN_OK;
    }

    if (!has_first) {
        /* "-N": the last N bytes */
        if (last == 0 || size == 0) {
            return GRN_DECLINED;
        }
        *start = last >= size ? 0 : size - last;
        *end = size;
        return GRN_AGAIN;
    }

    if (first >= size) {
        return GRN_DECLINED;
    }
    *start = first;
    *end = has_last && last < size ? last + 1 : size;
    return GRN_AGAIN;
}

/*
 * test_http_cond.c: HTTP dates, entity-tag lists and byte ranges (grn_http_cond.c).
 */

#include "grn_core.h"
#include "grn_http.h"
#include "grn_test.h"


static time_t
time_of(const char *text)
{
    grn_str_t  s = { strlen(text), (char *) text };

    return grn_http_parse_time(&s);
}


static grn_flag_t
match(const char *list, const char *etag, grn_flag_t weak)
{
    grn_str_t  s = { strlen(list), (char *) list };

    return grn_http_etag_match(&s, etag, strlen(etag), weak);
}


static grn_int_t
range_of(const char *text, off_t size, off_t *start, off_t *end)
{
    grn_str_t  s = { strlen(text), (char *) text };

    *start = -1;
    *end = -1;
    return grn_http_parse_range(&s, size, start, end);
}


GRN_TEST(time_parses_the_three_http_date_forms)
{
    /* RFC 9110's own example: 784111777 */
    grn_expect(time_of("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    grn_expect(time_of("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    grn_expect(time_of("Sun Nov  6 08:49:37 1994") == 784111777);
    grn_expect(time_of("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    grn_expect(time_of("Monday, 01-Jan-29 00:00:00 GMT") == 1861920000);   /* yy < 70: 20yy */
}


GRN_TEST(time_rejects_what_is_not_an_http_date)
{
    grn_expect(time_of("") == -1);
    grn_expect(time_of("yesterday") == -1);
    grn_expect(time_of("Sun, 06 Nov 1994 08:49:37") == -1);          /* no GMT */
    grn_expect(time_of("Sun, 06 Nov 1994 08:49:37 UTC") == -1);
    grn_expect(time_of("Sun, 6 Nov 1994 08:49:37 GMT") == -1);        /* one-digit day */
    grn_expect(time_of("Sun, 06 Foo 1994 08:49:37 GMT") == -1);
    grn_expect(time_of("Sun, 32 Nov 1994 08:49:37 GMT") == -1);
    grn_expect(time_of("Sun, 06 Nov 1994 24:49:37 GMT") == -1);
    grn_expect(time_of("Sun, 06 Nov 1994 08:49:37 GMT ") == -1);
    grn_expect(time_of("Sun Nov  6 08:49:37 1994 x") == -1);
}


GRN_TEST(time_formats_imf_fixdate_and_round_trips)
{
    char       buf[32];
    size_t     n;
    grn_str_t  s;

    n = grn_http_format_time(buf, 784111777);
    grn_expect(n == 29 && strcmp(buf, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);

    n = grn_http_format_time(buf, (time_t) 1 << 50);                /* clamped */
    grn_expect(n == 29 && strcmp(buf, "Fri, 31 Dec 9999 23:59:59 GMT") == 0);
    n = grn_http_format_time(buf, -5);
    grn_expect(n == 29 && strcmp(buf, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);

    n = grn_http_format_time(buf, 1700000000);
    s.data = buf;
    s.len = n;
    grn_expect(grn_http_parse_time(&s) == 1700000000);
}


GRN_TEST(etag_lists_compare_weakly_or_strongly)
{
    grn_expect(match("\"a-1\"", "\"a-1\"", 1));
    grn_expect(match("\"a-1\"", "\"a-1\"", 0));
    grn_expect(match("W/\"a-1\"", "\"a-1\"", 1));
    grn_expect(!match("W/\"a-1\"", "\"a-1\"", 0));                   /* If-Match is strong */
    grn_expect(match("\"x\", \"y\" ,W/\"a-1\"", "\"a-1\"", 1));
    grn_expect(match("*", "\"a-1\"", 0));
    grn_expect(!match("\"a-12\"", "\"a-1\"", 1));
    grn_expect(!match("\"a-1", "\"a-1\"", 1));                       /* unterminated */
    grn_expect(!match("a-1", "\"a-1\"", 1));                         /* not quoted */
    grn_expect(!match("", "\"a-1\"", 1));
}


GRN_TEST(range_takes_one_satisfiable_range)
{
    off_t  s, e;

    grn_expect(range_of("bytes=0-4", 13, &s, &e) == GRN_AGAIN && s == 0 && e == 5);
    grn_expect(range_of("bytes=6-", 13, &s, &e) == GRN_AGAIN && s == 6 && e == 13);
    grn_expect(range_of("bytes=-5", 13, &s, &e) == GRN_AGAIN && s == 8 && e == 13);
    grn_expect(range_of("bytes=-50", 13, &s, &e) == GRN_AGAIN && s == 0 && e == 13);
    grn_expect(range_of("bytes=2-99999999999999999999999", 13, &s, &e) == GRN_AGAIN
               && s == 2 && e == 13);                              /* saturates, then cut */
    grn_expect(range_of("BYTES= 12-12 ", 13, &s, &e) == GRN_AGAIN && s == 12 && e == 13);
}


GRN_TEST(range_unsatisfiable_or_ignored)
{
    off_t  s, e;

    grn_expect(range_of("bytes=13-", 13, &s, &e) == GRN_DECLINED);
    grn_expect(range_of("bytes=99999999999999999999999-", 13, &s, &e) == GRN_DECLINED);
    grn_expect(range_of("bytes=-0", 13, &s, &e) == GRN_DECLINED);
    grn_expect(range_of("bytes=0-", 0, &s, &e) == GRN_DECLINED);      /* empty file */
    grn_expect(range_of("bytes=-1", 0, &s, &e) == GRN_DECLINED);

    grn_expect(range_of("bytes=5-2", 13, &s, &e) == GRN_OK);         /* invalid: ignored */
    grn_expect(range_of("bytes=0-1,3-4", 13, &s, &e) == GRN_OK);     /* several: whole */
    grn_expect(range_of("items=0-1", 13, &s, &e) == GRN_OK);
    grn_expect(range_of("bytes=-", 13, &s, &e) == GRN_OK);
    grn_expect(range_of("bytes=1-2-3", 13, &s, &e) == GRN_OK);
    grn_expect(range_of("bytes=a-1", 13, &s, &e) == GRN_OK);
    grn_expect(range_of("bytes", 13, &s, &e) == GRN_OK);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(time_parses_the_three_http_date_forms),
    GRN_TEST_ENTRY(time_rejects_what_is_not_an_http_date),
    GRN_TEST_ENTRY(time_formats_imf_fixdate_and_round_trips),
    GRN_TEST_ENTRY(etag_lists_compare_weakly_or_strongly),
    GRN_TEST_ENTRY(range_takes_one_satisfiable_range),
    GRN_TEST_ENTRY(range_unsatisfiable_or_ignored)
)

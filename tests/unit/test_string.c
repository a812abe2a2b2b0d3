/*
 * test_string.c: the parsers of sizes, times and integers, and the small string helpers.
 */

#include "grn_core.h"
#include "grn_test.h"


static off_t
size_of(const char *text)
{
    grn_str_t  s = { strlen(text), (char *) text };

    return grn_parse_size(&s);
}


static grn_msec_t
time_of(const char *text)
{
    grn_str_t  s = { strlen(text), (char *) text };

    return grn_parse_time(&s);
}


static grn_int_t
atoi_of(const char *text)
{
    return grn_atoi(text, strlen(text));
}


GRN_TEST(atoi_accepts_decimal_numbers)
{
    grn_expect(atoi_of("0") == 0);
    grn_expect(atoi_of("7") == 7);
    grn_expect(atoi_of("1000") == 1000);
    grn_expect(atoi_of("007") == 7);
    grn_expect(atoi_of("9223372036854775807") == INTPTR_MAX);
    grn_expect(grn_atoi("12345", 2) == 12);
}


GRN_TEST(atoi_rejects_junk_and_overflow)
{
    grn_expect(atoi_of("") == -1);
    grn_expect(atoi_of("-1") == -1);
    grn_expect(atoi_of("+1") == -1);
    grn_expect(atoi_of("12a") == -1);
    grn_expect(atoi_of(" 12") == -1);
    grn_expect(atoi_of("1.5") == -1);
    grn_expect(atoi_of("9223372036854775808") == -1);
    grn_expect(atoi_of("99999999999999999999999") == -1);
}


GRN_TEST(size_accepts_units_in_either_case)
{
    grn_expect(size_of("0") == 0);
    grn_expect(size_of("512") == 512);
    grn_expect(size_of("8k") == 8192);
    grn_expect(size_of("8K") == 8192);
    grn_expect(size_of("1m") == 1048576);
    grn_expect(size_of("10M") == 10485760);
    grn_expect(size_of("2g") == 2147483648LL);
    grn_expect(size_of("2G") == 2147483648LL);
    grn_expect(size_of("8589934591g") == 8589934591LL * 1024 * 1024 * 1024);
}


GRN_TEST(size_rejects_junk_and_overflow)
{
    grn_expect(size_of("") == -1);
    grn_expect(size_of("k") == -1);
    grn_expect(size_of("8kb") == -1);
    grn_expect(size_of("8 k") == -1);
    grn_expect(size_of("-1") == -1);
    grn_expect(size_of("1t") == -1);
    grn_expect(size_of("1.5m") == -1);
    grn_expect(size_of("8589934592g") == -1);
    grn_expect(size_of("99999999999999999999") == -1);
    grn_expect(size_of("9223372036854775807k") == -1);
}


GRN_TEST(time_accepts_every_unit)
{
    grn_expect(time_of("500ms") == 500);
    grn_expect(time_of("30s") == 30000);
    grn_expect(time_of("5m") == 300000);
    grn_expect(time_of("1h") == 3600000);
    grn_expect(time_of("2d") == 2 * 86400000LL);
    grn_expect(time_of("1w") == 7 * 86400000LL);
    grn_expect(time_of("1M") == 30 * 86400000LL);
    grn_expect(time_of("1y") == 365 * 86400000LL);
    grn_expect(time_of("0") == 0);
    grn_expect(time_of("0s") == 0);
}


GRN_TEST(time_bare_number_means_seconds)
{
    grn_expect(time_of("30") == 30000);
    grn_expect(time_of("1m 30") == 90000);
}


GRN_TEST(time_adds_sums_with_or_without_spaces)
{
    grn_expect(time_of("1h30m") == 5400000);
    grn_expect(time_of("1h 30m") == 5400000);
    grn_expect(time_of("1d 2h 3m 4s 5ms") == 86400000LL + 7200000 + 180000 + 4000 + 5);
    grn_expect(time_of("1m500ms") == 60500);
    grn_expect(time_of(" 5s ") == 5000);
}


GRN_TEST(time_rejects_junk_order_and_overflow)
{
    grn_expect(time_of("") == -1);
    grn_expect(time_of(" ") == -1);
    grn_expect(time_of("s") == -1);
    grn_expect(time_of("5x") == -1);
    grn_expect(time_of("5S") == -1);
    grn_expect(time_of("1.5s") == -1);
    grn_expect(time_of("-5s") == -1);
    grn_expect(time_of("30m 1h") == -1);
    grn_expect(time_of("1m 1m") == -1);
    grn_expect(time_of("5 ms") == -1);
    grn_expect(time_of("9223372036854775807s") == -1);
    grn_expect(time_of("99999999999999999999999ms") == -1);
    grn_expect(time_of("300000000y") == -1);
}


GRN_TEST(pstrdup_terminates_and_strlow_lowers)
{
    char        text[] = "Hello-WORLD 42";
    char       *copy;
    grn_str_t   s = { 5, text };
    grn_pool_t *pool;

    pool = grn_create_pool(1024, NULL);
    grn_expect(pool != NULL);

    copy = grn_pstrdup(pool, &s);
    grn_expect(copy != NULL && strcmp(copy, "Hello") == 0);

    grn_strlow(text, sizeof(text) - 1);
    grn_expect(strcmp(text, "hello-world 42") == 0);

    grn_destroy_pool(pool);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(atoi_accepts_decimal_numbers),
    GRN_TEST_ENTRY(atoi_rejects_junk_and_overflow),
    GRN_TEST_ENTRY(size_accepts_units_in_either_case),
    GRN_TEST_ENTRY(size_rejects_junk_and_overflow),
    GRN_TEST_ENTRY(time_accepts_every_unit),
    GRN_TEST_ENTRY(time_bare_number_means_seconds),
    GRN_TEST_ENTRY(time_adds_sums_with_or_without_spaces),
    GRN_TEST_ENTRY(time_rejects_junk_order_and_overflow),
    GRN_TEST_ENTRY(pstrdup_terminates_and_strlow_lowers)
)

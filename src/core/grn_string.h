/*
 * grn_string.h: counted strings and the parsers of the config language's value kinds.
 *
 * A grn_str_t points at bytes it does not own and needs no terminating NUL: the config parser
 * and the HTTP parser hand out spans of their buffers without copying.
 */

#ifndef GRN_STRING_H
#define GRN_STRING_H

typedef struct {
    size_t      len;
    char       *data;
} grn_str_t;

#define grn_string(text)          { sizeof(text) - 1, (char *) (text) }
#define grn_null_string           { 0, NULL }
#define grn_str_set(str, text)    ((str)->len = sizeof(text) - 1, (str)->data = (char *) (text))
#define grn_str_null(str)         ((str)->len = 0, (str)->data = NULL)

/* Grows a span over bytes that a parser hands out piece by piece, contiguous in one buffer. */
#define grn_str_extend(str, at, length)                                                    \
    do {                                                                                   \
        if ((str)->data == NULL) {                                                         \
            (str)->data = (char *) (at);                                                   \
            (str)->len = (length);                                                         \
        } else {                                                                           \
            (str)->len += (length);                                                        \
        }                                                                                  \
    } while (0)

/* Equal length and bytes; the _case form ignores ASCII case. */
#define grn_str_eq(a, b)                                                                  \
    ((a)->len == (b)->len && ((a)->len == 0 || memcmp((a)->data, (b)->data, (a)->len) == 0))
#define grn_str_eq_lit(s, text)                                                            \
    ((s)->len == sizeof(text) - 1 && memcmp((s)->data, text, sizeof(text) - 1) == 0)
#define grn_str_case_eq(a, b)                                                             \
    ((a)->len == (b)->len && strncasecmp((a)->data, (b)->data, (a)->len) == 0)

/* A NUL-terminated copy in the pool (for the APIs that need one); NULL on allocation failure. */
char *grn_pstrdup(grn_pool_t *pool, const grn_str_t *src);

/* Decimal non-negative integer; -1 when not a number or on overflow. */
grn_int_t grn_atoi(const char *data, size_t len);

/* "512", "8k", "1m", "2g" (case-insensitive suffix) into bytes; -1 when invalid. */
off_t grn_parse_size(const grn_str_t *value);

/*
 * "500ms", "30s", "5m", "1h", "2d", "1w", "1M", "1y" and sums of them ("1h 30m", "1h30m") into
 * milliseconds; a bare number means seconds. -1 when invalid or too large.
 */
grn_msec_t grn_parse_time(const grn_str_t *value);

/* Lower-case ASCII in place. */
void grn_strlow(char *data, size_t len);

/* FNV-1a, 64 bits: a stable name for a string (socket names, scoreboard keys), never 0. */
uint64_t grn_hash_name(const char *data, size_t len);

#endif /* GRN_STRING_H */

/*
 * grn_conf_file.h: the config language (nginx grammar) and its table-driven directives.
 *
 * The parser reads a file into memory, splits it into statements (`name args;` and
 * `name args { ... }`) and dispatches each to the grn_command_t row of the same name. A row says
 * where the directive may stand (context bits), how many arguments it takes, which setter stores
 * it and where: `conf` picks one of the context structs in cf->ctx[] and `offset` the field in
 * it. Generic setters cover flags, numbers, sizes, times, strings, paths and enums; block
 * directives (app, http, server, location, types) have their own setter, which opens the
 * block's structs and calls grn_conf_parse() again for the block's body.
 *
 * Settings start "unset" (GRN_CONF_UNSET*) so that a merge step can tell a value the user
 * wrote from one to inherit. Every error names file:line.
 */

#ifndef GRN_CONF_FILE_H
#define GRN_CONF_FILE_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* Argument counts (any combination of the TAKEn bits) and shapes. */
#define GRN_CONF_NOARGS      0x00000001
#define GRN_CONF_TAKE1       0x00000002
#define GRN_CONF_TAKE2       0x00000004
#define GRN_CONF_TAKE3       0x00000008
#define GRN_CONF_TAKE4       0x00000010
#define GRN_CONF_TAKE5       0x00000020
#define GRN_CONF_TAKE6       0x00000040
#define GRN_CONF_TAKE7       0x00000080
#define GRN_CONF_MAX_ARGS    8

#define GRN_CONF_TAKE12      (GRN_CONF_TAKE1 | GRN_CONF_TAKE2)
#define GRN_CONF_TAKE13      (GRN_CONF_TAKE1 | GRN_CONF_TAKE3)
#define GRN_CONF_TAKE23      (GRN_CONF_TAKE2 | GRN_CONF_TAKE3)
#define GRN_CONF_TAKE123     (GRN_CONF_TAKE1 | GRN_CONF_TAKE2 | GRN_CONF_TAKE3)
#define GRN_CONF_TAKE1234    (GRN_CONF_TAKE123 | GRN_CONF_TAKE4)

#define GRN_CONF_ARGS_NUMBER 0x000000ff
#define GRN_CONF_BLOCK       0x00000100   /* takes a { ... } body */
#define GRN_CONF_FLAG        0x00000200   /* exactly one argument, "on" or "off" */
#define GRN_CONF_ANY         0x00000400   /* any number of arguments, including none */
#define GRN_CONF_1MORE       0x00000800
#define GRN_CONF_2MORE       0x00001000

/* Contexts: where a directive may stand (cmd->type) and where the parser is (cf->cmd_type). */
#define GRN_MAIN_CONF        0x01000000
#define GRN_APP_CONF         0x02000000
#define GRN_HTTP_CONF        0x04000000
#define GRN_SRV_CONF         0x08000000
#define GRN_LOC_CONF         0x10000000
#define GRN_TYPES_CONF       0x20000000   /* inside types { }: lines go to cf->handler */
#define GRN_ANY_CONF         0x3f000000

/* Which struct of the current block a directive's setter receives (cmd->conf). */
#define GRN_CONF_CTX_CORE      0          /* grn_core_conf_t */
#define GRN_CONF_CTX_APP       1          /* grn_app_conf_t */
#define GRN_CONF_CTX_HTTP      2          /* grn_http_main_conf_t */
#define GRN_CONF_CTX_SRV       3          /* grn_http_srv_conf_t */
#define GRN_CONF_CTX_LOC       4          /* grn_http_loc_conf_t */
#define GRN_CONF_NCTX          5

#define GRN_CONF_UNSET         -1
#define GRN_CONF_UNSET_UINT    ((grn_uint_t) -1)
#define GRN_CONF_UNSET_PTR     ((void *) -1)
#define GRN_CONF_UNSET_SIZE    ((size_t) -1)
#define GRN_CONF_UNSET_MSEC    ((grn_msec_t) -1)

#define GRN_CONF_OK            NULL
#define GRN_CONF_ERROR         ((char *) -1)

#define grn_conf_init_value(conf, default)                                                 \
    if (conf == GRN_CONF_UNSET) { conf = default; }
#define grn_conf_merge_value(conf, prev, default)                                          \
    if (conf == GRN_CONF_UNSET) { conf = (prev == GRN_CONF_UNSET) ? default : prev; }
#define grn_conf_merge_ptr_value(conf, prev, default)                                      \
    if (conf == GRN_CONF_UNSET_PTR) { conf = (prev == GRN_CONF_UNSET_PTR) ? default : prev; }
#define grn_conf_merge_size_value(conf, prev, default)                                     \
    if (conf == GRN_CONF_UNSET_SIZE) { conf = (prev == GRN_CONF_UNSET_SIZE) ? default : prev; }
#define grn_conf_merge_msec_value(conf, prev, default)                                     \
    if (conf == GRN_CONF_UNSET_MSEC) { conf = (prev == GRN_CONF_UNSET_MSEC) ? default : prev; }
#define grn_conf_merge_str_value(conf, prev, default)                                      \
    if ((conf).data == NULL) {                                                             \
        if ((prev).data) { conf = prev; } else { grn_str_set(&(conf), default); }          \
    }

typedef char *(*grn_conf_set_pt)(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
typedef char *(*grn_conf_handler_pt)(grn_conf_t *cf, const grn_command_t *dummy, void *conf);

struct grn_command_s {
    grn_str_t         name;
    grn_uint_t        type;     /* contexts | argument count bits */
    grn_conf_set_pt   set;
    grn_uint_t        conf;     /* GRN_CONF_CTX_* */
    grn_uint_t        offset;   /* offsetof() the field in that struct */
    const void       *post;     /* setter-specific: grn_conf_enum_t[], bounds, ... */
};

#define grn_null_command  { grn_null_string, 0, NULL, 0, 0, NULL }

/* A value table for grn_conf_set_enum_slot(), ended by { grn_null_string, 0 }. */
typedef struct {
    grn_str_t     name;
    grn_uint_t    value;
} grn_conf_enum_t;

/* Bounds for grn_conf_set_num_slot() when cmd->post points at one. */
typedef struct {
    grn_int_t     low;
    grn_int_t     high;
} grn_conf_num_bounds_t;

/* One config file as read: kept for -T and for error messages. */
typedef struct {
    grn_str_t     name;        /* full path as opened */
    grn_str_t     content;     /* the whole file */
} grn_conf_dump_t;

typedef struct {
    grn_str_t     name;        /* file name for messages ("command line" for -g) */
    char         *start;
    char         *pos;
    char         *end;
    grn_uint_t    line;        /* of the statement being handled: the one messages name */
    grn_uint_t    scan_line;   /* of the tokenizer's position (pos) */
} grn_conf_file_t;

struct grn_conf_s {
    grn_conf_file_t      *conf_file;   /* where the parser is: name and line for errors */
    grn_array_t          *args;        /* of grn_str_t; args[0] is the directive's name */
    grn_cycle_t          *cycle;
    grn_pool_t           *pool;        /* the generation's pool: parsed values live here */
    grn_pool_t           *temp_pool;   /* freed after parsing */
    grn_log_t            *log;
    void                 *ctx[GRN_CONF_NCTX];
    grn_uint_t            cmd_type;    /* the context the parser is in */
    grn_conf_handler_pt   handler;     /* set inside types { }: each line goes here */
    void                 *handler_conf;
    grn_uint_t            include_depth;   /* files open inside one another through include */
    grn_uint_t            block_depth;     /* blocks open inside one another */

    /*
     * The directive tables, searched in order; each ends with grn_null_command. The cycle passes
     * the real ones (grn_core_commands, grn_app_commands, grn_http_commands); NULL-terminated.
     */
    const grn_command_t *const *commands;
};

/*
 * Parses a file (filename != NULL) or, with filename == NULL, the body of the block the parser
 * is at, until its closing "}". Returns GRN_CONF_OK or GRN_CONF_ERROR (the error is logged).
 */
char *grn_conf_parse(grn_conf_t *cf, const grn_str_t *filename);

/* Parses the -g directives as if they stood at the top of the main file ("in command line"). */
char *grn_conf_param(grn_conf_t *cf, const grn_str_t *param);

/* Logs "message in file:line" (or "in command line"), with errno text when err != 0. */
void grn_conf_log_error(grn_uint_t level, grn_conf_t *cf, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Makes a relative path absolute against the cycle's prefix (in place, pool-allocated). */
grn_int_t grn_conf_full_name(grn_cycle_t *cycle, grn_str_t *name);

/*
 * Generic setters. The field each writes: flag grn_flag_t, str grn_str_t, str_array and keyval
 * grn_array_t * of grn_str_t (keyval: "KEY=VALUE" with a non-empty KEY), num grn_int_t, size
 * size_t, off off_t, msec grn_msec_t, enum grn_uint_t, path grn_str_t made absolute and
 * NUL-terminated, path_array grn_array_t * of such paths.
 */
char *grn_conf_set_flag_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_str_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_str_array_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_keyval_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_num_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_size_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_off_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_msec_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_enum_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_path_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
char *grn_conf_set_path_array_slot(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

#endif /* GRN_CONF_FILE_H */

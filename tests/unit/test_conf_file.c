/*
 * test_conf_file.c: the config parser, driven on temp files with small tables of its own.
 *
 * Every error message the parser can produce is checked here with its exact text and
 * file:line, because users (and the integration tests) read them.
 */

#include "grn_core.h"
#include "grn_cycle.h"
#include "grn_test.h"

#include <sys/stat.h>

#define T_CTX_MAIN  0
#define T_CTX_APP   1

typedef struct {
    grn_flag_t    daemon;
    grn_str_t     name;
    grn_array_t  *env;
    grn_array_t  *paths;
    grn_array_t  *list;
    grn_int_t     workers;
    size_t        buf;
    off_t         limit;
    grn_msec_t    timeout;
    grn_uint_t    mode;
    grn_str_t     root;
    grn_int_t     nargs;
    grn_array_t  *apps;      /* of t_app_t * */
} t_main_t;

typedef struct {
    grn_str_t     id;        /* app ID { } */
    grn_str_t     name;
    grn_int_t     threads;
    grn_uint_t    line;
    grn_array_t  *types;     /* of grn_str_t "ext type" */
    grn_int_t     groups;
} t_app_t;

static char *t_count(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *t_broken(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *t_app(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *t_group(grn_conf_t *cf, const grn_command_t *cmd, void *conf);
static char *t_types(grn_conf_t *cf, const grn_command_t *cmd, void *conf);

static const grn_conf_num_bounds_t  t_workers_bounds = { 1, 64 };

static const grn_conf_enum_t  t_modes[] = {
    { grn_string("fast"), 1 },
    { grn_string("slow"), 2 },
    { grn_null_string, 0 }
};

#define M(field)  offsetof(t_main_t, field)
#define A(field)  offsetof(t_app_t, field)

static const grn_command_t  t_main_commands[] = {
    { grn_string("daemon"), GRN_MAIN_CONF | GRN_CONF_FLAG, grn_conf_set_flag_slot,
      T_CTX_MAIN, M(daemon), NULL },
    { grn_string("name"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_str_slot,
      T_CTX_MAIN, M(name), NULL },
    { grn_string("env"), GRN_MAIN_CONF | GRN_CONF_1MORE, grn_conf_set_keyval_slot,
      T_CTX_MAIN, M(env), NULL },
    { grn_string("python_path"), GRN_MAIN_CONF | GRN_CONF_1MORE, grn_conf_set_path_array_slot,
      T_CTX_MAIN, M(paths), NULL },
    { grn_string("list"), GRN_MAIN_CONF | GRN_CONF_1MORE, grn_conf_set_str_array_slot,
      T_CTX_MAIN, M(list), NULL },
    { grn_string("workers"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_num_slot,
      T_CTX_MAIN, M(workers), &t_workers_bounds },
    { grn_string("buf"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_size_slot,
      T_CTX_MAIN, M(buf), NULL },
    { grn_string("limit"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_off_slot,
      T_CTX_MAIN, M(limit), NULL },
    { grn_string("timeout"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_msec_slot,
      T_CTX_MAIN, M(timeout), NULL },
    { grn_string("mode"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_enum_slot,
      T_CTX_MAIN, M(mode), t_modes },
    { grn_string("root"), GRN_MAIN_CONF | GRN_CONF_TAKE1, grn_conf_set_path_slot,
      T_CTX_MAIN, M(root), NULL },
    { grn_string("take23"), GRN_MAIN_CONF | GRN_CONF_TAKE23, t_count,
      T_CTX_MAIN, M(nargs), NULL },
    { grn_string("noargs"), GRN_MAIN_CONF | GRN_CONF_NOARGS, t_count,
      T_CTX_MAIN, M(nargs), NULL },
    { grn_string("anyargs"), GRN_MAIN_CONF | GRN_CONF_ANY, t_count,
      T_CTX_MAIN, M(nargs), NULL },
    { grn_string("more1"), GRN_MAIN_CONF | GRN_CONF_1MORE, t_count,
      T_CTX_MAIN, M(nargs), NULL },
    { grn_string("more2"), GRN_MAIN_CONF | GRN_CONF_2MORE, t_count,
      T_CTX_MAIN, M(nargs), NULL },
    { grn_string("broken"), GRN_MAIN_CONF | GRN_CONF_NOARGS, t_broken,
      T_CTX_MAIN, 0, NULL },
    { grn_string("http_only"), GRN_MAIN_CONF | GRN_CONF_NOARGS, t_count,
      GRN_CONF_CTX_HTTP, 0, NULL },
    { grn_string("app"), GRN_MAIN_CONF | GRN_CONF_BLOCK | GRN_CONF_TAKE1, t_app,
      T_CTX_MAIN, 0, NULL },
    grn_null_command
};

/* A second table, with a "name" of its own for the app context. */
static const grn_command_t  t_app_commands[] = {
    { grn_string("name"), GRN_APP_CONF | GRN_CONF_TAKE1, grn_conf_set_str_slot,
      T_CTX_APP, A(name), NULL },
    { grn_string("threads"), GRN_APP_CONF | GRN_CONF_TAKE1, grn_conf_set_num_slot,
      T_CTX_APP, A(threads), NULL },
    { grn_string("group"), GRN_APP_CONF | GRN_CONF_BLOCK | GRN_CONF_NOARGS, t_group,
      T_CTX_APP, 0, NULL },
    { grn_string("types"), GRN_APP_CONF | GRN_CONF_BLOCK | GRN_CONF_NOARGS, t_types,
      T_CTX_APP, 0, NULL },
    grn_null_command
};

static const grn_command_t *const  t_tables[] = { t_main_commands, t_app_commands, NULL };

static char          t_dir[64];
static char          t_main_path[128];
static char          t_log_path[128];
static char          t_logged[8192];
static char          t_prefix[80];
static grn_log_t     t_log;
static grn_pool_t   *t_pool;
static grn_cycle_t   t_cycle;
static t_main_t      t_main;
static grn_conf_t    t_cf;


static char *
t_count(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    *(grn_int_t *) ((char *) conf + cmd->offset) = (grn_int_t) cf->args->nelts - 1;
    return GRN_CONF_OK;
}


static char *
t_broken(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    (void) cf;
    (void) cmd;
    (void) conf;
    return "is broken";
}


static char *
t_app(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char        *rv;
    void        *saved;
    t_app_t     *app, **slot;
    t_main_t    *mc;
    grn_uint_t   saved_type;

    (void) cmd;

    mc = conf;

    app = grn_pcalloc(cf->pool, sizeof(t_app_t));
    if (app == NULL) {
        return GRN_CONF_ERROR;
    }

    app->id = ((grn_str_t *) cf->args->elts)[1];
    app->threads = GRN_CONF_UNSET;
    app->line = cf->conf_file->line;

    if (mc->apps == NULL) {
        mc->apps = grn_array_create(cf->pool, 2, sizeof(t_app_t *));
    }

    slot = grn_array_push(mc->apps);
    *slot = app;

    saved = cf->ctx[T_CTX_APP];
    saved_type = cf->cmd_type;

    cf->ctx[T_CTX_APP] = app;
    cf->cmd_type = GRN_APP_CONF;

    rv = grn_conf_parse(cf, NULL);

    cf->ctx[T_CTX_APP] = saved;
    cf->cmd_type = saved_type;

    if (rv == GRN_CONF_OK && app->threads == 13) {
        return "has an unlucky number of threads";
    }

    return rv;
}


static char *
t_group(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    t_app_t  *app = conf;

    (void) cmd;

    app->groups++;

    return grn_conf_parse(cf, NULL);
}


static char *
t_type(grn_conf_t *cf, const grn_command_t *dummy, void *conf)
{
    t_app_t    *app = conf;
    grn_str_t  *value, *e;
    grn_uint_t  i;

    (void) dummy;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        return "a type needs an extension";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        e = grn_array_push(app->types);
        e->len = value[i].len + 1 + value[0].len;
        e->data = grn_pnalloc(cf->pool, e->len + 1);
        snprintf(e->data, e->len + 1, "%s %s", value[i].data, value[0].data);
    }

    return GRN_CONF_OK;
}


static char *
t_types(grn_conf_t *cf, const grn_command_t *cmd, void *conf)
{
    char                *rv;
    t_app_t             *app = conf;
    grn_conf_handler_pt  saved;
    void                *saved_conf;
    grn_uint_t           saved_type;

    (void) cmd;

    app->types = grn_array_create(cf->pool, 4, sizeof(grn_str_t));

    saved = cf->handler;
    saved_conf = cf->handler_conf;
    saved_type = cf->cmd_type;

    cf->handler = t_type;
    cf->handler_conf = app;
    cf->cmd_type = GRN_TYPES_CONF;

    rv = grn_conf_parse(cf, NULL);

    cf->handler = saved;
    cf->handler_conf = saved_conf;
    cf->cmd_type = saved_type;

    return rv;
}


static void
t_write(const char *name, const char *text)
{
    char  path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", t_dir, name);

    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }

    fputs(text, f);
    fclose(f);
}


static void
t_setup(void)
{
    int  fd;

    fd = open(t_log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        perror(t_log_path);
        exit(2);
    }

    t_log.level = GRN_LOG_DEBUG;
    t_log.fd = fd;
    t_log.path = NULL;
    t_log.plain = 1;
    t_log.next = NULL;

    t_pool = grn_create_pool(1024, &t_log);

    memset(&t_cycle, 0, sizeof(grn_cycle_t));
    t_cycle.pool = t_pool;
    t_cycle.log = &t_log;
    t_cycle.prefix.len = strlen(t_prefix);
    t_cycle.prefix.data = t_prefix;
    (void) grn_array_init(&t_cycle.config_dump, t_pool, 1, sizeof(grn_conf_dump_t));

    memset(&t_main, 0, sizeof(t_main_t));
    t_main.daemon = GRN_CONF_UNSET;
    t_main.env = GRN_CONF_UNSET_PTR;
    t_main.paths = NULL;
    t_main.list = GRN_CONF_UNSET_PTR;
    t_main.workers = GRN_CONF_UNSET;
    t_main.buf = GRN_CONF_UNSET_SIZE;
    t_main.limit = GRN_CONF_UNSET;
    t_main.timeout = GRN_CONF_UNSET_MSEC;
    t_main.mode = GRN_CONF_UNSET_UINT;
    t_main.nargs = -1;

    memset(&t_cf, 0, sizeof(grn_conf_t));
    t_cf.cycle = &t_cycle;
    t_cf.pool = t_pool;
    t_cf.temp_pool = t_pool;
    t_cf.log = &t_log;
    t_cf.ctx[T_CTX_MAIN] = &t_main;
    t_cf.cmd_type = GRN_MAIN_CONF;
    t_cf.commands = t_tables;
    t_cf.args = grn_array_create(t_pool, 8, sizeof(grn_str_t));
}


static void
t_teardown(void)
{
    ssize_t  n;
    int      fd;

    close(t_log.fd);

    t_logged[0] = '\0';

    fd = open(t_log_path, O_RDONLY | O_CLOEXEC);
    if (fd != -1) {
        n = read(fd, t_logged, sizeof(t_logged) - 1);
        t_logged[n > 0 ? n : 0] = '\0';
        close(fd);
    }

    grn_destroy_pool(t_pool);
}


/* Parses text as the main file; the log is in t_logged afterwards. */
static char *
t_parse(const char *text)
{
    char       *rv;
    grn_str_t   name;

    t_write("main.conf", text);

    name.len = strlen(t_main_path);
    name.data = t_main_path;

    rv = grn_conf_parse(&t_cf, &name);

    return rv;
}


/* Expands "@" in the expected message into the main file's path (or "@X" into DIR/X). */
static int
t_error_is(const char *expected)
{
    char        want[1024], *p;
    const char *e;

    p = want;
    p += sprintf(p, "greenc: [emerg] ");

    for (e = expected; *e; e++) {
        if (*e == '@') {
            if (e[1] == '/') {
                p += sprintf(p, "%s", t_dir);
            } else {
                p += sprintf(p, "%s", t_main_path);
            }
            continue;
        }
        *p++ = *e;
    }

    *p++ = '\n';
    *p = '\0';

    if (strcmp(want, t_logged) != 0) {
        printf("  want: %s  got:  %s", want, t_logged[0] ? t_logged : "(nothing)\n");
        return 0;
    }

    return 1;
}


/* Parses text, which must fail with exactly the expected message. */
static int
t_fails_with(const char *text, const char *expected)
{
    char  *rv;

    t_setup();
    rv = t_parse(text);
    t_teardown();

    if (rv != GRN_CONF_ERROR) {
        printf("  parsed without error: %s\n", text);
        return 0;
    }

    return t_error_is(expected);
}


static int
t_parses(const char *text)
{
    char  *rv;

    t_setup();
    rv = t_parse(text);

    if (rv != GRN_CONF_OK) {
        t_teardown();
        printf("  failed: %s", t_logged);
        t_setup();       /* leave a live pool for the caller's checks and teardown */
        return 0;
    }

    return 1;
}


/* A check that later checks depend on: stop the test when it fails. */
#define t_require(cond)                                                                    \
    if (!grn_expect(cond)) {                                                               \
        t_teardown();                                                                      \
        return;                                                                            \
    }


static int
t_str_is(const grn_str_t *s, const char *text)
{
    return s->data != NULL && s->len == strlen(text) && memcmp(s->data, text, s->len) == 0
           && s->data[s->len] == '\0';
}


GRN_TEST(generic_setters_store_their_values)
{
    grn_str_t  *s;
    char        path[256];

    grn_expect(t_parses(
        "daemon on;\n"
        "name  blog;\n"
        "env TZ=UTC A=b=c;\n"
        "env EMPTY=;\n"
        "python_path src /abs/lib;\n"
        "list a;  list b c;\n"
        "workers 4;\n"
        "buf 8k;\n"
        "limit 2g;\n"
        "timeout \"1h 30m\";\n"
        "mode SLOW;\n"
        "root www;\n"));

    grn_expect(t_main.daemon == 1);
    grn_expect(t_str_is(&t_main.name, "blog"));

    t_require(t_main.env != GRN_CONF_UNSET_PTR && t_main.env->nelts == 3);
    s = t_main.env->elts;
    grn_expect(t_str_is(&s[0], "TZ=UTC"));
    grn_expect(t_str_is(&s[1], "A=b=c"));
    grn_expect(t_str_is(&s[2], "EMPTY="));

    t_require(t_main.paths != NULL && t_main.paths->nelts == 2);
    s = t_main.paths->elts;
    snprintf(path, sizeof(path), "%s/src", t_dir);
    grn_expect(t_str_is(&s[0], path));
    grn_expect(t_str_is(&s[1], "/abs/lib"));

    t_require(t_main.list != GRN_CONF_UNSET_PTR && t_main.list->nelts == 3);
    s = t_main.list->elts;
    grn_expect(t_str_is(&s[0], "a") && t_str_is(&s[1], "b") && t_str_is(&s[2], "c"));

    grn_expect(t_main.workers == 4);
    grn_expect(t_main.buf == 8192);
    grn_expect(t_main.limit == 2147483648LL);
    grn_expect(t_main.timeout == 5400000);
    grn_expect(t_main.mode == 2);

    snprintf(path, sizeof(path), "%s/www", t_dir);
    grn_expect(t_str_is(&t_main.root, path));

    t_teardown();

    grn_expect(t_parses("daemon OFF;"));
    grn_expect(t_main.daemon == 0);
    t_teardown();
}


GRN_TEST(config_is_kept_for_dump)
{
    grn_conf_dump_t  *d;

    grn_expect(t_parses("daemon on; # kept\n"));
    grn_expect(t_cycle.config_dump.nelts == 1);
    d = t_cycle.config_dump.elts;
    grn_expect(t_str_is(&d->name, t_main_path));
    grn_expect(d->content.len == 18 && memcmp(d->content.data, "daemon on; # kept\n", 18) == 0);
    t_teardown();
}


GRN_TEST(quotes_escapes_and_comments)
{
    grn_str_t  *s;

    grn_expect(t_parses(
        "# a comment line\n"
        "list \"double quoted; {not} a #comment\"   # trailing comment\n"
        "     'single \"inner\"' \"it\\'s\" 'a\\'b' \"q\\\"q\" ;\n"
        "list \"t\\tr\\rn\\nbs\\\\\" \\.php$ \"~ \\.(php|asp)$\" a\\;b;\n"
        "list $remote_addr \"\" '' we#ird;\n"
        "list \"multi\nline\";\n"
        "list ok;"));

    t_require(t_main.list != GRN_CONF_UNSET_PTR && t_main.list->nelts == 15);
    s = t_main.list->elts;
    grn_expect(t_str_is(&s[0], "double quoted; {not} a #comment"));
    grn_expect(t_str_is(&s[1], "single \"inner\""));
    grn_expect(t_str_is(&s[2], "it's"));
    grn_expect(t_str_is(&s[3], "a'b"));
    grn_expect(t_str_is(&s[4], "q\"q"));
    grn_expect(t_str_is(&s[5], "t\tr\rn\nbs\\"));
    grn_expect(t_str_is(&s[6], "\\.php$"));
    grn_expect(t_str_is(&s[7], "~ \\.(php|asp)$"));
    grn_expect(t_str_is(&s[8], "a\\;b"));
    grn_expect(t_str_is(&s[9], "$remote_addr"));
    grn_expect(t_str_is(&s[10], ""));
    grn_expect(t_str_is(&s[11], ""));
    grn_expect(t_str_is(&s[12], "we#ird"));
    grn_expect(t_str_is(&s[13], "multi\nline"));
    grn_expect(t_str_is(&s[14], "ok"));
    t_teardown();
}


GRN_TEST(nested_blocks_and_a_handler_block)
{
    t_app_t    *app, **apps;
    grn_str_t  *s;

    grn_expect(t_parses(
        "name main;\n"
        "app blog {\n"
        "    name  \"the blog\";\n"
        "    group { group { threads 4; } }\n"
        "    types {\n"
        "        text/html  html htm;\n"
        "        image/png  png;\n"
        "    }\n"
        "}\n"
        "app\n"
        "  api { }\n"
        "workers 2;\n"));

    grn_expect(t_str_is(&t_main.name, "main"));
    grn_expect(t_main.workers == 2);
    t_require(t_main.apps != NULL && t_main.apps->nelts == 2);

    apps = t_main.apps->elts;
    app = apps[0];
    grn_expect(t_str_is(&app->id, "blog") && t_str_is(&app->name, "the blog"));
    grn_expect(app->line == 2);
    grn_expect(app->threads == 4);
    grn_expect(app->groups == 2);
    t_require(app->types != NULL && app->types->nelts == 3);
    s = app->types->elts;
    grn_expect(t_str_is(&s[0], "html text/html"));
    grn_expect(t_str_is(&s[1], "htm text/html"));
    grn_expect(t_str_is(&s[2], "png image/png"));

    grn_expect(t_str_is(&apps[1]->id, "api") && apps[1]->line == 10);
    t_teardown();
}


GRN_TEST(argument_counts_follow_the_bits)
{
    grn_expect(t_parses("take23 a b;"));
    grn_expect(t_main.nargs == 2);
    t_teardown();
    grn_expect(t_parses("take23 a b c;"));
    grn_expect(t_main.nargs == 3);
    t_teardown();
    grn_expect(t_parses("noargs;"));
    grn_expect(t_main.nargs == 0);
    t_teardown();
    grn_expect(t_parses("anyargs;"));
    grn_expect(t_main.nargs == 0);
    t_teardown();
    grn_expect(t_parses("anyargs 1 2 3 4 5 6 7 8 9 10;"));
    grn_expect(t_main.nargs == 10);
    t_teardown();
    grn_expect(t_parses("more1 1 2 3 4 5 6 7 8 9;"));
    grn_expect(t_main.nargs == 9);
    t_teardown();
    grn_expect(t_parses("more2 a b;"));
    grn_expect(t_main.nargs == 2);
    t_teardown();

    grn_expect(t_fails_with("take23 a;",
                            "invalid number of arguments in \"take23\" directive in @:1"));
    grn_expect(t_fails_with("\n\ntake23 a b c d;",
                            "invalid number of arguments in \"take23\" directive in @:3"));
    grn_expect(t_fails_with("noargs x;",
                            "invalid number of arguments in \"noargs\" directive in @:1"));
    grn_expect(t_fails_with("more1;",
                            "invalid number of arguments in \"more1\" directive in @:1"));
    grn_expect(t_fails_with("more2 a;",
                            "invalid number of arguments in \"more2\" directive in @:1"));
    grn_expect(t_fails_with("daemon;",
                            "invalid number of arguments in \"daemon\" directive in @:1"));
    grn_expect(t_fails_with("daemon on off;",
                            "invalid number of arguments in \"daemon\" directive in @:1"));
    grn_expect(t_fails_with("list a;\nname\n  a\n  b;",
                            "invalid number of arguments in \"name\" directive in @:2"));
}


GRN_TEST(statement_errors_name_file_and_line)
{
    grn_expect(t_fails_with("daemon on;\n\nfoo bar;", "unknown directive \"foo\" in @:3"));
    grn_expect(t_fails_with("threads 4;",
                            "\"threads\" directive is not allowed here in @:1"));
    grn_expect(t_fails_with("app a {\n  daemon on;\n}",
                            "\"daemon\" directive is not allowed here in @:2"));
    grn_expect(t_fails_with("app a { types {} }\ntypes { }",
                            "\"types\" directive is not allowed here in @:2"));
    grn_expect(t_fails_with("http_only;",
                            "\"http_only\" directive is not allowed here in @:1"));
    grn_expect(t_fails_with("app a;",
                            "directive \"app\" has no opening \"{\" in @:1"));
    grn_expect(t_fails_with("daemon on {\n}",
                            "directive \"daemon\" is not terminated by \";\" in @:1"));
    grn_expect(t_fails_with("name a;\n}", "unexpected \"}\" in @:2"));
    grn_expect(t_fails_with("name a;\n name b }", "unexpected \"}\" in @:2"));
    grn_expect(t_fails_with("name a;\n\n  ;", "unexpected \";\" in @:3"));
    grn_expect(t_fails_with("\n{ name a; }", "unexpected \"{\" in @:2"));
    grn_expect(t_fails_with("name \"a\"b;", "unexpected \"b\" in @:1"));
    grn_expect(t_fails_with("name 'a'\"b\";", "unexpected \"\"\" in @:1"));
    grn_expect(t_fails_with("name a",
                            "unexpected end of file, expecting \";\" or \"}\" in @:1"));
    grn_expect(t_fails_with("name \"a;\n\n",
                            "unexpected end of file, expecting \";\" or \"}\" in @:3"));
    grn_expect(t_fails_with("app a {\n  threads 2;\n",
                            "unexpected end of file, expecting \"}\" in @:3"));
    grn_expect(t_fails_with("app a {\n  types {\n  text/html\n",
                            "unexpected end of file, expecting \";\" or \"}\" in @:4"));
    grn_expect(t_fails_with("app a {\n  types {\n  text/plain;\n}}",
                            "a type needs an extension in @:3"));
    grn_expect(t_fails_with("app a {\n  types {\n  x y {}\n}}",
                            "unexpected \"{\" in @:3"));
}


GRN_TEST(setter_errors_name_the_directive)
{
    grn_expect(t_fails_with("daemon on;\ndaemon off;",
                            "\"daemon\" directive is duplicate in @:2"));
    grn_expect(t_fails_with("name a;\nname b;", "\"name\" directive is duplicate in @:2"));
    grn_expect(t_fails_with("workers 1; workers 2;",
                            "\"workers\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("buf 1; buf 2;", "\"buf\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("limit 1; limit 2;", "\"limit\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("timeout 1; timeout 2;",
                            "\"timeout\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("mode fast; mode slow;",
                            "\"mode\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("root a; root b;", "\"root\" directive is duplicate in @:1"));
    grn_expect(t_fails_with("broken;", "\"broken\" directive is broken in @:1"));
    grn_expect(t_fails_with("app a {\n threads 13;\n}\n",
                            "\"app\" directive has an unlucky number of threads in @:1"));

    grn_expect(t_fails_with("daemon yes;", "invalid value \"yes\" in \"daemon\" directive, "
                            "it must be \"on\" or \"off\" in @:1"));
    grn_expect(t_fails_with("env TZ=UTC\n =x;", "invalid value \"=x\" in \"env\" directive, "
                            "it must be KEY=VALUE in @:1"));
    grn_expect(t_fails_with("env TZ;", "invalid value \"TZ\" in \"env\" directive, "
                            "it must be KEY=VALUE in @:1"));
    grn_expect(t_fails_with("workers four;",
                            "invalid value \"four\" in \"workers\" directive in @:1"));
    grn_expect(t_fails_with("workers 0;",
                            "\"workers\" directive value must be between 1 and 64 in @:1"));
    grn_expect(t_fails_with("workers 65;",
                            "\"workers\" directive value must be between 1 and 64 in @:1"));
    grn_expect(t_fails_with("buf 8x;", "invalid value \"8x\" in \"buf\" directive in @:1"));
    grn_expect(t_fails_with("limit -1;", "invalid value \"-1\" in \"limit\" directive in @:1"));
    grn_expect(t_fails_with("timeout 5q;",
                            "invalid value \"5q\" in \"timeout\" directive in @:1"));
    grn_expect(t_fails_with("mode medium;",
                            "invalid value \"medium\" in \"mode\" directive in @:1"));
}


GRN_TEST(include_expands_globs_in_order)
{
    grn_str_t  *s;
    char        path[256];

    snprintf(path, sizeof(path), "%s/conf.d", t_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/empty.d", t_dir);
    mkdir(path, 0755);

    t_write("conf.d/b.conf", "list b;\n");
    t_write("conf.d/a.conf", "list a;\napp x {\n  include app.inc;\n}\n");
    t_write("conf.d/c.txt", "not a conf;\n");
    t_write("app.inc", "threads 3;\n");

    grn_expect(t_parses("list first;\ninclude conf.d/*.conf;\ninclude empty.d/*.conf;\n"
                        "include conf.d/b.conf;\nlist last;\n"));

    t_require(t_main.list != GRN_CONF_UNSET_PTR && t_main.list->nelts == 5);
    s = t_main.list->elts;
    grn_expect(t_str_is(&s[0], "first") && t_str_is(&s[1], "a") && t_str_is(&s[2], "b")
               && t_str_is(&s[3], "b") && t_str_is(&s[4], "last"));
    t_require(t_main.apps != NULL && t_main.apps->nelts == 1
               && (*(t_app_t **) t_main.apps->elts)->threads == 3);
    grn_expect(t_cycle.config_dump.nelts == 5);
    t_teardown();

    grn_expect(t_fails_with("list a;\ninclude missing.conf;",
                            "open() \"@/missing.conf\" failed (2: No such file or directory) "
                            "in @:2"));
    grn_expect(t_fails_with("include;",
                            "invalid number of arguments in \"include\" directive in @:1"));
    grn_expect(t_fails_with("include a b;",
                            "invalid number of arguments in \"include\" directive in @:1"));
    grn_expect(t_fails_with("include a {}",
                            "directive \"include\" is not terminated by \";\" in @:1"));

    t_write("bad.inc", "\n\nthreads 2;\n");
    grn_expect(t_fails_with("include bad.inc;",
                            "\"threads\" directive is not allowed here in @/bad.inc:3"));
    t_write("open.inc", "app x {\n");
    grn_expect(t_fails_with("include open.inc;\n}",
                            "unexpected end of file, expecting \"}\" in @/open.inc:2"));
}


/* Found by fuzz_conf: a file that includes itself overflowed the stack (greenc -t, reload). */
GRN_TEST(include_of_itself_is_an_error_not_a_crash)
{
    t_write("self.inc", "list s;\ninclude self.inc;\n");
    grn_expect(t_fails_with("include self.inc;",
                            "\"include\" of \"@/self.inc\" nests files more than 16 deep: "
                            "does a file include itself? in @/self.inc:2"));

    t_write("ping.inc", "include pong.inc;\n");
    t_write("pong.inc", "\ninclude p*g.inc;\n");
    grn_expect(t_fails_with("include ping.inc;",
                            "\"include\" of \"@/ping.inc\" nests files more than 16 deep: "
                            "does a file include itself? in @/pong.inc:2"));

    /* Sixteen levels are allowed. */
    for (int i = 1; i <= 16; i++) {
        char  name[32], text[64];

        snprintf(name, sizeof(name), "d%d.inc", i);
        if (i < 16) {
            snprintf(text, sizeof(text), "include d%d.inc;\n", i + 1);
        } else {
            snprintf(text, sizeof(text), "list deep;\n");
        }
        t_write(name, text);
    }
    grn_expect(t_parses("include d1.inc;"));
    t_teardown();
}


/* Found beside it: 50,000 nested blocks overflowed the stack of `greenc -t`. */
GRN_TEST(blocks_nest_at_most_32_deep)
{
    char    text[32 * 8 + 64], *p;
    size_t   i;

    /* 32 blocks: an app and 31 groups inside one another (the test tables let groups nest). */
    p = text + sprintf(text, "app x {\n");
    for (i = 0; i < 31; i++) {
        p += sprintf(p, "group {\n");
    }
    for (i = 0; i < 32; i++) {
        *p++ = '}';
    }
    *p = '\0';
    grn_expect(t_parses(text));
    t_teardown();

    p = text + sprintf(text, "app x {\n");
    for (i = 0; i < 32; i++) {
        p += sprintf(p, "group {\n");
    }
    *p = '\0';
    grn_expect(t_fails_with(text, "blocks nest more than 32 deep in @:33"));
}


GRN_TEST(command_line_directives)
{
    grn_str_t  param = grn_string("daemon off; workers 3; app g { threads 2; }");
    grn_str_t  bad = grn_string("daemon maybe;");
    grn_str_t  open = grn_string("daemon on");
    grn_str_t  unknown = grn_string("bogus 1;");

    t_setup();
    grn_expect(grn_conf_param(&t_cf, &param) == GRN_CONF_OK);
    grn_expect(t_main.daemon == 0 && t_main.workers == 3);
    grn_expect(t_main.apps != NULL && (*(t_app_t **) t_main.apps->elts)->threads == 2);
    grn_expect(t_cf.conf_file == NULL);
    t_teardown();

    t_setup();
    grn_expect(grn_conf_param(&t_cf, &bad) == GRN_CONF_ERROR);
    t_teardown();
    grn_expect(t_error_is("invalid value \"maybe\" in \"daemon\" directive, "
                          "it must be \"on\" or \"off\" in command line"));

    t_setup();
    grn_expect(grn_conf_param(&t_cf, &open) == GRN_CONF_ERROR);
    t_teardown();
    grn_expect(t_error_is("unexpected end of file, expecting \";\" or \"}\" in command line"));

    t_setup();
    grn_expect(grn_conf_param(&t_cf, &unknown) == GRN_CONF_ERROR);
    t_teardown();
    grn_expect(t_error_is("unknown directive \"bogus\" in command line"));
}


GRN_TEST(missing_main_file_is_reported_without_location)
{
    grn_str_t  name = grn_string("/nonexistent/greenc.conf");

    t_setup();
    grn_expect(grn_conf_parse(&t_cf, &name) == GRN_CONF_ERROR);
    t_teardown();
    grn_expect(t_error_is("open() \"/nonexistent/greenc.conf\" failed "
                          "(2: No such file or directory)"));
}


GRN_TEST(full_name_joins_the_prefix)
{
    grn_str_t  rel = grn_string("logs/error.log");
    grn_str_t  abs = grn_string("/var/log/x.log");
    char       want[256];

    t_setup();
    grn_expect(grn_conf_full_name(&t_cycle, &rel) == GRN_OK);
    snprintf(want, sizeof(want), "%s/logs/error.log", t_dir);
    grn_expect(t_str_is(&rel, want));
    grn_expect(grn_conf_full_name(&t_cycle, &abs) == GRN_OK);
    grn_expect(t_str_is(&abs, "/var/log/x.log"));
    t_teardown();
}


static void
t_cleanup_dir(void)
{
    char  cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", t_dir);
    }
}


GRN_TEST(prepare)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/grn_test_conf.XXXXXX");

    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }

    atexit(t_cleanup_dir);

    snprintf(t_main_path, sizeof(t_main_path), "%s/main.conf", t_dir);
    snprintf(t_log_path, sizeof(t_log_path), "%s/test.log", t_dir);
    snprintf(t_prefix, sizeof(t_prefix), "%s/", t_dir);
    grn_expect(1);
}


GRN_TEST_MAIN(
    GRN_TEST_ENTRY(prepare),
    GRN_TEST_ENTRY(generic_setters_store_their_values),
    GRN_TEST_ENTRY(config_is_kept_for_dump),
    GRN_TEST_ENTRY(quotes_escapes_and_comments),
    GRN_TEST_ENTRY(nested_blocks_and_a_handler_block),
    GRN_TEST_ENTRY(argument_counts_follow_the_bits),
    GRN_TEST_ENTRY(statement_errors_name_file_and_line),
    GRN_TEST_ENTRY(setter_errors_name_the_directive),
    GRN_TEST_ENTRY(include_expands_globs_in_order),
    GRN_TEST_ENTRY(include_of_itself_is_an_error_not_a_crash),
    GRN_TEST_ENTRY(blocks_nest_at_most_32_deep),
    GRN_TEST_ENTRY(command_line_directives),
    GRN_TEST_ENTRY(missing_main_file_is_reported_without_location),
    GRN_TEST_ENTRY(full_name_joins_the_prefix)
)

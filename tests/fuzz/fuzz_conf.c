/*
 * fuzz_conf.c: bytes as a config file, through the real parse and validation.
 *
 * The input is written to <dir>/fuzz.conf and read by grn_cycle_init(), as `greenc -t`
 * and a reload read a config: the tokenizer, quotes and escapes, blocks, every directive
 * table (main, app, http, server, location, static, access, ssl), sizes, times, listen
 * options, regexes, log formats, variables and captures, `include` (globs, relative to the
 * prefix <dir>/), the merge and the whole-config checks. An accepted config becomes a whole
 * generation, which is then released as a reload releases the old one. Nothing is opened:
 * no listener, no log file, no Python.
 *
 * Seeds: conf/ (the configs we ship) and tests/fuzz/seeds/conf/; the directive names are in
 * tests/fuzz/conf.dict.
 */

#include "grn_fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc GRN_UNUSED, char ***argv GRN_UNUSED)
{
    /* What the seeds refer to: files to include, roots that must exist. */
    grn_fuzz_write_file("conf.d/a.conf", "env FROM_INCLUDE=1;\n", 20);
    grn_fuzz_write_file("conf.d/b.conf", "# nothing\n", 10);
    grn_fuzz_write_file("conf/mime.types", "types { text/html html; text/css css; }\n", 40);
    grn_fuzz_write_file("http.d/server.conf",
                        "server { listen 127.0.0.1:9000; location / { return 204; } }\n", 61);
    grn_fuzz_write_file("www/index.html", "x\n", 2);
    grn_fuzz_write_file("pub/al/f.txt", "x\n", 2);
    grn_fuzz_write_file("www/sub/a.txt", "x\n", 2);
    grn_fuzz_write_file("pub/re/r.txt", "x\n", 2);
    grn_fuzz_write_file("body/.keep", "", 0);
    grn_fuzz_write_file("blog/public/index.html", "x\n", 2);
    grn_fuzz_write_file("app/app.py", "def application(e, s): pass\n", 28);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grn_cycle_t  *cycle;

    if (size > 65536) {
        return 0;
    }
    cycle = grn_fuzz_cycle("fuzz.conf", data, size);
    if (cycle != NULL) {
        grn_cycle_release(cycle, NULL);
    }
    return 0;
}

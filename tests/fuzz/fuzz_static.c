/*
 * fuzz_static.c: URIs against a static root, which no URI may leave.
 *
 * The input is a request target: its bytes become "GET <target> HTTP/1.1" (the bytes a
 * request line cannot carry are percent-encoded, so the decoded path is any byte string, and
 * a "%" of the input stays as it is), served by the real connection code (grn_fuzz.c) through
 * normalization, location selection, root (with regex captures) and alias mapping, index
 * files, try_files, disable_symlinks and the internal redirects between them
 * (grn_http_static.c).
 *
 * The temp root is <dir>/pub. Outside it, every file holds a marker, and a symbolic link in
 * pub/locked/ (a disable_symlinks location) points at one. Two checks, each an abort: the
 * marker in the body of a 200 or 206 response, and any file the worker opens while it serves
 * the request (open/openat are wrapped here; the real path is read back from
 * /proc/self/fd) that is not under pub/. openat2(RESOLVE_BENEATH), used by disable_symlinks
 * on, is the kernel's to keep.
 */

#define _GNU_SOURCE 1

#include "grn_fuzz.h"

#include <stdarg.h>
#include <sys/syscall.h>

#define GRN_FUZZ_MARKER  "SECRET-OUTSIDE-THE-ROOT"

static const char  grn_fuzz_conf[] =
    "error_log %s info;\n"
    "http {\n"
    "    access_log off;\n"
    "    server {\n"
    "        listen 127.0.0.1:8001;\n"
    "        root pub;\n"
    "        index index.html;\n"
    "        location /al/ { alias pub/al/; }\n"
    "        location /alnoslash { alias pub/al; }\n"
    "        location /alfile { alias pub/al/f.txt; }\n"
    "        location ^~ /tf/ { try_files $uri $uri/index.html /tf/fallback.txt =404; }\n"
    "        location /named/ { try_files $uri @fallback; }\n"
    "        location @fallback { root pub/al; }\n"
    "        location /locked/ { disable_symlinks on; }\n"
    "        location /owner/ { disable_symlinks if_not_owner; }\n"
    "        location ~ ^/re/(?<rest>.*)$ { root pub/re; }\n"
    "        location /idx/ { index missing.html a.html; }\n"
    "        location ~ ^/v/(?<dir>[^/]*)/ { root pub/v/$dir; }\n"
    "        location /tv/ { try_files /v$uri $uri/ /missing/$args =403; }\n"
    "    }\n"
    "}\n";

static grn_fuzz_server_t   grn_fuzz_server;
static grn_listening_t    *grn_fuzz_ls;
static char                grn_fuzz_root[PATH_MAX];     /* <dir>/pub */
static size_t              grn_fuzz_root_len;
static int                 grn_fuzz_checking;

/*
 * Every file the worker opens while serving must be the root or below it. The wrappers take
 * the place of libc's open() and openat() in this program; the real call is the syscall.
 */
static void
grn_fuzz_check_fd(int fd, const char *asked)
{
    char     proc[64], real[PATH_MAX];
    ssize_t  n;

    if (fd < 0 || !grn_fuzz_checking) {
        return;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    n = readlink(proc, real, sizeof(real) - 1);
    if (n < 0) {
        return;
    }
    real[n] = '\0';
    if ((size_t) n >= grn_fuzz_root_len && memcmp(real, grn_fuzz_root, grn_fuzz_root_len) == 0
        && (real[grn_fuzz_root_len] == '\0' || real[grn_fuzz_root_len] == '/'))
    {
        return;
    }
    fprintf(stderr, "fuzz_static: the worker opened \"%s\" (asked for \"%s\"), outside the "
            "root %s\n", real, asked, grn_fuzz_root);
    abort();
}

static int
grn_fuzz_openat(int dirfd, const char *path, int flags, va_list ap)
{
    int     fd;
    mode_t  mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        mode = (mode_t) va_arg(ap, int);
    }
    fd = (int) syscall(SYS_openat, dirfd, path, flags, mode);
    grn_fuzz_check_fd(fd, path);
    return fd;
}

int
open(const char *path, int flags, ...)
{
    int      fd;
    va_list  ap;

    va_start(ap, flags);
    fd = grn_fuzz_openat(AT_FDCWD, path, flags, ap);
    va_end(ap);
    return fd;
}

int
open64(const char *path, int flags, ...)
{
    int      fd;
    va_list  ap;

    va_start(ap, flags);
    fd = grn_fuzz_openat(AT_FDCWD, path, flags, ap);
    va_end(ap);
    return fd;
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    int      fd;
    va_list  ap;

    va_start(ap, flags);
    fd = grn_fuzz_openat(dirfd, path, flags, ap);
    va_end(ap);
    return fd;
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
    int      fd;
    va_list  ap;

    va_start(ap, flags);
    fd = grn_fuzz_openat(dirfd, path, flags, ap);
    va_end(ap);
    return fd;
}

static void
grn_fuzz_link(const char *target, const char *name)
{
    char  link[PATH_MAX];

    snprintf(link, sizeof(link), "%s/%s", grn_fuzz_dir(), name);
    (void) symlink(target, link);
}

static void
grn_fuzz_make_root(void)
{
    static const char  *outside[] = {
        "secret.txt", "index.html", "a.txt", "f.txt", "fallback.txt", "pub.txt",
        "re/x", "tf/fallback.txt", "al/f.txt", NULL
    };
    static const char  *inside[] = {
        "pub/index.html", "pub/a.txt", "pub/al/f.txt", "pub/al/index.html", "pub/al/sub/g.txt",
        "pub/tf/fallback.txt", "pub/tf/d/index.html", "pub/named/n.txt", "pub/locked/ok.txt",
        "pub/owner/o.txt", "pub/re/re/r.txt", "pub/idx/a.html", "pub/al../dots.txt",
        "pub/.hidden", "pub/with space.txt", "pub/v/x/v/x/f.txt", "pub/v/tv/a.txt", NULL
    };
    const char  **name;

    for (name = outside; *name; name++) {
        grn_fuzz_write_file(*name, GRN_FUZZ_MARKER "\n", sizeof(GRN_FUZZ_MARKER));
    }
    for (name = inside; *name; name++) {
        grn_fuzz_write_file(*name, "inside\n", 7);
    }
    grn_fuzz_link("../../secret.txt", "pub/locked/out");
    grn_fuzz_link("../..", "pub/locked/up");
    grn_fuzz_link("ok.txt", "pub/locked/in");
    grn_fuzz_link("a.txt", "pub/in");
    grn_fuzz_link("al", "pub/dirlink");
    grn_fuzz_link("../al/f.txt", "pub/owner/sibling");

    snprintf(grn_fuzz_root, sizeof(grn_fuzz_root), "%s/pub", grn_fuzz_dir());
    grn_fuzz_root_len = strlen(grn_fuzz_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc GRN_UNUSED, char ***argv GRN_UNUSED)
{
    grn_cycle_t  *cycle;

    grn_fuzz_make_root();
    cycle = grn_fuzz_server_start(&grn_fuzz_server, "static.conf", grn_fuzz_conf);
    grn_fuzz_ls = grn_fuzz_listening(cycle, "127.0.0.1:8001");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  *req, *p, *resp, *body;
    size_t                 i, len;
    static const char      head[] = "GET ";
    static const char      tail[] = " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static const char      hex[] = "0123456789ABCDEF";

    if (size > 4096) {
        return 0;
    }
    req = malloc(sizeof(head) + size * 3 + sizeof(tail));
    if (req == NULL) {
        return 0;
    }
    p = req;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    for (i = 0; i < size; i++) {
        if (data[i] > 0x20 && data[i] < 0x7f && data[i] != '#') {
            *p++ = (char) data[i];
        } else {
            *p++ = '%';
            *p++ = hex[data[i] >> 4];
            *p++ = hex[data[i] & 0xf];
        }
    }
    memcpy(p, tail, sizeof(tail) - 1);
    p += sizeof(tail) - 1;

    grn_fuzz_checking = 1;
    grn_fuzz_serve(&grn_fuzz_server, grn_fuzz_ls, (uint8_t *) req, (size_t) (p - req));
    grn_fuzz_checking = 0;
    free(req);

    /*
     * Only a file's content counts: a redirect's Location may echo the URI, and the fuzzer
     * soon learns to put the marker in it.
     */
    resp = grn_fuzz_server.response;
    len = grn_fuzz_server.response_len;
    body = memmem(resp, len, "\r\n\r\n", 4);
    if (body && len > 12 && (memcmp(resp, "HTTP/1.1 200", 12) == 0
                             || memcmp(resp, "HTTP/1.1 206", 12) == 0)
        && memmem(body, len - (size_t) (body - resp), GRN_FUZZ_MARKER,
                  sizeof(GRN_FUZZ_MARKER) - 1) != NULL)
    {
        fprintf(stderr, "fuzz_static: a file outside the root was served:\n%.*s\n",
                (int) grn_fuzz_server.response_len, grn_fuzz_server.response);
        abort();
    }
    return 0;
}

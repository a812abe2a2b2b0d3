/*
 * fuzz_request.c: bytes from a client, through greenc's whole request path.
 *
 * The input is what a client sends on one connection: it goes over a socketpair into the
 * worker's real connection code (grn_http_worker_adopt(), then the epoll loop), in several
 * writes (grn_fuzz.c), so it passes the read loop, the PROXY protocol reader, llhttp and
 * greenc's policy checks (grn_http_parse.c), head growth, routing (exact, prefix, regex
 * locations with captures, server names), the body in memory and in a temp file, the
 * actions (return, static files with try_files, index, alias and disable_symlinks,
 * allow/deny, status, forwarding to an app), realip, timeouts, error pages, the access log,
 * keep-alive, pipelining and lingering close. An input that starts like a PROXY protocol
 * header ("PROXY" or "\r", v2's first byte) goes to a `proxy_protocol` listener, one that
 * starts like a TLS handshake record (0x16) to an `ssl` listener (two servers, two throwaway
 * certificates: the ClientHello's SNI picks one through grn_http_ssl_conf.c's callback; the
 * fuzzer gets no further than the handshake), any other to a plain one.
 *
 * Two apps share the listeners, so a router worker serves them, as it would in greenc: a
 * `pass` is forwarded to the app's internal socket (grn_http_proxy.c), where the harness
 * stands in for the app worker and answers with the bytes after "\n--APP--\n" in the input
 * (by default a short 200): the router parses that answer with llhttp and relays it. Python
 * itself is never run. The status page reads a scoreboard of its own.
 *
 * Seeds: tests/fuzz/seeds/request/, and ../shared/corpus (h2o's HTTP/1 fuzz corpus with its
 * dictionary, Gunicorn's, llhttp's and Apache's requests) when it is there.
 */

#include "grn_fuzz.h"

#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static const char  grn_fuzz_conf[] =
    "error_log %s info;\n"
    "pid fuzz.pid;\n"
    "worker_connections 16;\n"
    "app blog { wsgi blog:app; }\n"
    "app api { wsgi api:app; }\n"
    "http {\n"
    "    log_format all '$remote_addr:$remote_port \"$request\" $request_method $request_uri '\n"
    "                   '$uri $args $server_protocol $scheme $status $body_bytes_sent '\n"
    "                   '$bytes_sent $request_length $request_id $host $server_name '\n"
    "                   '$server_port $connection $connection_requests '\n"
    "                   '\"$http_user_agent\" \"$http_x_forwarded_for\" $sent_http_location';\n"
    "    log_format json escape=json '{\"uri\":\"$request_uri\",\"ua\":\"$http_user_agent\"}';\n"
    "    access_log /dev/null all;\n"
    "    access_log /dev/null json;\n"
    "    large_client_header_buffers 4 1k;\n"
    "    limit_request_fields 24;\n"
    "    client_max_body_size 8k;\n"
    "    client_body_buffer_size 512;\n"
    "    client_body_temp_path body;\n"
    "    keepalive_requests 6;\n"
    "    set_real_ip_from unix:;\n"
    "    real_ip_header X-Forwarded-For;\n"
    "    real_ip_recursive on;\n"
    "    request_id_header X-Request-Id;\n"
    "\n"
    "    server {\n"
    "        listen 127.0.0.1:8001 default_server;\n"
    "        listen 127.0.0.1:8002 proxy_protocol;\n"
    "        listen 127.0.0.1:8003 ssl;\n"
    "        ssl_certificate tls.pem;\n"
    "        ssl_certificate_key tls.pem;\n"
    "        server_name example.com *.example.org www.example.* .dot.test\n"
    "                    ~^(?<sub>[a-z0-9]+)\\.regex\\.test$;\n"
    "        root www;\n"
    "        index index.html;\n"
    "\n"
    "        location = /exact { return 200 \"exact $request_uri $sub\\n\"; }\n"
    "        location /ret/ { return 301 /moved$uri?$args; }\n"
    "        location ^~ /static/ { try_files $uri $uri/ =404; }\n"
    "        location /alias/ { alias www/sub/; }\n"
    "        location /aliasfile { alias www/sub/a.txt; }\n"
    "        location ~* \\.(php|asp)$ { return 404; }\n"
    "        location ~ ^/cap/(?<name>[a-z]+)/(\\d+)$ { return 200 \"$name $2 $1\\n\"; }\n"
    "        location /deny/ { allow 10.0.0.0/8; deny all; }\n"
    "        location /small/ { client_max_body_size 16; return 204; }\n"
    "        location /links/ { disable_symlinks on; }\n"
    "        location /try/ { try_files $uri /index.html @named; }\n"
    "        location @named { return 418 \"named\\n\"; }\n"
    "        location /blog/ { pass blog; }\n"
    "        location /api/ { pass api; script_name /api; request_buffering off; }\n"
    "        location = /status { status; }\n"
    "        location /nested/ {\n"
    "            location /nested/deeper/ { return 200 \"deeper\\n\"; }\n"
    "            location ~ \\.txt$ { return 200 \"nested txt\\n\"; }\n"
    "        }\n"
    "    }\n"
    "\n"
    "    server {\n"
    "        listen 127.0.0.1:8001;\n"
    "        listen 127.0.0.1:8002 proxy_protocol;\n"
    "        listen 127.0.0.1:8003 ssl;\n"
    "        ssl_certificate tls-other.pem;\n"
    "        ssl_certificate_key tls-other.pem;\n"
    "        ssl_verify_client optional_no_ca;\n"
    "        server_name other.test;\n"
    "        server_tokens off;\n"
    "        location / { return 200 \"other $host $request_id\\n\"; }\n"
    "    }\n"
    "}\n";

static grn_fuzz_server_t   grn_fuzz_server;
static grn_listening_t    *grn_fuzz_plain;
static grn_listening_t    *grn_fuzz_proxied;
static grn_listening_t    *grn_fuzz_tls;

/* A throwaway self-signed P-256 certificate and its key, in one PEM file. */
static void
grn_fuzz_make_cert(const char *name, const char *cn)
{
    FILE       *f;
    X509       *x;
    char        path[PATH_MAX];
    EVP_PKEY   *key;
    X509_NAME  *subject;

    key = EVP_EC_gen("P-256");
    x = X509_new();
    if (key == NULL || x == NULL) {
        abort();
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_set_pubkey(x, key);
    subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1,
                               0);
    X509_set_issuer_name(x, subject);
    if (X509_sign(x, key, EVP_sha256()) == 0) {
        abort();
    }

    snprintf(path, sizeof(path), "%s/%s", grn_fuzz_dir(), name);
    f = fopen(path, "w");
    if (f == NULL || !PEM_write_X509(f, x)
        || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
    {
        abort();
    }
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* The static files: some files, a directory with an index, symlinks in and out. */
static void
grn_fuzz_make_root(void)
{
    char  target[PATH_MAX], link[PATH_MAX];

    grn_fuzz_write_file("www/index.html", "<p>index</p>\n", 13);
    grn_fuzz_write_file("www/a.txt", "0123456789abcdefghijklmnopqrstuvwxyz\n", 37);
    grn_fuzz_write_file("www/static/s.css", "body{}\n", 7);
    grn_fuzz_write_file("www/static/dir/index.html", "dir\n", 4);
    grn_fuzz_write_file("www/sub/a.txt", "sub\n", 4);
    grn_fuzz_write_file("www/links/plain.txt", "plain\n", 6);
    grn_fuzz_write_file("www/empty", "", 0);
    grn_fuzz_write_file("body/.keep", "", 0);
    grn_fuzz_write_file("secret.txt", "outside the root\n", 17);

    snprintf(target, sizeof(target), "%s/secret.txt", grn_fuzz_dir());
    snprintf(link, sizeof(link), "%s/www/links/out", grn_fuzz_dir());
    (void) symlink(target, link);
    snprintf(link, sizeof(link), "%s/www/links/in", grn_fuzz_dir());
    (void) symlink("plain.txt", link);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc GRN_UNUSED, char ***argv GRN_UNUSED)
{
    grn_cycle_t  *cycle;

    grn_fuzz_make_root();
    grn_fuzz_make_cert("tls.pem", "example.com");
    grn_fuzz_make_cert("tls-other.pem", "other.test");
    cycle = grn_fuzz_server_start(&grn_fuzz_server, "request.conf", grn_fuzz_conf);
    grn_fuzz_apps_listen(&grn_fuzz_server);
    grn_fuzz_plain = grn_fuzz_listening(cycle, "127.0.0.1:8001");
    grn_fuzz_proxied = grn_fuzz_listening(cycle, "127.0.0.1:8002");
    grn_fuzz_tls = grn_fuzz_listening(cycle, "127.0.0.1:8003");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grn_listening_t  *ls = grn_fuzz_plain;

    /* Told from the bytes themselves, with none taken off: the corpora replay as they are. */
    if ((size >= 5 && memcmp(data, "PROXY", 5) == 0) || (size && data[0] == '\r')) {
        ls = grn_fuzz_proxied;
    } else if (size && data[0] == 0x16) {
        ls = grn_fuzz_tls;              /* a TLS handshake record */
    }
    grn_fuzz_serve(&grn_fuzz_server, ls, data, size);
    return 0;
}

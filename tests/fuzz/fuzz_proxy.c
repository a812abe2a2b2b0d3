/*
 * fuzz_proxy.c: the PROXY protocol header, and names that pick a server (SNI and Host).
 *
 * Each input is used three ways:
 *   1. as what a load balancer sends on a `listen ... proxy_protocol` connection, served by
 *      the real connection code (grn_fuzz.c): grn_http_proxy_protocol_read() reads v1 or v2
 *      from it in whatever pieces it arrives, and the request that may follow answers with
 *      the address the header named ($remote_addr in the body and the access log);
 *   2. as the name a TLS client sends in SNI: grn_http_find_server() with it, as the
 *      servername callback (grn_http_ssl_conf.c) calls it, on a copy of exactly its length;
 *   3. as a Host header value ("GET / HTTP/1.1", "Host: <input>"), through llhttp, the Host
 *      syntax check (grn_http_parse.c) and server selection, over a plain listener.
 * The servers have exact, leading and trailing wildcard and regex names, so every branch of
 * the selection is reachable.
 */

#include "grn_fuzz.h"

static const char  grn_fuzz_conf[] =
    "error_log %s info;\n"
    "http {\n"
    "    log_format addr '$remote_addr:$remote_port $host $server_name \"$request\"';\n"
    "    access_log /dev/null addr;\n"
    "    server {\n"
    "        listen 127.0.0.1:8001 default_server;\n"
    "        listen 127.0.0.1:8002 proxy_protocol default_server;\n"
    "        server_name example.com;\n"
    "        location / { return 200 \"default $remote_addr $remote_port $host\\n\"; }\n"
    "    }\n"
    "    server {\n"
    "        listen 127.0.0.1:8001;\n"
    "        listen 127.0.0.1:8002 proxy_protocol;\n"
    "        server_name *.example.org .dot.example www.example.* [::1] 192.0.2.1;\n"
    "        location / { return 200 \"wild $server_name\\n\"; }\n"
    "    }\n"
    "    server {\n"
    "        listen 127.0.0.1:8001;\n"
    "        listen 127.0.0.1:8002 proxy_protocol;\n"
    "        server_name ~^(?<sub>[^.]+)\\.(?<dom>re\\.example)$ ~^upper\\.;\n"
    "        location / { return 200 \"regex $sub $dom $1\\n\"; }\n"
    "    }\n"
    "}\n";

static grn_fuzz_server_t   grn_fuzz_server;
static grn_listening_t    *grn_fuzz_plain;
static grn_listening_t    *grn_fuzz_proxied;
static grn_pool_t         *grn_fuzz_pool;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc GRN_UNUSED, char ***argv GRN_UNUSED)
{
    grn_cycle_t  *cycle;

    cycle = grn_fuzz_server_start(&grn_fuzz_server, "proxy.conf", grn_fuzz_conf);
    grn_fuzz_plain = grn_fuzz_listening(cycle, "127.0.0.1:8001");
    grn_fuzz_proxied = grn_fuzz_listening(cycle, "127.0.0.1:8002");
    grn_fuzz_pool = grn_create_pool(1024, grn_fuzz_log());
    if (grn_fuzz_pool == NULL) {
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  *name;
    grn_str_t              host;
    grn_http_request_t     r;
    grn_http_srv_conf_t   *srv;
    static const char      head[] = "GET / HTTP/1.1\r\nHost: ";
    static const char      tail[] = "\r\nConnection: close\r\n\r\n";

    /* 1. The PROXY header (and whatever follows it) on a proxy_protocol listener. */
    grn_fuzz_serve(&grn_fuzz_server, grn_fuzz_proxied, data, size);

    if (size > 1024) {
        return 0;
    }

    /* 2. SNI: OpenSSL hands over a NUL-terminated name; the callback passes its length. */
    name = malloc(size + 1);
    if (name == NULL) {
        return 0;
    }
    memcpy(name, data, size);
    name[size] = '\0';
    host.data = name;
    host.len = strlen(name);
    memset(&r, 0, sizeof(r));
    r.pool = grn_fuzz_pool;
    srv = grn_http_find_server(&r, grn_fuzz_plain->servers, &host);
    if (srv == NULL) {
        fprintf(stderr, "fuzz_proxy: no server for an SNI name, not even the default\n");
        abort();
    }
    grn_reset_pool(grn_fuzz_pool);

    /* 3. The same bytes as the value of Host. */
    name = realloc(name, sizeof(head) + size + sizeof(tail));
    if (name == NULL) {
        return 0;
    }
    memcpy(name, head, sizeof(head) - 1);
    memcpy(name + sizeof(head) - 1, data, size);
    memcpy(name + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
    grn_fuzz_serve(&grn_fuzz_server, grn_fuzz_plain, (uint8_t *) name,
                   sizeof(head) - 1 + size + sizeof(tail) - 1);
    free(name);
    return 0;
}

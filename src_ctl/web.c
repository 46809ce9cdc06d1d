/* clusterctl web: the live cluster page. libmicrohttpd serves the page's files (bundled by
 * clients/console) and two JSON/text endpoints the page polls every second:
 *   GET /api/servers            every live server of the registry (as `status --json`)
 *   GET /api/metrics?server=T:ID  that daemon's /metrics text, fetched from its admin endpoint
 * One internal MHD thread answers every request in turn, so the one hiredis context is used
 * by one thread only. Bound to 127.0.0.1 by default; on any other address CONSOLE_TOKEN is
 * required and every request must carry it (Authorization: Bearer, or ?token= for the page). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl.h"
#include "util.h"

const char WEB_HELP[] =
    "usage: clusterctl [global options] web [--listen HOST:PORT] [--static DIR]\n"
    "  Serves the live cluster page: every server of the registry (type, status, address,\n"
    "  sessions/players/matches, heartbeat age, link states), per-daemon charts of requests/s,\n"
    "  p99 and tick time from each daemon's /metrics, and recent errors, updated every second.\n"
    "  --listen HOST:PORT  default 127.0.0.1:8090; any address but loopback needs CONSOLE_TOKEN\n"
    "                      in the environment, and then every request must carry it\n"
    "                      (Authorization: Bearer TOKEN, or ?token=TOKEN on the page's URL)\n"
    "  --static DIR        the page's files (default: clients/console/dist of the source tree,\n"
    "                      or CONSOLE_DIR)\n";

#ifndef CONSOLE_DIST
#define CONSOLE_DIST "clients/console/dist"
#endif
#define METRICS_MAX (4u << 20)

typedef struct web {
    ctl_t *ctl;
    const char *dir;
    const char *token; /* NULL: loopback, no token asked */
} web_t;

typedef struct growbuf {
    char *p;
    size_t len;
} growbuf_t;

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static size_t grow_cb(char *p, size_t size, size_t n, void *ud)
{
    growbuf_t *b = ud;
    size_t len = size * n;
    if (b->len + len > METRICS_MAX)
        return 0; /* curl fails the transfer */
    char *np = realloc(b->p, b->len + len + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, p, len);
    b->p = np;
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* Constant-time string equality (the token). */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static int authorized(web_t *w, struct MHD_Connection *conn)
{
    if (!w->token)
        return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && same_secret(h + 7, w->token))
        return 1;
    const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    return q && same_secret(q, w->token);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", strdup(text), strlen(text));
}

static enum MHD_Result api_servers(web_t *w, struct MHD_Connection *conn)
{
    server_t *v;
    size_t n = servers_list(w->ctl, &v);
    uint64_t now = wall_ms();
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        const server_t *s = &v[i];
        char lt[16];
        lower_type(lt, sizeof lt, s->type);
        fprintf(f, "%s{\"type\":\"%s\",\"id\":%u,\"address\":", i ? "," : "", lt, s->id);
        json_str(f, s->address);
        fprintf(f, ",\"port\":%d,\"admin\":%s,\"status\":%d,\"status_name\":\"%s\",\"games\":%d,"
                   "\"players\":%d,\"heartbeat_age_ms\":%lld,\"version\":",
                s->port, s->admin_port > 0 ? "true" : "false", s->status, status_name(s->status), s->games,
                s->players, s->heartbeat ? (long long)(now - s->heartbeat) : -1LL);
        json_str(f, s->version);
        fputc('}', f);
    }
    fputc(']', f);
    fclose(f);
    free(v);
    return reply(conn, MHD_HTTP_OK, "application/json", body, len);
}

/* The /metrics text of server "type:id" (proxied from its admin endpoint). */
static enum MHD_Result api_metrics(web_t *w, struct MHD_Connection *conn)
{
    const char *spec = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "server");
    char type[16] = "";
    unsigned id = 0;
    if (!spec || sscanf(spec, "%15[a-z]:%u", type, &id) != 2)
        return reply_text(conn, MHD_HTTP_BAD_REQUEST, "server=TYPE:ID\n");
    server_t *v;
    size_t n = servers_list(w->ctl, &v);
    const server_t *s = NULL;
    for (size_t i = 0; i < n; i++) {
        char lt[16];
        lower_type(lt, sizeof lt, v[i].type);
        if (v[i].id == id && strcmp(lt, type) == 0)
            s = &v[i];
    }
    if (!s || s->admin_port <= 0) {
        free(v);
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "no such live server with an admin endpoint\n");
    }
    char url[700];
    const char *host = s->admin_address[0] ? s->admin_address : s->address;
    snprintf(url, sizeof url, strchr(host, ':') ? "http://[%s]:%d/metrics" : "http://%s:%d/metrics", host,
             s->admin_port);
    free(v);
    growbuf_t b = {0};
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->ctl->http_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK || status != 200) {
        free(b.p);
        return reply_text(conn, MHD_HTTP_BAD_GATEWAY, "the daemon's /metrics did not answer\n");
    }
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", b.p ? b.p : strdup(""), b.len);
}

/* A file of the page: only names of [A-Za-z0-9._-] (no folders, no dot first). */
static enum MHD_Result static_file(web_t *w, struct MHD_Connection *conn, const char *url)
{
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    if (name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name))
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    growbuf_t b = {0};
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        grow_cb(chunk, 1, got, &b);
    fclose(f);
    const char *dot = strrchr(name, '.');
    const char *type = !dot                         ? "application/octet-stream"
                       : strcmp(dot, ".html") == 0  ? "text/html; charset=utf-8"
                       : strcmp(dot, ".js") == 0    ? "text/javascript; charset=utf-8"
                       : strcmp(dot, ".css") == 0   ? "text/css; charset=utf-8"
                       : strcmp(dot, ".map") == 0   ? "application/json"
                                                    : "application/octet-stream";
    return reply(conn, MHD_HTTP_OK, type, b.p ? b.p : strdup(""), b.len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_len, void **state)
{
    (void)version, (void)upload, (void)upload_len, (void)state;
    web_t *w = cls;
    if (!authorized(w, conn))
        return reply_text(conn, MHD_HTTP_UNAUTHORIZED, "CONSOLE_TOKEN required\n");
    if (strcmp(method, "GET") != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (strcmp(url, "/api/servers") == 0)
        return api_servers(w, conn);
    if (strcmp(url, "/api/metrics") == 0)
        return api_metrics(w, conn);
    return static_file(w, conn, url);
}

static int parse_listen(const char *s, struct sockaddr_in *a)
{
    char host[64];
    int port;
    memset(a, 0, sizeof *a);
    if (sscanf(s, "%63[^:]:%d", host, &port) != 2 || port < 0 || port > 65535)
        return -1;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int cmd_web(ctl_t *c, int argc, char **argv)
{
    const char *listen = "127.0.0.1:8090";
    web_t w = {.ctl = c, .dir = getenv("CONSOLE_DIR") ? getenv("CONSOLE_DIR") : CONSOLE_DIST};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--static") == 0 && i + 1 < argc)
            w.dir = argv[++i];
        else {
            fail("web: unexpected argument \"%s\" (see clusterctl web --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct sockaddr_in a;
    if (parse_listen(listen, &a) < 0) {
        fail("web: --listen wants IPV4:PORT, not \"%s\"", listen);
        return EXIT_USAGE;
    }
    const char *token = getenv("CONSOLE_TOKEN");
    int loopback = (ntohl(a.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && (!token || strlen(token) < 16)) {
        fail("web: listening on %s needs CONSOLE_TOKEN (at least 16 characters) in the environment", listen);
        return EXIT_USAGE;
    }
    w.token = token && *token ? token : NULL;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, ntohs(a.sin_port), NULL, NULL,
                                            on_request, &w, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fail("web: cannot listen on %s", listen);
        return EXIT_FAILED;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("clusterctl web: http://%s:%u/ (files from %s%s)\n", inet_ntoa(a.sin_addr),
           info ? info->port : ntohs(a.sin_port), w.dir, w.token ? "; token required" : "");
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
    return EXIT_OK;
}

/* clusterctl: the operators' command line: reads the Redis registry and presence keys
 * (store.c) and talks to the daemons' admin endpoints over HTTP (libcurl), never to a client
 * port. */
#include <ctype.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

/* ---- output helpers ---- */

void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clusterctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (clusterctl --help)\n");
    va_end(ap);
    exit(EXIT_USAGE);
}

void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clusterctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

const char *status_name(int s)
{
    switch (s) {
    case 1: return "smooth";
    case 2: return "congested";
    case 3: return "draining";
    default: return "unknown";
    }
}

void lower_type(char *out, size_t n, const char *type)
{
    size_t i = 0;
    for (; type[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)type[i]);
    out[i] = '\0';
}

/* ---- HTTP (the admin endpoints) ---- */

typedef struct body {
    char buf[4096];
    size_t len;
} body_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    body_t *b = ud;
    size_t len = size * n;
    size_t room = sizeof b->buf - 1 - b->len;
    size_t take = len < room ? len : room;
    memcpy(b->buf + b->len, p, take);
    b->len += take;
    b->buf[b->len] = '\0';
    return len;
}

/* Sends method path?query to the server's admin endpoint. Returns the HTTP status, or -1
 * (after saying why) when there is no endpoint or no answer. The body (trimmed) in *b. */
static long admin_call(ctl_t *c, const server_t *s, const char *method, const char *path_query,
                       body_t *b)
{
    char lt[16];
    lower_type(lt, sizeof lt, s->type);
    if (s->admin_port <= 0) {
        fail("%s:%u publishes no admin endpoint (its ADMIN_ADDR is empty?)", lt, s->id);
        return -1;
    }
    const char *host = s->admin_address[0] ? s->admin_address : s->address;
    char url[700];
    if (strchr(host, ':'))
        snprintf(url, sizeof url, "http://[%s]:%d%s", host, s->admin_port, path_query);
    else
        snprintf(url, sizeof url, "http://%s:%d%s", host, s->admin_port, path_query);
    CURL *h = curl_easy_init();
    if (!h) {
        fail("curl_easy_init failed");
        return -1;
    }
    memset(b, 0, sizeof *b);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->http_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the admin endpoint is never behind a proxy */
    CURLcode rc = curl_easy_perform(h);
    long status = -1;
    if (rc != CURLE_OK)
        fail("%s %s: %s", method, url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    while (b->len && (b->buf[b->len - 1] == '\n' || b->buf[b->len - 1] == '\r'))
        b->buf[--b->len] = '\0';
    return status;
}

/* admin_call that wants HTTP status want. Returns EXIT_OK, or EXIT_FAILED after saying why:
 * "TYPE:ID: HTTP ..." or, with refused (what was asked, e.g. "the drain"), "TYPE:ID refused
 * the drain: HTTP ...". The body (trimmed) in *b either way. */
static int admin_expect(ctl_t *c, const server_t *s, const char *method, const char *path_query,
                        long want, const char *refused, body_t *b)
{
    long st = admin_call(c, s, method, path_query, b);
    if (st < 0)
        return EXIT_FAILED;
    if (st != want) {
        char lt[16];
        lower_type(lt, sizeof lt, s->type);
        if (refused)
            fail("%s:%u refused %s: HTTP %ld %s", lt, s->id, refused, st, b->buf);
        else
            fail("%s:%u: HTTP %ld %s", lt, s->id, st, b->buf);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* ---- commands ---- */

/* One option of a command: a switch (sets *flag to 1) or, with value, an option that takes
 * the next argument. */
typedef struct cmd_opt {
    const char *name;
    int *flag;
    const char **value;
} cmd_opt_t;

/* Parses a command's arguments: the options of opts (ended by a NULL name) and, when
 * positional, at most one argument that is not an option, which it returns (NULL when there
 * is none). Exits with a usage error on anything else. */
static const char *args_parse(const char *cmd_name, int argc, char **argv, const cmd_opt_t *opts,
                              int positional)
{
    const char *pos = NULL;
    for (int i = 0; i < argc; i++) {
        const cmd_opt_t *o = opts;
        while (o->name && strcmp(argv[i], o->name) != 0)
            o++;
        if (o->name && o->value && i + 1 < argc)
            *o->value = argv[++i];
        else if (o->name && o->flag)
            *o->flag = 1;
        else if (positional && !pos && argv[i][0] != '-')
            pos = argv[i];
        else
            die_usage("%s: unexpected argument \"%s\"", cmd_name, argv[i]);
    }
    return pos;
}

/* The arguments of a command whose one option is --json: returns 1 when it was given. With
 * pos, the command takes one positional argument too: in *pos (NULL when there is none). */
static int args_json(const char *cmd_name, int argc, char **argv, const char **pos)
{
    int json = 0;
    const cmd_opt_t opts[] = {{"--json", &json, NULL}, {NULL, NULL, NULL}};
    const char *p = args_parse(cmd_name, argc, argv, opts, pos != NULL);
    if (pos)
        *pos = p;
    return json;
}

static int want_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

static const char STATUS_HELP[] =
    "usage: clusterctl [global options] status [--json]\n"
    "  Lists every live server of the registry (its hash exists): type, id, address, client or\n"
    "  link port, admin endpoint, status, games, players, heartbeat age in ms, version; gateway\n"
    "  workers (GATEWAY_WORKERS) grouped by supervisor, with \"worker N of HOST/PID\".\n"
    "  --json  one JSON array of objects instead of the table\n";

static int cmd_status(ctl_t *c, int argc, char **argv)
{
    int json = args_json("status", argc, argv, NULL);
    server_t *v;
    size_t n = servers_list(c, &v);
    uint64_t now = wall_ms();
    if (json) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
            const server_t *s = &v[i];
            long long age = s->heartbeat ? (long long)(now - s->heartbeat) : -1;
            printf("%s\n  {\"type\":", i ? "," : "");
            json_str(stdout, s->type);
            printf(",\"id\":%u,\"address\":", s->id);
            json_str(stdout, s->address);
            printf(",\"port\":%d,\"admin_address\":", s->port);
            json_str(stdout, s->admin_address);
            printf(",\"admin_port\":%d,\"status\":%d,\"status_name\":\"%s\",\"games\":%d,"
                   "\"players\":%d,\"heartbeat_age_ms\":%lld,\"version\":",
                   s->admin_port, s->status, status_name(s->status), s->games, s->players, age);
            json_str(stdout, s->version);
            if (s->worker >= 0) {
                printf(",\"worker\":%d,\"worker_of\":", s->worker);
                json_str(stdout, s->worker_of);
            }
            printf("}");
        }
        printf("%s]\n", n ? "\n" : "");
    } else {
        printf("%-8s %6s  %-20s %6s  %-22s %-10s %6s %8s %13s  %s\n", "TYPE", "ID", "ADDRESS",
               "PORT", "ADMIN", "STATUS", "GAMES", "PLAYERS", "HEARTBEAT_MS", "VERSION");
        for (size_t i = 0; i < n; i++) {
            const server_t *s = &v[i];
            char lt[16], admin[300];
            lower_type(lt, sizeof lt, s->type);
            if (s->admin_port > 0)
                snprintf(admin, sizeof admin, "%s:%d", s->admin_address[0] ? s->admin_address : s->address,
                         s->admin_port);
            else
                snprintf(admin, sizeof admin, "-");
            long long age = s->heartbeat ? (long long)(now - s->heartbeat) : -1;
            char worker[360] = "";
            if (s->worker >= 0)
                snprintf(worker, sizeof worker, "  worker %d of %s", s->worker, s->worker_of);
            printf("%-8s %6u  %-20s %6d  %-22s %-10s %6d %8d %13lld  %s%s\n", lt, s->id, s->address,
                   s->port, admin, status_name(s->status), s->games, s->players, age, s->version, worker);
        }
    }
    free(v);
    return EXIT_OK;
}

static const char DRAIN_HELP[] =
    "usage: clusterctl [global options] drain ID|TYPE:ID [--timeout S] [--no-wait]\n"
    "  Asks the daemon's admin endpoint to stop gracefully (POST /drain, as SIGTERM does):\n"
    "  it turns draining in the registry, gateways stop sending it new work, requests in flight\n"
    "  and running matches finish, then it deregisters and exits. Waits until it has left the\n"
    "  registry. TYPE is gateway, lobby or game; needed when the id exists in several types.\n"
    "  --timeout S  give up waiting after S seconds (default 120); exit 1\n"
    "  --no-wait    return once the daemon accepted the drain\n";

static int cmd_drain(ctl_t *c, int argc, char **argv)
{
    const char *timeout = NULL;
    int no_wait = 0;
    const cmd_opt_t opts[] = {
        {"--timeout", NULL, &timeout}, {"--no-wait", &no_wait, NULL}, {NULL, NULL, NULL}};
    const char *spec = args_parse("drain", argc, argv, opts, 1);
    double timeout_s = timeout ? atof(timeout) : 120;
    if (!spec)
        die_usage("drain: which server? (ID or TYPE:ID)");
    server_t s;
    int rc = server_find(c, spec, &s);
    if (rc)
        return rc;
    char lt[16];
    lower_type(lt, sizeof lt, s.type);
    body_t b;
    uint64_t t0 = wall_ms();
    if (admin_expect(c, &s, "POST", "/drain", 202, "the drain", &b))
        return EXIT_FAILED;
    printf("%s:%u draining\n", lt, s.id);
    if (no_wait)
        return EXIT_OK;
    uint64_t deadline = t0 + (uint64_t)(timeout_s * 1000);
    while (server_alive(c, &s)) {
        if (wall_ms() >= deadline) {
            fail("%s:%u still registered after %.0f s", lt, s.id, timeout_s);
            return EXIT_FAILED;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("%s:%u drained and deregistered after %llu ms\n", lt, s.id,
           (unsigned long long)(wall_ms() - t0));
    return EXIT_OK;
}

static const char LOG_LEVEL_HELP[] =
    "usage: clusterctl [global options] log-level ID|TYPE:ID [LEVEL]\n"
    "  Sets the daemon's log level (debug, info, warn, error) at once, without a restart\n"
    "  (PUT /log-level?level=LEVEL); without LEVEL prints the current one.\n";

static int cmd_log_level(ctl_t *c, int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        die_usage("log-level: ID|TYPE:ID [LEVEL]");
    const char *level = argc == 2 ? argv[1] : NULL;
    if (level && strcmp(level, "debug") && strcmp(level, "info") && strcmp(level, "warn") &&
        strcmp(level, "error"))
        die_usage("log-level: LEVEL must be debug, info, warn or error");
    server_t s;
    int rc = server_find(c, argv[0], &s);
    if (rc)
        return rc;
    char path[64], lt[16];
    lower_type(lt, sizeof lt, s.type);
    snprintf(path, sizeof path, "/log-level%s%s", level ? "?level=" : "", level ? level : "");
    body_t b;
    if (admin_expect(c, &s, level ? "PUT" : "GET", path, 200, NULL, &b))
        return EXIT_FAILED;
    printf("%s:%u log level %s\n", lt, s.id, b.buf);
    return EXIT_OK;
}

static const char KICK_HELP[] =
    "usage: clusterctl [global options] kick USER [--reason TEXT]\n"
    "  Disconnects a player: USER is a user id or a username (case-insensitive). Finds the\n"
    "  user's gateway and session in Redis (user:<uid>) and asks that gateway's admin endpoint\n"
    "  (POST /kick) to push KICKED(reason) and close the connection. Exit 1 when the user is\n"
    "  unknown or not online.\n";

static int cmd_kick(ctl_t *c, int argc, char **argv)
{
    const char *reason = NULL;
    const cmd_opt_t opts[] = {{"--reason", NULL, &reason}, {NULL, NULL, NULL}};
    const char *who = args_parse("kick", argc, argv, opts, 1);
    if (!who)
        die_usage("kick: which user?");
    user_t u;
    if (user_lookup(c, who, &u))
        return EXIT_FAILED;
    uint64_t uid = u.uid;
    if (!u.online || !u.gw || !u.sid) {
        fail("user %s (id %llu) is not online", u.name, (unsigned long long)uid);
        return EXIT_FAILED;
    }
    server_t gw;
    if (server_read(c, "Gateway", u.gw, &gw) < 0) {
        fail("user %s is on gateway %u, which is not in the registry any more", u.name, u.gw);
        return EXIT_FAILED;
    }
    char path[600];
    int n = snprintf(path, sizeof path, "/kick?session=%llu", (unsigned long long)u.sid);
    if (reason) {
        CURL *h = curl_easy_init();
        char *esc = h ? curl_easy_escape(h, reason, 0) : NULL;
        if (esc)
            snprintf(path + n, sizeof path - (size_t)n, "&reason=%s", esc);
        curl_free(esc);
        if (h)
            curl_easy_cleanup(h);
    }
    body_t b;
    if (admin_expect(c, &gw, "POST", path, 200, NULL, &b))
        return EXIT_FAILED;
    printf("kicked user %s (id %llu) from gateway:%u session %llu\n", u.name,
           (unsigned long long)uid, gw.id, (unsigned long long)u.sid);
    return EXIT_OK;
}

static const char WHO_HELP[] =
    "usage: clusterctl [global options] who USER [--json]\n"
    "  Where a player is: USER is a user id or a username (case-insensitive). Prints the user\n"
    "  id and name, online or not, the gateway id and session, the room and its status, and the\n"
    "  match id and game server id when the room is in a match.\n";

static int cmd_who(ctl_t *c, int argc, char **argv)
{
    const char *who;
    int json = args_json("who", argc, argv, &who);
    if (!who)
        die_usage("who: which user?");
    user_t u;
    if (user_lookup(c, who, &u))
        return EXIT_FAILED;
    uint64_t uid = u.uid;
    int room_status = 0;
    uint64_t match = 0;
    uint32_t game = 0;
    char room_name[128] = "";
    if (u.room) {
        redisReply *r = ctl_cmd(c, "HMGET %s status match game name", key_room(c->prefix, u.room).s);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
            room_status = r->element[0]->str ? atoi(r->element[0]->str) : 0;
            match = r->element[1]->str ? strtoull(r->element[1]->str, NULL, 10) : 0;
            game = r->element[2]->str ? (uint32_t)strtoul(r->element[2]->str, NULL, 10) : 0;
            if (r->element[3]->str)
                snprintf(room_name, sizeof room_name, "%s", r->element[3]->str);
        }
        freeReplyObject(r);
    }
    const char *rs = !u.room ? "" : room_status == 2 ? "in_game" : room_status == 1 ? "waiting" : "gone";
    int in_match = room_status == 2 && match;
    if (json) {
        printf("{\"user_id\":%llu,\"name\":", (unsigned long long)uid);
        json_str(stdout, u.name);
        printf(",\"online\":%s,\"gateway\":%u,\"session\":%llu,\"room\":%llu,\"room_name\":",
               u.online ? "true" : "false", u.online ? u.gw : 0,
               (unsigned long long)(u.online ? u.sid : 0), (unsigned long long)u.room);
        json_str(stdout, room_name);
        printf(",\"room_status\":\"%s\",\"match\":%llu,\"game_server\":%u}\n", rs,
               (unsigned long long)(in_match ? match : 0), in_match ? game : 0);
        return EXIT_OK;
    }
    printf("user      %llu %s\n", (unsigned long long)uid, u.name);
    if (u.online)
        printf("online    yes: gateway:%u session %llu\n", u.gw, (unsigned long long)u.sid);
    else
        printf("online    no\n");
    if (u.room)
        printf("room      %llu \"%s\" (%s)\n", (unsigned long long)u.room, room_name, rs);
    else
        printf("room      none\n");
    if (in_match)
        printf("match     %llu on game:%u\n", (unsigned long long)match, game);
    else
        printf("match     none\n");
    return EXIT_OK;
}

static const char RELOAD_TLS_HELP[] =
    "usage: clusterctl [global options] reload-tls [ID]\n"
    "  Makes every gateway (or gateway ID) load its TLS_CERT_FILE and TLS_KEY_FILE again\n"
    "  (POST /reload-tls), without a restart: new TLS and wss connections use the new\n"
    "  certificate, open ones keep theirs. A file that fails to load leaves the previous\n"
    "  certificate in use; the error is printed. Exit 1 when any gateway failed.\n";

static int cmd_reload_tls(ctl_t *c, int argc, char **argv)
{
    if (argc > 1)
        die_usage("reload-tls: [ID]");
    uint32_t only = 0;
    if (argc == 1) {
        const char *spec = argv[0];
        if (strncasecmp(spec, "gateway:", 8) == 0)
            spec += 8;
        if (!all_digits(spec) || !(only = (uint32_t)strtoul(spec, NULL, 10)))
            die_usage("reload-tls: ID must be a gateway id");
    }
    server_t *v;
    size_t n = servers_list(c, &v);
    int tried = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].type, "Gateway") != 0 || (only && v[i].id != only))
            continue;
        tried++;
        body_t b;
        if (admin_expect(c, &v[i], "POST", "/reload-tls", 200, NULL, &b) == EXIT_OK)
            printf("gateway:%u %s\n", v[i].id, b.buf);
        else
            failed++;
    }
    free(v);
    if (!tried) {
        fail(only ? "no live gateway %u" : "no live gateway%.0u", only);
        return EXIT_FAILED;
    }
    return failed ? EXIT_FAILED : EXIT_OK;
}

static const char RELOAD_HELP[] =
    "usage: clusterctl [global options] reload-modules [ID]\n"
    "  Has game daemon ID (default: every live game daemon) read its GAME_MODULES_DIR again\n"
    "  (POST /reload-modules): new matches use the files as they are now, running matches\n"
    "  finish on the version they started with, a file that fails to load leaves the previous\n"
    "  version serving, a removed file's mode is no longer served. Prints each daemon's report,\n"
    "  one line per mode. Exit 1 when a daemon failed to load a file or could not be asked.\n";

/* One game daemon's reload; returns EXIT_OK or EXIT_FAILED. */
static int reload_one(ctl_t *c, const server_t *s)
{
    body_t b;
    long st = admin_call(c, s, "POST", "/reload-modules", &b);
    if (st < 0)
        return EXIT_FAILED;
    printf("game:%u HTTP %ld\n%s%s", s->id, st, b.buf, b.len && b.buf[b.len - 1] != '\n' ? "\n" : "");
    if (st != 200) {
        fail("game:%u: some modules failed to load (the previous versions keep serving)", s->id);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int cmd_reload_modules(ctl_t *c, int argc, char **argv)
{
    if (argc > 1)
        die_usage("reload-modules: [ID]");
    if (argc == 1) {
        char spec[64];
        snprintf(spec, sizeof spec, "%s%s", strchr(argv[0], ':') ? "" : "game:", argv[0]);
        server_t s;
        int rc = server_find(c, spec, &s);
        return rc ? rc : reload_one(c, &s);
    }
    server_t *v;
    size_t n = servers_list(c, &v), games = 0;
    int rc = EXIT_OK;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].type, "Game") == 0) {
            games++;
            if (reload_one(c, &v[i]) != EXIT_OK)
                rc = EXIT_FAILED;
        }
    free(v);
    if (!games) {
        fail("no live game daemon");
        return EXIT_FAILED;
    }
    return rc;
}

static const char HELP[] =
    "usage: clusterctl [global options] COMMAND [args]   (COMMAND --help for its own help)\n"
    "The game server cluster's operator tool: reads the Redis registry and talks to the\n"
    "daemons' admin endpoints (ADMIN_ADDR), never to a client port.\n"
    "\n"
    "commands:\n"
    "  status [--json]                 every live server of the registry\n"
    "  drain ID|TYPE:ID [--timeout S]  graceful stop of one daemon; waits until it deregistered\n"
    "  kick USER [--reason TEXT]       disconnect a player (user id or username)\n"
    "  who USER [--json]               where a player is connected and playing\n"
    "  log-level ID|TYPE:ID [LEVEL]    show or set a daemon's log level\n"
    "  reload-tls [ID]                 reload the gateways' TLS certificate and key\n"
    "  reload-modules [ID]             game daemons load their game modules again\n"
    "  web [--listen ADDR] [--static DIR]  the live cluster page (CONSOLE_TOKEN beyond loopback)\n"
    "\n"
    "global options (before COMMAND):\n"
    "  --redis-url URL    redis://[:pw@]host[:port][/db] (env REDIS_URL; default redis://127.0.0.1:6379)\n"
    "  --redis-prefix P   key prefix of the cluster (env REDIS_PREFIX; default none)\n"
    "  --redis-sentinels LIST  host:port,... of Redis Sentinels to ask for the master (env\n"
    "                     REDIS_SENTINELS; default none: the URL's host)\n"
    "  --redis-master-name N  the master's name in Sentinel (env REDIS_MASTER_NAME; default cluster)\n"
    "  (the daemons' flags; --prefix, --sentinels and --master-name are their old names here)\n"
    "  --http-timeout-ms N  admin endpoint timeout (default 5000)\n"
    "  --version          print the version and exit\n"
    "\n"
    "exit status: 0 done, 1 failed (not found, refused, timed out), 2 usage error\n";

int main(int argc, char **argv)
{
    ctl_t c = {
        .redis_url = getenv("REDIS_URL") && *getenv("REDIS_URL") ? getenv("REDIS_URL") : "redis://127.0.0.1:6379",
        .prefix = getenv("REDIS_PREFIX") ? getenv("REDIS_PREFIX") : "",
        .sentinels = getenv("REDIS_SENTINELS") ? getenv("REDIS_SENTINELS") : "",
        .master_name = getenv("REDIS_MASTER_NAME") && *getenv("REDIS_MASTER_NAME") ? getenv("REDIS_MASTER_NAME") : "cluster",
        .http_timeout_ms = 5000,
    };
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--redis-url") == 0 && i + 1 < argc) {
            c.redis_url = argv[++i];
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("clusterctl %s\n", CLUSTER_VERSION);
            return EXIT_OK;
        } else if ((strcmp(argv[i], "--redis-prefix") == 0 || strcmp(argv[i], "--prefix") == 0) &&
                   i + 1 < argc) {
            c.prefix = argv[++i];
        } else if ((strcmp(argv[i], "--redis-sentinels") == 0 || strcmp(argv[i], "--sentinels") == 0) &&
                   i + 1 < argc) {
            c.sentinels = argv[++i];
        } else if ((strcmp(argv[i], "--redis-master-name") == 0 || strcmp(argv[i], "--master-name") == 0) &&
                   i + 1 < argc) {
            c.master_name = argv[++i];
        } else if (strcmp(argv[i], "--http-timeout-ms") == 0 && i + 1 < argc) {
            c.http_timeout_ms = atoi(argv[++i]);
            if (c.http_timeout_ms <= 0)
                die_usage("--http-timeout-ms must be positive");
        } else {
            die_usage("unknown option \"%s\"", argv[i]);
        }
    }
    if (i == argc)
        die_usage("no command");
    const char *name = argv[i];
    int cargc = argc - i - 1;
    char **cargv = argv + i + 1;
    static const struct {
        const char *name;
        int (*fn)(ctl_t *, int, char **);
        const char *help;
    } COMMANDS[] = {
        {"status", cmd_status, STATUS_HELP},
        {"drain", cmd_drain, DRAIN_HELP},
        {"kick", cmd_kick, KICK_HELP},
        {"who", cmd_who, WHO_HELP},
        {"log-level", cmd_log_level, LOG_LEVEL_HELP},
        {"reload-tls", cmd_reload_tls, RELOAD_TLS_HELP},
        {"reload-modules", cmd_reload_modules, RELOAD_HELP},
        {"web", cmd_web, WEB_HELP},
    };
    for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++) {
        if (strcmp(name, COMMANDS[k].name) != 0)
            continue;
        if (want_help(cargc, cargv)) {
            fputs(COMMANDS[k].help, stdout);
            return EXIT_OK;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            fail("curl_global_init failed");
            return EXIT_FAILED;
        }
        c.rc = ctl_redis_open(&c);
        int rc = COMMANDS[k].fn(&c, cargc, cargv);
        redisFree(c.rc);
        curl_global_cleanup();
        return rc;
    }
    die_usage("unknown command \"%s\"", name);
}

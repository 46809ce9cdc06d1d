/* Load: 1,000 concurrent bot clients doing ECHO through one gateway; every response must match
 * its request's seq and payload (the bot checks each one and fails otherwise). */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo_util.h"

/* Reads "key": <integer> from a small JSON file written by the bot. */
static long long json_int(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    char *p = strstr(buf, pat);
    CHECK(p != NULL);
    return strtoll(p + strlen(pat), NULL, 10);
}

static int run_bot(int port, const char *bots, const char *duration, const char *pipeline,
                   const char *json)
{
    char gwaddr[64];
    snprintf(gwaddr, sizeof gwaddr, "127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(BOT_PATH, "bot", "--scenario", "echo", "--gateway", gwaddr, "--bots", bots,
              "--duration", duration, "--pipeline", pipeline, "--target", "game", "--payload",
              "64", "--json", json, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    h_init("load");
    int port;
    /* Default gateway limits: the bots stay within the per-session rate. */
    proc_t *g1, *g2;
    proc_t *gw = h_spawn_gateway_games(&port, NULL, NULL, &g1, &g2, 5000);

    char json[512];
    snprintf(json, sizeof json, "%s/load.json", h_dir());
    int rc = run_bot(port, "1000", "5", "1", json);
    long long connected = json_int(json, "connected");
    long long ok = json_int(json, "responses_ok");
    long long sent = json_int(json, "requests_sent");
    long long mism = json_int(json, "mismatches");
    long long errors = json_int(json, "errors");
    printf("1000 bots: exit %d, connected %lld, sent %lld, ok %lld, mismatches %lld, errors %lld\n",
           rc, connected, sent, ok, mism, errors);
    CHECK_EQ(rc, 0);
    CHECK_EQ(connected, 1000);
    CHECK_EQ(mism, 0);
    CHECK_EQ(errors, 0);
    CHECK(ok > 1000);
    /* The load was spread over both game daemons. */
    CHECK(h_log_count(gw, "event=link_up") == 2);
    CHECK(h_alive(gw) && h_alive(g1) && h_alive(g2));
    printf("load: passed\n");
    return 0;
}

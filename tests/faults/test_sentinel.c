/* test_sentinel: the Redis master killed under Sentinel while bots log in and play.
 *
 * A master (the harness's Redis), one replica and three Sentinels (quorum 2, master down after
 * 1 s); two gateways, two lobbies and two game daemons given only REDIS_SENTINELS and
 * REDIS_MASTER_NAME; 16 bots playing quick matches. The master is killed -9; from that moment
 * a probe tries, every 200 ms, to log two fresh players in and get them a match (LOGIN,
 * QUICK_MATCH, MATCH_START from the game daemon), and registers a new account. Checks: logins
 * and placement work again within 10 s of the failover (the time is printed), every daemon is
 * registered on the new master, every account registered before and during the outage logs in
 * afterwards, and every match a game daemon started has exactly one record in PostgreSQL (no
 * match id handed out twice, none lost). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "faults_util.h"

#define NSENT 3
#define NPROBE 120

static int sent_port[NSENT], replica_port, master_port;
static char sentinels_env[200];
static char tag[8];

static redisContext *redis_at(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

/* The master's port as Sentinel i sees it, 0 if it does not answer. */
static int sentinel_master_port(int i)
{
    redisContext *c = redis_at(sent_port[i]);
    if (!c)
        return 0;
    redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name cluster");
    int port = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return port;
}

/* Sentinel i's view of the master: the number of other Sentinels and of replicas it knows. */
static void sentinel_view(int i, int *others, int *replicas)
{
    *others = *replicas = -1;
    redisContext *c = redis_at(sent_port[i]);
    if (!c)
        return;
    redisReply *r = redisCommand(c, "SENTINEL master cluster");
    for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k + 1 < r->elements; k += 2) {
        if (strcmp(r->element[k]->str, "num-other-sentinels") == 0)
            *others = atoi(r->element[k + 1]->str);
        else if (strcmp(r->element[k]->str, "num-slaves") == 0)
            *replicas = atoi(r->element[k + 1]->str);
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
}

static void start_topology(void)
{
    master_port = h_redis_port();
    replica_port = h_free_port();
    char port[16], master[16], rdb[32];
    snprintf(port, sizeof port, "%d", replica_port);
    snprintf(master, sizeof master, "%d", master_port);
    snprintf(rdb, sizeof rdb, "replica-%d.rdb", replica_port);
    const char *rargs[] = {"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", h_dir(), "--dbfilename", rdb, "--replicaof", "127.0.0.1", master, NULL};
    h_spawn_argv("/usr/bin/redis-server", "replica", rargs);
    size_t off = 0;
    for (int i = 0; i < NSENT; i++) {
        sent_port[i] = h_free_port();
        char conf[300];
        snprintf(conf, sizeof conf, "%s/sentinel%d.conf", h_dir(), i + 1);
        FILE *f = fopen(conf, "w");
        CHECK(f != NULL);
        fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n"
                   "sentinel monitor cluster 127.0.0.1 %d 2\n"
                   "sentinel down-after-milliseconds cluster 1000\n"
                   "sentinel failover-timeout cluster 10000\n"
                   "sentinel parallel-syncs cluster 1\n",
                sent_port[i], h_dir(), master_port);
        fclose(f);
        const char *sargs[] = {conf, NULL};
        char name[16];
        snprintf(name, sizeof name, "sentinel%d", i + 1);
        h_spawn_argv("/usr/bin/redis-sentinel", name, sargs);
        off += (size_t)snprintf(sentinels_env + off, sizeof sentinels_env - off, "%s127.0.0.1:%d",
                                i ? "," : "REDIS_SENTINELS=", sent_port[i]);
    }
    /* every Sentinel knows the two others and the replica (hello messages every 2 s) */
    uint64_t t0 = h_now_ms();
    for (;;) {
        int ready = 1;
        for (int i = 0; i < NSENT; i++) {
            int others, replicas;
            sentinel_view(i, &others, &replicas);
            ready = ready && others == NSENT - 1 && replicas == 1 && sentinel_master_port(i) == master_port;
        }
        if (ready)
            break;
        if (h_now_ms() - t0 > 30000) {
            fprintf(stderr, "the Sentinels never saw each other and the replica\n");
            h_fail();
        }
        h_sleep_ms(200);
    }
}

/* Waits for a push of type want (others skipped); 0 when it came. */
static int wait_push_type(csync_t *s, uint16_t want, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while ((int)(h_now_ms() - t0) < timeout_ms) {
        uint16_t t;
        uint8_t *p;
        size_t n;
        if (csync_wait_push(s, &t, &p, &n, timeout_ms - (int)(h_now_ms() - t0)) != 0)
            return -1;
        xfree(p);
        if (t == want)
            return 0;
    }
    return -1;
}

static void probe_name(char *out, size_t n, int i) { snprintf(out, n, "pr%s_%d", tag, i); }

/* Two fresh players through the two gateways: LOGIN, QUICK_MATCH, MATCH_START. 0 on success. */
static int probe(const fcluster_t *c, int pair)
{
    csync_t *s[2] = {csync_connect("127.0.0.1", c->port[0], 1000),
                     csync_connect("127.0.0.1", c->port[1], 1000)};
    int ok = s[0] && s[1];
    for (int i = 0; ok && i < 2; i++) {
        char name[32];
        probe_name(name, sizeof name, 2 * pair + i);
        fres_t r = fc_login(s[i], name, "probe-password");
        ok = r.type == PACKET_TYPE__LOGIN_RESPONSE;
        fres_free(&r);
    }
    for (int i = 0; ok && i < 2; i++) {
        QuickMatchRequest q = QUICK_MATCH_REQUEST__INIT;
        fres_t r = fc_call(s[i], PACKET_TYPE__QUICK_MATCH_REQUEST, &q.base, 2000);
        ok = r.type == PACKET_TYPE__QUICK_MATCH_RESPONSE;
        fres_free(&r);
    }
    ok = ok && wait_push_type(s[0], PACKET_TYPE__MATCH_START, 3000) == 0;
    csync_close(s[0]);
    csync_close(s[1]);
    return ok ? 0 : -1;
}

/* The ids of the matches a game daemon logged as started (appended to ids). */
static int started_ids(proc_t *p, unsigned long long *ids, int n, int cap)
{
    FILE *f = fopen(p->log, "r");
    CHECK(f != NULL);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *e = strstr(line, "event=match_started ");
        const char *m = e ? strstr(e, " match=") : NULL;
        if (m && n < cap)
            ids[n++] = strtoull(m + 7, NULL, 10);
    }
    fclose(f);
    return n;
}

/* On the new master: every daemon's id in its list with a live hash. */
static void check_registered(redisContext *nm, proc_t *p, const char *type)
{
    uint32_t id = h_server_id(p);
    CHECK(id != 0);
    redisReply *r = redisCommand(nm, "EXISTS %sServer:%s:%u", h_prefix(), type, id);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = redisCommand(nm, "LPOS %sServer:%s %u", h_prefix(), type, id);
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

/* The bot playing quick matches through both gateways (a real load while Redis fails). */
static proc_t *start_bots(const fcluster_t *c, const char *bots, const char *secs)
{
    static char gws[64], json[300], prefix[32];
    snprintf(gws, sizeof gws, "127.0.0.1:%d,127.0.0.1:%d", c->port[0], c->port[1]);
    snprintf(json, sizeof json, "%s/bot.json", h_dir());
    snprintf(prefix, sizeof prefix, "sb%s_", tag);
    const char *bargs[] = {"--scenario", "match", "--bots", bots, "--duration", secs, "--gateway", gws,
                           "--quiet", "--json", json, "--user-prefix", prefix, NULL};
    return h_spawn_argv(BOT_PATH, "bot", bargs);
}

typedef struct outage {
    long long failover_ms, back_ms; /* kill -> promotion, promotion -> a probe worked */
    int attempts, during;
    char during_names[64][32];      /* accounts registered while the master was down */
} outage_t;

/* Kills the master and probes every 200 ms until logins and placement work again after the
 * failover; registers an account on each round. */
static void kill_and_probe(const fcluster_t *c, csync_t *reg, outage_t *o)
{
    uint64_t t_kill = h_now_ms(), t_failover = 0, t_ok = 0;
    h_redis_stop(); /* kill -9 of the master */
    int pair = 1;
    while (!t_ok && h_now_ms() - t_kill < 40000) {
        for (int i = 0; i < NSENT && !t_failover; i++)
            if (sentinel_master_port(i) == replica_port)
                t_failover = h_now_ms();
        if (o->during < 64) { /* an account registered during the outage (PostgreSQL only) */
            char *name = o->during_names[o->during];
            snprintf(name, sizeof o->during_names[0], "du%s_%d", tag, o->during);
            RegisterRequest rq = REGISTER_REQUEST__INIT;
            rq.username = name;
            rq.password = (char *)"during-password";
            fres_t r = fc_call(reg, PACKET_TYPE__REGISTER_REQUEST, &rq.base, 2000);
            o->during += r.type == PACKET_TYPE__REGISTER_RESPONSE;
            fres_free(&r);
        }
        o->attempts++;
        if (pair < NPROBE / 2 && probe(c, pair++) == 0 && t_failover)
            t_ok = h_now_ms();
        else
            h_sleep_ms(200);
    }
    if (!t_failover || !t_ok)
        fprintf(stderr, "failover after %lld ms, probe ok after %lld ms (%d attempts)\n",
                t_failover ? (long long)(t_failover - t_kill) : -1LL,
                t_ok ? (long long)(t_ok - t_kill) : -1LL, o->attempts);
    CHECK(t_failover != 0);
    CHECK(t_ok != 0);
    o->failover_ms = (long long)(t_failover - t_kill);
    o->back_ms = (long long)(t_ok - t_failover);
    CHECK(o->back_ms <= 10000);
}

/* Every daemon found the new master through Sentinel (REDIS_URL names the dead one) and is
 * registered there; then waits until no match runs. */
static void check_new_master(const fcluster_t *c, redisContext *nm)
{
    char found[128];
    snprintf(found, sizeof found, "event=redis_sentinel_master conn=registry master=cluster host=127.0.0.1 port=%d ",
             replica_port);
    proc_t *all_procs[] = {c->gw[0], c->gw[1], c->lobby[0], c->lobby[1], c->game[0], c->game[1]};
    for (int i = 0; i < 6; i++) {
        if (h_log_count(all_procs[i], found) < 1)
            fprintf(stderr, "%s never found the new master through Sentinel\n", all_procs[i]->name);
        CHECK(h_log_count(all_procs[i], found) >= 1);
        /* and heard +switch-master on its Sentinel subscription */
        CHECK(h_log_count(all_procs[i], "event=redis_switch_master conn=registry master=cluster") >= 1);
    }
    for (int i = 0; i < 2; i++) {
        check_registered(nm, c->gw[i], "Gateway");
        check_registered(nm, c->lobby[i], "Lobby");
        check_registered(nm, c->game[i], "Game");
    }
    uint64_t t_idle = h_now_ms();
    for (int busy = 1; busy && h_now_ms() - t_idle < 30000;) {
        busy = 0;
        for (int i = 0; i < 2; i++) {
            redisReply *r = redisCommand(nm, "SCARD %sgame:%u:matches", h_prefix(), h_server_id(c->game[i]));
            busy += r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
            if (r)
                freeReplyObject(r);
        }
        h_sleep_ms(200);
    }
    h_sleep_ms(1000); /* the last records' transactions */
}

/* clusterctl finds the new master through the Sentinels too (REDIS_URL names the dead one)
 * and lists the six daemons. */
static void check_clusterctl(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "REDIS_URL=redis://127.0.0.1:%d REDIS_PREFIX='%s' %s --sentinels '%s' --master-name cluster status --json",
             master_port, h_prefix(), CLUSTERCTL_PATH, sentinels_env + strlen("REDIS_SENTINELS="));
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[1024];
    int servers = 0;
    while (fgets(line, sizeof line, f))
        servers += strstr(line, "\"type\":") != NULL;
    int st = pclose(f);
    if (st != 0 || servers != 6)
        fprintf(stderr, "clusterctl --sentinels: exit %d, %d servers listed\n", st, servers);
    CHECK_EQ(st, 0);
    CHECK_EQ(servers, 6);
}

/* Every account, registered before or during the outage, logs in. */
static void check_accounts(const fcluster_t *c, const outage_t *o)
{
    for (int i = 0; i < NPROBE + o->during; i++) {
        char name[32];
        if (i < NPROBE)
            probe_name(name, sizeof name, i);
        else
            snprintf(name, sizeof name, "%s", o->during_names[i - NPROBE]);
        csync_t *s = fc_connect(c, 0);
        fres_t r = fc_login(s, name, i < NPROBE ? "probe-password" : "during-password");
        CHECK_EQ(r.type, PACKET_TYPE__LOGIN_RESPONSE);
        fres_free(&r);
        csync_close(s);
    }
}

/* Every match a game daemon started has a distinct id and exactly one record. Returns how
 * many matches. */
static int check_records(const fcluster_t *c)
{
    static unsigned long long ids[4096];
    int n = started_ids(c->game[0], ids, 0, 4096);
    n = started_ids(c->game[1], ids, n, 4096);
    CHECK(n > 0);
    int dup = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            dup += ids[i] == ids[j];
    CHECK_EQ(dup, 0);
    long long missing = 0;
    for (int i = 0; i < n; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM matches WHERE id = %llu", ids[i]);
        long long rows = h_psql_num(sql);
        if (rows != 1)
            fprintf(stderr, "match %llu: %lld records\n", ids[i], rows);
        missing += rows != 1;
    }
    CHECK_EQ(missing, 0);
    return n;
}

int main(void)
{
    h_init("sentinel");
    snprintf(tag, sizeof tag, "%x", (unsigned)getpid() & 0xfffffu);
    h_pg_start();
    start_topology();
    const char *all[] = {sentinels_env, "REDIS_MASTER_NAME=cluster", NULL};
    fcluster_t c;
    fc_up_bots(&c, "sent", 2, all);

    csync_t *reg = fc_connect(&c, 0);
    for (int i = 0; i < NPROBE; i++) {
        char name[32];
        probe_name(name, sizeof name, i);
        fc_register(reg, name, "probe-password");
    }
    CHECK_EQ(probe(&c, 0), 0); /* the probe works before the fault */
    proc_t *bot = start_bots(&c, "16", "30");
    h_sleep_ms(8000); /* the bots log in and play */

    static outage_t o;
    kill_and_probe(&c, reg, &o);
    csync_close(reg);
    CHECK(h_wait_exit(bot, 90000) >= 0); /* the bots finish; matches end (6 s limit) */
    redisContext *nm = redis_at(replica_port);
    CHECK(nm != NULL);
    check_new_master(&c, nm);
    check_clusterctl();
    check_accounts(&c, &o);
    int n = check_records(&c);
    redisFree(nm);
    fc_down(&c);
    printf("ok sentinel failover under 16 playing bots: master killed -9; Sentinel promoted the "
           "replica after %lld ms; logins and placement (LOGIN + QUICK_MATCH + MATCH_START) worked "
           "again %lld ms after the failover (%lld ms after the kill, %d probes); 6 daemons "
           "registered on the new master (clusterctl --sentinels lists them); %d accounts registered before and %d during the outage "
           "log in; %d matches started, ids distinct, each with exactly one record\n",
           o.failover_ms, o.back_ms, o.failover_ms + o.back_ms, o.attempts, NPROBE, o.during, n);
    printf("test_sentinel: ok\n");
    return 0;
}

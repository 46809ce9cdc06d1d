/* test_records_durable: finished match records survive their game daemon while PostgreSQL is
 * down (docs/faults.md, "Durable match records"). 8 bots play 1.5 s matches on game daemon A;
 * PostgreSQL is stopped; once at least 20 finished matches wait in Redis (records:pending), A
 * is killed -9 (case "kill") or stopped with SIGTERM (case "term") while matches run; then
 * PostgreSQL comes back and a fresh game daemon B is started. Checked: every finished match is
 * in PostgreSQL exactly once with its own outcome, every match that was running on A exactly
 * once as 'aborted', records:pending empties, and A logged the outage once with its count
 * (match_records_waiting), not a line per record per second. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "faults_util.h"

#define MAXM 4096
#define h_die(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), h_fail())

typedef struct idset {
    unsigned long long id[MAXM];
    int n;
} idset_t;

/* The ids a command (SMEMBERS, HKEYS) lists under <prefix><key>. */
static void redis_ids(idset_t *s, const char *cmd, const char *key)
{
    redisReply *r = redisCommand(h_redis(), "%s %s%s", cmd, h_prefix(), key);
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    s->n = 0;
    for (size_t i = 0; i < r->elements && s->n < MAXM; i++)
        s->id[s->n++] = strtoull(r->element[i]->str, NULL, 10);
    freeReplyObject(r);
}

static long long hlen_pending(void)
{
    redisReply *r = redisCommand(h_redis(), "HLEN %srecords:pending", h_prefix());
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static unsigned registered_game(void)
{
    redisReply *r = redisCommand(h_redis(), "LRANGE %sServer:Game 0 -1", h_prefix());
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1);
    unsigned id = (unsigned)strtoul(r->element[r->elements - 1]->str, NULL, 10);
    freeReplyObject(r);
    return id;
}

/* Rows of match `id` in PostgreSQL, and its outcome into out. */
static int pg_rows(PGconn *db, unsigned long long id, char *out, size_t n)
{
    char q[160];
    snprintf(q, sizeof q, "SELECT outcome, (SELECT count(*) FROM match_players WHERE match_id = %llu) "
             "FROM matches WHERE id = %llu", id, id);
    PGresult *res = PQexec(db, q);
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    int rows = PQntuples(res);
    if (rows == 1) {
        snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
        CHECK(atoi(PQgetvalue(res, 0, 1)) >= 2); /* every player row with it */
    }
    PQclear(res);
    return rows;
}

static void run_case(const char *tag, int sig)
{
    const char *game_env[] = {"MATCH_TIME_LIMIT_MS=1500", "MATCH_WAVES=100", "DRAIN_TIMEOUT_MS=300", NULL};
    fcluster_t c;
    fc_up(&c, tag, 1, 1, 1, NULL, game_env, NULL);
    CHECK(h_wait_registered("Game", 1, 20000) >= 0);
    unsigned a = registered_game();
    char gw[64], json[512];
    snprintf(gw, sizeof gw, "127.0.0.1:%d", c.port[0]);
    snprintf(json, sizeof json, "%s/bot-%s.json", h_dir(), tag);
    const char *args[] = {"--scenario", "match", "--gateway", gw, "--bots", "8", "--duration", "120",
                          "--json", json, NULL};
    proc_t *bot = h_spawn_argv(BOT_PATH, "bot", args);

    /* playing, then PostgreSQL goes away */
    if (h_wait_log(c.game[0], "event=match_recorded", 2, 30000) < 0)
        h_die("no match recorded within 30 s of the bots starting");
    h_pg_stop();
    uint64_t t0 = h_now_ms();
    while (hlen_pending() < 20) {
        if (h_now_ms() - t0 > 60000)
            h_die("fewer than 20 finished matches pending after 60 s of PostgreSQL down");
        h_sleep_ms(100);
    }
    /* the victim: what is finished (in Redis) and what runs, at the moment it goes */
    idset_t fin, run;
    char key[64];
    snprintf(key, sizeof key, "game:%u:matches", a);
    redis_ids(&run, "SMEMBERS", key);
    h_kill(c.game[0], sig);
    if (sig == SIGTERM)
        CHECK_EQ(h_wait_exit(c.game[0], 10000), 0);
    else
        (void)h_wait_exit(c.game[0], 5000);
    h_kill(bot, SIGKILL);
    (void)h_wait_exit(bot, 5000);
    redis_ids(&fin, "HKEYS", "records:pending");
    int waiting = h_log_count(c.game[0], "event=match_records_waiting");
    int lost = h_log_count(c.game[0], "event=match_records_lost");
    printf("%s: game daemon %u %s with %d matches running, %d records pending in Redis; its log: "
           "match_records_waiting x%d, match_records_lost x%d\n",
           tag, a, sig == SIGTERM ? "stopped (SIGTERM)" : "killed -9", run.n, fin.n, waiting, lost);
    CHECK(fin.n >= 20);
    CHECK_EQ(waiting, 1); /* one line for the outage, with its count */
    CHECK_EQ(lost, 0);

    /* PostgreSQL back, another game daemon: it delivers them all */
    h_pg_start();
    const char *b_env[] = {c.db_env, NULL};
    proc_t *b = h_spawn(GAMED_PATH, "gameB", b_env);
    t0 = h_now_ms();
    long long left;
    /* the running ones: the lobby's records (game lost) wait RECORD_FOREIGN_AGE_MS */
    while ((left = hlen_pending()) > 0) {
        if (h_now_ms() - t0 > 60000) {
            redisReply *r = redisCommand(h_redis(), "HGETALL %srecords:pending", h_prefix());
            for (size_t i = 0; r && i + 1 < r->elements; i += 2)
                fprintf(stderr, "pending %s: %.300s\n", r->element[i]->str, r->element[i + 1]->str);
            freeReplyObject(r);
            h_die("%lld records still pending 60 s after PostgreSQL came back", left);
        }
        h_sleep_ms(200);
    }
    int took = (int)(h_now_ms() - t0);
    PGconn *db = PQconnectdb(h_pg_conninfo());
    CHECK(PQstatus(db) == CONNECTION_OK);
    int ok_fin = 0, ok_run = 0;
    char outcome[32];
    for (int i = 0; i < fin.n; i++) {
        if (pg_rows(db, fin.id[i], outcome, sizeof outcome) != 1)
            h_die("finished match %llu: not in PostgreSQL", fin.id[i]);
        ok_fin++;
    }
    for (int i = 0; i < run.n; i++) {
        char over[64]; /* ended normally in the moment between SMEMBERS and the signal */
        snprintf(over, sizeof over, "event=match_over match=%llu ", run.id[i]);
        int pending = h_log_count(c.game[0], over) > 0;
        if (pg_rows(db, run.id[i], outcome, sizeof outcome) != 1)
            h_die("match %llu, running on the %s daemon: no record", run.id[i], tag);
        if (!pending && strcmp(outcome, "aborted") != 0)
            h_die("match %llu, running on the %s daemon, recorded '%s', not 'aborted'", run.id[i], tag, outcome);
        ok_run++;
    }
    /* no player row twice (the match row's key guards the match row itself) */
    PGresult *res = PQexec(db, "SELECT (SELECT count(*) FROM matches), (SELECT count(*) FROM (SELECT match_id, "
                               "user_id FROM match_players GROUP BY 1, 2 HAVING count(*) > 1) d)");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    printf("%s: after PostgreSQL returned, game daemon B emptied records:pending in %d ms: %d finished "
           "matches in PostgreSQL once each, %d that were running recorded 'aborted'; matches rows %s, "
           "player rows twice %s; B delivered %d of other daemons' records\n",
           tag, took, ok_fin, ok_run, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
           h_log_count(b, "taken_over=1"));
    CHECK(strcmp(PQgetvalue(res, 0, 1), "0") == 0);
    PQclear(res);
    PQfinish(db);
    h_kill(b, SIGTERM);
    CHECK_EQ(h_wait_exit(b, 10000), 0);
    fc_down(&c);
}

int main(int argc, char **argv)
{
    h_init("records_durable");
    h_pg_start();
    const char *only = argc > 1 ? argv[1] : "";
    if (!*only || strcmp(only, "kill") == 0)
        run_case("kill", SIGKILL);
    if (!*only || strcmp(only, "term") == 0)
        run_case("term", SIGTERM);
    h_pg_stop();
    printf("test_records_durable: passed\n");
    return 0;
}

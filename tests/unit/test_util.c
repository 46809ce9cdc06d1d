/* test_util: addr_split, redis_url_parse and config_load (flags > env > defaults). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "util.h"

/* ------------------------------------------------------------------ addr_split */

static void addr_ok(const char *text, const char *want_host, int want_port)
{
    char host[64];
    int port = -12345;
    memset(host, 'Z', sizeof host);
    if (addr_split(text, host, sizeof host, &port) != 0) {
        fprintf(stderr, "addr_split(\"%s\") failed\n", text);
        CHECK(0);
    }
    CHECK_STR(host, want_host);
    CHECK_EQ(port, want_port);
}

static void addr_bad(const char *text)
{
    char host[64];
    int port = 0;
    if (addr_split(text, host, sizeof host, &port) == 0) {
        fprintf(stderr, "addr_split(\"%s\") accepted: host '%s' port %d\n", text, host, port);
        CHECK(0);
    }
}

static void test_addr_split(void)
{
    addr_ok("127.0.0.1:7000", "127.0.0.1", 7000);
    addr_ok(":7000", "0.0.0.0", 7000);
    addr_ok("[::1]:80", "::1", 80);
    addr_ok("[fe80::1:2]:65535", "fe80::1:2", 65535);
    addr_ok("localhost:0", "localhost", 0);
    addr_ok("10.0.0.1:1", "10.0.0.1", 1);
    addr_ok("redis.example.com:6379", "redis.example.com", 6379);

    addr_bad("no-port");
    addr_bad("");
    addr_bad("1.2.3.4:");
    addr_bad("1.2.3.4:70000");
    addr_bad("1.2.3.4:65536");
    addr_bad("1.2.3.4:99999999999999999999999");
    addr_bad("::1:80"); /* IPv6 without brackets */
    addr_bad("fe80::1");
    addr_bad("host:-1");
    addr_bad("host:80x");
    addr_bad("host:x80");
    addr_bad("host:0x50");
    addr_bad("[::1]");
    addr_bad("[::1]80");
    addr_bad("[::1:80");
    addr_bad("[::1]:");
    addr_bad("[::1]:-5");
    addr_bad(":");

    /* the host must fit the caller's buffer */
    char small[8];
    int port;
    CHECK(addr_split("1234567:1", small, sizeof small, &port) == 0);
    CHECK_STR(small, "1234567");
    CHECK(addr_split("12345678:1", small, sizeof small, &port) != 0);
    CHECK(addr_split("[1234567]:1", small, sizeof small, &port) == 0);
    CHECK(addr_split("[12345678]:1", small, sizeof small, &port) != 0);
}

/* ------------------------------------------------------------------ redis_url_parse */

static void url_ok(const char *url, const char *host, int port, const char *pw, int db)
{
    redis_url_t u;
    if (redis_url_parse(url, &u) != 0) {
        fprintf(stderr, "redis_url_parse(\"%s\") failed\n", url);
        CHECK(0);
    }
    CHECK_STR(u.host, host);
    CHECK_EQ(u.port, port);
    CHECK_STR(u.password, pw);
    CHECK_EQ(u.db, db);
}

static void url_bad(const char *url)
{
    redis_url_t u;
    if (redis_url_parse(url, &u) == 0) {
        fprintf(stderr, "redis_url_parse(\"%s\") accepted: host '%s' port %d db %d\n", url,
                u.host, u.port, u.db);
        CHECK(0);
    }
}

static void test_redis_url(void)
{
    url_ok("redis://h", "h", 6379, "", 0);
    url_ok("redis://h:1234", "h", 1234, "", 0);
    url_ok("redis://:pw@h:1/3", "h", 1, "pw", 3);
    url_ok("redis://user:secret@10.1.2.3:6380/15", "10.1.2.3", 6380, "secret", 15);
    url_ok("redis://p%40ss@h", "h", 6379, "p%40ss", 0); /* no colon: all of it is the password */
    url_ok("redis://:a@b@h:7", "h", 7, "a@b", 0);       /* the last @ ends the credentials */
    url_ok("h:6380", "h", 6380, "", 0);
    url_ok("127.0.0.1", "127.0.0.1", 6379, "", 0);
    url_ok("redis://h/", "h", 6379, "", 0);
    url_ok("redis://h/0", "h", 6379, "", 0);
    url_ok("redis://h:6379/1000", "h", 6379, "", 1000);
    url_ok("redis://[::1]:6390/2", "::1", 6390, "", 2);
    /* the user: empty or "default" is Redis's default user (AUTH pw), another an ACL user */
    {
        redis_url_t u;
        CHECK(redis_url_parse("redis://cluster:pw@h", &u) == 0);
        CHECK_STR(u.user, "cluster");
        CHECK_STR(u.password, "pw");
        CHECK(redis_url_parse("redis://default:pw@h", &u) == 0);
        CHECK_STR(u.user, "");
        CHECK(redis_url_parse("redis://:pw@h", &u) == 0);
        CHECK_STR(u.user, "");
        CHECK(redis_url_parse("redis://pw@h", &u) == 0);
        CHECK_STR(u.user, "");
        CHECK_STR(u.password, "pw");
    }
    url_ok("redis://[::1]", "::1", 6379, "", 0);
    url_ok("redis://h:65535", "h", 65535, "", 0);

    url_bad("http://h:6379");
    url_bad("rediss://h");
    url_bad("unix:///tmp/redis.sock");
    url_bad("redis://h:abc");
    url_bad("redis://h:");
    url_bad("redis://h:0");
    url_bad("redis://h:65536");
    url_bad("redis://h:-1");
    url_bad("h:70000");
    url_bad("redis://");
    url_bad("");
    url_bad("redis:///3");
    url_bad("redis://:pw@");
    url_bad("redis://:pw@/1");
    url_bad("redis://[]");
    url_bad("redis://[::1");
    url_bad("redis://::1:6379");
    url_bad("redis://h/1001");
    url_bad("redis://h/-1");
    url_bad("redis://h/x");
    url_bad("redis://h/1x");

    /* a password or host that does not fit is refused, not truncated */
    char url[1024];
    char pw[300];
    memset(pw, 'p', sizeof pw - 1);
    pw[sizeof pw - 1] = '\0';
    snprintf(url, sizeof url, "redis://:%s@h", pw);
    url_bad(url);
    snprintf(url, sizeof url, "redis://%.299s:1", pw);
    url_bad(url);
    snprintf(url, sizeof url, "redis://%.299s", pw);
    url_bad(url);
    pw[255] = '\0';
    snprintf(url, sizeof url, "redis://:%s@h", pw);
    url_ok(url, "h", 6379, pw, 0);

    /* Fixed: an empty host became addr_split's listen default "0.0.0.0" instead of an
     * error, and an '@' after the host (in the db part) was taken as the end of credentials. */
    redis_url_t u;
    REGRESSION("redis_url_parse(\"redis://:6379\") accepts an empty host (as 0.0.0.0)",
              redis_url_parse("redis://:6379", &u) == 0);
    REGRESSION("redis_url_parse(\"redis://:pw@:6379/2\") accepts an empty host (as 0.0.0.0)",
              redis_url_parse("redis://:pw@:6379/2", &u) == 0);
    int r = redis_url_parse("redis://h/1@x", &u);
    REGRESSION("redis_url_parse(\"redis://h/1@x\") reads password 'h/1' and host 'x'",
              r == 0 && strcmp(u.host, "x") == 0);
}

/* ------------------------------------------------------------------ config_load */

/* the settings the options land in (config_apply): fields of 1, 2, 4 and 8 bytes, a string,
 * and one option without a field */
typedef struct ut_cfg {
    const char *listen;
    uint8_t workers;
    uint16_t port;
    int64_t port_max;
    int32_t unused_guard;
} ut_cfg_t;

static const cfg_opt_t opts[] = {
    {"UT_LISTEN_ADDR", CFG_STR, "0.0.0.0:7000", "where to listen", 0, 0, CFG_AT(ut_cfg_t, listen)},
    {"UT_WORKERS", CFG_INT, "4", "worker count", 1, 64, CFG_AT(ut_cfg_t, workers)},
    {"UT_PORT", CFG_INT, "10", "a port", 0, 65535, CFG_AT(ut_cfg_t, port)},
    {"UT_PORT_MAX", CFG_INT, "20", "a flag whose name starts with another's", 0, 65535, CFG_AT(ut_cfg_t, port_max)},
    {"UT_SECRET", CFG_STR, NULL, "no default", 0, 0, 0, 0},
};
#define NOPTS ((int)(sizeof opts / sizeof opts[0]))

static void clear_env(void)
{
    for (int i = 0; i < NOPTS; i++)
        unsetenv(opts[i].env);
}

static int load(config_t *cfg, int argc, char **argv)
{
    return config_load(cfg, opts, NOPTS, argc, argv, "test_util config");
}

static int source_is(const config_t *cfg, const char *env, const char *src)
{
    for (int i = 0; i < cfg->nopts; i++)
        if (strcmp(cfg->opts[i].env, env) == 0)
            return strcmp(cfg->source[i], src) == 0;
    return 0;
}

static void test_config(void)
{
    config_t cfg;
    clear_env();

    /* defaults */
    {
        char *argv[] = {"prog", NULL};
        CHECK_EQ(load(&cfg, 1, argv), 0);
        CHECK_STR(config_str(&cfg, "UT_LISTEN_ADDR"), "0.0.0.0:7000");
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 4);
        CHECK_STR(config_str(&cfg, "UT_SECRET"), ""); /* no default, unset -> "" */
        CHECK(source_is(&cfg, "UT_WORKERS", "default"));
    }
    /* env beats default */
    setenv("UT_WORKERS", "8", 1);
    setenv("UT_LISTEN_ADDR", "127.0.0.1:9000", 1);
    {
        char *argv[] = {"prog", NULL};
        CHECK_EQ(load(&cfg, 1, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 8);
        CHECK_STR(config_str(&cfg, "UT_LISTEN_ADDR"), "127.0.0.1:9000");
        CHECK(source_is(&cfg, "UT_WORKERS", "env"));
        CHECK(source_is(&cfg, "UT_PORT", "default"));
    }
    /* flag beats env: --flag=value and --flag value */
    {
        char *argv[] = {"prog", "--ut-workers=16", "--ut-listen-addr", ":7100", NULL};
        CHECK_EQ(load(&cfg, 4, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 16);
        CHECK_STR(config_str(&cfg, "UT_LISTEN_ADDR"), ":7100");
        /* config_apply: each option with a field lands in it, at its size; the rest untouched */
        ut_cfg_t c;
        memset(&c, 0xab, sizeof c);
        config_apply(&cfg, &c);
        CHECK_STR(c.listen, ":7100");
        CHECK_EQ(c.workers, 16);
        CHECK_EQ(c.port, 10);
        CHECK_EQ(c.port_max, 20);
        int32_t guard;
        memset(&guard, 0xab, sizeof guard);
        CHECK_EQ(c.unused_guard, guard);
        CHECK(source_is(&cfg, "UT_WORKERS", "flag"));
        CHECK(source_is(&cfg, "UT_LISTEN_ADDR", "flag"));
    }
    {
        char *argv[] = {"prog", "--ut-workers", "32", NULL};
        CHECK_EQ(load(&cfg, 3, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 32);
        CHECK_STR(config_str(&cfg, "UT_LISTEN_ADDR"), "127.0.0.1:9000"); /* env still */
    }
    /* the last of a repeated flag wins; an empty value is a value */
    {
        char *argv[] = {"prog", "--ut-workers=2", "--ut-workers=3", "--ut-secret=", NULL};
        CHECK_EQ(load(&cfg, 4, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 3);
        CHECK_STR(config_str(&cfg, "UT_SECRET"), "");
        CHECK(source_is(&cfg, "UT_SECRET", "flag"));
    }
    /* a flag that starts with another flag's name is its own flag */
    {
        char *argv[] = {"prog", "--ut-port-max=99", "--ut-port", "5", NULL};
        CHECK_EQ(load(&cfg, 4, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_PORT_MAX"), 99);
        CHECK_EQ(config_int(&cfg, "UT_PORT"), 5);
    }
    /* unknown flags, stray words, missing values */
    {
        char *argv[] = {"prog", "--ut-nope=1", NULL};
        CHECK_EQ(load(&cfg, 2, argv), -1);
    }
    {
        char *argv[] = {"prog", "--ut-port-maximum=1", NULL};
        CHECK_EQ(load(&cfg, 2, argv), -1);
    }
    {
        char *argv[] = {"prog", "positional", NULL};
        CHECK_EQ(load(&cfg, 2, argv), -1);
    }
    {
        char *argv[] = {"prog", "--UT_WORKERS=3", NULL}; /* the env spelling is not a flag */
        CHECK_EQ(load(&cfg, 2, argv), -1);
    }
    {
        char *argv[] = {"prog", "--ut-workers", NULL};
        CHECK_EQ(load(&cfg, 2, argv), -1);
    }
    /* integers out of range or not integers: by flag and by env */
    {
        static const char *const bad[] = {
            "--ut-workers=0", "--ut-workers=65", "--ut-workers=-1", "--ut-workers=abc",
            "--ut-workers=", "--ut-workers=4x", "--ut-workers=99999999999999999999999",
            "--ut-port=65536",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char *argv[] = {"prog", (char *)bad[i], NULL};
            if (load(&cfg, 2, argv) != -1) {
                fprintf(stderr, "config_load accepted %s\n", bad[i]);
                CHECK(0);
            }
        }
        char *argv[] = {"prog", NULL};
        setenv("UT_WORKERS", "100", 1);
        CHECK_EQ(load(&cfg, 1, argv), -1);
        setenv("UT_WORKERS", "seven", 1);
        CHECK_EQ(load(&cfg, 1, argv), -1);
        /* ... but a good flag over a bad env value is fine: the flag wins before the check */
        char *argv2[] = {"prog", "--ut-workers=7", NULL};
        CHECK_EQ(load(&cfg, 2, argv2), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 7);
        setenv("UT_WORKERS", "64", 1); /* the bounds are inclusive */
        CHECK_EQ(load(&cfg, 1, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 64);
        setenv("UT_WORKERS", "1", 1);
        CHECK_EQ(load(&cfg, 1, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 1);
    }
    /* --help and -h -> 1 (usage on stdout), even after other flags */
    {
        char *argv[] = {"prog", "--help", NULL};
        CHECK_EQ(load(&cfg, 2, argv), 1);
        char *argv2[] = {"prog", "--ut-workers=5", "-h", NULL};
        CHECK_EQ(load(&cfg, 3, argv2), 1);
    }
    clear_env();
    {
        char *argv[] = {"prog", NULL};
        CHECK_EQ(load(&cfg, 1, argv), 0);
        CHECK_EQ(config_int(&cfg, "UT_WORKERS"), 4);
        CHECK(source_is(&cfg, "UT_WORKERS", "default"));
    }
}

int main(void)
{
    test_addr_split();
    test_redis_url();
    test_config();
    printf("test_util: ok\n");
    return 0;
}

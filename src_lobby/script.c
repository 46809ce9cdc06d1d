/* script: calls into lobby.lua through EVALSHA, loading the script when Redis lacks it. */
#include <string.h>

#include "alloc.h"
#include "lobby.h"
#include "log.h"
#include "rconn.h"

extern const char LOBBY_LUA[];

#define SCRIPT_MAX_ARGS 16

typedef struct script_call {
    lobby_t *lb;
    lobby_script_cb cb;
    void *ud;
    int argc;
    char *argv[SCRIPT_MAX_ARGS + 5];
    int retried;
} script_call_t;

static void on_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    lobby_t *lb = privdata;
    redisReply *r = reply;
    lb->script_loading = 0;
    if (r && r->type == REDIS_REPLY_STRING && r->len == 40) {
        memcpy(lb->script_sha, r->str, 40);
        lb->script_sha[40] = '\0';
    }
}

static void load_script(lobby_t *lb)
{
    if (lb->script_loading)
        return;
    if (rconn_cmd(backend_redis(lb->be), on_loaded, lb, "SCRIPT LOAD %s", LOBBY_LUA) == 0)
        lb->script_loading = 1;
}

static void call_free(script_call_t *c)
{
    for (int i = 2; i < c->argc; i++)
        xfree(c->argv[i]);
    xfree(c);
}

static int send_call(script_call_t *c);

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    script_call_t *c = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !c->retried) {
        c->retried = 1;
        c->lb->script_sha[0] = '\0';
        load_script(c->lb);
        if (send_call(c) == 0)
            return;
        r = NULL;
    }
    if (r && r->type == REDIS_REPLY_ERROR && lobby_script_error(r) == ERROR_CODE__INTERNAL)
        log_error("lobby_script_error", "op=%s error=\"%s\"", c->argv[3], r->str);
    c->cb(c->lb, r, c->ud);
    call_free(c);
}

static int send_call(script_call_t *c)
{
    lobby_t *lb = c->lb;
    int use_sha = lb->script_sha[0] && !c->retried;
    c->argv[0] = use_sha ? "EVALSHA" : "EVAL";
    c->argv[1] = use_sha ? lb->script_sha : (char *)LOBBY_LUA;
    return rconn_cmdargv(backend_redis(lb->be), on_reply, c, c->argc, (const char **)c->argv, NULL);
}

int lobby_script(lobby_t *lb, lobby_script_cb cb, void *ud, const char *op, int argc,
                 const char *const *argv)
{
    if (argc > SCRIPT_MAX_ARGS || !rconn_up(backend_redis(lb->be)))
        return -1;
    if (!lb->script_sha[0])
        load_script(lb);
    script_call_t *c = xcalloc(1, sizeof *c);
    c->lb = lb;
    c->cb = cb;
    c->ud = ud;
    c->argv[2] = xstrdup("0");
    c->argv[3] = xstrdup(op);
    c->argv[4] = xstrdup(backend_prefix(lb->be));
    for (int i = 0; i < argc; i++)
        c->argv[5 + i] = xstrdup(argv[i]);
    c->argc = 5 + argc;
    if (send_call(c) != 0) {
        call_free(c);
        return -1;
    }
    return 0;
}

ErrorCode lobby_script_error(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR)
        return ERROR_CODE__INTERNAL;
    /* Redis prefixes a script's error text with "ERR " when it has no code of its own. */
    const char *name = strncmp(r->str, "ERR ", 4) == 0 ? r->str + 4 : r->str;
    char code[64];
    size_t n = strcspn(name, " ");
    if (n >= sizeof code)
        return ERROR_CODE__INTERNAL;
    memcpy(code, name, n);
    code[n] = '\0';
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(&error_code__descriptor, code);
    return v ? (ErrorCode)v->value : ERROR_CODE__INTERNAL;
}

const char *lobby_script_message(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR)
        return NULL;
    const char *name = strncmp(r->str, "ERR ", 4) == 0 ? r->str + 4 : r->str;
    const char *sp = strchr(name, ' ');
    return sp && sp[1] ? sp + 1 : NULL;
}

/* faults_util: what the fault cases share: a small cluster (gateways, lobbies, game daemons on
 * the harness's Redis and PostgreSQL) and blocking client calls that report error codes. */
#ifndef TESTS_FAULTS_UTIL_H
#define TESTS_FAULTS_UTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "client_sync.h"
#include "cluster.pb-c.h"
#include "harness.h"

#define FC_MAX 4

typedef struct fcluster {
    proc_t *gw[FC_MAX], *lobby[FC_MAX], *game[FC_MAX];
    int port[FC_MAX];
    int ngw, nlobby, ngame;
    char db_env[300];
    const char *lobby_env[24];
    const char *game_env[24];
    const char *gw_env[24];
} fcluster_t;

/* Starts nlobby lobbies (extra env first, then DATABASE_URL and fast argon2id limits), ngame
 * game daemons and ngw gateways with high packet rate limits, under a new prefix `tag`; waits
 * until every gateway reaches a lobby. all_extra goes to every daemon (NULL: none).
 * PostgreSQL must be started (h_pg_start). */
void fc_up(fcluster_t *c, const char *tag, int ngw, int nlobby, int ngame,
           const char *const *lobby_extra, const char *const *game_extra,
           const char *const *all_extra);
/* The cluster of the faults under playing bots: fc_up with two gateways, nlobby lobbies and two
 * game daemons whose matches are one wave and end within 6 s; waits until both gateways have
 * registered. */
void fc_up_bots(fcluster_t *c, const char *tag, int nlobby, const char *const *all_extra);
/* A connection to gateway g (3 s to connect); fails the test without one. */
csync_t *fc_connect(const fcluster_t *c, int g);
/* Waits until ECHO LOBBY through gateway g answers (bounded; fails the test). */
void fc_wait_lobby(const fcluster_t *c, int g, int timeout_ms);
/* SIGTERM everything still alive; each must exit 0. */
void fc_down(fcluster_t *c);

/* One response: its type, and for an ERROR_RESPONSE its code and retry hint. */
typedef struct fres {
    uint16_t type;
    int code;
    uint32_t retry_ms;
    uint8_t *payload;
    size_t len;
} fres_t;

/* Sends a request and waits up to timeout_ms; a transport failure gives type 0, code -1. */
fres_t fc_call(csync_t *s, uint16_t type, const ProtobufCMessage *m, int timeout_ms);
void fres_free(fres_t *r);
/* Decodes an ERROR_RESPONSE payload into r->code / r->retry_ms. */
void fres_parse(fres_t *r);

/* REGISTER then nothing else; fails the test unless REGISTER_RESPONSE. */
void fc_register(csync_t *s, const char *user, const char *pass);
/* LOGIN; returns the response (the caller frees it). */
fres_t fc_login(csync_t *s, const char *user, const char *pass);

#endif

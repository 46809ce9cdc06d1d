/* supervisor: GATEWAY_WORKERS gateway processes sharing the client ports through SO_REUSEPORT,
 * restarted with backoff when they die, stopped together (docs/operations.md, "Gateway
 * workers"). */
#ifndef GATEWAY_SUPERVISOR_H
#define GATEWAY_SUPERVISOR_H

#include <sys/socket.h>

#include "config.h"

/* How many workers this process should supervise: 0 when it is a worker itself
 * (GATEWAY_WORKER set) or GATEWAY_WORKERS asks for one process. */
int supervisor_workers(const config_t *cfg);

/* Runs the supervisor until every worker has exited after SIGTERM/SIGINT. Returns the exit
 * status: 0, or 1 when it could not start or a worker did not stop cleanly. */
int supervisor_run(const config_t *cfg, int workers, char **argv);

/* A non-blocking TCP socket with SO_REUSEADDR and SO_REUSEPORT bound to sa (and listening when
 * listen_too): the fd, or -errno. */
int reuseport_socket(const struct sockaddr *sa, int listen_too);

#endif

/* backend_main: the options and main loop that lobbyd and gamed share; each passes its own
 * route table. */
#ifndef CLUSTER_BACKEND_MAIN_H
#define CLUSTER_BACKEND_MAIN_H

#include "backend.h"

/* Parses the config (flags and environment), runs the backend until it has drained, and
 * returns the process exit code. */
int backend_main(int argc, char **argv, int peer_type, const char *daemon, const char *about,
                 const backend_route_t *routes, int nroutes);

#endif

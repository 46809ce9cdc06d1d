/* schema: the cluster's PostgreSQL schema as versioned migrations, shared by every daemon that
 * opens a pool (each applies what is missing at start, under the pool's advisory lock). */
#ifndef CLUSTER_SCHEMA_H
#define CLUSTER_SCHEMA_H

#include "pg.h"

extern const pg_migration_t SCHEMA_MIGRATIONS[];
extern const int SCHEMA_NMIGRATIONS;

#endif

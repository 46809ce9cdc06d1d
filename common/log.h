/* log: one line per event, key=value, with level, daemon type and server id. */
#ifndef CLUSTER_LOG_H
#define CLUSTER_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Names the process in every line: daemon=<daemon> id=<id>. id 0 means not yet registered. */
void log_init(const char *daemon, log_level_t level);
void log_set_id(unsigned id);
void log_set_level(log_level_t level);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int log_level_parse(const char *s);
int log_enabled(log_level_t level);

/* Writes `ts=.. level=.. daemon=.. id=.. event=<event> <fmt...>` to stderr.
 * fmt should produce further key=value pairs; values with spaces must be quoted by the caller. */
void log_write(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define log_info(ev, ...) log_write(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(LOG_ERROR, ev, __VA_ARGS__)

#endif

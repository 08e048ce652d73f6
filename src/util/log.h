/* log.h — one line per event on stderr, logfmt-style: `ts=… level=… msg=… key=value …`.
 *
 * Lines are written with a single write(2) so that threads never interleave. Never pass a secret
 * (API key, credential, signing secret) to these functions: callers log ids, not keys. */
#ifndef REELAY_UTIL_LOG_H
#define REELAY_UTIL_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below this level are dropped. Default LOG_INFO; the command line sets it once, before any thread
 * starts (--log-level, REELAY_LOG_LEVEL). */
void log_set_level(log_level level);

/* fmt produces the key=value part after msg; values with spaces should be quoted by the caller. */
void log_write(log_level level, const char *msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_write(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif

/* log.h — one line per event on stderr, logfmt-style: `ts=… level=… msg=… key=value …`.
 *
 * Lines are written with a single write(2) so that threads never interleave. An event-loop thread
 * may instead gather its lines and write them together at the end of each turn of its loop
 * (log_thread_buffer_start): still whole lines, at most LOG_BUFFER_BYTES per write(2) (no more than a
 * pipe writes at once, PIPE_BUF), so lines of different threads never mix. Never pass a secret (API
 * key, credential, signing secret) to these functions: callers log ids, not keys. */
#ifndef REELAY_UTIL_LOG_H
#define REELAY_UTIL_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below this level are dropped. Default LOG_INFO; the command line sets it once, before any thread
 * starts (--log-level, REELAY_LOG_LEVEL). */
void log_set_level(log_level level);

enum { LOG_BUFFER_BYTES = 4096 };

/* From now on this thread's lines wait in its buffer until log_thread_flush, or until the next one
 * would not fit (then the buffer is written first). For event-loop threads, where one write(2) per line
 * (an access log line per request) cost more than a tenth of a request. A process killed mid-turn loses
 * that turn's lines. */
void log_thread_buffer_start(void);
/* Writes this thread's waiting lines, if any. Cheap when there are none. */
void log_thread_flush(void);
/* Writes what waits and goes back to one write(2) per line. */
void log_thread_buffer_stop(void);

/* fmt produces the key=value part after msg; values with spaces should be quoted by the caller. */
void log_write(log_level level, const char *msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_write(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

#endif

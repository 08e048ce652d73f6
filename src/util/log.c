/* log.c — logfmt lines on stderr, one write(2) each or gathered per loop turn (see log.h). */
#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static log_level minimum_level = LOG_INFO;

/* A thread's gathered lines (log_thread_buffer_start). */
static __thread struct {
    bool on;
    size_t length;
    char bytes[LOG_BUFFER_BYTES];
} gathered;

static void write_all(const char *bytes, size_t length)
{
    ssize_t ignored = write(STDERR_FILENO, bytes, length);
    (void)ignored;
}

void log_thread_buffer_start(void)
{
    gathered.on = true;
}

void log_thread_flush(void)
{
    if (gathered.length == 0) return;
    write_all(gathered.bytes, gathered.length);
    gathered.length = 0;
}

void log_thread_buffer_stop(void)
{
    log_thread_flush();
    gathered.on = false;
}

void log_set_level(log_level level)
{
    minimum_level = level;
}

/* Writes "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " for now into out (LOG_TS_LENGTH bytes, no NUL). The part up to
 * the seconds is formatted once per second per thread: an access log line per request made the date
 * formatting a measurable share of a request. */
enum { LOG_TS_LENGTH = 28 };
static void write_timestamp(char out[LOG_TS_LENGTH])
{
    static __thread time_t cached_second = -1;
    static __thread char cached[23]; /* "ts=YYYY-MM-DDTHH:MM:SS." */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != cached_second) {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        char text[64];
        snprintf(text, sizeof(text), "ts=%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        memcpy(cached, text, sizeof(cached)); /* years beyond 9999 are cut short, not overflowed */
        cached_second = now.tv_sec;
    }
    memcpy(out, cached, sizeof(cached));
    int ms = (int)(now.tv_nsec / 1000000);
    out[23] = (char)('0' + ms / 100);
    out[24] = (char)('0' + ms / 10 % 10);
    out[25] = (char)('0' + ms % 10);
    out[26] = 'Z';
    out[27] = ' ';
}

void log_write(log_level level, const char *msg, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < minimum_level) return;
    char line[2048];
    write_timestamp(line);
    int n = snprintf(line + LOG_TS_LENGTH, sizeof(line) - LOG_TS_LENGTH, "level=%s msg=\"%s\" ", names[level],
                     msg);
    if (n >= 0) n += LOG_TS_LENGTH;
    if (n < 0) return;
    if ((size_t)n < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (!gathered.on) {
        write_all(line, (size_t)n);
        return;
    }
    if (gathered.length + (size_t)n > sizeof(gathered.bytes)) log_thread_flush();
    memcpy(gathered.bytes + gathered.length, line, (size_t)n); /* a line is shorter than the buffer */
    gathered.length += (size_t)n;
}

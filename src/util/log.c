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

void log_write(log_level level, const char *msg, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < minimum_level) return;
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"%s\" ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, names[level], msg);
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

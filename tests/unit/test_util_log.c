/* test_util_log.c — the log's line format, and lines gathered per loop turn (util/log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

static int saved_stderr = -1;
static FILE *captured;

/* stderr goes to a temporary file for the test. */
static int capture(void **state)
{
    (void)state;
    captured = tmpfile();
    if (captured == NULL) return -1;
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    return dup2(fileno(captured), STDERR_FILENO) < 0 ? -1 : 0;
}

static int restore(void **state)
{
    (void)state;
    log_thread_buffer_stop();
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fclose(captured);
    return 0;
}

/* Everything written to stderr so far (malloc'd). */
static char *written(void)
{
    long size = lseek(fileno(captured), 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(captured), text, (size_t)size, 0), size);
    return text;
}

static void a_line_is_logfmt_with_a_utc_timestamp(void **state)
{
    (void)state;
    log_info("hello", "key=%s n=%d", "value", 42);
    char *text = written();
    regex_t line;
    assert_int_equal(regcomp(&line,
                             "^ts=[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z "
                             "level=info msg=\"hello\" key=value n=42\n$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regexec(&line, text, 0, NULL, 0), 0);
    regfree(&line);
    free(text);
}

static void gathered_lines_wait_for_the_flush_and_never_split(void **state)
{
    (void)state;
    log_thread_buffer_start();
    log_info("first", "n=%d", 1);
    log_debug("dropped", "n=%d", 0); /* below the level: never written */
    char *text = written();
    assert_string_equal(text, ""); /* nothing before the flush */
    free(text);
    log_thread_flush();
    text = written();
    assert_non_null(strstr(text, "msg=\"first\" n=1\n"));
    assert_null(strstr(text, "dropped"));
    free(text);
    /* more than the buffer holds: written as it fills, whole lines each time */
    char filler[200];
    memset(filler, 'x', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    for (int i = 0; i < 100; i++)
        log_info("many", "i=%03d filler=%s", i, filler);
    log_thread_buffer_stop();
    text = written();
    int lines = 0;
    for (char *at = strstr(text, "msg=\"many\""); at; at = strstr(at + 1, "msg=\"many\"")) {
        char *end = strchr(at, '\n');
        assert_non_null(end);
        assert_int_equal(end - at, (long)strlen("msg=\"many\" i=000 filler=") + 199);
        lines++;
    }
    assert_int_equal(lines, 100);
    free(text);
    log_info("direct", "n=%d", 2); /* stopped: written at once */
    text = written();
    assert_non_null(strstr(text, "msg=\"direct\" n=2\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_line_is_logfmt_with_a_utc_timestamp, capture, restore),
        cmocka_unit_test_setup_teardown(gathered_lines_wait_for_the_flush_and_never_split, capture, restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

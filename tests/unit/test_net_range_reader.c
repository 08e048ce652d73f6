/* test_net_range_reader.c — the range reader against a loopback server (tests/unit/range_server.h):
 * exact bytes from ranges on one kept-alive connection, a server that ignores Range, redirects (and
 * one to a blocked address), the read budget and the time budget, and hostile answers — invalid or
 * lying Content-Range values, bodies longer or shorter than announced, a file that changes size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <time.h>

#include "net/range_reader.h"
#include "range_server.h"

enum { BODY_SIZE = 300000, SMALL_SIZE = 1000 };

static unsigned char body[BODY_SIZE];
static range_server server;
static atomic_int size_changes_requests;

static void send_head(int fd, const char *status, const char *headers, size_t length)
{
    char head[1024];
    snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status, headers, length);
    range_server_send_text(fd, head);
}

static bool answer(int fd, const range_server_request *request, void *context)
{
    (void)context;
    const char *path = request->path;
    char headers[512];
    if (strcmp(path, "/file") == 0) {
        range_server_send_body(&server, fd, request, body, sizeof(body), "video/mp4", true);
    } else if (strcmp(path, "/norange") == 0) {
        range_server_send_body(&server, fd, request, body, sizeof(body), "video/mp4", false);
    } else if (strcmp(path, "/norange-small") == 0) {
        range_server_send_body(&server, fd, request, body, SMALL_SIZE, "video/mp4", false);
    } else if (strcmp(path, "/empty") == 0) {
        range_server_send_body(&server, fd, request, body, 0, "video/mp4", true);
    } else if (strcmp(path, "/redirect") == 0) {
        send_head(fd, "302 Found", "Location: /file\r\n", 0);
    } else if (strcmp(path, "/redirect-ip") == 0) {
        snprintf(headers, sizeof(headers), "Location: http://127.0.0.1:%d/file\r\n", server.port);
        send_head(fd, "302 Found", headers, 0);
    } else if (strcmp(path, "/missing") == 0) {
        send_head(fd, "404 Not Found", "", 9);
        range_server_send_text(fd, "not found");
    } else if (strcmp(path, "/wrong-416") == 0) {
        send_head(fd, "416 Range Not Satisfiable", "Content-Range: bytes */1000000\r\n", 0);
    } else if (strcmp(path, "/size-changes") == 0) {
        int seen = atomic_fetch_add(&size_changes_requests, 1);
        snprintf(headers, sizeof(headers), "Content-Range: bytes %s/%d\r\n",
                 seen == 0 ? "0-9" : "100000-100009", seen == 0 ? BODY_SIZE : BODY_SIZE * 2);
        send_head(fd, "206 Partial Content", headers, 10);
        range_server_send(fd, body, 10);
    } else if (strcmp(path, "/slow") == 0) {
        send_head(fd, "206 Partial Content", "Content-Range: bytes 0-99/1000\r\n", 100);
        range_server_send_text(fd, "abcde");
        range_server_wait_for_close(fd, 5000);
        return false;
    } else if (strcmp(path, "/truncated") == 0) {
        send_head(fd, "206 Partial Content", "Content-Range: bytes 0-999/100000\r\n", 1000);
        range_server_send(fd, body, 100);
        return false;
    } else if (strcmp(path, "/chunked-short") == 0) {
        range_server_send_text(fd, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-999/100000\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n64\r\n");
        range_server_send(fd, body, 100);
        range_server_send_text(fd, "\r\n0\r\n\r\n");
    } else if (strcmp(path, "/more-than-announced") == 0) {
        send_head(fd, "206 Partial Content", "Content-Range: bytes 0-9/100000\r\n", 20);
        range_server_send(fd, body, 20);
    } else {
        /* Hostile Content-Range values: /cr/<case>. */
        static const struct {
            const char *name;
            const char *headers;
        } cases[] = {
            {"/cr/start", "Content-Range: bytes 5-14/100000\r\n"},
            {"/cr/overflow", "Content-Range: bytes 0-99999999999999999999/999999999999999999999\r\n"},
            {"/cr/total-small", "Content-Range: bytes 0-9/5\r\n"},
            {"/cr/garbage", "Content-Range: bytes abc\r\n"},
            {"/cr/negative", "Content-Range: bytes -5-4/100000\r\n"},
            {"/cr/end-before-start", "Content-Range: bytes 9-0/100000\r\n"},
            {"/cr/units", "Content-Range: items 0-9/100000\r\n"},
            {"/cr/trailing", "Content-Range: bytes 0-9/100000 extra\r\n"},
            {"/cr/missing", ""},
            {"/cr/two", "Content-Range: bytes 0-9/100000\r\nContent-Range: bytes 0-9/100000\r\n"},
            {"/cr/multipart", "Content-Type: multipart/byteranges; boundary=x\r\n"
                              "Content-Range: bytes 0-9/100000\r\n"},
            {"/cr/beyond-asked", "Content-Range: bytes 0-99999/100000\r\n"},
            {"/cr/huge-total", "Content-Range: bytes 0-9/10000000000000\r\n"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            if (strcmp(path, cases[i].name) != 0) continue;
            send_head(fd, "206 Partial Content", cases[i].headers, 10);
            range_server_send(fd, body, 10);
            return true;
        }
        send_head(fd, "500 Internal Server Error", "", 0);
    }
    return true;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("REELAY_FETCH_ALLOW");
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (unsigned char)(i * 7 + i / 251);
    return range_server_start(&server, answer, NULL);
}

static int teardown(void **state)
{
    (void)state;
    range_server_stop(&server);
    return 0;
}

static fetch_policy test_policy(const char *allow_list)
{
    fetch_policy policy;
    fetch_policy_init(&policy);
    policy.allow_list = allow_list;
    policy.connect_timeout_ms = 2000;
    policy.total_timeout_ms = 10000;
    return policy;
}

static void url_for(char *out, size_t size, const char *host, const char *path)
{
    snprintf(out, size, "http://%s:%d%s", host, server.port, path);
}

static range_reader *open_path(const char *path, const fetch_policy *policy,
                               const range_reader_limits *limits, fetch_result *result, char *err,
                               size_t err_size)
{
    char url[256];
    url_for(url, sizeof(url), "127.0.0.1", path);
    return range_reader_open(url, policy, limits, result, err, err_size);
}

static void assert_read(range_reader *reader, int64_t offset, size_t length, size_t expected)
{
    unsigned char *data = malloc(length);
    assert_non_null(data);
    size_t got = 0;
    while (got < length) {
        ssize_t n = range_reader_read(reader, offset + (int64_t)got, data + got, length - got);
        if (n < 0) {
            char err[256];
            fetch_result result = range_reader_error(reader, err, sizeof(err));
            fail_msg("read at %lld: %s: %s", (long long)(offset + (int64_t)got), fetch_result_name(result),
                     err);
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    assert_int_equal(got, expected);
    assert_memory_equal(data, body + offset, expected);
    free(data);
}

/* ---- cases ---- */

static void ranges_are_read_exactly_on_one_connection(void **state)
{
    (void)state;
    range_server_reset_counters(&server);
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_result result;
    char err[256] = "";
    range_reader *reader = open_path("/file", &policy, NULL, &result, err, sizeof(err));
    if (reader == NULL) fail_msg("open: %s: %s", fetch_result_name(result), err);
    assert_int_equal(result, FETCH_OK);
    assert_int_equal(range_reader_size(reader), BODY_SIZE);
    assert_true(range_reader_ranges_supported(reader));
    assert_read(reader, 0, 1000, 1000);
    assert_read(reader, 150000, 5000, 5000);
    assert_read(reader, BODY_SIZE - 10, 100, 10); /* short at the end */
    assert_read(reader, 1, 200000, 200000);       /* bigger than a read-ahead block */
    unsigned char byte;
    assert_int_equal(range_reader_read(reader, BODY_SIZE, &byte, 1), 0);
    assert_int_equal(range_reader_read(reader, BODY_SIZE * 10, &byte, 1), 0);
    assert_int_equal(range_reader_read(reader, 0, &byte, 0), 0);
    /* a negative offset is the caller's mistake, not the server's: not sticky */
    errno = 0;
    assert_int_equal(range_reader_read(reader, -1, &byte, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_OK);
    assert_read(reader, 7, 1, 1);
    unsigned requests = range_reader_request_count(reader);
    uint64_t bytes = range_reader_bytes_read(reader);
    range_reader_close(reader);
    assert_int_equal(atomic_load(&server.connections), 1); /* keep-alive */
    assert_int_equal(atomic_load(&server.requests), (int)requests);
    assert_int_equal(atomic_load(&server.bytes_sent), (long long)bytes);
    assert_true(requests <= 6);
}

static void small_sequential_reads_share_one_request(void **state)
{
    (void)state;
    range_server_reset_counters(&server);
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_result result;
    char err[256];
    range_reader *reader = open_path("/file", &policy, NULL, &result, err, sizeof(err));
    assert_non_null(reader);
    for (int i = 0; i < 60; i++)
        assert_read(reader, i * 1000, 1000, 1000);
    assert_int_equal(range_reader_request_count(reader), 1);
    assert_int_equal(range_reader_bytes_read(reader), 64 * 1024);
    range_reader_close(reader);
    assert_int_equal(atomic_load(&server.requests), 1);
}

static void server_without_ranges_is_read_from_the_start_up_to_the_cap(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_result result;
    char err[256];
    range_reader *reader = open_path("/norange", &policy, NULL, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_false(range_reader_ranges_supported(reader));
    assert_int_equal(range_reader_size(reader), BODY_SIZE);
    assert_read(reader, 200000, 1000, 1000);
    assert_read(reader, 0, 10, 10);
    assert_int_equal(range_reader_request_count(reader), 1);
    range_reader_close(reader);

    /* Past the cap nothing more is fetched: the caller learns that the server has no ranges. */
    range_server_reset_counters(&server);
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    limits.whole_body_cap = 100000;
    reader = open_path("/norange", &policy, &limits, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_false(range_reader_ranges_supported(reader));
    assert_int_equal(range_reader_size(reader), BODY_SIZE); /* from Content-Length */
    assert_read(reader, 99000, 1000, 1000);
    assert_true(range_reader_bytes_read(reader) <= 100000);
    unsigned char byte;
    assert_int_equal(range_reader_read(reader, 100000, &byte, 1), -1);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_TOO_LARGE);
    assert_string_equal(err, "127.0.0.1 does not support range requests and only the first 100000 bytes may "
                             "be read");
    /* sticky: even bytes it holds are no longer served */
    assert_int_equal(range_reader_read(reader, 0, &byte, 1), -1);
    assert_int_equal(range_reader_request_count(reader), 1);
    range_reader_close(reader);

    reader = open_path("/norange-small", &policy, NULL, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_int_equal(range_reader_size(reader), SMALL_SIZE);
    assert_read(reader, 0, 5000, SMALL_SIZE);
    assert_int_equal(range_reader_read(reader, SMALL_SIZE, &byte, 1), 0);
    range_reader_close(reader);
}

static void empty_file_has_size_zero(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_result result;
    char err[256] = "";
    range_reader *reader = open_path("/empty", &policy, NULL, &result, err, sizeof(err));
    if (reader == NULL) fail_msg("open: %s: %s", fetch_result_name(result), err);
    assert_int_equal(range_reader_size(reader), 0);
    unsigned char byte;
    assert_int_equal(range_reader_read(reader, 0, &byte, 1), 0);
    range_reader_close(reader);
}

static void redirect_is_followed_once(void **state)
{
    (void)state;
    range_server_reset_counters(&server);
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_result result;
    char err[256];
    range_reader *reader = open_path("/redirect", &policy, NULL, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_int_equal(atomic_load(&server.requests), 2);
    assert_read(reader, 250000, 100, 100);
    assert_read(reader, 100000, 100, 100);
    assert_int_equal(atomic_load(&server.requests), 4); /* later ranges go straight to /file */
    range_reader_close(reader);
}

static void blocked_addresses_are_refused_also_after_a_redirect(void **state)
{
    (void)state;
    range_server_reset_counters(&server);
    fetch_policy policy = test_policy(NULL);
    fetch_result result;
    char err[256];
    assert_null(open_path("/file", &policy, NULL, &result, err, sizeof(err)));
    assert_int_equal(result, FETCH_BLOCKED);
    assert_string_equal(err, "the address of 127.0.0.1 is not public");

    policy = test_policy("localhost");
    char url[256];
    url_for(url, sizeof(url), "localhost", "/redirect-ip");
    assert_null(range_reader_open(url, &policy, NULL, &result, err, sizeof(err)));
    assert_int_equal(result, FETCH_BLOCKED);
    assert_string_equal(err, "the address of 127.0.0.1 is not public");
    assert_int_equal(atomic_load(&server.requests), 1); /* only the first hop reached the server */

    const char *invalid[] = {"", "file:///etc/passwd", "ftp://127.0.0.1/x", "garbage"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_null(range_reader_open(invalid[i], &policy, NULL, &result, err, sizeof(err)));
        assert_int_equal(result, FETCH_INVALID_URL);
    }
    assert_null(range_reader_open(NULL, &policy, NULL, &result, NULL, 0));
    assert_int_equal(result, FETCH_INVALID_URL);
}

static void read_budget_is_enforced(void **state)
{
    (void)state;
    range_server_reset_counters(&server);
    fetch_policy policy = test_policy("127.0.0.1");
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    limits.max_read_bytes = 100000;
    fetch_result result;
    char err[256];
    range_reader *reader = open_path("/file", &policy, &limits, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_int_equal(range_reader_bytes_read(reader), 65536);
    assert_read(reader, 200000, 1000, 1000); /* the block asked for shrinks to what is left */
    assert_int_equal(range_reader_bytes_read(reader), 100000);
    unsigned char byte;
    assert_int_equal(range_reader_read(reader, 100000, &byte, 1), -1);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_TOO_LARGE);
    assert_string_equal(err, "reading it needs more than 100000 bytes");
    assert_int_equal(range_reader_read(reader, 0, &byte, 1), -1);
    range_reader_close(reader);
    assert_true(atomic_load(&server.bytes_sent) <= 100000);

    /* the same budget for a server that ignores ranges */
    limits.max_read_bytes = 50000;
    reader = open_path("/norange", &policy, &limits, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_true(range_reader_bytes_read(reader) <= 50000);
    assert_int_equal(range_reader_read(reader, 60000, &byte, 1), -1);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_TOO_LARGE);
    range_reader_close(reader);

    /* a file larger than the policy's size limit */
    policy.max_bytes = 1000;
    assert_null(open_path("/file", &policy, NULL, &result, err, sizeof(err)));
    assert_int_equal(result, FETCH_TOO_LARGE);
    assert_string_equal(err, "more than 1000 bytes");
    assert_null(open_path("/norange", &policy, NULL, &result, err, sizeof(err)));
    assert_int_equal(result, FETCH_TOO_LARGE);
}

static void slow_server_runs_out_of_time(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    limits.total_timeout_ms = 300;
    fetch_result result;
    char err[256];
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_null(open_path("/slow", &policy, &limits, &result, err, sizeof(err)));
    clock_gettime(CLOCK_MONOTONIC, &end);
    long elapsed_ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_int_equal(result, FETCH_TIMEOUT);
    assert_string_equal(err, "127.0.0.1 was too slow: reading took more than 300 ms");
    assert_true(elapsed_ms >= 250 && elapsed_ms < 3000);

    /* the budget spans open and every read: the policy's own total caps it too */
    policy.total_timeout_ms = 200;
    range_reader *reader = open_path("/file", &policy, NULL, &result, err, sizeof(err));
    assert_non_null(reader);
    struct timespec pause = {.tv_nsec = 250 * 1000 * 1000};
    nanosleep(&pause, NULL);
    unsigned char byte;
    assert_int_equal(range_reader_read(reader, 200000, &byte, 1), -1);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_TIMEOUT);
    range_reader_close(reader);
}

static void hostile_answers_fail_cleanly(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        fetch_result expected;
        const char *message;
    } cases[] = {
        {"/cr/start", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/overflow", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/total-small", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/garbage", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/negative", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/end-before-start", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/units", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/trailing", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/missing", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/two", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/multipart", FETCH_UNREACHABLE, "127.0.0.1 answered with several ranges"},
        {"/cr/beyond-asked", FETCH_UNREACHABLE, "127.0.0.1 answered with an invalid Content-Range"},
        {"/cr/huge-total", FETCH_TOO_LARGE, "more than 536870912 bytes"},
        {"/more-than-announced", FETCH_UNREACHABLE, "127.0.0.1 sent more than the range it announced"},
        {"/truncated", FETCH_UNREACHABLE, "127.0.0.1 cut the answer short"},
        {"/chunked-short", FETCH_UNREACHABLE, "127.0.0.1 cut the answer short"},
        {"/missing", FETCH_HTTP_STATUS, "the server answered 404"},
        {"/wrong-416", FETCH_HTTP_STATUS, "the server answered 416"},
        {"/unknown", FETCH_HTTP_STATUS, "the server answered 500"},
    };
    fetch_policy policy = test_policy("127.0.0.1");
    policy.max_bytes = 536870912;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fetch_result result = FETCH_OK;
        char err[256] = "";
        range_reader *reader = open_path(cases[i].path, &policy, NULL, &result, err, sizeof(err));
        if (reader != NULL) fail_msg("%s: opened", cases[i].path);
        if (result != cases[i].expected || strcmp(err, cases[i].message) != 0)
            fail_msg("%s: %s: %s", cases[i].path, fetch_result_name(result), err);
    }
}

static void file_changing_size_fails(void **state)
{
    (void)state;
    atomic_store(&size_changes_requests, 0);
    fetch_policy policy = test_policy("127.0.0.1");
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    limits.read_ahead = 10;
    fetch_result result;
    char err[256];
    range_reader *reader = open_path("/size-changes", &policy, &limits, &result, err, sizeof(err));
    assert_non_null(reader);
    assert_int_equal(range_reader_size(reader), BODY_SIZE);
    unsigned char data[10];
    assert_int_equal(range_reader_read(reader, 100000, data, sizeof(data)), -1);
    assert_int_equal(range_reader_error(reader, err, sizeof(err)), FETCH_UNREACHABLE);
    assert_string_equal(err, "127.0.0.1 changed the file's size while it was read");
    range_reader_close(reader);
    range_reader_close(NULL);
}

static void limits_defaults(void **state)
{
    (void)state;
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    assert_int_equal(limits.max_read_bytes, 64 * 1024 * 1024);
    assert_int_equal(limits.total_timeout_ms, 30000);
    assert_int_equal(limits.read_ahead, 64 * 1024);
    assert_int_equal(limits.whole_body_cap, 16 * 1024 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_are_read_exactly_on_one_connection),
        cmocka_unit_test(small_sequential_reads_share_one_request),
        cmocka_unit_test(server_without_ranges_is_read_from_the_start_up_to_the_cap),
        cmocka_unit_test(empty_file_has_size_zero),
        cmocka_unit_test(redirect_is_followed_once),
        cmocka_unit_test(blocked_addresses_are_refused_also_after_a_redirect),
        cmocka_unit_test(read_budget_is_enforced),
        cmocka_unit_test(slow_server_runs_out_of_time),
        cmocka_unit_test(hostile_answers_fail_cleanly),
        cmocka_unit_test(file_changing_size_fails),
        cmocka_unit_test(limits_defaults),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

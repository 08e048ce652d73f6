/* test_net_fetch.c — the guarded fetch against a tiny HTTP server this test runs on 127.0.0.1:
 * the guard refusing loopback unless allow-listed (also after a redirect), bodies saved exactly,
 * status, size, time and URL failures mapped to results, and no credentials in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/fetch.h"

/* ---- the test server: one thread, one connection at a time, canned answers by path ---- */

static const unsigned char ok_body[] = {'h', 'e', 'l', 'l', 'o',  0,    'r',  'e',
                                        'e', 'l', 'a', 'y', '\r', '\n', 0xff, 0x80};

static struct {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int connections;
    char directory[64];
} server;

static void server_send(int fd, const void *data, size_t length)
{
    const char *cursor = data;
    while (length > 0) {
        ssize_t sent = send(fd, cursor, length, MSG_NOSIGNAL);
        if (sent <= 0) return; /* the client gave up: expected in the size and time cases */
        cursor += sent;
        length -= (size_t)sent;
    }
}

static void server_send_text(int fd, const char *text)
{
    server_send(fd, text, strlen(text));
}

/* Waits (bounded) until the client closes, so "slow" answers end as soon as the test is done. */
static void server_wait_for_close(int fd, int timeout_ms)
{
    struct pollfd waiter = {.fd = fd, .events = POLLIN};
    char sink[256];
    while (poll(&waiter, 1, timeout_ms) == 1) {
        if (recv(fd, sink, sizeof(sink), 0) <= 0) return;
    }
}

static void server_send_chunked(int fd, size_t total, size_t chunk)
{
    server_send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    char data[1024];
    memset(data, 'x', sizeof(data));
    for (size_t sent = 0; sent < total;) {
        size_t length = total - sent < chunk ? total - sent : chunk;
        char size_line[32];
        snprintf(size_line, sizeof(size_line), "%zx\r\n", length);
        server_send_text(fd, size_line);
        server_send(fd, data, length);
        server_send_text(fd, "\r\n");
        sent += length;
    }
    server_send_text(fd, "0\r\n\r\n");
}

static void server_answer(int fd, const char *path)
{
    char head[512];
    if (strcmp(path, "/ok") == 0) {
        snprintf(
            head, sizeof(head),
            "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            sizeof(ok_body));
        server_send_text(fd, head);
        server_send(fd, ok_body, sizeof(ok_body));
    } else if (strcmp(path, "/missing") == 0) {
        server_send_text(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                             "Connection: close\r\n\r\nno such thing");
    } else if (strcmp(path, "/chunked-large") == 0) {
        server_send_chunked(fd, 64 * 1024, 1000);
    } else if (strcmp(path, "/exact") == 0) {
        server_send_chunked(fd, 1000, 300);
    } else if (strcmp(path, "/length-large") == 0) {
        server_send_text(
            fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n0123456789");
    } else if (strcmp(path, "/redirect") == 0) {
        server_send_text(fd, "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 5\r\n"
                             "Connection: close\r\n\r\nmoved");
    } else if (strcmp(path, "/redirect-ip") == 0) {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/ok\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 server.port);
        server_send_text(fd, head);
    } else if (strcmp(path, "/redirect-ftp") == 0) {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:%d/ok\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 server.port);
        server_send_text(fd, head);
    } else if (strcmp(path, "/redirect-loop") == 0) {
        server_send_text(fd, "HTTP/1.1 302 Found\r\nLocation: /redirect-loop\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    } else if (strcmp(path, "/slow") == 0) {
        server_send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabcde");
        server_wait_for_close(fd, 5000);
    } else if (strcmp(path, "/close") == 0) {
        /* say nothing at all */
    } else {
        server_send_text(
            fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

static void server_handle(int fd)
{
    struct timeval timeout = {.tv_sec = 2};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) return;
    char request[4096];
    size_t used = 0;
    while (used < sizeof(request) - 1) {
        ssize_t got = recv(fd, request + used, sizeof(request) - 1 - used, 0);
        if (got <= 0) return;
        used += (size_t)got;
        request[used] = '\0';
        if (strstr(request, "\r\n\r\n") != NULL) break;
    }
    char path[256];
    if (sscanf(request, "GET %255s HTTP/1.1", path) != 1) return;
    server_answer(fd, path);
    (void)shutdown(fd, SHUT_WR);
}

static void *server_run(void *unused)
{
    (void)unused;
    struct pollfd waiter = {.fd = server.listen_fd, .events = POLLIN};
    while (!atomic_load(&server.stop)) {
        if (poll(&waiter, 1, 20) != 1) continue;
        int fd = accept(server.listen_fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&server.connections, 1);
        server_handle(fd);
        close(fd);
    }
    return NULL;
}

/* Binds 127.0.0.1 on an ephemeral port; returns the socket and fills *port. */
static int loopback_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static int server_start(void **state)
{
    (void)state;
    unsetenv("REELAY_FETCH_ALLOW");
    server.listen_fd = loopback_listener(&server.port);
    if (server.listen_fd < 0) return -1;
    snprintf(server.directory, sizeof(server.directory), "/tmp/reelay-net-test-XXXXXX");
    if (mkdtemp(server.directory) == NULL) return -1;
    return pthread_create(&server.thread, NULL, server_run, NULL) == 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    atomic_store(&server.stop, true);
    pthread_join(server.thread, NULL);
    close(server.listen_fd);
    return rmdir(server.directory) == 0 ? 0 : -1; /* fails if a test left a file behind */
}

/* ---- helpers ---- */

static void url_for(char *out, size_t size, const char *host, const char *path)
{
    snprintf(out, size, "http://%s:%d%s", host, server.port, path);
}

static void file_path(char *out, size_t size)
{
    snprintf(out, size, "%s/download", server.directory);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static fetch_policy test_policy(const char *allow_list)
{
    fetch_policy policy;
    fetch_policy_init(&policy);
    policy.allow_list = allow_list;
    policy.connect_timeout_ms = 2000;
    policy.total_timeout_ms = 5000;
    return policy;
}

/* Every connection the server accepts is counted; fetching /ok afterwards flushes out any connection
 * still waiting in the backlog (accepts are in order), so "none seen" is checked, not assumed. */
static int connections_after_sync(void)
{
    char url[128], path[128];
    url_for(url, sizeof(url), "127.0.0.1", "/ok");
    file_path(path, sizeof(path));
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_url_to_file(url, path, &policy, &response, err, sizeof(err)), FETCH_OK);
    assert_int_equal(unlink(path), 0);
    return atomic_load(&server.connections) - 1;
}

static fetch_result fetch_path(const char *host, const char *url_path, const fetch_policy *policy,
                               fetch_response *response, char *err, size_t err_size)
{
    char url[128], path[128];
    url_for(url, sizeof(url), host, url_path);
    file_path(path, sizeof(path));
    return fetch_url_to_file(url, path, policy, response, err, err_size);
}

static void assert_no_download(void)
{
    char path[128];
    file_path(path, sizeof(path));
    assert_false(file_exists(path));
}

static void assert_download_is_ok_body(const fetch_response *response)
{
    char path[128];
    file_path(path, sizeof(path));
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char data[64];
    size_t got = fread(data, 1, sizeof(data), file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(got, sizeof(ok_body));
    assert_memory_equal(data, ok_body, sizeof(ok_body));
    assert_int_equal(response->size, sizeof(ok_body));
    assert_int_equal(response->http_status, 200);
    assert_string_equal(response->content_type, "video/mp4");
    assert_int_equal(unlink(path), 0);
}

/* ---- cases ---- */

static void loopback_is_blocked_without_allow_list(void **state)
{
    (void)state;
    int before = connections_after_sync();
    const char *lists[] = {NULL, "", "localhost, 10.0.0.0/8, ::1", "127.0.0.2"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        fetch_policy policy = test_policy(lists[i]);
        fetch_response response;
        char err[256];
        assert_int_equal(fetch_path("127.0.0.1", "/ok", &policy, &response, err, sizeof(err)), FETCH_BLOCKED);
        assert_string_equal(err, "the address of 127.0.0.1 is not public");
        assert_no_download();
    }
    assert_int_equal(connections_after_sync(), before + 1);
}

static void loopback_allowed_by_literal_cidr_or_name(void **state)
{
    (void)state;
    const char *lists[] = {"127.0.0.1", "127.0.0.0/8", " example.com , 127.0.0.0/30 "};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        fetch_policy policy = test_policy(lists[i]);
        fetch_response response;
        char err[256] = "";
        assert_int_equal(fetch_path("127.0.0.1", "/ok", &policy, &response, err, sizeof(err)), FETCH_OK);
        assert_download_is_ok_body(&response);
    }
    fetch_policy policy = test_policy("LOCALHOST");
    fetch_response response;
    char err[256] = "";
    fetch_result result = fetch_path("localhost", "/ok", &policy, &response, err, sizeof(err));
    if (result != FETCH_OK) fail_msg("localhost: %s: %s", fetch_result_name(result), err);
    assert_download_is_ok_body(&response);
}

static void existing_file_is_truncated(void **state)
{
    (void)state;
    char path[128];
    file_path(path, sizeof(path));
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    char junk[4096];
    memset(junk, 'j', sizeof(junk));
    assert_int_equal(fwrite(junk, 1, sizeof(junk), file), sizeof(junk));
    assert_int_equal(fclose(file), 0);
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/ok", &policy, &response, err, sizeof(err)), FETCH_OK);
    assert_download_is_ok_body(&response);
}

static void error_status_fails_without_a_file(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/missing", &policy, &response, err, sizeof(err)),
                     FETCH_HTTP_STATUS);
    assert_string_equal(err, "the server answered 404");
    assert_int_equal(response.http_status, 404);
    assert_no_download();
    assert_int_equal(fetch_path("127.0.0.1", "/unknown", &policy, &response, err, sizeof(err)),
                     FETCH_HTTP_STATUS);
    assert_string_equal(err, "the server answered 500");
    assert_no_download();
}

static void too_large_by_content_length_or_as_received(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    policy.max_bytes = 10000;
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/chunked-large", &policy, &response, err, sizeof(err)),
                     FETCH_TOO_LARGE);
    assert_string_equal(err, "more than 10000 bytes");
    assert_no_download();
    assert_int_equal(fetch_path("127.0.0.1", "/length-large", &policy, &response, err, sizeof(err)),
                     FETCH_TOO_LARGE);
    assert_string_equal(err, "more than 10000 bytes");
    assert_no_download();
}

static void size_limit_is_inclusive(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    policy.max_bytes = 1000;
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/exact", &policy, &response, err, sizeof(err)), FETCH_OK);
    assert_int_equal(response.size, 1000);
    char path[128];
    file_path(path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    policy.max_bytes = 999;
    assert_int_equal(fetch_path("127.0.0.1", "/exact", &policy, &response, err, sizeof(err)),
                     FETCH_TOO_LARGE);
    assert_no_download();
}

static void slow_server_times_out(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    policy.total_timeout_ms = 300;
    fetch_response response;
    char err[256];
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(fetch_path("127.0.0.1", "/slow", &policy, &response, err, sizeof(err)), FETCH_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &end);
    long elapsed_ms = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_true(elapsed_ms >= 250 && elapsed_ms < 3000);
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_no_download();
}

static void closed_port_and_abrupt_close_are_unreachable(void **state)
{
    (void)state;
    int port = 0;
    int fd = loopback_listener(&port);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0); /* nothing listens there any more */
    char url[128], path[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", port);
    file_path(path, sizeof(path));
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_url_to_file(url, path, &policy, &response, err, sizeof(err)), FETCH_UNREACHABLE);
    assert_string_equal(err, "could not connect to 127.0.0.1: Connection refused");
    assert_no_download();

    assert_int_equal(fetch_path("127.0.0.1", "/close", &policy, &response, err, sizeof(err)),
                     FETCH_UNREACHABLE);
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_no_download();
}

static void only_absolute_http_urls_are_valid(void **state)
{
    (void)state;
    int before = connections_after_sync();
    char ftp[128];
    snprintf(ftp, sizeof(ftp), "ftp://127.0.0.1:%d/ok", server.port);
    const char *urls[] = {ftp,
                          "garbage",
                          "",
                          NULL,
                          "http://",
                          "file:///etc/passwd",
                          "/ok",
                          "//127.0.0.1/ok",
                          "gopher://127.0.0.1/",
                          "http://exa mple.com/",
                          "127.0.0.1/ok"};
    char path[128];
    file_path(path, sizeof(path));
    fetch_policy policy = test_policy("127.0.0.1");
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        fetch_response response;
        char err[256] = "";
        fetch_result result = fetch_url_to_file(urls[i], path, &policy, &response, err, sizeof(err));
        if (result != FETCH_INVALID_URL)
            fail_msg("'%s' gave %s", urls[i] ? urls[i] : "(null)", fetch_result_name(result));
        assert_true(err[0] != '\0');
        assert_no_download();
    }
    assert_int_equal(connections_after_sync(), before + 1);
}

static void redirect_is_followed_when_allowed(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/redirect", &policy, &response, err, sizeof(err)), FETCH_OK);
    assert_download_is_ok_body(&response);
}

static void redirect_to_a_non_allowed_address_is_blocked(void **state)
{
    (void)state;
    int before = connections_after_sync();
    fetch_policy policy = test_policy("localhost");
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("localhost", "/redirect-ip", &policy, &response, err, sizeof(err)),
                     FETCH_BLOCKED);
    assert_string_equal(err, "the address of 127.0.0.1 is not public");
    assert_no_download();
    /* the first hop reached the server; the redirected one did not */
    assert_int_equal(connections_after_sync(), before + 2);
}

static void redirect_limits_and_schemes(void **state)
{
    (void)state;
    fetch_policy policy = test_policy("127.0.0.1");
    policy.max_redirects = 2;
    fetch_response response;
    char err[256];
    assert_int_equal(fetch_path("127.0.0.1", "/redirect-loop", &policy, &response, err, sizeof(err)),
                     FETCH_HTTP_STATUS);
    assert_string_equal(err, "more than 2 redirects");
    assert_no_download();
    fetch_result result = fetch_path("127.0.0.1", "/redirect-ftp", &policy, &response, err, sizeof(err));
    if (result != FETCH_BLOCKED) fail_msg("redirect to ftp gave %s: %s", fetch_result_name(result), err);
    assert_no_download();
}

static void credentials_never_reach_messages(void **state)
{
    (void)state;
    int port = 0;
    int fd = loopback_listener(&port);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
    char refused[128], missing[128], blocked[128], path[128];
    snprintf(refused, sizeof(refused), "http://alice:s3cret@127.0.0.1:%d/ok", port);
    snprintf(missing, sizeof(missing), "http://alice:s3cret@127.0.0.1:%d/missing", server.port);
    snprintf(blocked, sizeof(blocked), "http://alice:s3cret@127.0.0.1:%d/ok", server.port);
    file_path(path, sizeof(path));
    struct {
        const char *url;
        const char *allow_list;
        fetch_result expected;
    } cases[] = {
        {refused, "127.0.0.1", FETCH_UNREACHABLE},
        {missing, "127.0.0.1", FETCH_HTTP_STATUS},
        {blocked, NULL, FETCH_BLOCKED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fetch_policy policy = test_policy(cases[i].allow_list);
        fetch_response response;
        char err[256] = "";
        assert_int_equal(fetch_url_to_file(cases[i].url, path, &policy, &response, err, sizeof(err)),
                         cases[i].expected);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "alice"));
        assert_null(strstr(err, "s3cret"));
        assert_no_download();
    }
}

static void tiny_error_buffers_are_safe(void **state)
{
    (void)state;
    fetch_policy policy = test_policy(NULL);
    fetch_response response;
    char err[8];
    assert_int_equal(fetch_path("127.0.0.1", "/ok", &policy, &response, err, sizeof(err)), FETCH_BLOCKED);
    assert_string_equal(err, "the add");
    assert_int_equal(fetch_path("127.0.0.1", "/ok", &policy, NULL, NULL, 0), FETCH_BLOCKED);
}

static void result_names(void **state)
{
    (void)state;
    assert_string_equal(fetch_result_name(FETCH_OK), "ok");
    assert_string_equal(fetch_result_name(FETCH_INVALID_URL), "invalid_url");
    assert_string_equal(fetch_result_name(FETCH_BLOCKED), "blocked");
    assert_string_equal(fetch_result_name(FETCH_UNREACHABLE), "unreachable");
    assert_string_equal(fetch_result_name(FETCH_HTTP_STATUS), "http_status");
    assert_string_equal(fetch_result_name(FETCH_TOO_LARGE), "too_large");
    assert_string_equal(fetch_result_name(FETCH_TIMEOUT), "timeout");
}

/* The defaults only: fetch reads no environment (serve sets the operator's limits over these; the
 * settings' own tests, test_cli_settings.c, check REELAY_FETCH_* and their flags). */
static void policy_defaults(void **state)
{
    (void)state;
    fetch_policy policy;
    memset(&policy, 0xab, sizeof(policy));
    assert_int_equal(setenv("REELAY_FETCH_ALLOW", "127.0.0.1", 1), 0);
    fetch_policy_init(&policy);
    assert_int_equal(policy.max_bytes, 536870912);
    assert_int_equal(policy.connect_timeout_ms, 10000);
    assert_int_equal(policy.total_timeout_ms, 300000);
    assert_int_equal(policy.max_redirects, 5);
    assert_null(policy.allow_list);
    unsetenv("REELAY_FETCH_ALLOW");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_is_blocked_without_allow_list),
        cmocka_unit_test(loopback_allowed_by_literal_cidr_or_name),
        cmocka_unit_test(existing_file_is_truncated),
        cmocka_unit_test(error_status_fails_without_a_file),
        cmocka_unit_test(too_large_by_content_length_or_as_received),
        cmocka_unit_test(size_limit_is_inclusive),
        cmocka_unit_test(slow_server_times_out),
        cmocka_unit_test(closed_port_and_abrupt_close_are_unreachable),
        cmocka_unit_test(only_absolute_http_urls_are_valid),
        cmocka_unit_test(redirect_is_followed_when_allowed),
        cmocka_unit_test(redirect_to_a_non_allowed_address_is_blocked),
        cmocka_unit_test(redirect_limits_and_schemes),
        cmocka_unit_test(credentials_never_reach_messages),
        cmocka_unit_test(tiny_error_buffers_are_safe),
        cmocka_unit_test(result_names),
        cmocka_unit_test(policy_defaults),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}

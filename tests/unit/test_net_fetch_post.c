/* test_net_fetch_post.c — the guarded POST against a small server on 127.0.0.1: what is sent, how each
 * kind of answer is classified (2xx, other statuses, redirects not followed, oversized bodies, silence),
 * and the guard: non-public addresses refused unless allow-listed, http only to allow-listed hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/fetch_post.h"

typedef enum { ANSWER_STATUS, ANSWER_REDIRECT, ANSWER_HUGE, ANSWER_SILENCE } answer_kind;

/* One connection at a time, one request per connection (the client is told to close). */
typedef struct post_server {
    int listen_fd, port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int requests;
    answer_kind answer;
    int status;
    char request[8192]; /* the last request, headers and body */
} post_server;

static post_server server;

static void send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
        if (sent <= 0) return;
        data += sent, length -= (size_t)sent;
    }
}

/* Reads headers and a Content-Length body into server.request. */
static void read_request(int fd)
{
    size_t have = 0;
    server.request[0] = '\0';
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) return;
        ssize_t got = recv(fd, server.request + have, sizeof(server.request) - 1 - have, 0);
        if (got <= 0) return;
        have += (size_t)got;
        server.request[have] = '\0';
        char *end = strstr(server.request, "\r\n\r\n");
        if (end == NULL) continue;
        const char *length = strcasestr(server.request, "Content-Length:");
        size_t body = length ? strtoul(length + 15, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - server.request) + body) return;
    }
}

static void *serve(void *arg)
{
    (void)arg;
    while (!atomic_load(&server.stop)) {
        struct pollfd p = {.fd = server.listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(server.listen_fd, NULL, NULL);
        if (fd < 0) continue;
        read_request(fd);
        atomic_fetch_add(&server.requests, 1);
        char head[256];
        switch (server.answer) {
        case ANSWER_STATUS:
            snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                     server.status);
            send_all(fd, head, strlen(head));
            break;
        case ANSWER_REDIRECT:
            snprintf(head, sizeof(head),
                     "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/elsewhere\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     server.port);
            send_all(fd, head, strlen(head));
            break;
        case ANSWER_HUGE: {
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
                     4 << 20);
            send_all(fd, head, strlen(head));
            static char block[64 * 1024];
            memset(block, 'x', sizeof(block));
            for (int i = 0; i < 64; i++)
                send_all(fd, block, sizeof(block));
            break;
        }
        case ANSWER_SILENCE:
            for (int i = 0; i < 40 && !atomic_load(&server.stop); i++)
                usleep(25000);
            break;
        }
        close(fd);
    }
    return NULL;
}

static int start_server(void **state)
{
    (void)state;
    memset(&server, 0, sizeof(server));
    server.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (bind(server.listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(server.listen_fd, 16) != 0 ||
        getsockname(server.listen_fd, (struct sockaddr *)&address, &length) != 0)
        return -1;
    server.port = ntohs(address.sin_port);
    server.answer = ANSWER_STATUS;
    server.status = 200;
    return pthread_create(&server.thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    atomic_store(&server.stop, true);
    pthread_join(server.thread, NULL);
    close(server.listen_fd);
    return 0;
}

static fetch_policy allowing(const char *allow_list)
{
    fetch_policy policy;
    fetch_policy_init(&policy);
    policy.allow_list = allow_list;
    return policy;
}

/* Posts body to path on the test server; returns the result, with status and err. */
static fetch_result post(const char *url, const fetch_policy *policy, long timeout_ms,
                         const char *const *headers, long *status, char *err, size_t err_size)
{
    fetch_post_options options = {.policy = policy, .timeout_ms = timeout_ms, .https_only = true};
    const char body[] = "{\"id\":\"task-1\",\"status\":\"completed\"}";
    fetch_result result;
    fetch_post *p = fetch_post_begin(url, headers, body, strlen(body), &options, &result, err, err_size);
    if (p == NULL) return result;
    return fetch_post_end(p, curl_easy_perform(fetch_post_easy(p)), status, err, err_size);
}

static void a_2xx_is_delivered_with_the_body_and_headers(void **state)
{
    (void)state;
    fetch_policy policy = allowing("127.0.0.1");
    char url[128], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?token=abc", server.port);
    const char *headers[] = {"Content-Type: application/json", "webhook-id: msg_1", NULL};
    long status = 0;
    server.status = 204;
    assert_int_equal(post(url, &policy, 5000, headers, &status, err, sizeof(err)), FETCH_OK);
    assert_int_equal(status, 204);
    assert_non_null(strstr(server.request, "POST /hook?token=abc HTTP/1.1\r\n"));
    assert_non_null(strstr(server.request, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(server.request, "webhook-id: msg_1\r\n"));
    assert_non_null(strstr(server.request, "User-Agent: reelay\r\n"));
    assert_null(strcasestr(server.request, "Expect:"));
    assert_non_null(strstr(server.request, "\r\n\r\n{\"id\":\"task-1\",\"status\":\"completed\"}"));
}

static void other_statuses_and_redirects_are_failures(void **state)
{
    (void)state;
    fetch_policy policy = allowing("127.0.0.1");
    char url[128], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", server.port);
    long status = 0;
    server.status = 500;
    assert_int_equal(post(url, &policy, 5000, NULL, &status, err, sizeof(err)), FETCH_HTTP_STATUS);
    assert_int_equal(status, 500);
    assert_string_equal(err, "127.0.0.1 answered 500");
    server.answer = ANSWER_REDIRECT;
    int before = atomic_load(&server.requests);
    assert_int_equal(post(url, &policy, 5000, NULL, &status, err, sizeof(err)), FETCH_HTTP_STATUS);
    assert_int_equal(status, 302);
    assert_int_equal(atomic_load(&server.requests), before + 1); /* not followed */
}

static void a_huge_answer_is_cut_off_but_its_status_counts(void **state)
{
    (void)state;
    fetch_policy policy = allowing("127.0.0.1");
    char url[128], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", server.port);
    server.answer = ANSWER_HUGE;
    long status = 0;
    assert_int_equal(post(url, &policy, 5000, NULL, &status, err, sizeof(err)), FETCH_OK);
    assert_int_equal(status, 200);
}

static void silence_is_a_timeout(void **state)
{
    (void)state;
    fetch_policy policy = allowing("127.0.0.1");
    char url[128], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", server.port);
    server.answer = ANSWER_SILENCE;
    long status = -1;
    assert_int_equal(post(url, &policy, 300, NULL, &status, err, sizeof(err)), FETCH_TIMEOUT);
    assert_int_equal(status, 0);
    assert_null(strstr(err, "/hook"));
}

static void the_guard_refuses_what_is_not_allowed(void **state)
{
    (void)state;
    char url[128], err[256];
    long status = 0;
    /* loopback without the allow-list: refused at connect time, nothing reaches the server */
    fetch_policy none = allowing(NULL);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hook", server.port);
    int before = atomic_load(&server.requests);
    assert_int_equal(post(url, &none, 5000, NULL, &status, err, sizeof(err)), FETCH_BLOCKED);
    assert_string_equal(err, "the address of 127.0.0.1 is not public");
    usleep(100000);
    assert_int_equal(atomic_load(&server.requests), before);
    /* http only to allow-listed hosts */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", server.port);
    assert_int_equal(post(url, &none, 5000, NULL, &status, err, sizeof(err)), FETCH_INVALID_URL);
    fetch_policy other = allowing("10.0.0.0/8,example.test");
    assert_int_equal(post("http://example.com/hook", &other, 5000, NULL, &status, err, sizeof(err)),
                     FETCH_INVALID_URL);
    assert_int_equal(post(url, &other, 5000, NULL, &status, err, sizeof(err)), FETCH_INVALID_URL);
    /* not http(s), or not a URL */
    assert_int_equal(post("ftp://example.com/hook", &other, 5000, NULL, &status, err, sizeof(err)),
                     FETCH_INVALID_URL);
    assert_int_equal(post("not a url", &other, 5000, NULL, &status, err, sizeof(err)), FETCH_INVALID_URL);
    assert_int_equal(post("", &other, 5000, NULL, &status, err, sizeof(err)), FETCH_INVALID_URL);
    assert_int_equal(atomic_load(&server.requests), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_2xx_is_delivered_with_the_body_and_headers, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(other_statuses_and_redirects_are_failures, start_server, stop_server),
        cmocka_unit_test_setup_teardown(a_huge_answer_is_cut_off_but_its_status_counts, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(silence_is_a_timeout, start_server, stop_server),
        cmocka_unit_test_setup_teardown(the_guard_refuses_what_is_not_allowed, start_server, stop_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_http_head_screen.c — requests refused from their head alone, over raw sockets: a Content-Length
 * over the route's limit or a route's screen gets its JSON answer before any body is sent; conflicting
 * lengths, malformed heads, too many headers and broken chunked bodies get the documented JSON instead
 * of h2o's plain text; keep-alive and pipelined requests are screened too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

static int server_port;
static http_server *server;

static void count_small_413(void *ctx, const char *route, int status, uint64_t count)
{
    if (strcmp(route, "small") == 0 && status == 413) *(uint64_t *)ctx += count;
}

/* Refusals of POST /v1/small's heads and bodies so far, counted on its own route. */
static uint64_t small_refusals(void)
{
    uint64_t total = 0;
    http_server_each_count(server, count_small_413, &total);
    return total;
}
static int screened; /* how many heads the /v1/big screen saw */

static void echo_length(http_exchange *exchange)
{
    char text[64];
    int length = snprintf(text, sizeof(text), "{\"body_length\":%zu}", exchange->req->entity.len);
    http_send_json(exchange->req, 200, text, (size_t)length);
}

static bool needs_key(void *thread_data, const http_request_head *head, reelay_error *err)
{
    (void)thread_data;
    __atomic_add_fetch(&screened, 1, __ATOMIC_SEQ_CST);
    h2o_iovec_t key = http_head_field_value(head, "x-key");
    if (key.base != NULL && h2o_memis(key.base, key.len, H2O_STRLIT("good"))) return true;
    reelay_error_set(err, 401, "authentication_error", "invalid_api_key", NULL, "No good key.");
    return false;
}

static const http_route routes[] = {
    {"POST", "/v1/small", "small", echo_length, NULL, false},
    {"GET", "/v1/small", "small.get", echo_length, NULL, false},
    {"POST", "/v1/big/upload", "big", echo_length, needs_key, true},
};

/* ---- a raw client ---- */

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

static void send_text(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, text, length, MSG_NOSIGNAL);
        assert_true(n > 0);
        text += n, length -= (size_t)n;
    }
}

typedef struct response {
    int status;
    char head[4096];
    char body[4096];
    size_t body_length;
} response;

/* Decodes a complete chunked body at data (length bytes available) into out; returns the bytes it
 * spans, or 0 while incomplete. */
static size_t dechunk(const char *data, size_t length, char *out, size_t out_size, size_t *out_length)
{
    size_t at = 0;
    *out_length = 0;
    for (;;) {
        const char *line_end = memmem(data + at, length - at, "\r\n", 2);
        if (line_end == NULL) return 0;
        size_t size = strtoul(data + at, NULL, 16);
        at = (size_t)(line_end - data) + 2;
        if (length - at < size + 2) return 0;
        if (size == 0) return at + 2;
        assert_true(*out_length + size < out_size);
        memcpy(out + *out_length, data + at, size);
        *out_length += size;
        at += size + 2;
    }
}

/* Reads one response (head and body, by Content-Length or chunked) within 5 s; status 0 when the
 * connection ended first. Bytes past the response stay in *pending. */
static response read_response(int fd, char *pending, size_t *pending_length)
{
    response r = {0};
    for (;;) {
        char *end = *pending_length ? memmem(pending, *pending_length, "\r\n\r\n", 4) : NULL;
        if (end != NULL) {
            size_t head_length = (size_t)(end - pending) + 4, spanned = 0;
            bool complete = false;
            assert_true(head_length < sizeof(r.head));
            memcpy(r.head, pending, head_length);
            r.head[head_length] = '\0';
            if (strcasestr(r.head, "transfer-encoding: chunked")) {
                spanned = dechunk(pending + head_length, *pending_length - head_length, r.body,
                                  sizeof(r.body), &r.body_length);
            } else {
                const char *length_header = strcasestr(r.head, "content-length:");
                size_t body_length = length_header ? strtoul(length_header + 15, NULL, 10) : 0;
                assert_true(body_length < sizeof(r.body));
                if (*pending_length >= head_length + body_length) {
                    memcpy(r.body, pending + head_length, body_length);
                    r.body_length = spanned = body_length;
                    complete = true;
                }
            }
            if (spanned > 0 || complete) {
                r.status = atoi(pending + 9);
                memmove(pending, pending + head_length + spanned, *pending_length - head_length - spanned);
                *pending_length -= head_length + spanned;
                return r;
            }
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, pending + *pending_length, 65536 - *pending_length, 0);
        if (n <= 0) return r;
        *pending_length += (size_t)n;
    }
}

static response exchange_once(const char *text, size_t length)
{
    int fd = connect_server();
    send_text(fd, text, length);
    char *pending = malloc(65536);
    size_t pending_length = 0;
    response r = read_response(fd, pending, &pending_length);
    free(pending);
    close(fd);
    return r;
}

/* The answer is the documented error shape with this status and code. */
static void assert_json_error(const response *r, int status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_non_null(strcasestr(r->head, "content-type: application/json"));
    json_error_t error;
    json_t *body = json_loadb(r->body, r->body_length, 0, &error);
    assert_non_null(body);
    json_t *fields = json_object_get(body, "error");
    assert_non_null(json_string_value(json_object_get(fields, "message")));
    assert_non_null(json_string_value(json_object_get(fields, "type")));
    assert_string_equal(json_string_value(json_object_get(fields, "code")), code);
    json_decref(body);
}

/* After a refusal the server ends the stream: the next read sees its end within 5 s. */
static void assert_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char byte;
    assert_true(recv(fd, &byte, 1, 0) <= 0);
}

/* ---- tests ---- */

static void a_length_over_the_route_limit_is_refused_before_the_body(void **state)
{
    (void)state;
    int fd = connect_server();
    /* Over the route's 16 KiB, under the server's 256 KiB: h2o alone would wait for the body. */
    static const char head[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n";
    send_text(fd, head, sizeof(head) - 1); /* and not one byte of the body */
    char *pending = malloc(65536);
    size_t pending_length = 0;
    response r = read_response(fd, pending, &pending_length);
    assert_json_error(&r, 413, "request_too_large");
    assert_non_null(strstr(r.body, "16384"));
    assert_closed(fd);
    free(pending);
    close(fd);
}

static void a_route_screen_refuses_before_the_body(void **state)
{
    (void)state;
    int before = __atomic_load_n(&screened, __ATOMIC_SEQ_CST);
    static const char head[] = "POST /v1/big/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n";
    response r = exchange_once(head, sizeof(head) - 1);
    assert_json_error(&r, 401, "invalid_api_key");
    assert_int_equal(__atomic_load_n(&screened, __ATOMIC_SEQ_CST), before + 1);

    size_t size = 50000;
    char *request = malloc(size + 200);
    int head_length = snprintf(request, 200,
                               "POST /v1/big/upload HTTP/1.1\r\nHost: x\r\nX-Key: good\r\n"
                               "Content-Length: %zu\r\n\r\n",
                               size);
    memset(request + head_length, 'u', size);
    r = exchange_once(request, (size_t)head_length + size);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"body_length\":50000"));
    free(request);
}

static void conflicting_lengths_are_refused(void **state)
{
    (void)state;
    static const char two[] =
        "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    response r = exchange_once(two, sizeof(two) - 1);
    assert_json_error(&r, 400, "conflicting_content_length");
    static const char same[] =
        "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    r = exchange_once(same, sizeof(same) - 1);
    assert_int_equal(r.status, 200);
    static const char both[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: "
                               "3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    r = exchange_once(both, sizeof(both) - 1);
    assert_json_error(&r, 400, "conflicting_content_length");
    static const char signed_length[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc";
    r = exchange_once(signed_length, sizeof(signed_length) - 1);
    assert_json_error(&r, 400, "invalid_content_length");
    static const char gzip[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n";
    r = exchange_once(gzip, sizeof(gzip) - 1);
    assert_json_error(&r, 400, "unsupported_transfer_encoding");
}

static void malformed_heads_get_json(void **state)
{
    (void)state;
    static const char garbage[] = "GARBAGE\r\n\r\n";
    response r = exchange_once(garbage, sizeof(garbage) - 1);
    assert_json_error(&r, 400, "malformed_request");
    static const char bad_header[] = "GET /v1/small HTTP/1.1\r\nHost x\r\n\r\n";
    r = exchange_once(bad_header, sizeof(bad_header) - 1);
    assert_json_error(&r, 400, "malformed_request");

    char *many = malloc(64 * 1024);
    size_t length = (size_t)sprintf(many, "GET /v1/small HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 150; i++)
        length += (size_t)sprintf(many + length, "X-Header-%d: %d\r\n", i, i);
    length += (size_t)sprintf(many + length, "\r\n");
    r = exchange_once(many, length);
    assert_json_error(&r, 431, "too_many_headers");
    free(many);

    size_t big = 500 * 1024;
    char *huge = malloc(big + 100);
    length = (size_t)sprintf(huge, "GET /v1/small HTTP/1.1\r\nX-Big: ");
    memset(huge + length, 'h', big);
    length += big;
    r = exchange_once(huge, length); /* never ends its head */
    assert_json_error(&r, 431, "request_head_too_large");
    free(huge);
}

static void broken_and_oversized_chunked_bodies_get_json(void **state)
{
    (void)state;
    static const char broken[] =
        "POST /v1/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n";
    response r = exchange_once(broken, sizeof(broken) - 1);
    assert_json_error(&r, 400, "malformed_request");

    static const char good[] =
        "POST /v1/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    r = exchange_once(good, sizeof(good) - 1);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"body_length\":3"));

    /* Chunks past the route's limit: refused while they arrive, long before the global limit, and
     * counted on the route. */
    uint64_t refusals_before = small_refusals();
    int fd = connect_server();
    static const char head[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_text(fd, head, sizeof(head) - 1);
    char chunk[4096 + 16];
    int chunk_length = sprintf(chunk, "1000\r\n");
    memset(chunk + chunk_length, 'c', 4096);
    chunk_length += 4096;
    chunk_length += sprintf(chunk + chunk_length, "\r\n");
    bool refused = false;
    int sent = 0;
    for (; sent < 64 && !refused; sent++) { /* 256 KiB at most: the server's own limit */
        if (send(fd, chunk, (size_t)chunk_length, MSG_NOSIGNAL) != chunk_length) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        refused = poll(&p, 1, sent < 20 ? 10 : 200) == 1;
    }
    assert_true(refused);
    assert_true(sent <= 32); /* by the route's 16 KiB (and the framing allowance), not h2o's 256 KiB */
    char *pending = malloc(65536);
    size_t pending_length = 0;
    r = read_response(fd, pending, &pending_length);
    assert_json_error(&r, 413, "request_too_large");
    assert_int_equal(small_refusals(), refusals_before + 1);
    free(pending);
    close(fd);
}

static void every_request_of_a_kept_alive_connection_is_screened(void **state)
{
    (void)state;
    int fd = connect_server();
    char *pending = malloc(65536);
    size_t pending_length = 0;
    static const char first[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    for (int i = 0; i < 3; i++) {
        send_text(fd, first, sizeof(first) - 1);
        response r = read_response(fd, pending, &pending_length);
        assert_int_equal(r.status, 200);
    }
    usleep(20 * 1000); /* let the loop go round, as it does between a client's requests */
    static const char second[] = "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n";
    send_text(fd, second, sizeof(second) - 1);
    response r = read_response(fd, pending, &pending_length);
    assert_json_error(&r, 413, "request_too_large");
    assert_closed(fd);
    free(pending);
    close(fd);
}

static void a_refused_pipelined_request_ends_the_connection(void **state)
{
    (void)state;
    int fd = connect_server();
    static const char both[] = "GET /v1/small HTTP/1.1\r\nHost: x\r\n\r\n"
                               "POST /v1/small HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n";
    send_text(fd, both, sizeof(both) - 1);
    char *pending = malloc(65536);
    size_t pending_length = 0;
    response r = read_response(fd, pending, &pending_length);
    assert_int_equal(r.status, 200);
    r = read_response(fd, pending, &pending_length);
    assert_true(r.status == 0 || r.status == 413); /* dropped with the connection, or refused */
    assert_closed(fd);
    free(pending);
    close(fd);
}

static void bodies_over_the_global_limit_get_json(void **state)
{
    (void)state;
    /* h2o itself refuses a chunked body over max_body_bytes; its text becomes the JSON shape. */
    int fd = connect_server();
    static const char head[] =
        "POST /v1/big/upload HTTP/1.1\r\nHost: x\r\nX-Key: good\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_text(fd, head, sizeof(head) - 1);
    char chunk[8192 + 16];
    int chunk_length = sprintf(chunk, "2000\r\n");
    memset(chunk + chunk_length, 'g', 8192);
    chunk_length += 8192;
    chunk_length += sprintf(chunk + chunk_length, "\r\n");
    bool answered = false;
    for (int i = 0; i < 64 && !answered; i++) {
        if (send(fd, chunk, (size_t)chunk_length, MSG_NOSIGNAL) != chunk_length) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        answered = poll(&p, 1, i < 30 ? 10 : 200) == 1;
    }
    assert_true(answered);
    char *pending = malloc(65536);
    size_t pending_length = 0;
    response r = read_response(fd, pending, &pending_length);
    assert_json_error(&r, 413, "request_too_large");
    free(pending);
    close(fd);
}

int main(void)
{
    http_server_config config = {.host = "127.0.0.1",
                                 .port = 0,
                                 .threads = 2,
                                 .max_body_bytes = 256 * 1024,
                                 .route_body_bytes = 16 * 1024,
                                 .request_timeout_ms = 5000,
                                 .idle_timeout_ms = 5000,
                                 .routes = routes,
                                 .route_count = sizeof(routes) / sizeof(routes[0])};
    server = http_server_start(&config);
    if (server == NULL) return 1;
    server_port = http_server_port(server);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_length_over_the_route_limit_is_refused_before_the_body),
        cmocka_unit_test(a_route_screen_refuses_before_the_body),
        cmocka_unit_test(conflicting_lengths_are_refused),
        cmocka_unit_test(malformed_heads_get_json),
        cmocka_unit_test(broken_and_oversized_chunked_bodies_get_json),
        cmocka_unit_test(every_request_of_a_kept_alive_connection_is_screened),
        cmocka_unit_test(a_refused_pipelined_request_ends_the_connection),
        cmocka_unit_test(bodies_over_the_global_limit_get_json),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    http_server_stop(server);
    return failures;
}

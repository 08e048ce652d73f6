/* test_http_server.c — the HTTP front on a real socket: routing with path parameters, 404 and 405 in
 * the documented error shape, query and path decoding, headers, body limits (larger on large-body
 * routes) and request counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"

static void echo_params(http_exchange *exchange)
{
    char first[64] = "", second[64] = "", query[64] = "";
    int has_query = http_query_param(exchange->req, "q", query, sizeof(query));
    if (http_path_param(exchange, 0, first, sizeof(first)) != 0 ||
        (exchange->param_count > 1 && http_path_param(exchange, 1, second, sizeof(second)) != 0) ||
        has_query < 0) {
        http_send_error_fields(exchange->req, 400, "invalid_request_error", "bad_param", NULL,
                               "bad parameter");
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:I}", "first", first, "second", second, "q", query,
                             "has_q", has_query, "body_length", (json_int_t)exchange->req->entity.len);
    char *text = json_dumps(body, JSON_COMPACT);
    http_add_header(exchange->req, "x-test", "yes");
    http_send_json(exchange->req, 200, text, strlen(text));
    free(text);
    json_decref(body);
}

static void always_422(http_exchange *exchange)
{
    reelay_error err;
    reelay_error_set(&err, 422, "invalid_request_error", "out_of_range", "duration", "duration must be %d",
                     4);
    http_send_error(exchange->req, &err);
}

static const http_route routes[] = {
    {"GET", "/v1/things/{id}", "things.get", echo_params, NULL, false},
    {"POST", "/v1/things/{id}/parts/{part}", "parts.post", echo_params, NULL, false},
    {"GET", "/v1/files/*", "files", echo_params, NULL, false},
    {"GET", "/v1/invalid", "invalid", always_422, NULL, false},
    {"POST", "/v1/big/{id}", "big.post", echo_params, NULL, true},
};

typedef struct reply {
    long status;
    char body[4096];
    size_t length;
    char x_test[16];
} reply;

static size_t collect_body(char *data, size_t size, size_t count, void *context)
{
    reply *r = context;
    size_t n = size * count;
    if (r->length + n < sizeof(r->body)) {
        memcpy(r->body + r->length, data, n);
        r->length += n;
        r->body[r->length] = '\0';
    }
    return n;
}

static size_t collect_header(char *data, size_t size, size_t count, void *context)
{
    reply *r = context;
    size_t n = size * count;
    if (n > 8 && strncasecmp(data, "x-test: ", 8) == 0)
        snprintf(r->x_test, sizeof(r->x_test), "%.*s", (int)(n - 10), data + 8);
    return n;
}

static int server_port;

static reply request(const char *method, const char *path, const char *body, size_t body_length)
{
    reply r;
    memset(&r, 0, sizeof(r));
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_length);
    }
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(curl);
    return r;
}

static json_t *parse(const reply *r)
{
    json_error_t error;
    json_t *value = json_loadb(r->body, r->length, 0, &error);
    if (value == NULL) fail_msg("not JSON: %s", r->body);
    return value;
}

static void assert_error_shape(const reply *r, long status, const char *type, const char *code)
{
    assert_int_equal(r->status, status);
    json_t *body = parse(r);
    json_t *error = json_object_get(body, "error");
    assert_true(json_is_object(error));
    assert_true(json_is_string(json_object_get(error, "message")));
    assert_string_equal(json_string_value(json_object_get(error, "type")), type);
    if (code) assert_string_equal(json_string_value(json_object_get(error, "code")), code);
    assert_non_null(json_object_get(error, "param")); /* present, maybe null */
    json_decref(body);
}

static void routes_match_with_parameters(void **state)
{
    (void)state;
    reply r = request("GET", "/v1/things/abc%20d?q=x%2By+z&other=1", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.x_test, "yes");
    json_t *body = parse(&r);
    assert_string_equal(json_string_value(json_object_get(body, "first")), "abc d");
    assert_string_equal(json_string_value(json_object_get(body, "q")), "x+y z");
    assert_int_equal(json_integer_value(json_object_get(body, "has_q")), 1);
    json_decref(body);

    r = request("POST", "/v1/things/t1/parts/p2", "hello", 5);
    assert_int_equal(r.status, 200);
    body = parse(&r);
    assert_string_equal(json_string_value(json_object_get(body, "first")), "t1");
    assert_string_equal(json_string_value(json_object_get(body, "second")), "p2");
    assert_int_equal(json_integer_value(json_object_get(body, "body_length")), 5);
    json_decref(body);

    r = request("GET", "/v1/files/results/a/b.mp4", NULL, 0);
    assert_int_equal(r.status, 200);
    body = parse(&r);
    assert_string_equal(json_string_value(json_object_get(body, "first")), "results/a/b.mp4");
    json_decref(body);
}

static void unknown_paths_and_methods_get_json_errors(void **state)
{
    (void)state;
    reply r = request("GET", "/v1/nothing", NULL, 0);
    assert_error_shape(&r, 404, "not_found", "unknown_path");
    r = request("GET", "/v1/things/", NULL, 0); /* empty parameter does not match */
    assert_error_shape(&r, 404, "not_found", NULL);
    r = request("GET", "/v1/things/a/b", NULL, 0);
    assert_error_shape(&r, 404, "not_found", NULL);
    r = request("DELETE", "/v1/things/abc", NULL, 0);
    assert_error_shape(&r, 405, "invalid_request_error", "method_not_allowed");
    r = request("GET", "/v1/files/", NULL, 0);
    assert_error_shape(&r, 404, "not_found", NULL);
}

static void malformed_escapes_are_refused(void **state)
{
    (void)state;
    reply r = request("GET", "/v1/things/bad%zz", NULL, 0);
    assert_error_shape(&r, 400, "invalid_request_error", "bad_param");
    r = request("GET", "/v1/things/nul%00byte", NULL, 0);
    assert_error_shape(&r, 400, "invalid_request_error", "bad_param");
    r = request("GET", "/v1/things/ok?q=%4", NULL, 0);
    assert_error_shape(&r, 400, "invalid_request_error", "bad_param");
}

static void error_values_carry_every_field(void **state)
{
    (void)state;
    reply r = request("GET", "/v1/invalid", NULL, 0);
    assert_error_shape(&r, 422, "invalid_request_error", "out_of_range");
    json_t *body = parse(&r);
    json_t *error = json_object_get(body, "error");
    assert_string_equal(json_string_value(json_object_get(error, "param")), "duration");
    assert_string_equal(json_string_value(json_object_get(error, "message")), "duration must be 4");
    json_decref(body);
}

static void oversized_bodies_are_refused(void **state)
{
    (void)state;
    size_t size = 70 * 1024;
    char *big = malloc(size);
    memset(big, 'a', size);
    reply r = request("POST", "/v1/things/t1/parts/p2", big, size);
    assert_int_equal(r.status, 413);
    free(big);
}

static void only_large_body_routes_take_large_bodies(void **state)
{
    (void)state;
    size_t size = 20 * 1024; /* above route_body_bytes, below max_body_bytes */
    char *big = malloc(size);
    memset(big, 'b', size);
    reply r = request("POST", "/v1/things/t1/parts/p2", big, size);
    assert_error_shape(&r, 413, "invalid_request_error", "request_too_large");
    r = request("POST", "/v1/big/b1", big, size);
    assert_int_equal(r.status, 200);
    json_t *body = parse(&r);
    assert_int_equal(json_integer_value(json_object_get(body, "body_length")), (json_int_t)size);
    json_decref(body);
    free(big);
}

static void count_route(void *ctx, const char *route, int status, uint64_t count)
{
    if (strcmp(route, "parts.post") == 0 && status == 200) *(uint64_t *)ctx += count;
}

static http_server *server;

static void requests_are_counted_by_route_and_status(void **state)
{
    (void)state;
    uint64_t before = 0, after = 0;
    http_server_each_count(server, count_route, &before);
    request("POST", "/v1/things/a/parts/b", "x", 1);
    request("POST", "/v1/things/a/parts/b", "x", 1);
    /* a request is counted when h2o disposes of it, just after its answer has left: wait (bounded) */
    for (int waited_ms = 0; waited_ms <= 2000; waited_ms += 10) {
        after = 0;
        http_server_each_count(server, count_route, &after);
        if (after - before >= 2) break;
        usleep(10 * 1000);
    }
    assert_int_equal(after - before, 2);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    http_server_config config = {.host = "127.0.0.1",
                                 .port = 0,
                                 .threads = 2,
                                 .max_body_bytes = 64 * 1024,
                                 .route_body_bytes = 16 * 1024,
                                 .request_timeout_ms = 5000,
                                 .idle_timeout_ms = 5000,
                                 .routes = routes,
                                 .route_count = sizeof(routes) / sizeof(routes[0])};
    server = http_server_start(&config);
    if (server == NULL) return 1;
    server_port = http_server_port(server);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match_with_parameters),
        cmocka_unit_test(unknown_paths_and_methods_get_json_errors),
        cmocka_unit_test(malformed_escapes_are_refused),
        cmocka_unit_test(error_values_carry_every_field),
        cmocka_unit_test(oversized_bodies_are_refused),
        cmocka_unit_test(only_large_body_routes_take_large_bodies),
        cmocka_unit_test(requests_are_counted_by_route_and_status),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    http_server_stop(server);
    curl_global_cleanup();
    return failures;
}

/* test_http_offload.c — http_offload on a real socket: work runs on a worker thread and done on the
 * request's loop thread; a slow job never blocks the loop; many jobs share a small pool; a full queue
 * refuses with 503; a request
 * h2o disposed of under a running job gets done(NULL); stopping the server with jobs queued and running
 * delivers every job exactly once (unrun ones with NULL) and frees everything (checked by ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

static atomic_int done_with_request, done_without_request, work_ran;

typedef struct job {
    pthread_t loop_thread;
    pthread_t worker_thread;
    int sleep_ms;
    long value;
} job;

static void sleep_ms(int ms)
{
    struct timespec delay = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

static void work(void *ctx)
{
    job *j = ctx;
    j->worker_thread = pthread_self();
    if (j->sleep_ms) sleep_ms(j->sleep_ms);
    j->value = j->value * 2 + 1;
    atomic_fetch_add(&work_ran, 1);
}

static void done(h2o_req_t *req, void *ctx)
{
    job *j = ctx;
    if (req == NULL) {
        atomic_fetch_add(&done_without_request, 1);
        free(j);
        return;
    }
    atomic_fetch_add(&done_with_request, 1);
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"value\":%ld,\"same_loop\":%d,\"other_thread\":%d}", j->value,
                     pthread_equal(j->loop_thread, pthread_self()) != 0,
                     pthread_equal(j->worker_thread, pthread_self()) == 0);
    free(j);
    http_send_json(req, 200, body, (size_t)n);
}

/* POST /offload/{ms}: body = a number; answers {"value": 2n+1} after sleeping ms on a worker. */
static void offload_handler(http_exchange *exchange)
{
    char ms[16];
    if (http_path_param(exchange, 0, ms, sizeof(ms)) != 0) return;
    job *j = calloc(1, sizeof(*j));
    j->loop_thread = pthread_self();
    j->sleep_ms = atoi(ms);
    char number[32] = "0";
    size_t length = exchange->req->entity.len < sizeof(number) - 1 ? exchange->req->entity.len : 0;
    if (length) memcpy(number, exchange->req->entity.base, length), number[length] = '\0';
    j->value = atol(number);
    int offloaded = http_offload(exchange->req, work, done, j);
    if (offloaded != HTTP_OFFLOAD_QUEUED) {
        free(j);
        if (offloaded != HTTP_OFFLOAD_REFUSED)
            http_send_error_fields(exchange->req, 500, "server_error", "offload_failed", NULL,
                                   "offload failed");
    }
}

/* Answers at once although a job is pending (handlers must not, but it is how to make h2o dispose of a
 * request under a running job deterministically over HTTP/1, which stops reading while a request is
 * handled and so does not notice a client going away until it writes). */
static void offload_and_answer_handler(http_exchange *exchange)
{
    job *j = calloc(1, sizeof(*j));
    j->loop_thread = pthread_self();
    j->sleep_ms = 300;
    if (http_offload(exchange->req, work, done, j) != 0) free(j);
    http_send_json(exchange->req, 202, "{}", 2);
}

static void ping_handler(http_exchange *exchange)
{
    http_send_json(exchange->req, 200, "{}", 2);
}

static const http_route routes[] = {
    {"POST", "/offload/{ms}", "offload", offload_handler, NULL, false},
    {"GET", "/ping", "ping", ping_handler, NULL, false},
    {"POST", "/offload-and-answer", "offload_and_answer", offload_and_answer_handler, NULL, false},
};

static http_server *start_server(int threads, size_t workers)
{
    http_server_config config = {.host = "127.0.0.1",
                                 .threads = threads,
                                 .max_body_bytes = 64 * 1024,
                                 .request_timeout_ms = 5000,
                                 .idle_timeout_ms = 5000,
                                 .routes = routes,
                                 .route_count = sizeof(routes) / sizeof(routes[0]),
                                 .offload_workers = workers};
    http_server *server = http_server_start(&config);
    assert_non_null(server);
    return server;
}

typedef struct call {
    int port;
    const char *path;
    const char *body;
    long timeout_ms;
    long status;
    char reply[256];
    size_t reply_length;
    CURLcode result;
    pthread_t thread;
} call;

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    call *c = context;
    size_t n = size * count;
    if (c->reply_length + n < sizeof(c->reply)) {
        memcpy(c->reply + c->reply_length, data, n);
        c->reply_length += n;
        c->reply[c->reply_length] = '\0';
    }
    return n;
}

static void perform(call *c)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->port, c->path);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (c->timeout_ms) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (c->body) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
    c->result = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_cleanup(curl);
}

static void *perform_main(void *arg)
{
    perform(arg);
    return NULL;
}

static void start_call(call *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, perform_main, c), 0);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void work_runs_on_a_worker_and_done_on_the_loop(void **state)
{
    (void)state;
    http_server *server = start_server(2, 4);
    call c = {.port = http_server_port(server), .path = "/offload/0", .body = "20"};
    perform(&c);
    assert_int_equal(c.result, CURLE_OK);
    assert_int_equal(c.status, 200);
    assert_string_equal(c.reply, "{\"value\":41,\"same_loop\":1,\"other_thread\":1}");
    http_server_stop(server);
}

static void a_slow_job_does_not_block_the_loop(void **state)
{
    (void)state;
    http_server *server = start_server(1, 2); /* one loop: a blocked loop could not answer the ping */
    int port = http_server_port(server);
    call slow = {.port = port, .path = "/offload/800", .body = "1"};
    start_call(&slow);
    sleep_ms(150);
    int64_t started = now_ms();
    call ping = {.port = port, .path = "/ping"};
    perform(&ping);
    assert_int_equal(ping.status, 200);
    assert_true(now_ms() - started < 400);
    pthread_join(slow.thread, NULL);
    assert_int_equal(slow.status, 200);
    assert_string_equal(slow.reply, "{\"value\":3,\"same_loop\":1,\"other_thread\":1}");
    http_server_stop(server);
}

static void many_jobs_share_a_small_pool(void **state)
{
    (void)state;
    http_server *server = start_server(2, 3);
    enum { CALLS = 24 };
    call calls[CALLS];
    char bodies[CALLS][8];
    for (int i = 0; i < CALLS; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "%d", i);
        calls[i] = (call){.port = http_server_port(server), .path = "/offload/20", .body = bodies[i]};
        start_call(&calls[i]);
    }
    for (int i = 0; i < CALLS; i++) {
        pthread_join(calls[i].thread, NULL);
        assert_int_equal(calls[i].status, 200);
        char expected[80];
        snprintf(expected, sizeof(expected), "{\"value\":%d,\"same_loop\":1,\"other_thread\":1}", 2 * i + 1);
        assert_string_equal(calls[i].reply, expected);
    }
    http_server_stop(server);
}

static void a_full_queue_refuses_with_503(void **state)
{
    (void)state;
    http_server *server = start_server(1, 1); /* one worker: the first job runs, the others wait */
    int port = http_server_port(server);
    call running = {.port = port, .path = "/offload/1000", .body = "1"};
    start_call(&running);
    sleep_ms(100);
    enum { WAITING = HTTP_OFFLOAD_QUEUE_PER_WORKER };
    call waiting[WAITING];
    for (int i = 0; i < WAITING; i++) {
        waiting[i] = (call){.port = port, .path = "/offload/0", .body = "2"};
        start_call(&waiting[i]);
    }
    sleep_ms(300); /* every one of them queued behind the running job */
    call one_too_many = {.port = port, .path = "/offload/0", .body = "3"};
    perform(&one_too_many);
    assert_int_equal(one_too_many.status, 503);
    assert_non_null(strstr(one_too_many.reply, "\"overloaded\""));
    pthread_join(running.thread, NULL);
    assert_int_equal(running.status, 200);
    for (int i = 0; i < WAITING; i++) {
        pthread_join(waiting[i].thread, NULL);
        assert_int_equal(waiting[i].status, 200);
    }
    call later = {.port = port, .path = "/offload/0", .body = "3"}; /* room again */
    perform(&later);
    assert_int_equal(later.status, 200);
    http_server_stop(server);
}

static void stopping_delivers_every_job_once(void **state)
{
    (void)state;
    atomic_store(&done_with_request, 0);
    atomic_store(&done_without_request, 0);
    atomic_store(&work_ran, 0);
    http_server *server = start_server(1, 1); /* one worker: the first job runs, the others queue */
    enum { CALLS = 4 };
    call calls[CALLS];
    for (int i = 0; i < CALLS; i++) {
        calls[i] =
            (call){.port = http_server_port(server), .path = "/offload/600", .body = "1", .timeout_ms = 5000};
        start_call(&calls[i]);
    }
    sleep_ms(300); /* all four submitted, the first one running */
    http_server_stop(server);
    int answered = 0, refused = 0;
    for (int i = 0; i < CALLS; i++) {
        pthread_join(calls[i].thread, NULL);
        answered += calls[i].status == 200;
        refused += calls[i].status == 503;
    }
    assert_int_equal(answered, 1); /* the running job still answers */
    assert_int_equal(refused, CALLS - 1);
    assert_int_equal(atomic_load(&done_with_request) + atomic_load(&done_without_request), CALLS);
    assert_int_equal(atomic_load(&work_ran), 1);
    assert_int_equal(atomic_load(&done_without_request), CALLS - 1);
}

static void a_vanished_client_gets_done_once(void **state)
{
    (void)state;
    atomic_store(&done_with_request, 0);
    atomic_store(&done_without_request, 0);
    http_server *server = start_server(1, 2);
    call gone = {.port = http_server_port(server), .path = "/offload/500", .body = "1", .timeout_ms = 100};
    perform(&gone);
    assert_int_equal(gone.result, CURLE_OPERATION_TIMEDOUT);
    sleep_ms(700); /* the job finishes after the client left */
    /* Whether h2o noticed the close before the answer depends on the protocol (HTTP/1 stops reading
     * while a request is handled): either way done ran exactly once and the server is healthy. */
    assert_int_equal(atomic_load(&done_with_request) + atomic_load(&done_without_request), 1);
    call ping = {.port = http_server_port(server), .path = "/ping"};
    perform(&ping);
    assert_int_equal(ping.status, 200);
    http_server_stop(server);
}

static void a_disposed_request_gets_done_without_request(void **state)
{
    (void)state;
    atomic_store(&done_with_request, 0);
    atomic_store(&done_without_request, 0);
    http_server *server = start_server(1, 2);
    call early = {.port = http_server_port(server), .path = "/offload-and-answer", .body = "1"};
    perform(&early); /* answered and closed by the client: h2o disposes of the request */
    assert_int_equal(early.status, 202);
    sleep_ms(600);
    assert_int_equal(atomic_load(&done_without_request), 1);
    assert_int_equal(atomic_load(&done_with_request), 0);
    http_server_stop(server);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(work_runs_on_a_worker_and_done_on_the_loop),
        cmocka_unit_test(a_slow_job_does_not_block_the_loop),
        cmocka_unit_test(many_jobs_share_a_small_pool),
        cmocka_unit_test(a_full_queue_refuses_with_503),
        cmocka_unit_test(stopping_delivers_every_job_once),
        cmocka_unit_test(a_vanished_client_gets_done_once),
        cmocka_unit_test(a_disposed_request_gets_done_without_request),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failures;
}

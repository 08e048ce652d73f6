/* test_engine_callback_sender.c — the callback sender against a small server on 127.0.0.1, with short
 * retry delays: a finished task's view arrives signed with its key's secret (verified by the provider
 * webhook verifier), failures are retried up to 4 attempts then given up, a key without a secret gets
 * unsigned deliveries, and the guard keeps non-allow-listed addresses out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/callback_sender.h"
#include "net/webhook_verify.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/secret_box.h"

enum { MAX_REQUESTS = 16, REQUEST_SIZE = 8192 };

typedef struct hook_server {
    int listen_fd, port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int count;
    int status; /* every answer's status */
    char requests[MAX_REQUESTS][REQUEST_SIZE];
} hook_server;

static hook_server hooks;
static char folder[64];
static store *db;
static link_signer signer;
static const char secret_text[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

static void read_request(int fd, char *out)
{
    size_t have = 0;
    out[0] = '\0';
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) return;
        ssize_t got = recv(fd, out + have, REQUEST_SIZE - 1 - have, 0);
        if (got <= 0) return;
        have += (size_t)got;
        out[have] = '\0';
        char *end = strstr(out, "\r\n\r\n");
        if (end == NULL) continue;
        const char *length = strcasestr(out, "Content-Length:");
        size_t body = length ? strtoul(length + 15, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - out) + body) return;
    }
}

static void *serve(void *arg)
{
    (void)arg;
    while (!atomic_load(&hooks.stop)) {
        struct pollfd p = {.fd = hooks.listen_fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(hooks.listen_fd, NULL, NULL);
        if (fd < 0) continue;
        int index = atomic_load(&hooks.count);
        if (index < MAX_REQUESTS) read_request(fd, hooks.requests[index]);
        atomic_fetch_add(&hooks.count, 1);
        char answer[128];
        snprintf(answer, sizeof(answer), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                 hooks.status);
        if (send(fd, answer, strlen(answer), MSG_NOSIGNAL) < 0) { /* the sender gave up: fine */
        }
        close(fd);
    }
    return NULL;
}

static int set_up(void **state)
{
    (void)state;
    memset(&hooks, 0, sizeof(hooks));
    hooks.status = 200;
    hooks.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (bind(hooks.listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(hooks.listen_fd, 16) != 0 ||
        getsockname(hooks.listen_fd, (struct sockaddr *)&address, &length) != 0)
        return -1;
    hooks.port = ntohs(address.sin_port);
    if (pthread_create(&hooks.thread, NULL, serve, NULL) != 0) return -1;
    snprintf(folder, sizeof(folder), "/tmp/reelay-sender-XXXXXX");
    if (mkdtemp(folder) == NULL || store_open(folder, &db) != STORE_OK) return -1;
    secret_box box;
    char sealed[SECRET_BOX_SEALED_SIZE];
    if (secret_box_load(folder, &box) != 0 || secret_box_seal(&box, secret_text, sealed, sizeof(sealed)) != 0)
        return -1;
    unsigned char hash_signed[32] = {1}, hash_plain[32] = {2};
    key_record with = {.id = "key_signed", .user_group = "default", .created_at = 1};
    key_record without = {.id = "key_plain", .user_group = "default", .created_at = 1};
    if (store_key_insert(db, &with, hash_signed, sealed) != STORE_OK ||
        store_key_insert(db, &without, hash_plain, NULL) != STORE_OK)
        return -1;
    memset(&signer, 7, sizeof(signer));
    return 0;
}

static int tear_down(void **state)
{
    (void)state;
    atomic_store(&hooks.stop, true);
    pthread_join(hooks.thread, NULL);
    close(hooks.listen_fd);
    store_close(db);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static const task_view_links links = {
    .signer = &signer, .public_url = "http://127.0.0.1:1", .link_ttl_seconds = 60};

static callback_sender *start_sender(const char *allow_list)
{
    callback_sender_config config = {.data_dir = folder,
                                     .links = links,
                                     .timeout_ms = 1000,
                                     .retry_delays_ms = {20, 40, 80},
                                     .poll_interval_ms = 20};
    fetch_policy_init(&config.fetch);
    config.fetch.allow_list = allow_list;
    callback_sender *sender = callback_sender_start(&config);
    assert_non_null(sender);
    return sender;
}

/* A task of key_id with a callback to the test server, finished (failed) so that its callback is due. */
static void finish_task(const char *id, const char *key_id)
{
    char params[256];
    snprintf(params, sizeof(params),
             "{\"model\":\"sora-2\",\"prompt\":\"x\",\"callback_url\":\"http://127.0.0.1:%d/hook\"}",
             hooks.port);
    task_record task;
    memset(&task, 0, sizeof(task));
    snprintf(task.id, sizeof(task.id), "%s", id);
    snprintf(task.key_id, sizeof(task.key_id), "%s", key_id);
    snprintf(task.model, sizeof(task.model), "sora-2");
    snprintf(task.user_group, sizeof(task.user_group), "default");
    task.state = TASK_PENDING;
    task.created_at = task.updated_at = clock_unix_seconds();
    task.deadline_at = task.created_at + 3600;
    task.params_json = params;
    assert_int_equal(store_task_insert(db, &task), STORE_OK);
    assert_int_equal(store_task_fail(db, id, "generation_failed", "It did not work.", clock_unix_seconds()),
                     STORE_OK);
}

/* Waits until the task's callback leaves the due state; returns how it ended. */
static callback_delivery wait_settled(const char *id)
{
    callback_delivery delivery;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(store_callback_get(db, id, &delivery), STORE_OK);
        if (delivery.state != CALLBACK_DUE) return delivery;
        usleep(10000);
    }
    fail_msg("the callback of %s is still due", id);
    return delivery;
}

/* Copies the value of header `name` of a recorded request ("" when absent). */
static void header(const char *request, const char *name, char *out, size_t out_size)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\r\n%s: ", name);
    const char *at = strcasestr(request, needle);
    out[0] = '\0';
    if (at == NULL) return;
    at += strlen(needle);
    size_t length = strcspn(at, "\r");
    snprintf(out, out_size, "%.*s", (int)length, at);
}

static void a_finished_task_is_delivered_signed_with_its_view(void **state)
{
    (void)state;
    const char *id = "task-unified-1700000000-aaaaaaaa";
    finish_task(id, "key_signed");
    callback_sender *sender = start_sender("127.0.0.1");
    callback_delivery delivery = wait_settled(id);
    assert_int_equal(delivery.state, CALLBACK_DELIVERED);
    assert_int_equal(delivery.record.attempts, 1);
    assert_int_equal(delivery.last_status, 200);
    callback_sender_stats stats;
    callback_sender_get_stats(sender, &stats);
    assert_int_equal(stats.delivered, 1);
    callback_sender_stop(sender);
    assert_int_equal(atomic_load(&hooks.count), 1);

    const char *request = hooks.requests[0];
    assert_non_null(strstr(request, "POST /hook HTTP/1.1\r\n"));
    char value[256], timestamp[32], signature[128];
    header(request, "Content-Type", value, sizeof(value));
    assert_string_equal(value, "application/json");
    header(request, "User-Agent", value, sizeof(value));
    assert_string_equal(value, "reelay");
    header(request, "webhook-id", value, sizeof(value));
    assert_string_equal(value, "msg_task-unified-1700000000-aaaaaaaa");
    header(request, "webhook-timestamp", timestamp, sizeof(timestamp));
    header(request, "webhook-signature", signature, sizeof(signature));
    assert_true(strncmp(signature, "v1,", 3) == 0);

    /* the body is the task's view, byte for byte */
    task_record task;
    assert_int_equal(store_task_get(db, id, &task), STORE_OK);
    json_text view = {0};
    task_view_write(&links, &task, &view);
    task_record_clear(&task);
    const char *body = strstr(request, "\r\n\r\n") + 4;
    assert_string_equal(body, view.data);
    assert_true(webhook_verify_standard(secret_text, value, timestamp, signature, body, strlen(body),
                                        clock_unix_seconds()));
    assert_false(webhook_verify_standard("whsec_b3RoZXJzZWNyZXQ=", value, timestamp, signature, body,
                                         strlen(body), clock_unix_seconds()));
    json_text_free(&view);
}

static void failures_are_retried_then_given_up_after_four_attempts(void **state)
{
    (void)state;
    const char *id = "task-unified-1700000000-bbbbbbbb";
    hooks.status = 503;
    finish_task(id, "key_signed");
    callback_sender *sender = start_sender("127.0.0.1");
    callback_delivery delivery = wait_settled(id);
    usleep(200000); /* nothing more comes */
    callback_sender_stats stats;
    callback_sender_get_stats(sender, &stats);
    callback_sender_stop(sender);
    assert_int_equal(delivery.state, CALLBACK_GIVEN_UP);
    assert_int_equal(delivery.record.attempts, CALLBACK_MAX_ATTEMPTS);
    assert_int_equal(delivery.last_status, 503);
    assert_string_equal(delivery.last_error, "127.0.0.1 answered 503");
    assert_int_equal(atomic_load(&hooks.count), CALLBACK_MAX_ATTEMPTS);
    assert_int_equal(stats.retried, CALLBACK_MAX_ATTEMPTS - 1);
    assert_int_equal(stats.given_up, 1);
    /* every attempt carries the same id */
    for (int i = 0; i < CALLBACK_MAX_ATTEMPTS; i++) {
        char value[128];
        header(hooks.requests[i], "webhook-id", value, sizeof(value));
        assert_string_equal(value, "msg_task-unified-1700000000-bbbbbbbb");
    }
}

static void a_key_without_a_secret_gets_unsigned_deliveries(void **state)
{
    (void)state;
    const char *id = "task-unified-1700000000-cccccccc";
    finish_task(id, "key_plain");
    callback_sender *sender = start_sender("127.0.0.1");
    callback_delivery delivery = wait_settled(id);
    callback_sender_stop(sender);
    assert_int_equal(delivery.state, CALLBACK_DELIVERED);
    char value[128];
    header(hooks.requests[0], "webhook-id", value, sizeof(value));
    assert_string_equal(value, "msg_task-unified-1700000000-cccccccc");
    header(hooks.requests[0], "webhook-signature", value, sizeof(value));
    assert_string_equal(value, "");
}

static void the_guard_keeps_loopback_out_unless_allow_listed(void **state)
{
    (void)state;
    const char *id = "task-unified-1700000000-dddddddd";
    finish_task(id, "key_signed");
    callback_sender *sender = start_sender(NULL);
    callback_delivery delivery = wait_settled(id);
    callback_sender_stop(sender);
    /* http to a host that is not allow-listed is refused before any attempt could help: given up */
    assert_int_equal(delivery.state, CALLBACK_GIVEN_UP);
    assert_non_null(strstr(delivery.last_error, "https"));
    assert_int_equal(delivery.record.attempts, 1);
    assert_int_equal(atomic_load(&hooks.count), 0);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_finished_task_is_delivered_signed_with_its_view, set_up, tear_down),
        cmocka_unit_test_setup_teardown(failures_are_retried_then_given_up_after_four_attempts, set_up,
                                        tear_down),
        cmocka_unit_test_setup_teardown(a_key_without_a_secret_gets_unsigned_deliveries, set_up, tear_down),
        cmocka_unit_test_setup_teardown(the_guard_keeps_loopback_out_unless_allow_listed, set_up, tear_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

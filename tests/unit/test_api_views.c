/* test_api_views.c — the task JSON every client parses: exact keys, status mapping, results only when
 * completed (as signed links that verify), errors only when failed or cancelled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"

static api_app app;

/* The task as a client receives it: the written text, parsed back. */
static json_t *api_task_view(const api_app *a, const task_record *task)
{
    json_text text = {0};
    api_task_write(a, task, &text);
    assert_false(text.failed);
    json_error_t error;
    json_t *view = json_loads(text.data, JSON_REJECT_DUPLICATES, &error);
    if (view == NULL) fail_msg("not JSON (%s): %s", error.text, text.data);
    json_text_free(&text);
    return view;
}

static task_record make_task(task_state state)
{
    task_record task;
    memset(&task, 0, sizeof(task));
    snprintf(task.id, sizeof(task.id), "task-unified-1757165031-uyujaw3d");
    snprintf(task.key_id, sizeof(task.key_id), "key_test");
    snprintf(task.model, sizeof(task.model), "lipsync-2");
    snprintf(task.user_group, sizeof(task.user_group), "default");
    task.state = state;
    task.created_at = 1757165031;
    task.deadline_at = task.created_at + 3600;
    task.progress = state == TASK_COMPLETED ? 100 : 40;
    return task;
}

static void assert_keys_exactly(json_t *object, const char *const *keys, size_t count)
{
    assert_int_equal(json_object_size(object), count);
    for (size_t i = 0; i < count; i++)
        if (json_object_get(object, keys[i]) == NULL) fail_msg("missing key %s", keys[i]);
}

static const char *const task_keys[] = {"id",      "object",    "type",    "model", "status", "progress",
                                        "created", "task_info", "results", "error", "usage"};

static void unfinished_tasks_have_no_results_nor_error(void **state)
{
    (void)state;
    const task_state states[] = {TASK_PENDING, TASK_SUBMITTING, TASK_PROCESSING, TASK_FINALIZING};
    const char *shown[] = {"pending", "pending", "processing", "processing"};
    for (size_t i = 0; i < 4; i++) {
        task_record task = make_task(states[i]);
        task.credits_reserved = 400; /* once written as 4e+02 */
        json_t *view = api_task_view(&app, &task);
        assert_keys_exactly(view, task_keys, sizeof(task_keys) / sizeof(task_keys[0]));
        assert_string_equal(json_string_value(json_object_get(view, "status")), shown[i]);
        assert_string_equal(json_string_value(json_object_get(view, "object")), "video.generation.task");
        assert_string_equal(json_string_value(json_object_get(view, "type")), "video");
        assert_int_equal(json_integer_value(json_object_get(view, "created")), 1757165031);
        assert_true(json_is_null(json_object_get(view, "results")));
        assert_true(json_is_null(json_object_get(view, "error")));
        assert_true(json_is_true(json_object_get(json_object_get(view, "task_info"), "can_cancel")));
        assert_true(json_is_integer(json_object_get(json_object_get(view, "task_info"), "estimated_time")));
        json_t *usage = json_object_get(view, "usage");
        assert_true(json_is_integer(json_object_get(usage, "credits_reserved")));
        assert_int_equal(json_integer_value(json_object_get(usage, "credits_reserved")), 400);
        assert_string_equal(json_string_value(json_object_get(usage, "user_group")), "default");
        json_decref(view);
    }
}

static void completed_tasks_show_signed_links(void **state)
{
    (void)state;
    task_record task = make_task(TASK_COMPLETED);
    int64_t now = clock_unix_seconds();
    task.completed_at = now;
    char results[] =
        "[{\"object\":\"results/task-unified-1757165031-uyujaw3d/output.mp4\",\"content_type\":\"video/mp4\","
        "\"duration\":3.0,\"width\":320,\"height\":240}]";
    task.results_json = results;
    json_t *view = api_task_view(&app, &task);
    assert_string_equal(json_string_value(json_object_get(view, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(view, "progress")), 100);
    assert_true(json_is_false(json_object_get(json_object_get(view, "task_info"), "can_cancel")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(view, "task_info"), "estimated_time")), 0);
    json_t *list = json_object_get(view, "results");
    assert_int_equal(json_array_size(list), 1);
    json_t *first = json_array_get(list, 0);
    static const char *const result_keys[] = {"url", "content_type", "duration", "width", "height"};
    assert_keys_exactly(first, result_keys, 5);
    const char *url = json_string_value(json_object_get(first, "url"));
    char prefix[256];
    snprintf(prefix, sizeof(prefix),
             "http://127.0.0.1:9/v1/files/results/task-unified-1757165031-uyujaw3d/"
             "output.mp4?expires=%lld&signature=",
             (long long)(now + 86400));
    assert_memory_equal(url, prefix, strlen(prefix));
    const char *signature = url + strlen(prefix);
    char expires[32];
    snprintf(expires, sizeof(expires), "%lld", (long long)(now + 86400));
    assert_int_equal(link_verify(&app.signer, "results/task-unified-1757165031-uyujaw3d/output.mp4", expires,
                                 signature, now),
                     LINK_VALID);
    json_decref(view);
}

/* A result whose previews were stored shows them as links signed like the video's, expiring with it. */
static void stored_previews_show_as_signed_links(void **state)
{
    (void)state;
    task_record task = make_task(TASK_COMPLETED);
    int64_t now = clock_unix_seconds();
    task.completed_at = now;
    char results[] = "[{\"object\":\"results/task-unified-1757165031-uyujaw3d/output.mp4\",\"content_type\":"
                     "\"video/mp4\",\"duration\":3.0,\"width\":320,\"height\":240,"
                     "\"thumbnail\":\"results/task-unified-1757165031-uyujaw3d/poster.jpg\","
                     "\"spritesheet\":\"results/task-unified-1757165031-uyujaw3d/spritesheet.jpg\"}]";
    task.results_json = results;
    json_t *view = api_task_view(&app, &task);
    json_t *first = json_array_get(json_object_get(view, "results"), 0);
    static const char *const result_keys[] = {"url",    "content_type",  "duration",       "width",
                                              "height", "thumbnail_url", "spritesheet_url"};
    assert_keys_exactly(first, result_keys, 7);
    static const char *const fields[][2] = {
        {"thumbnail_url", "results/task-unified-1757165031-uyujaw3d/poster.jpg"},
        {"spritesheet_url", "results/task-unified-1757165031-uyujaw3d/spritesheet.jpg"}};
    char expires[32];
    snprintf(expires, sizeof(expires), "%lld", (long long)(now + 86400));
    for (size_t i = 0; i < 2; i++) {
        const char *url = json_string_value(json_object_get(first, fields[i][0]));
        assert_non_null(url);
        char prefix[256];
        snprintf(prefix, sizeof(prefix), "http://127.0.0.1:9/v1/files/%s?expires=%s&signature=", fields[i][1],
                 expires);
        assert_memory_equal(url, prefix, strlen(prefix));
        assert_int_equal(link_verify(&app.signer, fields[i][1], expires, url + strlen(prefix), now),
                         LINK_VALID);
        /* a preview's signature is its own: it does not open the video */
        assert_int_not_equal(link_verify(&app.signer, "results/task-unified-1757165031-uyujaw3d/output.mp4",
                                         expires, url + strlen(prefix), now),
                             LINK_VALID);
    }
    json_decref(view);
}

static void failed_and_cancelled_tasks_carry_a_task_error(void **state)
{
    (void)state;
    const task_state states[] = {TASK_FAILED, TASK_CANCELLED};
    for (size_t i = 0; i < 2; i++) {
        task_record task = make_task(states[i]);
        snprintf(task.error_code, sizeof(task.error_code), "%s", i == 0 ? "input_unreachable" : "cancelled");
        char message[] = "something happened";
        task.error_message = message;
        json_t *view = api_task_view(&app, &task);
        json_t *error = json_object_get(view, "error");
        static const char *const error_keys[] = {"code", "message", "type"};
        assert_keys_exactly(error, error_keys, 3);
        assert_string_equal(json_string_value(json_object_get(error, "code")), task.error_code);
        assert_string_equal(json_string_value(json_object_get(error, "type")), "task_error");
        assert_string_equal(json_string_value(json_object_get(view, "status")),
                            i == 0 ? "failed" : "cancelled");
        assert_true(json_is_null(json_object_get(view, "results")));
        assert_true(json_is_false(json_object_get(json_object_get(view, "task_info"), "can_cancel")));
        json_decref(view);
    }
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    app.public_url = "http://127.0.0.1:9";
    app.link_ttl_seconds = 86400;
    randombytes_buf(app.signer.secret, sizeof(app.signer.secret));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unfinished_tasks_have_no_results_nor_error),
        cmocka_unit_test(completed_tasks_show_signed_links),
        cmocka_unit_test(stored_previews_show_as_signed_links),
        cmocka_unit_test(failed_and_cancelled_tasks_carry_a_task_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_api_openai_map.c — OpenAI's video object of a task (exact keys, statuses, times, seconds and size,
 * error) and the create body's mapping onto the unified fields (seconds, size, passed-through fields,
 * refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai_videos_map.h"

static task_record sora_task(task_state state)
{
    task_record task = {.state = state, .progress = 40, .created_at = 1700000000};
    snprintf(task.id, sizeof(task.id), "task_abc");
    snprintf(task.model, sizeof(task.model), "sora-2-pro");
    task.params_json = strdup("{\"prompt\":\"a cat\",\"duration\":8,\"aspect_ratio\":\"9:16\","
                              "\"resolution\":\"1080p\"}");
    return task;
}

static void assert_json_string(const json_t *object, const char *key, const char *expected)
{
    const char *value = json_string_value(json_object_get(object, key));
    if (value == NULL || strcmp(value, expected) != 0)
        fail_msg("%s: expected \"%s\", got %s", key, expected, value ? value : "(not a string)");
}

static void a_queued_video_has_every_key_and_no_finish(void **state)
{
    (void)state;
    task_record task = sora_task(TASK_SUBMITTING);
    json_t *video = openai_video_object(&task, 3600);
    assert_non_null(video);
    static const char *const keys[] = {"id",       "object",     "model",        "status",
                                       "progress", "created_at", "completed_at", "expires_at",
                                       "prompt",   "seconds",    "size",         "remixed_from_video_id",
                                       "error"};
    assert_int_equal(json_object_size(video), sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_non_null(json_object_get(video, keys[i]));
    assert_json_string(video, "object", "video");
    assert_json_string(video, "status", "queued");
    assert_json_string(video, "seconds", "8");
    assert_json_string(video, "size", "1024x1792");
    assert_json_string(video, "prompt", "a cat");
    assert_int_equal(json_integer_value(json_object_get(video, "progress")), 40);
    assert_int_equal(json_integer_value(json_object_get(video, "created_at")), 1700000000);
    assert_true(json_is_null(json_object_get(video, "completed_at")));
    assert_true(json_is_null(json_object_get(video, "expires_at")));
    assert_true(json_is_null(json_object_get(video, "error")));
    assert_true(json_is_null(json_object_get(video, "remixed_from_video_id")));
    json_decref(video);
    snprintf(task.remixed_from, sizeof(task.remixed_from), "task-unified-1700000000-source01");
    video = openai_video_object(&task, 3600);
    assert_json_string(video, "remixed_from_video_id", "task-unified-1700000000-source01");
    json_decref(video);
    task_record_clear(&task);
}

static void statuses_collapse_onto_openais_four(void **state)
{
    (void)state;
    assert_string_equal(openai_video_status(TASK_PENDING), "queued");
    assert_string_equal(openai_video_status(TASK_PROCESSING), "in_progress");
    assert_string_equal(openai_video_status(TASK_FINALIZING), "in_progress");
    assert_string_equal(openai_video_status(TASK_COMPLETED), "completed");
    assert_string_equal(openai_video_status(TASK_FAILED), "failed");
    assert_string_equal(openai_video_status(TASK_CANCELLED), "failed");
}

static void a_completed_video_expires_with_its_links(void **state)
{
    (void)state;
    task_record task = sora_task(TASK_COMPLETED);
    task.progress = 100;
    task.completed_at = 1700000100;
    json_t *video = openai_video_object(&task, 3600);
    assert_non_null(video);
    assert_json_string(video, "status", "completed");
    assert_int_equal(json_integer_value(json_object_get(video, "completed_at")), 1700000100);
    assert_int_equal(json_integer_value(json_object_get(video, "expires_at")), 1700003700);
    json_decref(video);
    task_record_clear(&task);
}

static void a_model_without_size_shows_its_results_frame(void **state)
{
    (void)state;
    task_record task = {.state = TASK_COMPLETED, .progress = 100, .created_at = 5, .completed_at = 9};
    snprintf(task.id, sizeof(task.id), "task_lip");
    snprintf(task.model, sizeof(task.model), "lipsync-2");
    task.params_json = strdup("{\"video_url\":\"https://example.com/a.mp4\"}");
    task.results_json = strdup("[{\"object\":\"o\",\"duration\":6.4,\"width\":640,\"height\":360}]");
    json_t *video = openai_video_object(&task, 10);
    assert_non_null(video);
    assert_json_string(video, "seconds", "6");
    assert_json_string(video, "size", "640x360");
    assert_true(json_is_null(json_object_get(video, "prompt")));
    json_decref(video);
    task_record_clear(&task);
}

static void failed_and_cancelled_videos_carry_code_and_message(void **state)
{
    (void)state;
    task_record task = sora_task(TASK_FAILED);
    task.completed_at = 1700000050;
    snprintf(task.error_code, sizeof(task.error_code), "timeout");
    task.error_message = strdup("The provider took too long.");
    json_t *video = openai_video_object(&task, 3600);
    json_t *error = json_object_get(video, "error");
    assert_json_string(error, "code", "timeout");
    assert_json_string(error, "message", "The provider took too long.");
    assert_int_equal(json_integer_value(json_object_get(video, "completed_at")), 1700000050);
    assert_true(json_is_null(json_object_get(video, "expires_at")));
    json_decref(video);
    task_record_clear(&task);

    task = sora_task(TASK_CANCELLED);
    video = openai_video_object(&task, 3600);
    assert_json_string(video, "status", "failed");
    assert_json_string(json_object_get(video, "error"), "code", "cancelled");
    json_decref(video);
    task_record_clear(&task);
}

static void sizes_parse_both_ways(void **state)
{
    (void)state;
    char aspect[8], resolution[8], size[16];
    assert_true(openai_size_parse("1280x720", aspect, resolution));
    assert_string_equal(aspect, "16:9");
    assert_string_equal(resolution, "720p");
    assert_true(openai_size_parse("1024x1792", aspect, resolution));
    assert_string_equal(aspect, "9:16");
    assert_string_equal(resolution, "1080p");
    assert_true(openai_size_parse("480x480", aspect, resolution));
    assert_string_equal(aspect, "1:1");
    assert_string_equal(resolution, "480p");
    static const char *const bad[] = {"",          "1280",  "1280x",      "x720",     "-1280x720",
                                      "1280x720 ", "0x720", "123456x720", "1280X720", "12 80x720"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (openai_size_parse(bad[i], aspect, resolution)) fail_msg("accepted size \"%s\"", bad[i]);
    assert_false(openai_size_parse(NULL, aspect, resolution));
    assert_true(openai_size_from("16:9", "720p", size, sizeof(size)));
    assert_string_equal(size, "1280x720");
    assert_true(openai_size_from("720x1280", "1080p", size, sizeof(size)));
    assert_string_equal(size, "1024x1792");
    assert_false(openai_size_from("1:1", "720p", size, sizeof(size)));
    assert_false(openai_size_from("16:9", "480p", size, sizeof(size)));
    assert_false(openai_size_from("16:9", "720p", size, 8)); /* "1280x720" needs 9 bytes */
}

static json_t *map(const char *body_text, reelay_error *err)
{
    json_t *body = json_loads(body_text, 0, NULL);
    assert_non_null(body);
    json_t *unified = openai_video_request_to_unified(body, err);
    json_decref(body);
    return unified;
}

static void requests_map_seconds_and_size_and_pass_the_rest(void **state)
{
    (void)state;
    reelay_error err;
    json_t *unified =
        map("{\"model\":\"sora-2-pro\",\"prompt\":\"p\",\"seconds\":\"12\",\"size\":\"1792x1024\","
            "\"delete_video\":false}",
            &err);
    assert_non_null(unified);
    assert_null(json_object_get(unified, "seconds"));
    assert_null(json_object_get(unified, "size"));
    assert_int_equal(json_integer_value(json_object_get(unified, "duration")), 12);
    assert_json_string(unified, "aspect_ratio", "16:9");
    assert_json_string(unified, "resolution", "1080p");
    assert_json_string(unified, "prompt", "p");
    assert_true(json_is_false(json_object_get(unified, "delete_video")));
    json_decref(unified);

    unified = map(
        "{\"model\":\"creatify-aurora\",\"size\":\"854x480\",\"image_url\":\"https://e.com/i.png\"}", &err);
    assert_non_null(unified); /* a model with a resolution but no aspect ratio */
    assert_json_string(unified, "resolution", "480p");
    assert_null(json_object_get(unified, "aspect_ratio"));
    json_decref(unified);

    unified = map("{\"model\":\"sora-2\",\"seconds\":8}", &err);
    assert_int_equal(json_integer_value(json_object_get(unified, "duration")), 8);
    json_decref(unified);

    unified = map("{\"prompt\":\"p\",\"seconds\":\"4\"}", &err); /* OpenAI's default model */
    assert_json_string(unified, "model", "sora-2");
    json_decref(unified);
}

static void references_fill_the_models_image_field(void **state)
{
    (void)state;
    reelay_error err;
    json_t *unified =
        map("{\"prompt\":\"p\",\"input_reference\":{\"image_url\":\"https://e.com/f.png\"}}", &err);
    assert_non_null(unified);
    assert_null(json_object_get(unified, "input_reference"));
    assert_int_equal(json_array_size(json_object_get(unified, "image_urls")), 1); /* sora: a one-item list */
    assert_string_equal(json_string_value(json_array_get(json_object_get(unified, "image_urls"), 0)),
                        "https://e.com/f.png");
    json_decref(unified);
    unified = map(
        "{\"model\":\"creatify-aurora\",\"input_reference\":{\"image_url\":\"https://e.com/f.png\"}}", &err);
    assert_json_string(unified, "image_url", "https://e.com/f.png"); /* a talking head: one URL */
    json_decref(unified);
    assert_null(openai_reference_input(catalog_model_find("lipsync-2")));
    /* an empty prompt is no prompt where the model has none; elsewhere it stays for the validation */
    unified = map("{\"model\":\"lipsync-2\",\"prompt\":\"\"}", &err);
    assert_null(json_object_get(unified, "prompt"));
    json_decref(unified);
    unified = map("{\"model\":\"sora-2\",\"prompt\":\"\"}", &err);
    assert_json_string(unified, "prompt", "");
    json_decref(unified);
}

static void param_names_say_what_the_client_sent(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"seconds\":\"4\",\"size\":\"1280x720\",\"input_reference\":{}}", 0, NULL);
    json_t *names = openai_param_names(body);
    assert_json_string(names, "duration", "seconds");
    assert_json_string(names, "aspect_ratio", "size");
    assert_json_string(names, "resolution", "size");
    assert_json_string(names, "image_urls", "input_reference");
    assert_int_equal(json_object_size(names), 4);
    json_decref(names);
    json_decref(body);
    body = json_loads("{\"model\":\"lipsync-2\",\"duration\":4}", 0, NULL);
    names = openai_param_names(body);
    assert_int_equal(json_object_size(names), 0); /* unified names stay theirs */
    json_decref(names);
    json_decref(body);
}

static void expect_refusal(const char *body_text, const char *code, const char *param)
{
    reelay_error err;
    json_t *unified = map(body_text, &err);
    if (unified != NULL) fail_msg("accepted %s", body_text);
    assert_string_equal(err.code, code);
    assert_string_equal(err.param, param);
    assert_int_equal(err.status, 422);
}

static void bad_requests_name_the_openai_field(void **state)
{
    (void)state;
    expect_refusal("{\"model\":\"sora-2\",\"seconds\":\"eight\"}", "invalid_value", "seconds");
    expect_refusal("{\"model\":\"sora-2\",\"seconds\":-4}", "invalid_value", "seconds");
    expect_refusal("{\"model\":\"sora-2\",\"seconds\":true}", "invalid_value", "seconds");
    expect_refusal("{\"model\":\"sora-2\",\"size\":\"big\"}", "invalid_value", "size");
    expect_refusal("{\"model\":\"sora-2\",\"size\":720}", "invalid_value", "size");
    expect_refusal("{\"model\":\"sora-2\",\"seconds\":\"4\",\"duration\":4}", "duplicate_field", "seconds");
    expect_refusal("{\"model\":\"sora-2\",\"size\":\"1280x720\",\"resolution\":\"720p\"}", "duplicate_field",
                   "size");
    expect_refusal("{\"model\":\"lipsync-2\",\"seconds\":\"4\"}", "unsupported_field", "seconds");
    expect_refusal("{\"model\":\"lipsync-2\",\"size\":\"1280x720\"}", "unsupported_field", "size");
    expect_refusal("{\"model\":\"lipsync-2\",\"input_reference\":{\"image_url\":\"https://e.com/f.png\"}}",
                   "unsupported_field", "input_reference");
    expect_refusal("{\"input_reference\":{\"file_id\":\"file_1\"}}", "unsupported_field", "input_reference");
    expect_refusal("{\"input_reference\":\"https://e.com/f.png\"}", "invalid_type", "input_reference");
    expect_refusal("{\"input_reference\":{\"image_url\":\"https://e.com/f.png\",\"x\":1}}", "invalid_type",
                   "input_reference");
    expect_refusal("{\"image_urls\":[\"https://e.com/a.png\"],\"input_reference\":{\"image_url\":\"https://"
                   "e.com/f.png\"}}",
                   "duplicate_field", "input_reference");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_queued_video_has_every_key_and_no_finish),
        cmocka_unit_test(statuses_collapse_onto_openais_four),
        cmocka_unit_test(a_completed_video_expires_with_its_links),
        cmocka_unit_test(a_model_without_size_shows_its_results_frame),
        cmocka_unit_test(failed_and_cancelled_videos_carry_code_and_message),
        cmocka_unit_test(sizes_parse_both_ways),
        cmocka_unit_test(requests_map_seconds_and_size_and_pass_the_rest),
        cmocka_unit_test(references_fill_the_models_image_field),
        cmocka_unit_test(bad_requests_name_the_openai_field),
        cmocka_unit_test(param_names_say_what_the_client_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

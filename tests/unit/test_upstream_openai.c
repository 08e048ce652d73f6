/* test_upstream_openai.c — the OpenAI Videos adapter on fixture JSON: the create request for both
 * models (seconds as a string, size from aspect ratio and resolution, the first frame), verdicts,
 * every status, failures and their codes, openai-poll-after-ms, the authenticated content download. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "upstream/upstream.h"

static upstream_auth_cache auth;

static upstream_context context(const char *model, json_t *params)
{
    return (upstream_context){.base_url = "http://127.0.0.1:9000/v1", .credential = "sk-test-123",
                              .task_id = "task-unified-1757165031-uyujaw3d", .model = model, .params = params,
                              .now = 1700000000, .auth = &auth};
}

static json_t *submitted_body(const char *model, const char *params_json, char *err, size_t err_size, int *rc)
{
    const upstream_provider *p = upstream_provider_find("openai");
    json_t *params = json_loads(params_json, 0, NULL);
    upstream_context ctx = context(model, params);
    upstream_request request;
    memset(&request, 0, sizeof(request));
    *rc = p->build_submit(&ctx, &request, err, err_size);
    json_t *body = NULL;
    if (*rc == 0) {
        assert_string_equal(request.method, "POST");
        assert_string_equal(request.url, "http://127.0.0.1:9000/v1/videos");
        assert_string_equal(request.headers[0], "Authorization: Bearer sk-test-123");
        assert_true(request.carries_credential);
        body = json_loads(request.body, 0, NULL);
    }
    upstream_request_clear(&request);
    json_decref(params);
    return body;
}

static void create_maps_our_fields_to_theirs(void **state)
{
    (void)state;
    char err[128];
    int rc;
    json_t *body = submitted_body("sora-2", "{\"prompt\":\"a kite\",\"duration\":12,\"aspect_ratio\":\"9:16\",\"resolution\":\"720p\"}",
                                  err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "sora-2");
    assert_string_equal(json_string_value(json_object_get(body, "prompt")), "a kite");
    assert_string_equal(json_string_value(json_object_get(body, "seconds")), "12");
    assert_string_equal(json_string_value(json_object_get(body, "size")), "720x1280");
    assert_null(json_object_get(body, "input_reference"));
    json_decref(body);
    body = submitted_body("sora-2-pro", "{\"prompt\":\"p\",\"duration\":20,\"aspect_ratio\":\"1280x720\",\"resolution\":\"1080p\","
                                        "\"image_urls\":[\"https://example.com/a.png\"],\"character_ids\":[\"c1\"]}",
                          err, sizeof(err), &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "sora-2-pro");
    assert_string_equal(json_string_value(json_object_get(body, "seconds")), "20");
    assert_string_equal(json_string_value(json_object_get(body, "size")), "1920x1080");
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "input_reference"), "image_url")),
                        "https://example.com/a.png");
    assert_null(json_object_get(body, "character_ids"));
    json_decref(body);
    body = submitted_body("sora-2", "{\"prompt\":\"p\",\"resolution\":\"1080p\"}", err, sizeof(err), &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "720p"));
    assert_false(upstream_provider_find("openai")->honours("sora-2", "character_ids"));
}

static upstream_outcome submit_answer(long status, const char *body, const char *retry_after, upstream_job *job)
{
    const upstream_provider *p = upstream_provider_find("openai");
    upstream_context ctx = context("sora-2", NULL);
    upstream_response response = {.status = status, .body = body, .body_size = strlen(body), .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    p->parse_submit(&ctx, &response, job, &out);
    return out;
}

static void submit_verdicts(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(200, "{\"id\":\"video_68d7512d\",\"object\":\"video\",\"status\":\"queued\",\"progress\":0}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "video_68d7512d");
    out = submit_answer(400, "{\"error\":{\"message\":\"Invalid size\",\"type\":\"invalid_request_error\",\"param\":\"size\"}}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_non_null(strstr(out.error_message, "Invalid size"));
    out = submit_answer(429, "{\"error\":{\"message\":\"Rate limit\",\"type\":\"rate_limit_error\"}}", "7", &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 7000);
    out = submit_answer(500, "oops", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_int_equal(submit_answer(200, "{\"id\":\"video_../../etc\"}", NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
    assert_int_equal(submit_answer(200, "{\"id\":12}", NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
    assert_int_equal(submit_answer(200, "{\"id\":\"video_1\"", NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
}

static upstream_outcome poll_answer(long status, const char *body, const char *poll_after)
{
    const upstream_provider *p = upstream_provider_find("openai");
    upstream_context ctx = context("sora-2", NULL);
    upstream_job job = {.id = "video_1"};
    upstream_response response = {.status = status, .body = body, .body_size = strlen(body), .poll_after_ms = poll_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    p->parse_poll(&ctx, &response, &job, &out);
    return out;
}

static void every_status_and_failure(void **state)
{
    (void)state;
    upstream_outcome out = poll_answer(200, "{\"id\":\"video_1\",\"status\":\"queued\",\"progress\":0}", "1500");
    assert_int_equal(out.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(out.retry_after_ms, 1500);
    out = poll_answer(200, "{\"id\":\"video_1\",\"status\":\"in_progress\",\"progress\":42,\"quality\":\"x\"}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, 42);
    out = poll_answer(200, "{\"id\":\"video_1\",\"status\":\"completed\",\"progress\":100,\"expires_at\":1758945085}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    out = poll_answer(200, "{\"status\":\"failed\",\"error\":{\"code\":\"moderation_blocked\",\"message\":\"Blocked by our safety system\"}}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "content_policy_violation");
    assert_string_equal(out.error_message, "Blocked by our safety system");
    out = poll_answer(200, "{\"status\":\"failed\",\"error\":{\"code\":\"invalid_input_reference\",\"message\":\"Size mismatch\"}}", NULL);
    assert_string_equal(out.error_code, "invalid_parameters");
    out = poll_answer(200, "{\"status\":\"failed\",\"error\":{\"code\":\"internal\",\"message\":\"Render crashed\"}}", NULL);
    assert_string_equal(out.error_code, "generation_failed");
    out = poll_answer(200, "{\"status\":\"expired\"}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_int_equal(poll_answer(200, "{\"status\":\"warming\"}", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(200, "<html>", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(502, "", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(404, "{\"error\":{}}", NULL).phase, UPSTREAM_JOB_LOST);
    out = poll_answer(200, "{\"status\":\"in_progress\",\"progress\":900}", "-5");
    assert_int_equal(out.progress, 100);
    assert_int_equal(out.retry_after_ms, 0);
}

static void download_is_authenticated_on_the_channel_origin(void **state)
{
    (void)state;
    const upstream_provider *p = upstream_provider_find("openai");
    upstream_context ctx = context("sora-2", NULL);
    upstream_job job = {.id = "video_1"};
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    upstream_request request;
    memset(&request, 0, sizeof(request));
    assert_int_equal(p->build_download(&ctx, &job, &done, &request), 0);
    assert_string_equal(request.url, "http://127.0.0.1:9000/v1/videos/video_1/content");
    assert_true(request.carries_credential);
    assert_true(upstream_same_origin(request.url, ctx.base_url));
    assert_string_equal(request.headers[1], "Accept: application/binary");
    upstream_request_clear(&request);
    upstream_job bad = {.id = "video_/../x"};
    assert_int_equal(p->build_poll(&ctx, &bad, &request), -1);
    assert_null(p->build_cancel);
    assert_null(p->build_lookup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_maps_our_fields_to_theirs),
        cmocka_unit_test(submit_verdicts),
        cmocka_unit_test(every_status_and_failure),
        cmocka_unit_test(download_is_authenticated_on_the_channel_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

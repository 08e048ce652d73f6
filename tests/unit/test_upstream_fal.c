/* test_upstream_fal.c — the fal queue adapter on fixture JSON (endpoint ids per model and option,
 * the webhook query, the owner/app URL rule and the origin check on returned URLs, statuses, results
 * and failures), and the shared helpers of upstream_common.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "upstream/upstream.h"

static upstream_auth_cache auth;
static const upstream_provider *fal(void) { return upstream_provider_find("fal"); }

static upstream_context context(const char *model, json_t *params, const char *webhook)
{
    return (upstream_context){.base_url = "https://queue.fal.run", .credential = "fal-key-1", .task_id = "task-1",
                              .model = model, .params = params, .webhook_url = webhook, .now = 1700000000,
                              .auth = &auth};
}

static void endpoint_of(const char *model, const char *params_json, const char *expected_url)
{
    json_t *params = json_loads(params_json, 0, NULL);
    upstream_context ctx = context(model, params, NULL);
    upstream_request request;
    memset(&request, 0, sizeof(request));
    char err[128] = "";
    assert_int_equal(fal()->build_submit(&ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.url, expected_url);
    assert_string_equal(request.headers[0], "Authorization: Key fal-key-1");
    assert_true(request.carries_credential);
    upstream_request_clear(&request);
    json_decref(params);
}

static void every_model_goes_to_its_endpoint(void **state)
{
    (void)state;
    endpoint_of("lipsync-2", "{}", "https://queue.fal.run/fal-ai/sync-lipsync/v2");
    endpoint_of("lipsync-2-pro", "{}", "https://queue.fal.run/fal-ai/sync-lipsync/v2/pro");
    endpoint_of("sync-3", "{}", "https://queue.fal.run/fal-ai/sync-lipsync/v3");
    endpoint_of("creatify-aurora", "{}", "https://queue.fal.run/fal-ai/creatify/aurora");
    endpoint_of("kling-v3-motion-control", "{\"mode\":\"pro\"}", "https://queue.fal.run/fal-ai/kling-video/v3/pro/motion-control");
    endpoint_of("kling-v3-motion-control", "{\"mode\":\"std\"}", "https://queue.fal.run/fal-ai/kling-video/v3/standard/motion-control");
    endpoint_of("kling-v2-6-motion-control", "{}", "https://queue.fal.run/fal-ai/kling-video/v2.6/standard/motion-control");
    endpoint_of("sora-2", "{}", "https://queue.fal.run/fal-ai/sora-2/text-to-video");
    endpoint_of("sora-2", "{\"image_urls\":[\"https://e.com/a.png\"]}", "https://queue.fal.run/fal-ai/sora-2/image-to-video");
    endpoint_of("sora-2-pro", "{\"resolution\":\"1080p\"}", "https://queue.fal.run/fal-ai/sora-2/text-to-video/pro");
    endpoint_of("sora-2-pro", "{\"image_urls\":[\"https://e.com/a.png\"]}", "https://queue.fal.run/fal-ai/sora-2/image-to-video/pro");
}

static void body_and_webhook(void **state)
{
    (void)state;
    json_t *params = json_loads("{\"image_url\":\"https://e.com/i.png\",\"video_url\":\"https://e.com/v.mp4\",\"mode\":\"std\","
                                "\"character_orientation\":\"video\",\"keep_original_sound\":\"no\",\"prompt\":\"dance\"}", 0, NULL);
    upstream_context ctx = context("kling-v2-6-motion-control", params, "https://gw.example/v1/upstream/f/webhook?task=t 1&x=é");
    upstream_request request;
    memset(&request, 0, sizeof(request));
    char err[64];
    assert_int_equal(fal()->build_submit(&ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.url, "https://queue.fal.run/fal-ai/kling-video/v2.6/standard/motion-control?fal_webhook="
                                     "https%3A%2F%2Fgw.example%2Fv1%2Fupstream%2Ff%2Fwebhook%3Ftask%3Dt%201%26x%3D%C3%A9");
    json_t *body = json_loads(request.body, 0, NULL);
    assert_true(json_is_false(json_object_get(body, "keep_original_sound")));
    assert_string_equal(json_string_value(json_object_get(body, "character_orientation")), "video");
    assert_string_equal(json_string_value(json_object_get(body, "prompt")), "dance");
    assert_null(json_object_get(body, "mode"));
    json_decref(body);
    upstream_request_clear(&request);
    json_decref(params);

    params = json_loads("{\"prompt\":\"p\",\"duration\":12,\"aspect_ratio\":\"720x1280\",\"resolution\":\"1080p\"}", 0, NULL);
    ctx = context("sora-2", params, NULL);
    assert_int_equal(fal()->build_submit(&ctx, &request, err, sizeof(err)), -1); /* sora-2 is 720p only */
    upstream_request_clear(&request);
    ctx.model = "sora-2-pro";
    assert_int_equal(fal()->build_submit(&ctx, &request, err, sizeof(err)), 0);
    body = json_loads(request.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "duration")), "12");
    assert_string_equal(json_string_value(json_object_get(body, "aspect_ratio")), "9:16");
    json_decref(body);
    upstream_request_clear(&request);
    json_decref(params);
}

static upstream_outcome submit_answer(long status, const char *body, upstream_job *job)
{
    upstream_context ctx = context("lipsync-2-pro", NULL, NULL);
    upstream_response response = {.status = status, .body = body, .body_size = strlen(body)};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    fal()->parse_submit(&ctx, &response, job, &out);
    return out;
}

static void returned_urls_are_used_only_on_the_channel_origin(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(200,
        "{\"status\":\"IN_QUEUE\",\"request_id\":\"80e732af-660e\",\"status_url\":\"https://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e/status?x=1\","
        "\"response_url\":\"https://evil.example/steal\",\"cancel_url\":\"http://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e/cancel\"}", &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "80e732af-660e");
    assert_string_equal(job.status_url, "https://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e/status?x=1");
    /* another host, or another scheme: built from owner/app instead (the key never leaves) */
    assert_string_equal(job.result_url, "https://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e");
    assert_string_equal(job.cancel_url, "https://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e/cancel");
    out = submit_answer(422, "{\"detail\":[{\"loc\":[\"body\",\"video_url\"],\"msg\":\"field required\",\"type\":\"value_error.missing\"}]}", &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_non_null(strstr(out.error_message, "video_url: field required"));
    assert_int_equal(submit_answer(429, "{\"detail\":\"Rate limited\"}", &job).verdict, UPSTREAM_THROTTLED);
    assert_int_equal(submit_answer(503, "{\"detail\":\"Runner unavailable\",\"error_type\":\"runner_scheduling_failure\"}", &job).verdict,
                     UPSTREAM_REFUSED);
    assert_int_equal(submit_answer(200, "{\"request_id\":\"../../admin\"}", &job).verdict, UPSTREAM_AMBIGUOUS);
    assert_int_equal(submit_answer(200, "{\"request_id\": \"abc", &job).verdict, UPSTREAM_AMBIGUOUS);
    char huge[12000];
    memset(huge, 'a', sizeof(huge));
    memcpy(huge, "{\"request_id\":\"", 15);
    memcpy(huge + sizeof(huge) - 3, "\"}", 3);
    assert_int_equal(submit_answer(200, huge, &job).verdict, UPSTREAM_AMBIGUOUS);
}

static upstream_outcome poll_answer(bool result, long status, const char *body)
{
    upstream_context ctx = context("sora-2", NULL, NULL);
    upstream_job job = {.id = "r1"};
    upstream_response response = {.status = status, .body = body, .body_size = strlen(body)};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    if (result) fal()->parse_result(&ctx, &response, &out);
    else fal()->parse_poll(&ctx, &response, &job, &out);
    return out;
}

static void statuses_results_and_failures(void **state)
{
    (void)state;
    assert_int_equal(poll_answer(false, 202, "{\"status\":\"IN_QUEUE\",\"queue_position\":3}").phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(poll_answer(false, 202, "{\"status\":\"IN_PROGRESS\",\"logs\":null}").phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(poll_answer(false, 200, "{\"status\":\"COMPLETED\",\"metrics\":{}}").phase, UPSTREAM_JOB_FETCH_RESULT);
    assert_int_equal(poll_answer(false, 200, "{\"status\":\"EXPLODED\"}").phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(false, 500, "{}").phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(false, 404, "{}").phase, UPSTREAM_JOB_LOST);
    upstream_outcome out = poll_answer(true, 200, "{\"video\":{\"url\":\"https://v3.fal.media/files/x/out.mp4\",\"duration\":8.1},\"video_id\":\"v\"}");
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, "https://v3.fal.media/files/x/out.mp4");
    assert_true(out.duration > 8.0 && out.duration < 8.2);
    assert_int_equal(poll_answer(true, 200, "{\"video\":{\"url\":\"ftp://x\"}}").phase, UPSTREAM_JOB_FAILED);
    out = poll_answer(true, 422, "{\"detail\":[{\"loc\":[\"body\",\"prompt\"],\"msg\":\"too long\"}]}");
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "invalid_parameters");
    out = poll_answer(true, 422, "{\"detail\":\"Output blocked\",\"error_type\":\"content_policy_violation\"}");
    assert_string_equal(out.error_code, "content_policy_violation");
    out = poll_answer(true, 500, "{\"detail\":\"CUDA out of memory\"}");
    assert_string_equal(out.error_code, "generation_failed");
    assert_string_equal(out.error_message, "CUDA out of memory");
    assert_int_equal(poll_answer(true, 400, "{\"detail\":\"Request is still in progress\"}").phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(true, 503, "").phase, UPSTREAM_JOB_RETRY);
}

static void shared_helpers(void **state)
{
    (void)state;
    assert_true(upstream_same_origin("https://a.example/x", "https://A.example:443/y?z"));
    assert_true(upstream_same_origin("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"));
    assert_true(upstream_same_origin("http://[::1]:80/a", "http://[::1]/b"));
    assert_false(upstream_same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8081"));
    assert_false(upstream_same_origin("https://a.example", "http://a.example"));
    assert_false(upstream_same_origin("https://user@a.example", "https://a.example"));
    assert_false(upstream_same_origin("https://a.example.evil", "https://a.example"));
    assert_false(upstream_same_origin("a.example", "a.example"));
    assert_int_equal(upstream_retry_after_ms("3", NULL, 0), 3000);
    assert_int_equal(upstream_retry_after_ms("3", "250", 0), 250);
    assert_int_equal(upstream_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", NULL, 1445412470), 10000);
    assert_int_equal(upstream_retry_after_ms("soon", NULL, 0), 0);
    assert_int_equal(upstream_retry_after_ms("999999", NULL, 0), 3600 * 1000);
    char encoded[32];
    assert_int_equal(upstream_url_encode("a b/c?", encoded, sizeof(encoded)), 0);
    assert_string_equal(encoded, "a%20b%2Fc%3F");
    assert_int_equal(upstream_url_encode("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", encoded, sizeof(encoded)), -1);
    upstream_request request;
    memset(&request, 0, sizeof(request));
    assert_int_equal(upstream_add_header(&request, "X-Key: %s", "a\r\nInjected: yes"), -1);
    assert_int_equal(request.header_count, 0);
    upstream_job job = {.id = "j1", .status_url = "https://q/s"}, back;
    json_t *stored = upstream_job_to_json(&job);
    assert_null(json_object_get(stored, "result_url"));
    assert_true(upstream_job_from_json(stored, &back));
    assert_string_equal(back.id, "j1");
    assert_string_equal(back.status_url, "https://q/s");
    json_decref(stored);
    json_t *no_id = json_pack("{s:s}", "status_url", "x");
    assert_false(upstream_job_from_json(no_id, &back));
    json_decref(no_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_model_goes_to_its_endpoint),
        cmocka_unit_test(body_and_webhook),
        cmocka_unit_test(returned_urls_are_used_only_on_the_channel_origin),
        cmocka_unit_test(statuses_results_and_failures),
        cmocka_unit_test(shared_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

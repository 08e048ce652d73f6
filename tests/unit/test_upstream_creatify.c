/* test_upstream_creatify.c — the Creatify Aurora adapter on fixture JSON: the create request (both
 * key headers, aurora_v2 for our resolution, guidance, webhook), Django-style errors, every status,
 * the progress scale, failures, and a public download without the keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "upstream/upstream.h"

static upstream_auth_cache auth;

static upstream_context context(json_t *params, const char *webhook)
{
    return (upstream_context){.base_url = "https://api.creatify.ai", .credential = "cr_id:cr_key:with-colon",
                              .task_id = "task-unified-1757165031-uyujaw3d", .model = "creatify-aurora",
                              .params = params, .webhook_url = webhook, .now = 1700000000, .auth = &auth};
}

static void create_request(void **state)
{
    (void)state;
    const upstream_provider *p = upstream_provider_find("creatify");
    json_t *params = json_loads("{\"image_url\":\"https://e.com/p.png\",\"audio_url\":\"https://e.com/a.mp3\","
                                "\"prompt\":\"soft light\",\"guidance_scale\":3,\"audio_guidance_scale\":2,"
                                "\"resolution\":\"480p\"}", 0, NULL);
    upstream_context ctx = context(params, "https://gw.example/v1/upstream/c1/webhook?task=x");
    upstream_request request;
    memset(&request, 0, sizeof(request));
    char err[64];
    assert_int_equal(p->build_submit(&ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.url, "https://api.creatify.ai/api/aurora/");
    assert_string_equal(request.headers[0], "X-API-ID: cr_id");
    assert_string_equal(request.headers[1], "X-API-KEY: cr_key:with-colon");
    json_t *body = json_loads(request.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "image")), "https://e.com/p.png");
    assert_string_equal(json_string_value(json_object_get(body, "audio")), "https://e.com/a.mp3");
    assert_string_equal(json_string_value(json_object_get(body, "text_prompt")), "soft light");
    assert_int_equal(json_integer_value(json_object_get(body, "prompt_guidance_scale")), 3);
    assert_string_equal(json_string_value(json_object_get(body, "model_version")), "aurora_v2");
    assert_string_equal(json_string_value(json_object_get(body, "resolution")), "480p");
    assert_string_equal(json_string_value(json_object_get(body, "name")), "task-unified-1757165031-uyujaw3d");
    assert_non_null(json_object_get(body, "webhook_url"));
    assert_null(json_object_get(body, "audio_guidance_scale"));
    json_decref(body);
    upstream_request_clear(&request);
    assert_true(p->honours("creatify-aurora", "guidance_scale"));
    assert_false(p->honours("creatify-aurora", "audio_guidance_scale"));
    assert_true(p->credential_valid("id:key"));
    assert_false(p->credential_valid("idkey"));
    assert_false(p->credential_valid(":key"));
    json_decref(params);
}

static upstream_outcome answer(bool submit, long status, const char *body, upstream_job *job)
{
    const upstream_provider *p = upstream_provider_find("creatify");
    upstream_context ctx = context(NULL, NULL);
    upstream_response response = {.status = status, .body = body, .body_size = strlen(body)};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    if (submit) p->parse_submit(&ctx, &response, job, &out);
    else p->parse_poll(&ctx, &response, job, &out);
    return out;
}

static void verdicts_statuses_and_failures(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = answer(true, 201, "{\"id\":\"44e480c0-642e-4057-9a50-de00a958e81c\",\"status\":\"pending\",\"progress\":0}", &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "44e480c0-642e-4057-9a50-de00a958e81c");
    out = answer(true, 400, "{\"audio\":[\"This field is required.\"]}", &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_non_null(strstr(out.error_message, "audio: This field is required."));
    out = answer(true, 401, "{\"detail\":\"Invalid API key\"}", &job);
    assert_non_null(strstr(out.error_message, "Invalid API key"));
    assert_int_equal(answer(true, 201, "{\"id\":\"../x\"}", &job).verdict, UPSTREAM_AMBIGUOUS);
    assert_int_equal(answer(true, 201, "[1]", &job).verdict, UPSTREAM_AMBIGUOUS);

    upstream_job polled = {.id = "44e480c0"};
    assert_int_equal(answer(false, 200, "{\"status\":\"pending\"}", &polled).phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(answer(false, 200, "{\"status\":\"in_queue\"}", &polled).phase, UPSTREAM_JOB_QUEUED);
    out = answer(false, 200, "{\"status\":\"running\",\"progress\":0.42}", &polled);
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, 42);
    assert_int_equal(answer(false, 200, "{\"status\":\"running\",\"progress\":63}", &polled).progress, 63);
    out = answer(false, 200, "{\"status\":\"done\",\"video_output\":\"https://cdn.e.com/v.mp4\",\"duration\":3.5}", &polled);
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, "https://cdn.e.com/v.mp4");
    assert_true(out.duration > 3.4 && out.duration < 3.6);
    assert_int_equal(answer(false, 200, "{\"status\":\"done\",\"video_output\":\"file:///etc/passwd\"}", &polled).phase,
                     UPSTREAM_JOB_FAILED);
    out = answer(false, 200, "{\"status\":\"failed\",\"failed_reason\":\"Face not detected\"}", &polled);
    assert_string_equal(out.error_code, "generation_failed");
    assert_string_equal(out.error_message, "Face not detected");
    out = answer(false, 200, "{\"status\":\"rejected\",\"failed_reason\":\"\"}", &polled);
    assert_string_equal(out.error_code, "content_policy_violation");
    assert_int_equal(answer(false, 200, "{\"status\":7}", &polled).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(answer(false, 404, "{\"detail\":\"Not found.\"}", &polled).phase, UPSTREAM_JOB_LOST);
    assert_int_equal(answer(false, 503, "", &polled).phase, UPSTREAM_JOB_RETRY);

    const upstream_provider *p = upstream_provider_find("creatify");
    upstream_context ctx = context(NULL, NULL);
    upstream_request request;
    memset(&request, 0, sizeof(request));
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    strcpy(done.media_url, "https://cdn.e.com/v.mp4");
    assert_int_equal(p->build_download(&ctx, &polled, &done, &request), 0);
    assert_false(request.carries_credential);
    assert_int_equal(request.header_count, 0);
    upstream_request_clear(&request);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_request),
        cmocka_unit_test(verdicts_statuses_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

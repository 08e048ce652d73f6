/* test_upstream_creatify.c — the Creatify Aurora adapter on fixture JSON shaped as
 * specs/upstream-apis.md §5: the create request (both key headers, aurora_v2 for our resolution,
 * prompt guidance, the webhook and its 200-character limit), Django-REST errors, every status, the
 * progress scale, failures and their codes, hostile bodies and the public download without the keys. */

#define PROVIDER "creatify"
#define BASE "https://api.creatify.ai"
#define CREDENTIAL "cr_id_123:cr_key:with-colon"
#define IMAGE "https://d35ghwdno3nak3.cloudfront.net/tutorial/avatar-aurora/recommendation-4.jpg"
#define AUDIO "https://cdn.example.com/speech.mp3"
#define HOOK "https://gateway.example/v1/upstream/creatify-1/webhook"
#define FLOW_ID "44e480c0-642e-4057-9a50-de00a958e81c"
#define VIDEO "https://dpbavq092lwjh.cloudfront.net/aurora/44e480c0/output.mp4"

#include "upstream_fixture.h"

/* The submit body for params (asserting the request line and headers every submit shares). */
static json_t *submit_body(const char *params_json, const char *webhook)
{
    fixture f;
    fixture_init(&f, "creatify-aurora", params_json, webhook);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.url, BASE "/api/aurora/");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 4);
    assert_string_equal(request.headers[0], "X-API-ID: cr_id_123");
    assert_string_equal(request.headers[1], "X-API-KEY: cr_key:with-colon");
    assert_string_equal(request.headers[2], "Accept: application/json");
    assert_string_equal(request.headers[3], "Content-Type: application/json");
    json_t *body = request_body(&request);
    upstream_request_clear(&request);
    fixture_done(&f);
    return body;
}

static void submit_refused(const char *params_json, const char *credential, const char *model,
                           const char *reason)
{
    fixture f;
    fixture_init(&f, "creatify-aurora", params_json, NULL);
    if (credential) f.ctx.credential = credential;
    if (model) f.ctx.model = model;
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_non_null(strstr(err, reason));
    upstream_request_clear(&request);
    fixture_done(&f);
}

static upstream_outcome submit_answer(long status, const char *body, const char *retry_after,
                                      upstream_job *job)
{
    fixture f;
    fixture_init(&f, "creatify-aurora", "{}", NULL);
    upstream_response response = {
        .status = status, .body = body, .body_size = body ? strlen(body) : 0, .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    memset(job, 0x5a, sizeof(*job)); /* garbage the parser must not leave behind */
    job->id[sizeof(job->id) - 1] = '\0';
    provider()->parse_submit(&f.ctx, &response, job, &out);
    fixture_done(&f);
    return out;
}

static upstream_outcome poll_answer_with(long status, const char *body, const char *retry_after)
{
    fixture f;
    fixture_init(&f, "creatify-aurora", "{}", NULL);
    upstream_job job = {.id = FLOW_ID};
    upstream_response response = {
        .status = status, .body = body, .body_size = body ? strlen(body) : 0, .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    provider()->parse_poll(&f.ctx, &response, &job, &out);
    assert_string_equal(job.id, FLOW_ID);
    fixture_done(&f);
    return out;
}

static upstream_outcome poll_answer(const char *body)
{
    return poll_answer_with(200, body, NULL);
}

/* An AuroraFlow as Creatify returns it, with status, progress and the rest given as JSON members. */
static upstream_outcome flow(const char *members)
{
    char body[1024];
    snprintf(
        body, sizeof(body),
        "{\"id\":\"" FLOW_ID
        "\",\"created_at\":\"2026-05-01T10:00:00Z\",\"updated_at\":\"2026-05-01T10:00:00Z\","
        "\"name\":\"" TASK_ID "\",\"audio\":\"" AUDIO "\",\"image\":\"" IMAGE "\",\"text_prompt\":\"…\","
        "\"prompt_guidance_scale\":1,\"model_version\":\"aurora_v2\",\"credits_used\":0,\"media_job\":null,"
        "\"is_hidden\":false,\"webhook_url\":null,\"preview\":null,\"editor_url\":null,%s}",
        members);
    return poll_answer(body);
}

/* ---- the provider table ---- */

static void table_lists_models_options_and_credential(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    assert_string_equal(p->name, "creatify");
    assert_string_equal(p->default_base_url, "https://api.creatify.ai");
    assert_string_equal(p->credential_form, "API_ID:API_KEY");
    assert_true(upstream_provider_serves(p, "creatify-aurora"));
    assert_false(upstream_provider_serves(p, "sora-2"));
    assert_false(upstream_provider_serves(p, "lipsync-2"));
    assert_false(upstream_provider_serves(p, "kling-v2-6-motion-control"));

    assert_true(upstream_provider_honours(p, "creatify-aurora", "guidance_scale"));
    static const char *const not_honoured[] = {"audio_guidance_scale",
                                               "temperature",
                                               "active_speaker",
                                               "character_orientation",
                                               "keep_original_sound",
                                               "character_ids",
                                               NULL};
    for (size_t i = 0; not_honoured[i]; i++)
        assert_false(upstream_provider_honours(p, "creatify-aurora", not_honoured[i]));
    assert_false(upstream_provider_honours(p, "sora-2", "guidance_scale"));

    assert_true(p->credential_valid("id:key"));
    assert_true(p->credential_valid("id:key:with-colon"));
    assert_false(p->credential_valid("idkey"));
    assert_false(p->credential_valid(":key"));
    assert_false(p->credential_valid("id:"));
    assert_false(p->credential_valid(""));
    assert_false(p->credential_valid(NULL));
    assert_false(p->credential_valid("id :key"));

    assert_null(p->build_result);
    assert_null(p->parse_result);
    assert_null(p->build_cancel);
    assert_null(p->build_lookup);
    assert_false(p->lookup_is_submit);
}

/* ---- the create request ---- */

static void create_with_every_option(void **state)
{
    (void)state;
    json_t *body =
        submit_body("{\"model\":\"creatify-aurora\",\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO
                    "\",\"prompt\":\"studio interview, soft light\",\"guidance_scale\":3.5,"
                    "\"audio_guidance_scale\":4,\"resolution\":\"480p\"}",
                    HOOK);
    assert_int_equal(json_object_size(body), 8);
    assert_string_equal(string_at(body, "image"), IMAGE);
    assert_string_equal(string_at(body, "audio"), AUDIO);
    assert_string_equal(string_at(body, "name"), TASK_ID);
    assert_string_equal(string_at(body, "text_prompt"), "studio interview, soft light");
    assert_true(json_is_number(json_object_get(body, "prompt_guidance_scale")));
    assert_float_equal(json_number_value(json_object_get(body, "prompt_guidance_scale")), 3.5, 1e-9);
    assert_string_equal(string_at(body, "model_version"), "aurora_v2");
    assert_string_equal(string_at(body, "resolution"), "480p");
    assert_string_equal(string_at(body, "webhook_url"), HOOK);
    /* no Creatify field for these */
    assert_null(json_object_get(body, "audio_guidance_scale"));
    assert_null(json_object_get(body, "guidance_scale"));
    assert_null(json_object_get(body, "prompt"));
    assert_null(json_object_get(body, "model"));
    json_decref(body);
}

static void create_with_the_catalog_defaults(void **state)
{
    (void)state;
    /* canonical parameters: no prompt (nullable, no default), guidance 1, audio guidance 2, 720p */
    json_t *body =
        submit_body("{\"model\":\"creatify-aurora\",\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO
                    "\",\"guidance_scale\":1,\"audio_guidance_scale\":2,\"resolution\":\"720p\"}",
                    NULL);
    assert_int_equal(json_object_size(body), 6);
    assert_string_equal(string_at(body, "image"), IMAGE);
    assert_string_equal(string_at(body, "audio"), AUDIO);
    assert_string_equal(string_at(body, "name"), TASK_ID);
    assert_true(json_is_integer(json_object_get(body, "prompt_guidance_scale")));
    assert_int_equal(json_integer_value(json_object_get(body, "prompt_guidance_scale")), 1);
    assert_string_equal(string_at(body, "model_version"), "aurora_v2");
    assert_string_equal(string_at(body, "resolution"), "720p");
    assert_null(json_object_get(body, "text_prompt"));
    assert_null(json_object_get(body, "webhook_url"));
    json_decref(body);

    /* nothing optional at all: resolution falls back to 720p; an empty prompt is no prompt */
    body = submit_body("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\",\"prompt\":\"\"}", NULL);
    assert_int_equal(json_object_size(body), 5);
    assert_string_equal(string_at(body, "resolution"), "720p");
    assert_null(json_object_get(body, "text_prompt"));
    assert_null(json_object_get(body, "prompt_guidance_scale"));
    json_decref(body);
}

static void create_webhook_only_within_creatifys_limit(void **state)
{
    (void)state;
    char hook[260];
    /* exactly 200 characters: sent */
    snprintf(hook, sizeof(hook), "https://gateway.example/hook?t=");
    while (strlen(hook) < 200)
        strcat(hook, "x");
    assert_int_equal(strlen(hook), 200);
    json_t *body = submit_body("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", hook);
    assert_string_equal(string_at(body, "webhook_url"), hook);
    json_decref(body);
    /* 201: left out, the job is polled */
    strcat(hook, "y");
    body = submit_body("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", hook);
    assert_null(json_object_get(body, "webhook_url"));
    assert_string_equal(string_at(body, "image"), IMAGE);
    json_decref(body);
}

static void create_refuses_what_cannot_be_sent(void **state)
{
    (void)state;
    submit_refused("{\"audio_url\":\"" AUDIO "\"}", NULL, NULL, "image_url");
    submit_refused("{\"image_url\":\"" IMAGE "\"}", NULL, NULL, "audio_url");
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":7}", NULL, NULL, "audio_url");
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\",\"resolution\":\"1080p\"}", NULL,
                   NULL, "1080p");
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", NULL, "sora-2", "sora-2");
    /* credentials that cannot make both headers */
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", "no-colon", NULL, "built");
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", ":key", NULL, "built");
    submit_refused("{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\"}", "id:key\r\nX-Evil: 1", NULL,
                   "built");
}

/* ---- submit verdicts ---- */

static void submit_accepted_with_the_flow_id(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(
        201,
        "{\"id\":\"" FLOW_ID
        "\",\"created_at\":\"2026-05-01T10:00:00Z\",\"updated_at\":\"2026-05-01T10:00:00Z\","
        "\"name\":\"gw_job_123\",\"audio\":\"…\",\"image\":\"…\",\"text_prompt\":\"…\",\"prompt_guidance_"
        "scale\":1,"
        "\"model_version\":\"aurora_v1_fast\",\"video_output\":null,\"credits_used\":0,\"duration\":0,"
        "\"progress\":0,"
        "\"failed_reason\":\"\",\"media_job\":null,\"status\":\"pending\",\"is_hidden\":false,"
        "\"webhook_url\":\"https://gateway.example/hooks/creatify\",\"preview\":null,\"editor_url\":null}",
        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, FLOW_ID);
    assert_string_equal(job.status_url, "");
    assert_string_equal(job.result_url, "");
    assert_string_equal(job.cancel_url, "");
    out = submit_answer(200, "{\"id\":\"44E480C0-642E-4057-9A50-DE00A958E81C\",\"status\":\"in_queue\"}",
                        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "44E480C0-642E-4057-9A50-DE00A958E81C");
}

static void submit_refused_with_django_errors(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(400, "{\"audio\":[\"This field is required.\"]}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_string_equal(out.error_message, "upstream answered HTTP 400: audio: This field is required.");

    out = submit_answer(
        400,
        "{\"image\":[\"Enter a valid URL.\",\"Unsupported file type.\"],"
        "\"audio\":[\"This field is required.\"],\"non_field_errors\":[\"Insufficient credits.\"]}",
        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_message,
                        "upstream answered HTTP 400: image: Enter a valid URL. Unsupported file type.; "
                        "audio: This field is required.; Insufficient credits.");

    out = submit_answer(400, "{\"prompt_guidance_scale\":\"Ensure this value is less than or equal to 10.\"}",
                        NULL, &job);
    assert_string_equal(
        out.error_message,
        "upstream answered HTTP 400: prompt_guidance_scale: Ensure this value is less than or equal "
        "to 10.");

    out = submit_answer(401, "{\"detail\":\"Invalid API credentials.\"}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_auth_failed");
    assert_string_equal(out.error_message, "upstream answered HTTP 401: Invalid API credentials.");

    out =
        submit_answer(403, "{\"detail\":\"You do not have permission to perform this action.\"}", NULL, &job);
    assert_string_equal(out.error_code, "upstream_auth_failed");
    assert_non_null(strstr(out.error_message, "You do not have permission"));

    out = submit_answer(500, "{\"detail\":\"Server error.\"}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_error");
    assert_string_equal(out.error_message, "upstream answered HTTP 500: Server error.");

    out = submit_answer(502, "<html><h1>502 Bad Gateway</h1></html>", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_message, "upstream answered HTTP 502");
}

static void submit_throttled_with_retry_after(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(
        429, "{\"detail\":\"Request was throttled. Expected available in 5 seconds.\"}", "5", &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 5000);
    assert_non_null(strstr(out.error_message, "Request was throttled"));
    out = submit_answer(429, "{\"detail\":\"Request was throttled.\"}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 0);
}

static void submit_unreadable_success_is_ambiguous(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "{\"id\":",
        "<!doctype html>",
        "[{\"id\":\"" FLOW_ID "\"}]",
        "{\"status\":\"pending\"}",
        "{\"id\":42}",
        "{\"id\":null}",
        "{\"id\":\"\"}",
        "{\"id\":\"../x\"}",
        "{\"id\":\"" FLOW_ID "/../../admin\"}",
        "{\"id\":\"44e480c0?x=1\"}",
        "{\"id\":\"not-a-uuid-zz\"}",
        "{\"id\":\"44e480c0 642e\"}",
        "{\"id\":\"" FLOW_ID FLOW_ID "\"}", /* 72 characters: no UUID is that long */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_job job;
        upstream_outcome out = submit_answer(201, bodies[i], NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_AMBIGUOUS);
        assert_string_equal(job.id, "");
        assert_string_equal(out.error_code, "upstream_error");
    }
    char *huge = with_huge_string("{\"id\":\"%s\"}");
    upstream_job job;
    assert_int_equal(submit_answer(201, huge, NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
    free(huge);
}

static void submit_hostile_error_bodies(void **state)
{
    (void)state;
    upstream_job job;
    char *huge = with_huge_string("{\"detail\":\"%s\"}");
    upstream_outcome out = submit_answer(400, huge, NULL, &job);
    free(huge);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_true(strlen(out.error_message) < sizeof(out.error_message));
    assert_true(strncmp(out.error_message, "upstream answered HTTP 400: aaaa", 32) == 0);
    huge = with_huge_string("{\"image\":[\"%s\"],\"audio\":[\"This field is required.\"]}");
    out = submit_answer(400, huge, NULL, &job);
    free(huge);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_true(strncmp(out.error_message, "upstream answered HTTP 400: image: aaaa", 39) == 0);
    /* wrong types: no message, still a verdict */
    static const char *const odd[] = {"{\"audio\":5}",
                                      "{\"audio\":[1,{\"x\":1},null]}",
                                      "{\"detail\":{\"msg\":1}}",
                                      "[\"error\"]",
                                      "null",
                                      NULL};
    for (size_t i = 0; odd[i]; i++) {
        out = submit_answer(400, odd[i], NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_REFUSED);
        assert_string_equal(out.error_message, "upstream answered HTTP 400");
    }
}

/* ---- polling ---- */

static void poll_request(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "creatify-aurora", "{}", NULL);
    upstream_job job = {.id = FLOW_ID};
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, BASE "/api/aurora/" FLOW_ID "/");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 3);
    assert_string_equal(request.headers[0], "X-API-ID: cr_id_123");
    assert_string_equal(request.headers[1], "X-API-KEY: cr_key:with-colon");
    assert_string_equal(request.headers[2], "Accept: application/json");
    assert_null(request.body);
    upstream_request_clear(&request);

    static const char *const bad[] = {
        "", "../x", FLOW_ID "/../y", "44e480c0?x", "44e480c0#x", "44e480c0%2F", "gg", NULL};
    for (size_t i = 0; bad[i]; i++) {
        upstream_job hostile;
        memset(&hostile, 0, sizeof(hostile));
        snprintf(hostile.id, sizeof(hostile.id), "%s", bad[i]);
        assert_int_equal(provider()->build_poll(&f.ctx, &hostile, &request), -1);
        upstream_request_clear(&request);
    }
    f.ctx.credential = "no-colon";
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void poll_waiting_and_running_with_the_progress_scale(void **state)
{
    (void)state;
    upstream_outcome out =
        flow("\"status\":\"pending\",\"progress\":0,\"video_output\":null,\"failed_reason\":\"\"");
    assert_int_equal(out.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(out.progress, 0);
    out = flow("\"status\":\"in_queue\",\"progress\":0,\"video_output\":null");
    assert_int_equal(out.phase, UPSTREAM_JOB_QUEUED);
    out = flow("\"status\":\"running\",\"progress\":0.42,\"video_output\":null");
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, 42);
    assert_string_equal(out.media_url, "");

    static const struct {
        const char *value;
        int progress;
    } scale[] = {
        {"0", 0},   {"0.29", 29},   {"0.5", 50},    {"1.0", 100}, {"1", 100},
        {"63", 63}, {"63.7", 63},   {"100", 100},   {"150", 100}, {"-0.5", 0},
        {"-20", 0}, {"1e308", 100}, {"\"50\"", -1}, {"null", -1}, {"[50]", -1},
    };
    for (size_t i = 0; i < sizeof(scale) / sizeof(scale[0]); i++) {
        char members[96];
        snprintf(members, sizeof(members), "\"status\":\"running\",\"progress\":%s", scale[i].value);
        out = flow(members);
        assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
        assert_int_equal(out.progress, scale[i].progress);
    }
    out = poll_answer("{\"id\":\"" FLOW_ID "\",\"status\":\"running\"}");
    assert_int_equal(out.progress, -1);
}

static void poll_done(void **state)
{
    (void)state;
    upstream_outcome out =
        flow("\"status\":\"done\",\"progress\":1.0,\"video_output\":\"" VIDEO "\",\"duration\":12.48,"
             "\"failed_reason\":\"\"");
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, VIDEO);
    assert_float_equal(out.duration, 12.48, 1e-9);
    assert_int_equal(out.progress, 100);
    assert_string_equal(out.error_code, "");
    /* an id in another case is the same UUID */
    out = poll_answer("{\"id\":\"44E480C0-642E-4057-9A50-DE00A958E81C\",\"status\":\"done\",\"video_output\":"
                      "\"http://cdn.example/v.mp4\",\"duration\":\"2\"}");
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, "http://cdn.example/v.mp4");
    assert_float_equal(out.duration, 0.0, 1e-9);

    /* done without a usable link */
    static const char *const links[] = {"null",
                                        "\"\"",
                                        "42",
                                        "\"file:///etc/passwd\"",
                                        "\"javascript:alert(1)\"",
                                        "\"//cdn.example/v.mp4\"",
                                        "\"ftp://cdn.example/v.mp4\"",
                                        NULL};
    for (size_t i = 0; links[i]; i++) {
        char members[128];
        snprintf(members, sizeof(members), "\"status\":\"done\",\"progress\":1,\"video_output\":%s",
                 links[i]);
        out = flow(members);
        assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
        assert_string_equal(out.error_code, "generation_failed");
        assert_string_equal(out.media_url, "");
    }
    char *huge = with_huge_string("{\"id\":\"" FLOW_ID
                                  "\",\"status\":\"done\",\"video_output\":\"https://cdn.example/%s\"}");
    out = poll_answer(huge);
    free(huge);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.media_url, "");
}

static void poll_failures_map_to_our_codes(void **state)
{
    (void)state;
    static const struct {
        const char *status, *reason, *code, *message;
    } cases[] = {
        {"failed", "\"Face not detected in the image\"", "generation_failed",
         "Face not detected in the image"},
        {"failed", "\"Audio longer than 60 seconds\"", "generation_failed", "Audio longer than 60 seconds"},
        {"failed", "\"Image flagged by content moderation\"", "content_policy_violation",
         "Image flagged by content moderation"},
        {"failed", "\"This content violates our usage policy\"", "content_policy_violation",
         "This content violates our usage policy"},
        {"failed", "\"\"", "generation_failed", "Creatify reported a failure"},
        {"failed", "null", "generation_failed", "Creatify reported a failure"},
        {"failed", "[\"x\"]", "generation_failed", "Creatify reported a failure"},
        {"rejected", "\"The image contains a minor\"", "content_policy_violation",
         "The image contains a minor"},
        {"rejected", "\"\"", "content_policy_violation", "Creatify rejected the job"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char members[256];
        snprintf(members, sizeof(members),
                 "\"status\":\"%s\",\"progress\":0.3,\"video_output\":null,\"failed_reason\":%s",
                 cases[i].status, cases[i].reason);
        upstream_outcome out = flow(members);
        assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
        assert_string_equal(out.error_code, cases[i].code);
        assert_string_equal(out.error_message, cases[i].message);
    }
    /* no failed_reason member at all */
    upstream_outcome out = poll_answer("{\"id\":\"" FLOW_ID "\",\"status\":\"failed\"}");
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "generation_failed");
    char *huge = with_huge_string("{\"id\":\"" FLOW_ID "\",\"status\":\"failed\",\"failed_reason\":\"%s\"}");
    out = poll_answer(huge);
    free(huge);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_int_equal(strlen(out.error_message), sizeof(out.error_message) - 1);
}

static void poll_trouble_and_hostile_answers(void **state)
{
    (void)state;
    assert_int_equal(poll_answer_with(404, "{\"detail\":\"Not found.\"}", NULL).phase, UPSTREAM_JOB_LOST);
    upstream_outcome out = poll_answer_with(500, "{\"detail\":\"Server error.\"}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    out = poll_answer_with(429, "{\"detail\":\"Request was throttled.\"}", "4");
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 4000);
    assert_int_equal(poll_answer_with(401, "{\"detail\":\"Invalid API credentials.\"}", NULL).phase,
                     UPSTREAM_JOB_RETRY);

    static const char *const unreadable[] = {
        "",
        "<!doctype html>",
        "{\"id\":",
        "[\"done\"]",
        "{\"id\":\"" FLOW_ID "\"}",
        "{\"id\":\"" FLOW_ID "\",\"status\":7}",
        "{\"id\":\"" FLOW_ID "\",\"status\":null}",
        "{\"id\":\"" FLOW_ID "\",\"status\":\"processing\"}",
        "{\"id\":\"" FLOW_ID "\",\"status\":\"DONE\",\"video_output\":\"" VIDEO "\"}",
        "{\"id\":\"11111111-2222-3333-4444-555555555555\",\"status\":\"done\",\"video_output\":\"" VIDEO
        "\"}",
    };
    for (size_t i = 0; i < sizeof(unreadable) / sizeof(unreadable[0]); i++) {
        out = poll_answer(unreadable[i]);
        assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
        assert_string_equal(out.error_code, "upstream_error");
        assert_string_equal(out.media_url, "");
    }
    char *huge = with_huge_string("{\"id\":\"" FLOW_ID "\",\"status\":\"%s\"}");
    assert_int_equal(poll_answer(huge).phase, UPSTREAM_JOB_RETRY);
    free(huge);
    assert_int_equal(poll_answer(NULL).phase, UPSTREAM_JOB_RETRY);
}

/* ---- the download ---- */

static void download_is_public_without_the_keys(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "creatify-aurora", "{}", NULL);
    upstream_job job = {.id = FLOW_ID};
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    done.phase = UPSTREAM_JOB_SUCCEEDED;
    snprintf(done.media_url, sizeof(done.media_url), "%s", VIDEO);
    upstream_request request = {0};
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, VIDEO);
    assert_false(request.carries_credential);
    assert_int_equal(request.header_count, 0);
    assert_null(request.body);
    upstream_request_clear(&request);

    done.media_url[0] = '\0';
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), -1);
    upstream_request_clear(&request);
    snprintf(done.media_url, sizeof(done.media_url), "file:///etc/passwd");
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- webhooks ---- */

static void webhooks_are_unsigned_by_design(void **state)
{
    (void)state;
    static const char body[] = "{\"id\":\"" FLOW_ID "\",\"status\":\"done\"}";
    const char *reason;
    webhook_fixture w;
    /* Creatify signs nothing: a callback only prompts a poll, with or without a channel secret */
    webhook_init(&w, body, NULL, NULL);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_UNSIGNED);
    webhook_init(&w, body, "a-secret", NULL);
    webhook_header(&w, "webhook-signature", "v1,forged");
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_UNSIGNED);
}

static void webhook_entry_and_job_id(void **state)
{
    (void)state;
    assert_webhook_entry(true, true, NULL); /* webhook_url goes with every submit that fits it */
    assert_webhook_job_id("{\"id\":\"" FLOW_ID "\",\"status\":\"done\"}", FLOW_ID);
    assert_webhook_job_id("{\"task_id\":\"" FLOW_ID "\"}", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_models_options_and_credential),
        cmocka_unit_test(create_with_every_option),
        cmocka_unit_test(create_with_the_catalog_defaults),
        cmocka_unit_test(create_webhook_only_within_creatifys_limit),
        cmocka_unit_test(create_refuses_what_cannot_be_sent),
        cmocka_unit_test(submit_accepted_with_the_flow_id),
        cmocka_unit_test(submit_refused_with_django_errors),
        cmocka_unit_test(submit_throttled_with_retry_after),
        cmocka_unit_test(submit_unreadable_success_is_ambiguous),
        cmocka_unit_test(submit_hostile_error_bodies),
        cmocka_unit_test(poll_request),
        cmocka_unit_test(poll_waiting_and_running_with_the_progress_scale),
        cmocka_unit_test(poll_done),
        cmocka_unit_test(poll_failures_map_to_our_codes),
        cmocka_unit_test(poll_trouble_and_hostile_answers),
        cmocka_unit_test(download_is_public_without_the_keys),
        cmocka_unit_test(webhooks_are_unsigned_by_design),
        cmocka_unit_test(webhook_entry_and_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

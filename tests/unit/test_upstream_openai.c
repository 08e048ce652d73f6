/* test_upstream_openai.c — the OpenAI Videos adapter on fixture JSON shaped as specs/upstream-apis.md §4:
 * the create request for both models (seconds as a string, size from aspect ratio and resolution, the
 * first frame as input_reference, no webhook, no character_ids), submit verdicts, every status, failures
 * and their error codes, openai-poll-after-ms, hostile bodies and the authenticated content download. */

#define PROVIDER "openai"
#define BASE "https://api.openai.com/v1"
#define KEY "sk-proj-test_123"
#define IMAGE "https://cdn.example.com/first-frame.png"
#define HOOK "https://gateway.example/v1/upstream/openai-1/webhook"
#define VIDEO_ID "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
#define CREDENTIAL KEY

#include "upstream_fixture.h"

/* The submit body for model and params (asserting the request line and headers every submit shares). */
static json_t *submit_body(const char *model, const char *params_json, const char *webhook)
{
    fixture f;
    fixture_init(&f, model, params_json, webhook);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.url, BASE "/videos");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 3);
    assert_string_equal(request.headers[0], "Authorization: Bearer " KEY);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_string_equal(request.headers[2], "Content-Type: application/json");
    json_t *body = request_body(&request);
    upstream_request_clear(&request);
    fixture_done(&f);
    return body;
}

/* build_submit's refusal: -1 with err containing `reason`. */
static void submit_refused(const char *model, const char *params_json, const char *reason)
{
    fixture f;
    fixture_init(&f, model, params_json, NULL);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_non_null(strstr(err, reason));
    upstream_request_clear(&request);
    fixture_done(&f);
}

static upstream_outcome submit_answer(long status, const char *body, const char *retry_after,
                                      const char *retry_after_ms, upstream_job *job)
{
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_response response = {.status = status,
                                  .body = body,
                                  .body_size = body ? strlen(body) : 0,
                                  .retry_after = retry_after,
                                  .retry_after_ms = retry_after_ms};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    memset(job, 0x5a, sizeof(*job)); /* garbage the parser must not leave behind */
    job->id[sizeof(job->id) - 1] = '\0';
    provider()->parse_submit(&f.ctx, &response, job, &out);
    fixture_done(&f);
    return out;
}

static upstream_outcome poll_answer_with(long status, const char *body, const char *poll_after,
                                         const char *retry_after)
{
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_job job = {.id = VIDEO_ID};
    upstream_response response = {.status = status,
                                  .body = body,
                                  .body_size = body ? strlen(body) : 0,
                                  .retry_after = retry_after,
                                  .poll_after_ms = poll_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    provider()->parse_poll(&f.ctx, &response, &job, &out);
    assert_string_equal(job.id, VIDEO_ID); /* a poll never rewrites the job */
    fixture_done(&f);
    return out;
}

static upstream_outcome poll_answer(const char *body)
{
    return poll_answer_with(200, body, NULL, NULL);
}

/* ---- the provider table ---- */

static void table_lists_models_options_and_credential(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    assert_string_equal(p->name, "openai");
    assert_string_equal(p->default_base_url, "https://api.openai.com/v1");
    assert_string_equal(p->credential_form, "KEY");
    assert_true(upstream_provider_serves(p, "sora-2"));
    assert_true(upstream_provider_serves(p, "sora-2-pro"));
    assert_false(upstream_provider_serves(p, "lipsync-2"));
    assert_false(upstream_provider_serves(p, "creatify-aurora"));
    assert_false(upstream_provider_serves(p, "kling-v3-motion-control"));
    assert_false(upstream_provider_serves(p, "sora-3"));

    static const char *const advanced[] = {
        "temperature",           "active_speaker",      "guidance_scale", "audio_guidance_scale",
        "character_orientation", "keep_original_sound", "character_ids",  NULL};
    for (size_t i = 0; advanced[i]; i++) {
        assert_false(upstream_provider_honours(p, "sora-2", advanced[i]));
        assert_false(upstream_provider_honours(p, "sora-2-pro", advanced[i]));
    }

    assert_true(p->credential_valid("sk-proj-abc_123"));
    assert_false(p->credential_valid(""));
    assert_false(p->credential_valid(NULL));
    assert_false(p->credential_valid("sk has space"));
    assert_false(p->credential_valid("sk-1\r\nX-Evil: 1"));

    assert_non_null(p->build_submit);
    assert_non_null(p->parse_submit);
    assert_non_null(p->build_poll);
    assert_non_null(p->parse_poll);
    assert_non_null(p->build_download);
    assert_null(p->build_result);
    assert_null(p->parse_result);
    assert_null(p->build_cancel);
    assert_null(p->build_lookup);
    assert_false(p->lookup_is_submit);
}

/* ---- the create request ---- */

static void create_sora2_with_the_catalog_defaults(void **state)
{
    (void)state;
    /* the canonical parameters with every default: 16:9, 4 s, 720p, no image */
    json_t *body = submit_body("sora-2",
                               "{\"model\":\"sora-2\",\"prompt\":\"A calico cat plays a grand piano\","
                               "\"aspect_ratio\":\"16:9\",\"duration\":4,\"resolution\":\"720p\"}",
                               NULL);
    assert_int_equal(json_object_size(body), 4);
    assert_string_equal(string_at(body, "model"), "sora-2");
    assert_string_equal(string_at(body, "prompt"), "A calico cat plays a grand piano");
    assert_string_equal(string_at(body, "seconds"), "4");
    assert_string_equal(string_at(body, "size"), "1280x720");
    assert_null(json_object_get(body, "input_reference"));
    json_decref(body);
}

static void create_seconds_are_strings_for_every_duration(void **state)
{
    (void)state;
    static const int durations[] = {4, 8, 12, 16, 20};
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        char params[160], expected[8];
        snprintf(params, sizeof(params), "{\"prompt\":\"waves\",\"duration\":%d}", durations[i]);
        snprintf(expected, sizeof(expected), "%d", durations[i]);
        json_t *body = submit_body("sora-2-pro", params, NULL);
        assert_true(json_is_string(json_object_get(body, "seconds")));
        assert_string_equal(string_at(body, "seconds"), expected);
        json_decref(body);
    }
    /* absent: OpenAI's default, 4 */
    json_t *body = submit_body("sora-2", "{\"prompt\":\"waves\"}", NULL);
    assert_string_equal(string_at(body, "seconds"), "4");
    assert_string_equal(string_at(body, "size"), "1280x720");
    json_decref(body);
}

static void create_size_follows_aspect_ratio_and_resolution(void **state)
{
    (void)state;
    static const struct {
        const char *model, *aspect, *resolution, *size;
    } cases[] = {
        {"sora-2", "16:9", "720p", "1280x720"},       {"sora-2", "1280x720", "720p", "1280x720"},
        {"sora-2", "9:16", "720p", "720x1280"},       {"sora-2", "720x1280", "720p", "720x1280"},
        {"sora-2-pro", "16:9", "720p", "1280x720"},   {"sora-2-pro", "9:16", "720p", "720x1280"},
        {"sora-2-pro", "16:9", "1080p", "1920x1080"}, {"sora-2-pro", "1280x720", "1080p", "1920x1080"},
        {"sora-2-pro", "9:16", "1080p", "1080x1920"}, {"sora-2-pro", "720x1280", "1080p", "1080x1920"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char params[200];
        snprintf(params, sizeof(params), "{\"prompt\":\"p\",\"aspect_ratio\":\"%s\",\"resolution\":\"%s\"}",
                 cases[i].aspect, cases[i].resolution);
        json_t *body = submit_body(cases[i].model, params, NULL);
        assert_string_equal(string_at(body, "model"), cases[i].model);
        assert_string_equal(string_at(body, "size"), cases[i].size);
        json_decref(body);
    }
}

static void create_sora2_pro_image_to_video(void **state)
{
    (void)state;
    /* character_ids is not honoured (no create field) and the webhook is per project: neither is sent */
    json_t *body =
        submit_body("sora-2-pro",
                    "{\"model\":\"sora-2-pro\",\"prompt\":\"She turns and smiles\",\"image_urls\":[\"" IMAGE
                    "\"],\"aspect_ratio\":\"9:16\",\"duration\":8,\"resolution\":\"1080p\","
                    "\"character_ids\":[\"char_123\"]}",
                    HOOK);
    assert_int_equal(json_object_size(body), 5);
    assert_string_equal(string_at(body, "model"), "sora-2-pro");
    assert_string_equal(string_at(body, "prompt"), "She turns and smiles");
    assert_string_equal(string_at(body, "seconds"), "8");
    assert_string_equal(string_at(body, "size"), "1080x1920");
    const json_t *reference = json_object_get(body, "input_reference");
    assert_int_equal(json_object_size(reference), 1);
    assert_string_equal(string_at(reference, "image_url"), IMAGE);
    assert_null(json_object_get(body, "character_ids"));
    assert_null(json_object_get(body, "image_urls"));
    assert_null(json_object_get(body, "webhook_url"));
    assert_null(json_object_get(body, "aspect_ratio"));
    assert_null(json_object_get(body, "resolution"));
    assert_null(json_object_get(body, "duration"));
    json_decref(body);

    /* sora-2 takes a first frame too */
    body = submit_body("sora-2", "{\"prompt\":\"p\",\"image_urls\":[\"" IMAGE "\"]}", NULL);
    assert_string_equal(string_at(json_object_get(body, "input_reference"), "image_url"), IMAGE);
    json_decref(body);
    /* an empty list is no image */
    body = submit_body("sora-2", "{\"prompt\":\"p\",\"image_urls\":[]}", NULL);
    assert_null(json_object_get(body, "input_reference"));
    json_decref(body);
}

static void create_the_webhook_is_never_sent(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "sora-2", "{\"prompt\":\"p\"}", HOOK);
    upstream_request request = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.url, BASE "/videos"); /* no query */
    assert_null(strstr(request.body, "gateway.example"));
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void create_refuses_what_openai_cannot_render(void **state)
{
    (void)state;
    submit_refused("sora-2", "{\"prompt\":\"p\",\"resolution\":\"1080p\"}", "720p");
    submit_refused("sora-2", "{\"prompt\":\"p\",\"resolution\":\"1080p\",\"aspect_ratio\":\"9:16\"}",
                   "sora-2-pro");
    submit_refused("sora-2-pro", "{\"prompt\":\"p\",\"aspect_ratio\":\"4:3\"}", "4:3");
    submit_refused("sora-2-pro", "{\"prompt\":\"p\",\"resolution\":\"480p\"}", "480p");
    submit_refused("sora-2", "{\"aspect_ratio\":\"16:9\"}", "prompt");
    submit_refused("sora-2", "{\"prompt\":\"\"}", "prompt");
    submit_refused("sora-2", "{\"prompt\":42}", "prompt");
    submit_refused("sora-2", "{\"prompt\":\"p\",\"duration\":0}", "duration");
    submit_refused("lipsync-2", "{\"prompt\":\"p\"}", "lipsync-2");
}

static void create_that_does_not_fit_fails_cleanly(void **state)
{
    (void)state;
    /* a key the header refuses (a line break) and a base URL too long for a request: -1, no leak */
    fixture f;
    fixture_init(&f, "sora-2", "{\"prompt\":\"p\"}", NULL);
    f.ctx.credential = "sk-1\r\nX-Evil: 1";
    upstream_request request = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    upstream_request_clear(&request);

    char *long_base = malloc(UPSTREAM_URL_SIZE + 16);
    assert_non_null(long_base);
    memset(long_base, 'a', UPSTREAM_URL_SIZE + 15);
    memcpy(long_base, "https://", 8);
    long_base[UPSTREAM_URL_SIZE + 15] = '\0';
    f.ctx.credential = KEY;
    f.ctx.base_url = long_base;
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    upstream_request_clear(&request);
    upstream_job job = {.id = VIDEO_ID};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), -1);
    upstream_request_clear(&request);
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), -1);
    upstream_request_clear(&request);
    free(long_base);
    fixture_done(&f);
}

/* ---- submit verdicts ---- */

static void submit_accepted_with_the_video_id(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(
        200,
        "{\"id\":\"" VIDEO_ID "\",\"object\":\"video\",\"model\":\"sora-2-pro\",\"status\":\"queued\","
        "\"progress\":0,\"created_at\":1758941485,\"completed_at\":null,\"expires_at\":null,\"prompt\":\"…\","
        "\"seconds\":\"8\",\"size\":\"1280x720\",\"remixed_from_video_id\":null,\"error\":null}",
        NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, VIDEO_ID);
    assert_string_equal(job.status_url, "");
    assert_string_equal(job.result_url, "");
    assert_string_equal(job.cancel_url, "");
    assert_string_equal(out.error_code, "");

    /* any 2xx with a readable id, extra fields ignored */
    out = submit_answer(201, "{\"id\":\"video_abc-DEF_123\",\"quality\":\"standard\"}", NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "video_abc-DEF_123");
}

static void submit_refused_with_openais_message(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out =
        submit_answer(400,
                      "{\"error\":{\"message\":\"Invalid value for 'size': must be one of "
                      "720x1280, 1280x720.\",\"type\":\"invalid_request_error\",\"param\":\"size\","
                      "\"code\":\"invalid_value\"}}",
                      NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_string_equal(
        out.error_message,
        "upstream answered HTTP 400: Invalid value for 'size': must be one of 720x1280, 1280x720. "
        "(invalid_value)");
    assert_int_equal(out.retry_after_ms, 0);

    /* code null: the type stands in */
    out = submit_answer(400,
                        "{\"error\":{\"message\":\"Missing required parameter: 'prompt'\",\"type\":"
                        "\"invalid_request_error\",\"param\":\"prompt\",\"code\":null}}",
                        NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(
        out.error_message,
        "upstream answered HTTP 400: Missing required parameter: 'prompt' (invalid_request_error)");

    out = submit_answer(
        401,
        "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\","
        "\"param\":null,\"code\":\"invalid_api_key\"}}",
        NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_auth_failed");
    assert_non_null(strstr(out.error_message, "Incorrect API key provided (invalid_api_key)"));

    out = submit_answer(403, "{\"error\":{\"message\":\"Project lacks access to sora-2-pro\"}}", NULL, NULL,
                        &job);
    assert_string_equal(out.error_code, "upstream_auth_failed");
    assert_string_equal(out.error_message, "upstream answered HTTP 403: Project lacks access to sora-2-pro");

    out = submit_answer(500,
                        "{\"error\":{\"message\":\"The server had an error while processing your request\","
                        "\"type\":\"server_error\",\"param\":null,\"code\":null}}",
                        NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_error");
    assert_non_null(
        strstr(out.error_message, "The server had an error while processing your request (server_error)"));

    out = submit_answer(503, "<html><body>Service Unavailable</body></html>", NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_error");
    assert_string_equal(out.error_message, "upstream answered HTTP 503");
}

static void submit_throttled_with_retry_after(void **state)
{
    (void)state;
    upstream_job job;
    const char *limited =
        "{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"rate_limit_error\","
        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    upstream_outcome out = submit_answer(429, limited, "7", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 7000);
    assert_non_null(strstr(out.error_message, "Rate limit reached for requests"));
    /* retry-after-ms wins over retry-after, as in the SDK */
    out = submit_answer(429, limited, "7", "1500", &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 1500);
    out = submit_answer(429, limited, NULL, "250", &job);
    assert_int_equal(out.retry_after_ms, 250);
    /* an HTTP date, 30 s after now */
    out = submit_answer(429, limited, "Tue, 14 Nov 2023 22:13:50 GMT", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 30000);
    out = submit_answer(429, "", NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 0);
}

static void submit_unreadable_success_is_ambiguous(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        "not json",
        "{\"id\": \"video_",                            /* cut off */
        "[{\"id\":\"" VIDEO_ID "\"}]",                  /* not an object */
        "{\"object\":\"video\",\"status\":\"queued\"}", /* no id */
        "{\"id\":12345}",
        "{\"id\":null}",
        "{\"id\":\"\"}",
        "{\"id\":\"video_\"}",
        "{\"id\":\"vid_123\"}", /* not a video id */
        "{\"id\":\"video_../../admin\"}",
        "{\"id\":\"video_1/content\"}",
        "{\"id\":\"video_1?x=y\"}",
        "{\"id\":\"video_1 2\"}",
        "{\"id\":\"video_1\",\"id\":\"video_2\"}", /* duplicate keys */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_job job;
        upstream_outcome out = submit_answer(200, bodies[i], NULL, NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_AMBIGUOUS);
        assert_string_equal(job.id, "");
        assert_string_equal(out.error_code, "upstream_error");
    }
    char *huge = with_huge_string("{\"id\":\"video_%s\"}");
    upstream_job job;
    assert_int_equal(submit_answer(200, huge, NULL, NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
    assert_string_equal(job.id, "");
    free(huge);
    upstream_outcome out = submit_answer(200, NULL, NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_AMBIGUOUS);
}

static void submit_hostile_error_bodies(void **state)
{
    (void)state;
    upstream_job job;
    /* a 10 KB message is cut to fit */
    char *huge = with_huge_string("{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\"}}");
    upstream_outcome out = submit_answer(400, huge, NULL, NULL, &job);
    free(huge);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_true(strlen(out.error_message) < sizeof(out.error_message));
    assert_true(strncmp(out.error_message, "upstream answered HTTP 400: aaaa", 32) == 0);
    /* wrong types everywhere */
    out = submit_answer(400, "{\"error\":42}", NULL, NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_message, "upstream answered HTTP 400");
    out = submit_answer(400, "{\"error\":{\"message\":[1,2],\"code\":{\"x\":1}}}", NULL, NULL, &job);
    assert_string_equal(out.error_message, "upstream answered HTTP 400");
    out = submit_answer(400, "{\"error\":\"Bad request body\"}", NULL, NULL, &job);
    assert_string_equal(out.error_message, "upstream answered HTTP 400: Bad request body");
    /* control characters never reach the message; multi-byte text is cut on a character boundary */
    out = submit_answer(400, "{\"error\":{\"message\":\"line one\\r\\nInjected: yes\"}}", NULL, NULL, &job);
    assert_string_equal(out.error_message, "upstream answered HTTP 400: line one  Injected: yes");
    char wide[2048] = "{\"error\":{\"message\":\"";
    for (int i = 0; i < 200; i++)
        strcat(wide, "\xe6\x97\xa5"); /* 日, three bytes each */
    strcat(wide, "\"}}");
    out = submit_answer(400, wide, NULL, NULL, &job);
    size_t length = strlen(out.error_message);
    assert_true(length > 100);
    json_t *as_json = json_string(out.error_message); /* NULL for invalid UTF-8 */
    assert_non_null(as_json);
    json_decref(as_json);
}

/* ---- polling ---- */

static void poll_request(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_job job = {.id = VIDEO_ID};
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, BASE "/videos/" VIDEO_ID);
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 2);
    assert_string_equal(request.headers[0], "Authorization: Bearer " KEY);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_null(request.body);
    upstream_request_clear(&request);

    static const char *const bad[] = {
        "",           "video_",    "vid_1",      "video_/../x", "video_1/content", "video_1?a=b", "video_1#x",
        "video_1%2F", "video_1 2", "../video_1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        upstream_job hostile;
        memset(&hostile, 0, sizeof(hostile));
        snprintf(hostile.id, sizeof(hostile.id), "%s", bad[i]);
        assert_int_equal(provider()->build_poll(&f.ctx, &hostile, &request), -1);
        upstream_request_clear(&request);
    }
    fixture_done(&f);
}

static void poll_queued_and_in_progress_with_poll_after(void **state)
{
    (void)state;
    upstream_outcome out =
        poll_answer_with(200,
                         "{\"id\":\"" VIDEO_ID "\",\"object\":\"video\",\"model\":\"sora-2\","
                         "\"status\":\"queued\",\"progress\":0,\"created_at\":1758941485,"
                         "\"completed_at\":null,\"expires_at\":null,\"error\":null}",
                         "1500", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(out.progress, 0);
    assert_int_equal(out.retry_after_ms, 1500);

    out = poll_answer_with(200,
                           "{\"id\":\"" VIDEO_ID
                           "\",\"object\":\"video\",\"status\":\"in_progress\",\"progress\":42,"
                           "\"quality\":\"standard\",\"misc\":{\"a\":[1,2]}}",
                           "2000", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, 42);
    assert_int_equal(out.retry_after_ms, 2000);

    /* no header: no wish */
    out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"in_progress\",\"progress\":42.9}");
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, 42);
    assert_int_equal(out.retry_after_ms, 0);
    /* no progress number: -1 */
    out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"in_progress\"}");
    assert_int_equal(out.progress, -1);
    out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"in_progress\",\"progress\":\"50\"}");
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, -1);
    /* out-of-range progress is clamped */
    assert_int_equal(poll_answer("{\"status\":\"in_progress\",\"progress\":900}").progress, 100);
    assert_int_equal(poll_answer("{\"status\":\"in_progress\",\"progress\":-5}").progress, 0);
    assert_int_equal(poll_answer("{\"status\":\"in_progress\",\"progress\":1e308}").progress, 100);
}

static void poll_after_header_is_read_strictly(void **state)
{
    (void)state;
    const char *body = "{\"id\":\"" VIDEO_ID "\",\"status\":\"queued\",\"progress\":0}";
    assert_int_equal(poll_answer_with(200, body, "250", NULL).retry_after_ms, 250);
    assert_int_equal(poll_answer_with(200, body, " 250 ", NULL).retry_after_ms, 250);
    assert_int_equal(poll_answer_with(200, body, "3600000", NULL).retry_after_ms, 3600000);
    static const char *const unreadable[] = {
        "", "0", "-5", "+5", "abc", "12ms", "1.5", "3600001", "99999999999999999999999", NULL};
    for (size_t i = 0; unreadable[i]; i++)
        assert_int_equal(poll_answer_with(200, body, unreadable[i], NULL).retry_after_ms, 0);
}

static void poll_completed(void **state)
{
    (void)state;
    upstream_outcome out = poll_answer_with(
        200,
        "{\"id\":\"" VIDEO_ID "\",\"object\":\"video\",\"model\":\"sora-2-pro\",\"status\":\"completed\","
        "\"progress\":100,\"created_at\":1758941485,\"completed_at\":1758941585,\"expires_at\":1758945185,"
        "\"prompt\":\"…\",\"seconds\":\"8\",\"size\":\"1280x720\",\"remixed_from_video_id\":null,\"error\":"
        "null}",
        "1000", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, ""); /* the bytes come from the content endpoint */
    assert_int_equal(out.progress, 100);
    assert_float_equal(out.duration, 8.0, 1e-9);
    assert_string_equal(out.error_code, "");
    /* without a (readable) length */
    out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"completed\",\"seconds\":8}");
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_float_equal(out.duration, 0.0, 1e-9);
    out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"completed\",\"seconds\":\"eight\"}");
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_float_equal(out.duration, 0.0, 1e-9);
}

static void poll_failures_map_to_our_codes(void **state)
{
    (void)state;
    static const struct {
        const char *error, *code, *message;
    } cases[] = {
        {"{\"code\":\"moderation_blocked\",\"message\":\"Your request was blocked by our moderation "
         "system.\"}",
         "content_policy_violation", "Your request was blocked by our moderation system."},
        {"{\"code\":\"video_generation_failed\",\"message\":\"This request violates our content policy.\"}",
         "content_policy_violation", "This request violates our content policy."},
        {"{\"code\":null,\"message\":\"Rejected by the safety system: real people are not allowed\"}",
         "content_policy_violation", "Rejected by the safety system: real people are not allowed"},
        {"{\"code\":\"invalid_input_reference\",\"message\":\"The input image must match the size "
         "1280x720\"}",
         "invalid_parameters", "The input image must match the size 1280x720"},
        {"{\"code\":\"invalid_prompt\",\"message\":\"Prompt too vague\"}", "invalid_parameters",
         "Prompt too vague"},
        {"{\"code\":\"internal_error\",\"message\":\"Video generation failed. Please try again.\"}",
         "generation_failed", "Video generation failed. Please try again."},
        {"{\"code\":\"invalidish\",\"message\":\"odd\"}", "generation_failed", "odd"},
        {"{\"code\":\"render_timeout\"}", "generation_failed", "render_timeout"},
        {"{}", "generation_failed", "OpenAI reported a failure"},
        {"null", "generation_failed", "OpenAI reported a failure"},
        {"\"a string\"", "generation_failed", "OpenAI reported a failure"},
        {"{\"code\":7,\"message\":[\"x\"]}", "generation_failed", "OpenAI reported a failure"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"id\":\"" VIDEO_ID
                 "\",\"object\":\"video\",\"status\":\"failed\",\"progress\":37,\"error\":%s}",
                 cases[i].error);
        upstream_outcome out = poll_answer(body);
        assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
        assert_string_equal(out.error_code, cases[i].code);
        assert_string_equal(out.error_message, cases[i].message);
        assert_string_equal(out.media_url, "");
    }
    upstream_outcome out = poll_answer("{\"id\":\"" VIDEO_ID "\",\"status\":\"expired\",\"progress\":100}");
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "upstream_error");
    assert_non_null(strstr(out.error_message, "expired"));

    /* a 10 KB message is cut, never overflows */
    char *huge = with_huge_string(
        "{\"status\":\"failed\",\"error\":{\"code\":\"internal_error\",\"message\":\"%s\"}}");
    out = poll_answer(huge);
    free(huge);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "generation_failed");
    assert_int_equal(strlen(out.error_message), sizeof(out.error_message) - 1);
}

static void poll_trouble_and_hostile_answers(void **state)
{
    (void)state;
    upstream_outcome out =
        poll_answer_with(404,
                         "{\"error\":{\"message\":\"Video with id 'video_x' not found.\","
                         "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
                         NULL, NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_LOST);
    out = poll_answer_with(
        500, "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}", NULL, NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 0);
    out = poll_answer_with(429, "{\"error\":{\"message\":\"Rate limit reached\"}}", NULL, "3");
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 3000);
    /* no Retry-After on an error answer: the poll-after wish still counts */
    out = poll_answer_with(502, "", "1200", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 1200);
    out = poll_answer_with(401, "{\"error\":{\"message\":\"Incorrect API key provided\"}}", NULL, NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);

    static const char *const unreadable[] = {
        "",
        "<html>Bad gateway</html>",
        "{\"id\":",
        "[\"completed\"]",
        "{\"id\":\"" VIDEO_ID "\"}",
        "{\"id\":\"" VIDEO_ID "\",\"status\":7}",
        "{\"id\":\"" VIDEO_ID "\",\"status\":null}",
        "{\"id\":\"" VIDEO_ID "\",\"status\":{\"value\":\"completed\"}}",
        "{\"id\":\"" VIDEO_ID "\",\"status\":\"warming_up\"}",
        "{\"id\":\"" VIDEO_ID "\",\"status\":\"COMPLETED\"}",
        "{\"id\":\"video_someone_elses\",\"status\":\"completed\"}", /* an answer about another video */
        "{\"status\":\"completed\",\"status\":\"failed\"}",
    };
    for (size_t i = 0; i < sizeof(unreadable) / sizeof(unreadable[0]); i++) {
        out = poll_answer(unreadable[i]);
        assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
        assert_string_equal(out.error_code, "upstream_error");
    }
    char *huge = with_huge_string("{\"id\":\"" VIDEO_ID "\",\"status\":\"%s\"}");
    assert_int_equal(poll_answer(huge).phase, UPSTREAM_JOB_RETRY);
    free(huge);
    huge = with_huge_string("{\"id\":\"video_%s\",\"status\":\"completed\"}");
    assert_int_equal(poll_answer(huge).phase, UPSTREAM_JOB_RETRY);
    free(huge);
    assert_int_equal(poll_answer(NULL).phase, UPSTREAM_JOB_RETRY);
}

/* ---- the download ---- */

static void download_is_authenticated_on_the_channel_origin(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "sora-2-pro", "{}", NULL);
    upstream_job job = {.id = VIDEO_ID};
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    done.phase = UPSTREAM_JOB_SUCCEEDED;
    /* a link in the outcome is never followed: the content endpoint is the only source */
    snprintf(done.media_url, sizeof(done.media_url), "https://evil.example/steal");
    upstream_request request = {0};
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, BASE "/videos/" VIDEO_ID "/content");
    assert_true(request.carries_credential);
    assert_true(upstream_same_origin(request.url, f.ctx.base_url));
    assert_int_equal(request.header_count, 2);
    assert_string_equal(request.headers[0], "Authorization: Bearer " KEY);
    assert_string_equal(request.headers[1], "Accept: application/binary");
    assert_null(request.body);
    upstream_request_clear(&request);

    /* an emulator on another base URL */
    f.ctx.base_url = "http://127.0.0.1:9000/v1";
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.url, "http://127.0.0.1:9000/v1/videos/" VIDEO_ID "/content");
    upstream_request_clear(&request);

    upstream_job bad = {.id = "video_/../../x"};
    assert_int_equal(provider()->build_download(&f.ctx, &bad, &done, &request), -1);
    upstream_request_clear(&request);
    upstream_job none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(provider()->build_download(&f.ctx, &none, &done, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- webhooks ---- */

static void project_webhooks_are_standard_webhooks_under_the_channel_secret(void **state)
{
    (void)state;
    static const char body[] =
        "{\"object\":\"event\",\"type\":\"video.completed\",\"data\":{\"id\":\"" VIDEO_ID "\"}}";
    assert_standard_webhooks_verified(body);
    /* no secret on the channel: refused, however well signed */
    webhook_signed_headers signed_headers;
    const char *reason;
    webhook_fixture w;
    webhook_init(&w, body, NULL, NULL);
    webhook_sign_standard_into(&w, STANDARD_WEBHOOK_SECRET, "msg_1", &signed_headers);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "no webhook secret set");
}

static void webhook_entry_and_job_id(void **state)
{
    (void)state;
    /* set per project in OpenAI's dashboard: never asked for per request, secret or not */
    assert_webhook_entry(false, false, NULL);
    assert_webhook_job_id("{\"type\":\"video.completed\",\"data\":{\"id\":\"" VIDEO_ID "\"}}", VIDEO_ID);
    assert_webhook_job_id("{\"id\":\"evt_1\"}", "");
    assert_webhook_job_id("{\"data\":\"" VIDEO_ID "\"}", "");
    assert_webhook_job_id("{\"data\":{\"id\":5}}", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_models_options_and_credential),
        cmocka_unit_test(create_sora2_with_the_catalog_defaults),
        cmocka_unit_test(create_seconds_are_strings_for_every_duration),
        cmocka_unit_test(create_size_follows_aspect_ratio_and_resolution),
        cmocka_unit_test(create_sora2_pro_image_to_video),
        cmocka_unit_test(create_the_webhook_is_never_sent),
        cmocka_unit_test(create_refuses_what_openai_cannot_render),
        cmocka_unit_test(create_that_does_not_fit_fails_cleanly),
        cmocka_unit_test(submit_accepted_with_the_video_id),
        cmocka_unit_test(submit_refused_with_openais_message),
        cmocka_unit_test(submit_throttled_with_retry_after),
        cmocka_unit_test(submit_unreadable_success_is_ambiguous),
        cmocka_unit_test(submit_hostile_error_bodies),
        cmocka_unit_test(poll_request),
        cmocka_unit_test(poll_queued_and_in_progress_with_poll_after),
        cmocka_unit_test(poll_after_header_is_read_strictly),
        cmocka_unit_test(poll_completed),
        cmocka_unit_test(poll_failures_map_to_our_codes),
        cmocka_unit_test(poll_trouble_and_hostile_answers),
        cmocka_unit_test(download_is_authenticated_on_the_channel_origin),
        cmocka_unit_test(project_webhooks_are_standard_webhooks_under_the_channel_secret),
        cmocka_unit_test(webhook_entry_and_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_upstream_sync.c — the Sync Labs adapter on fixture JSON shaped as specs/upstream-apis.md §2:
 * the submit request for each model and option, submit verdicts, every poll status, failure codes,
 * hostile bodies, the idempotent lookup and the download request. */

#include <sodium.h>

#define PROVIDER "sync"
#define BASE "https://api.sync.so"
#define KEY "sk-sync-test-123"
#define VIDEO "https://assets.sync.so/docs/example-video.mp4"
#define AUDIO "https://assets.sync.so/docs/example-audio.wav"
#define HOOK "https://gateway.example/hooks/sync"
#define CREDENTIAL KEY

#include "upstream_fixture.h"

/* ---- the provider table ---- */

static void table_lists_models_options_and_credential(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    assert_string_equal(p->name, "sync");
    assert_string_equal(p->default_base_url, "https://api.sync.so");
    assert_string_equal(p->credential_form, "KEY");
    assert_true(upstream_provider_serves(p, "lipsync-2"));
    assert_true(upstream_provider_serves(p, "lipsync-2-pro"));
    assert_true(upstream_provider_serves(p, "sync-3"));
    assert_false(upstream_provider_serves(p, "creatify-aurora"));
    assert_false(upstream_provider_serves(p, "kling-v3-motion-control"));
    assert_false(upstream_provider_serves(p, "sora-2"));

    assert_true(upstream_provider_honours(p, "lipsync-2", "temperature"));
    assert_true(upstream_provider_honours(p, "lipsync-2", "active_speaker"));
    assert_true(upstream_provider_honours(p, "lipsync-2-pro", "temperature"));
    assert_true(upstream_provider_honours(p, "lipsync-2-pro", "active_speaker"));
    assert_false(upstream_provider_honours(p, "sync-3", "temperature"));
    assert_false(upstream_provider_honours(p, "sync-3", "active_speaker"));
    assert_false(upstream_provider_honours(p, "lipsync-2", "guidance_scale"));
    assert_false(upstream_provider_honours(p, "lipsync-2", "character_orientation"));

    assert_true(p->credential_valid("sk-abc_123"));
    assert_false(p->credential_valid(""));
    assert_false(p->credential_valid(NULL));
    assert_false(p->credential_valid("has space"));
    assert_false(p->credential_valid("line\nbreak"));

    assert_null(p->build_result);
    assert_null(p->parse_result);
    assert_null(p->build_cancel);
    assert_non_null(p->build_lookup);
    assert_true(p->lookup_is_submit);
}

/* ---- submit requests ---- */

static void submit_lipsync2_with_every_option(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2",
                 "{\"model\":\"lipsync-2\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\","
                 "\"sync_mode\":\"cut_off\",\"temperature\":0.7,\"active_speaker\":true}",
                 HOOK);
    upstream_request request = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.url, "https://api.sync.so/v2/generate");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 4);
    assert_string_equal(request.headers[0], "x-api-key: " KEY);
    assert_string_equal(request.headers[1], "Idempotency-Key: " TASK_ID);
    assert_string_equal(request.headers[2], "Accept: application/json");
    assert_string_equal(request.headers[3], "Content-Type: application/json");

    json_t *body = request_body(&request);
    assert_int_equal(json_object_size(body), 5);
    assert_string_equal(string_at(body, "model"), "lipsync-2");
    const json_t *input = json_object_get(body, "input");
    assert_int_equal(json_array_size(input), 2);
    assert_int_equal(json_object_size(json_array_get(input, 0)), 2);
    assert_string_equal(string_at(json_array_get(input, 0), "type"), "video");
    assert_string_equal(string_at(json_array_get(input, 0), "url"), VIDEO);
    assert_int_equal(json_object_size(json_array_get(input, 1)), 2);
    assert_string_equal(string_at(json_array_get(input, 1), "type"), "audio");
    assert_string_equal(string_at(json_array_get(input, 1), "url"), AUDIO);
    const json_t *options = json_object_get(body, "options");
    assert_int_equal(json_object_size(options), 3);
    assert_string_equal(string_at(options, "sync_mode"), "cut_off");
    assert_true(json_is_number(json_object_get(options, "temperature")));
    assert_float_equal(json_number_value(json_object_get(options, "temperature")), 0.7, 1e-9);
    const json_t *detection = json_object_get(options, "active_speaker_detection");
    assert_int_equal(json_object_size(detection), 1);
    assert_true(json_is_true(json_object_get(detection, "auto_detect")));
    assert_string_equal(string_at(body, "webhookUrl"), HOOK);
    assert_string_equal(string_at(body, "outputFileName"), TASK_ID);
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void submit_lipsync2_pro_with_defaults(void **state)
{
    (void)state;
    fixture f;
    /* the catalog's defaults: sync_mode loop, temperature 0.5, active_speaker false; no webhook */
    fixture_init(&f, "lipsync-2-pro",
                 "{\"model\":\"lipsync-2-pro\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\","
                 "\"sync_mode\":\"loop\",\"temperature\":0.5,\"active_speaker\":false}",
                 NULL);
    upstream_request request = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.url, BASE "/v2/generate");
    assert_string_equal(request.headers[1], "Idempotency-Key: " TASK_ID);
    json_t *body = request_body(&request);
    assert_int_equal(json_object_size(body), 4);
    assert_string_equal(string_at(body, "model"), "lipsync-2-pro");
    assert_null(json_object_get(body, "webhookUrl"));
    assert_string_equal(string_at(body, "outputFileName"), TASK_ID);
    const json_t *options = json_object_get(body, "options");
    assert_int_equal(json_object_size(options), 2);
    assert_string_equal(string_at(options, "sync_mode"), "loop");
    assert_float_equal(json_number_value(json_object_get(options, "temperature")), 0.5, 1e-9);
    assert_null(json_object_get(options, "active_speaker_detection"));
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void submit_sync3_sends_no_temperature(void **state)
{
    (void)state;
    fixture f;
    /* a stray temperature must not reach sync-3 (the catalog refuses it; the adapter does not trust that) */
    fixture_init(&f, "sync-3",
                 "{\"model\":\"sync-3\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\","
                 "\"sync_mode\":\"bounce\",\"temperature\":0.9}",
                 HOOK);
    upstream_request request = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    json_t *body = request_body(&request);
    assert_string_equal(string_at(body, "model"), "sync-3");
    const json_t *options = json_object_get(body, "options");
    assert_int_equal(json_object_size(options), 1);
    assert_string_equal(string_at(options, "sync_mode"), "bounce");
    assert_null(json_object_get(options, "temperature"));
    assert_string_equal(string_at(body, "webhookUrl"), HOOK);
    assert_string_equal(string_at(json_array_get(json_object_get(body, "input"), 0), "url"), VIDEO);
    assert_string_equal(string_at(json_array_get(json_object_get(body, "input"), 1), "url"), AUDIO);
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void submit_sync_modes_pass_through(void **state)
{
    (void)state;
    const char *modes[] = {"bounce", "loop", "cut_off", "silence", "remap"};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char params[512];
        snprintf(params, sizeof(params),
                 "{\"model\":\"lipsync-2\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO
                 "\",\"sync_mode\":\"%s\"}",
                 modes[i]);
        fixture f;
        fixture_init(&f, "lipsync-2", params, NULL);
        upstream_request request = {0};
        char err[128] = "";
        assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
        json_t *body = request_body(&request);
        assert_string_equal(string_at(json_object_get(body, "options"), "sync_mode"), modes[i]);
        /* no temperature in the parameters: none in the request */
        assert_null(json_object_get(json_object_get(body, "options"), "temperature"));
        json_decref(body);
        upstream_request_clear(&request);
        fixture_done(&f);
    }
}

static void submit_refuses_what_it_cannot_send(void **state)
{
    (void)state;
    upstream_request request = {0};
    char err[128];
    fixture f;

    fixture_init(&f, "sora-2", "{\"model\":\"sora-2\",\"prompt\":\"x\"}", NULL);
    err[0] = '\0';
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sora-2"));
    upstream_request_clear(&request);
    fixture_done(&f);

    fixture_init(&f, "lipsync-2", "{\"model\":\"lipsync-2\",\"audio_url\":\"" AUDIO "\"}", NULL);
    err[0] = '\0';
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "video_url"));
    upstream_request_clear(&request);
    fixture_done(&f);

    /* a task id outside the Idempotency-Key alphabet never reaches a header */
    fixture_init(&f, "lipsync-2",
                 "{\"model\":\"lipsync-2\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", NULL);
    f.ctx.task_id = "task\r\nX-Evil: 1";
    err[0] = '\0';
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    upstream_request_clear(&request);
    f.ctx.task_id = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void lookup_is_the_same_submit_again(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2",
                 "{\"model\":\"lipsync-2\",\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\","
                 "\"sync_mode\":\"cut_off\",\"temperature\":0.3,\"active_speaker\":true}",
                 HOOK);
    upstream_request submit = {0}, lookup = {0};
    char err[128] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &submit, err, sizeof(err)), 0);
    upstream_job job;
    memset(&job, 'x', sizeof(job));
    assert_int_equal(provider()->build_lookup(&f.ctx, &lookup, &job), 0);
    assert_string_equal(lookup.method, "POST");
    assert_string_equal(lookup.url, submit.url);
    assert_int_equal(lookup.header_count, submit.header_count);
    for (int i = 0; i < submit.header_count; i++)
        assert_string_equal(lookup.headers[i], submit.headers[i]);
    assert_string_equal(lookup.headers[1], "Idempotency-Key: " TASK_ID);
    assert_int_equal(lookup.body_size, submit.body_size);
    assert_string_equal(lookup.body, submit.body);
    assert_true(lookup.carries_credential);
    assert_string_equal(job.id, "");

    /* the replay's answer is the original generation, read by parse_submit */
    upstream_response response =
        answer(200, "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"status\":\"PROCESSING\","
                    "\"model\":\"lipsync-2\",\"outputUrl\":null,\"error\":null}");
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "a47b00ce-29c1-40e8-badf-4f5b22c1e67e");

    /* a lookup that cannot be built says so */
    upstream_request_clear(&lookup);
    f.ctx.model = "sora-2";
    assert_int_equal(provider()->build_lookup(&f.ctx, &lookup, &job), -1);
    upstream_request_clear(&submit);
    upstream_request_clear(&lookup);
    fixture_done(&f);
}

/* ---- submit verdicts ---- */

static void parse_submit_accepts_the_generation(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_response response =
        answer(201, "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"createdAt\":\"2026-01-22T09:46:10."
                    "602Z\",\"status\":\"PENDING\","
                    "\"model\":\"lipsync-2\",\"input\":[{\"type\":\"video\",\"url\":\"" VIDEO
                    "\"},{\"type\":\"audio\",\"url\":\"" AUDIO "\"}],"
                    "\"options\":{\"sync_mode\":\"cut_off\"},\"segments\":null,\"webhookUrl\":\"" HOOK "\","
                    "\"outputUrl\":null,\"segmentOutputUrl\":null,\"outputDuration\":null,\"error\":null,"
                    "\"error_code\":null}");
    upstream_job job;
    memset(&job, 'x', sizeof(job));
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "a47b00ce-29c1-40e8-badf-4f5b22c1e67e");
    assert_string_equal(job.status_url, "");
    assert_string_equal(job.result_url, "");
    assert_string_equal(job.cancel_url, "");

    response = answer(200, "{\"id\":\"gen_1\",\"status\":\"PENDING\"}");
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, "gen_1");
    fixture_done(&f);
}

static void parse_submit_refusals_keep_the_providers_words(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_job job = {0};
    upstream_outcome outcome;

    /* 400 with message as an array of strings */
    upstream_response response =
        answer(400, "{\"statusCode\":400,\"errorCode\":\"generation_input_validation_failed\","
                    "\"message\":[\"input.0.url must be a URL address\",\"options.temperature must not be "
                    "greater than 1\"],"
                    "\"error\":\"Bad Request\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_code, "invalid_parameters");
    assert_non_null(strstr(outcome.error_message, "HTTP 400"));
    assert_non_null(
        strstr(outcome.error_message,
               "input.0.url must be a URL address; options.temperature must not be greater than 1"));
    assert_non_null(strstr(outcome.error_message, "generation_input_validation_failed"));

    /* 400 for a bad Idempotency-Key, message as a string */
    response = answer(400, "{\"statusCode\":400,\"errorCode\":\"INVALID_IDEMPOTENCY_KEY\",\"message\":"
                           "\"Idempotency-Key is malformed\",\"error\":\"Bad Request\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_non_null(strstr(outcome.error_message, "Idempotency-Key is malformed (INVALID_IDEMPOTENCY_KEY)"));

    /* 401 */
    response = answer(401, "{\"statusCode\":401,\"errorCode\":\"unauthorized\",\"message\":\"Invalid API "
                           "key\",\"error\":\"Unauthorized\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_code, "upstream_auth_failed");
    assert_non_null(strstr(outcome.error_message, "Invalid API key"));

    /* 402 plan limits */
    response = answer(402, "{\"statusCode\":402,\"errorCode\":\"payment_required\",\"message\":\"Upgrade "
                           "your plan\",\"error\":\"Payment Required\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_code, "upstream_error");
    assert_non_null(strstr(outcome.error_message, "Upgrade your plan"));

    /* 500 */
    response = answer(500, "{\"statusCode\":500,\"errorCode\":\"internal_error\",\"message\":\"Internal "
                           "server error\",\"error\":\"Internal Server Error\",\"requestId\":\"r-1\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_code, "upstream_error");
    assert_non_null(strstr(outcome.error_message, "HTTP 500"));
    assert_non_null(strstr(outcome.error_message, "Internal server error (internal_error)"));

    /* 503 with an HTML body: refused, no message to extract */
    response = answer(503, "<html><body>Service Unavailable</body></html>");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_message, "upstream answered HTTP 503");

    /* only "error" present */
    response = answer(404, "{\"statusCode\":404,\"error\":\"Not Found\"}");
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_non_null(strstr(outcome.error_message, "Not Found"));
    fixture_done(&f);
}

static void parse_submit_429_is_throttled_with_retry_after(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_response response = answer(
        429, "{\"statusCode\":429,\"errorCode\":\"rate_limit_exceeded\","
             "\"message\":\"Rate limit exceeded. Please try again later.\",\"error\":\"Too Many Requests\"}");
    response.retry_after = "7";
    upstream_job job = {0};
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(outcome.retry_after_ms, 7000);
    assert_non_null(
        strstr(outcome.error_message, "Rate limit exceeded. Please try again later. (rate_limit_exceeded)"));

    /* without Retry-After: throttled, no wish */
    response.retry_after = NULL;
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(outcome.retry_after_ms, 0);
    fixture_done(&f);
}

static void parse_submit_idempotency_conflict_is_ambiguous(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_response response =
        answer(409, "{\"statusCode\":409,\"errorCode\":\"IDEMPOTENCY_KEY_IN_PROGRESS\","
                    "\"message\":\"A request with this key is in progress\",\"error\":\"Conflict\"}");
    upstream_job job = {0};
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_AMBIGUOUS);
    assert_non_null(strstr(outcome.error_message, "in progress"));
    fixture_done(&f);
}

static void parse_submit_unreadable_success_is_ambiguous(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    char *huge = with_huge_string("{\"id\":\"%s\",\"status\":\"PENDING\"}");
    const char *bodies[] = {
        "not json at all",
        "",
        "[{\"id\":\"gen_1\"}]",
        "{\"status\":\"PENDING\"}",
        "{\"id\":12345,\"status\":\"PENDING\"}",
        "{\"id\":null}",
        "{\"id\":\"\"}",
        "{\"id\":\"gen/../../v2/admin\"}",
        "{\"id\":\"/..\"}",
        "{\"id\":\"gen 1\"}",
        "{\"id\":\"gen_1?x=1\"}",
        "{\"id\":\"gen_1\",\"id\":\"gen_2\"}",
        "{\"id\":\"gen_1\"",
        huge,
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_response response = answer(201, bodies[i]);
        upstream_job job;
        memset(&job, 'x', sizeof(job));
        upstream_outcome outcome = {0};
        provider()->parse_submit(&f.ctx, &response, &job, &outcome);
        if (outcome.verdict != UPSTREAM_AMBIGUOUS) fail_msg("body %zu was not ambiguous", i);
        assert_string_equal(job.id, "");
        assert_string_equal(outcome.error_code, "upstream_error");
    }
    /* no body at all */
    upstream_response response = {.status = 200, .body = NULL, .body_size = 0};
    upstream_job job = {0};
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.verdict, UPSTREAM_AMBIGUOUS);
    free(huge);
    fixture_done(&f);
}

static void parse_submit_hostile_error_bodies(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    char *huge = with_huge_string("{\"statusCode\":400,\"errorCode\":\"x\",\"message\":\"%s\"}");
    const char *bodies[] = {
        "{\"message\":42,\"errorCode\":[1],\"error\":{}}",
        "{\"message\":[1,null,{\"a\":1},\"kept\"]}",
        "{\"message\":\"line\\nbreak\\r\\u0000nul\"}",
        huge,
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_response response = answer(400, bodies[i]);
        upstream_job job = {0};
        upstream_outcome outcome = {0};
        provider()->parse_submit(&f.ctx, &response, &job, &outcome);
        assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
        assert_string_equal(outcome.error_code, "invalid_parameters");
        assert_true(strlen(outcome.error_message) < sizeof(outcome.error_message));
        for (const char *p = outcome.error_message; *p; p++)
            assert_true((unsigned char)*p >= 0x20);
    }
    upstream_response response = answer(400, bodies[1]);
    upstream_job job = {0};
    upstream_outcome outcome = {0};
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_string_equal(outcome.error_message, "upstream answered HTTP 400: kept");
    response = answer(400, huge);
    provider()->parse_submit(&f.ctx, &response, &job, &outcome);
    assert_non_null(strstr(outcome.error_message, "HTTP 400: aaaa"));
    free(huge);
    fixture_done(&f);
}

/* ---- polling ---- */

static void poll_request_is_an_authorized_get(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), "a47b00ce-29c1-40e8-badf-4f5b22c1e67e");
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://api.sync.so/v2/generate/a47b00ce-29c1-40e8-badf-4f5b22c1e67e");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 2);
    assert_string_equal(request.headers[0], "x-api-key: " KEY);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_null(request.body);
    upstream_request_clear(&request);

    const char *bad[] = {"", "gen/../x", "/..", "a b", "a?b", "a%2F"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(job.id, sizeof(job.id), "%s", bad[i]);
        assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), -1);
        upstream_request_clear(&request);
    }
    fixture_done(&f);
}

static upstream_outcome poll(fixture *f, long status, const char *body)
{
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), "a47b00ce-29c1-40e8-badf-4f5b22c1e67e");
    upstream_response response = answer(status, body);
    upstream_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    outcome.progress = 55;
    provider()->parse_poll(&f->ctx, &response, &job, &outcome);
    assert_string_equal(job.id, "a47b00ce-29c1-40e8-badf-4f5b22c1e67e");
    return outcome;
}

static void poll_statuses_in_flight(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_outcome outcome = poll(&f, 200,
                                    "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"status\":\"PENDING\","
                                    "\"outputUrl\":null,\"outputDuration\":null,\"error\":null}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(outcome.progress, -1);
    outcome = poll(
        &f, 200,
        "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"status\":\"PROCESSING\",\"outputUrl\":null}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(outcome.progress, -1);
    fixture_done(&f);
}

static void poll_completed_gives_the_media(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    /* the spec's real completed answer: outputUrl only */
    upstream_outcome outcome = poll(&f, 200,
                                    "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"createdAt\":\"2026-"
                                    "01-22T09:46:10.602Z\",\"status\":\"COMPLETED\","
                                    "\"model\":\"lipsync-2\",\"input\":[],\"segments\":null,\"webhookUrl\":"
                                    "null,\"options\":{\"sync_mode\":\"loop\"},"
                                    "\"outputUrl\":\"https://api.sync.so/v2/generations/"
                                    "a47b00ce-29c1-40e8-badf-4f5b22c1e67e/result?token=a2b1466a-1\","
                                    "\"segmentOutputUrl\":null,\"outputDuration\":9.98,\"error\":null}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(
        outcome.media_url,
        "https://api.sync.so/v2/generations/a47b00ce-29c1-40e8-badf-4f5b22c1e67e/result?token=a2b1466a-1");
    assert_float_equal(outcome.duration, 9.98, 1e-9);
    assert_int_equal(outcome.progress, -1);

    /* both names: outputMediaUrl wins */
    outcome = poll(
        &f, 200,
        "{\"id\":\"a47b00ce-29c1-40e8-badf-4f5b22c1e67e\",\"status\":\"COMPLETED\","
        "\"outputMediaUrl\":\"https://cdn.sync.so/media/out.mp4\",\"outputUrl\":\"https://api.sync.so/old\","
        "\"outputDuration\":3}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(outcome.media_url, "https://cdn.sync.so/media/out.mp4");
    assert_float_equal(outcome.duration, 3.0, 1e-9);

    /* outputMediaUrl null or not http(s): outputUrl; no duration → 0 */
    outcome = poll(
        &f, 200,
        "{\"status\":\"COMPLETED\",\"outputMediaUrl\":null,\"outputUrl\":\"http://cdn.example/out.mp4\"}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(outcome.media_url, "http://cdn.example/out.mp4");
    assert_float_equal(outcome.duration, 0.0, 0);
    outcome = poll(&f, 200,
                   "{\"status\":\"COMPLETED\",\"outputMediaUrl\":\"file:///etc/"
                   "passwd\",\"outputUrl\":\"https://cdn.example/o.mp4\","
                   "\"outputDuration\":\"9.98\"}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(outcome.media_url, "https://cdn.example/o.mp4");
    assert_float_equal(outcome.duration, 0.0, 0);
    fixture_done(&f);
}

static void poll_completed_without_usable_media_fails(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    char *huge = with_huge_string("{\"status\":\"COMPLETED\",\"outputUrl\":\"https://cdn.example/%s\"}");
    const char *bodies[] = {
        "{\"status\":\"COMPLETED\",\"outputUrl\":null}",
        "{\"status\":\"COMPLETED\"}",
        "{\"status\":\"COMPLETED\",\"outputUrl\":\"javascript:alert(1)\"}",
        "{\"status\":\"COMPLETED\",\"outputUrl\":\"ftp://cdn.example/o.mp4\"}",
        "{\"status\":\"COMPLETED\",\"outputUrl\":42,\"outputMediaUrl\":[\"https://x\"]}",
        huge,
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_outcome outcome = poll(&f, 200, bodies[i]);
        if (outcome.phase != UPSTREAM_JOB_FAILED) fail_msg("body %zu did not fail", i);
        assert_string_equal(outcome.error_code, "generation_failed");
        assert_string_equal(outcome.media_url, "");
    }
    free(huge);
    fixture_done(&f);
}

static void poll_failures_map_error_codes(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    static const struct {
        const char *body;
        const char *code;
        const char *message;
    } cases[] = {
        {"{\"status\":\"FAILED\",\"error\":\"Input validation failed: video has no "
         "frames\",\"error_code\":\"generation_input_validation_failed\"}",
         "invalid_parameters",
         "Input validation failed: video has no frames (generation_input_validation_failed)"},
        {"{\"status\":\"FAILED\",\"error\":\"No audio track "
         "found\",\"error_code\":\"generation_audio_missing\"}",
         "invalid_parameters", "No audio track found (generation_audio_missing)"},
        {"{\"status\":\"FAILED\",\"error\":\"No video stream\",\"error_code\":\"generation_video_missing\"}",
         "invalid_parameters", "No video stream (generation_video_missing)"},
        {"{\"status\":\"FAILED\",\"error\":\"Media metadata could not be "
         "read\",\"error_code\":\"generation_media_metadata_missing\"}",
         "invalid_parameters", "Media metadata could not be read (generation_media_metadata_missing)"},
        {"{\"status\":\"FAILED\",\"error\":\"Audio longer than 300 "
         "seconds\",\"error_code\":\"generation_audio_length_exceeded\"}",
         "invalid_parameters", "Audio longer than 300 seconds (generation_audio_length_exceeded)"},
        {"{\"status\":\"FAILED\",\"error\":\"Script too "
         "long\",\"error_code\":\"generation_text_length_exceeded\"}",
         "invalid_parameters", "Script too long (generation_text_length_exceeded)"},
        {"{\"status\":\"REJECTED\",\"error\":\"The input was "
         "flagged\",\"error_code\":\"generation_content_moderation\"}",
         "content_policy_violation", "The input was flagged (generation_content_moderation)"},
        {"{\"status\":\"REJECTED\",\"error\":\"Rejected by content moderation\",\"error_code\":null}",
         "content_policy_violation", "Rejected by content moderation"},
        {"{\"status\":\"FAILED\",\"error\":\"The model could not find a "
         "face\",\"error_code\":\"generation_failed\"}",
         "generation_failed", "The model could not find a face (generation_failed)"},
        {"{\"status\":\"FAILED\",\"error\":\"Unsupported "
         "model\",\"error_code\":\"generation_unsupported_model\"}",
         "generation_failed", "Unsupported model (generation_unsupported_model)"},
        {"{\"status\":\"FAILED\",\"error\":null,\"error_code\":\"generation_internal_error\"}",
         "generation_failed", "generation_internal_error"},
        {"{\"status\":\"FAILED\"}", "generation_failed", "Sync reported the generation FAILED"},
        {"{\"status\":\"REJECTED\",\"error\":{\"nested\":true},\"error_code\":7}", "generation_failed",
         "Sync reported the generation REJECTED"},
        {"{\"status\":\"CANCELED\",\"error\":null}", "generation_failed",
         "Sync reported the generation CANCELED"},
        {"{\"status\":\"TIMED_OUT\",\"error\":\"Generation timed out\"}", "generation_failed",
         "Generation timed out"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        upstream_outcome outcome = poll(&f, 200, cases[i].body);
        if (outcome.phase != UPSTREAM_JOB_FAILED) fail_msg("case %zu did not fail", i);
        if (strcmp(outcome.error_code, cases[i].code) != 0)
            fail_msg("case %zu: code %s, expected %s", i, outcome.error_code, cases[i].code);
        assert_string_equal(outcome.error_message, cases[i].message);
        assert_string_equal(outcome.media_url, "");
    }
    fixture_done(&f);
}

static void poll_hostile_or_unreadable_answers_retry(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    const char *bodies[] = {
        "<html>gateway</html>",
        "",
        "[]",
        "{}",
        "{\"status\":42}",
        "{\"status\":null}",
        "{\"status\":\"SOMETHING_NEW\"}",
        "{\"status\":\"completed\"}", /* statuses are upper-case; anything else is not understood */
        "{\"id\":\"another-generation\",\"status\":\"COMPLETED\",\"outputUrl\":\"https://cdn.example/"
        "o.mp4\"}",
        "{\"status\":\"COMPLETED\"",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_outcome outcome = poll(&f, 200, bodies[i]);
        if (outcome.phase != UPSTREAM_JOB_RETRY) fail_msg("body %zu: phase %d", i, outcome.phase);
        assert_string_equal(outcome.media_url, "");
        assert_string_equal(outcome.error_code, "upstream_error");
    }
    /* a 10 KB unknown status and a 10 KB error text stay bounded */
    char *huge_status = with_huge_string("{\"status\":\"%s\"}");
    upstream_outcome outcome = poll(&f, 200, huge_status);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);
    assert_true(strlen(outcome.error_message) < sizeof(outcome.error_message));
    free(huge_status);
    char *huge_error =
        with_huge_string("{\"status\":\"FAILED\",\"error\":\"%s\",\"error_code\":\"generation_failed\"}");
    outcome = poll(&f, 200, huge_error);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(outcome.error_code, "generation_failed");
    assert_int_equal(strlen(outcome.error_message), sizeof(outcome.error_message) - 1);
    assert_int_equal(outcome.error_message[0], 'a');
    free(huge_error);
    fixture_done(&f);
}

static void poll_http_trouble(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_outcome outcome = poll(&f, 404,
                                    "{\"statusCode\":404,\"errorCode\":\"not_found\",\"message\":"
                                    "\"Generation not found\",\"error\":\"Not Found\"}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_LOST);
    outcome = poll(&f, 500, "{\"statusCode\":500,\"errorCode\":\"internal_error\",\"message\":\"oops\"}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);
    assert_non_null(strstr(outcome.error_message, "HTTP 500"));
    outcome = poll(&f, 401, "{\"statusCode\":401}");
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);

    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), "gen_1");
    upstream_response response = answer(429, "{\"statusCode\":429,\"errorCode\":\"rate_limit_exceeded\"}");
    response.retry_after = "2";
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_poll(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(outcome.retry_after_ms, 2000);
    fixture_done(&f);
}

/* ---- download ---- */

static void download_carries_no_credential(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), "gen_1");
    upstream_outcome done = {0};
    done.phase = UPSTREAM_JOB_SUCCEEDED;
    snprintf(done.media_url, sizeof(done.media_url),
             "https://api.sync.so/v2/generations/gen_1/result?token=abc");
    upstream_request request = {0};
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://api.sync.so/v2/generations/gen_1/result?token=abc");
    assert_false(request.carries_credential);
    assert_int_equal(request.header_count, 0);
    assert_null(request.body);
    upstream_request_clear(&request);

    done.media_url[0] = '\0';
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- webhooks ---- */

#define SIGNING_SECRET "sync-signing-secret"

/* Sync-Signature: t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<t>." body)>. */
static void sync_signature(const char *secret, long long timestamp, const char *body, char *out,
                           size_t out_size)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%lld.", timestamp);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state hmac;
    crypto_auth_hmacsha256_init(&hmac, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&hmac, (const unsigned char *)prefix, strlen(prefix));
    crypto_auth_hmacsha256_update(&hmac, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&hmac, mac);
    char hex[2 * sizeof(mac) + 1];
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    snprintf(out, out_size, "t=%lld,v1=%s", timestamp, hex);
}

static void webhooks_are_signed_with_the_channel_secret(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    static const char body[] = "{\"id\":\"gen-1\",\"status\":\"COMPLETED\"}";
    char good[128], other_secret[128], stale[128];
    sync_signature(SIGNING_SECRET, NOW, body, good, sizeof(good));
    sync_signature("another-secret", NOW, body, other_secret, sizeof(other_secret));
    sync_signature(SIGNING_SECRET, NOW - WEBHOOK_TOLERANCE_SECONDS - 1, body, stale, sizeof(stale));
    const char *reason;
    webhook_fixture w;

    webhook_init(&w, body, SIGNING_SECRET, NULL);
    webhook_header(&w, "sync-signature", good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_VERIFIED);
    /* no secret on the channel: nothing to check against */
    webhook_init(&w, body, NULL, NULL);
    webhook_header(&w, "sync-signature", good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "no webhook secret set");
    /* bad signatures: another secret, a changed body, a replay, none */
    const char *const forged[] = {other_secret, stale, ""};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        webhook_init(&w, body, SIGNING_SECRET, NULL);
        webhook_header(&w, "sync-signature", forged[i]);
        assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
        assert_string_equal(reason, "bad signature");
    }
    webhook_init(&w, "{\"id\":\"gen-1\",\"status\":\"FAILED\"}", SIGNING_SECRET, NULL);
    webhook_header(&w, "sync-signature", good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
}

static void webhook_entry_and_job_id(void **state)
{
    (void)state;
    assert_webhook_entry(false, true, NULL); /* asked for only when the channel can verify them */
    assert_webhook_job_id("{\"id\":\"gen-1\",\"status\":\"COMPLETED\"}", "gen-1");
    assert_webhook_job_id("{\"request_id\":\"gen-1\"}", "");
    assert_webhook_job_id("not json", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_models_options_and_credential),
        cmocka_unit_test(submit_lipsync2_with_every_option),
        cmocka_unit_test(submit_lipsync2_pro_with_defaults),
        cmocka_unit_test(submit_sync3_sends_no_temperature),
        cmocka_unit_test(submit_sync_modes_pass_through),
        cmocka_unit_test(submit_refuses_what_it_cannot_send),
        cmocka_unit_test(lookup_is_the_same_submit_again),
        cmocka_unit_test(parse_submit_accepts_the_generation),
        cmocka_unit_test(parse_submit_refusals_keep_the_providers_words),
        cmocka_unit_test(parse_submit_429_is_throttled_with_retry_after),
        cmocka_unit_test(parse_submit_idempotency_conflict_is_ambiguous),
        cmocka_unit_test(parse_submit_unreadable_success_is_ambiguous),
        cmocka_unit_test(parse_submit_hostile_error_bodies),
        cmocka_unit_test(poll_request_is_an_authorized_get),
        cmocka_unit_test(poll_statuses_in_flight),
        cmocka_unit_test(poll_completed_gives_the_media),
        cmocka_unit_test(poll_completed_without_usable_media_fails),
        cmocka_unit_test(poll_failures_map_error_codes),
        cmocka_unit_test(poll_hostile_or_unreadable_answers_retry),
        cmocka_unit_test(poll_http_trouble),
        cmocka_unit_test(download_carries_no_credential),
        cmocka_unit_test(webhooks_are_signed_with_the_channel_secret),
        cmocka_unit_test(webhook_entry_and_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

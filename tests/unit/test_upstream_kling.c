/* test_upstream_kling.c — the Kling (legacy v1) motion-control adapter on fixture JSON shaped as
 * specs/upstream-apis.md §3: the JWT (the spec's example token) and its renewal, the submit request for
 * both models and every option, submit verdicts by business code, every poll status, failure codes,
 * hostile bodies, the lookup by external_task_id and the download request. */

#include <sodium.h>

#define PROVIDER "kling"
#define BASE "https://api-singapore.klingai.com"
#define CREDENTIAL "AK_TEST:SK_TEST"
#define IMAGE "https://p2-kling.klingai.com/kcdn/multi-3.ng.png"
#define VIDEO "https://p2-kling.klingai.com/kcdn/dance.mp4"
#define HOOK "https://gateway.example/hooks/kling"
#define KLING_ID "868582325562023965"

#include "upstream_fixture.h"

/* specs/upstream-apis.md §3.1: AK_TEST / SK_TEST, exp 1700001800, nbf 1699999995 */
#define SPEC_TOKEN                                                                                           \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                                  \
    "eyJpc3MiOiJBS19URVNUIiwiZXhwIjoxNzAwMDAxODAwLCJuYmYiOjE2OTk5OTk5OTV9."                                  \
    "6L4y5-2k74trk6jmaKXDAvqPATo_9aKYSk-HhIQYesk"
/* The same keys at now = 1700001500 (exp 1700003300, nbf 1700001495), computed independently. */
#define RENEWED_TOKEN                                                                                        \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                                  \
    "eyJpc3MiOiJBS19URVNUIiwiZXhwIjoxNzAwMDAzMzAwLCJuYmYiOjE3MDAwMDE0OTV9."                                  \
    "vpbTmOez4s8Sl-Y4khX33IWsd5Ft0K4M24_hyVmsj3Q"
/* AK_OTHER / SK_TEST at now = 1700000100. */
#define OTHER_AK_TOKEN                                                                                       \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                                  \
    "eyJpc3MiOiJBS19PVEhFUiIsImV4cCI6MTcwMDAwMTkwMCwibmJmIjoxNzAwMDAwMDk1fQ."                                \
    "mTmR79bOwMZQk10X6wMqhjNpyyWhk-kbb7vqhaqMwPY"
/* AK_TEST / SK_NEW at now = 1700000100. */
#define OTHER_SK_TOKEN                                                                                       \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                                  \
    "eyJpc3MiOiJBS19URVNUIiwiZXhwIjoxNzAwMDAxOTAwLCJuYmYiOjE3MDAwMDAwOTV9."                                  \
    "cLb1qIrsCHMgw6-AnCYpj15xgtI7KKROKiDU_o2qPAQ"

#define V2_PARAMS                                                                                            \
    "{\"model\":\"kling-v2-6-motion-control\",\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\"}"

/* The bearer token of a poll request built now (through the channel's cache). */
static void token_now(fixture *f, char *out, size_t out_size)
{
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f->ctx, &job, &request), 0);
    const char *prefix = "Authorization: Bearer ";
    assert_memory_equal(request.headers[0], prefix, strlen(prefix));
    size_t length = strlen(request.headers[0] + strlen(prefix));
    assert_true(length < out_size);
    memcpy(out, request.headers[0] + strlen(prefix), length + 1);
    upstream_request_clear(&request);
}

/* ---- the provider table ---- */

static void table_lists_models_options_and_credential(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    assert_string_equal(p->name, "kling");
    assert_string_equal(p->default_base_url, "https://api-singapore.klingai.com");
    assert_string_equal(p->credential_form, "ACCESS_KEY:SECRET_KEY");
    assert_true(upstream_provider_serves(p, "kling-v3-motion-control"));
    assert_true(upstream_provider_serves(p, "kling-v2-6-motion-control"));
    assert_false(upstream_provider_serves(p, "lipsync-2"));
    assert_false(upstream_provider_serves(p, "sora-2"));

    assert_true(upstream_provider_honours(p, "kling-v3-motion-control", "character_orientation"));
    assert_true(upstream_provider_honours(p, "kling-v3-motion-control", "keep_original_sound"));
    assert_true(upstream_provider_honours(p, "kling-v2-6-motion-control", "character_orientation"));
    assert_true(upstream_provider_honours(p, "kling-v2-6-motion-control", "keep_original_sound"));
    assert_false(upstream_provider_honours(p, "kling-v3-motion-control", "temperature"));
    assert_false(upstream_provider_honours(p, "kling-v3-motion-control", "character_ids"));
    assert_false(upstream_provider_honours(p, "lipsync-2", "character_orientation"));

    assert_true(p->credential_valid("AK_TEST:SK_TEST"));
    assert_true(p->credential_valid("a:b:c")); /* the secret may hold a colon */
    assert_false(p->credential_valid("AK_TEST"));
    assert_false(p->credential_valid(":SK"));
    assert_false(p->credential_valid("AK:"));
    assert_false(p->credential_valid(""));
    assert_false(p->credential_valid(NULL));
    assert_false(p->credential_valid("AK TEST:SK"));
    assert_false(p->credential_valid("A\"K:SK")); /* would break the token's JSON */
    char long_key[200];
    memset(long_key, 'A', 150);
    snprintf(long_key + 150, sizeof(long_key) - 150, ":SK");
    assert_false(p->credential_valid(long_key));

    assert_null(p->build_result);
    assert_null(p->parse_result);
    assert_null(p->build_cancel);
    assert_non_null(p->build_lookup);
    assert_false(p->lookup_is_submit);
}

/* ---- the token ---- */

static void token_is_the_specs_example(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.headers[0], "Authorization: Bearer " SPEC_TOKEN);
    assert_string_equal(f.auth.token, SPEC_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700001800);
    upstream_request_clear(&request);

    /* the payload is compact JSON with iss, exp, nbf in that order */
    const char *payload_b64 = strchr(SPEC_TOKEN, '.') + 1;
    size_t payload_len = (size_t)(strchr(payload_b64, '.') - payload_b64);
    unsigned char payload[128];
    size_t decoded = 0;
    assert_int_equal(sodium_base642bin(payload, sizeof(payload), payload_b64, payload_len, NULL, &decoded,
                                       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(decoded, strlen("{\"iss\":\"AK_TEST\",\"exp\":1700001800,\"nbf\":1699999995}"));
    assert_memory_equal(payload, "{\"iss\":\"AK_TEST\",\"exp\":1700001800,\"nbf\":1699999995}", decoded);
    fixture_done(&f);
}

static void token_is_reused_until_300_seconds_before_expiry(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    char token[600];
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);

    /* later requests within the window reuse it as is */
    f.ctx.now = NOW + 60;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);
    f.ctx.now = 1700001800 - 300 - 1; /* the last second before the renewal margin */
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700001800);

    /* 300 s before expiry: a new token, exp = now + 1800, nbf = now - 5 */
    f.ctx.now = 1700001800 - 300;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, RENEWED_TOKEN);
    assert_string_equal(f.auth.token, RENEWED_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700003300);

    /* and that one is reused in its turn */
    f.ctx.now = 1700001500 + 1000;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, RENEWED_TOKEN);

    /* long after expiry: renewed again */
    f.ctx.now = 1700010000;
    token_now(&f, token, sizeof(token));
    assert_string_not_equal(token, RENEWED_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700011800);
    fixture_done(&f);
}

static void token_follows_a_changed_credential(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    char token[600];
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);

    /* a new access key: a new token at once, though the cached one has not expired */
    f.ctx.now = NOW + 100;
    f.ctx.credential = "AK_OTHER:SK_TEST";
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, OTHER_AK_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700001900);

    /* back to the first pair, then a new secret key with the same access key */
    f.ctx.credential = CREDENTIAL;
    token_now(&f, token, sizeof(token));
    assert_string_not_equal(token, OTHER_AK_TOKEN);
    f.ctx.credential = "AK_TEST:SK_NEW";
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, OTHER_SK_TOKEN);
    fixture_done(&f);
}

static void token_cache_that_cannot_be_trusted_is_replaced(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    char token[600];

    /* garbage under a live expiry */
    snprintf(f.auth.token, sizeof(f.auth.token), "not-a-token");
    f.auth.expires_at = NOW + 1000;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);
    assert_int_equal(f.auth.expires_at, 1700001800);

    /* a token from the future (the clock went back): its nbf would be refused, so a new one */
    fixture_done(&f);
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    f.ctx.now = 1700001500;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, RENEWED_TOKEN);
    f.ctx.now = NOW;
    token_now(&f, token, sizeof(token));
    assert_string_equal(token, SPEC_TOKEN);
    fixture_done(&f);
}

static void requests_fail_without_a_usable_credential(void **state)
{
    (void)state;
    const char *bad[] = {"no-colon", "", ":secret", "A\"K:secret", "A\\K:secret"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fixture f;
        fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
        f.ctx.credential = bad[i];
        upstream_request request = {0};
        char err[160] = "";
        assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "ACCESS_KEY:SECRET_KEY"));
        upstream_request_clear(&request);
        upstream_job job = {0};
        snprintf(job.id, sizeof(job.id), KLING_ID);
        assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), -1);
        upstream_request_clear(&request);
        fixture_done(&f);
    }
}

/* ---- submit requests ---- */

static void submit_v3_with_every_option(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control",
                 "{\"model\":\"kling-v3-motion-control\",\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO
                 "\","
                 "\"mode\":\"pro\",\"prompt\":\"The girl is wearing a loose gray T-shirt and denim shorts\","
                 "\"character_orientation\":\"video\",\"keep_original_sound\":\"no\"}",
                 HOOK);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.url, "https://api-singapore.klingai.com/v1/videos/motion-control");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 3);
    assert_string_equal(request.headers[0], "Authorization: Bearer " SPEC_TOKEN);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_string_equal(request.headers[2], "Content-Type: application/json");

    json_t *body = request_body(&request);
    assert_int_equal(json_object_size(body), 9);
    assert_string_equal(string_at(body, "model_name"), "kling-v3");
    assert_string_equal(string_at(body, "image_url"), IMAGE);
    assert_string_equal(string_at(body, "video_url"), VIDEO);
    assert_string_equal(string_at(body, "prompt"),
                        "The girl is wearing a loose gray T-shirt and denim shorts");
    assert_string_equal(string_at(body, "character_orientation"), "video");
    assert_string_equal(string_at(body, "mode"), "pro");
    assert_string_equal(string_at(body, "keep_original_sound"), "no"); /* a string, not a boolean */
    assert_string_equal(string_at(body, "callback_url"), HOOK);
    assert_string_equal(string_at(body, "external_task_id"), TASK_ID);
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void submit_v2_6_with_defaults(void **state)
{
    (void)state;
    fixture f;
    /* the catalog's defaults filled in; no prompt, no webhook */
    fixture_init(&f, "kling-v2-6-motion-control",
                 "{\"model\":\"kling-v2-6-motion-control\",\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO
                 "\","
                 "\"mode\":\"std\",\"character_orientation\":\"image\",\"keep_original_sound\":\"yes\"}",
                 NULL);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    json_t *body = request_body(&request);
    assert_int_equal(json_object_size(body), 7);
    assert_string_equal(string_at(body, "model_name"), "kling-v2-6");
    assert_string_equal(string_at(body, "image_url"), IMAGE);
    assert_string_equal(string_at(body, "video_url"), VIDEO);
    assert_null(json_object_get(body, "prompt"));
    assert_string_equal(string_at(body, "character_orientation"), "image");
    assert_string_equal(string_at(body, "mode"), "std");
    assert_string_equal(string_at(body, "keep_original_sound"), "yes");
    assert_null(json_object_get(body, "callback_url"));
    assert_string_equal(string_at(body, "external_task_id"), TASK_ID);
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);

    /* absent options take the documented defaults; an empty prompt is not sent */
    fixture_init(&f, "kling-v2-6-motion-control",
                 "{\"model\":\"kling-v2-6-motion-control\",\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO
                 "\","
                 "\"prompt\":\"\"}",
                 NULL);
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    body = request_body(&request);
    assert_int_equal(json_object_size(body), 7);
    assert_null(json_object_get(body, "prompt"));
    assert_string_equal(string_at(body, "character_orientation"), "image");
    assert_string_equal(string_at(body, "mode"), "std");
    assert_string_equal(string_at(body, "keep_original_sound"), "yes");
    json_decref(body);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void submit_option_values_map_one_to_one(void **state)
{
    (void)state;
    static const struct {
        const char *orientation, *mode, *sound;
    } cases[] = {
        {"image", "pro", "no"}, {"video", "std", "yes"}, {"video", "pro", "yes"}, {"image", "std", "no"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char params[512];
        snprintf(params, sizeof(params),
                 "{\"model\":\"kling-v3-motion-control\",\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO
                 "\","
                 "\"character_orientation\":\"%s\",\"mode\":\"%s\",\"keep_original_sound\":\"%s\"}",
                 cases[i].orientation, cases[i].mode, cases[i].sound);
        fixture f;
        fixture_init(&f, "kling-v3-motion-control", params, NULL);
        upstream_request request = {0};
        char err[160] = "";
        assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
        json_t *body = request_body(&request);
        assert_string_equal(string_at(body, "model_name"), "kling-v3");
        assert_string_equal(string_at(body, "character_orientation"), cases[i].orientation);
        assert_string_equal(string_at(body, "mode"), cases[i].mode);
        assert_string_equal(string_at(body, "keep_original_sound"), cases[i].sound);
        json_decref(body);
        upstream_request_clear(&request);
        fixture_done(&f);
    }
}

static void submit_refuses_what_it_cannot_send(void **state)
{
    (void)state;
    static const struct {
        const char *model, *params, *needle;
    } cases[] = {
        {"lipsync-2", "{\"model\":\"lipsync-2\"}", "lipsync-2"},
        {"kling-v3-motion-control", "{\"video_url\":\"" VIDEO "\"}", "image_url"},
        {"kling-v3-motion-control", "{\"image_url\":\"" IMAGE "\"}", "video_url"},
        {"kling-v3-motion-control",
         "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\",\"mode\":\"turbo\"}", "mode"},
        {"kling-v3-motion-control",
         "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\",\"keep_original_sound\":\"maybe\"}",
         "keep_original_sound"},
        {"kling-v3-motion-control",
         "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\",\"character_orientation\":\"side\"}",
         "character_orientation"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture f;
        fixture_init(&f, cases[i].model, cases[i].params, NULL);
        upstream_request request = {0};
        char err[160] = "";
        assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
        if (strstr(err, cases[i].needle) == NULL)
            fail_msg("case %zu: '%s' lacks %s", i, err, cases[i].needle);
        upstream_request_clear(&request);
        fixture_done(&f);
    }
    /* a task id that could not be an external_task_id */
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    f.ctx.task_id = "task/../x";
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- submit verdicts ---- */

static upstream_outcome submit_answer(fixture *f, long status, const char *body, const char *retry_after,
                                      upstream_job *job)
{
    upstream_response response = answer(status, body);
    response.retry_after = retry_after;
    upstream_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    provider()->parse_submit(&f->ctx, &response, job, &outcome);
    return outcome;
}

static void parse_submit_accepts_the_task(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    upstream_job job;
    memset(&job, 'x', sizeof(job));
    upstream_outcome outcome = submit_answer(
        &f, 200,
        "{\"code\":0,\"message\":\"SUCCEED\",\"request_id\":\"5c3a-77\","
        "\"data\":{\"task_id\":\"" KLING_ID "\",\"task_info\":{\"external_task_id\":\"" TASK_ID "\"},"
        "\"task_status\":\"submitted\",\"created_at\":1722769557708,\"updated_at\":1722769557708}}",
        NULL, &job);
    assert_int_equal(outcome.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, KLING_ID);
    assert_string_equal(job.status_url, "");
    assert_string_equal(job.result_url, "");
    assert_string_equal(job.cancel_url, "");
    fixture_done(&f);
}

static void parse_submit_reads_business_codes(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    static const struct {
        long status;
        const char *body;
        upstream_submit_verdict verdict;
        const char *code;
        const char *words;
    } cases[] = {
        /* rate and concurrency: wait */
        {429, "{\"code\":1302,\"message\":\"request rate too high\",\"request_id\":\"r\"}",
         UPSTREAM_THROTTLED, "upstream_error", "code 1302: request rate too high"},
        {429, "{\"code\":1303,\"message\":\"parallel task over resource pack limit\",\"request_id\":\"r\"}",
         UPSTREAM_THROTTLED, "upstream_error", "code 1303: parallel task over resource pack limit"},
        {200, "{\"code\":1303,\"message\":\"parallel task over resource pack limit\"}", UPSTREAM_THROTTLED,
         "upstream_error", "parallel task over resource pack limit"},
        /* account trouble behind a 429: another channel may take the task */
        {429, "{\"code\":1100,\"message\":\"account abnormal\"}", UPSTREAM_REFUSED, "upstream_error",
         "code 1100: account abnormal"},
        {429, "{\"code\":1101,\"message\":\"account in arrears\"}", UPSTREAM_REFUSED, "upstream_error",
         "code 1101"},
        {429, "{\"code\":1102,\"message\":\"resource pack exhausted\"}", UPSTREAM_REFUSED, "upstream_error",
         "resource pack exhausted"},
        {429, "{\"code\":1304,\"message\":\"IP whitelist policy\"}", UPSTREAM_REFUSED, "upstream_error",
         "IP whitelist"},
        /* the content and the parameters */
        {400, "{\"code\":1300,\"message\":\"platform policy triggered\"}", UPSTREAM_REFUSED,
         "content_policy_violation", "code 1300: platform policy triggered"},
        {400, "{\"code\":1301,\"message\":\"content-safety policy triggered\"}", UPSTREAM_REFUSED,
         "content_policy_violation", "content-safety policy triggered"},
        {400, "{\"code\":1200,\"message\":\"invalid request parameters\"}", UPSTREAM_REFUSED,
         "invalid_parameters", "code 1200: invalid request parameters"},
        {400, "{\"code\":1201,\"message\":\"video_url: duration must be at most 10s\"}", UPSTREAM_REFUSED,
         "invalid_parameters", "video_url: duration must be at most 10s"},
        {200, "{\"code\":1201,\"message\":\"image_url invalid\"}", UPSTREAM_REFUSED, "invalid_parameters",
         "image_url invalid"},
        /* auth, method, server */
        {401, "{\"code\":1004,\"message\":\"token expired\"}", UPSTREAM_REFUSED, "upstream_auth_failed",
         "code 1004: token expired"},
        {403, "{\"code\":1103,\"message\":\"no permission\"}", UPSTREAM_REFUSED, "upstream_auth_failed",
         "no permission"},
        {404, "{\"code\":1203,\"message\":\"model not found\"}", UPSTREAM_REFUSED, "upstream_error",
         "model not found"},
        {500, "{\"code\":5000,\"message\":\"internal error\"}", UPSTREAM_REFUSED, "upstream_error",
         "HTTP 500: code 5000: internal error"},
        {503, "{\"code\":5001,\"message\":\"maintenance\"}", UPSTREAM_REFUSED, "upstream_error",
         "maintenance"},
        /* no readable code: the HTTP status decides */
        {429, "Too Many Requests", UPSTREAM_THROTTLED, "upstream_error", "HTTP 429"},
        {502, "<html>bad gateway</html>", UPSTREAM_REFUSED, "upstream_error", "HTTP 502"},
        {400, "{\"message\":\"bad\"}", UPSTREAM_REFUSED, "invalid_parameters", "HTTP 400: bad"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        upstream_job job = {0};
        upstream_outcome outcome = submit_answer(&f, cases[i].status, cases[i].body, NULL, &job);
        if (outcome.verdict != cases[i].verdict) fail_msg("case %zu: verdict %d", i, outcome.verdict);
        if (strcmp(outcome.error_code, cases[i].code) != 0)
            fail_msg("case %zu: code %s", i, outcome.error_code);
        if (strstr(outcome.error_message, cases[i].words) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, outcome.error_message, cases[i].words);
    }
    fixture_done(&f);
}

static void parse_submit_throttled_honours_retry_after(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    upstream_job job = {0};
    upstream_outcome outcome = submit_answer(
        &f, 429, "{\"code\":1303,\"message\":\"parallel task over resource pack limit\"}", "5", &job);
    assert_int_equal(outcome.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(outcome.retry_after_ms, 5000);
    outcome = submit_answer(&f, 429, "{\"code\":1102,\"message\":\"resource pack exhausted\"}", "5", &job);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    outcome = submit_answer(&f, 429, NULL, "3", &job);
    assert_int_equal(outcome.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(outcome.retry_after_ms, 3000);
    fixture_done(&f);
}

static void parse_submit_unreadable_success_is_ambiguous(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    char *huge = with_huge_string("{\"code\":0,\"data\":{\"task_id\":\"%s\"}}");
    const char *bodies[] = {
        "{\"code\":0,\"message\":\"SUCCEED\",\"data\":{\"task_id\":\"868582",
        "not json",
        "",
        "[]",
        "{}",
        "{\"code\":\"0\",\"data\":{\"task_id\":\"" KLING_ID "\"}}",
        "{\"code\":0}",
        "{\"code\":0,\"data\":null}",
        "{\"code\":0,\"data\":{}}",
        "{\"code\":0,\"data\":{\"task_id\":868582325562023965}}",
        "{\"code\":0,\"data\":{\"task_id\":\"\"}}",
        "{\"code\":0,\"data\":{\"task_id\":\"868/../../v1/account\"}}",
        "{\"code\":0,\"data\":{\"task_id\":\"/..\"}}",
        "{\"code\":0,\"data\":{\"task_id\":\"86 85\"}}",
        huge,
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        upstream_job job;
        memset(&job, 'x', sizeof(job));
        upstream_outcome outcome = submit_answer(&f, 200, bodies[i], NULL, &job);
        if (outcome.verdict != UPSTREAM_AMBIGUOUS) fail_msg("body %zu: verdict %d", i, outcome.verdict);
        assert_string_equal(job.id, "");
    }
    free(huge);
    fixture_done(&f);
}

static void parse_submit_hostile_error_bodies(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v2-6-motion-control", V2_PARAMS, NULL);
    char *huge = with_huge_string("{\"code\":1201,\"message\":\"%s\"}");
    upstream_job job = {0};
    upstream_outcome outcome = submit_answer(&f, 400, huge, NULL, &job);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_code, "invalid_parameters");
    assert_true(strlen(outcome.error_message) < sizeof(outcome.error_message));
    assert_non_null(strstr(outcome.error_message, "code 1201: aaaa"));
    outcome = submit_answer(&f, 400, "{\"code\":1.5e300,\"message\":[\"x\"]}", NULL, &job);
    assert_int_equal(outcome.verdict, UPSTREAM_REFUSED);
    assert_string_equal(outcome.error_message, "upstream answered HTTP 400");
    outcome = submit_answer(&f, 400, "{\"code\":1301,\"message\":\"bad\\nline\"}", NULL, &job);
    assert_string_equal(outcome.error_code, "content_policy_violation");
    assert_null(strchr(outcome.error_message, '\n'));
    free(huge);
    fixture_done(&f);
}

/* ---- polling ---- */

static void poll_request_is_an_authorized_get(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://api-singapore.klingai.com/v1/videos/motion-control/" KLING_ID);
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 2);
    assert_string_equal(request.headers[0], "Authorization: Bearer " SPEC_TOKEN);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_null(request.body);
    upstream_request_clear(&request);

    const char *bad[] = {"", "868/../x", "/..", "86 85", "86?x=1", "86%2F"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(job.id, sizeof(job.id), "%s", bad[i]);
        assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), -1);
        upstream_request_clear(&request);
    }
    fixture_done(&f);
}

static upstream_outcome poll(fixture *f, long status, const char *body, upstream_job *job)
{
    upstream_response response = answer(status, body);
    upstream_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    outcome.progress = 42;
    provider()->parse_poll(&f->ctx, &response, job, &outcome);
    return outcome;
}

#define TASK_ENVELOPE(data) "{\"code\":0,\"message\":\"SUCCEED\",\"request_id\":\"r-1\",\"data\":" data "}"

static void poll_statuses(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);

    upstream_outcome outcome =
        poll(&f, 200,
             TASK_ENVELOPE("{\"task_id\":\"" KLING_ID "\",\"task_status\":\"submitted\","
                           "\"task_info\":{\"external_task_id\":\"" TASK_ID "\"},"
                           "\"created_at\":1722769557708,\"updated_at\":1722769557708}"),
             &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(outcome.progress, -1);
    outcome =
        poll(&f, 200, TASK_ENVELOPE("{\"task_id\":\"" KLING_ID "\",\"task_status\":\"processing\"}"), &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(outcome.progress, -1);

    outcome =
        poll(&f, 200,
             TASK_ENVELOPE(
                 "{\"task_id\":\"" KLING_ID "\",\"task_status\":\"succeed\",\"task_status_msg\":\"\","
                 "\"task_info\":{\"external_task_id\":\"" TASK_ID "\"},"
                 "\"task_result\":{\"videos\":[{\"id\":\"video-001\",\"url\":\"https://cdn.klingai.com/"
                 "video-001.mp4\","
                 "\"watermark_url\":\"https://cdn.klingai.com/video-001-wm.mp4\",\"duration\":\"9.066\"}]},"
                 "\"watermark_info\":{\"enabled\":false},\"final_unit_deduction\":\"4.5\","
                 "\"created_at\":1722769557708,\"updated_at\":1722769560000}"),
             &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(outcome.media_url, "https://cdn.klingai.com/video-001.mp4");
    assert_float_equal(outcome.duration, 9.066, 1e-9);
    assert_int_equal(outcome.progress, -1);
    assert_string_equal(job.id, KLING_ID);

    /* an unreadable duration is no duration */
    outcome = poll(
        &f, 200,
        TASK_ENVELOPE(
            "{\"task_status\":\"succeed\",\"task_result\":{\"videos\":[{\"url\":\"http://cdn.example/v.mp4\","
            "\"duration\":\"soon\"}]}}"),
        &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(outcome.media_url, "http://cdn.example/v.mp4");
    assert_float_equal(outcome.duration, 0.0, 0);
    outcome = poll(&f, 200,
                   TASK_ENVELOPE("{\"task_status\":\"succeed\",\"task_result\":{\"videos\":[{\"url\":\"https:"
                                 "//cdn.example/v.mp4\","
                                 "\"duration\":\"nan\"}]}}"),
                   &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_float_equal(outcome.duration, 0.0, 0);
    /* the task_id missing from the answer leaves the job as it was */
    assert_string_equal(job.id, KLING_ID);
    fixture_done(&f);
}

static void poll_failures_map_error_codes(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    static const struct {
        const char *body;
        const char *code;
        const char *message;
    } cases[] = {
        {TASK_ENVELOPE("{\"task_id\":\"" KLING_ID "\",\"task_status\":\"failed\",\"task_status_msg\":"
                       "\"Failure to pass the risk control system\"}"),
         "content_policy_violation", "Failure to pass the risk control system"},
        {TASK_ENVELOPE(
             "{\"task_status\":\"failed\",\"task_status_msg\":\"The content violates the platform policy\"}"),
         "content_policy_violation", "The content violates the platform policy"},
        {TASK_ENVELOPE(
             "{\"task_status\":\"failed\",\"task_status_msg\":\"Sensitive content detected in image\"}"),
         "content_policy_violation", "Sensitive content detected in image"},
        {TASK_ENVELOPE(
             "{\"task_status\":\"failed\",\"task_status_msg\":\"video generation error, please retry\"}"),
         "generation_failed", "video generation error, please retry"},
        {TASK_ENVELOPE("{\"task_status\":\"failed\",\"task_status_msg\":\"\"}"), "generation_failed",
         "Kling reported the task failed"},
        {TASK_ENVELOPE("{\"task_status\":\"failed\"}"), "generation_failed",
         "Kling reported the task failed"},
        {TASK_ENVELOPE("{\"task_status\":\"failed\",\"task_status_msg\":{\"x\":1}}"), "generation_failed",
         "Kling reported the task failed"},
        /* success without a usable video */
        {TASK_ENVELOPE("{\"task_status\":\"succeed\"}"), "generation_failed",
         "Kling reported the task succeed without a video URL"},
        {TASK_ENVELOPE("{\"task_status\":\"succeed\",\"task_result\":{\"videos\":[]}}"), "generation_failed",
         "Kling reported the task succeed without a video URL"},
        {TASK_ENVELOPE(
             "{\"task_status\":\"succeed\",\"task_result\":{\"videos\":{\"url\":\"https://x/v.mp4\"}}}"),
         "generation_failed", "Kling reported the task succeed without a video URL"},
        {TASK_ENVELOPE("{\"task_status\":\"succeed\",\"task_result\":{\"videos\":[{\"url\":\"javascript:"
                       "alert(1)\"}]}}"),
         "generation_failed", "Kling reported the task succeed without a video URL"},
        {TASK_ENVELOPE("{\"task_status\":\"succeed\",\"task_result\":{\"videos\":[{\"url\":42}]}}"),
         "generation_failed", "Kling reported the task succeed without a video URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        upstream_job job = {0};
        snprintf(job.id, sizeof(job.id), KLING_ID);
        upstream_outcome outcome = poll(&f, 200, cases[i].body, &job);
        if (outcome.phase != UPSTREAM_JOB_FAILED) fail_msg("case %zu: phase %d", i, outcome.phase);
        if (strcmp(outcome.error_code, cases[i].code) != 0)
            fail_msg("case %zu: code %s", i, outcome.error_code);
        assert_string_equal(outcome.error_message, cases[i].message);
        assert_string_equal(outcome.media_url, "");
    }
    /* a 10 KB reason is kept, truncated */
    char *huge = with_huge_string(TASK_ENVELOPE("{\"task_status\":\"failed\",\"task_status_msg\":\"%s\"}"));
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);
    upstream_outcome outcome = poll(&f, 200, huge, &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(outcome.error_code, "generation_failed");
    assert_int_equal(strlen(outcome.error_message), sizeof(outcome.error_message) - 1);
    free(huge);
    fixture_done(&f);
}

static void poll_envelope_errors_and_http_trouble(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    static const struct {
        long status;
        const char *body;
        upstream_job_phase phase;
    } cases[] = {
        /* business errors under HTTP 200 */
        {200, "{\"code\":1203,\"message\":\"resource not found\",\"request_id\":\"r\"}", UPSTREAM_JOB_LOST},
        {200, "{\"code\":1201,\"message\":\"task not found\"}", UPSTREAM_JOB_LOST},
        {200, "{\"code\":5000,\"message\":\"internal error\"}", UPSTREAM_JOB_RETRY},
        {200, "{\"code\":1302,\"message\":\"request rate too high\"}", UPSTREAM_JOB_RETRY},
        {200, "{\"code\":1004,\"message\":\"access key not found\"}", UPSTREAM_JOB_RETRY},
        /* HTTP statuses */
        {404, "{\"code\":1203,\"message\":\"resource not found\"}", UPSTREAM_JOB_LOST},
        {404, "", UPSTREAM_JOB_LOST},
        {404, "{\"code\":1202,\"message\":\"invalid method\"}", UPSTREAM_JOB_RETRY},
        {400, "{\"code\":1201,\"message\":\"task does not exist\"}", UPSTREAM_JOB_LOST},
        {401, "{\"code\":1004,\"message\":\"token expired\"}", UPSTREAM_JOB_RETRY},
        {429, "{\"code\":1302,\"message\":\"request rate too high\"}", UPSTREAM_JOB_RETRY},
        {500, "{\"code\":5000,\"message\":\"internal error\"}", UPSTREAM_JOB_RETRY},
        {503, "<html>maintenance</html>", UPSTREAM_JOB_RETRY},
        /* unreadable answers */
        {200, "not json", UPSTREAM_JOB_RETRY},
        {200, "", UPSTREAM_JOB_RETRY},
        {200, "[]", UPSTREAM_JOB_RETRY},
        {200, "{}", UPSTREAM_JOB_RETRY},
        {200, "{\"code\":\"0\",\"data\":{\"task_status\":\"succeed\"}}", UPSTREAM_JOB_RETRY},
        {200, "{\"code\":0}", UPSTREAM_JOB_RETRY},
        {200, "{\"code\":0,\"data\":[]}", UPSTREAM_JOB_RETRY},
        {200, TASK_ENVELOPE("{\"task_status\":42}"), UPSTREAM_JOB_RETRY},
        {200, TASK_ENVELOPE("{\"task_status\":\"paused\"}"), UPSTREAM_JOB_RETRY},
        {200, TASK_ENVELOPE("{\"task_status\":\"SUCCEED\"}"), UPSTREAM_JOB_RETRY},
        {200, "{\"code\":0,\"data\":{\"task_status\":\"succeed\"", UPSTREAM_JOB_RETRY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        upstream_job job = {0};
        snprintf(job.id, sizeof(job.id), KLING_ID);
        upstream_outcome outcome = poll(&f, cases[i].status, cases[i].body, &job);
        if (outcome.phase != cases[i].phase)
            fail_msg("case %zu: phase %d, expected %d", i, outcome.phase, cases[i].phase);
        assert_string_equal(outcome.media_url, "");
        assert_string_equal(outcome.error_code, "upstream_error");
        assert_string_equal(job.id, KLING_ID);
    }
    /* the provider's retry wish is kept */
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);
    upstream_response response = answer(429, "{\"code\":1302,\"message\":\"request rate too high\"}");
    response.retry_after = "4";
    upstream_outcome outcome = {0};
    provider()->parse_poll(&f.ctx, &response, &job, &outcome);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(outcome.retry_after_ms, 4000);
    /* a 10 KB unknown status stays bounded */
    char *huge = with_huge_string(TASK_ENVELOPE("{\"task_status\":\"%s\"}"));
    outcome = poll(&f, 200, huge, &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RETRY);
    assert_true(strlen(outcome.error_message) < sizeof(outcome.error_message));
    free(huge);
    fixture_done(&f);
}

/* ---- lookup by external_task_id ---- */

static void lookup_queries_by_our_task_id_then_adopts_klings(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    upstream_job job;
    memset(&job, 'x', sizeof(job));
    upstream_request request = {0};
    assert_int_equal(provider()->build_lookup(&f.ctx, &request, &job), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://api-singapore.klingai.com/v1/videos/motion-control/" TASK_ID);
    assert_true(request.carries_credential);
    assert_string_equal(request.headers[0], "Authorization: Bearer " SPEC_TOKEN);
    assert_null(request.body);
    assert_string_equal(job.id, TASK_ID);
    assert_string_equal(job.status_url, "");
    upstream_request_clear(&request);

    /* the answer names Kling's own id: later polls use it */
    upstream_outcome outcome =
        poll(&f, 200,
             TASK_ENVELOPE("{\"task_id\":\"" KLING_ID "\",\"task_status\":\"processing\","
                           "\"task_info\":{\"external_task_id\":\"" TASK_ID "\"}}"),
             &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_RUNNING);
    assert_string_equal(job.id, KLING_ID);
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.url, "https://api-singapore.klingai.com/v1/videos/motion-control/" KLING_ID);
    upstream_request_clear(&request);

    /* a hostile task_id is not adopted */
    static const char *const hostile[] = {"\"868/../../v1/account\"", "\"/..\"", "868582325562023965", "null",
                                          "\"\""};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"code\":0,\"data\":{\"task_id\":%s,\"task_status\":\"submitted\"}}",
                 hostile[i]);
        snprintf(job.id, sizeof(job.id), TASK_ID);
        outcome = poll(&f, 200, body, &job);
        assert_int_equal(outcome.phase, UPSTREAM_JOB_QUEUED);
        assert_string_equal(job.id, TASK_ID);
    }
    char *huge = with_huge_string("{\"code\":0,\"data\":{\"task_id\":\"%s\",\"task_status\":\"submitted\"}}");
    outcome = poll(&f, 200, huge, &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_QUEUED);
    assert_string_equal(job.id, TASK_ID);
    free(huge);

    /* the task was never created: Kling does not know the external id */
    outcome = poll(&f, 200, "{\"code\":1203,\"message\":\"task not found\",\"request_id\":\"r\"}", &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_LOST);
    outcome = poll(&f, 404, "{\"code\":1203,\"message\":\"resource not found\"}", &job);
    assert_int_equal(outcome.phase, UPSTREAM_JOB_LOST);

    /* an unusable task id or credential: no lookup */
    f.ctx.task_id = "a/../b";
    assert_int_equal(provider()->build_lookup(&f.ctx, &request, &job), -1);
    upstream_request_clear(&request);
    f.ctx.task_id = TASK_ID;
    f.ctx.credential = "nocolon";
    assert_int_equal(provider()->build_lookup(&f.ctx, &request, &job), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- download ---- */

static void download_carries_no_credential(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "kling-v3-motion-control", "{}", NULL);
    upstream_job job = {0};
    snprintf(job.id, sizeof(job.id), KLING_ID);
    upstream_outcome done = {0};
    done.phase = UPSTREAM_JOB_SUCCEEDED;
    snprintf(done.media_url, sizeof(done.media_url), "https://cdn.klingai.com/video-001.mp4");
    upstream_request request = {0};
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://cdn.klingai.com/video-001.mp4");
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

static void webhooks_are_signed_with_a_secret_or_only_prompt_a_poll(void **state)
{
    (void)state;
    static const char body[] = "{\"task_id\":\"" KLING_ID "\",\"task_status\":\"succeed\"}";
    /* with a secret on the channel: Standard Webhooks, forgeries refused */
    assert_standard_webhooks_verified(body);
    /* without one Kling's callbacks are unsigned by design: a prompt to poll, signed or not */
    webhook_signed_headers signed_headers;
    const char *reason;
    webhook_fixture w;
    webhook_init(&w, body, NULL, NULL);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_UNSIGNED);
    webhook_init(&w, body, NULL, NULL);
    webhook_sign_standard_into(&w, STANDARD_WEBHOOK_SECRET, "msg_1", &signed_headers);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_UNSIGNED);
}

static void webhook_entry_and_job_id(void **state)
{
    (void)state;
    assert_webhook_entry(true, true, NULL); /* callback_url goes with every submit */
    assert_webhook_job_id("{\"task_id\":\"" KLING_ID "\",\"id\":\"other\"}", KLING_ID);
    assert_webhook_job_id("{\"id\":\"other\"}", "");
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_models_options_and_credential),
        cmocka_unit_test(token_is_the_specs_example),
        cmocka_unit_test(token_is_reused_until_300_seconds_before_expiry),
        cmocka_unit_test(token_follows_a_changed_credential),
        cmocka_unit_test(token_cache_that_cannot_be_trusted_is_replaced),
        cmocka_unit_test(requests_fail_without_a_usable_credential),
        cmocka_unit_test(submit_v3_with_every_option),
        cmocka_unit_test(submit_v2_6_with_defaults),
        cmocka_unit_test(submit_option_values_map_one_to_one),
        cmocka_unit_test(submit_refuses_what_it_cannot_send),
        cmocka_unit_test(parse_submit_accepts_the_task),
        cmocka_unit_test(parse_submit_reads_business_codes),
        cmocka_unit_test(parse_submit_throttled_honours_retry_after),
        cmocka_unit_test(parse_submit_unreadable_success_is_ambiguous),
        cmocka_unit_test(parse_submit_hostile_error_bodies),
        cmocka_unit_test(poll_request_is_an_authorized_get),
        cmocka_unit_test(poll_statuses),
        cmocka_unit_test(poll_failures_map_error_codes),
        cmocka_unit_test(poll_envelope_errors_and_http_trouble),
        cmocka_unit_test(lookup_queries_by_our_task_id_then_adopts_klings),
        cmocka_unit_test(download_carries_no_credential),
        cmocka_unit_test(webhooks_are_signed_with_a_secret_or_only_prompt_a_poll),
        cmocka_unit_test(webhook_entry_and_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

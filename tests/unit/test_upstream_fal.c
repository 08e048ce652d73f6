/* test_upstream_fal.c — the fal queue adapter on fixture JSON shaped as specs/upstream-apis.md §1 (the
 * endpoint id of every model and option, the input body of every model, the ?fal_webhook= query, the
 * owner/app URL rule and the origin check on returned URLs, 202/200 statuses, results and failures,
 * cancel, download, hostile bodies), and the shared helpers of upstream_common.c. */

#include <sodium.h>

#define PROVIDER "fal"
#define BASE "https://queue.fal.run"
#define KEY "fal-key-id:fal-key-secret"
#define REQUEST_ID "80e732af-660e-45cd-bd63-580e4f2a94cc"
#define VIDEO "https://v3.fal.media/files/monkey/in.mp4"
#define AUDIO "https://v3.fal.media/files/monkey/in.wav"
#define IMAGE "https://v3.fal.media/files/monkey/in.png"
#define HOOK "https://gateway.example/v1/upstream/fal-1/webhook"
#define CREDENTIAL KEY

#include "upstream_fixture.h"

/* Builds the submit for model/params; checks what every fal submit shares; returns the URL and body. */
static json_t *submit(const char *model, const char *params_json, const char *webhook, char *url,
                      size_t url_size)
{
    fixture f;
    fixture_init(&f, model, params_json, webhook);
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), 0);
    assert_string_equal(request.method, "POST");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 3);
    assert_string_equal(request.headers[0], "Authorization: Key " KEY);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_string_equal(request.headers[2], "Content-Type: application/json");
    snprintf(url, url_size, "%s", request.url);
    json_t *body = request_body(&request);
    upstream_request_clear(&request);
    fixture_done(&f);
    return body;
}

static void endpoint_of(const char *model, const char *params_json, const char *expected_url)
{
    char url[UPSTREAM_URL_SIZE];
    json_t *body = submit(model, params_json, NULL, url, sizeof(url));
    assert_string_equal(url, expected_url);
    json_decref(body);
}

static void submit_refused(const char *model, const char *params_json, const char *webhook,
                           const char *credential, const char *reason)
{
    fixture f;
    fixture_init(&f, model, params_json, webhook);
    if (credential) f.ctx.credential = credential;
    upstream_request request = {0};
    char err[160] = "";
    assert_int_equal(provider()->build_submit(&f.ctx, &request, err, sizeof(err)), -1);
    assert_non_null(strstr(err, reason));
    upstream_request_clear(&request);
    fixture_done(&f);
}

static upstream_outcome submit_answer_for(const char *model, const char *base, long status, const char *body,
                                          const char *retry_after, upstream_job *job)
{
    fixture f;
    fixture_init(&f, model, "{}", NULL);
    if (base) f.ctx.base_url = base;
    upstream_response response = {
        .status = status, .body = body, .body_size = body ? strlen(body) : 0, .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    memset(job, 0x5a, sizeof(*job));
    job->id[sizeof(job->id) - 1] = '\0';
    provider()->parse_submit(&f.ctx, &response, job, &out);
    fixture_done(&f);
    return out;
}

static upstream_outcome submit_answer(long status, const char *body, const char *retry_after,
                                      upstream_job *job)
{
    return submit_answer_for("lipsync-2-pro", NULL, status, body, retry_after, job);
}

static upstream_outcome poll_answer(long status, const char *body, const char *retry_after)
{
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_job job = {.id = REQUEST_ID};
    upstream_response response = {
        .status = status, .body = body, .body_size = body ? strlen(body) : 0, .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    provider()->parse_poll(&f.ctx, &response, &job, &out);
    assert_string_equal(job.id, REQUEST_ID);
    fixture_done(&f);
    return out;
}

static upstream_outcome result_answer(long status, const char *body, const char *retry_after)
{
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_response response = {
        .status = status, .body = body, .body_size = body ? strlen(body) : 0, .retry_after = retry_after};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    provider()->parse_result(&f.ctx, &response, &out);
    fixture_done(&f);
    return out;
}

/* ---- the provider table ---- */

static void table_lists_models_options_and_credential(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    assert_string_equal(p->name, "fal");
    assert_string_equal(p->default_base_url, "https://queue.fal.run");
    assert_string_equal(p->credential_form, "KEY");
    static const char *const models[] = {"lipsync-2",
                                         "lipsync-2-pro",
                                         "sync-3",
                                         "creatify-aurora",
                                         "kling-v3-motion-control",
                                         "kling-v2-6-motion-control",
                                         "sora-2",
                                         "sora-2-pro",
                                         NULL};
    for (size_t i = 0; models[i]; i++)
        assert_true(upstream_provider_serves(p, models[i]));
    assert_false(upstream_provider_serves(p, "kling-v1"));

    assert_true(upstream_provider_honours(p, "creatify-aurora", "guidance_scale"));
    assert_true(upstream_provider_honours(p, "creatify-aurora", "audio_guidance_scale"));
    assert_false(upstream_provider_honours(p, "creatify-aurora", "temperature"));
    assert_true(upstream_provider_honours(p, "kling-v3-motion-control", "character_orientation"));
    assert_true(upstream_provider_honours(p, "kling-v3-motion-control", "keep_original_sound"));
    assert_true(upstream_provider_honours(p, "kling-v2-6-motion-control", "character_orientation"));
    assert_true(upstream_provider_honours(p, "kling-v2-6-motion-control", "keep_original_sound"));
    assert_false(upstream_provider_honours(p, "kling-v3-motion-control", "guidance_scale"));
    assert_true(upstream_provider_honours(p, "sora-2", "character_ids"));
    assert_true(upstream_provider_honours(p, "sora-2-pro", "character_ids"));
    assert_false(upstream_provider_honours(p, "sora-2", "guidance_scale"));
    assert_false(upstream_provider_honours(p, "lipsync-2", "temperature"));
    assert_false(upstream_provider_honours(p, "lipsync-2", "active_speaker"));
    assert_false(upstream_provider_honours(p, "lipsync-2-pro", "temperature"));
    assert_false(upstream_provider_honours(p, "sync-3", "active_speaker"));

    assert_true(p->credential_valid("fal-key"));
    assert_true(p->credential_valid("key_id:key_secret"));
    assert_false(p->credential_valid(""));
    assert_false(p->credential_valid(NULL));
    assert_false(p->credential_valid("a b"));

    assert_non_null(p->build_result);
    assert_non_null(p->parse_result);
    assert_non_null(p->build_cancel);
    assert_null(p->build_lookup);
}

/* ---- submit: endpoint ids ---- */

static void every_model_goes_to_its_endpoint(void **state)
{
    (void)state;
    endpoint_of("lipsync-2", "{}", BASE "/fal-ai/sync-lipsync/v2");
    endpoint_of("lipsync-2-pro", "{}", BASE "/fal-ai/sync-lipsync/v2/pro");
    endpoint_of("sync-3", "{}", BASE "/fal-ai/sync-lipsync/v3");
    endpoint_of("creatify-aurora", "{}", BASE "/fal-ai/creatify/aurora");
    endpoint_of("kling-v2-6-motion-control", "{\"mode\":\"std\"}",
                BASE "/fal-ai/kling-video/v2.6/standard/motion-control");
    endpoint_of("kling-v2-6-motion-control", "{\"mode\":\"pro\"}",
                BASE "/fal-ai/kling-video/v2.6/pro/motion-control");
    endpoint_of("kling-v2-6-motion-control", "{}", BASE "/fal-ai/kling-video/v2.6/standard/motion-control");
    endpoint_of("kling-v3-motion-control", "{\"mode\":\"std\"}",
                BASE "/fal-ai/kling-video/v3/standard/motion-control");
    endpoint_of("kling-v3-motion-control", "{\"mode\":\"pro\"}",
                BASE "/fal-ai/kling-video/v3/pro/motion-control");
    endpoint_of("kling-v3-motion-control", "{}", BASE "/fal-ai/kling-video/v3/standard/motion-control");
    endpoint_of("sora-2", "{\"prompt\":\"p\"}", BASE "/fal-ai/sora-2/text-to-video");
    endpoint_of("sora-2", "{\"prompt\":\"p\",\"image_urls\":[\"" IMAGE "\"]}",
                BASE "/fal-ai/sora-2/image-to-video");
    endpoint_of("sora-2", "{\"prompt\":\"p\",\"image_urls\":[]}", BASE "/fal-ai/sora-2/text-to-video");
    endpoint_of("sora-2-pro", "{\"prompt\":\"p\",\"resolution\":\"1080p\"}",
                BASE "/fal-ai/sora-2/text-to-video/pro");
    endpoint_of("sora-2-pro", "{\"prompt\":\"p\",\"image_urls\":[\"" IMAGE "\"]}",
                BASE "/fal-ai/sora-2/image-to-video/pro");
    submit_refused("sora-3", "{}", NULL, NULL, "sora-3");
}

/* ---- submit: input bodies ---- */

static void lipsync_bodies(void **state)
{
    (void)state;
    static const char *const models[] = {"lipsync-2", "lipsync-2-pro", "sync-3", NULL};
    for (size_t i = 0; models[i]; i++) {
        char url[UPSTREAM_URL_SIZE];
        /* temperature and active_speaker are not fal's: never sent */
        json_t *body =
            submit(models[i],
                   "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\",\"sync_mode\":\"bounce\","
                   "\"temperature\":0.9,\"active_speaker\":true}",
                   NULL, url, sizeof(url));
        assert_int_equal(json_object_size(body), 3);
        assert_string_equal(string_at(body, "video_url"), VIDEO);
        assert_string_equal(string_at(body, "audio_url"), AUDIO);
        assert_string_equal(string_at(body, "sync_mode"), "bounce");
        json_decref(body);
    }
}

static void creatify_aurora_body(void **state)
{
    (void)state;
    char url[UPSTREAM_URL_SIZE];
    json_t *body =
        submit("creatify-aurora",
               "{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\",\"prompt\":\"soft light\","
               "\"guidance_scale\":2.5,\"audio_guidance_scale\":3,\"resolution\":\"480p\"}",
               NULL, url, sizeof(url));
    assert_int_equal(json_object_size(body), 6);
    assert_string_equal(string_at(body, "image_url"), IMAGE);
    assert_string_equal(string_at(body, "audio_url"), AUDIO);
    assert_string_equal(string_at(body, "prompt"), "soft light");
    assert_float_equal(json_number_value(json_object_get(body, "guidance_scale")), 2.5, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(body, "audio_guidance_scale")), 3);
    assert_string_equal(string_at(body, "resolution"), "480p");
    json_decref(body);
    /* a null prompt is left out */
    body =
        submit("creatify-aurora", "{\"image_url\":\"" IMAGE "\",\"audio_url\":\"" AUDIO "\",\"prompt\":null}",
               NULL, url, sizeof(url));
    assert_int_equal(json_object_size(body), 2);
    assert_null(json_object_get(body, "prompt"));
    json_decref(body);
}

static void kling_bodies(void **state)
{
    (void)state;
    char url[UPSTREAM_URL_SIZE];
    json_t *body = submit("kling-v3-motion-control",
                          "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO
                          "\",\"mode\":\"pro\",\"prompt\":\"dance\","
                          "\"character_orientation\":\"video\",\"keep_original_sound\":\"no\"}",
                          NULL, url, sizeof(url));
    assert_string_equal(url, BASE "/fal-ai/kling-video/v3/pro/motion-control");
    assert_int_equal(json_object_size(body), 5);
    assert_string_equal(string_at(body, "image_url"), IMAGE);
    assert_string_equal(string_at(body, "video_url"), VIDEO);
    assert_string_equal(string_at(body, "prompt"), "dance");
    assert_string_equal(string_at(body, "character_orientation"), "video");
    assert_true(json_is_false(json_object_get(body, "keep_original_sound")));
    assert_null(json_object_get(body, "mode")); /* the mode is in the endpoint, not the body */
    json_decref(body);
    /* defaults: orientation image, keep the sound (a boolean, not the string) */
    body = submit("kling-v2-6-motion-control", "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\"}",
                  NULL, url, sizeof(url));
    assert_int_equal(json_object_size(body), 4);
    assert_string_equal(string_at(body, "character_orientation"), "image");
    assert_true(json_is_true(json_object_get(body, "keep_original_sound")));
    assert_null(json_object_get(body, "prompt"));
    json_decref(body);
    body = submit("kling-v2-6-motion-control",
                  "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\",\"keep_original_sound\":\"yes\"}",
                  NULL, url, sizeof(url));
    assert_true(json_is_true(json_object_get(body, "keep_original_sound")));
    json_decref(body);
}

static void sora_bodies(void **state)
{
    (void)state;
    char url[UPSTREAM_URL_SIZE];
    json_t *body = submit(
        "sora-2", "{\"prompt\":\"a kite\",\"aspect_ratio\":\"16:9\",\"duration\":4,\"resolution\":\"720p\"}",
        NULL, url, sizeof(url));
    assert_int_equal(json_object_size(body), 4);
    assert_string_equal(string_at(body, "prompt"), "a kite");
    assert_string_equal(string_at(body, "aspect_ratio"), "16:9");
    assert_string_equal(string_at(body, "duration"), "4"); /* a string, as fal's enum */
    assert_string_equal(string_at(body, "resolution"), "720p");
    json_decref(body);

    static const struct {
        const char *ours, *theirs;
    } aspects[] = {{"16:9", "16:9"}, {"1280x720", "16:9"}, {"9:16", "9:16"}, {"720x1280", "9:16"}};
    for (size_t i = 0; i < sizeof(aspects) / sizeof(aspects[0]); i++) {
        char params[128];
        snprintf(params, sizeof(params), "{\"prompt\":\"p\",\"aspect_ratio\":\"%s\",\"duration\":20}",
                 aspects[i].ours);
        body = submit("sora-2", params, NULL, url, sizeof(url));
        assert_string_equal(string_at(body, "aspect_ratio"), aspects[i].theirs);
        assert_string_equal(string_at(body, "duration"), "20");
        json_decref(body);
    }

    body = submit("sora-2-pro",
                  "{\"prompt\":\"p\",\"image_urls\":[\"" IMAGE
                  "\"],\"aspect_ratio\":\"720x1280\",\"duration\":12,"
                  "\"resolution\":\"1080p\",\"character_ids\":[\"char_a\",\"char_b\"]}",
                  NULL, url, sizeof(url));
    assert_string_equal(url, BASE "/fal-ai/sora-2/image-to-video/pro");
    assert_int_equal(json_object_size(body), 6);
    assert_string_equal(string_at(body, "image_url"), IMAGE);
    assert_string_equal(string_at(body, "aspect_ratio"), "9:16");
    assert_string_equal(string_at(body, "duration"), "12");
    assert_string_equal(string_at(body, "resolution"), "1080p");
    const json_t *characters = json_object_get(body, "character_ids");
    assert_int_equal(json_array_size(characters), 2);
    assert_string_equal(json_string_value(json_array_get(characters, 1)), "char_b");
    assert_null(json_object_get(body, "image_urls"));
    json_decref(body);

    submit_refused("sora-2", "{\"prompt\":\"p\",\"resolution\":\"1080p\"}", NULL, NULL, "720p");
}

static void webhook_goes_in_the_query_percent_encoded(void **state)
{
    (void)state;
    char url[UPSTREAM_URL_SIZE];
    json_t *body =
        submit("kling-v2-6-motion-control", "{\"image_url\":\"" IMAGE "\",\"video_url\":\"" VIDEO "\"}",
               "https://gw.example/v1/upstream/f/webhook?task=t 1&x=\xc3\xa9~_.-", url, sizeof(url));
    assert_string_equal(
        url, BASE "/fal-ai/kling-video/v2.6/standard/motion-control?fal_webhook="
                  "https%3A%2F%2Fgw.example%2Fv1%2Fupstream%2Ff%2Fwebhook%3Ftask%3Dt%201%26x%3D%C3%A9~_.-");
    assert_null(json_object_get(body, "webhook_url"));
    json_decref(body);
    body =
        submit("sync-3", "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", HOOK, url, sizeof(url));
    assert_string_equal(url, BASE "/fal-ai/sync-lipsync/v3?fal_webhook="
                                  "https%3A%2F%2Fgateway.example%2Fv1%2Fupstream%2Ffal-1%2Fwebhook");
    json_decref(body);
    /* no webhook: no query at all */
    body =
        submit("sync-3", "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", NULL, url, sizeof(url));
    assert_null(strchr(url, '?'));
    json_decref(body);

    /* a webhook URL that cannot fit: refused, nothing leaks */
    char *long_hook = with_huge_string("https://gw.example/%s");
    submit_refused("sync-3", "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", long_hook, NULL,
                   "too long");
    free(long_hook);
}

static void submit_that_cannot_be_built_fails_cleanly(void **state)
{
    (void)state;
    /* a key the header refuses: -1 and the body is freed (the sanitizer build checks the leak) */
    submit_refused("lipsync-2", "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", NULL,
                   "key\r\nX-Injected: 1", "could not be built");
    char *long_key = with_huge_string("k%s");
    submit_refused("lipsync-2", "{\"video_url\":\"" VIDEO "\",\"audio_url\":\"" AUDIO "\"}", NULL, long_key,
                   "could not be built");
    free(long_key);
}

/* ---- submit verdicts and the URLs of the job ---- */

static void accepted_with_the_returned_urls_on_the_channel_origin(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer_for(
        "kling-v3-motion-control", NULL, 200,
        "{\"status\":\"IN_QUEUE\",\"request_id\":\"" REQUEST_ID "\",\"gateway_request_id\":\"" REQUEST_ID
        "\","
        "\"response_url\":\"https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID "\","
        "\"status_url\":\"https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID "/status\","
        "\"cancel_url\":\"https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID "/cancel\","
        "\"queue_position\":0}",
        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.id, REQUEST_ID);
    assert_string_equal(job.status_url,
                        "https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID "/status");
    assert_string_equal(job.result_url, "https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID);
    assert_string_equal(job.cancel_url,
                        "https://queue.fal.run/fal-ai/kling-video/requests/" REQUEST_ID "/cancel");

    /* the same origin, spelled differently, with a query: still taken as given */
    out = submit_answer(200,
                        "{\"request_id\":\"" REQUEST_ID
                        "\",\"status_url\":\"HTTPS://Queue.Fal.Run:443/fal-ai/sync-"
                        "lipsync/requests/" REQUEST_ID "/status?logs=1\"}",
                        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.status_url, "HTTPS://Queue.Fal.Run:443/fal-ai/sync-lipsync/requests/" REQUEST_ID
                                        "/status?logs=1");

    /* an emulator base URL with a port */
    out = submit_answer_for(
        "sync-3", "http://127.0.0.1:8123", 200,
        "{\"request_id\":\"r-1\",\"status_url\":\"http://127.0.0.1:8123/fal-ai/sync-lipsync/"
        "requests/r-1/status\"}",
        NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.status_url, "http://127.0.0.1:8123/fal-ai/sync-lipsync/requests/r-1/status");
    assert_string_equal(job.result_url, "http://127.0.0.1:8123/fal-ai/sync-lipsync/requests/r-1");
    assert_string_equal(job.cancel_url, "http://127.0.0.1:8123/fal-ai/sync-lipsync/requests/r-1/cancel");
}

static void urls_elsewhere_are_rebuilt_from_owner_and_app(void **state)
{
    (void)state;
    /* whatever the answer says, a URL off the channel's origin is replaced: the key never leaves */
    static const char *const foreign[] = {
        "\"https://evil.example/steal\"",
        "\"http://queue.fal.run/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status\"", /* another scheme */
        "\"https://queue.fal.run:8443/fal-ai/sync-lipsync/requests/" REQUEST_ID
        "/status\"", /* another port */
        "\"https://queue.fal.run.evil.example/x\"",
        "\"https://queue.fal.run@evil.example/x\"",
        "\"https://user:pw@queue.fal.run/x\"",
        "\"https://queue.fal.run/x\\r\\nX-Injected: 1\"", /* same origin, but not a URL curl should see */
        "\"https://queue.fal.run/a b\"",
        "\"/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status\"", /* relative */
        "\"\"",
        "null",
        "42",
        "{\"url\":\"https://queue.fal.run/x\"}",
    };
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"request_id\":\"" REQUEST_ID "\",\"status_url\":%s,\"response_url\":%s,"
                 "\"cancel_url\":%s}",
                 foreign[i], foreign[i], foreign[i]);
        upstream_job job;
        upstream_outcome out = submit_answer(200, body, NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
        assert_string_equal(job.status_url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status");
        assert_string_equal(job.result_url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID);
        assert_string_equal(job.cancel_url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/cancel");
    }
    char *huge =
        with_huge_string("{\"request_id\":\"" REQUEST_ID "\",\"status_url\":\"https://queue.fal.run/%s\"}");
    upstream_job job;
    assert_int_equal(submit_answer(200, huge, NULL, &job).verdict, UPSTREAM_ACCEPTED);
    assert_string_equal(job.status_url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status");
    free(huge);

    /* owner/app is the endpoint's first two segments, for every model */
    static const struct {
        const char *model, *app;
    } apps[] = {
        {"lipsync-2", "fal-ai/sync-lipsync"},
        {"lipsync-2-pro", "fal-ai/sync-lipsync"},
        {"sync-3", "fal-ai/sync-lipsync"},
        {"creatify-aurora", "fal-ai/creatify"},
        {"kling-v3-motion-control", "fal-ai/kling-video"},
        {"kling-v2-6-motion-control", "fal-ai/kling-video"},
        {"sora-2", "fal-ai/sora-2"},
        {"sora-2-pro", "fal-ai/sora-2"},
    };
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        upstream_outcome out =
            submit_answer_for(apps[i].model, NULL, 200, "{\"request_id\":\"r_1-2\"}", NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_ACCEPTED);
        char expected[256];
        snprintf(expected, sizeof(expected), BASE "/%s/requests/r_1-2/status", apps[i].app);
        assert_string_equal(job.status_url, expected);
        snprintf(expected, sizeof(expected), BASE "/%s/requests/r_1-2", apps[i].app);
        assert_string_equal(job.result_url, expected);
        snprintf(expected, sizeof(expected), BASE "/%s/requests/r_1-2/cancel", apps[i].app);
        assert_string_equal(job.cancel_url, expected);
    }
}

static void refused_throttled_and_ambiguous(void **state)
{
    (void)state;
    upstream_job job;
    upstream_outcome out = submit_answer(422,
                                         "{\"detail\":[{\"loc\":[\"body\",\"video_url\"],\"msg\":\"field "
                                         "required\",\"type\":\"value_error.missing\"}]}",
                                         NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_string_equal(out.error_message, "upstream answered HTTP 422: video_url: field required");
    out = submit_answer(400, "{\"detail\":\"Invalid input\"}", NULL, &job);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_string_equal(out.error_message, "upstream answered HTTP 400: Invalid input");
    out = submit_answer(401, "{\"detail\":\"Invalid or missing key\"}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_auth_failed");
    assert_string_equal(out.error_message, "upstream answered HTTP 401: Invalid or missing key");
    out = submit_answer(429, "{\"detail\":\"Rate limited\"}", "2", &job);
    assert_int_equal(out.verdict, UPSTREAM_THROTTLED);
    assert_int_equal(out.retry_after_ms, 2000);
    out = submit_answer(
        503, "{\"detail\":\"Runner unavailable\",\"error_type\":\"runner_scheduling_failure\"}", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_code, "upstream_error");
    assert_string_equal(out.error_message, "upstream answered HTTP 503: Runner unavailable");
    out = submit_answer(504, "{\"detail\":\"Request timed out\",\"error_type\":\"request_timeout\"}", NULL,
                        &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_non_null(strstr(out.error_message, "Request timed out"));
    out = submit_answer(502, "<html>bad gateway</html>", NULL, &job);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_string_equal(out.error_message, "upstream answered HTTP 502");
    /* hostile error bodies: a verdict, never a crash */
    out = submit_answer(422, "{\"detail\":[{\"loc\":[],\"msg\":7},3]}", NULL, &job);
    assert_string_equal(out.error_message, "upstream answered HTTP 422: invalid input");
    out = submit_answer(422, "{\"detail\":[]}", NULL, &job);
    assert_string_equal(out.error_message, "upstream answered HTTP 422");
    char *huge = with_huge_string("{\"detail\":\"%s\"}");
    out = submit_answer(400, huge, NULL, &job);
    free(huge);
    assert_int_equal(out.verdict, UPSTREAM_REFUSED);
    assert_true(strncmp(out.error_message, "upstream answered HTTP 400: aaaa", 32) == 0);

    static const char *const unreadable[] = {
        "",
        "{\"request_id\": \"abc",
        "[\"" REQUEST_ID "\"]",
        "{\"status\":\"IN_QUEUE\"}",
        "{\"request_id\":42}",
        "{\"request_id\":\"\"}",
        "{\"request_id\":\"../../admin\"}",
        "{\"request_id\":\"a/b\"}",
        "{\"request_id\":\"a?b\"}",
        "{\"request_id\":\"a b\"}",
    };
    for (size_t i = 0; i < sizeof(unreadable) / sizeof(unreadable[0]); i++) {
        out = submit_answer(200, unreadable[i], NULL, &job);
        assert_int_equal(out.verdict, UPSTREAM_AMBIGUOUS);
        assert_string_equal(out.error_code, "upstream_error");
    }
    huge = with_huge_string("{\"request_id\":\"%s\"}");
    assert_int_equal(submit_answer(200, huge, NULL, &job).verdict, UPSTREAM_AMBIGUOUS);
    free(huge);
}

/* ---- status ---- */

static void poll_request_uses_the_stored_status_url(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "lipsync-2", "{}", NULL);
    upstream_job job = {.id = REQUEST_ID,
                        .status_url = BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status",
                        .result_url = BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID,
                        .cancel_url = BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/cancel"};
    upstream_request request = {0};
    assert_int_equal(provider()->build_poll(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/status");
    assert_true(request.carries_credential);
    assert_int_equal(request.header_count, 2);
    assert_string_equal(request.headers[0], "Authorization: Key " KEY);
    assert_string_equal(request.headers[1], "Accept: application/json");
    assert_null(request.body);
    upstream_request_clear(&request);

    assert_int_equal(provider()->build_result(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID);
    assert_true(request.carries_credential);
    assert_string_equal(request.headers[0], "Authorization: Key " KEY);
    upstream_request_clear(&request);

    assert_int_equal(provider()->build_cancel(&f.ctx, &job, &request), 0);
    assert_string_equal(request.method, "PUT");
    assert_string_equal(request.url, BASE "/fal-ai/sync-lipsync/requests/" REQUEST_ID "/cancel");
    assert_true(request.carries_credential);
    assert_string_equal(request.headers[0], "Authorization: Key " KEY);
    assert_null(request.body);
    upstream_request_clear(&request);

    upstream_job empty = {.id = REQUEST_ID};
    assert_int_equal(provider()->build_poll(&f.ctx, &empty, &request), -1);
    upstream_request_clear(&request);
    assert_int_equal(provider()->build_result(&f.ctx, &empty, &request), -1);
    upstream_request_clear(&request);
    assert_int_equal(provider()->build_cancel(&f.ctx, &empty, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

static void statuses_202_while_waiting_200_when_completed(void **state)
{
    (void)state;
    upstream_outcome out =
        poll_answer(202,
                    "{\"status\":\"IN_QUEUE\",\"request_id\":\"" REQUEST_ID "\",\"queue_position\":3,"
                    "\"response_url\":\"…\",\"status_url\":\"…\",\"cancel_url\":\"…\"}",
                    NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_QUEUED);
    assert_int_equal(out.progress, -1); /* a queue position is no percentage */
    out = poll_answer(202,
                      "{\"status\":\"IN_PROGRESS\",\"request_id\":\"" REQUEST_ID "\",\"logs\":[{\"message\":"
                      "\"Generating…\",\"level\":\"INFO\",\"source\":\"USER\",\"timestamp\":\"2026-05-01T12:"
                      "00:01.123Z\"}]}",
                      NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    assert_int_equal(out.progress, -1);
    out = poll_answer(202, "{\"status\":\"IN_PROGRESS\",\"logs\":null}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RUNNING);
    out = poll_answer(200,
                      "{\"status\":\"COMPLETED\",\"request_id\":\"" REQUEST_ID "\",\"logs\":[],"
                      "\"metrics\":{\"inference_time\":41.7}}",
                      NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_FETCH_RESULT);
    /* a failed request also ends COMPLETED: the result tells */
    out = poll_answer(200, "{\"status\":\"COMPLETED\",\"error\":\"boom\",\"error_type\":\"x\"}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_FETCH_RESULT);
}

static void status_trouble_and_hostile_answers(void **state)
{
    (void)state;
    assert_int_equal(poll_answer(404, "{\"detail\":\"Request not found\"}", NULL).phase, UPSTREAM_JOB_LOST);
    upstream_outcome out = poll_answer(500, "{}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    out = poll_answer(429, "{\"detail\":\"Rate limited\"}", "6");
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 6000);
    assert_int_equal(poll_answer(503, "", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(poll_answer(204, "", NULL).phase, UPSTREAM_JOB_RETRY);
    static const char *const unreadable[] = {
        "",
        "<html>",
        "{\"status\":",
        "[\"COMPLETED\"]",
        "{}",
        "{\"status\":7}",
        "{\"status\":null}",
        "{\"status\":\"EXPLODED\"}",
        "{\"status\":\"completed\"}",
        "{\"status\":\"COMPLETED\",\"status\":\"IN_QUEUE\"}",
    };
    for (size_t i = 0; i < sizeof(unreadable) / sizeof(unreadable[0]); i++) {
        out = poll_answer(200, unreadable[i], NULL);
        assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
        assert_string_equal(out.error_code, "upstream_error");
    }
    char *huge = with_huge_string("{\"status\":\"%s\"}");
    assert_int_equal(poll_answer(202, huge, NULL).phase, UPSTREAM_JOB_RETRY);
    free(huge);
}

/* ---- results ---- */

static void result_success(void **state)
{
    (void)state;
    upstream_outcome out = result_answer(
        200,
        "{\"video\":{\"url\":\"https://v3.fal.media/files/x/out.mp4\",\"content_type\":\"video/"
        "mp4\",\"file_name\":"
        "\"out.mp4\",\"file_size\":1824075,\"duration\":8.1,\"fps\":24,\"width\":1280,\"height\":720},"
        "\"video_id\":\"video_123\",\"thumbnail\":{\"url\":\"https://v3.fal.media/files/x/t.jpg\"}}",
        NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_string_equal(out.media_url, "https://v3.fal.media/files/x/out.mp4");
    assert_float_equal(out.duration, 8.1, 1e-9);
    assert_string_equal(out.error_code, "");
    out = result_answer(200, "{\"video\":{\"url\":\"https://v3b.fal.media/files/y/out.mp4\"}}", NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_SUCCEEDED);
    assert_float_equal(out.duration, 0.0, 1e-9);

    static const char *const no_video[] = {
        "{\"video\":{\"url\":\"ftp://x\"}}",
        "{\"video\":{\"url\":\"file:///etc/passwd\"}}",
        "{\"video\":{}}",
        "{\"video\":\"https://v3.fal.media/x.mp4\"}",
        "{\"video\":{\"url\":7}}",
        "{}",
        "[]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(no_video) / sizeof(no_video[0]); i++) {
        out = result_answer(200, no_video[i], NULL);
        assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
        assert_string_equal(out.error_code, "generation_failed");
        assert_string_equal(out.media_url, "");
    }
    char *huge = with_huge_string("{\"video\":{\"url\":\"https://v3.fal.media/%s\"}}");
    out = result_answer(200, huge, NULL);
    free(huge);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.media_url, "");
}

static void result_failures(void **state)
{
    (void)state;
    upstream_outcome out = result_answer(422,
                                         "{\"detail\":[{\"loc\":[\"body\",\"prompt\"],\"msg\":\"field "
                                         "required\",\"type\":\"value_error.missing\"},"
                                         "{\"loc\":[\"body\",\"image_url\"],\"msg\":\"invalid url\"}]}",
                                         NULL);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_string_equal(out.error_code, "invalid_parameters");
    assert_string_equal(out.error_message, "prompt: field required");

    static const struct {
        long status;
        const char *body, *code, *message;
    } cases[] = {
        {422, "{\"detail\":\"Output blocked\",\"error_type\":\"content_policy_violation\"}",
         "content_policy_violation", "Output blocked"},
        {422,
         "{\"detail\":[{\"loc\":[\"body\",\"prompt\"],\"msg\":\"The prompt was flagged by our content "
         "policy\","
         "\"type\":\"content_policy_violation\"}]}",
         "content_policy_violation", "prompt: The prompt was flagged by our content policy"},
        {400, "{\"detail\":\"NSFW content detected in the input image\"}", "content_policy_violation",
         "NSFW content detected in the input image"},
        {400, "{\"detail\":\"Image too small\"}", "invalid_parameters", "Image too small"},
        {500, "{\"detail\":\"CUDA out of memory\"}", "generation_failed", "CUDA out of memory"},
        {500, "<html>", "generation_failed", "fal reported a failure"},
        {500, "{\"error\":\"Model crashed\"}", "generation_failed", "Model crashed"},
        {401, "{\"detail\":\"Invalid or missing key\"}", "upstream_error", "Invalid or missing key"},
        {403, "", "upstream_error", "fal refused the key when asked for the result"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = result_answer(cases[i].status, cases[i].body, NULL);
        assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
        assert_string_equal(out.error_code, cases[i].code);
        assert_string_equal(out.error_message, cases[i].message);
    }

    /* not finished yet, or trouble: ask again; gone: lost */
    assert_int_equal(result_answer(400, "{\"detail\":\"Request is still in progress\"}", NULL).phase,
                     UPSTREAM_JOB_RETRY);
    out = result_answer(429, "", "5");
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 5000);
    assert_int_equal(result_answer(408, "", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(result_answer(502, "", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(result_answer(503, "{\"detail\":\"Runner unavailable\"}", NULL).phase,
                     UPSTREAM_JOB_RETRY);
    assert_int_equal(result_answer(504, "", NULL).phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(result_answer(404, "{\"detail\":\"Not found\"}", NULL).phase, UPSTREAM_JOB_LOST);

    char *huge = with_huge_string("{\"detail\":\"%s\"}");
    out = result_answer(500, huge, NULL);
    free(huge);
    assert_int_equal(out.phase, UPSTREAM_JOB_FAILED);
    assert_int_equal(strlen(out.error_message), 399); /* fal's own buffer, then ours */
}

static void download_is_public_without_the_key(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, "sora-2", "{}", NULL);
    upstream_job job = {.id = REQUEST_ID};
    upstream_outcome done;
    memset(&done, 0, sizeof(done));
    snprintf(done.media_url, sizeof(done.media_url), "https://v3.fal.media/files/x/out.mp4");
    upstream_request request = {0};
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), 0);
    assert_string_equal(request.method, "GET");
    assert_string_equal(request.url, "https://v3.fal.media/files/x/out.mp4");
    assert_false(request.carries_credential);
    assert_int_equal(request.header_count, 0);
    assert_null(request.body);
    upstream_request_clear(&request);
    done.media_url[0] = '\0';
    assert_int_equal(provider()->build_download(&f.ctx, &job, &done, &request), -1);
    upstream_request_clear(&request);
    fixture_done(&f);
}

/* ---- the shared helpers ---- */

static void same_origin(void **state)
{
    (void)state;
    assert_true(upstream_same_origin("https://a.example/x", "https://a.example/y?z"));
    assert_true(upstream_same_origin("https://a.example/x", "https://A.EXAMPLE:443/y?z"));
    assert_true(upstream_same_origin("HTTPS://a.example", "https://a.example"));
    assert_true(upstream_same_origin("http://a.example:80/", "http://a.example"));
    assert_true(upstream_same_origin("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"));
    assert_true(upstream_same_origin("https://a.example?u=x@y", "https://a.example"));
    assert_true(upstream_same_origin("https://a.example/p@q", "https://a.example"));
    assert_true(upstream_same_origin("https://a.example#frag", "https://a.example"));
    /* ports */
    assert_false(upstream_same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8081"));
    assert_false(upstream_same_origin("https://a.example:8443", "https://a.example"));
    assert_false(upstream_same_origin("https://a.example:80", "http://a.example"));
    assert_false(upstream_same_origin("https://a.example:0", "https://a.example:0"));
    assert_false(upstream_same_origin("https://a.example:70000", "https://a.example:70000"));
    assert_false(upstream_same_origin("https://a.example:", "https://a.example"));
    assert_false(upstream_same_origin("https://a.example:44x3", "https://a.example"));
    /* schemes */
    assert_false(upstream_same_origin("https://a.example", "http://a.example"));
    assert_false(upstream_same_origin("ftp://a.example", "ftp://a.example"));
    /* userinfo: never followed, even when the host matches */
    assert_false(upstream_same_origin("https://user@a.example", "https://a.example"));
    assert_false(upstream_same_origin("https://user:pw@a.example/x", "https://user:pw@a.example/x"));
    assert_false(upstream_same_origin("https://a.example@evil.example", "https://a.example"));
    assert_false(upstream_same_origin("https://a.example\\@evil.example", "https://a.example"));
    /* hosts */
    assert_false(upstream_same_origin("https://a.example.evil", "https://a.example"));
    assert_false(upstream_same_origin("https://evil.a.example", "https://a.example"));
    assert_false(upstream_same_origin("https:///x", "https:///x"));
    /* IPv6 */
    assert_true(upstream_same_origin("http://[::1]:80/a", "http://[::1]/b"));
    assert_true(upstream_same_origin("https://[2001:DB8::1]:443", "https://[2001:db8::1]"));
    assert_false(upstream_same_origin("http://[::1]:8080", "http://[::1]:8081"));
    assert_false(upstream_same_origin("http://[::1]", "http://[::2]"));
    assert_false(upstream_same_origin("http://[::1", "http://[::1"));
    assert_false(upstream_same_origin("http://[::1]x", "http://[::1]"));
    assert_false(upstream_same_origin("http://[::1]", "http://127.0.0.1"));
    /* not absolute URLs */
    assert_false(upstream_same_origin("a.example", "a.example"));
    assert_false(upstream_same_origin("/x", "/x"));
    assert_false(upstream_same_origin("://a.example", "://a.example"));
    assert_false(upstream_same_origin("", ""));
    assert_false(upstream_same_origin(NULL, "https://a.example"));
    assert_false(upstream_same_origin("https://a.example", NULL));
}

static void retry_after(void **state)
{
    (void)state;
    /* delta seconds */
    assert_int_equal(upstream_retry_after_ms("3", NULL, NOW), 3000);
    assert_int_equal(upstream_retry_after_ms("1.5", NULL, NOW), 1500);
    assert_int_equal(upstream_retry_after_ms("120", NULL, 0), 120000);
    assert_int_equal(upstream_retry_after_ms("0", NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms("-3", NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms("soon", NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms("3x", NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms("", NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms(NULL, NULL, NOW), 0);
    assert_int_equal(upstream_retry_after_ms("999999", NULL, NOW), 3600 * 1000); /* capped at an hour */
    assert_int_equal(upstream_retry_after_ms("1e400", NULL, NOW), 3600 * 1000);
    /* an HTTP date */
    assert_int_equal(upstream_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", NULL, 1445412470), 10000);
    assert_int_equal(upstream_retry_after_ms("Tue, 14 Nov 2023 22:14:20 GMT", NULL, NOW), 60000);
    assert_int_equal(upstream_retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", NULL, NOW), 0); /* now */
    assert_int_equal(upstream_retry_after_ms("Mon, 13 Nov 2023 22:13:20 GMT", NULL, NOW), 0); /* past */
    assert_int_equal(upstream_retry_after_ms("Fri, 14 Nov 2025 22:13:20 GMT", NULL, NOW), 3600 * 1000);
    assert_int_equal(upstream_retry_after_ms("Tue, 14 Nov 2023 25:99:99 XYZ", NULL, NOW), 0);
    /* retry-after-ms (OpenAI) wins when readable */
    assert_int_equal(upstream_retry_after_ms("3", "250", NOW), 250);
    assert_int_equal(upstream_retry_after_ms(NULL, "1500", NOW), 1500);
    assert_int_equal(upstream_retry_after_ms("3", "abc", NOW), 3000);
    assert_int_equal(upstream_retry_after_ms("3", "0", NOW), 3000);
    assert_int_equal(upstream_retry_after_ms("3", "-100", NOW), 3000);
    assert_int_equal(upstream_retry_after_ms(NULL, "99999999", NOW), 3600 * 1000);
    assert_int_equal(upstream_retry_after_ms("Tue, 14 Nov 2023 22:14:20 GMT", "700", NOW), 700);
}

static void url_encode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(upstream_url_encode("a b/c?d=e&f#g", out, sizeof(out)), 0);
    assert_string_equal(out, "a%20b%2Fc%3Fd%3De%26f%23g");
    assert_int_equal(upstream_url_encode("AZaz09-_.~", out, sizeof(out)), 0);
    assert_string_equal(out, "AZaz09-_.~");
    assert_int_equal(upstream_url_encode("\xc3\xa9+%:@\x01\x7f", out, sizeof(out)), 0);
    assert_string_equal(out, "%C3%A9%2B%25%3A%40%01%7F");
    assert_int_equal(upstream_url_encode("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* exactly fitting, and one byte short */
    assert_int_equal(upstream_url_encode("abc", out, 4), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(upstream_url_encode("abc", out, 3), -1);
    assert_int_equal(upstream_url_encode("a b", out, 6), 0);
    assert_string_equal(out, "a%20b");
    assert_int_equal(upstream_url_encode("a b", out, 5), -1);
    assert_int_equal(upstream_url_encode("", out, 0), -1);
    char sixty_four[65];
    memset(sixty_four, 'a', 64);
    sixty_four[64] = '\0';
    assert_int_equal(upstream_url_encode(sixty_four, out, sizeof(out)), -1); /* no room for the terminator */
    sixty_four[63] = '\0';
    assert_int_equal(upstream_url_encode(sixty_four, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), 63);
}

static void headers_refuse_injection(void **state)
{
    (void)state;
    upstream_request request = {0};
    assert_int_equal(upstream_add_header(&request, "X-Key: %s", "a\r\nInjected: yes"), -1);
    assert_int_equal(upstream_add_header(&request, "X-Key: %s", "a\nInjected: yes"), -1);
    assert_int_equal(upstream_add_header(&request, "X-Key: %s", "a\rInjected: yes"), -1);
    assert_int_equal(request.header_count, 0);
    char *long_value = with_huge_string("%s");
    assert_int_equal(upstream_add_header(&request, "X-Key: %s", long_value), -1); /* does not fit */
    free(long_value);
    assert_int_equal(request.header_count, 0);
    for (int i = 0; i < UPSTREAM_MAX_HEADERS; i++)
        assert_int_equal(upstream_add_header(&request, "X-N: %d", i), 0);
    assert_int_equal(upstream_add_header(&request, "X-N: %d", 99), -1); /* full */
    assert_int_equal(request.header_count, UPSTREAM_MAX_HEADERS);
    assert_string_equal(request.headers[0], "X-N: 0");
    assert_string_equal(request.headers[UPSTREAM_MAX_HEADERS - 1], "X-N: 5");
    upstream_request_clear(&request);
    assert_int_equal(request.header_count, 0);
    assert_null(request.body);
}

static void job_round_trip(void **state)
{
    (void)state;
    upstream_job job = {.id = REQUEST_ID,
                        .status_url = BASE "/fal-ai/x/requests/" REQUEST_ID "/status",
                        .result_url = BASE "/fal-ai/x/requests/" REQUEST_ID,
                        .cancel_url = BASE "/fal-ai/x/requests/" REQUEST_ID "/cancel"},
                 back;
    json_t *stored = upstream_job_to_json(&job);
    assert_int_equal(json_object_size(stored), 4);
    /* through text, as the store keeps it */
    char *text = json_dumps(stored, JSON_COMPACT);
    json_decref(stored);
    json_t *loaded = json_loads(text, 0, NULL);
    free(text);
    assert_true(upstream_job_from_json(loaded, &back));
    json_decref(loaded);
    assert_memory_equal(&job, &back, sizeof(job));

    upstream_job bare = {.id = "video_1"};
    stored = upstream_job_to_json(&bare);
    assert_int_equal(json_object_size(stored), 1);
    assert_null(json_object_get(stored, "status_url"));
    assert_null(json_object_get(stored, "result_url"));
    assert_null(json_object_get(stored, "cancel_url"));
    assert_true(upstream_job_from_json(stored, &back));
    assert_string_equal(back.id, "video_1");
    assert_string_equal(back.status_url, "");
    json_decref(stored);

    static const char *const broken[] = {
        "{\"status_url\":\"x\"}", "{\"id\":\"\"}", "{\"id\":7}", "{\"id\":null}", "[\"j1\"]", "\"j1\"", NULL,
    };
    for (size_t i = 0; broken[i]; i++) {
        json_t *value = json_loads(broken[i], JSON_DECODE_ANY, NULL);
        assert_non_null(value);
        assert_false(upstream_job_from_json(value, &back));
        json_decref(value);
    }
    assert_false(upstream_job_from_json(NULL, &back));
    char *huge = with_huge_string("{\"id\":\"j1\",\"status_url\":\"https://q/%s\"}");
    json_t *too_long = json_loads(huge, 0, NULL);
    free(huge);
    assert_false(upstream_job_from_json(too_long, &back));
    json_decref(too_long);
    huge = with_huge_string("{\"id\":\"%s\"}");
    too_long = json_loads(huge, 0, NULL);
    free(huge);
    assert_false(upstream_job_from_json(too_long, &back));
    json_decref(too_long);
}

static void errors_stay_valid_utf8(void **state)
{
    (void)state;
    upstream_outcome out;
    /* 300 three-byte characters: cut to fit, never inside a character */
    char wide[1024] = "";
    for (int i = 0; i < 300; i++)
        strcat(wide, "\xe6\x97\xa5");
    memset(&out, 0, sizeof(out));
    upstream_set_error(&out, "generation_failed", wide);
    assert_string_equal(out.error_code, "generation_failed");
    assert_int_equal(strlen(out.error_message), 510); /* 170 whole characters */
    json_t *as_json = json_string(out.error_message);
    assert_non_null(as_json);
    json_decref(as_json);
    /* four-byte characters */
    wide[0] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(wide, "\xf0\x9f\x8e\xac");
    upstream_set_error(&out, "generation_failed", wide);
    assert_int_equal(strlen(out.error_message), 508);
    as_json = json_string(out.error_message);
    assert_non_null(as_json);
    json_decref(as_json);
    /* a message someone else cut inside a character loses only that character */
    upstream_set_error(&out, "upstream_error", "caf\xc3");
    assert_string_equal(out.error_message, "caf");
    upstream_set_error(&out, "upstream_error", "\xe6\x97");
    assert_string_equal(out.error_message, "");
    upstream_set_error(&out, "upstream_error", "caf\xc3\xa9");
    assert_string_equal(out.error_message, "caf\xc3\xa9");
    /* control characters become spaces; no message: the code */
    upstream_set_error(&out, "upstream_error", "a\r\nb\x7f");
    assert_string_equal(out.error_message, "a  b ");
    upstream_set_error(&out, "upstream_error", NULL);
    assert_string_equal(out.error_message, "upstream_error");
    upstream_set_error(&out, "upstream_error", "");
    assert_string_equal(out.error_message, "upstream_error");
}

static void verdict_helpers(void **state)
{
    (void)state;
    static const struct {
        long status;
        upstream_submit_verdict verdict;
        const char *code;
    } refusals[] = {
        {400, UPSTREAM_REFUSED, "invalid_parameters"},   {422, UPSTREAM_REFUSED, "invalid_parameters"},
        {401, UPSTREAM_REFUSED, "upstream_auth_failed"}, {403, UPSTREAM_REFUSED, "upstream_auth_failed"},
        {404, UPSTREAM_REFUSED, "upstream_error"},       {409, UPSTREAM_REFUSED, "upstream_error"},
        {429, UPSTREAM_THROTTLED, "upstream_error"},     {500, UPSTREAM_REFUSED, "upstream_error"},
        {503, UPSTREAM_REFUSED, "upstream_error"},
    };
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        upstream_response response = {.status = refusals[i].status, .retry_after = "9"};
        upstream_outcome out;
        memset(&out, 0, sizeof(out));
        upstream_refusal(&response, NOW, "the words", &out);
        assert_int_equal(out.verdict, refusals[i].verdict);
        assert_string_equal(out.error_code, refusals[i].code);
        assert_int_equal(out.retry_after_ms, 9000);
        char expected[64];
        snprintf(expected, sizeof(expected), "upstream answered HTTP %ld: the words", refusals[i].status);
        assert_string_equal(out.error_message, expected);
    }
    upstream_response lost = {.status = 404}, busy = {.status = 503, .retry_after = "2"};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    upstream_poll_trouble(&lost, NOW, &out);
    assert_int_equal(out.phase, UPSTREAM_JOB_LOST);
    memset(&out, 0, sizeof(out));
    upstream_poll_trouble(&busy, NOW, &out);
    assert_int_equal(out.phase, UPSTREAM_JOB_RETRY);
    assert_int_equal(out.retry_after_ms, 2000);
    assert_string_equal(out.error_message, "upstream answered HTTP 503");

    /* objects only, no duplicate keys */
    upstream_response answer = {.status = 200, .body = "{\"a\":1}", .body_size = 7};
    json_t *object = upstream_parse_object(&answer);
    assert_non_null(object);
    json_decref(object);
    answer.body = "{\"a\":1,\"a\":2}", answer.body_size = strlen(answer.body);
    assert_null(upstream_parse_object(&answer));
    answer.body = "[1]", answer.body_size = 3;
    assert_null(upstream_parse_object(&answer));
    answer.body = "{\"a\":1} trailing", answer.body_size = strlen(answer.body);
    assert_null(upstream_parse_object(&answer));
    answer.body = NULL, answer.body_size = 0;
    assert_null(upstream_parse_object(&answer));
}

static void credentials_and_registry(void **state)
{
    (void)state;
    assert_true(upstream_credential_shape("abc", '\0'));
    assert_true(upstream_credential_shape("a:b", ':'));
    assert_false(upstream_credential_shape("ab", ':'));
    assert_false(upstream_credential_shape("a:", ':'));
    assert_false(upstream_credential_shape(":b", ':'));
    assert_false(upstream_credential_shape("a b", '\0'));
    assert_false(upstream_credential_shape("a\tb", '\0'));
    assert_false(upstream_credential_shape("caf\xc3\xa9", '\0'));
    char *long_key = with_huge_string("%s");
    assert_false(upstream_credential_shape(long_key, '\0'));
    free(long_key);
    char first[8], second[8];
    assert_true(upstream_credential_split("ak:sk:x", first, sizeof(first), second, sizeof(second)));
    assert_string_equal(first, "ak");
    assert_string_equal(second, "sk:x");
    assert_false(upstream_credential_split("nocolon", first, sizeof(first), second, sizeof(second)));
    assert_false(upstream_credential_split("toolongfirst:b", first, sizeof(first), second, sizeof(second)));
    assert_false(upstream_credential_split("a:toolongsecond", first, sizeof(first), second, sizeof(second)));

    static const char *const names[] = {"sandbox", "fal", "sync", "kling", "openai", "creatify", NULL};
    size_t count = 0;
    for (const upstream_provider *const *p = upstream_providers(); *p; p++)
        count++;
    assert_int_equal(count, 6);
    for (size_t i = 0; names[i]; i++) {
        const upstream_provider *p = upstream_provider_find(names[i]);
        assert_non_null(p);
        assert_string_equal(p->name, names[i]);
    }
    assert_null(upstream_provider_find("replicate"));
    assert_null(upstream_provider_find(NULL));
    json_t *params = json_pack("{s:s, s:i}", "mode", "pro", "duration", 8);
    assert_string_equal(upstream_param_string(params, "mode", "std"), "pro");
    assert_string_equal(upstream_param_string(params, "duration", "x"), "x");
    assert_string_equal(upstream_param_string(params, "absent", "std"), "std");
    assert_string_equal(upstream_param_string(NULL, "mode", "std"), "std");
    json_decref(params);
}

/* ---- webhooks ---- */

/* A JWKS holding the public key of seed, and fal's headers for body signed with that key at `timestamp`. */
typedef struct fal_signed {
    char jwks[256];
    char timestamp[24];
    char signature[2 * crypto_sign_BYTES + 1];
} fal_signed;

static void fal_sign(unsigned char seed_byte, const char *request_id, const char *user_id,
                     long long timestamp, const char *body, fal_signed *out)
{
    unsigned char seed[crypto_sign_SEEDBYTES], public_key[crypto_sign_PUBLICKEYBYTES],
        secret_key[crypto_sign_SECRETKEYBYTES];
    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(crypto_sign_seed_keypair(public_key, secret_key, seed), 0);
    char x[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(x, sizeof(x), public_key, sizeof(public_key), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out->jwks, sizeof(out->jwks), "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
             x);
    snprintf(out->timestamp, sizeof(out->timestamp), "%lld", timestamp);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char digest_hex[2 * crypto_hash_sha256_BYTES + 1], message[512];
    crypto_hash_sha256(digest, (const unsigned char *)body, strlen(body));
    sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
    snprintf(message, sizeof(message), "%s\n%s\n%s\n%s", request_id, user_id, out->timestamp, digest_hex);
    unsigned char signature[crypto_sign_BYTES];
    assert_int_equal(
        crypto_sign_detached(signature, NULL, (const unsigned char *)message, strlen(message), secret_key),
        0);
    sodium_bin2hex(out->signature, sizeof(out->signature), signature, sizeof(signature));
}

static void fal_headers(webhook_fixture *w, const fal_signed *s)
{
    webhook_header(w, "x-fal-webhook-request-id", REQUEST_ID);
    webhook_header(w, "x-fal-webhook-user-id", "user_test");
    webhook_header(w, "x-fal-webhook-timestamp", s->timestamp);
    webhook_header(w, "x-fal-webhook-signature", s->signature);
}

static void webhooks_are_signed_under_the_published_keys(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    static const char body[] = "{\"request_id\":\"" REQUEST_ID "\",\"status\":\"OK\",\"payload\":{}}";
    fal_signed good, other_key, stale;
    fal_sign(0x01, REQUEST_ID, "user_test", NOW, body, &good);
    fal_sign(0x02, REQUEST_ID, "user_test", NOW, body, &other_key);
    fal_sign(0x01, REQUEST_ID, "user_test", NOW - WEBHOOK_TOLERANCE_SECONDS - 1, body, &stale);
    const char *reason;
    webhook_fixture w;

    /* signed: no channel secret needed */
    webhook_init(&w, body, NULL, good.jwks);
    fal_headers(&w, &good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_VERIFIED);
    webhook_init(&w, body, "a channel secret is not used", good.jwks);
    fal_headers(&w, &good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_VERIFIED);
    /* keys not loaded yet: nothing can be checked */
    webhook_init(&w, body, NULL, NULL);
    fal_headers(&w, &good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_KEYS_MISSING);
    /* bad signatures: another key, a changed body, a replay, no headers at all */
    webhook_init(&w, body, NULL, good.jwks);
    fal_headers(&w, &other_key);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "bad signature");
    webhook_init(&w, "{\"request_id\":\"" REQUEST_ID "\",\"status\":\"ERROR\",\"payload\":{}}", NULL,
                 good.jwks);
    fal_headers(&w, &good);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    webhook_init(&w, body, NULL, good.jwks);
    fal_headers(&w, &stale);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    webhook_init(&w, body, NULL, good.jwks);
    assert_int_equal(webhook_verdict(&w, &reason), UPSTREAM_WEBHOOK_REFUSED);
    assert_string_equal(reason, "bad signature");
}

static void webhook_entry_keys_and_job_id(void **state)
{
    (void)state;
    const upstream_provider *p = provider();
    /* asked for on every submit, secret or not; signed under the keys fal publishes */
    assert_webhook_entry(true, true, "https://rest.alpha.fal.ai/.well-known/jwks.json");
    assert_non_null(p->webhook_keys_count);
    assert_int_equal(p->webhook_keys_count("{\"keys\":[{\"kty\":\"OKP\"},{\"kty\":\"OKP\"}]}"), 2);
    assert_int_equal(p->webhook_keys_count("{\"keys\":[]}"), 0);
    assert_int_equal(p->webhook_keys_count("{\"keys\":{}}"), -1);
    assert_int_equal(p->webhook_keys_count("{\"other\":[]}"), -1);
    assert_int_equal(p->webhook_keys_count("<html>"), -1);
    assert_int_equal(p->webhook_keys_count(""), -1);
    assert_webhook_job_id("{\"request_id\":\"" REQUEST_ID "\",\"id\":\"other\"}", REQUEST_ID);
    assert_webhook_job_id("{\"id\":\"other\"}", "");
    assert_webhook_job_id("{\"request_id\":7}", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_lists_models_options_and_credential),
        cmocka_unit_test(every_model_goes_to_its_endpoint),
        cmocka_unit_test(lipsync_bodies),
        cmocka_unit_test(creatify_aurora_body),
        cmocka_unit_test(kling_bodies),
        cmocka_unit_test(sora_bodies),
        cmocka_unit_test(webhook_goes_in_the_query_percent_encoded),
        cmocka_unit_test(submit_that_cannot_be_built_fails_cleanly),
        cmocka_unit_test(accepted_with_the_returned_urls_on_the_channel_origin),
        cmocka_unit_test(urls_elsewhere_are_rebuilt_from_owner_and_app),
        cmocka_unit_test(refused_throttled_and_ambiguous),
        cmocka_unit_test(poll_request_uses_the_stored_status_url),
        cmocka_unit_test(statuses_202_while_waiting_200_when_completed),
        cmocka_unit_test(status_trouble_and_hostile_answers),
        cmocka_unit_test(result_success),
        cmocka_unit_test(result_failures),
        cmocka_unit_test(download_is_public_without_the_key),
        cmocka_unit_test(same_origin),
        cmocka_unit_test(retry_after),
        cmocka_unit_test(url_encode),
        cmocka_unit_test(headers_refuse_injection),
        cmocka_unit_test(job_round_trip),
        cmocka_unit_test(errors_stay_valid_utf8),
        cmocka_unit_test(verdict_helpers),
        cmocka_unit_test(credentials_and_registry),
        cmocka_unit_test(webhooks_are_signed_under_the_published_keys),
        cmocka_unit_test(webhook_entry_keys_and_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

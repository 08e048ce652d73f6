/* fuzz_upstream_responses.c — one provider's answers (status, Retry-After headers, any body) through its
 * table's parse_submit, parse_poll and parse_result, and its webhooks (three "name:value" header lines,
 * any body, with or without a channel secret and published keys) through its table's verify_webhook and
 * upstream_webhook_job_id; built once per provider (FUZZ_PROVIDER). Asserts the verdicts' shape (known
 * codes, progress -1..100, bounded retry waits, messages that are JSON-safe UTF-8 without control
 * characters), that parsing is deterministic, that whatever the answer said, every request built from it
 * that carries the credential goes to the channel's own origin and every accepted job id is path-safe,
 * and that no fuzzed webhook is ever taken as signed (nothing here holds a signing key). */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "upstream/upstream.h"

#ifndef FUZZ_PROVIDER
#error "build with -DFUZZ_PROVIDER=\"fal\" (or sync, kling, openai, creatify)"
#endif

/* A job as the provider would have named it, and a credential of the provider's form. */
static const struct {
    const char *provider, *credential, *job_id;
} fixtures[] = {
    {"fal", "fal-key-id:fal-key-secret", "80e732af-660e-45cd-bd63-580e4f2a94cc"},
    {"sync", "sk-sync-key", "6f1c3a52-8d34-4f61-9b0e-0b1f4d2c7e11"},
    {"kling", "access-key:secret-key", "784213562105651245"},
    {"openai", "sk-openai-key", "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"},
    {"creatify", "api-id:api-key", "5d3f9a8c-7e21-4b6a-9c0d-1e2f3a4b5c6d"},
};

static const long statuses[] = {200, 201, 202, 204, 299, 300, 301, 400, 401, 403, 404, 408,
                                409, 413, 422, 429, 500, 502, 503, 504, 0,   -1,  199, 2147483647};

static const upstream_provider *provider;
static const char *credential, *job_id;
static upstream_auth_cache auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    provider = upstream_provider_find(FUZZ_PROVIDER);
    FUZZ_CHECK(provider != NULL);
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
        if (strcmp(fixtures[i].provider, FUZZ_PROVIDER) == 0)
            credential = fixtures[i].credential, job_id = fixtures[i].job_id;
    FUZZ_CHECK(credential != NULL && provider->credential_valid(credential));
    return 0;
}

static bool path_safe(const char *id)
{
    if (id[0] == '\0') return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

static void check_outcome(const upstream_outcome *out)
{
    static const char *const codes[] = {"",
                                        "content_policy_violation",
                                        "invalid_parameters",
                                        "generation_failed",
                                        "upstream_error",
                                        "upstream_auth_failed",
                                        NULL};
    FUZZ_CHECK(fuzz_terminated(out->error_code, sizeof(out->error_code)));
    FUZZ_CHECK(fuzz_terminated(out->error_message, sizeof(out->error_message)));
    FUZZ_CHECK(fuzz_terminated(out->media_url, sizeof(out->media_url)));
    bool known = false;
    for (size_t i = 0; codes[i]; i++)
        known = known || strcmp(codes[i], out->error_code) == 0;
    FUZZ_CHECK(known);
    for (const char *p = out->error_message; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    FUZZ_CHECK(fuzz_utf8_valid(out->error_message, strlen(out->error_message))); /* goes into task JSON */
    FUZZ_CHECK(out->progress >= -1 && out->progress <= 100);
    FUZZ_CHECK(out->retry_after_ms >= 0 && out->retry_after_ms <= 3600 * 1000);
    FUZZ_CHECK(isfinite(out->duration) && out->duration >= 0);
}

/* A request built from what an answer said: the credential goes to the channel's origin only. */
static void check_request(const upstream_context *ctx, int built, upstream_request *request)
{
    if (built == 0) {
        FUZZ_CHECK(request->method != NULL);
        FUZZ_CHECK(fuzz_terminated(request->url, sizeof(request->url)));
        for (int i = 0; i < request->header_count; i++)
            FUZZ_CHECK(strpbrk(request->headers[i], "\r\n") == NULL);
        if (request->carries_credential) { /* a media link without the credential is the fetch guard's */
            FUZZ_CHECK(upstream_same_origin(request->url, ctx->base_url));
            for (const unsigned char *p = (const unsigned char *)request->url; *p; p++)
                FUZZ_CHECK(*p > 0x20 && *p != 0x7f);
        }
    }
    upstream_request_clear(request);
}

static void check_job(const upstream_context *ctx, const upstream_job *job)
{
    FUZZ_CHECK(fuzz_terminated(job->id, sizeof(job->id)) && path_safe(job->id));
    const char *urls[] = {job->status_url, job->result_url, job->cancel_url};
    for (size_t i = 0; i < 3; i++)
        if (urls[i][0] != '\0') FUZZ_CHECK(upstream_same_origin(urls[i], ctx->base_url));
    upstream_request request;
    memset(&request, 0, sizeof(request));
    check_request(ctx, provider->build_poll(ctx, job, &request), &request);
    if (provider->build_result) check_request(ctx, provider->build_result(ctx, job, &request), &request);
    if (provider->build_cancel) check_request(ctx, provider->build_cancel(ctx, job, &request), &request);
}

/* A webhook with the header lines given ("name:value"; a line without ':' is left out), a secret when
 * shape bit 0 is set and a key document (none of whose keys signed anything here) when bit 1 is. */
static void fuzz_webhook(uint8_t shape, char *lines[3], const char *body, size_t body_size)
{
    static const char keys[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                               "\"x\":\"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg\"}]}";
    upstream_header headers[3];
    size_t count = 0;
    for (size_t i = 0; i < 3; i++) {
        char *colon = strchr(lines[i], ':');
        if (colon == NULL) continue;
        *colon = '\0';
        headers[count++] = (upstream_header){.name = lines[i], .value = colon + 1};
    }
    upstream_webhook hook = {.headers = headers,
                             .header_count = count,
                             .body = body,
                             .body_size = body_size,
                             .secret = (shape & 1) ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" : NULL,
                             .keys = (shape & 2) ? keys : NULL,
                             .now = 1700000000};
    if (provider->verify_webhook != NULL) {
        const char *reason = NULL, *again_reason = NULL;
        upstream_webhook_verdict verdict = provider->verify_webhook(&hook, &reason);
        FUZZ_CHECK(verdict == provider->verify_webhook(&hook, &again_reason));
        FUZZ_CHECK(verdict >= UPSTREAM_WEBHOOK_VERIFIED && verdict <= UPSTREAM_WEBHOOK_KEYS_MISSING);
        FUZZ_CHECK(verdict != UPSTREAM_WEBHOOK_VERIFIED); /* a forgery */
        FUZZ_CHECK((verdict == UPSTREAM_WEBHOOK_REFUSED) == (reason != NULL));
        if (verdict == UPSTREAM_WEBHOOK_KEYS_MISSING) FUZZ_CHECK(hook.keys == NULL);
    }
    char found[128];
    memset(found, 0x55, sizeof(found));
    upstream_webhook_job_id(provider, body, body_size, found, sizeof(found));
    FUZZ_CHECK(fuzz_terminated(found, sizeof(found)));
}

static void parse(int operation, const upstream_context *ctx, const upstream_response *response,
                  upstream_job *job, upstream_outcome *out)
{
    memset(out, 0, sizeof(*out));
    if (operation == 0)
        provider->parse_submit(ctx, response, job, out);
    else if (operation == 2 && provider->parse_result)
        provider->parse_result(ctx, response, out);
    else
        provider->parse_poll(ctx, response, job, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    int operation = fuzz_take_byte(&in) % 4;
    long status = statuses[fuzz_take_byte(&in) % (sizeof(statuses) / sizeof(statuses[0]))];
    uint8_t shape = fuzz_take_byte(&in);
    char *retry_after = fuzz_take_field(&in, '\n', NULL);
    char *retry_after_ms = fuzz_take_field(&in, '\n', NULL);
    char *poll_after_ms = fuzz_take_field(&in, '\n', NULL);
    size_t body_size = 0;
    char *body = fuzz_take_rest(&in, &body_size);

    size_t model_count = 0;
    while (provider->models[model_count].model)
        model_count++;
    json_t *params = json_object();
    upstream_context ctx = {
        .base_url = provider->default_base_url,
        .credential = credential,
        .task_id = "task-unified-1757165031-uyujaw3d",
        .model = provider->models[(shape & 0x7f) % model_count].model,
        .params = params,
        .webhook_url = "https://gateway.example/v1/upstream/channel-1/webhook",
        .now = 1700000000,
        .auth = &auth,
    };
    upstream_response response = {
        .status = status,
        .body = body,
        .body_size = body_size,
        .retry_after = retry_after[0] ? retry_after : NULL,
        .retry_after_ms = retry_after_ms[0] ? retry_after_ms : NULL,
        .poll_after_ms = poll_after_ms[0] ? poll_after_ms : NULL,
    };

    if (operation == 3) { /* a webhook: the verdict, and the job id the route will poll */
        fuzz_webhook(shape, (char *[]){retry_after, retry_after_ms, poll_after_ms}, body, body_size);
    } else {
        /* the job as it was stored at submit (with fal's URLs), or none yet (an answered lookup) */
        upstream_job job, job_again;
        memset(&job, 0, sizeof(job));
        if (operation != 0 && (shape & 0x80) == 0) {
            snprintf(job.id, sizeof(job.id), "%s", job_id);
            if (strcmp(provider->name, "fal") == 0) {
                snprintf(job.status_url, sizeof(job.status_url), "%s/fal-ai/x/requests/%s/status",
                         ctx.base_url, job_id);
                snprintf(job.result_url, sizeof(job.result_url), "%s/fal-ai/x/requests/%s", ctx.base_url,
                         job_id);
                snprintf(job.cancel_url, sizeof(job.cancel_url), "%s/fal-ai/x/requests/%s/cancel",
                         ctx.base_url, job_id);
            }
        }
        job_again = job;
        upstream_outcome out, again;
        parse(operation, &ctx, &response, &job, &out);
        parse(operation, &ctx, &response, &job_again, &again);
        FUZZ_CHECK(memcmp(&out, &again, sizeof(out)) == 0 && memcmp(&job, &job_again, sizeof(job)) == 0);
        check_outcome(&out);
        bool success = status >= 200 && status <= 299;
        if (operation == 0) {
            FUZZ_CHECK(out.verdict >= UPSTREAM_ACCEPTED && out.verdict <= UPSTREAM_AMBIGUOUS);
            if (out.verdict == UPSTREAM_ACCEPTED) {
                FUZZ_CHECK(success);
                check_job(&ctx, &job);
            } else {
                FUZZ_CHECK(out.error_code[0] != '\0');
            }
        } else {
            FUZZ_CHECK(out.phase >= UPSTREAM_JOB_QUEUED && out.phase <= UPSTREAM_JOB_LOST);
            if (job.id[0] != '\0') check_job(&ctx, &job);
            if (out.phase == UPSTREAM_JOB_FAILED) FUZZ_CHECK(out.error_code[0] != '\0');
            if (out.phase == UPSTREAM_JOB_SUCCEEDED) {
                FUZZ_CHECK(success);
                if (out.media_url[0] != '\0')
                    FUZZ_CHECK(strncasecmp(out.media_url, "https://", 8) == 0 ||
                               strncasecmp(out.media_url, "http://", 7) == 0);
                upstream_request request;
                memset(&request, 0, sizeof(request));
                check_request(&ctx, provider->build_download(&ctx, &job, &out, &request), &request);
            }
        }
    }
    json_decref(params);
    free(retry_after), free(retry_after_ms), free(poll_after_ms), free(body);
    return 0;
}

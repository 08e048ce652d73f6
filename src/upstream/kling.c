/* kling.c — the Kling official API, legacy v1 design (specs/upstream-apis.md §3): motion control.
 *
 * Submit  POST {base}/v1/videos/motion-control          Authorization: Bearer <JWT>
 * Status  GET  {base}/v1/videos/motion-control/{id}     (Kling's task_id, or our external_task_id)
 * Answers are an envelope {"code","message","request_id","data"}: code 0 is success, other codes are
 * business errors, sometimes with HTTP 200. The result is data.task_result.videos[0].url, fetched
 * without the credential.
 *
 * The credential is "ACCESS_KEY:SECRET_KEY"; requests carry an HS256 JWT {"iss":AK,"exp":now+1800,
 * "nbf":now-5} signed with the secret key. The token is kept in the channel's auth cache and reused
 * until 300 s before it expires. A cached token is reused only when it is exactly the token the
 * current credential yields for the cached expiry, which ties the cache to both keys: a changed
 * access or secret key makes a new token at once.
 * Webhooks (callback_url) are always asked for: signed Standard-Webhooks style when the channel has a
 * secret, otherwise unsigned and only a prompt to poll; the body names the job as task_id. */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"
#include "util/url_scheme.h"

enum {
    KLING_TOKEN_LIFETIME = 1800, /* exp = now + 1800 */
    KLING_NOT_BEFORE_SLACK = 5,  /* nbf = now - 5 */
    KLING_RENEW_MARGIN = 300,    /* a new token 300 s before the cached one expires */
    KLING_ACCESS_KEY_MAX = 128,
    KLING_SECRET_KEY_MAX = 256,
};

static const char *const kling_options[] = {"character_orientation", "keep_original_sound", NULL};

/* native: Kling's model_name. */
static const upstream_model kling_models[] = {
    {.model = "kling-v3-motion-control", .native = "kling-v3", .honours = kling_options},
    {.model = "kling-v2-6-motion-control", .native = "kling-v2-6", .honours = kling_options},
    {.model = NULL},
};

/* Splits the credential; the access key goes verbatim into JSON, so it may hold no '"' or '\'. */
static bool kling_keys(const char *credential, char *access_key, char *secret_key)
{
    if (!upstream_credential_shape(credential, ':') ||
        !upstream_credential_split(credential, access_key, KLING_ACCESS_KEY_MAX + 1, secret_key,
                                   KLING_SECRET_KEY_MAX + 1))
        return false;
    return access_key[0] && secret_key[0] && strpbrk(access_key, "\"\\") == NULL;
}

static bool kling_credential_valid(const char *credential)
{
    char access_key[KLING_ACCESS_KEY_MAX + 1], secret_key[KLING_SECRET_KEY_MAX + 1];
    bool valid = kling_keys(credential, access_key, secret_key);
    sodium_memzero(secret_key, sizeof(secret_key));
    return valid;
}

/* base64url without padding of data into out at *used; false when it does not fit. */
static bool b64url_append(char *out, size_t out_size, size_t *used, const void *data, size_t size)
{
    size_t need = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (*used + need > out_size) return false;
    sodium_bin2base64(out + *used, out_size - *used, data, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    *used += strlen(out + *used);
    return true;
}

/* The HS256 JWT for the access key with the given expiry (nbf = exp - 1805) into out; -1 if it does not
 * fit. */
static int kling_jwt(const char *access_key, const char *secret_key, int64_t expires_at, char *out,
                     size_t out_size)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char payload[KLING_ACCESS_KEY_MAX + 96];
    int n = snprintf(payload, sizeof(payload), "{\"iss\":\"%s\",\"exp\":%lld,\"nbf\":%lld}", access_key,
                     (long long)expires_at,
                     (long long)(expires_at - KLING_TOKEN_LIFETIME - KLING_NOT_BEFORE_SLACK));
    if (n < 0 || (size_t)n >= sizeof(payload) || out_size == 0) return -1;
    size_t used = 0;
    if (!b64url_append(out, out_size, &used, header, strlen(header)) || used + 1 >= out_size) return -1;
    out[used++] = '.';
    if (!b64url_append(out, out_size, &used, payload, (size_t)n) || used + 1 >= out_size) return -1;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, (const unsigned char *)secret_key, strlen(secret_key));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)out, used);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof(state));
    out[used++] = '.';
    if (!b64url_append(out, out_size, &used, mac, sizeof(mac))) return -1;
    return 0;
}

/* The bearer token for this request: the cached one while it is the credential's own and more than
 * KLING_RENEW_MARGIN seconds from expiry (and already valid: nbf ≤ now), else a new one, cached. */
static const char *kling_token(const upstream_context *ctx)
{
    char access_key[KLING_ACCESS_KEY_MAX + 1], secret_key[KLING_SECRET_KEY_MAX + 1];
    const char *token = NULL;
    upstream_auth_cache *cache = ctx->auth;
    if (cache == NULL || !kling_keys(ctx->credential, access_key, secret_key)) goto done;
    int64_t expires_at = cache->expires_at;
    if (expires_at != 0 && ctx->now < expires_at - KLING_RENEW_MARGIN &&
        expires_at - KLING_TOKEN_LIFETIME - KLING_NOT_BEFORE_SLACK <= ctx->now) {
        char expected[sizeof(cache->token)];
        if (kling_jwt(access_key, secret_key, expires_at, expected, sizeof(expected)) == 0 &&
            strcmp(expected, cache->token) == 0) {
            token = cache->token;
            goto done;
        }
    }
    expires_at = ctx->now + KLING_TOKEN_LIFETIME;
    if (kling_jwt(access_key, secret_key, expires_at, cache->token, sizeof(cache->token)) != 0) {
        cache->token[0] = '\0';
        cache->expires_at = 0;
        goto done;
    }
    cache->expires_at = expires_at;
    token = cache->token;
done:
    sodium_memzero(secret_key, sizeof(secret_key));
    return token;
}

/* Task ids go into URL paths: [A-Za-z0-9_-] only (Kling's are digits; ours are task-unified-…). */
static bool kling_id_is_sane(const char *id)
{
    size_t length = id ? strlen(id) : 0;
    if (length == 0 || length >= sizeof(((upstream_job *)0)->id)) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

/* A string parameter restricted to two values (the catalog's enum), or NULL. */
static const char *kling_choice(const json_t *params, const char *name, const char *fallback, const char *a,
                                const char *b)
{
    const char *value = upstream_param_string(params, name, fallback);
    return strcmp(value, a) == 0 || strcmp(value, b) == 0 ? value : NULL;
}

static int kling_authorized(const upstream_context *ctx, upstream_request *out)
{
    const char *token = kling_token(ctx);
    if (token == NULL) return -1;
    out->carries_credential = true;
    return upstream_add_header(out, "Authorization: Bearer %s", token) == 0 &&
                   upstream_add_header(out, "Accept: application/json") == 0
               ? 0
               : -1;
}

static int kling_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    const upstream_model *row = upstream_provider_model(&upstream_kling, ctx->model);
    const char *model_name = row ? row->native : NULL;
    if (model_name == NULL) {
        snprintf(err, err_size, "kling serves no model named %s", ctx->model ? ctx->model : "(none)");
        return -1;
    }
    const json_t *params = ctx->params;
    const char *image_url = upstream_param_string(params, "image_url", NULL);
    const char *video_url = upstream_param_string(params, "video_url", NULL);
    const char *prompt = upstream_param_string(params, "prompt", NULL);
    const char *orientation = kling_choice(params, "character_orientation", "image", "image", "video");
    const char *mode = kling_choice(params, "mode", "std", "std", "pro");
    const char *sound = kling_choice(params, "keep_original_sound", "yes", "yes", "no");
    if (image_url == NULL || video_url == NULL) {
        snprintf(err, err_size, "image_url and video_url are required");
        return -1;
    }
    if (orientation == NULL || mode == NULL || sound == NULL) {
        snprintf(err, err_size,
                 "character_orientation, mode or keep_original_sound has a value Kling does not take");
        return -1;
    }
    if (ctx->task_id == NULL || !kling_id_is_sane(ctx->task_id)) {
        snprintf(err, err_size, "the task id cannot serve as Kling's external_task_id");
        return -1;
    }
    out->method = "POST";
    int n = snprintf(out->url, sizeof(out->url), "%s/v1/videos/motion-control", ctx->base_url);
    if (n < 0 || (size_t)n >= sizeof(out->url)) {
        snprintf(err, err_size, "the Kling request URL is too long");
        return -1;
    }
    if (kling_authorized(ctx, out) != 0) {
        snprintf(err, err_size, "the Kling credential cannot make a token (expected ACCESS_KEY:SECRET_KEY)");
        return -1;
    }
    json_t *body = json_object();
    json_object_set_new(body, "model_name", json_string(model_name));
    json_object_set_new(body, "image_url", json_string(image_url));
    json_object_set_new(body, "video_url", json_string(video_url));
    if (prompt != NULL && prompt[0] != '\0') json_object_set_new(body, "prompt", json_string(prompt));
    json_object_set_new(body, "character_orientation", json_string(orientation));
    json_object_set_new(body, "mode", json_string(mode));
    json_object_set_new(body, "keep_original_sound", json_string(sound));
    if (ctx->webhook_url != NULL) json_object_set_new(body, "callback_url", json_string(ctx->webhook_url));
    json_object_set_new(body, "external_task_id", json_string(ctx->task_id));
    if (upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the Kling request could not be built");
        return -1;
    }
    return 0;
}

/* The envelope's code and message; has_code false when there is no integer code. */
static bool kling_envelope(const json_t *body, long long *code, char *message, size_t message_size)
{
    const json_t *code_value = json_object_get(body, "code");
    const json_t *message_value = json_object_get(body, "message");
    snprintf(message, message_size, "%s",
             json_is_string(message_value) ? json_string_value(message_value) : "");
    if (!json_is_integer(code_value)) return false;
    *code = json_integer_value(code_value);
    return true;
}

/* A submit answer that is not a success, read by its business code (§3.7) when it has one. */
static void kling_refusal(const upstream_context *ctx, const upstream_response *response, bool has_code,
                          long long code, const char *message, upstream_outcome *out)
{
    char text[360];
    if (has_code)
        snprintf(text, sizeof(text), "code %lld: %.300s", code, message[0] ? message : "(no message)");
    else
        snprintf(text, sizeof(text), "%.300s", message);
    upstream_refusal(response, ctx->now, text, out);
    if (!has_code) return; /* the HTTP status decides: 429 → THROTTLED, else REFUSED */
    char words[sizeof(out->error_message)];
    snprintf(words, sizeof(words), "%s", out->error_message);
    if (code == 1302 || code == 1303) {
        /* request rate / concurrency over the resource pack: wait, the task is not at fault */
        out->verdict = UPSTREAM_THROTTLED;
        return;
    }
    out->verdict = UPSTREAM_REFUSED; /* 1100–1102, 1304 (account trouble) too: another channel may take it */
    if (code == 1300 || code == 1301)
        upstream_set_error(out, "content_policy_violation", words);
    else if (code == 1200 || code == 1201)
        upstream_set_error(out, "invalid_parameters", words);
    else if ((code >= 1000 && code <= 1004) || code == 1103)
        upstream_set_error(out, "upstream_auth_failed", words);
    else
        upstream_set_error(out, "upstream_error", words);
}

static void kling_parse_submit(const upstream_context *ctx, const upstream_response *response,
                               upstream_job *job, upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    out->progress = -1;
    long long code = 0;
    char message[320];
    bool has_code = kling_envelope(body, &code, message, sizeof(message));
    bool success = response->status >= 200 && response->status <= 299;
    if (!success || (has_code && code != 0)) {
        kling_refusal(ctx, response, has_code, code, message, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    const json_t *data = json_object_get(body, "data");
    if (!has_code || !upstream_copy_string(data, "task_id", job->id, sizeof(job->id)) ||
        !kling_id_is_sane(job->id)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error",
                           "Kling accepted the request but its answer could not be read");
        json_decref(body);
        return;
    }
    out->verdict = UPSTREAM_ACCEPTED;
    json_decref(body);
}

static int kling_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!kling_id_is_sane(job->id)) return -1;
    out->method = "GET";
    int n = snprintf(out->url, sizeof(out->url), "%s/v1/videos/motion-control/%s", ctx->base_url, job->id);
    if (n < 0 || (size_t)n >= sizeof(out->url)) return -1;
    return kling_authorized(ctx, out);
}

static const char *kling_failure_code(const char *text)
{
    static const char *const words[] = {"risk", "policy",        "sensitive", "moderation", "safety",
                                        "nsfw", "inappropriate", "violat",    NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return "content_policy_violation";
    return "generation_failed";
}

/* The first video of a succeeded task: its http(s) url and its duration ("9.066", a string). */
static bool kling_video(const json_t *data, upstream_outcome *out)
{
    const json_t *videos = json_object_get(json_object_get(data, "task_result"), "videos");
    const json_t *video = json_is_array(videos) ? json_array_get(videos, 0) : NULL;
    if (!upstream_copy_string(video, "url", out->media_url, sizeof(out->media_url)) ||
        out->media_url[0] == '\0' || url_scheme_http_length(out->media_url) == 0) {
        out->media_url[0] = '\0';
        return false;
    }
    const json_t *duration = json_object_get(video, "duration");
    double seconds = 0;
    if (json_is_string(duration)) {
        char *end = NULL;
        seconds = strtod(json_string_value(duration), &end);
        if (end == json_string_value(duration)) seconds = 0;
    } else if (json_is_number(duration)) {
        seconds = json_number_value(duration);
    }
    out->duration = isfinite(seconds) && seconds > 0 ? seconds : 0;
    return true;
}

static void kling_parse_poll(const upstream_context *ctx, const upstream_response *response,
                             upstream_job *job, upstream_outcome *out)
{
    out->progress = -1; /* Kling states no number */
    json_t *body = upstream_parse_object(response);
    long long code = 0;
    char message[320];
    bool has_code = kling_envelope(body, &code, message, sizeof(message));
    /* 1203 (resource not found), or a message saying the task is unknown */
    bool not_found =
        has_code && code != 0 &&
        (code == 1203 || (strcasestr(message, "task") != NULL && (strcasestr(message, "not found") != NULL ||
                                                                  strcasestr(message, "not exist") != NULL)));
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out); /* 404 → LOST, else RETRY … */
        if (has_code && code != 0)
            out->phase = not_found ? UPSTREAM_JOB_LOST : UPSTREAM_JOB_RETRY; /* … unless the code says */
        json_decref(body);
        return;
    }
    if (!has_code || code != 0) {
        out->phase = not_found ? UPSTREAM_JOB_LOST : UPSTREAM_JOB_RETRY;
        char text[400];
        if (has_code)
            snprintf(text, sizeof(text), "Kling answered code %lld: %.300s", code, message);
        else
            snprintf(text, sizeof(text), "Kling's status answer could not be read");
        upstream_set_error(out, "upstream_error", text);
        json_decref(body);
        return;
    }
    const json_t *data = json_object_get(body, "data");
    char task_id[sizeof(job->id)];
    if (job != NULL && upstream_copy_string(data, "task_id", task_id, sizeof(task_id)) &&
        kling_id_is_sane(task_id))
        snprintf(job->id, sizeof(job->id), "%s", task_id); /* later polls use Kling's own id */
    const json_t *status_value = json_object_get(data, "task_status");
    const char *status = json_is_string(status_value) ? json_string_value(status_value) : NULL;
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "Kling's status answer could not be read");
    } else if (strcmp(status, "submitted") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "processing") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "succeed") == 0 || strcmp(status, "succeeded") == 0) {
        if (kling_video(data, out)) {
            out->phase = UPSTREAM_JOB_SUCCEEDED;
        } else {
            out->phase = UPSTREAM_JOB_FAILED;
            upstream_set_error(out, "generation_failed",
                               "Kling reported the task succeed without a video URL");
        }
    } else if (strcmp(status, "failed") == 0) {
        const json_t *reason = json_object_get(data, "task_status_msg");
        const char *text = json_is_string(reason) && json_string_length(reason) > 0
                               ? json_string_value(reason)
                               : "Kling reported the task failed";
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(out, kling_failure_code(text), text);
    } else {
        char text[160];
        snprintf(text, sizeof(text), "Kling answered an unknown task_status %.100s", status);
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", text);
    }
    json_decref(body);
}

/* A submission that went unanswered is queried by our external_task_id in the task id's slot; the
 * answer is read by parse_poll, which then switches job->id to Kling's own task_id. */
static int kling_build_lookup(const upstream_context *ctx, upstream_request *out, upstream_job *job)
{
    if (ctx->task_id == NULL || !kling_id_is_sane(ctx->task_id)) return -1;
    memset(job, 0, sizeof(*job));
    snprintf(job->id, sizeof(job->id), "%s", ctx->task_id);
    return kling_build_poll(ctx, job, out);
}

/* Standard Webhooks when the channel has a secret; without one Kling's callbacks are unsigned by design
 * and only prompt a poll. */
static upstream_webhook_verdict kling_verify_webhook(const upstream_webhook *hook, const char **reason)
{
    if (hook->secret == NULL) return UPSTREAM_WEBHOOK_UNSIGNED;
    return upstream_webhook_verify_standard(hook, reason);
}

const upstream_provider upstream_kling = {
    .name = "kling",
    .default_base_url = "https://api-singapore.klingai.com",
    .credential_form = "ACCESS_KEY:SECRET_KEY",
    .models = kling_models,
    .credential_valid = kling_credential_valid,
    .build_submit = kling_build_submit,
    .parse_submit = kling_parse_submit,
    .build_poll = kling_build_poll,
    .parse_poll = kling_parse_poll,
    .build_result = NULL,
    .parse_result = NULL,
    .build_download = upstream_build_link_download, /* Kling's CDN: the token never goes there */
    .build_cancel = NULL,
    .build_lookup = kling_build_lookup,
    .lookup_is_submit = false,
    .webhook_ask = UPSTREAM_WEBHOOK_ALWAYS, /* callback_url: signed with a secret, else a prompt to poll */
    .verify_webhook = kling_verify_webhook,
    .webhook_job_id_field = "task_id",
};

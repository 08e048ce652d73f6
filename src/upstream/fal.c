/* fal.c — the fal.ai queue API (specs/upstream-apis.md §1): all eight models.
 *
 * Submit  POST {base}/{endpoint_id}[?fal_webhook=…]   Authorization: Key <key>
 * Status  GET  {status_url}  (202 while IN_QUEUE / IN_PROGRESS, 200 when COMPLETED)
 * Result  GET  {response_url} → the model's output ({"video":{"url":…}}) or the model's error
 * Cancel  PUT  {cancel_url}
 * The status, result and cancel URLs are those of the submit answer when they point at the channel's
 * own origin; otherwise they are built from the endpoint's first two path segments (owner/app).
 * Webhooks: always asked for (?fal_webhook=), Ed25519-signed under fal's published JWKS, naming the job
 * as request_id. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/webhook_verify.h"
#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"
#include "util/url_scheme.h"

/* Which input body a model takes (fal_input). */
enum { FAL_LIPSYNC = 1, FAL_AURORA, FAL_KLING, FAL_SORA };

static const char *const fal_aurora_options[] = {"guidance_scale", "audio_guidance_scale", NULL};
static const char *const fal_kling_options[] = {"character_orientation", "keep_original_sound", NULL};
static const char *const fal_sora_options[] = {"character_ids", NULL};

/* Endpoint ids; {tier} is "pro" or "standard" (the mode parameter), {input} "image" or "text" (whether
 * image_urls were given). fal's lip-sync v2 takes neither temperature nor active_speaker. */
static const upstream_model fal_models[] = {
    {"lipsync-2", "fal-ai/sync-lipsync/v2", NULL, FAL_LIPSYNC},
    {"lipsync-2-pro", "fal-ai/sync-lipsync/v2/pro", NULL, FAL_LIPSYNC},
    {"sync-3", "fal-ai/sync-lipsync/v3", NULL, FAL_LIPSYNC},
    {"creatify-aurora", "fal-ai/creatify/aurora", fal_aurora_options, FAL_AURORA},
    {"kling-v3-motion-control", "fal-ai/kling-video/v3/{tier}/motion-control", fal_kling_options, FAL_KLING},
    {"kling-v2-6-motion-control", "fal-ai/kling-video/v2.6/{tier}/motion-control", fal_kling_options,
     FAL_KLING},
    {"sora-2", "fal-ai/sora-2/{input}-to-video", fal_sora_options, FAL_SORA},
    {"sora-2-pro", "fal-ai/sora-2/{input}-to-video/pro", fal_sora_options, FAL_SORA},
    {NULL, NULL, NULL, 0},
};

static bool fal_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, '\0');
}

/* The endpoint id for a task, e.g. "fal-ai/kling-video/v2.6/pro/motion-control": the model's row with
 * its placeholders filled. */
static int fal_endpoint(const char *model, const json_t *params, char *out, size_t out_size, char *err,
                        size_t err_size)
{
    const upstream_model *row = upstream_provider_model(&upstream_fal, model);
    if (row == NULL) {
        snprintf(err, err_size, "fal serves no model named %s", model ? model : "(none)");
        return -1;
    }
    const char *tier = strcmp(upstream_param_string(params, "mode", "std"), "pro") == 0 ? "pro" : "standard";
    const char *input = json_array_size(json_object_get(params, "image_urls")) > 0 ? "image" : "text";
    size_t used = 0;
    for (const char *p = row->native; *p;) {
        const char *fill = NULL;
        size_t skip = 1;
        if (strncmp(p, "{tier}", 6) == 0)
            fill = tier, skip = 6;
        else if (strncmp(p, "{input}", 7) == 0)
            fill = input, skip = 7;
        size_t length = fill ? strlen(fill) : 1;
        if (used + length >= out_size) {
            snprintf(err, err_size, "the fal endpoint id is too long");
            return -1;
        }
        memcpy(out + used, fill ? fill : p, length);
        used += length, p += skip;
    }
    out[used] = '\0';
    return 0;
}

static void copy_param(json_t *body, const json_t *params, const char *from, const char *to)
{
    json_t *value = json_object_get(params, from);
    if (value != NULL && !json_is_null(value)) json_object_set(body, to, value);
}

static json_t *fal_input(const upstream_context *ctx, char *err, size_t err_size)
{
    const json_t *params = ctx->params;
    const char *model = ctx->model;
    const upstream_model *row = upstream_provider_model(&upstream_fal, model);
    if (row == NULL) {
        snprintf(err, err_size, "fal serves no model named %s", model ? model : "(none)");
        return NULL;
    }
    json_t *body = json_object();
    if (row->variant == FAL_LIPSYNC) {
        copy_param(body, params, "video_url", "video_url");
        copy_param(body, params, "audio_url", "audio_url");
        copy_param(body, params, "sync_mode", "sync_mode");
    } else if (row->variant == FAL_AURORA) {
        copy_param(body, params, "image_url", "image_url");
        copy_param(body, params, "audio_url", "audio_url");
        copy_param(body, params, "prompt", "prompt");
        copy_param(body, params, "guidance_scale", "guidance_scale");
        copy_param(body, params, "audio_guidance_scale", "audio_guidance_scale");
        copy_param(body, params, "resolution", "resolution");
    } else if (row->variant == FAL_KLING) {
        copy_param(body, params, "image_url", "image_url");
        copy_param(body, params, "video_url", "video_url");
        copy_param(body, params, "prompt", "prompt");
        json_object_set_new(body, "character_orientation",
                            json_string(upstream_param_string(params, "character_orientation", "image")));
        json_object_set_new(
            body, "keep_original_sound",
            json_boolean(strcmp(upstream_param_string(params, "keep_original_sound", "yes"), "no") != 0));
    } else { /* FAL_SORA: sora-2, sora-2-pro */
        bool pro = strcmp(model, "sora-2-pro") == 0;
        const char *aspect = upstream_param_string(params, "aspect_ratio", "16:9");
        const char *resolution = upstream_param_string(params, "resolution", "720p");
        if (!pro && strcmp(resolution, "720p") != 0) {
            snprintf(err, err_size, "sora-2 on fal renders 720p only; use sora-2-pro for %s", resolution);
            json_decref(body);
            return NULL;
        }
        copy_param(body, params, "prompt", "prompt");
        json_object_set_new(
            body, "aspect_ratio",
            json_string(strcmp(aspect, "9:16") == 0 || strcmp(aspect, "720x1280") == 0 ? "9:16" : "16:9"));
        json_t *duration = json_object_get(params, "duration");
        char seconds[16];
        snprintf(seconds, sizeof(seconds), "%lld",
                 json_is_integer(duration) ? (long long)json_integer_value(duration) : 4LL);
        json_object_set_new(body, "duration", json_string(seconds));
        json_object_set_new(body, "resolution", json_string(resolution));
        json_t *images = json_object_get(params, "image_urls");
        if (json_array_size(images) > 0) json_object_set(body, "image_url", json_array_get(images, 0));
        copy_param(body, params, "character_ids", "character_ids");
    }
    return body;
}

static int fal_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    char endpoint[128];
    if (fal_endpoint(ctx->model, ctx->params, endpoint, sizeof(endpoint), err, err_size) != 0) return -1;
    json_t *body = fal_input(ctx, err, err_size);
    if (body == NULL) return -1;
    out->method = "POST";
    int n;
    if (ctx->webhook_url != NULL) {
        char encoded[UPSTREAM_URL_SIZE];
        if (upstream_url_encode(ctx->webhook_url, encoded, sizeof(encoded)) != 0) goto too_long;
        n = snprintf(out->url, sizeof(out->url), "%s/%s?fal_webhook=%s", ctx->base_url, endpoint, encoded);
    } else {
        n = snprintf(out->url, sizeof(out->url), "%s/%s", ctx->base_url, endpoint);
    }
    if (n < 0 || (size_t)n >= sizeof(out->url)) goto too_long;
    out->carries_credential = true;
    if (upstream_add_header(out, "Authorization: Key %s", ctx->credential) != 0 ||
        upstream_add_header(out, "Accept: application/json") != 0) {
        json_decref(body); /* upstream_set_json_body was not reached: the body is still ours */
        snprintf(err, err_size, "the fal request could not be built");
        return -1;
    }
    if (upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the fal request could not be built");
        return -1;
    }
    return 0;
too_long:
    json_decref(body);
    snprintf(err, err_size, "the fal request URL is too long");
    return -1;
}

/* {base}/{owner}/{app}/requests/{id}{suffix}, from the model's endpoint id. */
static void fal_job_url(const upstream_context *ctx, const char *id, const char *suffix, char *out,
                        size_t out_size)
{
    char endpoint[128], err[64];
    out[0] = '\0';
    if (fal_endpoint(ctx->model, ctx->params, endpoint, sizeof(endpoint), err, sizeof(err)) != 0) return;
    char *second_slash = strchr(endpoint, '/');
    if (second_slash) second_slash = strchr(second_slash + 1, '/');
    if (second_slash) *second_slash = '\0';
    int n = snprintf(out, out_size, "%s/%s/requests/%s%s", ctx->base_url, endpoint, id, suffix);
    if (n < 0 || (size_t)n >= out_size) out[0] = '\0';
}

/* A request id goes into URL paths: only UUID-like characters. */
static bool fal_id_is_sane(const char *id)
{
    if (id[0] == '\0') return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

/* A URL without spaces or control characters (curl refuses those, or worse, sends them). */
static bool fal_url_is_clean(const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return false;
    return true;
}

/* Takes the answer's URL when it is on the channel's origin, else builds it. */
static void fal_pick_url(const upstream_context *ctx, const json_t *answer, const char *key, const char *id,
                         const char *suffix, char *out, size_t out_size)
{
    if (upstream_copy_string(answer, key, out, out_size) && out[0] && fal_url_is_clean(out) &&
        upstream_same_origin(out, ctx->base_url))
        return;
    fal_job_url(ctx, id, suffix, out, out_size);
}

/* The text of a fal error body: "detail" as a string, or the first item's msg, or error_type. */
static void fal_error_text(const json_t *body, char *out, size_t out_size)
{
    out[0] = '\0';
    const json_t *detail = json_object_get(body, "detail");
    if (json_is_string(detail)) {
        snprintf(out, out_size, "%s", json_string_value(detail));
    } else if (json_is_array(detail) && json_array_size(detail) > 0) {
        const json_t *first = json_array_get(detail, 0);
        const json_t *msg = json_object_get(first, "msg");
        const json_t *loc = json_object_get(first, "loc");
        const json_t *field = json_is_array(loc) ? json_array_get(loc, json_array_size(loc) - 1) : NULL;
        snprintf(out, out_size, "%s%s%s", json_is_string(field) ? json_string_value(field) : "",
                 json_is_string(field) ? ": " : "",
                 json_is_string(msg) ? json_string_value(msg) : "invalid input");
    } else if (json_is_string(json_object_get(body, "error"))) {
        snprintf(out, out_size, "%s", json_string_value(json_object_get(body, "error")));
    }
}

static void fal_parse_submit(const upstream_context *ctx, const upstream_response *response,
                             upstream_job *job, upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    if (response->status < 200 || response->status > 299) {
        char text[300];
        fal_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "request_id", job->id, sizeof(job->id)) ||
        !fal_id_is_sane(job->id)) {
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error",
                           "fal accepted the request but its answer could not be read");
        json_decref(body);
        return;
    }
    fal_pick_url(ctx, body, "status_url", job->id, "/status", job->status_url, sizeof(job->status_url));
    fal_pick_url(ctx, body, "response_url", job->id, "", job->result_url, sizeof(job->result_url));
    fal_pick_url(ctx, body, "cancel_url", job->id, "/cancel", job->cancel_url, sizeof(job->cancel_url));
    out->verdict = UPSTREAM_ACCEPTED;
    json_decref(body);
}

static int fal_authorized_get(const upstream_context *ctx, const char *method, const char *url,
                              upstream_request *out)
{
    if (url[0] == '\0') return -1;
    out->method = method;
    snprintf(out->url, sizeof(out->url), "%s", url);
    out->carries_credential = true;
    return upstream_add_header(out, "Authorization: Key %s", ctx->credential) == 0 &&
                   upstream_add_header(out, "Accept: application/json") == 0
               ? 0
               : -1;
}

static int fal_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    return fal_authorized_get(ctx, "GET", job->status_url, out);
}

static void fal_parse_poll(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                           upstream_outcome *out)
{
    (void)job;
    out->progress = -1;
    if (response->status != 200 && response->status != 202) {
        upstream_poll_trouble(response, ctx->now, out);
        return;
    }
    json_t *body = upstream_parse_object(response);
    const char *status = json_string_value(json_object_get(body, "status"));
    if (status == NULL)
        out->phase = UPSTREAM_JOB_RETRY;
    else if (strcmp(status, "IN_QUEUE") == 0)
        out->phase = UPSTREAM_JOB_QUEUED;
    else if (strcmp(status, "IN_PROGRESS") == 0)
        out->phase = UPSTREAM_JOB_RUNNING;
    else if (strcmp(status, "COMPLETED") == 0)
        out->phase = UPSTREAM_JOB_FETCH_RESULT;
    else
        out->phase = UPSTREAM_JOB_RETRY;
    if (out->phase == UPSTREAM_JOB_RETRY)
        upstream_set_error(out, "upstream_error", "fal's status answer could not be read");
    json_decref(body);
}

static int fal_build_result(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    return fal_authorized_get(ctx, "GET", job->result_url, out);
}

static bool mentions_content_policy(const char *text)
{
    static const char *const words[] = {"content policy", "content_policy", "nsfw",
                                        "safety",         "moderation",     NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return true;
    return false;
}

static void fal_parse_result(const upstream_context *ctx, const upstream_response *response,
                             upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    out->progress = -1;
    if (response->status == 200) {
        const json_t *video = json_object_get(body, "video");
        if (upstream_copy_string(video, "url", out->media_url, sizeof(out->media_url)) &&
            url_scheme_http_length(out->media_url) > 0) {
            const json_t *duration = json_object_get(video, "duration");
            out->duration = json_is_number(duration) ? json_number_value(duration) : 0;
            out->phase = UPSTREAM_JOB_SUCCEEDED;
        } else {
            out->media_url[0] = '\0';
            out->phase = UPSTREAM_JOB_FAILED;
            upstream_set_error(out, "generation_failed", "fal reported success without a video");
        }
    } else if (response->status == 429 || response->status >= 502 || response->status == 408) {
        upstream_poll_trouble(response, ctx->now, out);
    } else if (response->status == 404) {
        out->phase = UPSTREAM_JOB_LOST;
        upstream_set_error(out, "upstream_error", "fal no longer holds the result");
    } else if (response->status == 401 || response->status == 403) {
        char text[400];
        fal_error_text(body, text, sizeof(text));
        out->phase = UPSTREAM_JOB_FAILED; /* the key was refused: not the model's failure */
        upstream_set_error(out, "upstream_error",
                           text[0] ? text : "fal refused the key when asked for the result");
    } else {
        char text[400];
        fal_error_text(body, text, sizeof(text));
        const char *error_type = json_string_value(json_object_get(body, "error_type"));
        bool still_running = response->status == 400 && strcasestr(text, "in progress") != NULL;
        if (still_running) {
            out->phase = UPSTREAM_JOB_RETRY;
        } else {
            out->phase = UPSTREAM_JOB_FAILED;
            const char *code =
                mentions_content_policy(text) || (error_type && mentions_content_policy(error_type))
                    ? "content_policy_violation"
                : response->status == 422 || response->status == 400 ? "invalid_parameters"
                                                                     : "generation_failed";
            upstream_set_error(out, code, text[0] ? text : "fal reported a failure");
        }
    }
    json_decref(body);
}

static int fal_build_cancel(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    return fal_authorized_get(ctx, "PUT", job->cancel_url, out);
}

/* fal signs with Ed25519 under the keys of its JWKS (webhook_keys_url): without them nothing can be
 * checked yet; a signature none of them verifies is refused (the engine then refetches the keys, which
 * may have rotated). fal webhooks need no channel secret. */
static upstream_webhook_verdict fal_verify_webhook(const upstream_webhook *hook, const char **reason)
{
    if (hook->keys == NULL) return UPSTREAM_WEBHOOK_KEYS_MISSING;
    if (webhook_verify_fal(hook->keys, upstream_webhook_header(hook, "x-fal-webhook-request-id"),
                           upstream_webhook_header(hook, "x-fal-webhook-user-id"),
                           upstream_webhook_header(hook, "x-fal-webhook-timestamp"),
                           upstream_webhook_header(hook, "x-fal-webhook-signature"), hook->body,
                           hook->body_size, hook->now))
        return UPSTREAM_WEBHOOK_VERIFIED;
    *reason = "bad signature";
    return UPSTREAM_WEBHOOK_REFUSED;
}

/* A JWKS document: {"keys":[…]}; the number of keys, or -1 when it is not one. */
static int fal_webhook_keys_count(const char *document)
{
    json_error_t error;
    json_t *parsed = document ? json_loads(document, 0, &error) : NULL;
    const json_t *keys = json_object_get(parsed, "keys");
    int count = json_is_array(keys) ? (int)json_array_size(keys) : -1;
    json_decref(parsed);
    return count;
}

const upstream_provider upstream_fal = {
    .name = "fal",
    .default_base_url = "https://queue.fal.run",
    .credential_form = "KEY",
    .models = fal_models,
    .credential_valid = fal_credential_valid,
    .build_submit = fal_build_submit,
    .parse_submit = fal_parse_submit,
    .build_poll = fal_build_poll,
    .parse_poll = fal_parse_poll,
    .build_result = fal_build_result,
    .parse_result = fal_parse_result,
    .build_download = upstream_build_link_download, /* a public CDN link: the key never goes there */
    .build_cancel = fal_build_cancel,
    .build_lookup = NULL,
    .webhook_ask = UPSTREAM_WEBHOOK_ALWAYS, /* ?fal_webhook=, signed under the published keys */
    .webhooks_at_end = true,                /* "fal POSTs once processing ends" */
    .verify_webhook = fal_verify_webhook,
    .webhook_job_id_field = "request_id",
    .webhook_keys_url = "https://rest.alpha.fal.ai/.well-known/jwks.json",
    .webhook_keys_count = fal_webhook_keys_count,
};

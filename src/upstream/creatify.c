/* creatify.c — Creatify's Aurora API (specs/upstream-apis.md §5): creatify-aurora.
 *
 * Create  POST {base}/api/aurora/   (X-API-ID, X-API-KEY) → 201 AuroraFlow
 * Poll    GET  {base}/api/aurora/{id}/  (pending, in_queue, running, done, failed, rejected)
 * Result  video_output, a public link. Webhooks are unsigned: they only prompt a poll. No cancel, no
 * look-up by our id. Our `resolution` (480p/720p) needs model_version aurora_v2. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"

static const char *const creatify_models[] = {"creatify-aurora", NULL};

static bool creatify_honours(const char *model, const char *field)
{
    (void)model;
    return strcmp(field, "guidance_scale") == 0; /* as prompt_guidance_scale; no audio guidance field */
}

static bool creatify_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, ':');
}

static int creatify_auth(const upstream_context *ctx, upstream_request *out)
{
    char id[256], key[512];
    if (!upstream_credential_split(ctx->credential, id, sizeof(id), key, sizeof(key))) return -1;
    out->carries_credential = true;
    return upstream_add_header(out, "X-API-ID: %s", id) == 0 && upstream_add_header(out, "X-API-KEY: %s", key) == 0
               ? 0
               : -1;
}

/* A UUID-like id: it goes into URL paths. */
static bool creatify_id_is_sane(const char *id)
{
    if (id[0] == '\0' || strlen(id) > 64) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == '-'))
            return false;
    return true;
}

static int creatify_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    const json_t *params = ctx->params;
    json_t *body = json_pack("{s:O?, s:O?, s:s, s:s, s:s}", "image", json_object_get(params, "image_url"), "audio",
                             json_object_get(params, "audio_url"), "name", ctx->task_id, "model_version",
                             "aurora_v2", "resolution", upstream_param_string(params, "resolution", "720p"));
    const char *prompt = upstream_param_string(params, "prompt", NULL);
    if (body != NULL && prompt != NULL && prompt[0]) json_object_set_new(body, "text_prompt", json_string(prompt));
    json_t *guidance = json_object_get(params, "guidance_scale");
    if (body != NULL && json_is_number(guidance)) json_object_set(body, "prompt_guidance_scale", guidance);
    if (body != NULL && ctx->webhook_url != NULL && strlen(ctx->webhook_url) <= 200)
        json_object_set_new(body, "webhook_url", json_string(ctx->webhook_url));
    out->method = "POST";
    if (snprintf(out->url, sizeof(out->url), "%s/api/aurora/", ctx->base_url) >= (int)sizeof(out->url) ||
        creatify_auth(ctx, out) != 0 || upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the Creatify request could not be built");
        return -1;
    }
    return 0;
}

/* Django-REST errors: {"detail": "…"} or {"field": ["message", …], …}. */
static void creatify_error_text(const json_t *body, char *out, size_t out_size)
{
    out[0] = '\0';
    const char *detail = json_string_value(json_object_get(body, "detail"));
    if (detail != NULL) {
        snprintf(out, out_size, "%s", detail);
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value) {
        const char *first = json_string_value(json_array_get(value, 0));
        if (first == NULL) first = json_string_value(value);
        if (first != NULL) {
            snprintf(out, out_size, "%s: %s", key, first);
            return;
        }
    }
}

static void creatify_parse_submit(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                                  upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    if (response->status < 200 || response->status > 299) {
        char text[300];
        creatify_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "id", job->id, sizeof(job->id)) || !creatify_id_is_sane(job->id)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error", "Creatify accepted the request but its answer could not be read");
    } else {
        out->verdict = UPSTREAM_ACCEPTED;
    }
    json_decref(body);
}

static int creatify_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!creatify_id_is_sane(job->id)) return -1;
    out->method = "GET";
    snprintf(out->url, sizeof(out->url), "%s/api/aurora/%s/", ctx->base_url, job->id);
    return creatify_auth(ctx, out);
}

static void creatify_parse_poll(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                                upstream_outcome *out)
{
    (void)job;
    out->progress = -1;
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out);
        return;
    }
    json_t *body = upstream_parse_object(response);
    const char *status = json_string_value(json_object_get(body, "status"));
    const json_t *progress = json_object_get(body, "progress");
    if (json_is_number(progress)) { /* the scale is undocumented: a fraction up to 1, else percent */
        double value = json_number_value(progress);
        if (value <= 1.0) value *= 100;
        out->progress = value < 0 ? 0 : value > 100 ? 100 : (int)value;
    }
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
    } else if (strcmp(status, "pending") == 0 || strcmp(status, "in_queue") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "running") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "done") == 0) {
        if (upstream_copy_string(body, "video_output", out->media_url, sizeof(out->media_url)) &&
            (strncasecmp(out->media_url, "https://", 8) == 0 || strncasecmp(out->media_url, "http://", 7) == 0)) {
            const json_t *duration = json_object_get(body, "duration");
            out->duration = json_is_number(duration) ? json_number_value(duration) : 0;
            out->phase = UPSTREAM_JOB_SUCCEEDED;
        } else {
            out->media_url[0] = '\0';
            out->phase = UPSTREAM_JOB_FAILED;
            upstream_set_error(out, "generation_failed", "Creatify reported success without a video");
        }
    } else if (strcmp(status, "failed") == 0 || strcmp(status, "rejected") == 0) {
        const char *reason = json_string_value(json_object_get(body, "failed_reason"));
        bool policy = strcmp(status, "rejected") == 0 ||
                      (reason && (strcasestr(reason, "policy") || strcasestr(reason, "moderation") ||
                                  strcasestr(reason, "inappropriate") || strcasestr(reason, "nsfw")));
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(out, policy ? "content_policy_violation" : "generation_failed",
                           reason && *reason ? reason : "Creatify reported a failure");
    } else {
        out->phase = UPSTREAM_JOB_RETRY;
    }
    json_decref(body);
}

static int creatify_build_download(const upstream_context *ctx, const upstream_job *job, const upstream_outcome *done,
                                   upstream_request *out)
{
    (void)ctx, (void)job;
    if (done->media_url[0] == '\0') return -1;
    out->method = "GET";
    snprintf(out->url, sizeof(out->url), "%s", done->media_url);
    out->carries_credential = false;
    return 0;
}

const upstream_provider upstream_creatify = {
    .name = "creatify",
    .default_base_url = "https://api.creatify.ai",
    .credential_form = "API_ID:API_KEY",
    .models = creatify_models,
    .honours = creatify_honours,
    .credential_valid = creatify_credential_valid,
    .build_submit = creatify_build_submit,
    .parse_submit = creatify_parse_submit,
    .build_poll = creatify_build_poll,
    .parse_poll = creatify_parse_poll,
    .build_download = creatify_build_download,
};

/* creatify.c — Creatify's Aurora API (specs/upstream-apis.md §5): creatify-aurora.
 *
 * Create  POST {base}/api/aurora/   X-API-ID + X-API-KEY; JSON {image, audio, name, text_prompt,
 *              prompt_guidance_scale, model_version, resolution, webhook_url} → 201 AuroraFlow
 * Poll    GET  {base}/api/aurora/{id}/  → AuroraFlow: pending, in_queue, running, done, failed, rejected
 * Result  video_output, a public link fetched without the keys.
 * Our `resolution` (480p/720p) is honoured only by model_version aurora_v2, so that is the one we ask
 * for. guidance_scale is Creatify's prompt_guidance_scale; audio_guidance_scale has no Creatify field.
 * Webhooks are unsigned (they only prompt a poll) and limited to 200 characters: a longer webhook URL
 * is left out and the job is polled. No cancel, no look-up by our id. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"
#include "util/url_scheme.h"

#define CREATIFY_WEBHOOK_MAX 200 /* Creatify's limit on webhook_url */
#define CREATIFY_NAME_MAX 255    /* and on name */

static const char *const creatify_aurora_options[] = {"guidance_scale", NULL}; /* as prompt_guidance_scale */

/* native: the model_version asked for (aurora_v2 honours our resolution); Creatify has no field for
 * audio_guidance_scale. */
static const upstream_model creatify_models[] = {
    {.model = "creatify-aurora", .native = "aurora_v2", .honours = creatify_aurora_options},
    {.model = NULL},
};

static bool creatify_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, ':');
}

/* A UUID-like id (hex digits and dashes): it goes into URL paths. */
static bool creatify_id_is_sane(const char *id)
{
    size_t length = strlen(id);
    if (length == 0 || length > 64) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == '-'))
            return false;
    return true;
}

/* Method, URL and both key headers; -1 when the URL does not fit or the credential cannot be used. */
static int creatify_request(const upstream_context *ctx, upstream_request *out, const char *method,
                            const char *id)
{
    char api_id[256], api_key[512];
    if (ctx->credential == NULL ||
        !upstream_credential_split(ctx->credential, api_id, sizeof(api_id), api_key, sizeof(api_key)) ||
        api_id[0] == '\0' || api_key[0] == '\0')
        return -1;
    out->method = method;
    int n = snprintf(out->url, sizeof(out->url), "%s/api/aurora/%s%s", ctx->base_url, id ? id : "",
                     id ? "/" : "");
    if (n < 0 || (size_t)n >= sizeof(out->url)) return -1;
    out->carries_credential = true;
    return upstream_add_header(out, "X-API-ID: %s", api_id) == 0 &&
                   upstream_add_header(out, "X-API-KEY: %s", api_key) == 0 &&
                   upstream_add_header(out, "Accept: application/json") == 0
               ? 0
               : -1;
}

static int creatify_build_submit(const upstream_context *ctx, upstream_request *out, char *err,
                                 size_t err_size)
{
    const json_t *params = ctx->params;
    const upstream_model *row = upstream_provider_model(&upstream_creatify, ctx->model);
    if (row == NULL) {
        snprintf(err, err_size, "Creatify serves no model named %s", ctx->model ? ctx->model : "(none)");
        return -1;
    }
    const char *image = upstream_param_string(params, "image_url", NULL);
    const char *audio = upstream_param_string(params, "audio_url", NULL);
    if (image == NULL || audio == NULL) {
        snprintf(err, err_size, "image_url and audio_url are required");
        return -1;
    }
    const char *resolution = upstream_param_string(params, "resolution", "720p");
    if (strcmp(resolution, "480p") != 0 && strcmp(resolution, "720p") != 0) {
        snprintf(err, err_size, "Creatify Aurora renders no resolution %s", resolution);
        return -1;
    }

    json_t *body = json_object();
    json_object_set_new(body, "image", json_string(image));
    json_object_set_new(body, "audio", json_string(audio));
    if (ctx->task_id != NULL && ctx->task_id[0] && strlen(ctx->task_id) <= CREATIFY_NAME_MAX)
        json_object_set_new(body, "name", json_string(ctx->task_id));
    const char *prompt = upstream_param_string(params, "prompt", NULL);
    if (prompt != NULL && prompt[0]) json_object_set_new(body, "text_prompt", json_string(prompt));
    const json_t *guidance = json_object_get(params, "guidance_scale");
    if (json_is_number(guidance))
        json_object_set_new(body, "prompt_guidance_scale", json_deep_copy(guidance));
    json_object_set_new(body, "model_version", json_string(row->native));
    json_object_set_new(body, "resolution", json_string(resolution));
    if (ctx->webhook_url != NULL && ctx->webhook_url[0] && strlen(ctx->webhook_url) <= CREATIFY_WEBHOOK_MAX)
        json_object_set_new(body, "webhook_url", json_string(ctx->webhook_url));

    if (creatify_request(ctx, out, "POST", NULL) != 0) {
        json_decref(body);
        snprintf(err, err_size, "the Creatify request could not be built");
        return -1;
    }
    if (upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the Creatify request could not be built");
        return -1;
    }
    return 0;
}

/* Django-REST errors: {"detail": "…"}, or {"field": ["message", …], …} (non_field_errors without its
 * name): "audio: This field is required.; image: …". */
static void creatify_error_text(const json_t *body, char *out, size_t out_size)
{
    out[0] = '\0';
    const char *detail = json_string_value(json_object_get(body, "detail"));
    if (detail != NULL) {
        upstream_text_append(out, out_size, detail);
        return;
    }
    if (!json_is_object(body)) return;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value)
    {
        const json_t *messages[8];
        size_t count = 0;
        if (json_is_string(value)) {
            messages[count++] = value;
        } else if (json_is_array(value)) {
            size_t index;
            json_t *item;
            json_array_foreach(value, index, item)
            {
                if (json_is_string(item) && count < sizeof(messages) / sizeof(messages[0]))
                    messages[count++] = item;
            }
        }
        if (count == 0) continue;
        if (out[0]) upstream_text_append(out, out_size, "; ");
        if (strcmp(key, "non_field_errors") != 0) {
            upstream_text_append(out, out_size, key);
            upstream_text_append(out, out_size, ": ");
        }
        for (size_t i = 0; i < count; i++) {
            if (i > 0) upstream_text_append(out, out_size, " ");
            upstream_text_append(out, out_size, json_string_value(messages[i]));
        }
    }
}

static void creatify_parse_submit(const upstream_context *ctx, const upstream_response *response,
                                  upstream_job *job, upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    out->progress = -1;
    if (response->status < 200 || response->status > 299) {
        char text[300];
        creatify_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "id", job->id, sizeof(job->id)) ||
        !creatify_id_is_sane(job->id)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error",
                           "Creatify accepted the request but its answer could not be read");
    } else {
        out->verdict = UPSTREAM_ACCEPTED;
    }
    json_decref(body);
}

static int creatify_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!creatify_id_is_sane(job->id)) return -1;
    return creatify_request(ctx, out, "GET", job->id);
}

/* Creatify's progress scale is undocumented: up to 1.0 it is a fraction, above it a percentage. */
static int creatify_progress(const json_t *progress)
{
    if (!json_is_number(progress)) return -1;
    double value = json_number_value(progress);
    if (value <= 1.0) value *= 100;
    return value < 0 ? 0 : value > 100 ? 100 : (int)(value + 1e-9);
}

static bool mentions_policy(const char *text)
{
    static const char *const words[] = {"policy", "moderation", "inappropriate", "nsfw", "safety", NULL};
    for (size_t i = 0; text && words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return true;
    return false;
}

static void creatify_parse_poll(const upstream_context *ctx, const upstream_response *response,
                                upstream_job *job, upstream_outcome *out)
{
    out->progress = -1;
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out);
        return;
    }
    json_t *body = upstream_parse_object(response);
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *id = json_string_value(json_object_get(body, "id"));
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "Creatify's answer about the job could not be read");
        json_decref(body);
        return;
    }
    if (id != NULL && job != NULL && job->id[0] && strcasecmp(id, job->id) != 0) {
        out->phase = UPSTREAM_JOB_RETRY; /* an answer about another job tells nothing about ours */
        upstream_set_error(out, "upstream_error", "Creatify answered about another job");
        json_decref(body);
        return;
    }
    out->progress = creatify_progress(json_object_get(body, "progress"));
    if (strcmp(status, "pending") == 0 || strcmp(status, "in_queue") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "running") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "done") == 0) {
        if (upstream_copy_string(body, "video_output", out->media_url, sizeof(out->media_url)) &&
            url_scheme_http_length(out->media_url) > 0) {
            const json_t *duration = json_object_get(body, "duration");
            double seconds = json_is_number(duration) ? json_number_value(duration) : 0;
            out->duration = seconds > 0 && seconds <= 3600 ? seconds : 0;
            out->progress = 100;
            out->phase = UPSTREAM_JOB_SUCCEEDED;
        } else {
            out->media_url[0] = '\0';
            out->phase = UPSTREAM_JOB_FAILED;
            upstream_set_error(out, "generation_failed", "Creatify reported success without a video link");
        }
    } else if (strcmp(status, "failed") == 0 || strcmp(status, "rejected") == 0) {
        const char *reason = json_string_value(json_object_get(body, "failed_reason"));
        bool rejected = strcmp(status, "rejected") == 0;
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(
            out, rejected || mentions_policy(reason) ? "content_policy_violation" : "generation_failed",
            reason && reason[0] ? reason
            : rejected          ? "Creatify rejected the job"
                                : "Creatify reported a failure");
    } else {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "Creatify reported a status reelay does not know");
    }
    json_decref(body);
}

/* Creatify signs nothing: a callback is only a prompt to poll. */
static upstream_webhook_verdict creatify_verify_webhook(const upstream_webhook *hook, const char **reason)
{
    (void)hook, (void)reason;
    return UPSTREAM_WEBHOOK_UNSIGNED;
}

const upstream_provider upstream_creatify = {
    .name = "creatify",
    .default_base_url = "https://api.creatify.ai",
    .credential_form = "API_ID:API_KEY",
    .models = creatify_models,
    .credential_valid = creatify_credential_valid,
    .build_submit = creatify_build_submit,
    .parse_submit = creatify_parse_submit,
    .build_poll = creatify_build_poll,
    .parse_poll = creatify_parse_poll,
    .build_result = NULL,
    .parse_result = NULL,
    .build_download = upstream_build_link_download, /* a public link: the keys never go there */
    .build_cancel = NULL,
    .build_lookup = NULL,
    .lookup_is_submit = false,
    .webhook_ask = UPSTREAM_WEBHOOK_ALWAYS, /* webhook_url, when it fits Creatify's limit */
    .verify_webhook = creatify_verify_webhook,
    .webhook_job_id_field = "id",
};

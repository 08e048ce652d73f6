/* sync.c — the Sync Labs native API (specs/upstream-apis.md §2): lipsync-2, lipsync-2-pro, sync-3.
 *
 * Submit  POST {base}/v2/generate        x-api-key: <key>, Idempotency-Key: <our task id>
 * Status  GET  {base}/v2/generate/{id}   x-api-key: <key>
 * Result  the Generation's outputMediaUrl (or its deprecated alias outputUrl): a tokenised link, fetched
 *         without the key.
 * An unanswered submit is looked up by sending the very same submit again: Sync answers a repeated
 * Idempotency-Key with the original generation instead of starting a second one.
 * Webhooks (webhookUrl) are asked for only when the channel has Sync's signing secret: Sync-Signature
 * HMAC; the body names the generation as id. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/webhook_verify.h"
#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"
#include "util/url_scheme.h"

static const char *const sync_v2_options[] = {"temperature", "active_speaker", NULL};

/* Sync's model names are ours; sync-3 takes neither temperature nor active-speaker detection. */
static const upstream_model sync_models[] = {
    {.model = "lipsync-2", .native = "lipsync-2", .honours = sync_v2_options},
    {.model = "lipsync-2-pro", .native = "lipsync-2-pro", .honours = sync_v2_options},
    {.model = "sync-3", .native = "sync-3", .honours = NULL},
    {.model = NULL},
};

static bool sync_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, '\0');
}

/* Ids that go into URL paths, and our task id as Idempotency-Key / outputFileName: [A-Za-z0-9_-]. */
static bool sync_id_is_sane(const char *id, size_t max_length)
{
    size_t length = id ? strlen(id) : 0;
    if (length == 0 || length > max_length) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

static json_t *sync_input_item(const char *type, const char *url)
{
    json_t *item = json_object();
    json_object_set_new(item, "type", json_string(type));
    json_object_set_new(item, "url", json_string(url));
    return item;
}

static int sync_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    const upstream_model *row = upstream_provider_model(&upstream_sync, ctx->model);
    if (row == NULL) {
        snprintf(err, err_size, "sync serves no model named %s", ctx->model ? ctx->model : "(none)");
        return -1;
    }
    /* the Idempotency-Key takes [A-Za-z0-9._~-]{1,128}, outputFileName [A-Za-z0-9_-]{1,255} */
    if (!sync_id_is_sane(ctx->task_id, 128)) {
        snprintf(err, err_size, "the task id cannot serve as Sync's Idempotency-Key");
        return -1;
    }
    const char *video_url = upstream_param_string(ctx->params, "video_url", NULL);
    const char *audio_url = upstream_param_string(ctx->params, "audio_url", NULL);
    if (video_url == NULL || audio_url == NULL) {
        snprintf(err, err_size, "video_url and audio_url are required");
        return -1;
    }
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(row->native));
    json_t *input = json_array();
    json_array_append_new(input, sync_input_item("video", video_url));
    json_array_append_new(input, sync_input_item("audio", audio_url));
    json_object_set_new(body, "input", input);

    json_t *options = json_object();
    json_object_set_new(options, "sync_mode",
                        json_string(upstream_param_string(ctx->params, "sync_mode", "loop")));
    if (upstream_model_honours(row, "temperature")) { /* sync-3 takes no temperature */
        const json_t *temperature = json_object_get(ctx->params, "temperature");
        if (json_is_number(temperature))
            json_object_set_new(options, "temperature", json_real(json_number_value(temperature)));
    }
    if (json_is_true(json_object_get(ctx->params, "active_speaker"))) {
        json_t *detection = json_object();
        json_object_set_new(detection, "auto_detect", json_true());
        json_object_set_new(options, "active_speaker_detection", detection);
    }
    json_object_set_new(body, "options", options);
    if (ctx->webhook_url != NULL) json_object_set_new(body, "webhookUrl", json_string(ctx->webhook_url));
    json_object_set_new(body, "outputFileName", json_string(ctx->task_id));

    out->method = "POST";
    int n = snprintf(out->url, sizeof(out->url), "%s/v2/generate", ctx->base_url);
    if (n < 0 || (size_t)n >= sizeof(out->url)) {
        json_decref(body);
        snprintf(err, err_size, "the Sync request URL is too long");
        return -1;
    }
    out->carries_credential = true;
    if (upstream_add_header(out, "x-api-key: %s", ctx->credential) != 0 ||
        upstream_add_header(out, "Idempotency-Key: %s", ctx->task_id) != 0 ||
        upstream_add_header(out, "Accept: application/json") != 0) {
        json_decref(body); /* upstream_set_json_body was not reached: the body is still ours */
        snprintf(err, err_size, "the Sync request could not be built");
        return -1;
    }
    if (upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the Sync request could not be built");
        return -1;
    }
    return 0;
}

/* The text of a Sync error body {"statusCode","errorCode","message": string | [string…],"error"}:
 * the message(s), followed by the errorCode in parentheses. */
static void sync_error_text(const json_t *body, char *out, size_t out_size)
{
    out[0] = '\0';
    const json_t *message = json_object_get(body, "message");
    if (json_is_string(message)) {
        upstream_text_append(out, out_size, json_string_value(message));
    } else if (json_is_array(message)) {
        size_t index;
        const json_t *item;
        json_array_foreach(message, index, item)
        {
            if (!json_is_string(item)) continue;
            if (out[0]) upstream_text_append(out, out_size, "; ");
            upstream_text_append(out, out_size, json_string_value(item));
        }
    }
    const json_t *error = json_object_get(body, "error");
    if (out[0] == '\0' && json_is_string(error))
        upstream_text_append(out, out_size, json_string_value(error));
    const json_t *code = json_object_get(body, "errorCode");
    if (json_is_string(code) && json_string_length(code) > 0) {
        upstream_text_append(out, out_size, out[0] ? " (" : "(");
        upstream_text_append(out, out_size, json_string_value(code));
        upstream_text_append(out, out_size, ")");
    }
}

static void sync_parse_submit(const upstream_context *ctx, const upstream_response *response,
                              upstream_job *job, upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    out->progress = -1;
    if (response->status < 200 || response->status > 299) {
        char text[300];
        sync_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        if (response->status == 409) {
            /* a conflict on an Idempotency-Key: a generation under this key may exist, so another channel
             * must not start a second one; the lookup (the same submit again) settles it */
            out->verdict = UPSTREAM_AMBIGUOUS;
        }
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "id", job->id, sizeof(job->id)) ||
        !sync_id_is_sane(job->id, sizeof(job->id) - 1)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error",
                           "Sync accepted the request but its answer could not be read");
        json_decref(body);
        return;
    }
    out->verdict = UPSTREAM_ACCEPTED;
    json_decref(body);
}

static int sync_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!sync_id_is_sane(job->id, sizeof(job->id) - 1)) return -1;
    out->method = "GET";
    int n = snprintf(out->url, sizeof(out->url), "%s/v2/generate/%s", ctx->base_url, job->id);
    if (n < 0 || (size_t)n >= sizeof(out->url)) return -1;
    out->carries_credential = true;
    return upstream_add_header(out, "x-api-key: %s", ctx->credential) == 0 &&
                   upstream_add_header(out, "Accept: application/json") == 0
               ? 0
               : -1;
}

static bool contains_any(const char *text, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return true;
    return false;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

/* Our task error code for a failed generation, from Sync's error_code and error text. */
static const char *sync_failure_code(const char *code, const char *text)
{
    static const char *const code_words[] = {"moderation", "content", NULL};
    static const char *const text_words[] = {
        "moderation", "content policy", "content_policy", "content violation",
        "nsfw",       "safety",         "inappropriate",  NULL};
    if (contains_any(code, code_words) || contains_any(text, text_words)) return "content_policy_violation";
    if (strcmp(code, "generation_input_validation_failed") == 0 ||
        (strncmp(code, "generation_", 11) == 0 && ends_with(code, "_missing")) ||
        ends_with(code, "_length_exceeded"))
        return "invalid_parameters";
    return "generation_failed";
}

static void sync_failed(const json_t *body, const char *status, upstream_outcome *out)
{
    const json_t *code_value = json_object_get(body, "error_code");
    const json_t *text_value = json_object_get(body, "error");
    const char *code = json_is_string(code_value) ? json_string_value(code_value) : "";
    const char *text = json_is_string(text_value) ? json_string_value(text_value) : "";
    char message[512];
    if (text[0] && code[0])
        snprintf(message, sizeof(message), "%s (%s)", text, code);
    else if (text[0] || code[0])
        snprintf(message, sizeof(message), "%s", text[0] ? text : code);
    else
        snprintf(message, sizeof(message), "Sync reported the generation %s", status);
    out->phase = UPSTREAM_JOB_FAILED;
    upstream_set_error(out, sync_failure_code(code, text), message);
}

/* The output link: outputMediaUrl, else outputUrl (its deprecated alias); http(s) only. */
static bool sync_media_url(const json_t *body, upstream_outcome *out)
{
    static const char *const keys[] = {"outputMediaUrl", "outputUrl", NULL};
    for (size_t i = 0; keys[i]; i++) {
        if (upstream_copy_string(body, keys[i], out->media_url, sizeof(out->media_url)) &&
            out->media_url[0] && url_scheme_http_length(out->media_url) > 0)
            return true;
    }
    out->media_url[0] = '\0';
    return false;
}

static void sync_parse_poll(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                            upstream_outcome *out)
{
    out->progress = -1; /* Sync states no number */
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out);
        return;
    }
    json_t *body = upstream_parse_object(response);
    const json_t *status_value = json_object_get(body, "status");
    const char *status = json_is_string(status_value) ? json_string_value(status_value) : NULL;
    const json_t *id = json_object_get(body, "id");
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "Sync's status answer could not be read");
    } else if (job != NULL && job->id[0] && json_is_string(id) &&
               strcmp(json_string_value(id), job->id) != 0) {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "Sync answered about another generation");
    } else if (strcmp(status, "PENDING") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "PROCESSING") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "COMPLETED") == 0) {
        if (sync_media_url(body, out)) {
            const json_t *duration = json_object_get(body, "outputDuration");
            double seconds = json_is_number(duration) ? json_number_value(duration) : 0;
            out->duration = isfinite(seconds) && seconds > 0 ? seconds : 0;
            out->phase = UPSTREAM_JOB_SUCCEEDED;
        } else {
            out->phase = UPSTREAM_JOB_FAILED;
            upstream_set_error(out, "generation_failed",
                               "Sync reported the generation COMPLETED without an output URL");
        }
    } else if (strcmp(status, "FAILED") == 0 || strcmp(status, "REJECTED") == 0 ||
               strcmp(status, "CANCELED") == 0 || strcmp(status, "CANCELLED") == 0 ||
               strcmp(status, "TIMED_OUT") == 0) {
        sync_failed(body, status, out);
    } else {
        char text[160];
        snprintf(text, sizeof(text), "Sync answered an unknown status %.100s", status);
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", text);
    }
    json_decref(body);
}

/* The lookup of an unanswered submit is the same submit again, under the same Idempotency-Key: Sync
 * answers with the original generation (read by parse_submit) rather than starting another one. */
static int sync_build_lookup(const upstream_context *ctx, upstream_request *out, upstream_job *job)
{
    char ignored[160];
    if (job != NULL) memset(job, 0, sizeof(*job));
    return sync_build_submit(ctx, out, ignored, sizeof(ignored));
}

/* Sync-Signature: t=<unix>,v1=<hex HMAC> under the channel's signing secret; without a secret nothing
 * can be checked, so the webhook is refused (and none is asked for: webhook_ask). */
static upstream_webhook_verdict sync_verify_webhook(const upstream_webhook *hook, const char **reason)
{
    if (hook->secret == NULL) {
        *reason = "no webhook secret set";
        return UPSTREAM_WEBHOOK_REFUSED;
    }
    if (webhook_verify_sync(hook->secret, upstream_webhook_header(hook, "sync-signature"), hook->body,
                            hook->body_size, hook->now))
        return UPSTREAM_WEBHOOK_VERIFIED;
    *reason = "bad signature";
    return UPSTREAM_WEBHOOK_REFUSED;
}

const upstream_provider upstream_sync = {
    .name = "sync",
    .default_base_url = "https://api.sync.so",
    .credential_form = "KEY",
    .models = sync_models,
    .credential_valid = sync_credential_valid,
    .build_submit = sync_build_submit,
    .parse_submit = sync_parse_submit,
    .build_poll = sync_build_poll,
    .parse_poll = sync_parse_poll,
    .build_result = NULL,
    .parse_result = NULL,
    .build_download = upstream_build_link_download, /* a tokenised link: the key never goes there */
    .build_cancel = NULL,
    .build_lookup = sync_build_lookup,
    .lookup_is_submit = true,
    .webhook_ask = UPSTREAM_WEBHOOK_WITH_SECRET, /* webhookUrl only when they can be verified */
    .verify_webhook = sync_verify_webhook,
    .webhook_job_id_field = "id",
};

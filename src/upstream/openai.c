/* openai.c — OpenAI's Videos API (specs/upstream-apis.md §4): sora-2 and sora-2-pro.
 *
 * Create  POST {base}/videos  Authorization: Bearer <key>; JSON {model, prompt, seconds (a string!), size,
 *              input_reference {image_url}} — the reference takes JSON when no file is uploaded.
 * Poll    GET  {base}/videos/{id}  → Video object: queued, in_progress, completed, failed (+ expired);
 *              progress 0..100; the openai-poll-after-ms header says when to ask again.
 * Result  GET  {base}/videos/{id}/content (Accept: application/binary) — the bytes themselves, on the
 *              channel's own origin, with the key; the Video object carries no link.
 * No cancel, no per-request webhook (OpenAI's are set per project, so ctx->webhook_url is ignored), no
 * look-up by our id, and no create field for character_ids: no advanced option is honoured.
 * The project's webhooks are Standard Webhooks under the channel's secret and name the video as data.id.
 * The base URL includes the version: https://api.openai.com/v1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"

/* No advanced option is honoured: character_ids has no create field, the others are not Sora's. */
static const upstream_model openai_models[] = {
    {.model = "sora-2", .native = "sora-2", .honours = NULL},
    {.model = "sora-2-pro", .native = "sora-2-pro", .honours = NULL},
    {.model = NULL},
};

static bool openai_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, '\0');
}

/* "video_" followed by [A-Za-z0-9_-]: it goes into URL paths. */
static bool openai_id_is_sane(const char *id)
{
    if (strncmp(id, "video_", 6) != 0 || id[6] == '\0') return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-'))
            return false;
    return true;
}

/* Method, URL ({base}{path}{id}{suffix}) and the key; -1 when the URL does not fit or a header is refused. */
static int openai_request(const upstream_context *ctx, upstream_request *out, const char *method,
                          const char *id, const char *suffix, const char *accept)
{
    out->method = method;
    int n = snprintf(out->url, sizeof(out->url), "%s/videos%s%s%s", ctx->base_url, id ? "/" : "",
                     id ? id : "", suffix);
    if (n < 0 || (size_t)n >= sizeof(out->url)) return -1;
    out->carries_credential = true;
    return upstream_add_header(out, "Authorization: Bearer %s", ctx->credential) == 0 &&
                   upstream_add_header(out, "Accept: %s", accept) == 0
               ? 0
               : -1;
}

/* OpenAI's size for our aspect ratio and resolution; NULL with a reason in err when it has none. */
static const char *openai_size(const char *model, const json_t *params, char *err, size_t err_size)
{
    const char *aspect = upstream_param_string(params, "aspect_ratio", "16:9");
    const char *resolution = upstream_param_string(params, "resolution", "720p");
    bool portrait;
    if (strcmp(aspect, "16:9") == 0 || strcmp(aspect, "1280x720") == 0) {
        portrait = false;
    } else if (strcmp(aspect, "9:16") == 0 || strcmp(aspect, "720x1280") == 0) {
        portrait = true;
    } else {
        snprintf(err, err_size, "OpenAI renders no aspect ratio %s", aspect);
        return NULL;
    }
    if (strcmp(resolution, "720p") == 0) return portrait ? "720x1280" : "1280x720";
    if (strcmp(resolution, "1080p") != 0) {
        snprintf(err, err_size, "OpenAI renders no resolution %s", resolution);
        return NULL;
    }
    if (strcmp(model, "sora-2-pro") != 0) {
        snprintf(err, err_size, "sora-2 renders 720p only; use sora-2-pro for 1080p");
        return NULL;
    }
    return portrait ? "1080x1920" : "1920x1080";
}

static int openai_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    const json_t *params = ctx->params;
    const upstream_model *row = upstream_provider_model(&upstream_openai, ctx->model);
    if (row == NULL) {
        snprintf(err, err_size, "OpenAI serves no model named %s", ctx->model ? ctx->model : "(none)");
        return -1;
    }
    const char *prompt = upstream_param_string(params, "prompt", NULL);
    if (prompt == NULL || prompt[0] == '\0') {
        snprintf(err, err_size, "prompt is required");
        return -1;
    }
    const char *size = openai_size(ctx->model, params, err, err_size);
    if (size == NULL) return -1;
    const json_t *duration = json_object_get(params, "duration");
    long long seconds = json_is_integer(duration) ? (long long)json_integer_value(duration) : 4;
    if (seconds <= 0) {
        snprintf(err, err_size, "duration must be a positive number of seconds");
        return -1;
    }
    char seconds_text[24];
    snprintf(seconds_text, sizeof(seconds_text), "%lld", seconds);

    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(row->native));
    json_object_set_new(body, "prompt", json_string(prompt));
    json_object_set_new(body, "seconds", json_string(seconds_text));
    json_object_set_new(body, "size", json_string(size));
    const json_t *first_image = json_array_get(json_object_get(params, "image_urls"), 0);
    if (json_is_string(first_image)) {
        json_t *reference = json_object();
        json_object_set_new(reference, "image_url", json_string(json_string_value(first_image)));
        json_object_set_new(body, "input_reference", reference);
    }
    /* ctx->webhook_url is ignored: OpenAI's webhooks are configured per project */

    if (openai_request(ctx, out, "POST", NULL, "", "application/json") != 0) {
        json_decref(body);
        snprintf(err, err_size, "the OpenAI request could not be built");
        return -1;
    }
    if (upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the OpenAI request could not be built");
        return -1;
    }
    return 0;
}

/* The text of an OpenAI error body {"error":{"message","type","param","code"}}: the message, with the
 * code (or type) in parentheses. */
static void openai_error_text(const json_t *body, char *out, size_t out_size)
{
    out[0] = '\0';
    const json_t *error = json_object_get(body, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    const char *code = json_string_value(json_object_get(error, "code"));
    if (code == NULL || code[0] == '\0') code = json_string_value(json_object_get(error, "type"));
    if (message == NULL && json_is_string(error)) message = json_string_value(error);
    if (message != NULL && message[0] && code != NULL && code[0])
        snprintf(out, out_size, "%s (%s)", message, code);
    else if (message != NULL && message[0])
        snprintf(out, out_size, "%s", message);
    else if (code != NULL)
        snprintf(out, out_size, "%s", code);
}

static void openai_parse_submit(const upstream_context *ctx, const upstream_response *response,
                                upstream_job *job, upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    out->progress = -1;
    if (response->status < 200 || response->status > 299) {
        char text[300];
        openai_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "id", job->id, sizeof(job->id)) ||
        !openai_id_is_sane(job->id)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error",
                           "OpenAI accepted the request but its answer could not be read");
    } else {
        out->verdict = UPSTREAM_ACCEPTED;
    }
    json_decref(body);
}

static int openai_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!openai_id_is_sane(job->id)) return -1;
    return openai_request(ctx, out, "GET", job->id, "", "application/json");
}

/* The openai-poll-after-ms header: whole milliseconds, 1 ms .. 1 h; 0 when absent or unreadable. */
static int64_t openai_poll_after(const char *value)
{
    if (value == NULL) return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    char *end = NULL;
    long long ms = strtoll(value, &end, 10);
    if (end == value || *value == '-' || *value == '+') return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || ms <= 0 || ms > 3600 * 1000) return 0;
    return ms;
}

static bool mentions_any(const char *text, const char *const *words)
{
    for (size_t i = 0; text && words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return true;
    return false;
}

/* A failed video: moderation / policy / safety → content_policy_violation; invalid_* → invalid_parameters;
 * anything else the model's failure. The message is OpenAI's own. */
static void openai_failure(const json_t *body, upstream_outcome *out)
{
    static const char *const policy[] = {"moderation", "policy", "safety", NULL};
    const json_t *error = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    const char *ours = mentions_any(code, policy) || mentions_any(message, policy)
                           ? "content_policy_violation"
                       : code != NULL && strncmp(code, "invalid_", 8) == 0 ? "invalid_parameters"
                                                                           : "generation_failed";
    out->phase = UPSTREAM_JOB_FAILED;
    upstream_set_error(out, ours,
                       message && message[0] ? message
                       : code && code[0]     ? code
                                             : "OpenAI reported a failure");
}

static void openai_parse_poll(const upstream_context *ctx, const upstream_response *response,
                              upstream_job *job, upstream_outcome *out)
{
    out->progress = -1;
    int64_t poll_after = openai_poll_after(response->poll_after_ms);
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out);
        if (out->retry_after_ms == 0) out->retry_after_ms = poll_after;
        return;
    }
    out->retry_after_ms = poll_after;
    json_t *body = upstream_parse_object(response);
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *id = json_string_value(json_object_get(body, "id"));
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "OpenAI's answer about the video could not be read");
        json_decref(body);
        return;
    }
    if (id != NULL && job != NULL && job->id[0] && strcmp(id, job->id) != 0) {
        out->phase = UPSTREAM_JOB_RETRY; /* an answer about another video tells nothing about ours */
        upstream_set_error(out, "upstream_error", "OpenAI answered about another video");
        json_decref(body);
        return;
    }
    const json_t *progress = json_object_get(body, "progress");
    if (json_is_number(progress)) {
        double value = json_number_value(progress);
        out->progress = value < 0 ? 0 : value > 100 ? 100 : (int)value;
    }
    if (strcmp(status, "queued") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "in_progress") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "completed") == 0) {
        out->phase =
            UPSTREAM_JOB_SUCCEEDED; /* media_url stays empty: the bytes come from the content endpoint */
        out->progress = 100;
        const char *seconds = json_string_value(json_object_get(body, "seconds"));
        if (seconds != NULL) {
            char *end = NULL;
            double value = strtod(seconds, &end);
            if (end != seconds && *end == '\0' && value > 0 && value <= 3600) out->duration = value;
        }
    } else if (strcmp(status, "failed") == 0) {
        openai_failure(body, out);
    } else if (strcmp(status, "expired") == 0) {
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(out, "upstream_error", "OpenAI's video expired before it could be downloaded");
    } else {
        out->phase = UPSTREAM_JOB_RETRY;
        upstream_set_error(out, "upstream_error", "OpenAI reported a status reelay does not know");
    }
    json_decref(body);
}

static int openai_build_download(const upstream_context *ctx, const upstream_job *job,
                                 const upstream_outcome *done, upstream_request *out)
{
    (void)done;
    if (!openai_id_is_sane(job->id)) return -1;
    return openai_request(ctx, out, "GET", job->id, "/content", "application/binary");
}

const upstream_provider upstream_openai = {
    .name = "openai",
    .default_base_url = "https://api.openai.com/v1",
    .credential_form = "KEY",
    .models = openai_models,
    .credential_valid = openai_credential_valid,
    .build_submit = openai_build_submit,
    .parse_submit = openai_parse_submit,
    .build_poll = openai_build_poll,
    .parse_poll = openai_parse_poll,
    .build_result = NULL,
    .parse_result = NULL,
    .build_download = openai_build_download,
    .build_cancel = NULL,
    .build_lookup = NULL,
    .lookup_is_submit = false,
    .webhook_ask = UPSTREAM_WEBHOOK_NEVER, /* set per project in OpenAI's dashboard, not per request */
    .verify_webhook = upstream_webhook_verify_standard,
    .webhook_job_id_field = "data.id",
};

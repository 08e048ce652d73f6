/* openai.c — OpenAI's Videos API (specs/upstream-apis.md §4): sora-2 and sora-2-pro.
 *
 * Create  POST {base}/videos  (JSON: model, prompt, seconds as a string, size, input_reference)
 * Poll    GET  {base}/videos/{id}  (queued, in_progress, completed, failed; progress 0..100;
 *              the openai-poll-after-ms header says when to ask again)
 * Result  GET  {base}/videos/{id}/content — bytes, on the channel's own origin, with the key.
 * No cancel, no per-request webhook (OpenAI's are set per project), no look-up by our id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"

static const char *const openai_models[] = {"sora-2", "sora-2-pro", NULL};

static bool openai_honours(const char *model, const char *field)
{
    (void)model, (void)field;
    return false; /* no create field for character_ids */
}

static bool openai_credential_valid(const char *credential)
{
    return upstream_credential_shape(credential, '\0');
}

/* "video_" followed by safe characters: it goes into URL paths. */
static bool openai_id_is_sane(const char *id)
{
    if (strncmp(id, "video_", 6) != 0 || id[6] == '\0') return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-'))
            return false;
    return true;
}

static int openai_auth(const upstream_context *ctx, upstream_request *out)
{
    out->carries_credential = true;
    return upstream_add_header(out, "Authorization: Bearer %s", ctx->credential);
}

static int openai_build_submit(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size)
{
    const json_t *params = ctx->params;
    bool pro = strcmp(ctx->model, "sora-2-pro") == 0;
    const char *aspect = upstream_param_string(params, "aspect_ratio", "16:9");
    const char *resolution = upstream_param_string(params, "resolution", "720p");
    bool portrait = strcmp(aspect, "9:16") == 0 || strcmp(aspect, "720x1280") == 0;
    bool full_hd = strcmp(resolution, "1080p") == 0;
    if (full_hd && !pro) {
        snprintf(err, err_size, "sora-2 renders 720p only; use sora-2-pro for 1080p");
        return -1;
    }
    const char *size = portrait ? (full_hd ? "1080x1920" : "720x1280") : (full_hd ? "1920x1080" : "1280x720");
    const json_t *duration = json_object_get(params, "duration");
    char seconds[16];
    snprintf(seconds, sizeof(seconds), "%lld", json_is_integer(duration) ? (long long)json_integer_value(duration) : 4LL);
    json_t *body = json_pack("{s:s, s:O?, s:s, s:s}", "model", pro ? "sora-2-pro" : "sora-2", "prompt",
                             json_object_get(params, "prompt"), "seconds", seconds, "size", size);
    const json_t *images = json_object_get(params, "image_urls");
    if (body != NULL && json_array_size(images) > 0)
        json_object_set_new(body, "input_reference", json_pack("{s:O}", "image_url", json_array_get(images, 0)));
    out->method = "POST";
    if (snprintf(out->url, sizeof(out->url), "%s/videos", ctx->base_url) >= (int)sizeof(out->url) ||
        openai_auth(ctx, out) != 0 || upstream_set_json_body(out, body) != 0) {
        snprintf(err, err_size, "the OpenAI request could not be built");
        return -1;
    }
    return 0;
}

/* error.message of an OpenAI error body. */
static void openai_error_text(const json_t *body, char *out, size_t out_size)
{
    const json_t *error = json_object_get(body, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    snprintf(out, out_size, "%s", message ? message : "");
}

static void openai_parse_submit(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                                upstream_outcome *out)
{
    json_t *body = upstream_parse_object(response);
    if (response->status < 200 || response->status > 299) {
        char text[300];
        openai_error_text(body, text, sizeof(text));
        upstream_refusal(response, ctx->now, text, out);
        json_decref(body);
        return;
    }
    memset(job, 0, sizeof(*job));
    if (body == NULL || !upstream_copy_string(body, "id", job->id, sizeof(job->id)) || !openai_id_is_sane(job->id)) {
        job->id[0] = '\0';
        out->verdict = UPSTREAM_AMBIGUOUS;
        upstream_set_error(out, "upstream_error", "OpenAI accepted the request but its answer could not be read");
    } else {
        out->verdict = UPSTREAM_ACCEPTED;
    }
    json_decref(body);
}

static int openai_build_poll(const upstream_context *ctx, const upstream_job *job, upstream_request *out)
{
    if (!openai_id_is_sane(job->id)) return -1;
    out->method = "GET";
    snprintf(out->url, sizeof(out->url), "%s/videos/%s", ctx->base_url, job->id);
    return openai_auth(ctx, out);
}

static bool mentions(const char *text, const char *const *words)
{
    for (size_t i = 0; text && words[i]; i++)
        if (strcasestr(text, words[i]) != NULL) return true;
    return false;
}

static void openai_parse_poll(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                              upstream_outcome *out)
{
    (void)job;
    out->progress = -1;
    int64_t poll_after = 0;
    if (response->poll_after_ms != NULL) {
        long long value = strtoll(response->poll_after_ms, NULL, 10);
        if (value > 0 && value <= 3600 * 1000) poll_after = value;
    }
    if (response->status < 200 || response->status > 299) {
        upstream_poll_trouble(response, ctx->now, out);
        return;
    }
    json_t *body = upstream_parse_object(response);
    const char *status = json_string_value(json_object_get(body, "status"));
    const json_t *progress = json_object_get(body, "progress");
    if (json_is_number(progress)) {
        double value = json_number_value(progress);
        out->progress = value < 0 ? 0 : value > 100 ? 100 : (int)value;
    }
    out->retry_after_ms = poll_after;
    if (status == NULL) {
        out->phase = UPSTREAM_JOB_RETRY;
    } else if (strcmp(status, "queued") == 0) {
        out->phase = UPSTREAM_JOB_QUEUED;
    } else if (strcmp(status, "in_progress") == 0) {
        out->phase = UPSTREAM_JOB_RUNNING;
    } else if (strcmp(status, "completed") == 0) {
        out->phase = UPSTREAM_JOB_SUCCEEDED; /* the bytes come from the content endpoint */
    } else if (strcmp(status, "failed") == 0) {
        const json_t *error = json_object_get(body, "error");
        const char *code = json_string_value(json_object_get(error, "code"));
        const char *message = json_string_value(json_object_get(error, "message"));
        static const char *const policy[] = {"moderation", "policy", "safety", NULL};
        const char *ours = mentions(code, policy) || mentions(message, policy) ? "content_policy_violation"
                           : code && strncmp(code, "invalid", 7) == 0         ? "invalid_parameters"
                                                                              : "generation_failed";
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(out, ours, message ? message : code ? code : "OpenAI reported a failure");
    } else if (strcmp(status, "expired") == 0) {
        out->phase = UPSTREAM_JOB_FAILED;
        upstream_set_error(out, "upstream_error", "OpenAI's video expired before it could be downloaded");
    } else {
        out->phase = UPSTREAM_JOB_RETRY;
    }
    json_decref(body);
}

static int openai_build_download(const upstream_context *ctx, const upstream_job *job, const upstream_outcome *done,
                                 upstream_request *out)
{
    (void)done;
    if (!openai_id_is_sane(job->id)) return -1;
    out->method = "GET";
    snprintf(out->url, sizeof(out->url), "%s/videos/%s/content", ctx->base_url, job->id);
    if (openai_auth(ctx, out) != 0) return -1;
    return upstream_add_header(out, "Accept: application/binary");
}

const upstream_provider upstream_openai = {
    .name = "openai",
    .default_base_url = "https://api.openai.com/v1",
    .credential_form = "KEY",
    .models = openai_models,
    .honours = openai_honours,
    .credential_valid = openai_credential_valid,
    .build_submit = openai_build_submit,
    .parse_submit = openai_parse_submit,
    .build_poll = openai_build_poll,
    .parse_poll = openai_parse_poll,
    .build_download = openai_build_download,
};

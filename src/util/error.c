/* error.c — the table of error codes, and filling a reelay_error (see error.h). */
#include "util/error.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

#define INVALID ERR_TYPE_INVALID_REQUEST
#define UNAVAILABLE ERR_TYPE_SERVICE_UNAVAILABLE

/* Every error code reelay answers a request with: its status and type, written once. A row with a
 * fourth column is a second status of that code, raised under its own name. Statuses beyond the spec's
 * (§3.1: 400 401 402 403 404 413 422 429 500 503) are HTTP's own meaning: 405, 409, 410, 416, 417, 431. */
static const reelay_error_kind error_table[] = {
    /* 400: the request itself is malformed (framing, headers, body syntax) */
    /* error_filter: any 4xx h2o answers itself that has no row of its own (h2o's status is kept) */
    {"bad_request", 400, INVALID, NULL},
    {"client_gone", 400, INVALID, NULL},
    {"conflicting_content_length", 400, INVALID, NULL},
    {"duplicate_form_field", 400, INVALID, "duplicate_field"}, /* a multipart form's field twice */
    {"empty_file", 400, INVALID, NULL},
    {"invalid_base64", 400, INVALID, NULL},
    {"invalid_body", 400, INVALID, NULL},
    {"invalid_content_length", 400, INVALID, NULL},
    {"invalid_content_type", 400, INVALID, NULL},
    {"invalid_field", 400, INVALID, NULL},
    {"invalid_idempotency_key", 400, INVALID, NULL},
    {"invalid_json", 400, INVALID, NULL},
    {"invalid_multipart", 400, INVALID, NULL},
    {"malformed_request", 400, INVALID, NULL},
    {"missing_field", 400, INVALID, NULL},
    {"unsupported_transfer_encoding", 400, INVALID, NULL},
    /* 401, 402, 403 */
    {"invalid_api_key", 401, ERR_TYPE_AUTHENTICATION, NULL},
    {"invalid_signature", 401, ERR_TYPE_AUTHENTICATION, NULL}, /* a provider webhook's */
    {"insufficient_quota", 402, ERR_TYPE_INSUFFICIENT_QUOTA, NULL},
    {"forbidden", 403, ERR_TYPE_PERMISSION, NULL},
    {"invalid_link_signature", 403, ERR_TYPE_PERMISSION, "invalid_signature"}, /* a result link's */
    {"storage_quota_exceeded", 403, ERR_TYPE_PERMISSION, NULL},
    /* 404, 405, 409, 410 */
    {"channel_not_found", 404, ERR_TYPE_NOT_FOUND, NULL},
    {"key_not_found", 404, ERR_TYPE_NOT_FOUND, NULL}, /* the admin API */
    {"not_found", 404, ERR_TYPE_NOT_FOUND, NULL},
    {"task_not_found", 404, ERR_TYPE_NOT_FOUND, NULL},
    {"unknown_path", 404, ERR_TYPE_NOT_FOUND, NULL},
    {"method_not_allowed", 405, INVALID, NULL},
    {"task_not_cancellable", 409, ERR_TYPE_CONFLICT, NULL},
    {"video_not_ready", 409, ERR_TYPE_CONFLICT, NULL},    /* /v1/videos/{id}/content before it completed */
    {"task_not_finished", 409, ERR_TYPE_CONFLICT, NULL},  /* deleting a video still queued or in progress */
    {"channel_exists", 409, ERR_TYPE_CONFLICT, NULL},     /* the admin API: add a channel of that name */
    {"not_enough_credits", 409, ERR_TYPE_CONFLICT, NULL}, /* the admin API: take back more than there is */
    {"link_expired", 410, ERR_TYPE_NOT_FOUND, NULL},
    /* 413, 416, 417, 431: sizes and ranges */
    {"file_too_large", 413, INVALID, NULL},
    {"request_too_large", 413, INVALID, NULL},
    {"range_not_satisfiable", 416, INVALID, NULL},
    {"expectation_failed", 417, INVALID, NULL},
    {"request_head_too_large", 431, INVALID, NULL},
    {"too_many_headers", 431, INVALID, NULL},
    /* 422: well-formed, but a value is not acceptable (the catalog's validation, inputs, uploads by URL) */
    {"duplicate_field", 422, INVALID, NULL},           /* a JSON body names one field twice (by an alias) */
    {"empty_file_at_url", 422, INVALID, "empty_file"}, /* an upload by URL whose content is empty */
    {"idempotency_key_reused", 422, INVALID, NULL},
    {"input_blocked", 422, INVALID, NULL},
    {"input_not_media", 422, INVALID, NULL},
    {"input_timeout", 422, INVALID, NULL},
    {"input_too_large", 422, INVALID, NULL},
    {"input_too_long", 422, INVALID, NULL},
    {"input_unreachable", 422, INVALID, NULL},
    {"invalid_callback_url", 422, INVALID, NULL},
    {"invalid_type", 422, INVALID, NULL},
    {"invalid_url", 422, INVALID, NULL},
    {"invalid_value", 422, INVALID, NULL},
    {"missing_required_field", 422, INVALID, NULL},
    {"model_not_found", 422, INVALID, NULL},
    {"out_of_range", 422, INVALID, NULL},
    {"too_few_items", 422, INVALID, NULL},
    {"too_long", 422, INVALID, NULL},
    {"too_many_items", 422, INVALID, NULL},
    {"too_short", 422, INVALID, NULL},
    {"unknown_field", 422, INVALID, NULL},
    {"unsupported_advanced_options", 422, INVALID, NULL},
    {"unsupported_field", 422, INVALID, NULL},
    {"remix_unsupported", 422, INVALID, NULL}, /* POST /v1/videos/{id}/remix of a model without a prompt */
    {"unsupported_media_format", 422, INVALID, NULL},
    {"url_blocked", 422, INVALID, NULL},
    {"url_unreachable", 422, INVALID, NULL},
    /* 429 */
    {"rate_limit_exceeded", 429, ERR_TYPE_RATE_LIMIT, NULL},
    {"too_many_concurrent_tasks", 429, ERR_TYPE_RATE_LIMIT, NULL},
    /* 500, 503: not the client's fault; retry later */
    {"internal_error", 500, ERR_TYPE_SERVER, NULL}, /* error_filter also sends it with h2o's own 5xx */
    {"keys_unavailable", 503, UNAVAILABLE, NULL},
    {"no_available_channel", 503, UNAVAILABLE, NULL},
    {"overloaded", 503, UNAVAILABLE, NULL},
    {"server_stopping", 503, UNAVAILABLE, NULL},
    {"storage_unavailable", 503, UNAVAILABLE, NULL}, /* the object storage (S3) does not answer */
    {"store_unavailable", 503, UNAVAILABLE, NULL},
};

const reelay_error_kind *reelay_error_table(size_t *count)
{
    *count = sizeof(error_table) / sizeof(error_table[0]);
    return error_table;
}

const reelay_error_kind *reelay_error_kind_find(const char *name)
{
    if (name == NULL) return NULL;
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (strcmp(error_table[i].name, name) == 0) return &error_table[i];
    return NULL;
}

/* snprintf cuts at a byte count, possibly inside a UTF-8 sequence (a long non-ASCII field name in
 * param or message, cut here or by the caller): such text is not JSON-writable and the client would get
 * a 500 for its 422. Drops a last character left incomplete. */
static void drop_cut_character(char *text)
{
    size_t length = strlen(text), lead = length;
    while (lead > 0 && length - lead < 3 && ((unsigned char)text[lead - 1] & 0xC0) == 0x80)
        lead--;
    unsigned char first = lead > 0 ? (unsigned char)text[lead - 1] : 0;
    size_t need = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : 2;
    if (first >= 0xC0 && length - (lead - 1) < need) text[lead - 1] = '\0';
}

static void fill(reelay_error *err, int status, const char *type, const char *code, const char *param,
                 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void fill(reelay_error *err, int status, const char *type, const char *code, const char *param,
                 const char *fmt, va_list ap)
{
    err->status = status;
    err->type = type;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    drop_cut_character(err->param);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    drop_cut_character(err->message);
}

int reelay_error_vraise(reelay_error *err, const char *name, const char *param, const char *fmt, va_list ap)
{
    const reelay_error_kind *kind = reelay_error_kind_find(name);
    assert(kind != NULL && "an error code missing from the table of util/error.c");
    if (kind == NULL) {
        log_error("error", "unknown_code=\"%.64s\" answered as internal_error", name ? name : "(null)");
        kind = reelay_error_kind_find("internal_error");
    }
    if (err != NULL)
        fill(err, kind->status, kind->type, kind->code ? kind->code : kind->name, param, fmt, ap);
    return -1;
}

int reelay_error_raise(reelay_error *err, const char *name, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reelay_error_vraise(err, name, param, fmt, ap);
    va_end(ap);
    return -1;
}

int reelay_error_set(reelay_error *err, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...)
{
    if (err == NULL) return -1;
    va_list ap;
    va_start(ap, fmt);
    fill(err, status, type, code, param, fmt, ap);
    va_end(ap);
    return -1;
}

/* upstream_common.c — the provider registry, the look-ups over its model rows, the sandbox's entry and
 * the helpers every provider file shares. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "catalog/catalog.h"
#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"
#include "util/url_scheme.h"

static bool sandbox_credential_valid(const char *credential)
{
    return credential == NULL || credential[0] == '\0';
}

/* The sandbox renders every catalog model from its row's recipe (models NULL), and every option's
 * effect it can, accepting the rest (honours_every_option). */
const upstream_provider upstream_sandbox = {
    .name = "sandbox",
    .default_base_url = "",
    .credential_form = "(none)",
    .models = NULL,
    .honours_every_option = true,
    .runs_locally = true,
    .credential_valid = sandbox_credential_valid,
    .webhook_ask = UPSTREAM_WEBHOOK_NEVER,
    .verify_webhook = NULL, /* takes no webhooks */
};

static const upstream_provider *const providers[] = {
    &upstream_sandbox,  &upstream_fal, &upstream_sync, &upstream_kling, &upstream_openai,
    &upstream_creatify, NULL};

const upstream_provider *const *upstream_providers(void)
{
    return providers;
}

const upstream_provider *upstream_provider_find(const char *name)
{
    for (size_t i = 0; name && providers[i]; i++)
        if (strcmp(providers[i]->name, name) == 0) return providers[i];
    return NULL;
}

const upstream_model *upstream_provider_model(const upstream_provider *provider, const char *model)
{
    static const upstream_model any_catalog_model = {.model = "(every catalog model)"};
    if (model != NULL && provider->models == NULL)
        return catalog_model_find(model) != NULL ? &any_catalog_model : NULL;
    for (const upstream_model *row = provider->models; model && row->model; row++)
        if (strcmp(row->model, model) == 0) return row;
    return NULL;
}

bool upstream_provider_serves(const upstream_provider *provider, const char *model)
{
    return upstream_provider_model(provider, model) != NULL;
}

bool upstream_model_honours(const upstream_model *row, const char *field)
{
    for (size_t i = 0; row && row->honours && field && row->honours[i]; i++)
        if (strcmp(row->honours[i], field) == 0) return true;
    return false;
}

bool upstream_provider_honours(const upstream_provider *provider, const char *model, const char *field)
{
    const upstream_model *row = upstream_provider_model(provider, model);
    if (row == NULL || field == NULL) return false;
    return provider->honours_every_option || upstream_model_honours(row, field);
}

int upstream_build_link_download(const upstream_context *ctx, const upstream_job *job,
                                 const upstream_outcome *done, upstream_request *out)
{
    (void)ctx, (void)job;
    if (done->media_url[0] == '\0' || url_scheme_http_length(done->media_url) == 0) return -1;
    out->method = "GET";
    int n = snprintf(out->url, sizeof(out->url), "%s", done->media_url);
    if (n < 0 || (size_t)n >= sizeof(out->url)) return -1;
    out->carries_credential = false; /* a public or tokenised link: the credential never goes there */
    return 0;
}

void upstream_request_clear(upstream_request *request)
{
    free(request->body);
    memset(request, 0, sizeof(*request));
}

/* Splits an absolute URL into scheme, host and port (default by scheme). false when malformed. */
static bool url_origin(const char *url, char *scheme, size_t scheme_size, char *host, size_t host_size,
                       int *port)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL || (size_t)(sep - url) >= scheme_size || sep == url) return false;
    memcpy(scheme, url, (size_t)(sep - url));
    scheme[sep - url] = '\0';
    for (char *p = scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *authority = sep + 3;
    size_t authority_len = strcspn(authority, "/?#");
    const char *at = memchr(authority, '@', authority_len);
    if (at != NULL) return false; /* no credentials in URLs we follow */
    const char *host_start = authority, *host_end = authority + authority_len;
    const char *port_text = NULL;
    if (*host_start == '[') {
        const char *close = memchr(host_start, ']', authority_len);
        if (close == NULL) return false;
        host_end = close + 1;
        if (host_end < authority + authority_len) {
            if (*host_end != ':') return false;
            port_text = host_end + 1;
        }
    } else {
        const char *colon = memchr(host_start, ':', authority_len);
        if (colon != NULL) host_end = colon, port_text = colon + 1;
    }
    size_t host_len = (size_t)(host_end - host_start);
    if (host_len == 0 || host_len >= host_size) return false;
    for (size_t i = 0; i < host_len; i++)
        host[i] = (char)tolower((unsigned char)host_start[i]);
    host[host_len] = '\0';
    if (port_text != NULL) {
        char *end = NULL;
        long value = strtol(port_text, &end, 10);
        if (end == port_text || end != authority + authority_len || value <= 0 || value > 65535) return false;
        *port = (int)value;
    } else if (strcmp(scheme, "https") == 0) {
        *port = 443;
    } else if (strcmp(scheme, "http") == 0) {
        *port = 80;
    } else {
        return false;
    }
    return true;
}

bool upstream_same_origin(const char *a, const char *b)
{
    char scheme_a[16], scheme_b[16], host_a[256], host_b[256];
    int port_a = 0, port_b = 0;
    if (a == NULL || b == NULL ||
        !url_origin(a, scheme_a, sizeof(scheme_a), host_a, sizeof(host_a), &port_a) ||
        !url_origin(b, scheme_b, sizeof(scheme_b), host_b, sizeof(host_b), &port_b))
        return false;
    return strcmp(scheme_a, scheme_b) == 0 && strcmp(host_a, host_b) == 0 && port_a == port_b;
}

json_t *upstream_job_to_json(const upstream_job *job)
{
    json_t *object = json_object();
    json_object_set_new(object, "id", json_string(job->id));
    if (job->status_url[0]) json_object_set_new(object, "status_url", json_string(job->status_url));
    if (job->result_url[0]) json_object_set_new(object, "result_url", json_string(job->result_url));
    if (job->cancel_url[0]) json_object_set_new(object, "cancel_url", json_string(job->cancel_url));
    return object;
}

bool upstream_job_from_json(const json_t *object, upstream_job *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(object)) return false;
    bool fits = upstream_copy_string(object, "id", out->id, sizeof(out->id)) &&
                upstream_copy_string(object, "status_url", out->status_url, sizeof(out->status_url)) &&
                upstream_copy_string(object, "result_url", out->result_url, sizeof(out->result_url)) &&
                upstream_copy_string(object, "cancel_url", out->cancel_url, sizeof(out->cancel_url));
    return fits && out->id[0] != '\0';
}

int64_t upstream_retry_after_ms(const char *retry_after, const char *retry_after_ms, int64_t now)
{
    enum { CAP_MS = 3600 * 1000 };
    int64_t ms = 0;
    if (retry_after_ms != NULL && *retry_after_ms) {
        char *end = NULL;
        double value = strtod(retry_after_ms, &end);
        if (end != retry_after_ms && value > 0) ms = value > CAP_MS ? CAP_MS : (int64_t)value;
    }
    if (ms == 0 && retry_after != NULL && *retry_after) {
        char *end = NULL;
        double value = strtod(retry_after, &end);
        if (end != retry_after && (*end == '\0' || isspace((unsigned char)*end))) {
            if (value > 0) ms = value * 1000 > CAP_MS ? CAP_MS : (int64_t)(value * 1000);
        } else {
            struct tm tm;
            memset(&tm, 0, sizeof(tm));
            const char *rest = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            if (rest != NULL) {
                int64_t when = (int64_t)timegm(&tm);
                if (when > now) ms = (when - now) * 1000 > CAP_MS ? CAP_MS : (when - now) * 1000;
            }
        }
    }
    return ms;
}

int upstream_add_header(upstream_request *out, const char *format, ...)
{
    if (out->header_count >= UPSTREAM_MAX_HEADERS) return -1;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(out->headers[out->header_count], UPSTREAM_HEADER_SIZE, format, args);
    va_end(args);
    if (n < 0 || n >= UPSTREAM_HEADER_SIZE) return -1;
    /* a header line may never smuggle another one in */
    if (strpbrk(out->headers[out->header_count], "\r\n") != NULL) return -1;
    out->header_count++;
    return 0;
}

int upstream_set_json_body(upstream_request *out, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) return -1;
    free(out->body);
    out->body = text;
    out->body_size = strlen(text);
    return upstream_add_header(out, "Content-Type: application/json");
}

json_t *upstream_parse_object(const upstream_response *response)
{
    if (response->body == NULL || response->body_size == 0) return NULL;
    json_error_t error;
    json_t *value = json_loadb(response->body, response->body_size, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object(value)) {
        json_decref(value);
        return NULL;
    }
    return value;
}

bool upstream_copy_string(const json_t *object, const char *key, char *out, size_t out_size)
{
    const json_t *value = json_is_object(object) ? json_object_get(object, key) : NULL;
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    size_t length = strlen(text);
    if (length >= out_size) {
        out[0] = '\0';
        return false;
    }
    memcpy(out, text, length + 1);
    return true;
}

void upstream_set_error(upstream_outcome *out, const char *code, const char *message)
{
    snprintf(out->error_code, sizeof(out->error_code), "%s", code);
    snprintf(out->error_message, sizeof(out->error_message), "%s", message && *message ? message : code);
    for (char *p = out->error_message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    /* a message cut to fit (here or before) must not end inside a UTF-8 sequence: it goes into JSON */
    unsigned char *text = (unsigned char *)out->error_message;
    size_t length = strlen(out->error_message), lead = length;
    while (lead > 0 && length - lead < 3 && (text[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead > 0 && text[lead - 1] >= 0xC0) {
        size_t need = text[lead - 1] >= 0xF0 ? 4 : text[lead - 1] >= 0xE0 ? 3 : 2;
        if (length - (lead - 1) < need) text[lead - 1] = '\0';
    }
}

void upstream_refusal(const upstream_response *response, int64_t now, const char *message,
                      upstream_outcome *out)
{
    out->verdict = response->status == 429 ? UPSTREAM_THROTTLED : UPSTREAM_REFUSED;
    out->retry_after_ms = upstream_retry_after_ms(response->retry_after, response->retry_after_ms, now);
    const char *code = response->status == 400 || response->status == 422   ? "invalid_parameters"
                       : response->status == 401 || response->status == 403 ? "upstream_auth_failed"
                                                                            : "upstream_error";
    char text[400];
    snprintf(text, sizeof(text), "upstream answered HTTP %ld%s%s", response->status,
             message && *message ? ": " : "", message ? message : "");
    upstream_set_error(out, code, text);
}

void upstream_poll_trouble(const upstream_response *response, int64_t now, upstream_outcome *out)
{
    out->phase = response->status == 404 ? UPSTREAM_JOB_LOST : UPSTREAM_JOB_RETRY;
    out->retry_after_ms = upstream_retry_after_ms(response->retry_after, response->retry_after_ms, now);
    char text[96];
    snprintf(text, sizeof(text), "upstream answered HTTP %ld", response->status);
    upstream_set_error(out, "upstream_error", text);
}

int upstream_url_encode(const char *text, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (used + need >= out_size) return -1;
        if (plain) {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 15];
        }
    }
    if (out_size == 0) return -1;
    out[used] = '\0';
    return 0;
}

bool upstream_credential_shape(const char *credential, char separator)
{
    if (credential == NULL) return false;
    size_t length = strlen(credential);
    if (length == 0 || length > 512) return false;
    for (const unsigned char *p = (const unsigned char *)credential; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return false;
    if (separator == '\0') return true;
    const char *at = strchr(credential, separator);
    return at != NULL && at != credential && at[1] != '\0';
}

bool upstream_credential_split(const char *credential, char *first, size_t first_size, char *second,
                               size_t second_size)
{
    const char *colon = strchr(credential, ':');
    if (colon == NULL) return false;
    size_t first_len = (size_t)(colon - credential), second_len = strlen(colon + 1);
    if (first_len >= first_size || second_len >= second_size) return false;
    memcpy(first, credential, first_len);
    first[first_len] = '\0';
    memcpy(second, colon + 1, second_len + 1);
    return true;
}

const char *upstream_param_string(const json_t *params, const char *name, const char *fallback)
{
    const json_t *value = json_object_get(params, name);
    return json_is_string(value) ? json_string_value(value) : fallback;
}

void upstream_text_append(char *out, size_t out_size, const char *text)
{
    size_t used = strlen(out);
    if (used + 1 >= out_size) return;
    snprintf(out + used, out_size - used, "%s", text);
}

/* files.c — /v1/files/<name>?expires=…&signature=…: stored objects behind signed, expiring links.
 * No API key: the signature is the permission. h2o's file handler serves what this guard lets through
 * (Range, HEAD, conditional requests), typed by api_file_types only, and never as a page of our origin. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "util/clock.h"

/* Media a client may show inline; the first extension of a type is the one names get. Anything else is
 * served as application/octet-stream and as a download. Only audio/, video/ and image/ types (never
 * SVG, which is a document that runs scripts) may be listed. */
const http_file_type api_file_types[] = {
    {"mp4", "video/mp4"},   {"mov", "video/quicktime"}, {"webm", "video/webm"}, {"mkv", "video/x-matroska"},
    {"mp3", "audio/mpeg"},  {"wav", "audio/wav"},       {"m4a", "audio/mp4"},   {"aac", "audio/aac"},
    {"ogg", "audio/ogg"},   {"flac", "audio/flac"},     {"png", "image/png"},   {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"}, {"webp", "image/webp"},     {"gif", "image/gif"},   {NULL, NULL},
};

const char *api_file_type_of_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    for (const http_file_type *type = api_file_types; dot && type->extension; type++)
        if (strcasecmp(dot + 1, type->extension) == 0) return type->media_type;
    return NULL;
}

const char *api_file_extension_of_type(const char *media_type, size_t length)
{
    for (const http_file_type *type = api_file_types; type->extension; type++)
        if (strlen(type->media_type) == length && strncasecmp(media_type, type->media_type, length) == 0)
            return type->extension;
    return NULL;
}

/* Appends name[0..length) reduced to [A-Za-z0-9._-] to out[*n…], stopping at `limit` bytes: each run of
 * other bytes becomes one '_', and nothing is written before the first letter, digit, '_' or '-' (no
 * leading dots, no leading '_' for leading junk). */
static void append_sanitized(const char *name, size_t length, char *out, size_t *n, size_t limit)
{
    bool in_run = false;
    for (size_t i = 0; i < length && *n < limit; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c == '.' || c == '_' || c == '-') {
            if (c == '.' && *n == 0) continue;
            out[(*n)++] = (char)c;
            in_run = false;
        } else if (!in_run && *n > 0) {
            out[(*n)++] = '_';
            in_run = true;
        }
    }
}

bool api_file_name_sanitize(const char *name, size_t length, char *out, size_t out_size)
{
    if (out_size == 0) return false;
    for (size_t i = length; i > 0; i--)
        if (name[i - 1] == '/' || name[i - 1] == '\\') {
            name += i, length -= i;
            break;
        }
    while (length > 0 && name[length - 1] == '.') /* "a.mp4." is "a.mp4", as Windows would have it */
        length--;
    /* The extension: the last '.' and 1 to 16 letters or digits after it, kept whole whatever the rest */
    size_t extension = 0;
    for (size_t i = length; i > 0 && length - i <= 16; i--) {
        unsigned char c = (unsigned char)name[i - 1];
        if (c == '.') {
            extension = i < length ? length - i + 1 : 0;
            break;
        }
        if (!isalnum(c)) break;
    }
    static const char stem[] = "file";
    if (extension + sizeof(stem) > out_size) extension = 0; /* too small a buffer to keep it apart */
    size_t limit = (out_size - 1 < 4 * API_FILE_NAME_MAX ? out_size - 1 : 4 * API_FILE_NAME_MAX) - extension;
    size_t n = 0;
    append_sanitized(name, length - extension, out, &n, limit);
    if (extension > 0) {
        if (n == 0) { /* nothing but dots or other bytes before it: "....mp4" is "file.mp4" */
            memcpy(out, stem, sizeof(stem) - 1);
            n = sizeof(stem) - 1;
        }
        if (n + extension > API_FILE_NAME_MAX) n = API_FILE_NAME_MAX - extension;
        memcpy(out + n, name + length - extension, extension);
        n += extension;
    } else {
        if (n > API_FILE_NAME_MAX) n = API_FILE_NAME_MAX;
        while (n > 0 && (out[n - 1] == '_' || out[n - 1] == '.'))
            n--;
    }
    out[n] = '\0';
    return n > 0;
}

bool api_file_is_inline(const char *media_type)
{
    if (media_type == NULL || strncasecmp(media_type, "image/svg", 9) == 0) return false;
    return strncasecmp(media_type, "video/", 6) == 0 || strncasecmp(media_type, "audio/", 6) == 0 ||
           strncasecmp(media_type, "image/", 6) == 0;
}

/* Headers that keep a served file from acting as a page of reelay's origin: no type sniffing, a
 * sandbox (no scripts, an opaque origin) should a browser render it anyway, and anything that is not
 * plain media is a download under its own (already safe, made safe again here) file name. Kept by h2o
 * on 200, 206, 304 and 416 answers, HEAD included. */
void api_files_add_safety_headers(h2o_req_t *req, const char *name)
{
    http_add_header(req, "x-content-type-options", "nosniff");
    http_add_header(req, "content-security-policy", "sandbox");
    if (api_file_is_inline(api_file_type_of_name(name))) return;
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    char disposition[300];
    size_t n = (size_t)snprintf(disposition, sizeof(disposition), "attachment; filename=\"");
    for (; *base && n + 3 < sizeof(disposition); base++) {
        unsigned char c = (unsigned char)*base;
        disposition[n++] = isalnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '_';
    }
    disposition[n++] = '"';
    disposition[n] = '\0';
    http_add_header(req, "content-disposition", disposition);
}

bool api_files_authorize(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    char name[600], expires[32], signature[80];
    link_verdict verdict = LINK_TAMPERED;
    if (http_path_param(exchange, 0, name, sizeof(name)) == 0 && blob_name_is_valid(name) &&
        http_query_param(req, "expires", expires, sizeof(expires)) == 1 &&
        http_query_param(req, "signature", signature, sizeof(signature)) == 1)
        verdict = link_verify(&app->signer, name, expires, signature, clock_unix_seconds());
    if (verdict == LINK_VALID) {
        api_files_add_safety_headers(req, name);
        return true;
    }
    if (verdict == LINK_EXPIRED)
        http_send_error_code(req, "link_expired", NULL,
                             "This link has expired; fetch the task again for a fresh one while it is kept.");
    else
        http_send_error_code(req, "invalid_link_signature", NULL,
                             "This link is not valid: it is incomplete or has been altered.");
    return false;
}

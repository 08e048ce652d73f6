/* files.c — GET /v1/files/<name>?expires=…&signature=…: stored objects behind signed, expiring
 * links. No API key: the signature is the permission. Ranges and conditional requests are h2o's. */
#include <limits.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"

static const char *content_type_for(const char *name)
{
    static const struct {
        const char *suffix, *type;
    } types[] = {{".mp4", "video/mp4"},  {".mov", "video/quicktime"}, {".png", "image/png"},
                 {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},     {".webp", "image/webp"},
                 {".mp3", "audio/mpeg"}, {".wav", "audio/wav"}};
    size_t length = strlen(name);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t suffix_length = strlen(types[i].suffix);
        if (length > suffix_length && strcmp(name + length - suffix_length, types[i].suffix) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

void api_files_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    char name[600], expires[32], signature[80];
    if (http_path_param(exchange, 0, name, sizeof(name)) != 0 || !blob_name_is_valid(name) ||
        http_query_param(req, "expires", expires, sizeof(expires)) != 1 ||
        http_query_param(req, "signature", signature, sizeof(signature)) != 1) {
        http_send_error_fields(req, 403, ERR_TYPE_PERMISSION, "invalid_signature", NULL,
                               "This link is not valid: it is incomplete or has been altered.");
        return;
    }
    link_verdict verdict = link_verify(&app->signer, name, expires, signature, clock_unix_seconds());
    if (verdict == LINK_TAMPERED) {
        http_send_error_fields(req, 403, ERR_TYPE_PERMISSION, "invalid_signature", NULL,
                               "This link is not valid: it is incomplete or has been altered.");
        return;
    }
    if (verdict == LINK_EXPIRED) {
        http_send_error_fields(
            req, 410, ERR_TYPE_NOT_FOUND, "link_expired", NULL,
            "This link has expired; fetch the task again for a fresh one while it is kept.");
        return;
    }
    char path[PATH_MAX];
    const char *type = content_type_for(name);
    if (blob_local_path(app->blobs, name, path, sizeof(path)) != 0 ||
        h2o_file_send(req, 200, "OK", path, h2o_iovec_init(type, strlen(type)), 0) != 0)
        http_send_error_fields(req, 404, ERR_TYPE_NOT_FOUND, "file_not_found", NULL,
                               "The file no longer exists.");
}

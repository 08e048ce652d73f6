/* files.c — /v1/files/<name>?expires=…&signature=…: stored objects behind signed, expiring links.
 * No API key: the signature is the permission. h2o's file handler serves what this guard lets through
 * (Range, HEAD, conditional requests, Content-Type by extension). */
#include <string.h>

#include "api/api_internal.h"
#include "util/clock.h"

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
    if (verdict == LINK_VALID) return true;
    if (verdict == LINK_EXPIRED)
        http_send_error_fields(req, 410, ERR_TYPE_NOT_FOUND, "link_expired", NULL,
                               "This link has expired; fetch the task again for a fresh one while it is kept.");
    else
        http_send_error_fields(req, 403, ERR_TYPE_PERMISSION, "invalid_signature", NULL,
                               "This link is not valid: it is incomplete or has been altered.");
    return false;
}

/* error.h — the one shape every failed request takes on its way to the client.
 *
 * A handler (or anything it calls: validation, the store) fills a reelay_error and returns a
 * failure status; http/response.c turns it into {"error":{"message","type","code","param"}}
 * with the right HTTP status. Nothing else writes error responses. */
#ifndef REELAY_UTIL_ERROR_H
#define REELAY_UTIL_ERROR_H

#include <stdarg.h>

typedef struct reelay_error {
    int status;        /* HTTP status: 400, 401, 402, 403, 404, 409, 410, 413, 422, 429, 500, 503 */
    const char *type;  /* static string: "invalid_request_error", "authentication_error", ... */
    char code[64];     /* machine code ("invalid_value", "unsupported_advanced_options"), "" = null */
    char param[64];    /* offending parameter ("duration", "image_urls[0]"), "" = null */
    char message[512]; /* for a person: what was wrong and what is allowed */
} reelay_error;

/* Error types of specs/foxapi-api.md §3.3. */
#define ERR_TYPE_INVALID_REQUEST "invalid_request_error"
#define ERR_TYPE_AUTHENTICATION "authentication_error"
#define ERR_TYPE_INSUFFICIENT_QUOTA "insufficient_quota"
#define ERR_TYPE_NOT_FOUND "not_found"
#define ERR_TYPE_RATE_LIMIT "rate_limit_error"
#define ERR_TYPE_SERVER "server_error"
#define ERR_TYPE_SERVICE_UNAVAILABLE "service_unavailable_error"
#define ERR_TYPE_PERMISSION "permission_error"
#define ERR_TYPE_CONFLICT "conflict_error"

/* Fills every field of err. code and param may be NULL (written as JSON null); message is printf-style.
 * Always returns -1 so that callers can write `return reelay_error_set(...)`. */
int reelay_error_set(reelay_error *err, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif

/* error.h — the one shape every failed request takes on its way to the client, and the one table of
 * error codes.
 *
 * A handler (or anything it calls: validation, the store) raises an error by its code —
 * reelay_error_raise(err, "input_too_long", "video_url", "...%s...", ...) — and returns a failure
 * status; http/ turns the reelay_error into {"error":{"message","type","code","param"}} with the
 * right HTTP status (http_send_error, or http_send_error_code to raise and send at once). Each code's
 * HTTP status and type are written once, in the table of error.c; raising a code the table lacks is a
 * programming error (an assert in a debug build; a 500 server_error in a release build).
 *
 * A code the API sends with two statuses has one row per status, each under its own name; the row
 * says which code goes on the wire (e.g. "empty_file_at_url" is sent as "empty_file" with 422, where
 * "empty_file" is 400). Nothing else writes error responses. */
#ifndef REELAY_UTIL_ERROR_H
#define REELAY_UTIL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct reelay_error {
    int status;        /* HTTP status: 400, 401, 402, 403, 404, 409, 410, 413, 422, 429, 500, 503, ... */
    const char *type;  /* static string: "invalid_request_error", "authentication_error", ... */
    char code[64];     /* machine code ("invalid_value", "unsupported_advanced_options"), "" = null */
    char param[64];    /* offending parameter ("duration", "image_urls[0]"), "" = null */
    char message[512]; /* for a person: what was wrong and what is allowed */
} reelay_error;

/* Error types of specs/foxapi-api.md §3.3, and reelay's two beyond it (403 permission, 409 conflict). */
#define ERR_TYPE_INVALID_REQUEST "invalid_request_error"
#define ERR_TYPE_AUTHENTICATION "authentication_error"
#define ERR_TYPE_INSUFFICIENT_QUOTA "insufficient_quota"
#define ERR_TYPE_NOT_FOUND "not_found"
#define ERR_TYPE_RATE_LIMIT "rate_limit_error"
#define ERR_TYPE_SERVER "server_error"
#define ERR_TYPE_SERVICE_UNAVAILABLE "service_unavailable_error"
#define ERR_TYPE_PERMISSION "permission_error"
#define ERR_TYPE_CONFLICT "conflict_error"

/* One row of the error table. */
typedef struct reelay_error_kind {
    const char *name; /* what a caller raises; unique in the table */
    int status;       /* the HTTP status it is answered with */
    const char *type; /* one of the ERR_TYPE_* strings */
    const char *code; /* error.code on the wire: name itself, or (for a second status of one code) the
                         code this row is a variant of */
} reelay_error_kind;

/* The table (static storage) and its number of rows in *count. For tests and documentation. */
const reelay_error_kind *reelay_error_table(size_t *count);

/* The row raised as name, or NULL when the table has none (or name is NULL). */
const reelay_error_kind *reelay_error_kind_find(const char *name);

/* Fills every field of err from the row of `name` (status, type, wire code), param (NULL = JSON null)
 * and the printf-style message. An unknown name asserts in a debug build; in a release build it is
 * logged and err becomes a 500 server_error "internal_error" with the same param and message.
 * Always returns -1, so that callers can write `return reelay_error_raise(...)`. err may be NULL. */
int reelay_error_raise(reelay_error *err, const char *name, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a va_list (for wrappers such as http_send_error_code). */
int reelay_error_vraise(reelay_error *err, const char *name, const char *param, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Fills every field of err as given, without the table: for the call sites not yet converted
 * (api/generations.c, api/webhooks.c) and for tests of the HTTP plumbing. New code raises by code.
 * code and param may be NULL (written as JSON null); message is printf-style. Always returns -1. */
int reelay_error_set(reelay_error *err, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif

/* admin_api.h — the admin HTTP API under /admin/v1/ (internal to api/): its routes, which routes.c puts
 * at the end of api_routes, and what its handlers share. Each handler authenticates the admin token
 * (api_admin_begin), reads its input as hostile, runs the admin/admin.h action the command line runs
 * too, logs what changed (never a secret) and answers JSON. Admin routes are not rate-limited. The
 * routes and their answers are listed in the README ("Admin API"). */
#ifndef REELAY_API_ADMIN_API_H
#define REELAY_API_ADMIN_API_H

#include <jansson.h>

#include "admin/admin.h"
#include "api/api_internal.h"

/* The admin routes, in the order the router tries them (a fixed path before a {name} one). */
#define API_ADMIN_ROUTES                                                                                       \
    {"POST", "/admin/v1/keys", "admin.keys.create", api_admin_keys_create, NULL, false},                       \
        {"GET", "/admin/v1/keys", "admin.keys.list", api_admin_keys_list, NULL, false},                        \
        {"PATCH", "/admin/v1/keys/{id}", "admin.keys.update", api_admin_keys_update, NULL, false},             \
        {"POST", "/admin/v1/keys/{id}/revoke", "admin.keys.revoke", api_admin_keys_revoke, NULL, false},       \
        {"POST", "/admin/v1/keys/{id}/credits", "admin.credits.grant", api_admin_credits_grant, NULL, false},  \
        {"GET", "/admin/v1/keys/{id}/credits", "admin.credits.show", api_admin_credits_show, NULL, false},     \
        {"GET", "/admin/v1/credits/audit", "admin.credits.audit", api_admin_credits_audit, NULL, false},       \
        {"POST", "/admin/v1/channels", "admin.channels.add", api_admin_channels_add, NULL, false},             \
        {"GET", "/admin/v1/channels", "admin.channels.list", api_admin_channels_list, NULL, false},            \
        {"GET", "/admin/v1/channels/health", "admin.channels.health", api_admin_channels_health, NULL, false}, \
        {"PATCH", "/admin/v1/channels/{name}", "admin.channels.update", api_admin_channels_update, NULL,       \
         false},                                                                                               \
        {"POST", "/admin/v1/channels/{name}/enable", "admin.channels.enable", api_admin_channels_enable, NULL, \
         false},                                                                                               \
        {"POST",                                                                                               \
         "/admin/v1/channels/{name}/disable",                                                                  \
         "admin.channels.disable",                                                                             \
         api_admin_channels_disable,                                                                           \
         NULL,                                                                                                 \
         false},                                                                                               \
        {"DELETE", "/admin/v1/channels/{name}", "admin.channels.remove", api_admin_channels_remove, NULL,      \
         false},                                                                                               \
    {                                                                                                          \
        "GET", "/admin/v1/tasks/summary", "admin.tasks.summary", api_admin_tasks_summary, NULL, false          \
    }

/* Authenticates `Authorization: Bearer <admin token>` and fills *ctx for the admin actions. False after
 * answering: 401 invalid_api_key for a missing, malformed or wrong token (with WWW-Authenticate), 403
 * forbidden for a valid user API key (never served here), 503 store_unavailable when the database
 * cannot be read. */
bool api_admin_begin(http_exchange *exchange, admin_context *ctx);
/* Path parameter i, a key id or a channel name ([A-Za-z0-9_-], at most out_size - 1): false after
 * answering 404 (key_not_found or channel_not_found, by `code`) for anything else. */
bool api_admin_path_name(http_exchange *exchange, size_t i, const char *code, char *out, size_t out_size);

/* One member of a JSON body: its name, type, and where it goes; *given tells whether it was there. */
typedef enum { ADMIN_MEMBER_STRING, ADMIN_MEMBER_INTEGER, ADMIN_MEMBER_BOOLEAN } admin_member_type;
typedef struct admin_member {
    const char *name;
    admin_member_type type;
    const char **text; /* STRING: points into the body (valid while it lives); no NUL inside */
    int64_t *number;   /* INTEGER: a whole JSON number */
    bool *given;       /* may be NULL */
    bool *flag;        /* BOOLEAN: true or false */
} admin_member;
/* api_admin_begin, then path parameter 0 read by api_admin_path_name: false after answering. */
bool api_admin_begin_named(http_exchange *exchange, admin_context *ctx, const char *code, char *out,
                           size_t out_size);
/* The element of list (an array, consumed; NULL is fine) whose string member `member` equals value, with
 * a reference of its own, or NULL. */
json_t *api_admin_pick(json_t *list, const char *member, const char *value);

/* The members of the three types: a string, a whole number (given: whether it was there), a boolean. */
#define ADMIN_TEXT(member, where)                                                                            \
    {                                                                                                        \
        .name = (member), .type = ADMIN_MEMBER_STRING, .text = (where)                                       \
    }
#define ADMIN_NUMBER(member, where, was_given)                                                               \
    {                                                                                                        \
        .name = (member), .type = ADMIN_MEMBER_INTEGER, .number = (where), .given = (was_given)              \
    }
#define ADMIN_FLAG(member, where)                                                                            \
    {                                                                                                        \
        .name = (member), .type = ADMIN_MEMBER_BOOLEAN, .flag = (where)                                      \
    }
/* Reads the request's JSON object into the members; a member not listed, of another type, or a string
 * holding NUL is refused. Returns the body (the caller decrefs it once done with the strings), or NULL
 * after answering 400/422. */
json_t *api_admin_read_body(h2o_req_t *req, const admin_member *members, size_t count);

/* Answers a failed action (result->code, param, message; 503 with Retry-After for the database). */
void api_admin_send_failure(h2o_req_t *req, const admin_result *result);
/* A change was made: logs "admin change" with the route and result->changed (warns when the other nodes
 * could not be told), and makes this node's caches see it at once — its key caches ("key") or its
 * channel views and the runner's table ("channel"). */
void api_admin_changed(http_exchange *exchange, const char *route, const char *kind,
                       const admin_result *result);

/* Handlers (admin_keys_api.c, admin_channels_api.c). */
void api_admin_keys_create(http_exchange *exchange);
void api_admin_keys_list(http_exchange *exchange);
void api_admin_keys_update(http_exchange *exchange);
void api_admin_keys_revoke(http_exchange *exchange);
void api_admin_credits_grant(http_exchange *exchange);
void api_admin_credits_show(http_exchange *exchange);
void api_admin_credits_audit(http_exchange *exchange);
void api_admin_channels_add(http_exchange *exchange);
void api_admin_channels_list(http_exchange *exchange);
void api_admin_channels_health(http_exchange *exchange);
void api_admin_channels_update(http_exchange *exchange);
void api_admin_channels_enable(http_exchange *exchange);
void api_admin_channels_disable(http_exchange *exchange);
void api_admin_channels_remove(http_exchange *exchange);
void api_admin_tasks_summary(http_exchange *exchange);

#endif

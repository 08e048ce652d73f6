/* admin_auth.c — what the admin API's handlers share (admin_api.h): the admin token's check, path
 * names, JSON bodies read member by member, answers and the log line of each change. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/admin_api.h"
#include "engine/cluster_signals.h"
#include "util/ids.h"
#include "util/log.h"

enum { MAX_TOKEN_LENGTH = 200 };

/* The token of a Bearer header into out; false when missing, malformed or too long. */
static bool bearer_token(h2o_iovec_t header, char out[MAX_TOKEN_LENGTH + 1])
{
    static const char bearer[] = "Bearer ";
    if (header.base == NULL || header.len <= sizeof(bearer) - 1 ||
        strncasecmp(header.base, bearer, sizeof(bearer) - 1) != 0 ||
        header.len - (sizeof(bearer) - 1) > MAX_TOKEN_LENGTH)
        return false;
    size_t length = header.len - (sizeof(bearer) - 1);
    memcpy(out, header.base + sizeof(bearer) - 1, length);
    out[length] = '\0';
    while (length > 0 && out[length - 1] == ' ')
        out[--length] = '\0';
    return length > 0;
}

/* Which answer a presented token gets: 0 admin, 401, 403 (a user key) or 503. */
static int token_verdict(api_thread *thread, const char *token)
{
    store_status status = admin_token_check(thread->db, token);
    if (status == STORE_OK) return 0;
    if (status == STORE_ERROR) return 503;
    unsigned char hash[STORE_KEY_HASH_SIZE];
    store_secret_hash(token, hash);
    key_record key;
    status = store_key_find_by_hash(thread->db, hash, &key);
    if (status == STORE_ERROR) return 503;
    return status == STORE_OK ? 403 : 401;
}

bool api_admin_begin(http_exchange *exchange, admin_context *ctx)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    char token[MAX_TOKEN_LENGTH + 1];
    bool present = bearer_token(http_request_header(req, "authorization"), token);
    int verdict = present ? token_verdict(thread, token) : 401;
    sodium_memzero(token, sizeof(token));
    if (verdict == 0) {
        *ctx = (admin_context){.db = thread->db, .data_dir = thread->app->data_dir, .flag_names = false};
        return true;
    }
    if (verdict == 403) {
        http_send_error_code(req, "forbidden", NULL, "%s",
                             "An API key cannot use the admin API: send the admin token (rla_…).");
    } else if (verdict == 503) {
        api_send_store_unavailable(req, "The admin token could not be checked; retry later.");
    } else {
        http_add_header(req, "www-authenticate", "Bearer");
        http_send_error_code(req, "invalid_api_key", NULL, "%s",
                             present ? "Invalid admin token."
                                     : "Missing admin token: send it as 'Authorization: Bearer rla_…'.");
    }
    return false;
}

bool api_admin_path_name(http_exchange *exchange, size_t i, const char *code, char *out, size_t out_size)
{
    if (http_path_param(exchange, i, out, out_size) == 0 && ids_is_plain_name(out, out_size - 1)) return true;
    http_send_error_code(exchange->req, code, NULL, "%s",
                         strcmp(code, "key_not_found") == 0 ? "There is no such key."
                                                            : "There is no such channel.");
    return false;
}

bool api_admin_begin_named(http_exchange *exchange, admin_context *ctx, const char *code, char *out,
                           size_t out_size)
{
    return api_admin_begin(exchange, ctx) && api_admin_path_name(exchange, 0, code, out, out_size);
}

json_t *api_admin_pick(json_t *list, const char *member, const char *value)
{
    json_t *found = NULL, *element;
    size_t i;
    json_array_foreach(list, i, element)
    {
        const char *text = json_string_value(json_object_get(element, member));
        if (found == NULL && text != NULL && strcmp(text, value) == 0) found = json_incref(element);
    }
    json_decref(list);
    return found;
}

/* The member of that name, or NULL. */
static const admin_member *member_named(const admin_member *members, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(members[i].name, name) == 0) return &members[i];
    return NULL;
}

json_t *api_admin_read_body(h2o_req_t *req, const admin_member *members, size_t count)
{
    reelay_error err;
    json_t *body = api_parse_json_object(req, &err);
    if (body == NULL) {
        http_send_error(req, &err);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (members[i].given) *members[i].given = false;
    const char *name;
    json_t *value;
    json_object_foreach(body, name, value)
    {
        const admin_member *m = member_named(members, count, name);
        if (m == NULL) {
            http_send_error_code(req, "unknown_field", name, "Unknown field '%.64s'.", name);
        } else if (m->type == ADMIN_MEMBER_STRING &&
                   (!json_is_string(value) ||
                    strlen(json_string_value(value)) != json_string_length(value))) {
            http_send_error_code(req, "invalid_type", name, "'%s' must be a string.", name);
        } else if (m->type == ADMIN_MEMBER_INTEGER && !json_is_integer(value)) {
            http_send_error_code(req, "invalid_type", name, "'%s' must be a whole number.", name);
        } else if (m->type == ADMIN_MEMBER_BOOLEAN && !json_is_boolean(value)) {
            http_send_error_code(req, "invalid_type", name, "'%s' must be true or false.", name);
        } else {
            if (m->type == ADMIN_MEMBER_STRING)
                *m->text = json_string_value(value);
            else if (m->type == ADMIN_MEMBER_INTEGER)
                *m->number = json_integer_value(value);
            else
                *m->flag = json_is_true(value);
            if (m->given) *m->given = true;
            continue;
        }
        json_decref(body);
        return NULL;
    }
    return body;
}

void api_admin_send_failure(h2o_req_t *req, const admin_result *result)
{
    if (result->outcome == ADMIN_FAILED && strcmp(result->code, "store_unavailable") == 0) {
        api_send_store_unavailable(req, result->message);
        return;
    }
    http_send_error_code(req, result->code ? result->code : "internal_error",
                         result->param[0] ? result->param : NULL, "%s", result->message);
}

void api_admin_changed(http_exchange *exchange, const char *route, const char *kind,
                       const admin_result *result)
{
    api_thread *thread = exchange->thread_data;
    log_info("admin change", "route=%s %s", route, result->changed);
    if (result->nodes_not_told)
        log_warn("the other nodes were not told of an admin change; they see it within a second", "route=%s",
                 route);
    if (strcmp(kind, CLUSTER_SIGNAL_KEY) == 0) {
        atomic_fetch_add(&thread->app->keys_generation, 1);
    } else {
        atomic_fetch_add(&thread->app->channels_generation, 1);
        if (thread->app->engine) engine_reload_channels(thread->app->engine);
    }
}

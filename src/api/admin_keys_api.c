/* admin_keys_api.c — the admin API's keys and credits (admin_api.h, README "Admin API"):
 *   POST  /admin/v1/keys                {name, credits, group, rpm, max_concurrent} → 201, what
 *                                       `reelay keys create --json` prints (the key shown once)
 *   GET   /admin/v1/keys                → {data: [keys]} (never a key or its hash)
 *   PATCH /admin/v1/keys/{id}           {group, rpm, max_concurrent} → the key as listed
 *   POST  /admin/v1/keys/{id}/revoke    → the key as listed (revoked: true)
 *   POST  /admin/v1/keys/{id}/credits   {amount, note} → the balance and the newest ledger entry
 *   GET   /admin/v1/keys/{id}/credits   ?limit=N (0-1000, default 20) → balance and ledger
 *   GET   /admin/v1/credits/audit       → the audit ({ok: false, …} when the ledger is off, still 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_api.h"
#include "engine/cluster_signals.h"

enum { KEY_ID_SIZE = 32, DEFAULT_LEDGER_LIMIT = 20, MAX_LEDGER_LIMIT = 1000 };

/* Reads the key fields of a create (with_credits) or an update from the body; NULL after answering. */
static json_t *read_key_fields(h2o_req_t *req, admin_key_fields *fields, bool with_credits)
{
    bool has_rpm = false, has_max = false;
    *fields = (admin_key_fields){.rpm = -1, .max_concurrent = -1};
    admin_member members[] = {
        ADMIN_TEXT("group", &fields->group),
        ADMIN_NUMBER("rpm", &fields->rpm, &has_rpm),
        ADMIN_NUMBER("max_concurrent", &fields->max_concurrent, &has_max),
        ADMIN_TEXT("name", &fields->name),
        ADMIN_NUMBER("credits", &fields->credits, NULL),
    };
    /* an update does not know credits (they are granted) */
    json_t *body = api_admin_read_body(req, members, with_credits ? 5 : 4);
    /* -1 means "not given" to the admin actions: a given -1 is out of range, as any negative */
    if (body != NULL && ((has_rpm && fields->rpm < 0) || (has_max && fields->max_concurrent < 0))) {
        http_send_error_code(req, "out_of_range", has_rpm && fields->rpm < 0 ? "rpm" : "max_concurrent",
                             "Limits are whole numbers from 0 to 1000000.");
        json_decref(body);
        return NULL;
    }
    return body;
}

void api_admin_keys_create(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_key_fields fields;
    json_t *body = read_key_fields(exchange->req, &fields, true);
    if (body == NULL) return;
    admin_new_key key;
    admin_result result;
    admin_key_create(&ctx, &fields, &key, &result);
    json_decref(body);
    if (result.outcome != ADMIN_DONE) {
        api_admin_send_failure(exchange->req, &result);
        return;
    }
    api_admin_changed(exchange, "admin.keys.create", CLUSTER_SIGNAL_KEY, &result);
    api_send_json_value(exchange->req, 201, admin_new_key_json(&key, "id"));
    admin_new_key_forget(&key);
}

/* The key with that id as GET /admin/v1/keys lists it, or NULL. */
static json_t *listed_key(const admin_context *ctx, const char *id)
{
    admin_result result;
    return api_admin_pick(admin_keys_list(ctx, &result), "id", id);
}

void api_admin_keys_list(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_result result;
    json_t *list = admin_keys_list(&ctx, &result);
    if (list == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, json_pack("{s:s, s:o}", "object", "list", "data", list));
}

/* PATCH and revoke: the change, then the key as listed. */
static void key_change(http_exchange *exchange, bool revoking)
{
    admin_context ctx;
    char id[KEY_ID_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "key_not_found", id, sizeof(id))) return;
    admin_result result;
    if (revoking) {
        admin_key_revoke(&ctx, id, &result);
    } else {
        admin_key_fields fields;
        json_t *body = read_key_fields(exchange->req, &fields, false);
        if (body == NULL) return;
        admin_key_update(&ctx, id, &fields, &result);
        json_decref(body);
    }
    if (result.outcome != ADMIN_DONE) {
        api_admin_send_failure(exchange->req, &result);
        return;
    }
    api_admin_changed(exchange, revoking ? "admin.keys.revoke" : "admin.keys.update", CLUSTER_SIGNAL_KEY,
                      &result);
    api_send_json_value(exchange->req, 200, listed_key(&ctx, id));
}

void api_admin_keys_update(http_exchange *exchange)
{
    key_change(exchange, false);
}

void api_admin_keys_revoke(http_exchange *exchange)
{
    key_change(exchange, true);
}

/* The balance and ledger of `id` (limit newest entries) as the answer. */
static void send_credits(http_exchange *exchange, const admin_context *ctx, const char *id, size_t limit)
{
    admin_result result;
    json_t *view = admin_credits_view(ctx, id, limit, &result);
    if (view == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, view);
}

void api_admin_credits_grant(http_exchange *exchange)
{
    admin_context ctx;
    char id[KEY_ID_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "key_not_found", id, sizeof(id))) return;
    int64_t amount = 0;
    const char *note = NULL;
    bool has_amount = false;
    admin_member members[] = {ADMIN_NUMBER("amount", &amount, &has_amount), ADMIN_TEXT("note", &note)};
    json_t *body = api_admin_read_body(exchange->req, members, 2);
    if (body == NULL) return;
    if (!has_amount) {
        json_decref(body);
        http_send_error_code(exchange->req, "missing_required_field", "amount", "%s",
                             "'amount' (a non-zero whole number; negative takes credits back) is required.");
        return;
    }
    admin_result result;
    admin_credits_grant(&ctx, id, amount, note, &result);
    json_decref(body);
    if (result.outcome != ADMIN_DONE) {
        api_admin_send_failure(exchange->req, &result);
        return;
    }
    api_admin_changed(exchange, "admin.credits.grant", CLUSTER_SIGNAL_KEY, &result);
    send_credits(exchange, &ctx, id, 1);
}

void api_admin_credits_show(http_exchange *exchange)
{
    admin_context ctx;
    char id[KEY_ID_SIZE];
    if (!api_admin_begin_named(exchange, &ctx, "key_not_found", id, sizeof(id))) return;
    char text[16];
    long long limit = DEFAULT_LEDGER_LIMIT;
    int found = http_query_param(exchange->req, "limit", text, sizeof(text));
    char *end = NULL;
    if (found == 1) limit = strtoll(text, &end, 10);
    if (found < 0 || (found == 1 && (end == text || *end != '\0' || limit < 0 || limit > MAX_LEDGER_LIMIT))) {
        http_send_error_code(exchange->req, "out_of_range", "limit",
                             "'limit' must be a whole number from 0 to %d.", MAX_LEDGER_LIMIT);
        return;
    }
    send_credits(exchange, &ctx, id, (size_t)limit);
}

void api_admin_credits_audit(http_exchange *exchange)
{
    admin_context ctx;
    if (!api_admin_begin(exchange, &ctx)) return;
    admin_result result;
    json_t *audit = admin_credits_audit(&ctx, &result);
    if (audit == NULL)
        api_admin_send_failure(exchange->req, &result);
    else
        api_send_json_value(exchange->req, 200, audit);
}

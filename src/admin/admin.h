/* admin.h — what an operator does to an installation, once, for both of its front ends: the command line
 * (cli/keys.c, cli/channels.c, cli/init.c) and the admin HTTP API (api/admin_*.c, under /admin/v1/).
 *
 *   - the admin token: made once by `reelay init`, replaced by `reelay admin-token rotate`; only its
 *     SHA-256 is kept, in the database (the cluster fact ADMIN_TOKEN_FACT), so every node sharing the
 *     database accepts the same token and a rotation takes effect on all of them at the next request;
 *   - API keys and their credits: create (the key and its callback signing secret are shown once),
 *     update limits, revoke, list (never a key or its hash), grant, show with the ledger, audit;
 *   - channels: add, update, enable, disable, remove, list (credentials masked, never a webhook secret);
 *   - reports: each channel's health (its circuit on this node, tasks in flight, recent outcomes) and a
 *     summary of tasks by state and model.
 *
 * Every input is checked here as if hostile (both front ends pass what they were given). A change is
 * committed in the database, then every node is told (engine/cluster_signals.h: "key" or "channel";
 * on SQLite nothing is sent and the serving process re-reads within a second). Failures are values: an
 * admin_result says what went wrong, with the error code of util/error.c's table an HTTP answer uses,
 * the offending field and a message for people; none of them ever holds a secret. */
#ifndef REELAY_ADMIN_ADMIN_H
#define REELAY_ADMIN_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "store/store.h"

typedef enum {
    ADMIN_DONE = 0,
    ADMIN_INVALID,   /* the input is refused (nothing changed): a misuse, 400/422 */
    ADMIN_NOT_FOUND, /* no such key or channel: 404 */
    ADMIN_CONFLICT,  /* a channel of that name exists, or too few credits to take back: 409 */
    ADMIN_FAILED,    /* the database or the data folder's secrets failed (logged): 503 */
} admin_outcome;

typedef struct admin_result {
    admin_outcome outcome;
    const char *code;    /* unless done: the code of util/error.c's table for the HTTP answer */
    char param[32];      /* unless done: the field at fault ("" = none), named as the front end names it */
    char message[256];   /* unless done: why, for people */
    char changed[512];   /* done: what changed, "field=value …" with non-secret values, for the log */
    bool nodes_not_told; /* done, but the other nodes could not be told (they re-read within a second) */
} admin_result;

typedef struct admin_context {
    store *db;
    const char *data_dir; /* its credentials.key seals credentials and opens them to mask them */
    bool flag_names;      /* messages name fields as flags ("--base-url"), else as JSON members */
} admin_context;

/* ---- The admin token (admin_token.c). ---- */

#define ADMIN_TOKEN_PREFIX "rla_" /* users' keys start "sk-": logs and tools tell them apart */
#define ADMIN_TOKEN_FACT "admin_token_sha256"
enum { ADMIN_TOKEN_SIZE = 64 };

/* Makes a token and records its hash unless one is recorded already. *issued true: token holds the new
 * token (show it once, then wipe it); false: one existed, nothing changed, token is "". OK or ERROR. */
store_status admin_token_issue_once(store *db, char token[ADMIN_TOKEN_SIZE], bool *issued);
/* Makes a new token and records its hash in place of the old one, which stops working at once. OK (token
 * holds it) or ERROR (token ""). */
store_status admin_token_rotate(store *db, char token[ADMIN_TOKEN_SIZE]);
/* Whether `presented` is the admin token: OK when it is; NOT_FOUND when it is not or none was ever
 * issued; ERROR when the database cannot be read. Hashes compared in constant time. */
store_status admin_token_check(store *db, const char *presented);

/* ---- Keys and credits (admin_keys.c). ---- */

typedef struct admin_key_fields {
    const char *name;            /* 0-63 characters, no control characters; NULL = none (create), keep */
    const char *group;           /* 1-31 of [A-Za-z0-9_-]; NULL = "default" (create), keep (update) */
    int64_t credits;             /* create: granted at once, 0 … 10^15 */
    int64_t rpm, max_concurrent; /* 0 … 10^6, 0 = unlimited; -1 = 0 (create), keep (update) */
} admin_key_fields;

typedef struct admin_new_key {
    key_record key;
    char secret[64];         /* the key itself, "sk-…" */
    char webhook_secret[64]; /* its callback signing secret, "whsec_…" */
    int64_t credits;
} admin_new_key;

/* Creates a key with its limits and credits. Done: *out holds it (wipe it with admin_new_key_forget once
 * shown). A key whose credits could not be granted is revoked again (ADMIN_FAILED). */
void admin_key_create(const admin_context *ctx, const admin_key_fields *fields, admin_new_key *out,
                      admin_result *result);
/* What `reelay keys create --json` prints and POST /admin/v1/keys answers: {<id_field>, "key",
 * "webhook_secret", "credits", "user_group"} (id_field "id", or "key_id" for `init`). NULL when out of
 * memory. */
json_t *admin_new_key_json(const admin_new_key *key, const char *id_field);
void admin_new_key_forget(admin_new_key *key);
/* Changes the group and limits given (name cannot change: the store keeps it as created). */
void admin_key_update(const admin_context *ctx, const char *id, const admin_key_fields *fields,
                      admin_result *result);
/* Revokes a key (again: done). */
void admin_key_revoke(const admin_context *ctx, const char *id, admin_result *result);
/* Every key, oldest first: [{id, name, user_group, created, revoked, credits_available,
 * credits_reserved, rpm, max_concurrent}] — never a key or its hash. NULL unless done. */
json_t *admin_keys_list(const admin_context *ctx, admin_result *result);

/* Adds amount (non-zero, |amount| ≤ 10^15; negative takes back, never below 0: ADMIN_CONFLICT) with the
 * note (at most 127 characters, no control characters; NULL = ""). */
void admin_credits_grant(const admin_context *ctx, const char *key_id, int64_t amount, const char *note,
                         admin_result *result);
/* {key_id, credits_available, credits_reserved, user_group, ledger: [{seq, kind, task_id, amount,
 * released, note, created}]} with at most `limit` newest entries (0 = all). NULL unless done. */
json_t *admin_credits_view(const admin_context *ctx, const char *key_id, size_t limit, admin_result *result);
/* The credit audit: {ok, keys_checked, tasks_checked, tasks_before_ledger, problems, first_problem}
 * (ok false when the ledger and the balances disagree). NULL unless done. */
json_t *admin_credits_audit(const admin_context *ctx, admin_result *result);

/* ---- Channels (admin_channels.c). ---- */

typedef struct admin_channel_fields {
    const char *provider, *name; /* add only: a provider of the table; 1-63 of [A-Za-z0-9_-] */
    const char *base_url;        /* http(s), no credentials, query or fragment; NULL = provider's / keep */
    const char *credential;      /* the provider's form; NULL = none (add), keep (update) */
    const char *models;          /* "all" or models the provider serves, comma-separated; NULL = keep */
    const char *webhook_secret;  /* printable, no spaces; "" removes it; NULL = none / keep */
    int priority, weight, max_concurrent;
    bool has_priority, has_weight, has_max_concurrent;
    bool disabled; /* add only: the channel starts disabled (an update ignores it) */
} admin_channel_fields;

void admin_channel_add(const admin_context *ctx, const admin_channel_fields *fields, admin_result *result);
/* fields->provider and ->name must be NULL (they cannot change). */
void admin_channel_update(const admin_context *ctx, const char *name, const admin_channel_fields *fields,
                          admin_result *result);
void admin_channel_set_enabled(const admin_context *ctx, const char *name, bool enabled,
                               admin_result *result);
/* Its unfinished tasks fail over or time out. */
void admin_channel_remove(const admin_context *ctx, const char *name, admin_result *result);
/* Every channel by priority: [{name, provider, base_url, models, priority, weight, max_concurrent,
 * enabled, credential (masked), webhook_secret (whether one is set), created}]. NULL unless done. */
json_t *admin_channels_list(const admin_context *ctx, admin_result *result);

/* ---- Reports (admin_reports.c). ---- */

/* "Recent" in the channel health: tasks finished in the last hour. */
#define ADMIN_RECENT_SECONDS 3600

/* Per channel: {name, provider, enabled, circuit ("closed", "open", "half_open"; with e NULL, as on the
 * command line, "unknown"), consecutive_failures, throttled, in_flight (tasks submitting or processing on
 * it, every node's), recent: {seconds, completed, failed, success_rate (completed / (completed + failed),
 * null when none), median_seconds (created to completed, null when none)}}, wrapped as {node_local:
 * [circuit, consecutive_failures, throttled], recent_seconds, channels: […]}. The circuit lives in each
 * node's memory: it is this node's. NULL unless done. */
json_t *admin_channels_health(const admin_context *ctx, engine *e, int64_t now, admin_result *result);
/* {by_state: {pending: n, …}, by_model: {model: {total, by_state: {…}}}, finished: {last_minute,
 * last_hour}, total}. NULL unless done. */
json_t *admin_tasks_summary(const admin_context *ctx, int64_t now, admin_result *result);

#endif

/* admin_keys.c — API keys and their credits (admin.h). A key is shown once, at creation; only its
 * SHA-256 is stored. Its callback signing secret (whsec_…, Standard Webhooks) is sealed with the data
 * folder's key (util/secret_box.h) and also shown once. Credits are whole numbers; every change is a
 * ledger entry (store/store.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "engine/cluster_signals.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/secret_box.h"

#define CREDITS_MAX 1000000000000000LL
#define LIMIT_MAX 1000000

/* Checks the fields a create or an update gives; false after filling *result. */
static bool key_fields_valid(const admin_context *ctx, const admin_key_fields *f, admin_result *result)
{
    if (f->name != NULL && !admin_text_is_plain(f->name, sizeof(((key_record *)0)->name) - 1))
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "name",
                   "{F} must be at most 63 characters, without control characters");
    else if (f->group != NULL && !ids_is_plain_name(f->group, sizeof(((key_record *)0)->user_group) - 1))
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "group",
                   "{F} must be 1 to 31 letters, digits, '-' or '_'");
    else if (f->credits < 0 || f->credits > CREDITS_MAX)
        admin_fail(ctx, result, ADMIN_INVALID, "out_of_range", "credits",
                   "{F} must be a whole number from 0 to %lld", CREDITS_MAX);
    else if (f->rpm < -1 || f->rpm > LIMIT_MAX)
        admin_fail(ctx, result, ADMIN_INVALID, "out_of_range", "rpm",
                   "{F} must be a whole number from 0 to %d", LIMIT_MAX);
    else if (f->max_concurrent < -1 || f->max_concurrent > LIMIT_MAX)
        admin_fail(ctx, result, ADMIN_INVALID, "out_of_range", "max_concurrent",
                   "{F} must be a whole number from 0 to %d", LIMIT_MAX);
    else
        return true;
    return false;
}

/* The key's record, secret, signing secret (sealed into sealed) and hash. False when it cannot be sealed. */
static bool key_make(const admin_context *ctx, const admin_key_fields *f, admin_new_key *out,
                     unsigned char hash[STORE_KEY_HASH_SIZE], char sealed[STORE_SEALED_SECRET_SIZE])
{
    memset(out, 0, sizeof(*out));
    key_record *key = &out->key;
    ids_random_alnum(key->id, sizeof(key->id), "key_", 16);
    snprintf(key->name, sizeof(key->name), "%s", f->name ? f->name : "");
    snprintf(key->user_group, sizeof(key->user_group), "%s", f->group ? f->group : "default");
    key->created_at = clock_unix_seconds();
    key->rpm_limit = f->rpm > 0 ? (int)f->rpm : 0;
    key->max_concurrent = f->max_concurrent > 0 ? (int)f->max_concurrent : 0;
    out->credits = f->credits;
    ids_random_token(out->secret, sizeof(out->secret), "sk-", 32);
    store_secret_hash(out->secret, hash);
    /* Standard Webhooks: whsec_ + base64 of the HMAC key */
    unsigned char signing_key[32];
    randombytes_buf(signing_key, sizeof(signing_key));
    memcpy(out->webhook_secret, "whsec_", 6);
    sodium_bin2base64(out->webhook_secret + 6, sizeof(out->webhook_secret) - 6, signing_key,
                      sizeof(signing_key), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(signing_key, sizeof(signing_key));
    secret_box box;
    bool sealed_ok = secret_box_load(ctx->data_dir, &box) == 0 &&
                     secret_box_seal(&box, out->webhook_secret, sealed, STORE_SEALED_SECRET_SIZE) == 0;
    sodium_memzero(&box, sizeof(box));
    return sealed_ok;
}

void admin_key_create(const admin_context *ctx, const admin_key_fields *fields, admin_new_key *out,
                      admin_result *result)
{
    if (!key_fields_valid(ctx, fields, result)) return;
    unsigned char hash[STORE_KEY_HASH_SIZE];
    char sealed[STORE_SEALED_SECRET_SIZE];
    if (!key_make(ctx, fields, out, hash, sealed)) {
        admin_new_key_forget(out);
        admin_fail(ctx, result, ADMIN_FAILED, "internal_error", NULL,
                   "The key's signing secret could not be sealed with the data folder's credentials.key.");
        return;
    }
    key_record *key = &out->key;
    if (store_key_insert(ctx->db, key, hash, sealed) != STORE_OK) {
        admin_new_key_forget(out);
        admin_fail_store(ctx, result, "the key could not be stored");
        return;
    }
    if (fields->credits > 0 && store_credits_grant(ctx->db, key->id, fields->credits, "granted at creation",
                                                   key->created_at) != STORE_OK) {
        /* nobody has seen the key: it is revoked rather than left stored with nothing to use it by */
        bool revoked = store_key_revoke(ctx->db, key->id, key->created_at) == STORE_OK;
        admin_fail(ctx, result, ADMIN_FAILED, "store_unavailable", NULL,
                   "The credits of the new key %s could not be granted; the key was %s", key->id,
                   revoked ? "revoked, create another" : "left without credits and could not be revoked");
        admin_new_key_forget(out);
        return;
    }
    admin_done(result);
    admin_changed(result, "key_id", "%s", key->id);
    admin_changed(result, "name", "\"%s\"", key->name);
    admin_changed(result, "group", "%s", key->user_group);
    admin_changed(result, "credits", "%lld", (long long)out->credits);
    admin_changed(result, "rpm", "%d", key->rpm_limit);
    admin_changed(result, "max_concurrent", "%d", key->max_concurrent);
}

json_t *admin_new_key_json(const admin_new_key *key, const char *id_field)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s}", id_field, key->key.id, "key", key->secret, "webhook_secret",
                     key->webhook_secret, "credits", (json_int_t)key->credits, "user_group",
                     key->key.user_group);
}

void admin_new_key_forget(admin_new_key *key)
{
    sodium_memzero(key->secret, sizeof(key->secret));
    sodium_memzero(key->webhook_secret, sizeof(key->webhook_secret));
}

/* The result of a key change that returned status. */
static void key_changed(const admin_context *ctx, const char *id, store_status status, admin_result *result)
{
    if (status == STORE_NOT_FOUND) {
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "key_not_found", NULL, "no key %s", id);
    } else if (status != STORE_OK) {
        admin_fail_store(ctx, result, "the key could not be changed");
    } else {
        admin_tell_nodes(ctx, result, CLUSTER_SIGNAL_KEY, id);
    }
}

void admin_key_update(const admin_context *ctx, const char *id, const admin_key_fields *fields,
                      admin_result *result)
{
    if (fields->name != NULL) {
        admin_fail(ctx, result, ADMIN_INVALID, "unsupported_field", "name",
                   "a key's name cannot change: it stays as created");
        return;
    }
    if (!key_fields_valid(ctx, fields, result)) return;
    store_status status =
        store_key_update_limits(ctx->db, id, fields->group, (int)fields->rpm, (int)fields->max_concurrent);
    admin_done(result);
    if (status == STORE_OK) {
        admin_changed(result, "key_id", "%s", id);
        if (fields->group) admin_changed(result, "group", "%s", fields->group);
        if (fields->rpm >= 0) admin_changed(result, "rpm", "%lld", (long long)fields->rpm);
        if (fields->max_concurrent >= 0)
            admin_changed(result, "max_concurrent", "%lld", (long long)fields->max_concurrent);
    }
    key_changed(ctx, id, status, result);
}

void admin_key_revoke(const admin_context *ctx, const char *id, admin_result *result)
{
    store_status status = store_key_revoke(ctx->db, id, clock_unix_seconds());
    admin_done(result);
    if (status == STORE_OK)
        admin_changed(result, "key_id", "%s", id), admin_changed(result, "revoked", "true");
    key_changed(ctx, id, status, result);
}

json_t *admin_keys_list(const admin_context *ctx, admin_result *result)
{
    key_record *keys = NULL;
    size_t count = 0;
    if (store_key_list(ctx->db, &keys, &count) != STORE_OK) {
        admin_fail_store(ctx, result, "the keys could not be read");
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++) {
        credit_balance balance = {0};
        store_credits_balance(ctx->db, keys[i].id, &balance);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:i, s:i}", "id", keys[i].id,
                                        "name", keys[i].name, "user_group", keys[i].user_group, "created",
                                        (json_int_t)keys[i].created_at, "revoked", keys[i].revoked_at != 0,
                                        "credits_available", (json_int_t)balance.available,
                                        "credits_reserved", (json_int_t)balance.reserved, "rpm",
                                        keys[i].rpm_limit, "max_concurrent", keys[i].max_concurrent));
    }
    free(keys);
    if (list == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return list;
}

void admin_credits_grant(const admin_context *ctx, const char *key_id, int64_t amount, const char *note,
                         admin_result *result)
{
    if (amount == 0 || amount < -CREDITS_MAX || amount > CREDITS_MAX) {
        admin_fail(ctx, result, ADMIN_INVALID, "out_of_range", "amount",
                   "{F} must be a non-zero whole number from %lld to %lld", -CREDITS_MAX, CREDITS_MAX);
        return;
    }
    if (note != NULL && !admin_text_is_plain(note, sizeof(((ledger_entry *)0)->note) - 1)) {
        admin_fail(ctx, result, ADMIN_INVALID, "invalid_value", "note",
                   "{F} must be at most 127 characters, without control characters");
        return;
    }
    store_status status =
        store_credits_grant(ctx->db, key_id, amount, note ? note : "", clock_unix_seconds());
    if (status == STORE_NOT_FOUND) {
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "key_not_found", NULL, "no key %s", key_id);
    } else if (status == STORE_CONFLICT) {
        admin_fail(ctx, result, ADMIN_CONFLICT, "not_enough_credits", "amount",
                   "%s has fewer than %lld credits available", key_id, (long long)-amount);
    } else if (status != STORE_OK) {
        admin_fail_store(ctx, result, "the credits could not be granted");
    } else {
        admin_done(result);
        admin_changed(result, "key_id", "%s", key_id);
        admin_changed(result, "amount", "%lld", (long long)amount);
    }
}

json_t *admin_credits_view(const admin_context *ctx, const char *key_id, size_t limit, admin_result *result)
{
    credit_balance balance;
    store_status status = store_credits_balance(ctx->db, key_id, &balance);
    ledger_entry *entries = NULL;
    size_t count = 0;
    if (status == STORE_OK) status = store_credits_ledger(ctx->db, key_id, limit, &entries, &count);
    if (status == STORE_NOT_FOUND) {
        admin_fail(ctx, result, ADMIN_NOT_FOUND, "key_not_found", NULL, "no key %s", key_id);
        return NULL;
    }
    if (status != STORE_OK) {
        admin_fail_store(ctx, result, "the credits could not be read");
        return NULL;
    }
    json_t *ledger = json_array();
    for (size_t i = 0; ledger && i < count; i++)
        json_array_append_new(
            ledger, json_pack("{s:I, s:s, s:s?, s:I, s:I, s:s, s:I}", "seq", (json_int_t)entries[i].seq,
                              "kind", ledger_kind_name(entries[i].kind), "task_id",
                              entries[i].task_id[0] ? entries[i].task_id : NULL, "amount",
                              (json_int_t)entries[i].amount, "released", (json_int_t)entries[i].released,
                              "note", entries[i].note, "created", (json_int_t)entries[i].created_at));
    free(entries);
    json_t *view = json_pack("{s:s, s:I, s:I, s:s, s:o}", "key_id", key_id, "credits_available",
                             (json_int_t)balance.available, "credits_reserved", (json_int_t)balance.reserved,
                             "user_group", balance.user_group, "ledger", ledger);
    if (view == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return view;
}

json_t *admin_credits_audit(const admin_context *ctx, admin_result *result)
{
    credit_audit audit;
    if (store_credits_audit(ctx->db, &audit) != STORE_OK) {
        admin_fail_store(ctx, result, "the ledger could not be read");
        return NULL;
    }
    json_t *view =
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:s?}", "ok", audit.problems == 0, "keys_checked",
                  (json_int_t)audit.keys_checked, "tasks_checked", (json_int_t)audit.tasks_checked,
                  "tasks_before_ledger", (json_int_t)audit.tasks_before_ledger, "problems",
                  (json_int_t)audit.problems, "first_problem", audit.problems ? audit.first_problem : NULL);
    if (view == NULL)
        admin_fail_store(ctx, result, "out of memory");
    else
        admin_done(result);
    return view;
}

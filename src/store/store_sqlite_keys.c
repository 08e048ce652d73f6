/* store_keys.c — API keys and channels in SQLite (store.h): insert, find by hash, list, revoke,
 * limits, webhook secrets; channels' insert, list, update and removal. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/vector.h"

/* ---- keys ---- */

static void read_key(sqlite3_stmt *stmt, key_record *out)
{
    memset(out, 0, sizeof(*out));
    sql_copy_text(out->id, sizeof(out->id), stmt, 0);
    sql_copy_text(out->name, sizeof(out->name), stmt, 1);
    sql_copy_text(out->user_group, sizeof(out->user_group), stmt, 2);
    out->created_at = sqlite3_column_int64(stmt, 3);
    out->revoked_at = sqlite3_column_int64(stmt, 4);
    out->rpm_limit = sqlite3_column_int(stmt, 5);
    out->max_concurrent = sqlite3_column_int(stmt, 6);
}

store_status sqlite_store_key_insert(sqlite_store *s, const key_record *key,
                                     const unsigned char hash[STORE_KEY_HASH_SIZE],
                                     const char *webhook_secret_sealed)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "INSERT INTO api_keys (id, name, key_hash, user_group, created_at, revoked_at, rpm_limit, "
            "max_concurrent, webhook_secret_sealed) VALUES (?,?,?,?,?,?,?,?,?)",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 7, key->rpm_limit > 0 ? key->rpm_limit : 0);
    sqlite3_bind_int(stmt, 8, key->max_concurrent > 0 ? key->max_concurrent : 0);
    sqlite3_bind_text(stmt, 9, webhook_secret_sealed ? webhook_secret_sealed : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 1, key->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, key->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 3, hash, STORE_KEY_HASH_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, key->user_group[0] ? key->user_group : "default", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, key->created_at);
    sqlite3_bind_int64(stmt, 6, key->revoked_at);
    int changed = sql_run_write(s, stmt, "insert key");
    return changed == 1 ? STORE_OK : changed == -2 ? STORE_CONFLICT : STORE_ERROR;
}

store_status sqlite_store_key_find_by_hash(sqlite_store *s, const unsigned char hash[STORE_KEY_HASH_SIZE],
                                           key_record *out)
{
    sqlite3_stmt *stmt = s->hot[STMT_KEY_BY_HASH];
    sqlite3_bind_blob(stmt, 1, hash, STORE_KEY_HASH_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_key(stmt, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "find key");
    }
    sql_release(stmt);
    return status;
}

store_status sqlite_store_key_list(sqlite_store *s, key_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    *out = NULL;
    *count = 0;
    if (sql_prepare(s, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at, id", &stmt) != STORE_OK)
        return STORE_ERROR;
    vector rows;
    vector_init(&rows, sizeof(key_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        key_record *row = vector_push(&rows, NULL);
        if (row == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_key(stmt, row);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "list keys");
    }
    return STORE_OK;
}

store_status sqlite_store_key_revoke(sqlite_store *s, const char *id, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE "
            "id = ?",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_text(stmt, 2, id, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "revoke key");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status sqlite_store_key_update_limits(sqlite_store *s, const char *id, const char *user_group,
                                            int rpm_limit, int max_concurrent)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE api_keys SET user_group = COALESCE(?1, user_group), "
                    "rpm_limit = CASE WHEN ?2 < 0 THEN rpm_limit ELSE ?2 END, "
                    "max_concurrent = CASE WHEN ?3 < 0 THEN max_concurrent ELSE ?3 END WHERE id = ?4",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sql_bind_text_or_null(stmt, 1, user_group);
    sqlite3_bind_int(stmt, 2, rpm_limit);
    sqlite3_bind_int(stmt, 3, max_concurrent);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "update key limits");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status sqlite_store_key_webhook_secret(sqlite_store *s, const char *id, char *out, size_t out_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT webhook_secret_sealed FROM api_keys WHERE id = ?", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_ROW    ? STORE_OK
                          : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                              : sql_fail(s, "key secret");
    if (status == STORE_OK) sql_copy_text(out, out_size, stmt, 0);
    sqlite3_finalize(stmt);
    return status;
}

/* ---- channels ---- */

/* Binds a channel's columns to ?1..?10 (name, provider, base_url, models, priority, weight,
 * max_concurrent, enabled, credential_sealed, webhook_secret_sealed), and created_at to ?11 when the
 * statement has it. */
static void bind_channel(sqlite3_stmt *stmt, const channel_record *channel)
{
    sqlite3_bind_text(stmt, 1, channel->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, channel->provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, channel->base_url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, channel->models, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, channel->priority);
    sqlite3_bind_int(stmt, 6, channel->weight);
    sqlite3_bind_int(stmt, 7, channel->max_concurrent);
    sqlite3_bind_int(stmt, 8, channel->enabled ? 1 : 0);
    sqlite3_bind_text(stmt, 9, channel->credential_sealed, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 10, channel->webhook_secret_sealed, -1, SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(stmt) >= 11) sqlite3_bind_int64(stmt, 11, channel->created_at);
}

store_status sqlite_store_channel_insert(sqlite_store *s, const channel_record *channel)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "INSERT INTO channels (name, provider, base_url, models, priority, weight, max_concurrent, "
            "enabled, credential_sealed, webhook_secret_sealed, created_at) "
            "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    bind_channel(stmt, channel);
    int changed = sql_run_write(s, stmt, "insert channel");
    return changed == 1 ? STORE_OK : changed == -2 ? STORE_CONFLICT : STORE_ERROR;
}

store_status sqlite_store_channel_list(sqlite_store *s, channel_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    *out = NULL;
    *count = 0;
    if (sql_prepare(
            s,
            "SELECT name, provider, base_url, models, priority, weight, max_concurrent, enabled, created_at, "
            "credential_sealed, webhook_secret_sealed FROM channels ORDER BY priority DESC, name",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    vector rows;
    vector_init(&rows, sizeof(channel_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        channel_record *c = vector_push(&rows, NULL); /* zeroed */
        if (c == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        sql_copy_text(c->name, sizeof(c->name), stmt, 0);
        sql_copy_text(c->provider, sizeof(c->provider), stmt, 1);
        sql_copy_text(c->base_url, sizeof(c->base_url), stmt, 2);
        sql_copy_text(c->models, sizeof(c->models), stmt, 3);
        c->priority = sqlite3_column_int(stmt, 4);
        c->weight = sqlite3_column_int(stmt, 5);
        c->max_concurrent = sqlite3_column_int(stmt, 6);
        c->enabled = sqlite3_column_int(stmt, 7) != 0;
        c->created_at = sqlite3_column_int64(stmt, 8);
        sql_copy_text(c->credential_sealed, sizeof(c->credential_sealed), stmt, 9);
        sql_copy_text(c->webhook_secret_sealed, sizeof(c->webhook_secret_sealed), stmt, 10);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "list channels");
    }
    return STORE_OK;
}

store_status sqlite_store_channel_update(sqlite_store *s, const channel_record *channel)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "UPDATE channels SET provider = ?2, base_url = ?3, models = ?4, priority = ?5, weight = ?6, "
            "max_concurrent = ?7, enabled = ?8, credential_sealed = ?9, webhook_secret_sealed = ?10 "
            "WHERE name = ?1",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    bind_channel(stmt, channel);
    int changed = sql_run_write(s, stmt, "update channel");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status sqlite_store_channel_remove(sqlite_store *s, const char *name)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "DELETE FROM channels WHERE name = ?", &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "remove channel");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

/* store_pg_keys.c — API keys and channels in PostgreSQL (store.h): insert, find by hash, list, revoke,
 * limits, webhook secrets; channels' insert, list, update and removal. The same statements as
 * store_sqlite_keys.c, with PostgreSQL's placeholders and types. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"

#define KEY_COLUMNS "id, name, user_group, created_at, revoked_at, rpm_limit, max_concurrent"
#define CHANNEL_COLUMNS                                                                                      \
    "name, provider, base_url, models, priority, weight, max_concurrent, enabled, created_at, "              \
    "credential_sealed, webhook_secret_sealed"

/* OK when one row changed, NOT_FOUND when none; the query's own status otherwise. */
static store_status one_row_changed(pg_store *s, const char *what, const char *sql, int count,
                                    const char *const *values)
{
    PGresult *result = NULL;
    store_status status = pg_query(s, what, &result, sql, count, values);
    if (status != STORE_OK) return status;
    int64_t changed = pg_changed(result);
    PQclear(result);
    return changed == 1 ? STORE_OK : STORE_NOT_FOUND;
}

/* ---- keys ---- */

static void read_key(const PGresult *result, int row, key_record *out)
{
    memset(out, 0, sizeof(*out));
    pg_copy_text(out->id, sizeof(out->id), result, row, 0);
    pg_copy_text(out->name, sizeof(out->name), result, row, 1);
    pg_copy_text(out->user_group, sizeof(out->user_group), result, row, 2);
    out->created_at = pg_get_int(result, row, 3);
    out->revoked_at = pg_get_int(result, row, 4);
    out->rpm_limit = (int)pg_get_int(result, row, 5);
    out->max_concurrent = (int)pg_get_int(result, row, 6);
}

store_status pg_store_key_insert(pg_store *s, const key_record *key,
                                 const unsigned char hash[STORE_KEY_HASH_SIZE],
                                 const char *webhook_secret_sealed)
{
    pg_number created, revoked, rpm, concurrent;
    pg_hex hex;
    const char *values[] = {key->id,
                            key->name,
                            pg_bytes(&hex, hash, STORE_KEY_HASH_SIZE),
                            key->user_group[0] ? key->user_group : "default",
                            pg_int(&created, key->created_at),
                            pg_int(&revoked, key->revoked_at),
                            pg_int(&rpm, key->rpm_limit > 0 ? key->rpm_limit : 0),
                            pg_int(&concurrent, key->max_concurrent > 0 ? key->max_concurrent : 0),
                            webhook_secret_sealed ? webhook_secret_sealed : ""};
    return pg_query(
        s, "insert key", NULL,
        "INSERT INTO api_keys (id, name, key_hash, user_group, created_at, revoked_at, rpm_limit, "
        "max_concurrent, webhook_secret_sealed) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        9, values);
}

store_status pg_store_key_find_by_hash(pg_store *s, const unsigned char hash[STORE_KEY_HASH_SIZE],
                                       key_record *out)
{
    pg_hex hex;
    const char *values[] = {pg_bytes(&hex, hash, STORE_KEY_HASH_SIZE)};
    PGresult *result = NULL;
    store_status status =
        pg_query(s, "find key", &result,
                 "SELECT " KEY_COLUMNS " FROM api_keys WHERE key_hash = $1 AND revoked_at = 0", 1, values);
    if (status != STORE_OK) return STORE_ERROR;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) read_key(result, 0, out);
    PQclear(result);
    return status;
}

store_status pg_store_key_list(pg_store *s, key_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    PGresult *result = NULL;
    if (pg_query(s, "list keys", &result,
                 "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at, id COLLATE \"C\"", 0,
                 NULL) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    key_record *keys = rows ? calloc((size_t)rows, sizeof(*keys)) : NULL;
    if (rows && keys == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < rows; i++)
        read_key(result, i, &keys[i]);
    PQclear(result);
    *out = keys;
    *count = (size_t)rows;
    return STORE_OK;
}

store_status pg_store_key_revoke(pg_store *s, const char *id, int64_t now)
{
    pg_number when;
    const char *values[] = {pg_int(&when, now), id};
    return one_row_changed(
        s, "revoke key",
        "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $1::bigint ELSE revoked_at END "
        "WHERE id = $2",
        2, values);
}

store_status pg_store_key_update_limits(pg_store *s, const char *id, const char *user_group, int rpm_limit,
                                        int max_concurrent)
{
    pg_number rpm, concurrent;
    const char *values[] = {user_group, pg_int(&rpm, rpm_limit), pg_int(&concurrent, max_concurrent), id};
    return one_row_changed(
        s, "update key limits",
        "UPDATE api_keys SET user_group = COALESCE($1, user_group), "
        "rpm_limit = CASE WHEN $2::integer < 0 THEN rpm_limit ELSE $2::integer END, "
        "max_concurrent = CASE WHEN $3::integer < 0 THEN max_concurrent ELSE $3::integer END "
        "WHERE id = $4",
        4, values);
}

store_status pg_store_key_webhook_secret(pg_store *s, const char *id, char *out, size_t out_size)
{
    const char *values[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "key secret", &result, "SELECT webhook_secret_sealed FROM api_keys WHERE id = $1", 1,
                 values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) pg_copy_text(out, out_size, result, 0, 0);
    PQclear(result);
    return status;
}

/* ---- channels ---- */

/* The channel's columns as $1..$11 (name … webhook_secret_sealed as CHANNEL_COLUMNS, created_at last);
 * the numbers are printed into `numbers`. */
static void channel_values(const channel_record *c, pg_number numbers[4], const char *values[11])
{
    values[0] = c->name;
    values[1] = c->provider;
    values[2] = c->base_url;
    values[3] = c->models;
    values[4] = pg_int(&numbers[0], c->priority);
    values[5] = pg_int(&numbers[1], c->weight);
    values[6] = pg_int(&numbers[2], c->max_concurrent);
    values[7] = c->enabled ? "true" : "false";
    values[8] = c->credential_sealed;
    values[9] = c->webhook_secret_sealed;
    values[10] = pg_int(&numbers[3], c->created_at);
}

store_status pg_store_channel_insert(pg_store *s, const channel_record *channel)
{
    pg_number numbers[4];
    const char *values[11];
    channel_values(channel, numbers, values);
    return pg_query(
        s, "insert channel", NULL,
        "INSERT INTO channels (name, provider, base_url, models, priority, weight, max_concurrent, "
        "enabled, credential_sealed, webhook_secret_sealed, created_at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        11, values);
}

store_status pg_store_channel_update(pg_store *s, const channel_record *channel)
{
    pg_number numbers[4];
    const char *values[11];
    channel_values(channel, numbers, values);
    return one_row_changed(
        s, "update channel",
        "UPDATE channels SET provider = $2, base_url = $3, models = $4, priority = $5, weight = $6, "
        "max_concurrent = $7, enabled = $8, credential_sealed = $9, webhook_secret_sealed = $10 "
        "WHERE name = $1",
        10, values);
}

store_status pg_store_channel_remove(pg_store *s, const char *name)
{
    const char *values[] = {name};
    return one_row_changed(s, "remove channel", "DELETE FROM channels WHERE name = $1", 1, values);
}

static void read_channel(const PGresult *result, int row, channel_record *c)
{
    memset(c, 0, sizeof(*c));
    pg_copy_text(c->name, sizeof(c->name), result, row, 0);
    pg_copy_text(c->provider, sizeof(c->provider), result, row, 1);
    pg_copy_text(c->base_url, sizeof(c->base_url), result, row, 2);
    pg_copy_text(c->models, sizeof(c->models), result, row, 3);
    c->priority = (int)pg_get_int(result, row, 4);
    c->weight = (int)pg_get_int(result, row, 5);
    c->max_concurrent = (int)pg_get_int(result, row, 6);
    c->enabled = pg_get_bool(result, row, 7);
    c->created_at = pg_get_int(result, row, 8);
    pg_copy_text(c->credential_sealed, sizeof(c->credential_sealed), result, row, 9);
    pg_copy_text(c->webhook_secret_sealed, sizeof(c->webhook_secret_sealed), result, row, 10);
}

store_status pg_store_channel_list(pg_store *s, channel_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    PGresult *result = NULL;
    if (pg_query(s, "list channels", &result,
                 "SELECT " CHANNEL_COLUMNS " FROM channels ORDER BY priority DESC, name COLLATE \"C\"", 0,
                 NULL) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    channel_record *channels = rows ? calloc((size_t)rows, sizeof(*channels)) : NULL;
    if (rows && channels == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < rows; i++)
        read_channel(result, i, &channels[i]);
    PQclear(result);
    *out = channels;
    *count = (size_t)rows;
    return STORE_OK;
}

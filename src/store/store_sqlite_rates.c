/* store_sqlite_rates.c — the nodes' request counts per key and window on SQLite (store.h "Request counts
 * per key across nodes"): the same contract as PostgreSQL's in one write transaction. One process
 * serves a SQLite database, so nothing calls this in normal service (api/rate_limit.c exchanges only
 * on a shared database); it is here so that both backends keep one contract. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"

/* Upserts own's valid entries (inside the transaction). */
static store_status record_own(sqlite_store *s, int64_t epoch, int64_t window, const rate_count *own,
                               size_t own_count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "INSERT INTO rate_counts (minute, key_id, epoch, count) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT (minute, key_id, epoch) DO UPDATE SET count = MAX(count, excluded.count)",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    store_status status = STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < own_count; i++) {
        if (own[i].key_id[0] == '\0' || own[i].count < 0) continue;
        size_t length = strnlen(own[i].key_id, sizeof(own[i].key_id));
        sqlite3_bind_int64(stmt, 1, window);
        sqlite3_bind_text(stmt, 2, own[i].key_id, (int)length, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 3, epoch);
        sqlite3_bind_int64(stmt, 4, own[i].count);
        if (sqlite3_step(stmt) != SQLITE_DONE) status = sql_fail(s, "record rate counts");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return status;
}

/* The other epochs' sums of the window into a malloc'd array (inside the transaction). */
static store_status sum_others(sqlite_store *s, int64_t epoch, int64_t window, rate_count **out,
                               size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT key_id, SUM(count) FROM rate_counts WHERE minute = ?1 AND epoch <> ?2 "
                    "GROUP BY key_id HAVING SUM(count) > 0",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, window);
    sqlite3_bind_int64(stmt, 2, epoch);
    rate_count *sums = NULL;
    size_t used = 0, capacity = 0;
    int rc = SQLITE_DONE;
    bool out_of_memory = false;
    while (!out_of_memory && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (used == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            rate_count *bigger = realloc(sums, grown * sizeof(*sums));
            out_of_memory = bigger == NULL;
            if (out_of_memory) break;
            sums = bigger;
            capacity = grown;
        }
        memset(&sums[used], 0, sizeof(sums[used]));
        sql_copy_text(sums[used].key_id, sizeof(sums[used].key_id), stmt, 0);
        sums[used++].count = sqlite3_column_int64(stmt, 1);
    }
    store_status status = out_of_memory       ? STORE_ERROR
                          : rc == SQLITE_DONE ? STORE_OK
                                              : sql_fail(s, "sum rate counts");
    sqlite3_finalize(stmt);
    if (status != STORE_OK) {
        free(sums);
        return STORE_ERROR;
    }
    *out = used ? sums : NULL;
    if (used == 0) free(sums);
    *count = used;
    return STORE_OK;
}

store_status sqlite_store_rate_counts_exchange(sqlite_store *s, int64_t epoch, int64_t window,
                                               const rate_count *own, size_t own_count, rate_count **others,
                                               size_t *others_count)
{
    *others = NULL;
    *others_count = 0;
    if (sql_begin(s, "exchange rate counts") != STORE_OK) return STORE_ERROR;
    store_status status = record_own(s, epoch, window, own, own_count);
    sqlite3_stmt *forget = NULL;
    if (status == STORE_OK) status = sql_prepare(s, "DELETE FROM rate_counts WHERE minute < ?1", &forget);
    if (status == STORE_OK) {
        sqlite3_bind_int64(forget, 1, window - 1);
        if (sqlite3_step(forget) != SQLITE_DONE) status = sql_fail(s, "forget rate counts");
        sqlite3_finalize(forget);
    }
    rate_count *sums = NULL;
    size_t sum_count = 0;
    if (status == STORE_OK) status = sum_others(s, epoch, window, &sums, &sum_count);
    status = sql_end(s, status, "exchange rate counts");
    if (status != STORE_OK) {
        free(sums);
        return STORE_ERROR;
    }
    *others = sums;
    *others_count = sum_count;
    return STORE_OK;
}

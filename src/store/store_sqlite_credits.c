/* store_credits.c — the credit ledger, key balances and task admission (SQLite).
 *
 * Every movement of credits is one ledger row appended in the transaction that moves the key's two
 * balances (api_keys.credits_available / credits_reserved), so the balances are always the sums of
 * the ledger. A task's reservation is appended when it is admitted; it is released exactly once when
 * the task finishes (a unique index on (task_id) for settle/refund rows makes a second release fail,
 * and the finishing compare-and-set already lets only one writer through). */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_common.h"
#include "util/vector.h"

/* Appends one ledger row and applies it to the key's balances (inside a transaction). A row whose
 * available-balance change would take it below zero is refused with CONFLICT. */
static store_status ledger_append(sqlite_store *s, const char *key_id, const char *task_id, ledger_kind kind,
                                  int64_t amount, int64_t released, const char *note, int64_t now)
{
    ledger_deltas deltas = ledger_deltas_of(kind, amount, released);
    int64_t delta_available = deltas.available, delta_reserved = deltas.reserved, delta_tasks = deltas.tasks;
    sqlite3_stmt *stmt = s->hot[STMT_KEY_MOVE_CREDITS];
    sqlite3_bind_int64(stmt, 1, delta_available);
    sqlite3_bind_int64(stmt, 2, delta_reserved);
    sqlite3_bind_text(stmt, 3, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, delta_tasks);
    int rc = sqlite3_step(stmt);
    sql_release(stmt);
    if (rc != SQLITE_DONE) return sql_fail(s, "move credits");
    if (sqlite3_changes(s->db) != 1) return STORE_CONFLICT;
    stmt = s->hot[STMT_LEDGER_APPEND];
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sql_bind_text_or_null(stmt, 2, task_id);
    sqlite3_bind_text(stmt, 3, ledger_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, amount);
    sqlite3_bind_int64(stmt, 5, released);
    sqlite3_bind_text(stmt, 6, note ? note : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 7, now);
    rc = sqlite3_step(stmt);
    sql_release(stmt);
    if (rc == SQLITE_CONSTRAINT) return STORE_CONFLICT; /* a second reservation or release of one task */
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "append to ledger");
}

store_status sqlite_store_credits_grant(sqlite_store *s, const char *key_id, int64_t amount, const char *note,
                                        int64_t now)
{
    if (sql_begin(s, "grant credits") != STORE_OK) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    store_status status = sql_prepare(s, "SELECT 1 FROM api_keys WHERE id = ?", &stmt);
    if (status == STORE_OK) {
        sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(stmt);
        status = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "find key");
        sqlite3_finalize(stmt);
    }
    if (status == STORE_OK) status = ledger_append(s, key_id, NULL, LEDGER_GRANT, amount, 0, note, now);
    return sql_end(s, status, "grant credits");
}

store_status sqlite_store_credits_balance(sqlite_store *s, const char *key_id, credit_balance *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *stmt = s->hot[STMT_KEY_BALANCE];
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_ROW    ? STORE_OK
                          : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                              : sql_fail(s, "balance");
    if (status == STORE_OK) {
        out->available = sqlite3_column_int64(stmt, 0);
        out->reserved = sqlite3_column_int64(stmt, 1);
        sql_copy_text(out->user_group, sizeof(out->user_group), stmt, 2);
        out->unfinished_tasks = sqlite3_column_int64(stmt, 3);
    }
    sql_release(stmt);
    return status;
}

store_status sqlite_store_credits_ledger(sqlite_store *s, const char *key_id, size_t limit,
                                         ledger_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT seq, kind, COALESCE(task_id, ''), amount, released, note, created_at FROM ("
                    " SELECT * FROM credit_ledger WHERE key_id = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, limit ? (int64_t)limit : -1);
    vector rows;
    vector_init(&rows, sizeof(ledger_entry));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ledger_entry *e = vector_push(&rows, NULL); /* zeroed */
        if (e == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        e->seq = sqlite3_column_int64(stmt, 0);
        if (!ledger_kind_parse((const char *)sqlite3_column_text(stmt, 1), &e->kind)) e->kind = LEDGER_GRANT;
        sql_copy_text(e->task_id, sizeof(e->task_id), stmt, 2);
        e->amount = sqlite3_column_int64(stmt, 3);
        e->released = sqlite3_column_int64(stmt, 4);
        sql_copy_text(e->note, sizeof(e->note), stmt, 5);
        e->created_at = sqlite3_column_int64(stmt, 6);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "read ledger");
    }
    return STORE_OK;
}

store_status sqlite_store_credits_release_tx(sqlite_store *s, const char *task_id, bool refund,
                                             int64_t charge, int64_t now)
{
    sqlite3_stmt *stmt = s->hot[STMT_RESERVATION_GET];
    sqlite3_bind_text(stmt, 1, task_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    char key_id[32] = "";
    int64_t reserved = 0;
    if (rc == SQLITE_ROW) {
        sql_copy_text(key_id, sizeof(key_id), stmt, 0);
        reserved = sqlite3_column_int64(stmt, 1);
    }
    store_status found = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "find reservation");
    sql_release(stmt);
    if (found != STORE_OK) return found;
    if (rc == SQLITE_DONE) return STORE_OK; /* admitted before the ledger existed: nothing held */
    if (refund) return ledger_append(s, key_id, task_id, LEDGER_REFUND, reserved, 0, "", now);
    if (charge < 0 || charge > reserved) charge = reserved;
    return ledger_append(s, key_id, task_id, LEDGER_SETTLE, charge, reserved, "", now);
}

/* ---- admission ---- */

/* One admission inside the open transaction. Every check reads before anything is written, so a
 * refused item leaves nothing behind. */
static store_status admit_one(sqlite_store *s, task_admission *item)
{
    const task_record *task = item->task;
    int64_t reserve = task->credits_reserved;
    bool with_key = item->idempotency_key && item->idempotency_key[0];
    item->outcome = ADMIT_CREATED;
    item->existing_id[0] = '\0';
    if (with_key) {
        sqlite3_stmt *stmt = s->hot[STMT_IDEMPOTENCY_GET];
        sqlite3_bind_text(stmt, 1, task->key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 2, item->idempotency_key, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(stmt);
        /* a row past the TTL is forgotten: the key may be used afresh (the insert below replaces it) */
        if (rc == SQLITE_ROW &&
            sqlite3_column_int64(stmt, 2) > task->created_at - STORE_IDEMPOTENCY_TTL_SECONDS) {
            bool same = sqlite3_column_bytes(stmt, 0) == 32 &&
                        memcmp(sqlite3_column_blob(stmt, 0), item->request_hash, 32) == 0;
            sql_copy_text(item->existing_id, sizeof(item->existing_id), stmt, 1);
            item->outcome = same ? ADMIT_DUPLICATE : ADMIT_IDEMPOTENCY_MISMATCH;
        }
        sql_release(stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(s, "find idempotency key");
        if (item->outcome != ADMIT_CREATED) return STORE_OK;
    }
    credit_balance balance;
    store_status status = sqlite_store_credits_balance(s, task->key_id, &balance);
    if (status != STORE_OK) return status == STORE_NOT_FOUND ? STORE_ERROR : status;
    item->available = balance.available;
    if (item->max_concurrent > 0 && balance.unfinished_tasks >= item->max_concurrent) {
        item->outcome = ADMIT_TOO_MANY_TASKS;
        return STORE_OK;
    }
    if (balance.available < reserve) {
        item->outcome = ADMIT_INSUFFICIENT_CREDITS;
        return STORE_OK;
    }
    int rc = sql_task_insert(s, task);
    if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE) {
        item->outcome = ADMIT_ID_TAKEN; /* the only unique column written is the id; the statement alone
                                           was undone, the transaction goes on */
        return STORE_OK;
    }
    if (rc != SQLITE_DONE) return rc == SQLITE_CONSTRAINT ? STORE_CONFLICT : sql_fail(s, "insert task");
    status =
        ledger_append(s, task->key_id, task->id, LEDGER_RESERVE, reserve, 0, task->model, task->created_at);
    if (status != STORE_OK) return status == STORE_CONFLICT ? STORE_ERROR : status;
    item->available = balance.available - reserve;
    if (with_key) {
        sqlite3_stmt *stmt = s->hot[STMT_IDEMPOTENCY_PUT];
        sqlite3_bind_text(stmt, 1, task->key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 2, item->idempotency_key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(stmt, 3, item->request_hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 4, task->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 5, task->created_at);
        rc = sqlite3_step(stmt);
        sql_release(stmt);
        if (rc != SQLITE_DONE) return sql_fail(s, "record idempotency key");
    }
    return STORE_OK;
}

store_status sqlite_store_task_admit(sqlite_store *s, task_admission *items, size_t count, bool wait)
{
    if (count == 0) return STORE_OK;
    store_status began = wait ? sql_begin(s, "admit tasks") : sql_begin_try(s, "admit tasks");
    if (began != STORE_OK) return began == STORE_CONFLICT ? STORE_CONFLICT : STORE_ERROR;
    store_status status = STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = admit_one(s, &items[i]);
    status = sql_end(s, status, "admit tasks");
    if (status == STORE_OK)
        for (size_t i = 0; i < count; i++)
            if (items[i].outcome == ADMIT_CREATED) sqlite_store_task_changed(items[i].task->id);
    return status;
}

store_status sqlite_store_idempotency_find(sqlite_store *s, const char *key_id, const char *idempotency_key,
                                           const unsigned char request_hash[32], int64_t now,
                                           char task_id[IDS_TASK_ID_SIZE], bool *same_request)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "SELECT request_hash, task_id FROM idempotency_keys WHERE key_id = ? AND idempotency_key = ? "
            "AND created_at > ?",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, idempotency_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, now - STORE_IDEMPOTENCY_TTL_SECONDS);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_ROW    ? STORE_OK
                          : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                              : sql_fail(s, "find idempotency key");
    if (status == STORE_OK) {
        *same_request = sqlite3_column_bytes(stmt, 0) == 32 &&
                        memcmp(sqlite3_column_blob(stmt, 0), request_hash, 32) == 0;
        sql_copy_text(task_id, IDS_TASK_ID_SIZE, stmt, 1);
    }
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_idempotency_expire(sqlite_store *s, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "DELETE FROM idempotency_keys WHERE created_at <= ?", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, now - STORE_IDEMPOTENCY_TTL_SECONDS);
    return sql_run_write(s, stmt, "expire idempotency keys") >= 0 ? STORE_OK : STORE_ERROR;
}

/* ---- audit ---- */

/* Audit, per key: its balances agree with its ledger and with its unfinished tasks' reservations. */
static store_status audit_keys(sqlite_store *s, credit_audit *out)
{
    sqlite3_stmt *stmt = NULL;
    store_status status = sql_prepare(s, CREDIT_AUDIT_KEYS_SQL, &stmt);
    int rc = SQLITE_DONE;
    while (status == STORE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        credit_audit_key_row k = {.id = (const char *)sqlite3_column_text(stmt, 0),
                                  .available = sqlite3_column_int64(stmt, 1),
                                  .reserved = sqlite3_column_int64(stmt, 2),
                                  .ledger_available = sqlite3_column_int64(stmt, 3),
                                  .ledger_reserved = sqlite3_column_int64(stmt, 4),
                                  .open_reserved = sqlite3_column_int64(stmt, 5),
                                  .counted = sqlite3_column_int64(stmt, 6),
                                  .open_tasks = sqlite3_column_int64(stmt, 7)};
        credit_audit_check_key(out, &k);
    }
    if (stmt) sqlite3_finalize(stmt);
    if (status == STORE_OK && rc != SQLITE_DONE) status = sql_fail(s, "audit keys");
    return status;
}

/* Audit, per task: one reservation; a finished task has exactly one release of exactly its reservation
 * (a settlement charging no more than it), an unfinished one none. */
static store_status audit_tasks(sqlite_store *s, credit_audit *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = SQLITE_DONE;
    store_status status = sql_prepare(
        s,
        "SELECT t.id, t.state,"
        " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve'),"
        " (SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve'),"
        " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind IN ('settle', 'refund')),"
        " (SELECT COALESCE(SUM(CASE kind WHEN 'settle' THEN released ELSE amount END), 0) FROM "
        "credit_ledger"
        "   WHERE task_id = t.id AND kind IN ('settle', 'refund')),"
        /* "kind IN (…)" repeats the release index's condition so that SQLite searches that index
         * instead of scanning the ledger once per task */
        " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind IN ('settle', 'refund')"
        "   AND kind = 'settle' AND amount > released),"
        " t.key_id = (SELECT key_id FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve'),"
        /* made before the ledger existed (migration 6): such a task holds nothing and owes nothing. The
         * last NOT EXISTS has no index to search (it scans the ledger): CASE asks it only of a task that
         * has neither a reservation nor a release, which the two indexes tell at once */
        " CASE WHEN t.created_at > (SELECT applied_at FROM schema_migrations WHERE version = 6) THEN 0"
        "  WHEN EXISTS (SELECT 1 FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve') THEN 0"
        "  WHEN EXISTS (SELECT 1 FROM credit_ledger WHERE task_id = t.id AND kind IN ('settle', 'refund'))"
        "   THEN 0"
        "  ELSE NOT EXISTS (SELECT 1 FROM credit_ledger WHERE task_id = t.id) END"
        " FROM tasks t",
        &stmt);
    while (status == STORE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (sqlite3_column_int(stmt, 8) == 1) {
            out->tasks_before_ledger++;
            continue;
        }
        credit_audit_task_row t = {.id = (const char *)sqlite3_column_text(stmt, 0),
                                   .finished = sqlite3_column_int(stmt, 1) >= TASK_COMPLETED,
                                   .reserves = sqlite3_column_int64(stmt, 2),
                                   .reserved = sqlite3_column_int64(stmt, 3),
                                   .releases = sqlite3_column_int64(stmt, 4),
                                   .released = sqlite3_column_int64(stmt, 5),
                                   .overcharged = sqlite3_column_int64(stmt, 6),
                                   .reserved_on_its_key = sqlite3_column_int(stmt, 7) == 1};
        credit_audit_check_task(out, &t);
    }
    if (stmt) sqlite3_finalize(stmt);
    if (status == STORE_OK && rc != SQLITE_DONE) status = sql_fail(s, "audit tasks");
    return status;
}

store_status sqlite_store_credits_audit(sqlite_store *s, credit_audit *out)
{
    memset(out, 0, sizeof(*out));
    /* One read transaction, so that every figure comes from the same snapshot. */
    if (sql_exec(s, "BEGIN", "audit") != STORE_OK) return STORE_ERROR;
    store_status status = audit_keys(s, out);
    if (status == STORE_OK) status = audit_tasks(s, out);
    sql_exec(s, status == STORE_OK ? "COMMIT" : "ROLLBACK", "audit");
    return status;
}

store_status sqlite_store_usage_daily(sqlite_store *s, const char *key_id, int64_t since_unix,
                                      int64_t until_unix, usage_day **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT created_at - created_at % 86400 AS day, SUM(amount), COUNT(*) FROM credit_ledger "
                    "WHERE key_id = ?1 AND kind = 'settle' AND created_at >= ?2 AND created_at < ?3 "
                    "GROUP BY day ORDER BY day",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, since_unix);
    sqlite3_bind_int64(stmt, 3, until_unix);
    vector rows;
    vector_init(&rows, sizeof(usage_day));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        usage_day *day = vector_push(&rows, NULL); /* zeroed */
        if (day == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        day->day = sqlite3_column_int64(stmt, 0);
        day->credits = sqlite3_column_int64(stmt, 1);
        day->tasks = sqlite3_column_int64(stmt, 2);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "read daily usage");
    }
    return STORE_OK;
}

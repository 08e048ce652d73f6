/* store_pg_credits.c — the credit ledger, key balances and task admission (PostgreSQL).
 *
 * The same rules as store_sqlite_credits.c: every movement of credits is one ledger row appended in the
 * transaction that moves the key's two balances; a reservation is released exactly once (a unique
 * index on (task_id) for settle/refund rows, and the finishing compare-and-set lets one writer through).
 * Where SQLite has one writer at a time, here the admission locks the key's row (SELECT … FOR UPDATE)
 * before it reads the balance, the unfinished count or the idempotency key, so that admissions of one
 * key on any number of nodes queue behind each other and never overspend. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_common.h"

/* Appends one ledger row and applies it to the key's balances (inside a transaction). A row whose
 * available-balance change would take it below zero is refused with CONFLICT. */
static store_status ledger_append(pg_store *s, const char *key_id, const char *task_id, ledger_kind kind,
                                  int64_t amount, int64_t released, const char *note, int64_t now)
{
    ledger_deltas deltas = ledger_deltas_of(kind, amount, released);
    int64_t delta_available = deltas.available, delta_reserved = deltas.reserved, delta_tasks = deltas.tasks;
    pg_number available, reserved, tasks;
    const char *move[] = {pg_int(&available, delta_available), pg_int(&reserved, delta_reserved), key_id,
                          pg_int(&tasks, delta_tasks)};
    PGresult *result = NULL;
    if (pg_query(
            s, "move credits", &result,
            "UPDATE api_keys SET credits_available = credits_available + $1::bigint, "
            "credits_reserved = credits_reserved + $2::bigint, "
            "tasks_unfinished = tasks_unfinished + $4::bigint "
            "WHERE id = $3 AND credits_available + $1::bigint >= 0 AND credits_reserved + $2::bigint >= 0 "
            "AND tasks_unfinished + $4::bigint >= 0",
            4, move) != STORE_OK)
        return STORE_ERROR;
    int64_t changed = pg_changed(result);
    PQclear(result);
    if (changed != 1) return STORE_CONFLICT;
    pg_number amount_text, released_text, when;
    const char *append[] = {key_id,
                            task_id,
                            ledger_kind_name(kind),
                            pg_int(&amount_text, amount),
                            pg_int(&released_text, released),
                            note ? note : "",
                            pg_int(&when, now)};
    /* CONFLICT: a second reservation or release of one task */
    return pg_query(s, "append to ledger", NULL,
                    "INSERT INTO credit_ledger (key_id, task_id, kind, amount, released, note, created_at) "
                    "VALUES ($1,$2,$3,$4,$5,$6,$7)",
                    7, append);
}

store_status pg_store_credits_grant(pg_store *s, const char *key_id, int64_t amount, const char *note,
                                    int64_t now)
{
    if (pg_begin(s, "grant credits") != STORE_OK) return STORE_ERROR;
    const char *values[] = {key_id};
    PGresult *result = NULL;
    store_status status =
        pg_query(s, "find key", &result, "SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE", 1, values);
    if (status == STORE_OK && PQntuples(result) != 1) status = STORE_NOT_FOUND;
    PQclear(result);
    if (status == STORE_OK) status = ledger_append(s, key_id, NULL, LEDGER_GRANT, amount, 0, note, now);
    return pg_end(s, status, "grant credits");
}

/* The key's balances; `lock` takes its row until the transaction ends (the admission's queue). */
static store_status read_balance(pg_store *s, const char *key_id, bool lock, credit_balance *out)
{
    memset(out, 0, sizeof(*out));
    const char *values[] = {key_id};
    PGresult *result = NULL;
    if (pg_query(
            s, "balance", &result,
            lock ? "SELECT credits_available, credits_reserved, user_group, tasks_unfinished FROM api_keys "
                   "WHERE id = $1 FOR UPDATE"
                 : "SELECT credits_available, credits_reserved, user_group, tasks_unfinished FROM api_keys "
                   "WHERE id = $1",
            1, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        out->available = pg_get_int(result, 0, 0);
        out->reserved = pg_get_int(result, 0, 1);
        pg_copy_text(out->user_group, sizeof(out->user_group), result, 0, 2);
        out->unfinished_tasks = pg_get_int(result, 0, 3);
    }
    PQclear(result);
    return status;
}

store_status pg_store_credits_balance(pg_store *s, const char *key_id, credit_balance *out)
{
    return read_balance(s, key_id, false, out);
}

store_status pg_store_credits_ledger(pg_store *s, const char *key_id, size_t limit, ledger_entry **out,
                                     size_t *count)
{
    *out = NULL;
    *count = 0;
    pg_number limit_text;
    const char *values[] = {key_id, limit ? pg_int(&limit_text, (int64_t)limit) : NULL};
    PGresult *result = NULL;
    if (pg_query(s, "read ledger", &result,
                 "SELECT seq, kind, COALESCE(task_id, ''), amount, released, note, created_at FROM ("
                 " SELECT * FROM credit_ledger WHERE key_id = $1 ORDER BY seq DESC LIMIT $2::bigint) newest "
                 "ORDER BY seq",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    ledger_entry *entries = rows ? calloc((size_t)rows, sizeof(*entries)) : NULL;
    if (rows && entries == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < rows; i++) {
        ledger_entry *e = &entries[i];
        e->seq = pg_get_int(result, i, 0);
        if (!ledger_kind_parse(PQgetvalue(result, i, 1), &e->kind)) e->kind = LEDGER_GRANT;
        pg_copy_text(e->task_id, sizeof(e->task_id), result, i, 2);
        e->amount = pg_get_int(result, i, 3);
        e->released = pg_get_int(result, i, 4);
        pg_copy_text(e->note, sizeof(e->note), result, i, 5);
        e->created_at = pg_get_int(result, i, 6);
    }
    PQclear(result);
    *out = entries;
    *count = (size_t)rows;
    return STORE_OK;
}

store_status pg_credits_release_tx(pg_store *s, const char *task_id, bool refund, int64_t charge, int64_t now)
{
    const char *values[] = {task_id};
    PGresult *result = NULL;
    if (pg_query(s, "find reservation", &result,
                 "SELECT key_id, amount FROM credit_ledger WHERE task_id = $1 AND kind = 'reserve'", 1,
                 values) != STORE_OK)
        return STORE_ERROR;
    if (PQntuples(result) != 1) {
        PQclear(result);
        return STORE_OK; /* admitted without a reservation: nothing held */
    }
    char key_id[32];
    pg_copy_text(key_id, sizeof(key_id), result, 0, 0);
    int64_t reserved = pg_get_int(result, 0, 1);
    PQclear(result);
    if (refund) return ledger_append(s, key_id, task_id, LEDGER_REFUND, reserved, 0, "", now);
    if (charge < 0 || charge > reserved) charge = reserved;
    return ledger_append(s, key_id, task_id, LEDGER_SETTLE, charge, reserved, "", now);
}

/* ---- admission ---- */

/* The item's idempotency key, looked up inside the admission (the key's row is locked): sets the
 * outcome to DUPLICATE or MISMATCH when it was used within the TTL. */
static store_status check_idempotency_key(pg_store *s, task_admission *item)
{
    const task_record *task = item->task;
    pg_hex hash;
    pg_number oldest;
    const char *values[] = {task->key_id, item->idempotency_key,
                            pg_bytes(&hash, item->request_hash, sizeof(item->request_hash)),
                            pg_int(&oldest, task->created_at - STORE_IDEMPOTENCY_TTL_SECONDS)};
    PGresult *result = NULL;
    if (pg_query(s, "find idempotency key", &result,
                 "SELECT request_hash = $3::bytea, task_id FROM idempotency_keys "
                 "WHERE key_id = $1 AND idempotency_key = $2 AND created_at > $4::bigint",
                 4, values) != STORE_OK)
        return STORE_ERROR;
    if (PQntuples(result) == 1) {
        pg_copy_text(item->existing_id, sizeof(item->existing_id), result, 0, 1);
        item->outcome = pg_get_bool(result, 0, 0) ? ADMIT_DUPLICATE : ADMIT_IDEMPOTENCY_MISMATCH;
    }
    PQclear(result);
    return STORE_OK;
}

static store_status record_idempotency_key(pg_store *s, const task_admission *item)
{
    const task_record *task = item->task;
    pg_hex hash;
    pg_number created;
    const char *values[] = {task->key_id, item->idempotency_key,
                            pg_bytes(&hash, item->request_hash, sizeof(item->request_hash)), task->id,
                            pg_int(&created, task->created_at)};
    /* a row past the TTL is forgotten: the key is used afresh and its row replaced */
    return pg_query(
        s, "record idempotency key", NULL,
        "INSERT INTO idempotency_keys (key_id, idempotency_key, request_hash, task_id, created_at) "
        "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (key_id, idempotency_key) DO UPDATE SET "
        "request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id, "
        "created_at = EXCLUDED.created_at",
        5, values);
}

/* One admission inside the open transaction. Every check reads before anything is written, so a
 * refused item leaves nothing behind. */
static store_status admit_one(pg_store *s, task_admission *item)
{
    const task_record *task = item->task;
    int64_t reserve = task->credits_reserved;
    bool with_key = item->idempotency_key && item->idempotency_key[0];
    item->outcome = ADMIT_CREATED;
    item->existing_id[0] = '\0';
    credit_balance balance;
    store_status status = read_balance(s, task->key_id, true, &balance); /* locks the key's row */
    if (status != STORE_OK) return status == STORE_NOT_FOUND ? STORE_ERROR : status;
    if (with_key && check_idempotency_key(s, item) != STORE_OK) return STORE_ERROR;
    if (item->outcome != ADMIT_CREATED) return STORE_OK;
    item->available = balance.available;
    if (item->max_concurrent > 0 && balance.unfinished_tasks >= item->max_concurrent) {
        item->outcome = ADMIT_TOO_MANY_TASKS;
        return STORE_OK;
    }
    if (balance.available < reserve) {
        item->outcome = ADMIT_INSUFFICIENT_CREDITS;
        return STORE_OK;
    }
    bool inserted = false;
    status = pg_task_insert_new(s, task, &inserted);
    if (status != STORE_OK) return status;
    if (!inserted) { /* another task has this id: nothing written (the transaction goes on) */
        item->outcome = ADMIT_ID_TAKEN;
        return STORE_OK;
    }
    status =
        ledger_append(s, task->key_id, task->id, LEDGER_RESERVE, reserve, 0, task->model, task->created_at);
    if (status != STORE_OK) return status == STORE_CONFLICT ? STORE_ERROR : status;
    item->available = balance.available - reserve;
    return with_key ? record_idempotency_key(s, item) : STORE_OK;
}

static int compare_key_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Locks the rows of every key of a batch in the order of their ids, so that two batches naming the same
 * keys in different orders queue instead of deadlocking. */
static store_status lock_keys_in_order(pg_store *s, const task_admission *items, size_t count)
{
    const char **ids = calloc(count, sizeof(*ids));
    if (ids == NULL) return STORE_ERROR;
    for (size_t i = 0; i < count; i++)
        ids[i] = items[i].task->key_id;
    qsort(ids, count, sizeof(*ids), compare_key_ids);
    store_status status = STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0) {
            const char *values[] = {ids[i]};
            status =
                pg_query(s, "lock key", NULL, "SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE", 1, values);
        }
    free(ids);
    return status;
}

store_status pg_store_task_admit(pg_store *s, task_admission *items, size_t count, bool wait)
{
    /* `wait` asks SQLite's writers of one process not to queue; here writers never hold a
     * process-wide lock, so every admission waits only for the key rows it locks. */
    (void)wait;
    if (count == 0) return STORE_OK;
    if (pg_begin(s, "admit tasks") != STORE_OK) return STORE_ERROR;
    store_status status = count > 1 ? lock_keys_in_order(s, items, count) : STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = admit_one(s, &items[i]);
    return pg_end(s, status, "admit tasks");
}

store_status pg_store_idempotency_find(pg_store *s, const char *key_id, const char *idempotency_key,
                                       const unsigned char request_hash[32], int64_t now,
                                       char task_id[IDS_TASK_ID_SIZE], bool *same_request)
{
    pg_hex hash;
    pg_number oldest;
    const char *values[] = {key_id, idempotency_key, pg_bytes(&hash, request_hash, 32),
                            pg_int(&oldest, now - STORE_IDEMPOTENCY_TTL_SECONDS)};
    PGresult *result = NULL;
    if (pg_query(s, "find idempotency key", &result,
                 "SELECT request_hash = $3::bytea, task_id FROM idempotency_keys "
                 "WHERE key_id = $1 AND idempotency_key = $2 AND created_at > $4::bigint",
                 4, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        *same_request = pg_get_bool(result, 0, 0);
        pg_copy_text(task_id, IDS_TASK_ID_SIZE, result, 0, 1);
    }
    PQclear(result);
    return status;
}

store_status pg_store_idempotency_expire(pg_store *s, int64_t now)
{
    pg_number oldest;
    const char *values[] = {pg_int(&oldest, now - STORE_IDEMPOTENCY_TTL_SECONDS)};
    return pg_query(s, "expire idempotency keys", NULL, "DELETE FROM idempotency_keys WHERE created_at <= $1",
                    1, values);
}

store_status pg_store_usage_daily(pg_store *s, const char *key_id, int64_t since_unix, int64_t until_unix,
                                  usage_day **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    pg_number since, until;
    const char *values[] = {key_id, pg_int(&since, since_unix), pg_int(&until, until_unix)};
    PGresult *result = NULL;
    if (pg_query(s, "read daily usage", &result,
                 "SELECT created_at - created_at % 86400 AS day, SUM(amount)::bigint, COUNT(*) "
                 "FROM credit_ledger WHERE key_id = $1 AND kind = 'settle' AND created_at >= $2::bigint "
                 "AND created_at < $3::bigint GROUP BY day ORDER BY day",
                 3, values) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    usage_day *days = rows ? calloc((size_t)rows, sizeof(*days)) : NULL;
    if (rows && days == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < rows; i++) {
        days[i].day = pg_get_int(result, i, 0);
        days[i].credits = pg_get_int(result, i, 1);
        days[i].tasks = pg_get_int(result, i, 2);
    }
    PQclear(result);
    *out = days;
    *count = (size_t)rows;
    return STORE_OK;
}

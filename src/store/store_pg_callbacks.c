/* store_pg_callbacks.c — the callback outbox (PostgreSQL): queued by the transaction that finishes a
 * task, claimed by senders on any node with a lease (FOR UPDATE SKIP LOCKED: racing senders never take
 * one row twice, and never wait for each other), and each attempt's outcome recorded. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"

store_status pg_callback_queue_tx(pg_store *s, const char *task_id, int64_t now)
{
    const char *find[] = {task_id};
    PGresult *result = NULL;
    if (pg_query(s, "find callback url", &result, "SELECT key_id, params_json FROM tasks WHERE id = $1", 1,
                 find) != STORE_OK)
        return STORE_ERROR;
    json_t *params = NULL;
    char key_id[32] = "";
    if (PQntuples(result) == 1 && !PQgetisnull(result, 0, 1)) {
        pg_copy_text(key_id, sizeof(key_id), result, 0, 0);
        params = json_loads(PQgetvalue(result, 0, 1), 0, NULL);
    }
    PQclear(result);
    const char *url = json_string_value(json_object_get(params, "callback_url"));
    store_status status = STORE_OK;
    if (url != NULL) {
        pg_number due, seconds;
        const char *values[] = {task_id, key_id, url, pg_int(&due, now * 1000), pg_int(&seconds, now)};
        status = pg_query(s, "queue callback", NULL,
                          "INSERT INTO callbacks (task_id, key_id, url, next_at, created_at, updated_at) "
                          "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (task_id) DO NOTHING",
                          5, values);
    }
    json_decref(params);
    return status;
}

static void read_record(const PGresult *result, int row, callback_record *out)
{
    memset(out, 0, sizeof(*out));
    pg_copy_text(out->task_id, sizeof(out->task_id), result, row, 0);
    pg_copy_text(out->key_id, sizeof(out->key_id), result, row, 1);
    pg_copy_text(out->url, sizeof(out->url), result, row, 2);
    out->attempts = (int)pg_get_int(result, row, 3);
    out->next_at_ms = pg_get_int(result, row, 4);
}

store_status pg_store_callbacks_claim_due(pg_store *s, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                                          callback_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (limit == 0) return STORE_OK;
    pg_number now_text, lease, limit_text, seconds;
    const char *values[] = {pg_int(&now_text, now_ms), pg_int(&lease, lease_until_ms),
                            pg_int(&limit_text, limit > INT32_MAX ? INT32_MAX : (int64_t)limit),
                            pg_int(&seconds, now_ms / 1000)};
    PGresult *result = NULL;
    /* one statement, so one transaction: the rows are locked from choice to update */
    if (pg_query(
            s, "claim callbacks", &result,
            "WITH due AS (SELECT task_id, next_at FROM callbacks WHERE state = 0 AND next_at <= $1::bigint "
            "  ORDER BY next_at, task_id LIMIT $3::bigint FOR UPDATE SKIP LOCKED), "
            "claimed AS (UPDATE callbacks c SET attempts = c.attempts + 1, next_at = $2::bigint, "
            "  updated_at = $4::bigint FROM due WHERE c.task_id = due.task_id "
            "  RETURNING c.task_id, c.key_id, c.url, c.attempts, c.next_at, due.next_at AS was) "
            "SELECT task_id, key_id, url, attempts, next_at FROM claimed ORDER BY was, task_id",
            4, values) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    callback_record *records = rows ? calloc((size_t)rows, sizeof(*records)) : NULL;
    if (rows && records == NULL) {
        /* claimed but not returned: due again when the lease ends, the attempt counted */
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < rows; i++)
        read_record(result, i, &records[i]);
    PQclear(result);
    *out = records;
    *count = (size_t)rows;
    return STORE_OK;
}

store_status pg_store_callback_finish_attempt(pg_store *s, const char *task_id, int attempt,
                                              callback_state state, int http_status, const char *error,
                                              int64_t next_at_ms, int64_t now_ms)
{
    pg_number state_text, status_text, next, seconds, attempt_text;
    const char *values[] = {task_id,
                            pg_int(&state_text, state),
                            pg_int(&status_text, http_status),
                            error ? error : "",
                            pg_int(&next, next_at_ms),
                            pg_int(&seconds, now_ms / 1000),
                            pg_int(&attempt_text, attempt)};
    PGresult *result = NULL;
    /* next_at keeps its lease value for a finished callback: only due rows are ever read by it */
    if (pg_query(s, "finish callback attempt", &result,
                 "UPDATE callbacks SET state = $2::integer, last_status = $3, last_error = $4, "
                 "next_at = CASE WHEN $2::integer = 0 THEN $5::bigint ELSE next_at END, updated_at = $6 "
                 "WHERE task_id = $1 AND state = 0 AND attempts = $7",
                 7, values) != STORE_OK)
        return STORE_ERROR;
    int64_t changed = pg_changed(result);
    PQclear(result);
    if (changed == 1) return STORE_OK;
    callback_delivery current;
    store_status found = pg_store_callback_get(s, task_id, &current);
    return found == STORE_OK ? STORE_CONFLICT : found;
}

store_status pg_store_callbacks_next_due(pg_store *s, int64_t *next_at_ms)
{
    PGresult *result = NULL;
    if (pg_query(s, "next due callback", &result, "SELECT MIN(next_at) FROM callbacks WHERE state = 0", 0,
                 NULL) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQgetisnull(result, 0, 0) ? STORE_NOT_FOUND : STORE_OK;
    if (status == STORE_OK) *next_at_ms = pg_get_int(result, 0, 0);
    PQclear(result);
    return status;
}

store_status pg_store_callback_get(pg_store *s, const char *task_id, callback_delivery *out)
{
    const char *values[] = {task_id};
    PGresult *result = NULL;
    if (pg_query(s, "read callback", &result,
                 "SELECT task_id, key_id, url, attempts, next_at, state, last_status, last_error, updated_at "
                 "FROM callbacks WHERE task_id = $1",
                 1, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        memset(out, 0, sizeof(*out));
        read_record(result, 0, &out->record);
        out->state = (callback_state)pg_get_int(result, 0, 5);
        out->last_status = (int)pg_get_int(result, 0, 6);
        pg_copy_text(out->last_error, sizeof(out->last_error), result, 0, 7);
        out->updated_at = pg_get_int(result, 0, 8);
    }
    PQclear(result);
    return status;
}

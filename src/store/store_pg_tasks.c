/* store_pg_tasks.c — tasks in PostgreSQL (store.h): insert (one or a batch), read, list, and every
 * compare-and-set transition (UPDATE … WHERE id = $id AND state = $from: of two racing writers the
 * second finds the row changed once the first commits and updates nothing), finishing ones with their
 * credits and callback in one transaction, and deleting a finished task with its idempotency keys and
 * callback. No read cache here: several nodes write these rows. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "util/log.h"

/* The first number of the advisory locks on a channel's slots (the second is the name's hash; a class of its
 * own, apart from the uploads' locks). */
#define CHANNEL_SLOT_LOCK_CLASS "1667785075"

/* Reads one row of PG_TASK_COLUMNS; false when out of memory (t is then cleared). */
static bool read_task(const PGresult *result, int row, task_record *t)
{
    memset(t, 0, sizeof(*t));
    bool failed = false;
    pg_copy_text(t->id, sizeof(t->id), result, row, 0);
    pg_copy_text(t->key_id, sizeof(t->key_id), result, row, 1);
    pg_copy_text(t->model, sizeof(t->model), result, row, 2);
    t->state = (task_state)pg_get_int(result, row, 3);
    t->progress = (int)pg_get_int(result, row, 4);
    t->created_at = pg_get_int(result, row, 5);
    t->updated_at = pg_get_int(result, row, 6);
    t->deadline_at = pg_get_int(result, row, 7);
    t->completed_at = pg_get_int(result, row, 8);
    pg_copy_text(t->channel, sizeof(t->channel), result, row, 9);
    pg_copy_text(t->user_group, sizeof(t->user_group), result, row, 10);
    t->credits_reserved = pg_get_int(result, row, 11);
    t->params_json = pg_dup_text(result, row, 12, &failed);
    t->results_json = pg_dup_text(result, row, 13, &failed);
    pg_copy_text(t->error_code, sizeof(t->error_code), result, row, 14);
    t->error_message = pg_dup_text(result, row, 15, &failed);
    t->upstream_json = pg_dup_text(result, row, 16, &failed);
    t->billing_json = pg_dup_text(result, row, 17, &failed);
    pg_copy_text(t->remixed_from, sizeof(t->remixed_from), result, row, 18);
    if (failed) task_record_clear(t);
    return !failed;
}

store_status pg_collect_tasks(PGresult *result, task_record **out, size_t *count)
{
    int rows = PQntuples(result);
    task_record *tasks = rows ? calloc((size_t)rows, sizeof(*tasks)) : NULL;
    store_status status = rows && tasks == NULL ? STORE_ERROR : STORE_OK;
    int read = 0;
    while (status == STORE_OK && read < rows)
        status = read_task(result, read, &tasks[read]) ? (read++, STORE_OK) : STORE_ERROR;
    PQclear(result);
    if (status != STORE_OK) {
        task_records_free(tasks, (size_t)read);
        return STORE_ERROR;
    }
    *out = tasks;
    *count = (size_t)rows;
    return STORE_OK;
}

/* Inserts t; with inserted non-NULL a task of the same id is no error: *inserted says whether t went in. */
static store_status insert_task(pg_store *s, const task_record *t, bool *inserted)
{
    pg_number state, progress, created, updated, deadline, completed, reserved, epoch;
    const char *values[] = {t->id,
                            t->key_id,
                            t->model,
                            pg_int(&state, t->state),
                            pg_int(&progress, t->progress),
                            pg_int(&created, t->created_at),
                            pg_int(&updated, t->updated_at),
                            pg_int(&deadline, t->deadline_at),
                            pg_int(&completed, t->completed_at),
                            t->channel,
                            t->user_group[0] ? t->user_group : "default",
                            pg_int(&reserved, t->credits_reserved),
                            t->params_json,
                            t->results_json,
                            t->error_code,
                            t->error_message,
                            t->upstream_json,
                            t->billing_json,
                            t->remixed_from,
                            pg_int(&epoch, s->lease_epoch)};
    static const char insert[] = "INSERT INTO tasks (" PG_TASK_COLUMNS ", lease_epoch) VALUES "
                                 "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)";
    if (inserted == NULL) return pg_query(s, "insert task", NULL, insert, 20, values);
    char sql[sizeof(insert) + 32];
    snprintf(sql, sizeof(sql), "%s ON CONFLICT (id) DO NOTHING", insert);
    PGresult *result = NULL;
    store_status status = pg_query(s, "insert task", &result, sql, 20, values);
    *inserted = status == STORE_OK && strcmp(PQcmdTuples(result), "1") == 0;
    PQclear(result);
    return status;
}

store_status pg_task_insert(pg_store *s, const task_record *t)
{
    return insert_task(s, t, NULL);
}

store_status pg_task_insert_new(pg_store *s, const task_record *t, bool *inserted)
{
    return insert_task(s, t, inserted);
}

store_status pg_store_task_insert(pg_store *s, const task_record *task)
{
    return pg_task_insert(s, task);
}

store_status pg_store_task_insert_batch(pg_store *s, const task_record *tasks, size_t count)
{
    if (count == 0) return STORE_OK;
    if (count == 1) return pg_task_insert(s, &tasks[0]);
    if (pg_begin(s, "begin task batch") != STORE_OK) return STORE_ERROR;
    store_status status = STORE_OK;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = pg_task_insert(s, &tasks[i]);
    return pg_end(s, status, "commit task batch");
}

store_status pg_store_task_get(pg_store *s, const char *id, task_record *out)
{
    const char *values[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "get task", &result, "SELECT " PG_TASK_COLUMNS " FROM tasks WHERE id = $1", 1, values) !=
        STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK && !read_task(result, 0, out)) status = STORE_ERROR;
    PQclear(result);
    return status;
}

/* The listing cursor: the created_at and seq of after_id, when it is one of key_id's tasks. */
static store_status list_cursor(pg_store *s, const task_list_query *query, pg_number *created, pg_number *seq)
{
    const char *values[] = {query->after_id, query->key_id};
    PGresult *result = NULL;
    if (pg_query(s, "task list cursor", &result,
                 "SELECT created_at, seq FROM tasks WHERE id = $1 AND key_id = $2", 2, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        pg_int(created, pg_get_int(result, 0, 0));
        pg_int(seq, pg_get_int(result, 0, 1));
    }
    PQclear(result);
    return status;
}

store_status pg_store_task_list(pg_store *s, const task_list_query *query, task_record **out, size_t *count,
                                bool *has_more)
{
    *out = NULL;
    *count = 0;
    *has_more = false;
    int limit = query->limit < 1 ? 1 : query->limit > 100 ? 100 : query->limit;
    /* Newest first: by creation second, then by insertion order (seq) within a second. */
    pg_number created, seq, state, rows;
    pg_int(&created, query->oldest_first ? INT64_MIN : INT64_MAX);
    pg_int(&seq, query->oldest_first ? INT64_MIN : INT64_MAX);
    if (query->after_id) {
        store_status status = list_cursor(s, query, &created, &seq);
        if (status != STORE_OK) return status;
    }
    const char *values[] = {query->key_id, created.text,
                            seq.text,      pg_int(&state, query->state),
                            query->model,  pg_int(&rows, limit + 1)};
    PGresult *result = NULL;
    static const char newest_first[] =
        "SELECT " PG_TASK_COLUMNS
        " FROM tasks WHERE key_id = $1 AND (created_at, seq) < ($2::bigint, $3::bigint)"
        " AND ($4::integer < 0 OR state = $4::integer) AND ($5::text IS NULL OR model = $5::text)"
        " ORDER BY created_at DESC, seq DESC LIMIT $6";
    static const char oldest_first[] =
        "SELECT " PG_TASK_COLUMNS
        " FROM tasks WHERE key_id = $1 AND (created_at, seq) > ($2::bigint, $3::bigint)"
        " AND ($4::integer < 0 OR state = $4::integer) AND ($5::text IS NULL OR model = $5::text)"
        " ORDER BY created_at ASC, seq ASC LIMIT $6";
    if (pg_query(s, "list tasks", &result, query->oldest_first ? oldest_first : newest_first, 6, values) !=
        STORE_OK)
        return STORE_ERROR;
    store_status status = pg_collect_tasks(result, out, count);
    if (status == STORE_OK && *count > (size_t)limit) {
        task_record_clear(&(*out)[limit]);
        *count = (size_t)limit;
        *has_more = true;
    }
    return status;
}

/* Tells NOT_FOUND from CONFLICT after a compare-and-set changed nothing. */
static store_status explain_no_change(pg_store *s, const char *id)
{
    const char *values[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "find task", &result, "SELECT 1 FROM tasks WHERE id = $1", 1, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_CONFLICT : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

/* Runs a one-row compare-and-set; OK when it applied, else CONFLICT or NOT_FOUND. */
static store_status compare_and_set(pg_store *s, const char *id, const char *what, const char *sql, int count,
                                    const char *const *values)
{
    PGresult *result = NULL;
    if (pg_query(s, what, &result, sql, count, values) != STORE_OK) return STORE_ERROR;
    int64_t changed = pg_changed(result);
    PQclear(result);
    return changed == 1 ? STORE_OK : explain_no_change(s, id);
}

store_status pg_store_task_transition(pg_store *s, const char *id, task_state from, task_state to,
                                      const char *channel, int64_t now)
{
    if (from == to) return STORE_ERROR;
    return pg_store_task_set_upstream(s, id, from, to, channel, NULL, now);
}

/* The set-upstream compare-and-set (fenced by the connection's epoch); *changed: rows it changed. */
static store_status run_set_upstream(pg_store *s, const char *id, task_state from, task_state to,
                                     const char *channel, const char *upstream_json, int64_t now,
                                     int64_t *changed)
{
    pg_number to_text, when, from_text, fence;
    const char *values[] = {pg_int(&to_text, to),
                            pg_int(&when, now),
                            channel,
                            id,
                            pg_int(&from_text, from),
                            upstream_json,
                            pg_int(&fence, s->lease_epoch)};
    PGresult *result = NULL;
    store_status status =
        pg_query(s, "transition task", &result,
                 "UPDATE tasks SET state = $1, updated_at = $2, channel = COALESCE($3, channel), "
                 "upstream_json = COALESCE($6, upstream_json) WHERE id = $4 AND state = $5 "
                 "AND ($7::bigint = 0 OR lease_epoch = $7::bigint)",
                 7, values);
    *changed = status == STORE_OK ? pg_changed(result) : 0;
    PQclear(result);
    return status;
}

store_status pg_store_task_set_upstream(pg_store *s, const char *id, task_state from, task_state to,
                                        const char *channel, const char *upstream_json, int64_t now)
{
    if (task_state_is_terminal(to) || task_state_is_terminal(from)) return STORE_ERROR;
    int64_t changed = 0;
    if (run_set_upstream(s, id, from, to, channel, upstream_json, now, &changed) != STORE_OK)
        return STORE_ERROR;
    return changed == 1 ? STORE_OK : explain_no_change(s, id);
}

store_status pg_store_task_take_channel_slot(pg_store *s, const char *id, task_state from,
                                             const char *channel, int cap, const char *upstream_json,
                                             int64_t now, bool *full)
{
    *full = false;
    if (task_state_is_terminal(from) || channel == NULL) return STORE_ERROR;
    if (pg_begin(s, "take channel slot") != STORE_OK) return STORE_ERROR;
    /* every taker of the channel's slots queues on one lock (held to the commit); the count after it is a
     * new snapshot in READ COMMITTED, so it sees the previous holder's committed write */
    const char *lock[] = {channel};
    store_status status =
        pg_query(s, "lock channel", NULL,
                 "SELECT pg_advisory_xact_lock(" CHANNEL_SLOT_LOCK_CLASS ", hashtext($1))", 1, lock);
    const char *count[] = {channel, id};
    PGresult *result = NULL;
    if (status == STORE_OK)
        status = pg_query(s, "count channel occupants", &result,
                          "SELECT COUNT(*) FROM tasks WHERE channel = $1 AND state IN (1, 2) AND id <> $2", 2,
                          count);
    int64_t occupied = status == STORE_OK ? pg_get_int(result, 0, 0) : 0;
    PQclear(result);
    int64_t changed = 0;
    if (status == STORE_OK && cap > 0 && occupied >= cap) {
        *full = true;
    } else if (status == STORE_OK) {
        status = run_set_upstream(s, id, from, TASK_SUBMITTING, channel, upstream_json, now, &changed);
    }
    status = pg_end(s, status, "take channel slot");
    if (status != STORE_OK) return status;
    if (*full) return STORE_CONFLICT;
    return changed == 1 ? STORE_OK : explain_no_change(s, id);
}

store_status pg_store_task_set_progress(pg_store *s, const char *id, int progress, int64_t now)
{
    pg_number value, when, fence;
    const char *values[] = {pg_int(&value, progress < 0 ? 0 : progress), pg_int(&when, now), id,
                            pg_int(&fence, s->lease_epoch)};
    return compare_and_set(s, id, "task progress",
                           "UPDATE tasks SET progress = GREATEST(progress, LEAST($1::integer, 99)), "
                           "updated_at = $2 WHERE id = $3 AND state < 4 "
                           "AND ($4::bigint = 0 OR lease_epoch = $4::bigint)",
                           4, values);
}

store_status pg_store_task_set_results(pg_store *s, const char *id, const char *results_json, int64_t now)
{
    if (results_json == NULL || results_json[0] != '[') return STORE_ERROR;
    pg_number when, state;
    const char *values[] = {results_json, pg_int(&when, now), id, pg_int(&state, TASK_COMPLETED)};
    return compare_and_set(s, id, "task results",
                           "UPDATE tasks SET results_json = $1, updated_at = $2 WHERE id = $3 "
                           "AND state = $4::integer",
                           4, values);
}

/* Runs a task's finishing compare-and-set and, when it applies, in the same transaction: the
 * reservation's settlement (charging `charge`, -1 = all of it) or, with `refund`, its full refund; and
 * the callback's queueing. Returns the rows changed (0 or 1), or -1 on error. */
static int finish_task_tx(pg_store *s, const char *id, int64_t charge, bool refund, int64_t now,
                          const char *sql, int count, const char *const *values, const char *what)
{
    if (pg_begin(s, what) != STORE_OK) return -1;
    PGresult *result = NULL;
    store_status status = pg_query(s, what, &result, sql, count, values);
    int64_t changed = status == STORE_OK ? pg_changed(result) : -1;
    PQclear(result);
    if (changed == 1) status = pg_credits_release_tx(s, id, refund, charge, now);
    if (changed == 1 && status == STORE_OK) status = pg_callback_queue_tx(s, id, now);
    if (pg_end(s, status, what) != STORE_OK) return -1;
    return (int)changed;
}

store_status pg_store_task_complete(pg_store *s, const char *id, task_state from, const char *results_json,
                                    int64_t credits_charged, int64_t now)
{
    json_error_t error;
    json_t *results = results_json ? json_loads(results_json, 0, &error) : NULL;
    bool usable = json_is_array(results) && json_array_size(results) > 0;
    json_decref(results);
    if (!usable || task_state_is_terminal(from)) {
        log_error(usable ? "refusing to complete from a finished state"
                         : "refusing to complete a task without results",
                  "task=%s", id);
        return STORE_ERROR;
    }
    pg_number state, when, from_text, fence;
    const char *values[] = {
        pg_int(&state, TASK_COMPLETED), results_json, pg_int(&when, now), id, pg_int(&from_text, from),
        pg_int(&fence, s->lease_epoch)};
    int changed = finish_task_tx(s, id, credits_charged, false, now,
                                 "UPDATE tasks SET state = $1, progress = 100, results_json = $2, "
                                 "completed_at = $3, updated_at = $3 WHERE id = $4 AND state = $5 "
                                 "AND ($6::bigint = 0 OR lease_epoch = $6::bigint)",
                                 6, values, "complete task");
    if (changed == 1) return STORE_OK;
    return changed == 0 ? explain_no_change(s, id) : STORE_ERROR;
}

/* Any unfinished state → a terminal failure state, optionally only for one key; fenced by `fence` (0 =
 * not fenced: a cancel). */
static store_status finish_unsuccessfully(pg_store *s, const char *id, const char *key_id, task_state to,
                                          const char *code, const char *message, int64_t fence, int64_t now)
{
    pg_number state, when, fence_text;
    const char *values[] = {pg_int(&state, to),        code, message, pg_int(&when, now), id, key_id,
                            pg_int(&fence_text, fence)};
    int changed = finish_task_tx(s, id, 0, true, now,
                                 "UPDATE tasks SET state = $1, error_code = $2, error_message = $3, "
                                 "completed_at = $4, updated_at = $4 "
                                 "WHERE id = $5 AND state < 4 AND ($6::text IS NULL OR key_id = $6::text) "
                                 "AND ($7::bigint = 0 OR lease_epoch = $7::bigint)",
                                 7, values, "finish task");
    if (changed == 1) return STORE_OK;
    if (changed != 0) return STORE_ERROR;
    const char *find[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "find task", &result, "SELECT key_id FROM tasks WHERE id = $1", 1, find) != STORE_OK)
        return STORE_ERROR;
    store_status status = STORE_NOT_FOUND;
    if (PQntuples(result) == 1)
        status = key_id != NULL && strcmp(PQgetvalue(result, 0, 0), key_id) != 0 ? STORE_NOT_FOUND
                                                                                 : STORE_CONFLICT;
    PQclear(result);
    return status;
}

store_status pg_store_task_fail(pg_store *s, const char *id, const char *code, const char *message,
                                int64_t now)
{
    return finish_unsuccessfully(s, id, NULL, TASK_FAILED, code, message, s->lease_epoch, now);
}

store_status pg_store_task_cancel(pg_store *s, const char *id, const char *key_id, int64_t now)
{
    return finish_unsuccessfully(s, id, key_id, TASK_CANCELLED, "cancelled", "The task was cancelled.", 0,
                                 now);
}

/* Why a delete found nothing to delete: NOT_FOUND when the task is absent or another key's, CONFLICT
 * when it is the key's (unfinished, or finished by a writer that committed after the delete looked). */
static store_status explain_no_delete(pg_store *s, const char *id, const char *key_id)
{
    const char *find[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "find task", &result, "SELECT key_id FROM tasks WHERE id = $1", 1, find) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 && strcmp(PQgetvalue(result, 0, 0), key_id) == 0
                              ? STORE_CONFLICT
                              : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

store_status pg_store_task_delete(pg_store *s, const char *task_id, const char *key_id,
                                  task_record *deleted_out)
{
    if (pg_begin(s, "delete task") != STORE_OK) return STORE_ERROR;
    const char *values[] = {task_id, key_id};
    PGresult *result = NULL;
    /* the row lock the DELETE takes orders it after a racing cancel or completion: it sees their state */
    store_status status = pg_query(s, "delete task", &result,
                                   "DELETE FROM tasks WHERE id = $1 AND key_id = $2 AND state >= 4 "
                                   "RETURNING " PG_TASK_COLUMNS,
                                   2, values);
    task_record task;
    memset(&task, 0, sizeof(task));
    bool deleted = false;
    if (status == STORE_OK && PQntuples(result) == 1) {
        deleted = read_task(result, 0, &task);
        if (!deleted) status = STORE_ERROR;
    } else if (status == STORE_OK) {
        status = STORE_NOT_FOUND; /* explained once the transaction is over */
    }
    PQclear(result);
    if (deleted)
        status = pg_query(s, "delete task", NULL,
                          "DELETE FROM idempotency_keys WHERE key_id = $2 AND task_id = $1", 2, values);
    if (deleted && status == STORE_OK)
        status = pg_query(s, "delete task", NULL, "DELETE FROM callbacks WHERE task_id = $1 AND key_id = $2",
                          2, values);
    status = pg_end(s, status, "delete task");
    if (status == STORE_NOT_FOUND) status = explain_no_delete(s, task_id, key_id);
    if (status == STORE_OK && deleted_out != NULL)
        *deleted_out = task;
    else if (deleted)
        task_record_clear(&task);
    return status;
}

store_status pg_store_task_list_unfinished(pg_store *s, task_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    PGresult *result = NULL;
    if (pg_query(s, "list unfinished tasks", &result,
                 "SELECT " PG_TASK_COLUMNS " FROM tasks WHERE state < 4 ORDER BY created_at, seq", 0,
                 NULL) != STORE_OK)
        return STORE_ERROR;
    return pg_collect_tasks(result, out, count);
}

store_status pg_store_task_count_by_state(pg_store *s, int64_t counts[TASK_STATE_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * TASK_STATE_COUNT);
    PGresult *result = NULL;
    if (pg_query(s, "count tasks", &result, "SELECT state, COUNT(*) FROM tasks GROUP BY state", 0, NULL) !=
        STORE_OK)
        return STORE_ERROR;
    for (int i = 0; i < PQntuples(result); i++) {
        int64_t state = pg_get_int(result, i, 0);
        if (state >= 0 && state < TASK_STATE_COUNT) counts[state] = pg_get_int(result, i, 1);
    }
    PQclear(result);
    return STORE_OK;
}

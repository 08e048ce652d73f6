/* store_sqlite_leases.c — nodes, their leases on tasks and the cluster's facts in SQLite (store.h). One
 * process serves a SQLite database, so a node registering here ends every earlier one at once; the rest
 * is the same protocol as PostgreSQL's, with this machine's clock. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/clock.h"

/* A dead node's row is kept this long after it was taken over (operators see it), then removed once no
 * unfinished task carries its epoch. */
#define DEAD_NODE_KEPT_MS (24LL * 60 * 60 * 1000)

store_status sqlite_store_node_register(sqlite_store *s, const char *name, int64_t lease_ms, int64_t *epoch)
{
    int64_t now_ms = clock_unix_ms();
    if (sql_begin(s, "register node") != STORE_OK) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    store_status status =
        sql_prepare(s, "INSERT INTO nodes (name, started_at, lease_until_ms) VALUES (?1, ?2, ?3)", &stmt);
    if (status == STORE_OK) {
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 2, now_ms / 1000);
        sqlite3_bind_int64(stmt, 3, now_ms + lease_ms);
        status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, "register node");
        sqlite3_finalize(stmt);
    }
    int64_t made = sqlite3_last_insert_rowid(s->db);
    if (status == STORE_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "UPDATE nodes SET taken_over = 1 WHERE epoch <> %lld", (long long)made);
        status = sql_exec(s, sql, "end earlier nodes");
    }
    status = sql_end(s, status, "register node");
    if (status == STORE_OK) *epoch = made;
    return status;
}

store_status sqlite_store_node_renew(sqlite_store *s, int64_t epoch, int64_t lease_ms)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "UPDATE nodes SET lease_until_ms = ?2 WHERE epoch = ?1 AND taken_over = 0", &stmt) !=
        STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, epoch);
    sqlite3_bind_int64(stmt, 2, clock_unix_ms() + lease_ms);
    int changed = sql_run_write(s, stmt, "renew node lease");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_CONFLICT : STORE_ERROR;
}

/* Runs one statement with the epoch as ?1 inside the caller's transaction. */
static store_status run_with_epoch(sqlite_store *s, const char *sql, int64_t epoch, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, sql, &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, epoch);
    store_status status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, what);
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_node_leave(sqlite_store *s, int64_t epoch)
{
    if (sql_begin(s, "node leaves") != STORE_OK) return STORE_ERROR;
    store_status status = run_with_epoch(
        s, "UPDATE tasks SET lease_epoch = 0 WHERE lease_epoch = ?1 AND state < 4", epoch, "hand tasks back");
    if (status == STORE_OK)
        status = run_with_epoch(s, "DELETE FROM nodes WHERE epoch = ?1", epoch, "remove node");
    return sql_end(s, status, "node leaves");
}

/* Inside the claim's transaction: appends to ids the ids of up to `limit` - *count unfinished tasks
 * leased by `epoch`, oldest first (one range of tasks_by_lease: no sort, no other task read). */
static store_status claimable_of_epoch(sqlite_store *s, int64_t epoch, size_t limit,
                                       char (*ids)[IDS_TASK_ID_SIZE], size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT id FROM tasks WHERE state < 4 AND lease_epoch = ?1 ORDER BY created_at, seq "
                    "LIMIT ?2",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, epoch);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)(limit - *count));
    int rc = SQLITE_DONE;
    while (*count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
        sql_copy_text(ids[(*count)++], IDS_TASK_ID_SIZE, stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : sql_fail(s, "find claimable tasks");
}

/* Inside the claim's transaction: the ids of up to `limit` claimable tasks: those no node holds (lease
 * 0), oldest first, then those of nodes taken over, node by node. Each is one range of tasks_by_lease
 * (lease_epoch, created_at, seq), so a claim reads only what it takes: the single query "state < 4 AND
 * (lease_epoch = 0 OR …) ORDER BY created_at" it replaces walked every unfinished task, every second,
 * inside a write transaction (100,000 tasks in flight held the writer lock for tens of milliseconds). */
static store_status claimable_ids(sqlite_store *s, int64_t epoch, size_t limit,
                                  char (**ids)[IDS_TASK_ID_SIZE], size_t *count)
{
    *ids = calloc(limit, sizeof(**ids));
    if (*ids == NULL) return STORE_ERROR;
    store_status status = claimable_of_epoch(s, 0, limit, *ids, count);
    sqlite3_stmt *nodes = NULL;
    if (status == STORE_OK && *count < limit &&
        (status =
             sql_prepare(s, "SELECT epoch FROM nodes WHERE taken_over = 1 AND epoch <> ?1 ORDER BY epoch",
                         &nodes)) == STORE_OK) {
        sqlite3_bind_int64(nodes, 1, epoch);
        int rc = SQLITE_DONE;
        while (status == STORE_OK && *count < limit && (rc = sqlite3_step(nodes)) == SQLITE_ROW)
            status = claimable_of_epoch(s, sqlite3_column_int64(nodes, 0), limit, *ids, count);
        if (status == STORE_OK && *count < limit && rc != SQLITE_DONE)
            status = sql_fail(s, "find taken over nodes");
        sqlite3_finalize(nodes);
    }
    return status;
}

/* Inside the claim's transaction: marks nodes whose lease passed as taken over, and forgets old dead
 * nodes that no unfinished task names any more. */
static store_status end_expired_nodes(sqlite_store *s, int64_t epoch, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s, "UPDATE nodes SET taken_over = 1 WHERE lease_until_ms < ?2 AND taken_over = 0 AND epoch <> ?1",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, epoch);
    sqlite3_bind_int64(stmt, 2, now_ms);
    store_status status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, "end expired nodes");
    sqlite3_finalize(stmt);
    if (status != STORE_OK ||
        sql_prepare(s,
                    "DELETE FROM nodes WHERE taken_over = 1 AND lease_until_ms < ?1 AND NOT EXISTS "
                    "(SELECT 1 FROM tasks WHERE tasks.lease_epoch = nodes.epoch AND tasks.state < 4)",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, now_ms - DEAD_NODE_KEPT_MS);
    status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, "forget dead nodes");
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_tasks_claim(sqlite_store *s, int64_t epoch, size_t limit, task_record **out,
                                      size_t *count)
{
    char(*ids)[IDS_TASK_ID_SIZE] = NULL;
    size_t found = 0;
    if (sql_begin(s, "claim tasks") != STORE_OK) return STORE_ERROR;
    store_status status = end_expired_nodes(s, epoch, clock_unix_ms());
    if (status == STORE_OK) status = claimable_ids(s, epoch, limit, &ids, &found);
    sqlite3_stmt *stmt = NULL;
    if (status == STORE_OK && found > 0)
        status = sql_prepare(s, "UPDATE tasks SET lease_epoch = ?1 WHERE id = ?2", &stmt);
    for (size_t i = 0; status == STORE_OK && i < found; i++) {
        sqlite3_bind_int64(stmt, 1, epoch);
        sqlite3_bind_text(stmt, 2, ids[i], -1, SQLITE_STATIC);
        status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, "claim task");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    status = sql_end(s, status, "claim tasks");
    /* read after the commit: the records are what any reader sees now */
    task_record *tasks = status == STORE_OK && found ? calloc(found, sizeof(*tasks)) : NULL;
    if (status == STORE_OK && found && tasks == NULL) status = STORE_ERROR;
    size_t read = 0;
    for (size_t i = 0; status == STORE_OK && i < found; i++) {
        store_status got = sqlite_store_task_get(s, ids[i], &tasks[read]);
        if (got == STORE_OK)
            read++;
        else if (got != STORE_NOT_FOUND)
            status = STORE_ERROR;
    }
    free(ids);
    if (status != STORE_OK) {
        task_records_free(tasks, read);
        return STORE_ERROR;
    }
    *out = read ? tasks : NULL;
    if (read == 0) free(tasks);
    *count = read;
    return STORE_OK;
}

store_status sqlite_store_task_lease(sqlite_store *s, const char *id, int64_t *epoch)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT lease_epoch FROM tasks WHERE id = ?1", &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) *epoch = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "task lease");
}

store_status sqlite_store_node_list(sqlite_store *s, node_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "SELECT epoch, name, started_at, lease_until_ms, taken_over, (SELECT COUNT(*) FROM tasks "
            "WHERE tasks.lease_epoch = nodes.epoch AND tasks.state < 4) FROM nodes ORDER BY epoch DESC",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    size_t capacity = 0;
    node_record *rows = NULL;
    int rc;
    store_status status = STORE_OK;
    while (status == STORE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            node_record *grown = realloc(rows, capacity * sizeof(*rows));
            if (grown == NULL) {
                status = STORE_ERROR;
                break;
            }
            rows = grown;
        }
        node_record *n = &rows[(*count)++];
        memset(n, 0, sizeof(*n));
        n->epoch = sqlite3_column_int64(stmt, 0);
        sql_copy_text(n->name, sizeof(n->name), stmt, 1);
        n->started_at = sqlite3_column_int64(stmt, 2);
        n->lease_until_ms = sqlite3_column_int64(stmt, 3);
        n->taken_over = sqlite3_column_int(stmt, 4) != 0;
        n->tasks = sqlite3_column_int64(stmt, 5);
    }
    if (status == STORE_OK && rc != SQLITE_DONE) status = sql_fail(s, "list nodes");
    sqlite3_finalize(stmt);
    if (status != STORE_OK) {
        free(rows);
        *count = 0;
        return STORE_ERROR;
    }
    *out = rows;
    return STORE_OK;
}

store_status sqlite_store_fact_claim(sqlite_store *s, const char *name, const char *value, char *stored,
                                     size_t stored_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "INSERT OR IGNORE INTO cluster_facts (name, value) VALUES (?1, ?2)", &stmt) !=
        STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
    if (sql_run_write(s, stmt, "record fact") < 0) return STORE_ERROR;
    if (sql_prepare(s, "SELECT value FROM cluster_facts WHERE name = ?1", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) sql_copy_text(stored, stored_size, stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? STORE_OK : sql_fail(s, "read fact");
}

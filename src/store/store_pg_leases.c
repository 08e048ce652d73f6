/* store_pg_leases.c — nodes, their leases on tasks and the cluster's facts in PostgreSQL (store.h). Lease
 * times are the database server's clock (clock_timestamp(), not the transaction's start), so that nodes
 * whose clocks differ still agree on whose lease has passed. Claimers skip each other's locked rows
 * (FOR UPDATE SKIP LOCKED) instead of queueing, and an owner's fenced write racing a claim is serialised
 * by the row lock: whichever commits second re-reads the row and finds the other's epoch. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"

#define NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
/* A dead node's row is kept this long after it was taken over (operators see it), then removed once no
 * unfinished task carries its epoch. */
#define DEAD_NODE_KEPT_MS "86400000"

store_status pg_store_node_register(pg_store *s, const char *name, int64_t lease_ms, int64_t *epoch)
{
    pg_number lease;
    const char *values[] = {name, pg_int(&lease, lease_ms)};
    PGresult *result = NULL;
    if (pg_query(s, "register node", &result,
                 "INSERT INTO nodes (name, started_at, lease_until_ms) VALUES "
                 "($1, extract(epoch from clock_timestamp())::bigint, " NOW_MS
                 " + $2::bigint) RETURNING epoch",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK) *epoch = pg_get_int(result, 0, 0);
    PQclear(result);
    return status;
}

store_status pg_store_node_renew(pg_store *s, int64_t epoch, int64_t lease_ms)
{
    pg_number which, lease;
    const char *values[] = {pg_int(&which, epoch), pg_int(&lease, lease_ms)};
    PGresult *result = NULL;
    if (pg_query(s, "renew node lease", &result,
                 "UPDATE nodes SET lease_until_ms = " NOW_MS
                 " + $2::bigint WHERE epoch = $1 AND NOT taken_over",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    int64_t changed = pg_changed(result);
    PQclear(result);
    return changed == 1 ? STORE_OK : STORE_CONFLICT;
}

store_status pg_store_node_leave(pg_store *s, int64_t epoch)
{
    pg_number which;
    const char *values[] = {pg_int(&which, epoch)};
    if (pg_begin(s, "node leaves") != STORE_OK) return STORE_ERROR;
    store_status status =
        pg_query(s, "hand tasks back", NULL,
                 "UPDATE tasks SET lease_epoch = 0 WHERE lease_epoch = $1 AND state < 4", 1, values);
    if (status == STORE_OK)
        status = pg_query(s, "remove node", NULL, "DELETE FROM nodes WHERE epoch = $1", 1, values);
    return pg_end(s, status, "node leaves");
}

store_status pg_store_tasks_claim(pg_store *s, int64_t epoch, size_t limit, task_record **out, size_t *count)
{
    pg_number which, rows;
    const char *values[] = {pg_int(&which, epoch), pg_int(&rows, (int64_t)limit)};
    if (pg_begin(s, "claim tasks") != STORE_OK) return STORE_ERROR;
    store_status status = pg_query(s, "end expired nodes", NULL,
                                   "UPDATE nodes SET taken_over = TRUE WHERE lease_until_ms < " NOW_MS
                                   " AND NOT taken_over AND epoch <> $1",
                                   1, values);
    if (status == STORE_OK)
        status =
            pg_query(s, "forget dead nodes", NULL,
                     "DELETE FROM nodes WHERE taken_over AND lease_until_ms < " NOW_MS " - " DEAD_NODE_KEPT_MS
                     " AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.lease_epoch = nodes.epoch AND "
                     "tasks.state < 4)",
                     0, NULL);
    PGresult *result = NULL;
    if (status == STORE_OK)
        status = pg_query(
            s, "claim tasks", &result,
            "WITH claimed AS (UPDATE tasks SET lease_epoch = $1 FROM (SELECT oldest.seq FROM "
            "(SELECT 0::bigint AS epoch, 0 AS turn UNION ALL SELECT epoch, 1 FROM nodes "
            "WHERE taken_over AND epoch <> $1) claimable CROSS JOIN LATERAL (SELECT seq FROM tasks "
            "WHERE state < 4 AND lease_epoch = claimable.epoch ORDER BY created_at, seq LIMIT $2 "
            "FOR UPDATE SKIP LOCKED) oldest ORDER BY claimable.turn, claimable.epoch LIMIT $2) picked "
            "WHERE tasks.seq = picked.seq RETURNING "
            "tasks.seq, " PG_TASK_COLUMNS ") SELECT " PG_TASK_COLUMNS
            " FROM claimed ORDER BY created_at, seq",
            2, values);
    status = pg_end(s, status, "claim tasks");
    if (status != STORE_OK) {
        PQclear(result);
        return STORE_ERROR;
    }
    return pg_collect_tasks(result, out, count);
}

store_status pg_store_task_lease(pg_store *s, const char *id, int64_t *epoch)
{
    const char *values[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "task lease", &result, "SELECT lease_epoch FROM tasks WHERE id = $1", 1, values) !=
        STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) *epoch = pg_get_int(result, 0, 0);
    PQclear(result);
    return status;
}

store_status pg_store_node_list(pg_store *s, node_record **out, size_t *count)
{
    PGresult *result = NULL;
    if (pg_query(s, "list nodes", &result,
                 "SELECT epoch, name, started_at, lease_until_ms, taken_over, (SELECT COUNT(*) FROM tasks "
                 "WHERE tasks.lease_epoch = nodes.epoch AND tasks.state < 4) FROM nodes ORDER BY epoch DESC",
                 0, NULL) != STORE_OK)
        return STORE_ERROR;
    int found = PQntuples(result);
    node_record *rows = found ? calloc((size_t)found, sizeof(*rows)) : NULL;
    if (found && rows == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < found; i++) {
        rows[i].epoch = pg_get_int(result, i, 0);
        pg_copy_text(rows[i].name, sizeof(rows[i].name), result, i, 1);
        rows[i].started_at = pg_get_int(result, i, 2);
        rows[i].lease_until_ms = pg_get_int(result, i, 3);
        rows[i].taken_over = pg_get_bool(result, i, 4);
        rows[i].tasks = pg_get_int(result, i, 5);
    }
    PQclear(result);
    *out = rows;
    *count = (size_t)found;
    return STORE_OK;
}

store_status pg_store_fact_claim(pg_store *s, const char *name, const char *value, char *stored,
                                 size_t stored_size)
{
    const char *values[] = {name, value};
    PGresult *result = NULL;
    if (pg_query(s, "record fact", &result,
                 "WITH added AS (INSERT INTO cluster_facts (name, value) VALUES ($1, $2) "
                 "ON CONFLICT (name) DO NOTHING RETURNING value) "
                 "SELECT value FROM added UNION ALL SELECT value FROM cluster_facts WHERE name = $1",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    if (PQntuples(result) == 0) { /* another connection inserted it after this statement's snapshot */
        PQclear(result);
        if (pg_query(s, "read fact", &result, "SELECT value FROM cluster_facts WHERE name = $1", 1, values) !=
            STORE_OK)
            return STORE_ERROR;
    }
    store_status status = PQntuples(result) >= 1 ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK) pg_copy_text(stored, stored_size, result, 0, 0);
    PQclear(result);
    return status;
}

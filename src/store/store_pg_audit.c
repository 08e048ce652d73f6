/* store_pg_audit.c — store_credits_audit on PostgreSQL: the invariants of store.h's credits section
 * checked over every key and task in one snapshot (a REPEATABLE READ, READ ONLY transaction). The same
 * checks as store_sqlite_credits.c; a PostgreSQL database has no tasks from before the ledger. */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_common.h"

/* Per key: its balances agree with its ledger and with its unfinished tasks' reservations. */
static store_status audit_keys(pg_store *s, credit_audit *out)
{
    PGresult *result = NULL;
    if (pg_query(s, "audit keys", &result,
                 "SELECT k.id, k.credits_available, k.credits_reserved,"
                 " COALESCE(SUM(CASE l.kind WHEN 'grant' THEN l.amount WHEN 'reserve' THEN -l.amount"
                 "  WHEN 'settle' THEN l.released - l.amount WHEN 'refund' THEN l.amount END), 0),"
                 " COALESCE(SUM(CASE l.kind WHEN 'reserve' THEN l.amount WHEN 'settle' THEN -l.released"
                 "  WHEN 'refund' THEN -l.amount END), 0),"
                 " (SELECT COALESCE(SUM(r.amount), 0) FROM credit_ledger r JOIN tasks t ON t.id = r.task_id"
                 "   WHERE r.kind = 'reserve' AND r.key_id = k.id AND t.state < 4),"
                 " k.tasks_unfinished,"
                 " (SELECT COUNT(*) FROM credit_ledger r JOIN tasks t ON t.id = r.task_id"
                 "   WHERE r.kind = 'reserve' AND r.key_id = k.id AND t.state < 4)"
                 " FROM api_keys k LEFT JOIN credit_ledger l ON l.key_id = k.id GROUP BY k.id",
                 0, NULL) != STORE_OK)
        return STORE_ERROR;
    for (int row = 0; row < PQntuples(result); row++) {
        out->keys_checked++;
        const char *id = PQgetvalue(result, row, 0);
        long long available = pg_get_int(result, row, 1), reserved = pg_get_int(result, row, 2);
        long long ledger_available = pg_get_int(result, row, 3), ledger_reserved = pg_get_int(result, row, 4);
        long long open_reserved = pg_get_int(result, row, 5);
        long long counted = pg_get_int(result, row, 6), open_tasks = pg_get_int(result, row, 7);
        if (counted != open_tasks)
            credit_audit_problem(out, "key %s: counts %lld unfinished tasks, but %lld hold a reservation", id,
                                 counted, open_tasks);
        if (available != ledger_available)
            credit_audit_problem(out, "key %s: available %lld, but its ledger sums to %lld", id, available,
                                 ledger_available);
        if (reserved != ledger_reserved)
            credit_audit_problem(out, "key %s: reserved %lld, but its ledger sums to %lld", id, reserved,
                                 ledger_reserved);
        if (reserved != open_reserved)
            credit_audit_problem(out, "key %s: reserved %lld, but its unfinished tasks hold %lld", id,
                                 reserved, open_reserved);
        if (available < 0 || reserved < 0)
            credit_audit_problem(out, "key %s: negative balance %lld / %lld", id, available, reserved);
    }
    PQclear(result);
    return STORE_OK;
}

/* Per task: one reservation; a finished task has exactly one release of exactly its reservation (a
 * settlement charging no more than it), an unfinished one none. */
static store_status audit_tasks(pg_store *s, credit_audit *out)
{
    PGresult *result = NULL;
    if (pg_query(
            s, "audit tasks", &result,
            "SELECT t.id, t.state,"
            " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve'),"
            " (SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve'),"
            " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind IN ('settle', 'refund')),"
            " (SELECT COALESCE(SUM(CASE kind WHEN 'settle' THEN released ELSE amount END), 0)"
            "   FROM credit_ledger WHERE task_id = t.id AND kind IN ('settle', 'refund')),"
            " (SELECT COUNT(*) FROM credit_ledger WHERE task_id = t.id AND kind = 'settle'"
            "   AND amount > released),"
            " t.key_id = (SELECT key_id FROM credit_ledger WHERE task_id = t.id AND kind = 'reserve' LIMIT 1)"
            " FROM tasks t",
            0, NULL) != STORE_OK)
        return STORE_ERROR;
    for (int row = 0; row < PQntuples(result); row++) {
        out->tasks_checked++;
        const char *id = PQgetvalue(result, row, 0);
        bool finished = pg_get_int(result, row, 1) >= TASK_COMPLETED;
        long long reserves = pg_get_int(result, row, 2), reserved = pg_get_int(result, row, 3);
        long long releases = pg_get_int(result, row, 4), released = pg_get_int(result, row, 5);
        if (reserves != 1)
            credit_audit_problem(out, "task %s: %lld reservations (expected 1)", id, reserves);
        else if (!pg_get_bool(result, row, 7))
            credit_audit_problem(out, "task %s: reserved on another key", id);
        if (releases != (finished ? 1 : 0))
            credit_audit_problem(out, "task %s: released %lld times, finished=%d", id, releases, finished);
        else if (finished && released != reserved)
            credit_audit_problem(out, "task %s: released %lld of a %lld reservation", id, released, reserved);
        if (pg_get_int(result, row, 6) != 0)
            credit_audit_problem(out, "task %s: charged more than reserved", id);
    }
    PQclear(result);
    return STORE_OK;
}

store_status pg_store_credits_audit(pg_store *s, credit_audit *out)
{
    memset(out, 0, sizeof(*out));
    if (pg_query(s, "audit", NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != STORE_OK)
        return STORE_ERROR;
    s->in_transaction = true;
    store_status status = audit_keys(s, out);
    if (status == STORE_OK) status = audit_tasks(s, out);
    return pg_end(s, status, "audit");
}

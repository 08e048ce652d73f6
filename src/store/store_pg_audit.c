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
    if (pg_query(s, "audit keys", &result, CREDIT_AUDIT_KEYS_SQL, 0, NULL) != STORE_OK) return STORE_ERROR;
    for (int row = 0; row < PQntuples(result); row++) {
        credit_audit_key_row k = {.id = PQgetvalue(result, row, 0),
                                  .available = pg_get_int(result, row, 1),
                                  .reserved = pg_get_int(result, row, 2),
                                  .ledger_available = pg_get_int(result, row, 3),
                                  .ledger_reserved = pg_get_int(result, row, 4),
                                  .open_reserved = pg_get_int(result, row, 5),
                                  .counted = pg_get_int(result, row, 6),
                                  .open_tasks = pg_get_int(result, row, 7)};
        credit_audit_check_key(out, &k);
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
        credit_audit_task_row t = {.id = PQgetvalue(result, row, 0),
                                   .finished = pg_get_int(result, row, 1) >= TASK_COMPLETED,
                                   .reserves = pg_get_int(result, row, 2),
                                   .reserved = pg_get_int(result, row, 3),
                                   .releases = pg_get_int(result, row, 4),
                                   .released = pg_get_int(result, row, 5),
                                   .overcharged = pg_get_int(result, row, 6),
                                   .reserved_on_its_key = pg_get_bool(result, row, 7)};
        credit_audit_check_task(out, &t);
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

/* store_common.h — what every backend of store.h shares (internal to store/): copying task records and
 * reading ledger kinds by name. The backends' own entry points are in sqlite_internal.h and
 * pg_internal.h; store.c picks one per connection. */
#ifndef REELAY_STORE_STORE_COMMON_H
#define REELAY_STORE_STORE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Deep copy of a task record (task_record.c); false when out of memory (out is then cleared). */
bool task_record_copy(task_record *out, const task_record *in);

/* The ledger kind named `name` ("grant", …) into *out (store_names.c); false for NULL or an unknown name. */
bool ledger_kind_parse(const char *name, ledger_kind *out);

/* True when kind and payload are within the limits of a signal between nodes (store.h: kind 1 to
 * STORE_SIGNAL_KIND_MAX bytes of [a-z0-9_], payload up to STORE_SIGNAL_PAYLOAD_MAX bytes of 0x20-0x7e;
 * store_names.c). NULL is never valid. */
bool store_signal_is_valid(const char *kind, const char *payload);

/* How one ledger row moves a key's balances: available credits, reserved credits and the count of
 * unfinished tasks holding a reservation (a grant adds; a reservation moves amount from available to
 * reserved; a settlement releases `released`, charging `amount` of it; a refund returns all of it). */
typedef struct ledger_deltas {
    int64_t available, reserved, tasks;
} ledger_deltas;
ledger_deltas ledger_deltas_of(ledger_kind kind, int64_t amount, int64_t released);

/* The credit audit's per-key query (the same SQL on every backend): id, credits_available,
 * credits_reserved, what the ledger sums available and reserved to, what unfinished tasks' reservations
 * hold, tasks_unfinished, and how many unfinished tasks hold a reservation. */
#define CREDIT_AUDIT_KEYS_SQL                                                                                \
    "SELECT k.id, k.credits_available, k.credits_reserved,"                                                  \
    " COALESCE(SUM(CASE l.kind WHEN 'grant' THEN l.amount WHEN 'reserve' THEN -l.amount"                     \
    "  WHEN 'settle' THEN l.released - l.amount WHEN 'refund' THEN l.amount END), 0),"                       \
    " COALESCE(SUM(CASE l.kind WHEN 'reserve' THEN l.amount WHEN 'settle' THEN -l.released"                  \
    "  WHEN 'refund' THEN -l.amount END), 0),"                                                               \
    " (SELECT COALESCE(SUM(r.amount), 0) FROM credit_ledger r JOIN tasks t ON t.id = r.task_id"              \
    "   WHERE r.kind = 'reserve' AND r.key_id = k.id AND t.state < 4),"                                      \
    " k.tasks_unfinished,"                                                                                   \
    " (SELECT COUNT(*) FROM credit_ledger r JOIN tasks t ON t.id = r.task_id"                                \
    "   WHERE r.kind = 'reserve' AND r.key_id = k.id AND t.state < 4)"                                       \
    " FROM api_keys k LEFT JOIN credit_ledger l ON l.key_id = k.id GROUP BY k.id"

/* One row of that query, read by a backend. */
typedef struct credit_audit_key_row {
    const char *id;
    int64_t available, reserved, ledger_available, ledger_reserved, open_reserved, counted, open_tasks;
} credit_audit_key_row;
/* Checks one key: its balances agree with its ledger and its unfinished tasks, and are not negative. */
void credit_audit_check_key(credit_audit *out, const credit_audit_key_row *row);

/* What the ledger says of one task, read by a backend's per-task query. */
typedef struct credit_audit_task_row {
    const char *id;
    bool finished;
    bool reserved_on_its_key; /* the reservation's key is the task's */
    int64_t reserves, reserved, releases, released, overcharged;
} credit_audit_task_row;
/* Checks one task: one reservation on its own key; a finished task exactly one release of exactly its
 * reservation (a settlement charging no more than it), an unfinished one none. */
void credit_audit_check_task(credit_audit *out, const credit_audit_task_row *row);

/* Counts one problem the credit audit found, keeping the text of the first (store_names.c). */
void credit_audit_problem(credit_audit *out, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* ---- The operators' reads (store_sqlite_admin.c, store_pg_admin.c): the same SQL on both backends,
 * each naming its own placeholders (?N in SQLite, $N in PostgreSQL) as the macros' arguments. ---- */

/* States as the tasks table stores them (store.h's task_state): 1 submitting, 2 processing, 4 completed,
 * 5 failed; 4 and above are terminal. */

/* Parameters: 1 = now - 60, 2 = now - 3600. Rows: model, state, count, finished in the last minute,
 * finished in the last hour. */
#define ADMIN_SQL_TASK_SUMMARY(P1, P2)                                                                       \
    "SELECT model, state, COUNT(*), "                                                                        \
    "SUM(CASE WHEN state >= 4 AND completed_at >= " P1 " THEN 1 ELSE 0 END), "                               \
    "SUM(CASE WHEN state >= 4 AND completed_at >= " P2 " THEN 1 ELSE 0 END) "                                \
    "FROM tasks GROUP BY model, state ORDER BY model, state"

/* Parameter: 1 = since. Rows: channel, in flight, completed, failed, median seconds (-1 = none). The
 * median of n durations is the ((n + 1) / 2)-th smallest (the lower one for an even n). */
#define ADMIN_SQL_CHANNEL_ACTIVITY(P1)                                                                       \
    "WITH recent AS (SELECT channel, state, completed_at - created_at AS seconds FROM tasks "                \
    "  WHERE channel <> '' AND (state IN (1, 2) OR (state IN (4, 5) AND completed_at >= " P1 "))), "         \
    "ranked AS (SELECT channel, seconds, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY seconds) AS n, "   \
    "  COUNT(*) OVER (PARTITION BY channel) AS total FROM recent WHERE state = 4) "                          \
    "SELECT r.channel, SUM(CASE WHEN r.state IN (1, 2) THEN 1 ELSE 0 END), "                                 \
    "SUM(CASE WHEN r.state = 4 THEN 1 ELSE 0 END), SUM(CASE WHEN r.state = 5 THEN 1 ELSE 0 END), "           \
    "COALESCE((SELECT k.seconds FROM ranked k WHERE k.channel = r.channel AND k.n = (k.total + 1) / 2), "    \
    "-1) "                                                                                                   \
    "FROM recent r GROUP BY r.channel ORDER BY r.channel"

/* Replaces a fact (an upsert both backends understand). Parameters: 1 = name, 2 = value. */
#define ADMIN_SQL_FACT_SET(P1, P2)                                                                           \
    "INSERT INTO cluster_facts (name, value) VALUES (" P1 ", " P2 ") "                                       \
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"

/* Adds one row of ADMIN_SQL_TASK_SUMMARY (rows come ordered by model) to *out: its model's counts
 * and the totals by state (task_record.c). False when out of memory (out->models is left as it was). */
bool task_summary_add(task_summary *out, const char *model, int state, int64_t count);

#endif

/* store_copy.c — store_copy_into (store.h): the tables an installation is made of, as columns both
 * backends share, copied in an order that keeps every reference whole (keys before their tasks, tasks
 * before their ledger entries), from a read snapshot of one database into one write transaction of the
 * other. Each backend reads and writes its own rows (store_copy_sqlite.c, store_copy_pg.c); this file
 * knows no SQL dialect. Left out on purpose: nodes (a node belongs to its database) and tasks' lease
 * epochs (every task starts owned by nobody, so the first node to claim work takes the unfinished). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "store/store_copy_internal.h"
#include "util/log.h"

#define COLUMNS(list) list, sizeof(list) / sizeof(list[0])

static const copy_column key_columns[] = {
    {"id", COPY_TEXT},
    {"name", COPY_TEXT},
    {"key_hash", COPY_BYTES},
    {"user_group", COPY_TEXT},
    {"created_at", COPY_INT},
    {"revoked_at", COPY_INT},
    {"credits_available", COPY_INT},
    {"credits_reserved", COPY_INT},
    {"rpm_limit", COPY_INT},
    {"max_concurrent", COPY_INT},
    {"webhook_secret_sealed", COPY_TEXT},
    {"tasks_unfinished", COPY_INT},
};
static const copy_column channel_columns[] = {
    {"name", COPY_TEXT},
    {"provider", COPY_TEXT},
    {"base_url", COPY_TEXT},
    {"models", COPY_TEXT},
    {"priority", COPY_INT},
    {"weight", COPY_INT},
    {"max_concurrent", COPY_INT},
    {"enabled", COPY_BOOL},
    {"created_at", COPY_INT},
    {"credential_sealed", COPY_TEXT},
    {"webhook_secret_sealed", COPY_TEXT},
};
/* state is the fourth column: counting unfinished tasks reads it (TASK_STATE_COLUMN) */
static const copy_column task_columns[] = {
    {"id", COPY_TEXT},
    {"key_id", COPY_TEXT},
    {"model", COPY_TEXT},
    {"state", COPY_INT},
    {"progress", COPY_INT},
    {"created_at", COPY_INT},
    {"updated_at", COPY_INT},
    {"deadline_at", COPY_INT},
    {"completed_at", COPY_INT},
    {"channel", COPY_TEXT},
    {"user_group", COPY_TEXT},
    {"credits_reserved", COPY_INT},
    {"params_json", COPY_TEXT},
    {"results_json", COPY_TEXT},
    {"error_code", COPY_TEXT},
    {"error_message", COPY_TEXT},
    {"upstream_json", COPY_TEXT},
    {"billing_json", COPY_TEXT},
    {"remixed_from", COPY_TEXT},
};
#define TASK_STATE_COLUMN 3
static const copy_column ledger_columns[] = {
    {"key_id", COPY_TEXT},  {"task_id", COPY_TEXT}, {"kind", COPY_TEXT},      {"amount", COPY_INT},
    {"released", COPY_INT}, {"note", COPY_TEXT},    {"created_at", COPY_INT},
};
static const copy_column idempotency_columns[] = {
    {"key_id", COPY_TEXT},  {"idempotency_key", COPY_TEXT}, {"request_hash", COPY_BYTES},
    {"task_id", COPY_TEXT}, {"created_at", COPY_INT},
};
static const copy_column callback_columns[] = {
    {"task_id", COPY_TEXT},   {"key_id", COPY_TEXT},    {"url", COPY_TEXT},        {"state", COPY_INT},
    {"attempts", COPY_INT},   {"next_at", COPY_INT},    {"last_status", COPY_INT}, {"last_error", COPY_TEXT},
    {"created_at", COPY_INT}, {"updated_at", COPY_INT},
};
static const copy_column upload_columns[] = {
    {"id", COPY_TEXT},           {"key_id", COPY_TEXT},    {"filename", COPY_TEXT},
    {"object_name", COPY_TEXT},  {"size", COPY_INT},       {"content_type", COPY_TEXT},
    {"auto_cleanup", COPY_BOOL}, {"created_at", COPY_INT}, {"expires_at", COPY_INT},
};
static const copy_column fact_columns[] = {{"name", COPY_TEXT}, {"value", COPY_TEXT}};

/* What the copy is made of, in the order it is written, each with where its count is reported. Sequence
 * columns (seq) are not copied: rows are read in their order and the target numbers them the same way. */
static const struct {
    copy_table table;
    size_t report_offset;
} tables[] = {
    {{"api_keys", "rowid", "created_at, id", COLUMNS(key_columns), false}, offsetof(store_copy_report, keys)},
    {{"channels", "name", "name", COLUMNS(channel_columns), false}, offsetof(store_copy_report, channels)},
    {{"tasks", "seq", "seq", COLUMNS(task_columns), false}, offsetof(store_copy_report, tasks)},
    {{"credit_ledger", "seq", "seq", COLUMNS(ledger_columns), false},
     offsetof(store_copy_report, ledger_entries)},
    {{"idempotency_keys", "created_at, key_id, idempotency_key", "created_at, key_id, idempotency_key",
      COLUMNS(idempotency_columns), false},
     offsetof(store_copy_report, idempotency_keys)},
    {{"callbacks", "created_at, task_id", "created_at, task_id", COLUMNS(callback_columns), false},
     offsetof(store_copy_report, callbacks)},
    {{"uploads", "rowid", "seq", COLUMNS(upload_columns), false}, offsetof(store_copy_report, uploads)},
    {{"cluster_facts", "name", "name", COLUMNS(fact_columns), true}, offsetof(store_copy_report, facts)},
};
#define TABLE_COUNT (sizeof(tables) / sizeof(tables[0]))

bool copy_insert_sql(const copy_table *table, char *out, size_t size)
{
    size_t length = (size_t)snprintf(out, size, "INSERT INTO %s (", table->name);
    for (size_t i = 0; i < table->column_count && length < size; i++)
        length +=
            (size_t)snprintf(out + length, size - length, "%s%s", i ? ", " : "", table->columns[i].name);
    for (size_t i = 0; i < table->column_count && length < size; i++)
        length += (size_t)snprintf(out + length, size - length, "%s$%zu", i ? ", " : ") VALUES (", i + 1);
    if (length < size)
        length += (size_t)snprintf(out + length, size - length, ")%s",
                                   table->keep_existing ? " ON CONFLICT DO NOTHING" : "");
    return length < size;
}

/* One side of the copy: a connection's backend. */
typedef struct copy_side {
    sqlite_store *sqlite;
    pg_store *pg;
} copy_side;

/* Where the rows of the table being copied go, and how many went. */
typedef struct copy_sink {
    copy_side to;
    const copy_table *table;
    sqlite3_stmt *sqlite_insert; /* SQLite: the table's INSERT, prepared once */
    char pg_insert[2048];        /* PostgreSQL: its text */
    int64_t rows, unfinished;
} copy_sink;

static store_status write_row(void *context, const copy_value *row)
{
    copy_sink *sink = context;
    store_status status = sink->to.pg
                              ? pg_copy_insert(sink->to.pg, sink->pg_insert, sink->table, row)
                              : sqlite_copy_insert(sink->to.sqlite, sink->sqlite_insert, sink->table, row);
    if (status != STORE_OK) return status;
    sink->rows++;
    if (sink->table->columns == task_columns && row[TASK_STATE_COLUMN].number < TASK_COMPLETED)
        sink->unfinished++;
    return STORE_OK;
}

/* Copies one table's rows. */
static store_status copy_table_rows(copy_side from, copy_side to, const copy_table *table, copy_sink *sink)
{
    *sink = (copy_sink){.to = to, .table = table};
    if (to.pg ? !copy_insert_sql(table, sink->pg_insert, sizeof(sink->pg_insert))
              : sqlite_copy_prepare_insert(to.sqlite, table, &sink->sqlite_insert) != STORE_OK)
        return STORE_ERROR;
    store_status status = from.pg ? pg_copy_each_row(from.pg, table, write_row, sink)
                                  : sqlite_copy_each_row(from.sqlite, table, write_row, sink);
    sqlite3_finalize(sink->sqlite_insert);
    return status;
}

/* CONFLICT (with the problem said) when `to` holds rows in a table that must start empty. */
static store_status check_empty(copy_side to, store_copy_report *out)
{
    for (size_t i = 0; i < TABLE_COUNT; i++) {
        if (tables[i].table.keep_existing) continue;
        int64_t rows = 0;
        store_status status = to.pg ? pg_copy_count(to.pg, tables[i].table.name, &rows)
                                    : sqlite_copy_count(to.sqlite, tables[i].table.name, &rows);
        if (status != STORE_OK) return status;
        if (rows > 0) {
            snprintf(out->problem, sizeof(out->problem),
                     "the target database is not empty (its table %s holds %lld rows)", tables[i].table.name,
                     (long long)rows);
            return STORE_CONFLICT;
        }
    }
    return STORE_OK;
}

/* Inside both transactions: the check, then every table in order. */
static store_status copy_all(copy_side from, copy_side to, store_copy_report *out)
{
    store_status status = check_empty(to, out);
    for (size_t i = 0; i < TABLE_COUNT && status == STORE_OK; i++) {
        copy_sink sink;
        status = copy_table_rows(from, to, &tables[i].table, &sink);
        *(int64_t *)((char *)out + tables[i].report_offset) = sink.rows;
        if (sink.table->columns == task_columns) out->unfinished_tasks = sink.unfinished;
        if (status != STORE_OK)
            snprintf(out->problem, sizeof(out->problem), "copying the table %s failed (the log says why)",
                     tables[i].table.name);
    }
    return status;
}

store_status store_copy_into(store *from, store *to, store_copy_report *out)
{
    memset(out, 0, sizeof(*out));
    copy_side source, target;
    store_backend_of(from, &source.sqlite, &source.pg);
    store_backend_of(to, &target.sqlite, &target.pg);
    if (from == to || (source.sqlite && target.sqlite)) {
        /* two SQLite connections here are always the same data folder's file */
        snprintf(out->problem, sizeof(out->problem), "the source and the target are the same database");
        return STORE_ERROR;
    }
    store_status status =
        source.pg ? pg_copy_begin(source.pg, false) : sqlite_copy_begin(source.sqlite, false);
    if (status != STORE_OK) {
        snprintf(out->problem, sizeof(out->problem), "cannot read the source database");
        return STORE_ERROR;
    }
    status = target.pg ? pg_copy_begin(target.pg, true) : sqlite_copy_begin(target.sqlite, true);
    if (status == STORE_OK) {
        status = copy_all(source, target, out);
        status = target.pg ? pg_copy_end(target.pg, status) : sqlite_copy_end(target.sqlite, true, status);
        if (status != STORE_OK && out->problem[0] == '\0')
            snprintf(out->problem, sizeof(out->problem), "the target database refused the commit");
    } else {
        snprintf(out->problem, sizeof(out->problem), "cannot write to the target database");
    }
    store_status read_end =
        source.pg ? pg_copy_end(source.pg, STORE_OK) : sqlite_copy_end(source.sqlite, false, STORE_OK);
    if (status == STORE_OK && read_end != STORE_OK)
        log_warn("the copy's read snapshot ended badly (the copy itself is committed)", "operation=%s",
                 "copy");
    if (status != STORE_OK) {
        store_copy_report failed = {0};
        memcpy(failed.problem, out->problem, sizeof(failed.problem));
        *out = failed; /* no counts of rows that were rolled back */
    }
    return status;
}

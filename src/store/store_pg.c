/* store_pg.c — the PostgreSQL backend of store.h: connecting, and the versioned migrations, applied
 * under an advisory lock so that nodes (and threads) opening a fresh database together never race:
 * one applies them, the others wait and find them applied. A database whose schema is newer than this
 * program is refused. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "util/log.h"

/* The migrations, in order; version N is migrations[N-1]. Never edit one that has shipped: append.
 * PostgreSQL's list starts from SQLite's schema at its version 6 (a PostgreSQL database is always made
 * fresh, so it has no older history); a change to the schema is appended to both lists. Whole numbers
 * are BIGINT (credits, Unix seconds and milliseconds), hashes BYTEA, insertion order an identity
 * column (seq). */
static const char *const migrations[] = {
    /* 1: keys, channels, tasks, the credit ledger, idempotency keys, the callback outbox, uploads */
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  key_hash BYTEA NOT NULL UNIQUE,"
    "  user_group TEXT NOT NULL DEFAULT 'default',"
    "  created_at BIGINT NOT NULL,"
    "  revoked_at BIGINT NOT NULL DEFAULT 0,"
    "  credits_available BIGINT NOT NULL DEFAULT 0,"
    "  credits_reserved BIGINT NOT NULL DEFAULT 0,"
    "  rpm_limit INTEGER NOT NULL DEFAULT 0,"
    "  max_concurrent INTEGER NOT NULL DEFAULT 0,"
    "  webhook_secret_sealed TEXT NOT NULL DEFAULT '',"
    "  tasks_unfinished BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE channels ("
    "  name TEXT PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  base_url TEXT NOT NULL DEFAULT '',"
    "  models TEXT NOT NULL,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  weight INTEGER NOT NULL DEFAULT 1,"
    "  max_concurrent INTEGER NOT NULL DEFAULT 0,"
    "  enabled BOOLEAN NOT NULL DEFAULT TRUE,"
    "  created_at BIGINT NOT NULL,"
    "  credential_sealed TEXT NOT NULL DEFAULT '',"
    "  webhook_secret_sealed TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE tasks ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  key_id TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  progress INTEGER NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  deadline_at BIGINT NOT NULL,"
    "  completed_at BIGINT NOT NULL DEFAULT 0,"
    "  channel TEXT NOT NULL DEFAULT '',"
    "  user_group TEXT NOT NULL DEFAULT 'default',"
    "  credits_reserved BIGINT NOT NULL DEFAULT 0,"
    "  params_json TEXT,"
    "  results_json TEXT,"
    "  error_code TEXT NOT NULL DEFAULT '',"
    "  error_message TEXT,"
    "  upstream_json TEXT,"
    "  billing_json TEXT);"
    "CREATE INDEX tasks_by_key ON tasks (key_id, created_at, seq);"
    "CREATE INDEX tasks_unfinished ON tasks (state, created_at, seq) WHERE state < 4;"
    "CREATE TABLE credit_ledger ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  task_id TEXT,"
    "  kind TEXT NOT NULL,"
    "  amount BIGINT NOT NULL,"
    "  released BIGINT NOT NULL DEFAULT 0,"
    "  note TEXT NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX credit_ledger_by_key ON credit_ledger (key_id, seq);"
    "CREATE UNIQUE INDEX credit_ledger_one_reserve ON credit_ledger (task_id) WHERE kind = 'reserve';"
    "CREATE UNIQUE INDEX credit_ledger_one_release ON credit_ledger (task_id) "
    "  WHERE kind IN ('settle', 'refund');"
    "CREATE TABLE idempotency_keys ("
    "  key_id TEXT NOT NULL,"
    "  idempotency_key TEXT NOT NULL,"
    "  request_hash BYTEA NOT NULL,"
    "  task_id TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  PRIMARY KEY (key_id, idempotency_key));"
    "CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);"
    "CREATE TABLE callbacks ("
    "  task_id TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at BIGINT NOT NULL,"
    "  last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE INDEX callbacks_due ON callbacks (next_at) WHERE state = 0;"
    "CREATE TABLE uploads ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  object_name TEXT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  content_type TEXT NOT NULL DEFAULT '',"
    "  auto_cleanup BOOLEAN NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL);"
    "CREATE INDEX uploads_by_key ON uploads (key_id, created_at);"
    "CREATE INDEX uploads_by_expiry ON uploads (expires_at);",
    /* 2: nodes and their leases on tasks; facts every node must agree on (store.h) */
    "CREATE TABLE nodes ("
    "  epoch BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," /* never given out twice */
    "  name TEXT NOT NULL,"
    "  started_at BIGINT NOT NULL,"
    "  lease_until_ms BIGINT NOT NULL,"
    "  taken_over BOOLEAN NOT NULL DEFAULT FALSE);"
    "ALTER TABLE tasks ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;"
    "CREATE INDEX tasks_by_lease ON tasks (lease_epoch) WHERE state < 4;"
    "CREATE TABLE cluster_facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE INDEX tasks_on_channel ON tasks (channel) WHERE state IN (1, 2);",
    /* 3: requests each node accepted per rate-limited key and one-minute window (store.h "Request
     * counts") */
    "CREATE TABLE rate_counts ("
    "  minute BIGINT NOT NULL," /* the window: Unix ms / 60000 */
    "  key_id TEXT NOT NULL,"
    "  epoch BIGINT NOT NULL," /* the node's */
    "  count BIGINT NOT NULL,"
    "  PRIMARY KEY (minute, key_id, epoch));",
    /* 4: the video a task remixes (OpenAI's remixed_from_video_id) */
    "ALTER TABLE tasks ADD COLUMN remixed_from TEXT NOT NULL DEFAULT '';",
    /* 5: a node's claim reads one range per lease, oldest first (store_pg_leases.c) */
    "DROP INDEX tasks_by_lease;"
    "CREATE INDEX tasks_by_lease ON tasks (lease_epoch, created_at, seq) WHERE state < 4;",
};
#define MIGRATION_COUNT (sizeof(migrations) / sizeof(migrations[0]))

/* How long opening a connection may take unless the URL says otherwise (libpq's connect_timeout). */
#define PG_CONNECT_TIMEOUT_SECONDS "10"

/* The advisory lock every migrating connection takes (any fixed number: "reelay" in ASCII). */
#define MIGRATION_LOCK "113723845894521"

/* Runs SQL text that may hold several statements and no parameters. */
static store_status exec_script(pg_store *s, const char *sql, const char *what)
{
    PGresult *result = PQexec(s->conn, sql);
    ExecStatusType outcome = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    store_status status = STORE_OK;
    if (outcome != PGRES_COMMAND_OK && outcome != PGRES_TUPLES_OK) {
        const char *message = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        log_error("database error", "operation=\"%s\" error=\"%s\"", what,
                  message ? message : PQerrorMessage(s->conn));
        status = STORE_ERROR;
    }
    PQclear(result);
    return status;
}

/* Inside the migration transaction, holding the lock: applies every missing migration, refusing a
 * newer schema. */
static store_status migrate_locked(pg_store *s)
{
    store_status status = exec_script(s,
                                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                      "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                                      "create schema_migrations");
    PGresult *result = NULL;
    if (status == STORE_OK)
        status = pg_query(s, "read schema version", &result,
                          "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0, NULL);
    if (status != STORE_OK) return STORE_ERROR;
    int64_t current = pg_get_int(result, 0, 0);
    PQclear(result);
    if (current > (int64_t)MIGRATION_COUNT) {
        /* Written by a newer reelay: its data may mean things this binary does not know. */
        log_error("the database schema is newer than this program", "schema_version=%lld known_version=%zu",
                  (long long)current, (size_t)MIGRATION_COUNT);
        return STORE_ERROR;
    }
    for (size_t version = (size_t)current + 1; status == STORE_OK && version <= MIGRATION_COUNT; version++) {
        status = exec_script(s, migrations[version - 1], "migration");
        pg_number number;
        const char *values[] = {pg_int(&number, (int64_t)version)};
        if (status == STORE_OK)
            status = pg_query(s, "record migration", NULL,
                              "INSERT INTO schema_migrations VALUES ($1::integer, "
                              "EXTRACT(EPOCH FROM now())::bigint)",
                              1, values);
    }
    return status;
}

/* The whole migration is one transaction under a transaction-level advisory lock: DDL is transactional
 * here, so a connection that dies half-way leaves nothing behind, and the lock ends with it. */
static store_status migrate(pg_store *s)
{
    if (pg_begin(s, "begin migration") != STORE_OK) return STORE_ERROR;
    store_status status =
        pg_query(s, "migration lock", NULL, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, NULL);
    if (status == STORE_OK) status = migrate_locked(s);
    return pg_end(s, status, "commit migration") == STORE_OK ? STORE_OK : STORE_ERROR;
}

/* Notices (CREATE TABLE IF NOT EXISTS on an existing table, …) are not errors: not printed. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* libpq's message on one line (it spans several, with quotes): a log line is one line. */
static void one_line(char *out, size_t size, const char *message)
{
    size_t length = 0;
    for (const char *p = message; *p && length + 1 < size; p++) {
        char c = *p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p == '"' ? '\'' : *p;
        if (c == ' ' && (length == 0 || out[length - 1] == ' ')) continue; /* no runs of blanks */
        out[length++] = c;
    }
    while (length > 0 && out[length - 1] == ' ')
        length--;
    out[length] = '\0';
}

store_status pg_store_open(const char *url, pg_store **out)
{
    *out = NULL;
    pg_store *s = calloc(1, sizeof(*s));
    if (s == NULL) return STORE_ERROR;
    /* Defaults first: the URL's own settings (expanded from dbname) override them. An unreachable server
     * fails within connect_timeout seconds instead of the system's TCP timeout. */
    const char *const keywords[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT_SECONDS, "reelay", url, NULL};
    s->conn = PQconnectdbParams(keywords, values, 1);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        /* libpq's message names the host and the reason, never the password */
        char reason[512];
        one_line(reason, sizeof(reason), s->conn ? PQerrorMessage(s->conn) : "out of memory");
        log_error("cannot connect to PostgreSQL", "error=\"%s\"", reason);
        pg_store_close(s);
        return STORE_ERROR;
    }
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    if (migrate(s) != STORE_OK) {
        pg_store_close(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

void pg_store_close(pg_store *s)
{
    if (s == NULL) return;
    PQfinish(s->conn);
    free(s);
}

store_status pg_store_checkpoint(pg_store *s)
{
    (void)s; /* the server checkpoints by itself */
    return STORE_OK;
}

/* store_sqlite.c — the SQLite implementation of store.h: one database file in WAL mode, versioned
 * migrations, prepared statements kept per connection for the hot paths, and compare-and-set task
 * transitions checked with sqlite3_changes(). */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/vector.h"

/* The migrations, in order; version N is migrations[N-1]. Never edit one that has shipped: append.
 * Plain types only (TEXT, INTEGER, REAL, BLOB) so that a PostgreSQL schema can mirror this one. */
static const char *const migrations[] = {
    /* 1: keys, channels, tasks */
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  key_hash BLOB NOT NULL UNIQUE,"
    "  user_group TEXT NOT NULL DEFAULT 'default',"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE channels ("
    "  name TEXT PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  base_url TEXT NOT NULL DEFAULT '',"
    "  models TEXT NOT NULL,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  weight INTEGER NOT NULL DEFAULT 1,"
    "  max_concurrent INTEGER NOT NULL DEFAULT 0,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE tasks ("
    "  id TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  progress INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deadline_at INTEGER NOT NULL,"
    "  completed_at INTEGER NOT NULL DEFAULT 0,"
    "  channel TEXT NOT NULL DEFAULT '',"
    "  user_group TEXT NOT NULL DEFAULT 'default',"
    "  credits_reserved REAL NOT NULL DEFAULT 0,"
    "  params_json TEXT,"
    "  results_json TEXT,"
    "  error_code TEXT NOT NULL DEFAULT '',"
    "  error_message TEXT);"
    "CREATE INDEX tasks_by_key ON tasks (key_id, created_at DESC);"
    "CREATE INDEX tasks_unfinished ON tasks (state, created_at) WHERE state < 4;",
    /* 2: insertion order as a column of its own. Listings break ties within a second by insertion
     * order; version 1 left that to SQLite's hidden rowid, which PostgreSQL has no counterpart of.
     * seq is the rowid here (INTEGER PRIMARY KEY), an identity column there; rows keep their order. */
    "CREATE TABLE tasks_v2 ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  key_id TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  progress INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deadline_at INTEGER NOT NULL,"
    "  completed_at INTEGER NOT NULL DEFAULT 0,"
    "  channel TEXT NOT NULL DEFAULT '',"
    "  user_group TEXT NOT NULL DEFAULT 'default',"
    "  credits_reserved REAL NOT NULL DEFAULT 0,"
    "  params_json TEXT,"
    "  results_json TEXT,"
    "  error_code TEXT NOT NULL DEFAULT '',"
    "  error_message TEXT);"
    "INSERT INTO tasks_v2 (seq, id, key_id, model, state, progress, created_at, updated_at, deadline_at,"
    "  completed_at, channel, user_group, credits_reserved, params_json, results_json, error_code, "
    "error_message)"
    "  SELECT rowid, id, key_id, model, state, progress, created_at, updated_at, deadline_at, completed_at, "
    "channel,"
    "  user_group, credits_reserved, params_json, results_json, error_code, error_message FROM tasks;"
    "DROP TABLE tasks;"
    "ALTER TABLE tasks_v2 RENAME TO tasks;"
    "CREATE INDEX tasks_by_key ON tasks (key_id, created_at, seq);"
    "CREATE INDEX tasks_unfinished ON tasks (state, created_at, seq) WHERE state < 4;",
    /* 3: a channel's provider credential, sealed (see util/secret_box.h); never stored in clear. */
    "ALTER TABLE channels ADD COLUMN credential_sealed TEXT NOT NULL DEFAULT '';",
    /* 4: the engine's record of a task's job at its provider (JSON, opaque to the store). */
    "ALTER TABLE tasks ADD COLUMN upstream_json TEXT;",
    /* 5: the secret a provider signs its webhooks with for this channel, sealed like the credential. */
    "ALTER TABLE channels ADD COLUMN webhook_secret_sealed TEXT NOT NULL DEFAULT '';",
    /* 6: credits, limits and callbacks per key; the credit ledger; idempotency keys; the callback
     * outbox; uploads. Credits are whole numbers. A key's two balances always equal the sums of its
     * ledger (grants − reservations − settled charges + releases), and both change in the transaction
     * that appends the entry. */
    "ALTER TABLE api_keys ADD COLUMN credits_available INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN credits_reserved INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN rpm_limit INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN webhook_secret_sealed TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE api_keys ADD COLUMN tasks_unfinished INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE credit_ledger ("
    "  seq INTEGER PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  task_id TEXT,"            /* NULL for a grant */
    "  kind TEXT NOT NULL,"      /* grant | reserve | settle | refund */
    "  amount INTEGER NOT NULL," /* grant: added; reserve: held; settle: charged; refund: returned */
    "  released INTEGER NOT NULL DEFAULT 0," /* settle: the reservation it releases */
    "  note TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX credit_ledger_one_reserve ON credit_ledger (task_id) WHERE kind = 'reserve';"
    "CREATE UNIQUE INDEX credit_ledger_one_release ON credit_ledger (task_id) WHERE kind IN ('settle', "
    "'refund');"
    "CREATE TABLE idempotency_keys ("
    "  key_id TEXT NOT NULL,"
    "  idempotency_key TEXT NOT NULL,"
    "  request_hash BLOB NOT NULL,"
    "  task_id TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (key_id, idempotency_key));"
    "CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);"
    "CREATE TABLE callbacks ("
    "  task_id TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0," /* 0 due, 1 delivered, 2 given up */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL," /* Unix milliseconds */
    "  last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX callbacks_due ON callbacks (next_at) WHERE state = 0;"
    "CREATE TABLE uploads ("
    "  id TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  object_name TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  content_type TEXT NOT NULL DEFAULT '',"
    "  auto_cleanup INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL);"
    "CREATE INDEX uploads_by_key ON uploads (key_id, created_at);"
    "CREATE INDEX uploads_by_expiry ON uploads (expires_at);"
    "ALTER TABLE tasks ADD COLUMN billing_json TEXT;",
};
#define MIGRATION_COUNT (sizeof(migrations) / sizeof(migrations[0]))

#define KEY_COLUMNS "id, name, user_group, created_at, revoked_at, rpm_limit, max_concurrent"

#define TASK_COLUMNS                                                                                         \
    "id, key_id, model, state, progress, created_at, updated_at, deadline_at, completed_at, channel, "       \
    "user_group, "                                                                                           \
    "credits_reserved, params_json, results_json, error_code, error_message, upstream_json, billing_json"

/* SQL below writes "state < 4" for "unfinished": the terminal states are the last three. */
_Static_assert(TASK_COMPLETED == 4 && TASK_FAILED == 5 && TASK_CANCELLED == 6, "terminal states are 4..6");

static const char *const hot_statements[STMT_COUNT] = {
    [STMT_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE key_hash = ? AND revoked_at = 0",
    [STMT_TASK_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?",
    [STMT_TASK_INSERT] = "INSERT INTO tasks (" TASK_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [STMT_KEY_BALANCE] =
        "SELECT credits_available, credits_reserved, user_group, tasks_unfinished FROM api_keys "
        "WHERE id = ?",
    [STMT_KEY_MOVE_CREDITS] =
        "UPDATE api_keys SET credits_available = credits_available + ?1, "
        "credits_reserved = credits_reserved + ?2, tasks_unfinished = tasks_unfinished + ?4 "
        "WHERE id = ?3 AND credits_available + ?1 >= 0 AND credits_reserved + ?2 >= 0 "
        "AND tasks_unfinished + ?4 >= 0",
    [STMT_LEDGER_APPEND] =
        "INSERT INTO credit_ledger (key_id, task_id, kind, amount, released, note, created_at) "
        "VALUES (?,?,?,?,?,?,?)",
    [STMT_IDEMPOTENCY_GET] = "SELECT request_hash, task_id, created_at FROM idempotency_keys "
                             "WHERE key_id = ? AND idempotency_key = ?",
    [STMT_IDEMPOTENCY_PUT] =
        "INSERT OR REPLACE INTO idempotency_keys (key_id, idempotency_key, request_hash, task_id, "
        "created_at) VALUES (?,?,?,?,?)",
};

/* How long a writer waits for another connection's write lock before giving up: far longer than any
 * transaction of ours, so that writers queue rather than fail. */
#define BUSY_TIMEOUT_MS 10000

/* Task reads on the poll path are served from a small per-connection cache of records. An entry is
 * valid while the version of its task's slot is unchanged; every task write of this process bumps
 * that version after it commits, and a reader takes the version before it reads the row, so a
 * stale entry can never look current. Slots are shared by ids with the same hash: a collision only
 * costs a re-read. (All task writers are in this process: the command line writes no tasks.) */
enum { TASK_VERSION_SLOTS = 1 << 16 };
static _Atomic uint64_t task_versions[TASK_VERSION_SLOTS];

static size_t task_slot(const char *id)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash % TASK_VERSION_SLOTS;
}

void store_task_changed(const char *id)
{
    atomic_fetch_add_explicit(&task_versions[task_slot(id)], 1, memory_order_release);
}

static char *dup_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* Deep copy; false when out of memory (out is then cleared). */
static bool task_record_copy(task_record *out, const task_record *in)
{
    *out = *in;
    out->params_json = dup_or_null(in->params_json);
    out->results_json = dup_or_null(in->results_json);
    out->error_message = dup_or_null(in->error_message);
    out->upstream_json = dup_or_null(in->upstream_json);
    out->billing_json = dup_or_null(in->billing_json);
    if ((in->params_json && !out->params_json) || (in->results_json && !out->results_json) ||
        (in->error_message && !out->error_message) || (in->upstream_json && !out->upstream_json) ||
        (in->billing_json && !out->billing_json)) {
        task_record_clear(out);
        return false;
    }
    return true;
}

/* SQLite makes a writer that finds the database locked sleep in its busy handler (1 ms and up).
 * Writers of the same process therefore take this lock first, so they queue without sleeping;
 * the busy timeout still covers writers of other processes (the command line, other nodes). */
pthread_mutex_t store_process_writer = PTHREAD_MUTEX_INITIALIZER;

/* ---- task states ---- */

static const char *const state_names[TASK_STATE_COUNT] = {
    "pending", "submitting", "processing", "finalizing", "completed", "failed", "cancelled"};

const char *task_state_name(task_state state)
{
    return (unsigned)state < TASK_STATE_COUNT ? state_names[state] : "unknown";
}

bool task_state_parse(const char *name, task_state *out)
{
    for (int i = 0; i < TASK_STATE_COUNT; i++)
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (task_state)i;
            return true;
        }
    return false;
}

bool task_state_is_terminal(task_state state)
{
    return state == TASK_COMPLETED || state == TASK_FAILED || state == TASK_CANCELLED;
}

void task_record_clear(task_record *task)
{
    free(task->params_json);
    free(task->results_json);
    free(task->error_message);
    free(task->upstream_json);
    free(task->billing_json);
    task->params_json = task->results_json = task->error_message = task->upstream_json = task->billing_json =
        NULL;
}

void task_records_free(task_record *tasks, size_t count)
{
    for (size_t i = 0; tasks && i < count; i++)
        task_record_clear(&tasks[i]);
    free(tasks);
}

/* ---- helpers ---- */

store_status sql_fail(store *s, const char *what)
{
    log_error("database error", "operation=\"%s\" error=\"%s\"", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

store_status sql_exec(store *s, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &message) == SQLITE_OK) return STORE_OK;
    log_error("database error", "operation=\"%s\" error=\"%s\"", what, message ? message : "?");
    sqlite3_free(message);
    return STORE_ERROR;
}

store_status sql_begin(store *s, const char *what)
{
    pthread_mutex_lock(&store_process_writer);
    store_status status = sql_exec(s, "BEGIN IMMEDIATE", what);
    if (status != STORE_OK) pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_begin_try(store *s, const char *what)
{
    if (pthread_mutex_trylock(&store_process_writer) != 0) return STORE_CONFLICT;
    store_status status = sql_exec(s, "BEGIN IMMEDIATE", what);
    if (status != STORE_OK) pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_end(store *s, store_status status, const char *what)
{
    if (status == STORE_OK && sql_exec(s, "COMMIT", what) != STORE_OK) status = STORE_ERROR;
    /* Only when a transaction is open: a failed COMMIT may already have rolled back. */
    if (status != STORE_OK && !sqlite3_get_autocommit(s->db)) sql_exec(s, "ROLLBACK", what);
    pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_prepare(store *s, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, out, NULL) != SQLITE_OK) return sql_fail(s, "prepare");
    return STORE_OK;
}

void sql_copy_text(char *out, size_t size, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

char *sql_dup_text(sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return text ? strdup((const char *)text) : NULL;
}

void sql_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

/* Releases a hot statement for reuse. */
void sql_release(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Runs a one-row write statement under the process writer lock; returns the number of rows changed,
 * or -1 on error. Finalizes stmt. */
int sql_run_write(store *s, sqlite3_stmt *stmt, const char *what)
{
    pthread_mutex_lock(&store_process_writer);
    int rc = sqlite3_step(stmt);
    int changed = rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    pthread_mutex_unlock(&store_process_writer);
    if (rc == SQLITE_CONSTRAINT)
        changed = -2;
    else if (rc != SQLITE_DONE)
        sql_fail(s, what);
    sqlite3_finalize(stmt);
    return changed;
}

/* ---- open, migrate ---- */

/* Reads the highest applied migration (0 for a fresh database) into *version. */
static store_status read_schema_version(store *s, int64_t *version)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &stmt) != STORE_OK)
        return STORE_ERROR;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? STORE_OK : sql_fail(s, "read schema version");
}

/* Applies migration `version` unless another connection got there first. */
static store_status apply_migration(store *s, size_t version)
{
    /* BEGIN IMMEDIATE takes the write lock before reading the ledger, so of two processes migrating a
     * fresh folder at once, the second waits (busy timeout), then sees the first's version and skips. */
    if (sql_exec(s, "BEGIN IMMEDIATE", "begin migration") != STORE_OK) return STORE_ERROR;
    int64_t current = 0;
    store_status status = read_schema_version(s, &current);
    if (status == STORE_OK && current < (int64_t)version) {
        char record[128];
        snprintf(record, sizeof(record), "INSERT INTO schema_migrations VALUES (%zu, strftime('%%s','now'))",
                 version);
        status = sql_exec(s, migrations[version - 1], "migration");
        if (status == STORE_OK) status = sql_exec(s, record, "record migration");
    }
    if (status == STORE_OK) status = sql_exec(s, "COMMIT", "commit migration");
    if (status != STORE_OK) sql_exec(s, "ROLLBACK", "roll back migration");
    return status;
}

static store_status migrate(store *s)
{
    if (sql_exec(
            s,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)",
            "create schema_migrations") != STORE_OK)
        return STORE_ERROR;
    /* Most opens find the schema current: decide that without taking the write lock. */
    int64_t current = 0;
    if (read_schema_version(s, &current) != STORE_OK) return STORE_ERROR;
    if (current > (int64_t)MIGRATION_COUNT) {
        /* Written by a newer reelay: its data may mean things this binary does not know. */
        log_error("the database schema is newer than this program", "schema_version=%lld known_version=%zu",
                  (long long)current, (size_t)MIGRATION_COUNT);
        return STORE_ERROR;
    }
    for (size_t version = (size_t)current + 1; version <= MIGRATION_COUNT; version++) {
        pthread_mutex_lock(&store_process_writer);
        store_status status = apply_migration(s, version);
        pthread_mutex_unlock(&store_process_writer);
        if (status != STORE_OK) return STORE_ERROR;
    }
    return STORE_OK;
}

/* How long store_open keeps retrying the switch to WAL while other connections switch the same fresh
 * database (see switch_to_wal); the longest back-off between two attempts. */
#define WAL_SWITCH_TIMEOUT_MS 5000
#define WAL_SWITCH_MAX_PAUSE_MS 64

/* Puts the database in WAL mode (a no-op once it is), checking that SQLite really did.
 *
 * Why a retry loop, when every other statement relies on the busy handler: switching a rollback-journal
 * database (a fresh one) to WAL rewrites its header, so the pragma reads it under a shared lock and then
 * upgrades to a write lock. SQLite never calls the busy handler for that upgrade: two connections that
 * both hold the shared lock and both wait for the other would deadlock, so the one that does not get the
 * write lock fails at once with SQLITE_BUSY ("database is locked") and drops its shared lock. Exactly one
 * connection of those racing gets the write lock, and it finishes (its wait for the others' shared locks
 * does use the busy handler). The next attempt of each loser then reads a header that already says WAL
 * and writes nothing. So a retry is needed only while some connection is in the middle of the switch,
 * a few milliseconds; a database that stays locked longer (another program holding a write transaction
 * in rollback mode, or exclusive locking mode) fails after WAL_SWITCH_TIMEOUT_MS with a clear message. */
static store_status switch_to_wal(store *s)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "PRAGMA journal_mode=WAL", &stmt) != STORE_OK) return STORE_ERROR;
    int64_t deadline = clock_monotonic_ms() + WAL_SWITCH_TIMEOUT_MS;
    int pause_ms = 1, attempts = 1, rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_BUSY && clock_monotonic_ms() < deadline) {
        sqlite3_reset(stmt);
        sqlite3_sleep(pause_ms);
        pause_ms = pause_ms * 2 > WAL_SWITCH_MAX_PAUSE_MS ? WAL_SWITCH_MAX_PAUSE_MS : pause_ms * 2;
        attempts++;
    }
    store_status status = STORE_OK;
    if (rc == SQLITE_BUSY) {
        log_error("the database stayed locked while switching it to WAL mode",
                  "timeout_ms=%d attempts=%d error=\"%s\"", WAL_SWITCH_TIMEOUT_MS, attempts,
                  sqlite3_errmsg(s->db));
        status = STORE_ERROR;
    } else if (rc != SQLITE_ROW) {
        status = sql_fail(s, "journal_mode=WAL");
    } else {
        /* SQLite keeps the old mode, without an error, where WAL cannot work (no shared memory). */
        const unsigned char *mode = sqlite3_column_text(stmt, 0);
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
            log_error("the database cannot use WAL mode", "journal_mode=\"%s\"",
                      mode ? (const char *)mode : "?");
            status = STORE_ERROR;
        }
    }
    sqlite3_finalize(stmt);
    return status;
}

static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

/* Process-wide settings, before SQLite initialises: memory statistics take a global mutex on every
 * allocation, which the HTTP threads would contend for; reelay does not read them. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

store_status store_open(const char *data_dir, store **out)
{
    pthread_once(&sqlite_configured, configure_sqlite);
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/reelay.db", data_dir) >= (int)sizeof(path)) return STORE_ERROR;
    store *s = calloc(1, sizeof(*s));
    if (s == NULL) return STORE_ERROR;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_error("cannot open the database", "path=\"%s\" error=\"%s\"", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return STORE_ERROR;
    }
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        sql_fail(s, "busy timeout");
        store_close(s);
        return STORE_ERROR;
    }
    /* WAL with synchronous=NORMAL: a committed transaction is in the WAL file when the call returns, so
     * it survives kill -9 of the process (the durability the API promises); only a power loss may drop
     * the last transactions before a checkpoint. */
    /* No automatic checkpoints: one would run inside whichever write crossed the threshold (an HTTP
     * request, say) and wait on fsync. store_checkpoint() runs them from a background thread instead. */
    /* These set this connection only and write nothing; the journal mode is the database's own and may
     * be changing under another connection at this moment (switch_to_wal). */
    store_status status = sql_exec(s,
                                   "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                                   "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;",
                                   "pragmas");
    if (status == STORE_OK) status = switch_to_wal(s);
    if (status == STORE_OK) status = migrate(s);
    for (int i = 0; status == STORE_OK && i < STMT_COUNT; i++)
        status = sql_prepare(s, hot_statements[i], &s->hot[i]);
    if (status != STORE_OK) {
        store_close(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

void store_close(store *s)
{
    if (s == NULL) return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->hot[i]);
    for (int i = 0; i < TASK_CACHE_ENTRIES; i++)
        if (s->task_cache[i].used) task_record_clear(&s->task_cache[i].task);
    sqlite3_close(s->db);
    free(s);
}

/* ---- keys ---- */

static void read_key(sqlite3_stmt *stmt, key_record *out)
{
    memset(out, 0, sizeof(*out));
    sql_copy_text(out->id, sizeof(out->id), stmt, 0);
    sql_copy_text(out->name, sizeof(out->name), stmt, 1);
    sql_copy_text(out->user_group, sizeof(out->user_group), stmt, 2);
    out->created_at = sqlite3_column_int64(stmt, 3);
    out->revoked_at = sqlite3_column_int64(stmt, 4);
    out->rpm_limit = sqlite3_column_int(stmt, 5);
    out->max_concurrent = sqlite3_column_int(stmt, 6);
}

store_status store_key_insert(store *s, const key_record *key, const unsigned char hash[STORE_KEY_HASH_SIZE],
                              const char *webhook_secret_sealed)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "INSERT INTO api_keys (id, name, key_hash, user_group, created_at, revoked_at, rpm_limit, "
            "max_concurrent, webhook_secret_sealed) VALUES (?,?,?,?,?,?,?,?,?)",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 7, key->rpm_limit > 0 ? key->rpm_limit : 0);
    sqlite3_bind_int(stmt, 8, key->max_concurrent > 0 ? key->max_concurrent : 0);
    sqlite3_bind_text(stmt, 9, webhook_secret_sealed ? webhook_secret_sealed : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 1, key->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, key->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 3, hash, STORE_KEY_HASH_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, key->user_group[0] ? key->user_group : "default", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, key->created_at);
    sqlite3_bind_int64(stmt, 6, key->revoked_at);
    int changed = sql_run_write(s, stmt, "insert key");
    return changed == 1 ? STORE_OK : changed == -2 ? STORE_CONFLICT : STORE_ERROR;
}

store_status store_key_find_by_hash(store *s, const unsigned char hash[STORE_KEY_HASH_SIZE], key_record *out)
{
    sqlite3_stmt *stmt = s->hot[STMT_KEY_BY_HASH];
    sqlite3_bind_blob(stmt, 1, hash, STORE_KEY_HASH_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_key(stmt, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "find key");
    }
    sql_release(stmt);
    return status;
}

store_status store_key_list(store *s, key_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    *out = NULL;
    *count = 0;
    if (sql_prepare(s, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at, id", &stmt) != STORE_OK)
        return STORE_ERROR;
    vector rows;
    vector_init(&rows, sizeof(key_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        key_record *row = vector_push(&rows, NULL);
        if (row == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_key(stmt, row);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "list keys");
    }
    return STORE_OK;
}

store_status store_key_revoke(store *s, const char *id, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE "
            "id = ?",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_text(stmt, 2, id, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "revoke key");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status store_key_update_limits(store *s, const char *id, const char *user_group, int rpm_limit,
                                     int max_concurrent)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE api_keys SET user_group = COALESCE(?1, user_group), "
                    "rpm_limit = CASE WHEN ?2 < 0 THEN rpm_limit ELSE ?2 END, "
                    "max_concurrent = CASE WHEN ?3 < 0 THEN max_concurrent ELSE ?3 END WHERE id = ?4",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sql_bind_text_or_null(stmt, 1, user_group);
    sqlite3_bind_int(stmt, 2, rpm_limit);
    sqlite3_bind_int(stmt, 3, max_concurrent);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "update key limits");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status store_key_webhook_secret(store *s, const char *id, char *out, size_t out_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT webhook_secret_sealed FROM api_keys WHERE id = ?", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_ROW    ? STORE_OK
                          : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                              : sql_fail(s, "key secret");
    if (status == STORE_OK) sql_copy_text(out, out_size, stmt, 0);
    sqlite3_finalize(stmt);
    return status;
}

/* ---- channels ---- */

store_status store_channel_insert(store *s, const channel_record *channel)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "INSERT INTO channels (name, provider, base_url, models, priority, weight, max_concurrent, "
            "enabled, created_at, credential_sealed, webhook_secret_sealed) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, channel->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, channel->provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, channel->base_url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, channel->models, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, channel->priority);
    sqlite3_bind_int(stmt, 6, channel->weight);
    sqlite3_bind_int(stmt, 7, channel->max_concurrent);
    sqlite3_bind_int(stmt, 8, channel->enabled ? 1 : 0);
    sqlite3_bind_int64(stmt, 9, channel->created_at);
    sqlite3_bind_text(stmt, 10, channel->credential_sealed, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 11, channel->webhook_secret_sealed, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "insert channel");
    return changed == 1 ? STORE_OK : changed == -2 ? STORE_CONFLICT : STORE_ERROR;
}

store_status store_channel_list(store *s, channel_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    *out = NULL;
    *count = 0;
    if (sql_prepare(
            s,
            "SELECT name, provider, base_url, models, priority, weight, max_concurrent, enabled, created_at, "
            "credential_sealed, webhook_secret_sealed FROM channels ORDER BY priority DESC, name",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    vector rows;
    vector_init(&rows, sizeof(channel_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        channel_record *c = vector_push(&rows, NULL); /* zeroed */
        if (c == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        sql_copy_text(c->name, sizeof(c->name), stmt, 0);
        sql_copy_text(c->provider, sizeof(c->provider), stmt, 1);
        sql_copy_text(c->base_url, sizeof(c->base_url), stmt, 2);
        sql_copy_text(c->models, sizeof(c->models), stmt, 3);
        c->priority = sqlite3_column_int(stmt, 4);
        c->weight = sqlite3_column_int(stmt, 5);
        c->max_concurrent = sqlite3_column_int(stmt, 6);
        c->enabled = sqlite3_column_int(stmt, 7) != 0;
        c->created_at = sqlite3_column_int64(stmt, 8);
        sql_copy_text(c->credential_sealed, sizeof(c->credential_sealed), stmt, 9);
        sql_copy_text(c->webhook_secret_sealed, sizeof(c->webhook_secret_sealed), stmt, 10);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *count = 0;
        return sql_fail(s, "list channels");
    }
    return STORE_OK;
}

store_status store_channel_update(store *s, const channel_record *channel)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "UPDATE channels SET provider = ?2, base_url = ?3, models = ?4, priority = ?5, weight = ?6, "
            "max_concurrent = ?7, enabled = ?8, credential_sealed = ?9, webhook_secret_sealed = ?10 "
            "WHERE name = ?1",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, channel->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, channel->provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, channel->base_url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, channel->models, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, channel->priority);
    sqlite3_bind_int(stmt, 6, channel->weight);
    sqlite3_bind_int(stmt, 7, channel->max_concurrent);
    sqlite3_bind_int(stmt, 8, channel->enabled ? 1 : 0);
    sqlite3_bind_text(stmt, 9, channel->credential_sealed, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 10, channel->webhook_secret_sealed, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "update channel");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

store_status store_channel_remove(store *s, const char *name)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "DELETE FROM channels WHERE name = ?", &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int changed = sql_run_write(s, stmt, "remove channel");
    return changed == 1 ? STORE_OK : changed == 0 ? STORE_NOT_FOUND : STORE_ERROR;
}

/* ---- tasks ---- */

static void read_task(sqlite3_stmt *stmt, task_record *t)
{
    memset(t, 0, sizeof(*t));
    sql_copy_text(t->id, sizeof(t->id), stmt, 0);
    sql_copy_text(t->key_id, sizeof(t->key_id), stmt, 1);
    sql_copy_text(t->model, sizeof(t->model), stmt, 2);
    t->state = (task_state)sqlite3_column_int(stmt, 3);
    t->progress = sqlite3_column_int(stmt, 4);
    t->created_at = sqlite3_column_int64(stmt, 5);
    t->updated_at = sqlite3_column_int64(stmt, 6);
    t->deadline_at = sqlite3_column_int64(stmt, 7);
    t->completed_at = sqlite3_column_int64(stmt, 8);
    sql_copy_text(t->channel, sizeof(t->channel), stmt, 9);
    sql_copy_text(t->user_group, sizeof(t->user_group), stmt, 10);
    t->credits_reserved = sqlite3_column_int64(stmt, 11); /* a REAL column holding whole numbers */
    t->params_json = sql_dup_text(stmt, 12);
    t->results_json = sql_dup_text(stmt, 13);
    sql_copy_text(t->error_code, sizeof(t->error_code), stmt, 14);
    t->error_message = sql_dup_text(stmt, 15);
    t->upstream_json = sql_dup_text(stmt, 16);
    t->billing_json = sql_dup_text(stmt, 17);
}

int sql_task_insert(store *s, const task_record *t)
{
    sqlite3_stmt *stmt = s->hot[STMT_TASK_INSERT];
    sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, t->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, t->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, (int)t->state);
    sqlite3_bind_int(stmt, 5, t->progress);
    sqlite3_bind_int64(stmt, 6, t->created_at);
    sqlite3_bind_int64(stmt, 7, t->updated_at);
    sqlite3_bind_int64(stmt, 8, t->deadline_at);
    sqlite3_bind_int64(stmt, 9, t->completed_at);
    sqlite3_bind_text(stmt, 10, t->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, t->user_group[0] ? t->user_group : "default", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 12, t->credits_reserved);
    sql_bind_text_or_null(stmt, 13, t->params_json);
    sql_bind_text_or_null(stmt, 14, t->results_json);
    sqlite3_bind_text(stmt, 15, t->error_code, -1, SQLITE_STATIC);
    sql_bind_text_or_null(stmt, 16, t->error_message);
    sql_bind_text_or_null(stmt, 17, t->upstream_json);
    sql_bind_text_or_null(stmt, 18, t->billing_json);
    int rc = sqlite3_step(stmt);
    sql_release(stmt);
    return rc;
}

store_status store_task_insert(store *s, const task_record *t)
{
    pthread_mutex_lock(&store_process_writer);
    int rc = sql_task_insert(s, t);
    pthread_mutex_unlock(&store_process_writer);
    store_status status = rc == SQLITE_DONE         ? STORE_OK
                          : rc == SQLITE_CONSTRAINT ? STORE_CONFLICT
                                                    : STORE_ERROR;
    if (status == STORE_ERROR) sql_fail(s, "insert task");
    return status;
}

store_status store_task_insert_batch(store *s, const task_record *tasks, size_t count)
{
    if (count == 0) return STORE_OK;
    if (count == 1) return store_task_insert(s, &tasks[0]);
    pthread_mutex_lock(&store_process_writer);
    store_status status = sql_exec(s, "BEGIN IMMEDIATE", "begin task batch");
    int rc = SQLITE_DONE;
    for (size_t i = 0; status == STORE_OK && i < count; i++) {
        rc = sql_task_insert(s, &tasks[i]);
        if (rc != SQLITE_DONE)
            status = rc == SQLITE_CONSTRAINT ? STORE_CONFLICT : sql_fail(s, "insert task batch");
    }
    if (status == STORE_OK) status = sql_exec(s, "COMMIT", "commit task batch");
    /* Only when a transaction is open: BEGIN may have failed, or a failed COMMIT already rolled back. */
    if (status != STORE_OK && !sqlite3_get_autocommit(s->db)) sql_exec(s, "ROLLBACK", "roll back task batch");
    pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status store_task_get(store *s, const char *id, task_record *out)
{
    size_t slot = task_slot(id);
    uint64_t version = atomic_load_explicit(&task_versions[slot], memory_order_acquire);
    task_cache_entry *entry = &s->task_cache[slot % TASK_CACHE_ENTRIES];
    if (entry->used && entry->version == version && strcmp(entry->task.id, id) == 0 &&
        task_record_copy(out, &entry->task))
        return STORE_OK;
    sqlite3_stmt *stmt = s->hot[STMT_TASK_GET];
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_task(stmt, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "get task");
    }
    sql_release(stmt);
    if (status == STORE_OK) {
        if (entry->used) task_record_clear(&entry->task);
        entry->used = task_record_copy(&entry->task, out);
        entry->version = version;
    }
    return status;
}

/* Collects every row of a task query into a malloc'd array. */
static store_status collect_tasks(store *s, sqlite3_stmt *stmt, task_record **out, size_t *count,
                                  const char *what)
{
    vector rows;
    vector_init(&rows, sizeof(task_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        task_record *row = vector_push(&rows, NULL);
        if (row == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_task(stmt, row);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        task_records_free(*out, *count);
        *out = NULL;
        *count = 0;
        return sql_fail(s, what);
    }
    return STORE_OK;
}

store_status store_task_list(store *s, const task_list_query *query, task_record **out, size_t *count,
                             bool *has_more)
{
    *out = NULL;
    *count = 0;
    *has_more = false;
    int limit = query->limit < 1 ? 1 : query->limit > 100 ? 100 : query->limit;
    /* Newest first: by creation second, then by insertion order (seq) within a second. Without a cursor
     * the bound is past every row, so one statement (and one index range) serves both cases. */
    int64_t after_created = INT64_MAX, after_row = INT64_MAX;
    if (query->after_id) {
        sqlite3_stmt *cursor = NULL;
        if (sql_prepare(s, "SELECT created_at, seq, key_id FROM tasks WHERE id = ?", &cursor) != STORE_OK)
            return STORE_ERROR;
        sqlite3_bind_text(cursor, 1, query->after_id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(cursor);
        bool mine =
            rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(cursor, 2), query->key_id) == 0;
        if (mine) {
            after_created = sqlite3_column_int64(cursor, 0);
            after_row = sqlite3_column_int64(cursor, 1);
        }
        sqlite3_finalize(cursor);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(s, "task list cursor");
        if (!mine) return STORE_NOT_FOUND;
    }
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT " TASK_COLUMNS " FROM tasks WHERE key_id = ?1 AND (created_at, seq) < (?2, ?3)"
                    " AND (?4 < 0 OR state = ?4) AND (?5 IS NULL OR model = ?5)"
                    " ORDER BY created_at DESC, seq DESC LIMIT ?6",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    int bound = sqlite3_bind_text(stmt, 1, query->key_id, -1, SQLITE_TRANSIENT);
    bound |= sqlite3_bind_int64(stmt, 2, after_created);
    bound |= sqlite3_bind_int64(stmt, 3, after_row);
    bound |= sqlite3_bind_int(stmt, 4, query->state);
    if (query->model) bound |= sqlite3_bind_text(stmt, 5, query->model, -1, SQLITE_TRANSIENT);
    bound |= sqlite3_bind_int(stmt, 6, limit + 1);
    if (bound != SQLITE_OK) {
        sql_fail(s, "bind task list");
        sqlite3_finalize(stmt);
        return STORE_ERROR;
    }
    store_status status = collect_tasks(s, stmt, out, count, "list tasks");
    if (status == STORE_OK && *count > (size_t)limit) {
        task_record_clear(&(*out)[limit]);
        *count = (size_t)limit;
        *has_more = true;
    }
    return status;
}

/* Tells NOT_FOUND from CONFLICT after a compare-and-set changed nothing. */
static store_status explain_no_change(store *s, const char *id)
{
    task_record current;
    store_status status = store_task_get(s, id, &current);
    if (status != STORE_OK) return status;
    task_record_clear(&current);
    return STORE_CONFLICT;
}

static store_status finish_cas(store *s, sqlite3_stmt *stmt, const char *id, const char *what)
{
    int changed = sql_run_write(s, stmt, what);
    if (changed == 1) {
        store_task_changed(id);
        return STORE_OK;
    }
    if (changed == 0) return explain_no_change(s, id);
    return STORE_ERROR;
}

store_status store_task_transition(store *s, const char *id, task_state from, task_state to,
                                   const char *channel, int64_t now)
{
    if (from == to) return STORE_ERROR;
    return store_task_set_upstream(s, id, from, to, channel, NULL, now);
}

store_status store_task_set_upstream(store *s, const char *id, task_state from, task_state to,
                                     const char *channel, const char *upstream_json, int64_t now)
{
    if (task_state_is_terminal(to) || task_state_is_terminal(from)) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE tasks SET state = ?1, updated_at = ?2, channel = COALESCE(?3, channel), "
                    "upstream_json = COALESCE(?6, upstream_json) WHERE id = ?4 AND state = ?5",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 1, (int)to);
    sqlite3_bind_int64(stmt, 2, now);
    sql_bind_text_or_null(stmt, 3, channel);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, (int)from);
    sql_bind_text_or_null(stmt, 6, upstream_json);
    return finish_cas(s, stmt, id, "transition task");
}

store_status store_task_set_progress(store *s, const char *id, int progress, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE tasks SET progress = MAX(progress, MIN(?1, 99)), updated_at = ?2 "
                    "WHERE id = ?3 AND state < 4",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 1, progress < 0 ? 0 : progress);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_TRANSIENT);
    return finish_cas(s, stmt, id, "task progress");
}

store_status store_callback_queue_tx(store *s, const char *task_id, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "INSERT INTO callbacks (task_id, key_id, url, next_at, created_at, updated_at) "
            "SELECT id, key_id, json_extract(params_json, '$.callback_url'), ?2 * 1000, ?2, ?2 FROM tasks "
            "WHERE id = ?1 AND json_valid(params_json) "
            "AND json_type(params_json, '$.callback_url') = 'text' "
            "ON CONFLICT (task_id) DO NOTHING",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, task_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "queue callback");
}

/* Runs a task's finishing compare-and-set (stmt, finalized here), and when it applies, in the same
 * transaction: the reservation's settlement (charging `charge`, -1 = all of it) or, with `refund`, its
 * full refund; and the callback's queueing. Returns the rows changed (0 or 1), or -1 on error. */
static int finish_task_tx(store *s, sqlite3_stmt *stmt, const char *id, int64_t charge, bool refund,
                          int64_t now, const char *what)
{
    if (sql_begin(s, what) != STORE_OK) {
        sqlite3_finalize(stmt);
        return -1;
    }
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    store_status status = rc == SQLITE_DONE ? STORE_OK : sql_fail(s, what);
    int changed = status == STORE_OK ? sqlite3_changes(s->db) : -1;
    if (changed == 1) status = store_credits_release_tx(s, id, refund, charge, now);
    if (changed == 1 && status == STORE_OK) status = store_callback_queue_tx(s, id, now);
    status = sql_end(s, status, what);
    if (status != STORE_OK) return -1;
    if (changed == 1) store_task_changed(id);
    return changed;
}

static store_status finish_in_transaction(store *s, sqlite3_stmt *stmt, const char *id, int64_t charge,
                                          int64_t now, const char *what)
{
    int changed = finish_task_tx(s, stmt, id, charge, false, now, what);
    if (changed == 1) return STORE_OK;
    if (changed == 0) return explain_no_change(s, id);
    return STORE_ERROR;
}

store_status store_task_complete(store *s, const char *id, task_state from, const char *results_json,
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
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE tasks SET state = ?1, progress = 100, results_json = ?2, completed_at = ?3, "
                    "updated_at = ?3 "
                    "WHERE id = ?4 AND state = ?5",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 1, TASK_COMPLETED);
    sqlite3_bind_text(stmt, 2, results_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, (int)from);
    return finish_in_transaction(s, stmt, id, credits_charged, now, "complete task");
}

/* Any unfinished state → a terminal failure state, optionally only for one key. */
static store_status finish_unsuccessfully(store *s, const char *id, const char *key_id, task_state to,
                                          const char *code, const char *message, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "UPDATE tasks SET state = ?1, error_code = ?2, error_message = ?3, completed_at = ?4, "
                    "updated_at = ?4 "
                    "WHERE id = ?5 AND state < 4 AND (?6 IS NULL OR key_id = ?6)",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 1, (int)to);
    sqlite3_bind_text(stmt, 2, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, now);
    sqlite3_bind_text(stmt, 5, id, -1, SQLITE_TRANSIENT);
    sql_bind_text_or_null(stmt, 6, key_id);
    int changed = finish_task_tx(s, stmt, id, 0, true, now, "finish task");
    if (changed == 1) return STORE_OK;
    if (changed != 0) return STORE_ERROR;
    task_record current;
    store_status status = store_task_get(s, id, &current);
    if (status != STORE_OK) return status;
    bool other_key = key_id != NULL && strcmp(current.key_id, key_id) != 0;
    task_record_clear(&current);
    return other_key ? STORE_NOT_FOUND : STORE_CONFLICT;
}

store_status store_task_fail(store *s, const char *id, const char *code, const char *message, int64_t now)
{
    return finish_unsuccessfully(s, id, NULL, TASK_FAILED, code, message, now);
}

store_status store_task_cancel(store *s, const char *id, const char *key_id, int64_t now)
{
    return finish_unsuccessfully(s, id, key_id, TASK_CANCELLED, "cancelled", "The task was cancelled.", now);
}

store_status store_task_list_unfinished(store *s, task_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT " TASK_COLUMNS " FROM tasks WHERE state < 4 ORDER BY created_at, seq",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    return collect_tasks(s, stmt, out, count, "list unfinished tasks");
}

store_status store_task_count_by_state(store *s, int64_t counts[TASK_STATE_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * TASK_STATE_COUNT);
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT state, COUNT(*) FROM tasks GROUP BY state", &stmt) != STORE_OK)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int state = sqlite3_column_int(stmt, 0);
        if (state >= 0 && state < TASK_STATE_COUNT) counts[state] = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "count tasks");
}

store_status store_checkpoint(store *s)
{
    int log_frames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return sql_fail(s, "checkpoint");
    /* Once everything is copied back, restart the log from its beginning so that it stays small. The
     * file keeps its size (journal_size_limit caps it), so the next writes overwrite blocks that exist
     * instead of making the file system allocate and zero new ones. A restarting checkpoint holds back
     * new writers while it waits for readers, so it must not wait: without a busy handler it gives up
     * at once (SQLITE_BUSY) and the next second tries again. */
    if (rc == SQLITE_OK && log_frames > 0 && checkpointed == log_frames) {
        if (sqlite3_busy_timeout(s->db, 0) != SQLITE_OK) return sql_fail(s, "checkpoint");
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) return sql_fail(s, "checkpoint");
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) return sql_fail(s, "restart log");
    }
    return STORE_OK;
}

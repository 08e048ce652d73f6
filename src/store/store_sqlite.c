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
    /* nodes and their leases on tasks; facts every node must agree on (store.h) */
    "CREATE TABLE nodes ("
    "  epoch INTEGER PRIMARY KEY AUTOINCREMENT," /* never given out twice */
    "  name TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  lease_until_ms INTEGER NOT NULL,"
    "  taken_over INTEGER NOT NULL DEFAULT 0);"
    "ALTER TABLE tasks ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX tasks_by_lease ON tasks (lease_epoch) WHERE state < 4;"
    "CREATE TABLE cluster_facts (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE INDEX tasks_on_channel ON tasks (channel) WHERE state IN (1, 2);",
    /* requests each node accepted per rate-limited key and one-minute window (store.h "Request counts") */
    "CREATE TABLE rate_counts ("
    "  minute INTEGER NOT NULL," /* the window: Unix ms / 60000 */
    "  key_id TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL," /* the node's */
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (minute, key_id, epoch));",
    /* the video a task remixes (OpenAI's remixed_from_video_id) */
    "ALTER TABLE tasks ADD COLUMN remixed_from TEXT NOT NULL DEFAULT '';",
    /* a node's claim reads one range per lease, oldest first (store_sqlite_leases.c) */
    "DROP INDEX tasks_by_lease;"
    "CREATE INDEX tasks_by_lease ON tasks (lease_epoch, created_at, seq) WHERE state < 4;",
};
#define MIGRATION_COUNT (sizeof(migrations) / sizeof(migrations[0]))

/* SQL below writes "state < 4" for "unfinished": the terminal states are the last three. */
_Static_assert(TASK_COMPLETED == 4 && TASK_FAILED == 5 && TASK_CANCELLED == 6, "terminal states are 4..6");

static const char *const hot_statements[STMT_COUNT] = {
    [STMT_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE key_hash = ? AND revoked_at = 0",
    [STMT_TASK_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?",
    [STMT_TASK_INSERT] =
        "INSERT INTO tasks (" TASK_COLUMNS ", lease_epoch) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
    [STMT_TASK_SET_UPSTREAM] =
        "UPDATE tasks SET state = ?1, updated_at = ?2, channel = COALESCE(?3, channel), "
        "upstream_json = COALESCE(?6, upstream_json) WHERE id = ?4 AND state = ?5 "
        "AND (?7 = 0 OR lease_epoch = ?7)",
    [STMT_TASK_SET_PROGRESS] = "UPDATE tasks SET progress = MAX(progress, MIN(?1, 99)), updated_at = ?2 "
                               "WHERE id = ?3 AND state < 4 AND (?4 = 0 OR lease_epoch = ?4)",
    [STMT_TASK_COMPLETE] =
        "UPDATE tasks SET state = ?1, progress = 100, results_json = ?2, completed_at = ?3, "
        "updated_at = ?3 "
        "WHERE id = ?4 AND state = ?5 AND (?6 = 0 OR lease_epoch = ?6)",
    [STMT_CALLBACK_QUEUE] =
        "INSERT INTO callbacks (task_id, key_id, url, next_at, created_at, updated_at) "
        "SELECT id, key_id, json_extract(params_json, '$.callback_url'), ?2 * 1000, ?2, ?2 FROM tasks "
        "WHERE id = ?1 AND json_valid(params_json) "
        "AND json_type(params_json, '$.callback_url') = 'text' "
        "ON CONFLICT (task_id) DO NOTHING",
    [STMT_RESERVATION_GET] =
        "SELECT key_id, amount FROM credit_ledger WHERE task_id = ? AND kind = 'reserve'",
    [STMT_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
};

/* How long a writer waits for another connection's write lock before giving up: far longer than any
 * transaction of ours, so that writers queue rather than fail. */
#define BUSY_TIMEOUT_MS 10000

/* SQLite makes a writer that finds the database locked sleep in its busy handler (1 ms and up).
 * Writers of the same process therefore take this lock first, so they queue without sleeping;
 * the busy timeout still covers writers of other processes (the command line, other nodes). */
pthread_mutex_t store_process_writer = PTHREAD_MUTEX_INITIALIZER;

/* ---- open, migrate ---- */

/* Reads the highest applied migration (0 for a fresh database) into *version. */
static store_status read_schema_version(sqlite_store *s, int64_t *version)
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
static store_status apply_migration(sqlite_store *s, size_t version)
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

static store_status migrate(sqlite_store *s)
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

/* How long sqlite_store_open keeps retrying the switch to WAL while other connections switch the same fresh
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
static store_status switch_to_wal(sqlite_store *s)
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

store_status sqlite_store_open(const char *data_dir, sqlite_store **out)
{
    pthread_once(&sqlite_configured, configure_sqlite);
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/reelay.db", data_dir) >= (int)sizeof(path)) return STORE_ERROR;
    sqlite_store *s = calloc(1, sizeof(*s));
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
        sqlite_store_close(s);
        return STORE_ERROR;
    }
    /* WAL with synchronous=NORMAL: a committed transaction is in the WAL file when the call returns, so
     * it survives kill -9 of the process (the durability the API promises); only a power loss may drop
     * the last transactions before a checkpoint. */
    /* No automatic checkpoints: one would run inside whichever write crossed the threshold (an HTTP
     * request, say) and wait on fsync. sqlite_store_checkpoint() runs them from a background thread instead.
     */
    /* The log keeps up to 1 GiB of its file when it restarts (journal_size_limit): under a steady stream of
     * engine writes it grows by hundreds of MiB between two checkpoints (each transition rewrites about
     * four pages), and a file cut back to 64 MiB at every restart made the file system allocate and zero
     * the rest again each second (a fifth of the writers' time). The price: after a burst the file may
     * stay that large on disk. */
    /* These set this connection only and write nothing; the journal mode is the database's own and may
     * be changing under another connection at this moment (switch_to_wal). */
    store_status status = sql_exec(s,
                                   "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                                   "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=1073741824;",
                                   "pragmas");
    if (status == STORE_OK) status = switch_to_wal(s);
    if (status == STORE_OK) status = migrate(s);
    for (int i = 0; status == STORE_OK && i < STMT_COUNT; i++)
        status = sql_prepare(s, hot_statements[i], &s->hot[i]);
    if (status != STORE_OK) {
        sqlite_store_close(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

void sqlite_store_close(sqlite_store *s)
{
    if (s == NULL) return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->hot[i]);
    for (int i = 0; i < TASK_CACHE_ENTRIES; i++)
        if (s->task_cache[i].used) task_record_clear(&s->task_cache[i].task);
    sqlite3_close(s->db);
    free(s);
}

/* A log this long (about 16 MiB) is caught up even if writers must wait a moment; see below. */
enum { WAL_CATCH_UP_FRAMES = 4096, WAL_CATCH_UP_WAIT_MS = 250 };

store_status sqlite_store_checkpoint(sqlite_store *s)
{
    int log_frames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return sql_fail(s, "checkpoint");
    /* Once everything is copied back, restart the log from its beginning so that it stays small. The
     * file keeps its size (journal_size_limit caps it), so the next writes overwrite blocks that exist
     * instead of making the file system allocate and zero new ones. A restarting checkpoint holds back
     * new writers while it waits for readers, so it must not wait: without a busy handler it gives up
     * at once (SQLITE_BUSY) and the next second tries again.
     * Under a steady stream of commits a passive checkpoint never catches up (frames arrive while it
     * copies), the log only grows, and every page read searches a longer log: submissions slowed ten
     * times within a minute of sustained load. So a long log is restarted even when writers must wait:
     * the passive pass has just copied all but the last second's frames, so they wait only for those
     * (the HTTP threads' group commits do not wait at all: they retry a millisecond later). */
    bool caught_up = rc == SQLITE_OK && log_frames > 0 && checkpointed == log_frames;
    bool catch_up = rc == SQLITE_OK && log_frames >= WAL_CATCH_UP_FRAMES;
    if (!caught_up && !catch_up) return STORE_OK;
    if (catch_up) pthread_mutex_lock(&store_process_writer); /* this process's writers wait; see above */
    rc = sqlite3_busy_timeout(s->db, caught_up ? 0 : WAL_CATCH_UP_WAIT_MS);
    if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    if (catch_up) pthread_mutex_unlock(&store_process_writer);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return sql_fail(s, "restart log");
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) return sql_fail(s, "checkpoint");
    return STORE_OK;
}

/* test_store_contract.c — the parts of store.h that test_store_tasks.c leaves implicit: the migration
 * ledger (also under racing processes and from an older schema), every field of every record, NOT_FOUND
 * for unknown ids on every call, listing limits and has_more, and racing terminal transitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static char folder[64];
static store *db;

static int make_folder(void **state)
{
    (void)state;
    db = NULL;
    snprintf(folder, sizeof(folder), "/tmp/reelay-store-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int open_fresh(void **state)
{
    if (make_folder(state) != 0) return -1;
    return store_open(folder, &db) == STORE_OK ? 0 : -1;
}

static int close_and_remove(void **state)
{
    (void)state;
    store_close(db);
    db = NULL;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : -1;
}

static task_record new_task(const char *id, const char *key_id, int64_t created)
{
    task_record t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.key_id, sizeof(t.key_id), "%s", key_id);
    snprintf(t.model, sizeof(t.model), "sora-2");
    snprintf(t.user_group, sizeof(t.user_group), "default");
    t.created_at = t.updated_at = created;
    t.deadline_at = created + 3600;
    t.params_json = (char *)"{\"prompt\":\"x\"}";
    return t;
}

/* Reads one integer from the database file directly, behind the store's back. */
static int64_t query_int(const char *sql)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *raw = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t value = -1;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return value;
}

/* ---- opening and migrations ---- */

static void migrations_are_recorded_once(void **state)
{
    (void)state;
    int64_t version = query_int("SELECT MAX(version) FROM schema_migrations");
    assert_true(version >= 1);
    assert_int_equal(query_int("SELECT COUNT(*) FROM schema_migrations"), version);
    assert_int_equal(query_int("SELECT COUNT(*) FROM schema_migrations WHERE applied_at > 0"), version);
    store *again = NULL;
    assert_int_equal(store_open(folder, &again), STORE_OK);
    store_close(again);
    assert_int_equal(query_int("SELECT MAX(version) FROM schema_migrations"), version);
    assert_int_equal(query_int("SELECT COUNT(*) FROM schema_migrations"), version);
}

static void database_is_in_wal_mode(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *raw = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
}

static void opening_a_missing_folder_fails(void **state)
{
    (void)state;
    store *none = NULL;
    assert_int_equal(store_open("/nonexistent/reelay-store-test", &none), STORE_ERROR);
    assert_null(none);
}

/* Runs SQL on the database file directly, behind the store's back. */
static void exec_raw(const char *sql)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec(raw, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK) fprintf(stderr, "raw sql failed: %s\n", message ? message : "?");
    sqlite3_free(message);
    sqlite3_close(raw);
    assert_int_equal(rc, SQLITE_OK);
}

/* The tasks table as version 1 shipped it: insertion order lived only in the hidden rowid. */
static const char version_one_tasks[] =
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER);"
    "INSERT INTO schema_migrations VALUES (1, 0);"
    "CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', key_hash BLOB NOT NULL "
    "UNIQUE,"
    "  user_group TEXT NOT NULL DEFAULT 'default', created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL "
    "DEFAULT 0);"
    "CREATE TABLE channels (name TEXT PRIMARY KEY, provider TEXT NOT NULL, base_url TEXT NOT NULL DEFAULT '',"
    "  models TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, weight INTEGER NOT NULL DEFAULT 1,"
    "  max_concurrent INTEGER NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT "
    "NULL);"
    "CREATE TABLE tasks (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, model TEXT NOT NULL, state INTEGER NOT "
    "NULL,"
    "  progress INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  deadline_at INTEGER NOT NULL, completed_at INTEGER NOT NULL DEFAULT 0, channel TEXT NOT NULL DEFAULT "
    "'',"
    "  user_group TEXT NOT NULL DEFAULT 'default', credits_reserved REAL NOT NULL DEFAULT 0, params_json "
    "TEXT,"
    "  results_json TEXT, error_code TEXT NOT NULL DEFAULT '', error_message TEXT);"
    "CREATE INDEX tasks_by_key ON tasks (key_id, created_at DESC);"
    "CREATE INDEX tasks_unfinished ON tasks (state, created_at) WHERE state < 4;"
    "INSERT INTO tasks (id, key_id, model, state, created_at, updated_at, deadline_at, params_json) VALUES"
    "  ('task-unified-1-zzzzzzzz', 'key_a', 'sora-2', 0, 1, 1, 99, '{}'),"
    "  ('task-unified-1-mmmmmmmm', 'key_a', 'sora-2', 2, 1, 1, 99, '{}'),"
    "  ('task-unified-1-aaaaaaaa', 'key_a', 'sora-2', 0, 1, 1, 99, '{}');";

static void version_one_database_is_upgraded_in_order(void **state)
{
    (void)state;
    exec_raw(version_one_tasks);
    assert_int_equal(store_open(folder, &db), STORE_OK);
    assert_true(query_int("SELECT MAX(version) FROM schema_migrations") >= 2);
    task_record extra = new_task("task-unified-1-bbbbbbbb", "key_a", 1); /* same second, inserted last */
    assert_int_equal(store_task_insert(db, &extra), STORE_OK);
    assert_int_equal(store_task_insert(db, &extra), STORE_CONFLICT); /* ids stay unique */
    task_list_query query = {.key_id = "key_a", .limit = 10, .state = -1};
    task_record *page = NULL;
    size_t count = 0;
    bool more = true;
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 4);
    assert_false(more);
    assert_string_equal(page[0].id, "task-unified-1-bbbbbbbb");
    assert_string_equal(page[1].id, "task-unified-1-aaaaaaaa");
    assert_string_equal(page[2].id, "task-unified-1-mmmmmmmm");
    assert_int_equal(page[2].state, TASK_PROCESSING);
    assert_string_equal(page[3].id, "task-unified-1-zzzzzzzz");
    task_records_free(page, count);
    assert_int_equal(store_task_list_unfinished(db, &page, &count), STORE_OK);
    assert_int_equal(count, 4);
    assert_string_equal(page[0].id, "task-unified-1-zzzzzzzz");
    task_records_free(page, count);
}

static void newer_schema_is_refused(void **state)
{
    (void)state;
    exec_raw("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER);"
             "INSERT INTO schema_migrations VALUES (1000000, 0);");
    assert_int_equal(store_open(folder, &db), STORE_ERROR);
    assert_null(db);
}

#define RACING_PROCESSES 8

/* Several processes open the same fresh folder at the same moment: all succeed, and every migration is
 * applied exactly once (a second application would fail on CREATE TABLE and make a child exit non-zero). */
static void racing_processes_migrate_a_fresh_folder_once(void **state)
{
    (void)state;
    int start[2];
    assert_int_equal(pipe(start), 0);
    pid_t children[RACING_PROCESSES];
    for (int i = 0; i < RACING_PROCESSES; i++) {
        children[i] = fork();
        assert_true(children[i] >= 0);
        if (children[i] == 0) {
            close(start[1]);
            char go;
            if (read(start[0], &go, 1) != 0)
                _exit(2); /* returns 0 when the parent closes: all start together */
            store *own = NULL;
            if (store_open(folder, &own) != STORE_OK) _exit(3);
            char id[IDS_TASK_ID_SIZE];
            snprintf(id, sizeof(id), "task-unified-1-proc%04d", i);
            task_record t = new_task(id, "key_a", 1);
            int code = store_task_insert(own, &t) == STORE_OK ? 0 : 4;
            store_close(own);
            _exit(code);
        }
    }
    close(start[0]);
    close(start[1]);
    /* Every child is reaped before anything is checked: a failed check ends the test, and the teardown
     * must not delete the folder under children still using it. */
    int statuses[RACING_PROCESSES];
    pid_t reaped[RACING_PROCESSES];
    for (int i = 0; i < RACING_PROCESSES; i++) {
        statuses[i] = 0;
        reaped[i] = waitpid(children[i], &statuses[i], 0);
    }
    for (int i = 0; i < RACING_PROCESSES; i++) {
        assert_int_equal(reaped[i], children[i]);
        assert_true(WIFEXITED(statuses[i]));
        assert_int_equal(WEXITSTATUS(statuses[i]), 0);
    }
    int64_t version = query_int("SELECT MAX(version) FROM schema_migrations");
    assert_int_equal(query_int("SELECT COUNT(*) FROM schema_migrations"), version);
    assert_int_equal(query_int("SELECT COUNT(*) FROM tasks"), RACING_PROCESSES);
}

/* ---- keys and channels ---- */

static void key_fields_round_trip(void **state)
{
    (void)state;
    unsigned char first_hash[STORE_KEY_HASH_SIZE], second_hash[STORE_KEY_HASH_SIZE];
    memset(first_hash, 0xAB, sizeof(first_hash));
    memset(second_hash, 0xAB, sizeof(second_hash));
    second_hash[31] = 0xAC; /* differs in the last byte only: the whole hash is compared */
    key_record first = {.id = "key_1", .name = "ops team", .user_group = "vip", .created_at = 100};
    key_record second = {.id = "key_2", .name = "", .created_at = 50};
    assert_int_equal(store_key_insert(db, &first, first_hash, NULL), STORE_OK);
    assert_int_equal(store_key_insert(db, &second, second_hash, NULL), STORE_OK);
    unsigned char fresh_hash[STORE_KEY_HASH_SIZE] = {7};
    assert_int_equal(store_key_insert(db, &first, fresh_hash, NULL), STORE_CONFLICT); /* same id */

    key_record found;
    assert_int_equal(store_key_find_by_hash(db, second_hash, &found), STORE_OK);
    assert_string_equal(found.id, "key_2");
    assert_string_equal(found.user_group, "default"); /* empty group stored as the default */
    assert_int_equal(found.created_at, 50);
    assert_int_equal(found.revoked_at, 0);
    assert_int_equal(store_key_find_by_hash(db, first_hash, &found), STORE_OK);
    assert_string_equal(found.name, "ops team");
    assert_string_equal(found.user_group, "vip");

    assert_int_equal(store_key_revoke(db, "key_1", 200), STORE_OK);
    assert_int_equal(store_key_revoke(db, "key_1", 300), STORE_OK); /* again: OK, first time kept */
    assert_int_equal(store_key_find_by_hash(db, first_hash, &found), STORE_NOT_FOUND);
    assert_int_equal(store_key_find_by_hash(db, second_hash, &found), STORE_OK);

    key_record *keys = NULL;
    size_t count = 0;
    assert_int_equal(store_key_list(db, &keys, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(keys[0].id, "key_2"); /* oldest first */
    assert_string_equal(keys[1].id, "key_1");
    assert_int_equal(keys[1].revoked_at, 200);
    free(keys);
}

static void empty_lists_are_empty(void **state)
{
    (void)state;
    key_record *keys = (key_record *)&keys;
    channel_record *channels = (channel_record *)&channels;
    task_record *tasks = (task_record *)&tasks;
    size_t count = 99;
    assert_int_equal(store_key_list(db, &keys, &count), STORE_OK);
    assert_int_equal(count, 0);
    free(keys);
    count = 99;
    assert_int_equal(store_channel_list(db, &channels, &count), STORE_OK);
    assert_int_equal(count, 0);
    free(channels);
    count = 99;
    assert_int_equal(store_task_list_unfinished(db, &tasks, &count), STORE_OK);
    assert_int_equal(count, 0);
    task_records_free(tasks, count);
}

static void channel_fields_round_trip(void **state)
{
    (void)state;
    channel_record b = {.name = "b",
                        .provider = "kling",
                        .base_url = "https://api.example.test/v1",
                        .models = "kling-2",
                        .priority = 3,
                        .weight = 7,
                        .max_concurrent = 4,
                        .enabled = true,
                        .created_at = 1234};
    channel_record a = {.name = "a", .provider = "sandbox", .models = "all", .priority = 3, .weight = 1};
    channel_record z = {.name = "z", .provider = "fal", .models = "all", .priority = -1, .weight = 1};
    assert_int_equal(store_channel_insert(db, &z), STORE_OK);
    assert_int_equal(store_channel_insert(db, &b), STORE_OK);
    assert_int_equal(store_channel_insert(db, &a), STORE_OK);
    channel_record *channels = NULL;
    size_t count = 0;
    assert_int_equal(store_channel_list(db, &channels, &count), STORE_OK);
    assert_int_equal(count, 3);
    assert_string_equal(channels[0].name, "a"); /* equal priority: by name */
    assert_string_equal(channels[1].name, "b");
    assert_string_equal(channels[2].name, "z");
    assert_string_equal(channels[1].provider, "kling");
    assert_string_equal(channels[1].base_url, "https://api.example.test/v1");
    assert_string_equal(channels[1].models, "kling-2");
    assert_int_equal(channels[1].priority, 3);
    assert_int_equal(channels[1].weight, 7);
    assert_int_equal(channels[1].max_concurrent, 4);
    assert_true(channels[1].enabled);
    assert_int_equal(channels[1].created_at, 1234);
    assert_false(channels[0].enabled);
    assert_int_equal(channels[2].priority, -1);
    free(channels);
}

/* ---- tasks ---- */

static void every_task_field_round_trips(void **state)
{
    (void)state;
    task_record full;
    memset(&full, 0, sizeof(full));
    snprintf(full.id, sizeof(full.id), "task-unified-5-fullfull");
    snprintf(full.key_id, sizeof(full.key_id), "key_full");
    snprintf(full.model, sizeof(full.model), "kling-2-master");
    full.state = TASK_FAILED;
    full.progress = 37;
    full.created_at = 1700000000001LL; /* beyond 32 bits */
    full.updated_at = 1700000000002LL;
    full.deadline_at = 1700000000003LL;
    full.completed_at = 1700000000004LL;
    snprintf(full.channel, sizeof(full.channel), "kling-main");
    snprintf(full.user_group, sizeof(full.user_group), "vip");
    full.credits_reserved = 4000000000LL; /* beyond 32 bits */
    full.params_json = (char *)"{\"prompt\":\"caf\xc3\xa9 \\\"quoted\\\"\"}";
    full.results_json = (char *)"[{\"url\":\"x\"}]";
    snprintf(full.error_code, sizeof(full.error_code), "upstream_error");
    full.error_message = (char *)"The provider said no.";
    assert_int_equal(store_task_insert(db, &full), STORE_OK);

    task_record bare = new_task("task-unified-5-barebare", "key_full", 5);
    bare.params_json = NULL;
    assert_int_equal(store_task_insert(db, &bare), STORE_OK);

    task_record read;
    assert_int_equal(store_task_get(db, full.id, &read), STORE_OK);
    assert_string_equal(read.id, full.id);
    assert_string_equal(read.key_id, "key_full");
    assert_string_equal(read.model, "kling-2-master");
    assert_int_equal(read.state, TASK_FAILED);
    assert_int_equal(read.progress, 37);
    assert_true(read.created_at == full.created_at);
    assert_true(read.updated_at == full.updated_at);
    assert_true(read.deadline_at == full.deadline_at);
    assert_true(read.completed_at == full.completed_at);
    assert_string_equal(read.channel, "kling-main");
    assert_string_equal(read.user_group, "vip");
    assert_true(read.credits_reserved == 4000000000LL);
    assert_string_equal(read.params_json, full.params_json);
    assert_string_equal(read.results_json, full.results_json);
    assert_string_equal(read.error_code, "upstream_error");
    assert_string_equal(read.error_message, "The provider said no.");
    task_record_clear(&read);
    assert_null(read.params_json);
    assert_null(read.results_json);
    assert_null(read.error_message);

    assert_int_equal(store_task_get(db, bare.id, &read), STORE_OK);
    assert_null(read.params_json);
    assert_null(read.results_json);
    assert_null(read.error_message);
    assert_string_equal(read.channel, "");
    assert_string_equal(read.error_code, "");
    assert_int_equal(read.completed_at, 0);
    task_record_clear(&read);

    assert_int_equal(store_task_get(db, "task-unified-5-missing0", &read), STORE_NOT_FOUND);
}

static void unknown_tasks_are_not_found_everywhere(void **state)
{
    (void)state;
    const char *id = "task-unified-6-unknown0";
    task_record t = new_task("task-unified-6-known000", "key_a", 6);
    assert_int_equal(store_task_insert(db, &t), STORE_OK); /* a table that is not empty */
    assert_int_equal(store_task_transition(db, id, TASK_PENDING, TASK_SUBMITTING, "c", 7), STORE_NOT_FOUND);
    assert_int_equal(store_task_set_progress(db, id, 10, 7), STORE_NOT_FOUND);
    assert_int_equal(store_task_complete(db, id, TASK_FINALIZING, "[1]", -1, 7), STORE_NOT_FOUND);
    assert_int_equal(store_task_fail(db, id, "timeout", "late", 7), STORE_NOT_FOUND);
    assert_int_equal(store_task_cancel(db, id, "key_a", 7), STORE_NOT_FOUND);
    task_record *page = NULL;
    size_t count = 0;
    bool more = true;
    task_list_query query = {.key_id = "key_a", .after_id = id, .limit = 10, .state = -1};
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_NOT_FOUND);
    assert_null(page);
    assert_int_equal(count, 0);
}

static void transitions_refuse_terminal_shortcuts(void **state)
{
    (void)state;
    task_record t = new_task("task-unified-7-shortcut", "key_a", 7);
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_FAILED, NULL, 8), STORE_ERROR);
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_CANCELLED, NULL, 8), STORE_ERROR);
    assert_int_equal(store_task_complete(db, t.id, TASK_PENDING, "{\"a\":1}", -1, 8),
                     STORE_ERROR); /* not an array */
    assert_int_equal(store_task_complete(db, t.id, TASK_PENDING, NULL, -1, 8), STORE_ERROR);
    assert_int_equal(store_task_complete(db, t.id, TASK_PENDING, "", -1, 8), STORE_ERROR);
    assert_int_equal(store_task_complete(db, t.id, TASK_PENDING, "[1,", -1, 8), STORE_ERROR);
    task_record read;
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_PENDING); /* refusals changed nothing */
    assert_int_equal(read.updated_at, 7);
    assert_null(read.results_json);
    task_record_clear(&read);

    /* progress: clamped below at the current value, touches updated_at, channel kept when NULL */
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_SUBMITTING, "edge", 9), STORE_OK);
    assert_int_equal(store_task_set_progress(db, t.id, -5, 10), STORE_OK);
    assert_int_equal(store_task_set_progress(db, t.id, 60, 11), STORE_OK);
    assert_int_equal(store_task_transition(db, t.id, TASK_SUBMITTING, TASK_PROCESSING, NULL, 12), STORE_OK);
    assert_int_equal(store_task_set_progress(db, t.id, 59, 13), STORE_OK);
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.progress, 60);
    assert_int_equal(read.state, TASK_PROCESSING);
    assert_string_equal(read.channel, "edge");
    assert_int_equal(read.updated_at, 13);
    task_record_clear(&read);

    assert_int_equal(store_task_fail(db, t.id, "timeout", "The task took too long.", 14), STORE_OK);
    assert_int_equal(store_task_complete(db, t.id, TASK_PROCESSING, "[1]", -1, 15), STORE_CONFLICT);
    assert_int_equal(store_task_transition(db, t.id, TASK_PROCESSING, TASK_FINALIZING, NULL, 15),
                     STORE_CONFLICT);
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_FAILED);
    assert_int_equal(read.progress, 60); /* a failure does not pretend to be done */
    assert_int_equal(read.completed_at, 14);
    assert_string_equal(read.error_code, "timeout");
    task_record_clear(&read);
}

static void cancel_records_the_fixed_reason(void **state)
{
    (void)state;
    task_record t = new_task("task-unified-8-cancelme", "key_a", 8);
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_SUBMITTING, NULL, 9), STORE_OK);
    assert_int_equal(store_task_cancel(db, t.id, "key_b", 10), STORE_NOT_FOUND);
    assert_int_equal(store_task_cancel(db, t.id, "key_a", 11), STORE_OK);
    assert_int_equal(store_task_cancel(db, t.id, "key_b", 12),
                     STORE_NOT_FOUND); /* finished, still not theirs */
    task_record read;
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_CANCELLED);
    assert_string_equal(read.error_code, "cancelled");
    assert_string_equal(read.error_message, "The task was cancelled.");
    assert_int_equal(read.completed_at, 11);
    assert_int_equal(read.updated_at, 11);
    task_record_clear(&read);
}

static void listing_limits_and_has_more(void **state)
{
    (void)state;
    char id[IDS_TASK_ID_SIZE];
    for (int i = 0; i < 101; i++) {
        snprintf(id, sizeof(id), "task-unified-9-%08d", i);
        task_record t = new_task(id, "key_a", 1000 + i);
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
    task_record *page = NULL;
    size_t count = 0;
    bool more = false;

    task_list_query query = {.key_id = "key_a", .limit = 1000, .state = -1};
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 100); /* clamped */
    assert_true(more);
    assert_string_equal(page[0].id, "task-unified-9-00000100");
    assert_string_equal(page[99].id, "task-unified-9-00000001");
    task_records_free(page, count);

    query.limit = 0;
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 1); /* clamped up */
    assert_true(more);
    task_records_free(page, count);

    /* exactly `limit` left after the cursor: no more */
    query.limit = 3;
    query.after_id = "task-unified-9-00000003";
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 3);
    assert_false(more);
    assert_string_equal(page[0].id, "task-unified-9-00000002");
    assert_string_equal(page[2].id, "task-unified-9-00000000");
    task_records_free(page, count);

    /* the oldest as cursor: an empty page */
    query.after_id = "task-unified-9-00000000";
    assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    task_records_free(page, count);

    /* a state filter with a cursor; the cursor itself need not match the filter */
    assert_int_equal(
        store_task_transition(db, "task-unified-9-00000050", TASK_PENDING, TASK_PROCESSING, NULL, 2000),
        STORE_OK);
    assert_int_equal(
        store_task_transition(db, "task-unified-9-00000010", TASK_PENDING, TASK_PROCESSING, NULL, 2000),
        STORE_OK);
    task_list_query processing = {
        .key_id = "key_a", .after_id = "task-unified-9-00000060", .limit = 1, .state = TASK_PROCESSING};
    assert_int_equal(store_task_list(db, &processing, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 1);
    assert_true(more);
    assert_string_equal(page[0].id, "task-unified-9-00000050");
    task_records_free(page, count);
    processing.after_id = "task-unified-9-00000050";
    assert_int_equal(store_task_list(db, &processing, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 1);
    assert_false(more);
    assert_string_equal(page[0].id, "task-unified-9-00000010");
    task_records_free(page, count);

    task_list_query other_model = {.key_id = "key_a", .limit = 10, .state = -1, .model = "sync-3"};
    assert_int_equal(store_task_list(db, &other_model, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 0);
    assert_false(more);
    task_records_free(page, count);
    task_list_query other_key = {.key_id = "key_b", .limit = 10, .state = -1};
    assert_int_equal(store_task_list(db, &other_key, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 0);
    task_records_free(page, count);
}

static void unfinished_are_listed_oldest_first(void **state)
{
    (void)state;
    const char *ids[] = {"task-unified-3-zzzzzzzz", "task-unified-3-aaaaaaaa", "task-unified-2-mmmmmmmm",
                         "task-unified-4-done0000", "task-unified-4-failed00"};
    const int64_t created[] = {3, 3, 2, 1, 1};
    for (int i = 0; i < 5; i++) {
        task_record t = new_task(ids[i], "key_a", created[i]);
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
    assert_int_equal(store_task_transition(db, ids[0], TASK_PENDING, TASK_FINALIZING, NULL, 4), STORE_OK);
    assert_int_equal(store_task_complete(db, ids[3], TASK_PENDING, "[{}]", -1, 4), STORE_OK);
    assert_int_equal(store_task_fail(db, ids[4], "timeout", "late", 4), STORE_OK);
    task_record *tasks = NULL;
    size_t count = 0;
    assert_int_equal(store_task_list_unfinished(db, &tasks, &count), STORE_OK);
    assert_int_equal(count, 3);
    assert_string_equal(tasks[0].id, ids[2]);
    assert_string_equal(tasks[1].id, ids[0]); /* same second: insertion order */
    assert_int_equal(tasks[1].state, TASK_FINALIZING);
    assert_string_equal(tasks[2].id, ids[1]);
    task_records_free(tasks, count);

    int64_t counts[TASK_STATE_COUNT];
    assert_int_equal(store_task_count_by_state(db, counts), STORE_OK);
    assert_int_equal(counts[TASK_PENDING], 2);
    assert_int_equal(counts[TASK_SUBMITTING], 0);
    assert_int_equal(counts[TASK_FINALIZING], 1);
    assert_int_equal(counts[TASK_COMPLETED], 1);
    assert_int_equal(counts[TASK_FAILED], 1);
    assert_int_equal(counts[TASK_CANCELLED], 0);
}

/* ---- batches and checkpoints ---- */

static bool task_exists(const char *id)
{
    task_record read;
    store_status status = store_task_get(db, id, &read);
    assert_true(status == STORE_OK || status == STORE_NOT_FOUND);
    if (status == STORE_OK) task_record_clear(&read);
    return status == STORE_OK;
}

static void batches_insert_all_or_none(void **state)
{
    (void)state;
    task_record batch[3] = {new_task("task-unified-2-batch001", "key_a", 2),
                            new_task("task-unified-2-batch002", "key_a", 2),
                            new_task("task-unified-2-batch003", "key_a", 2)};
    assert_int_equal(store_task_insert_batch(db, batch, 0), STORE_OK);
    assert_int_equal(store_task_insert_batch(db, batch, 3), STORE_OK);
    for (int i = 0; i < 3; i++)
        assert_true(task_exists(batch[i].id));

    /* the last one collides with a stored task: the first two must not stay */
    task_record clash[3] = {new_task("task-unified-2-clash001", "key_a", 2),
                            new_task("task-unified-2-clash002", "key_a", 2), batch[1]};
    assert_int_equal(store_task_insert_batch(db, clash, 3), STORE_CONFLICT);
    assert_false(task_exists(clash[0].id));
    assert_false(task_exists(clash[1].id));
    /* a duplicate inside the batch itself */
    task_record twice[2] = {new_task("task-unified-2-twice001", "key_a", 2),
                            new_task("task-unified-2-twice001", "key_a", 2)};
    assert_int_equal(store_task_insert_batch(db, twice, 2), STORE_CONFLICT);
    assert_false(task_exists(twice[0].id));

    /* the connection is left outside any transaction: a later write commits and is seen by others */
    assert_int_equal(store_task_insert_batch(db, clash, 2), STORE_OK);
    assert_int_equal(query_int("SELECT COUNT(*) FROM tasks"), 5);
}

static long long wal_size(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db-wal", folder);
    struct stat info;
    return stat(path, &info) == 0 ? (long long)info.st_size : -1;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void insert_checkpoint_tasks(int first, int count)
{
    char id[IDS_TASK_ID_SIZE];
    for (int i = first; i < first + count; i++) {
        snprintf(id, sizeof(id), "task-unified-3-ckpt%04d", i);
        task_record t = new_task(id, "key_a", 3);
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
}

/* A checkpoint copies the log into the database and, once no reader needs the log, restarts it: the
 * file keeps its size and the next writes reuse it from the start instead of growing it. */
static void checkpoints_restart_the_log_without_waiting_for_readers(void **state)
{
    (void)state;
    insert_checkpoint_tasks(0, 30);
    long long first_size = wal_size();
    assert_true(first_size > 0);

    /* another connection sits in a read transaction: the log cannot restart under it, and the
     * checkpoint must give up at once rather than wait (it would hold back writers meanwhile) */
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *reader = NULL;
    assert_int_equal(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM tasks;", NULL, NULL, NULL), SQLITE_OK);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(store_checkpoint(db), STORE_OK);
    assert_true(seconds_since(&start) < 2.0);
    insert_checkpoint_tasks(30, 30); /* appended after the old frames: the log grows */
    long long grown_size = wal_size();
    assert_true(grown_size > first_size);
    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);

    /* with the reader gone the log restarts: as many writes again fit in the file as it is */
    assert_int_equal(store_checkpoint(db), STORE_OK);
    assert_int_equal(store_checkpoint(db), STORE_OK); /* nothing to do: still OK */
    insert_checkpoint_tasks(60, 30);
    assert_int_equal(wal_size(), grown_size);
    assert_true(task_exists("task-unified-3-ckpt0089"));
    assert_int_equal(query_int("SELECT COUNT(*) FROM tasks"), 90);
}

/* ---- racing terminal transitions ---- */

#define ROUNDS 40

typedef struct finisher {
    int kind; /* 0 completes, 1 cancels */
    bool won[ROUNDS];
    bool lost_cleanly;
    pthread_barrier_t *barrier;
} finisher;

static void *finish(void *arg)
{
    finisher *f = arg;
    store *own = NULL;
    bool opened = store_open(folder, &own) == STORE_OK;
    f->lost_cleanly = opened;
    char id[IDS_TASK_ID_SIZE];
    for (int round = 0; round < ROUNDS; round++) {
        snprintf(id, sizeof(id), "task-unified-4-f%07d", round);
        pthread_barrier_wait(f->barrier); /* every round, even when the open failed: no deadlock */
        if (!opened) continue;
        store_status status = f->kind == 0
                                  ? store_task_complete(own, id, TASK_FINALIZING, "[{\"n\":1}]", -1, 50)
                                  : store_task_cancel(own, id, "key_a", 50);
        f->won[round] = status == STORE_OK;
        if (status != STORE_OK && status != STORE_CONFLICT) f->lost_cleanly = false;
    }
    store_close(own);
    return NULL;
}

static void complete_and_cancel_race_to_one_outcome(void **state)
{
    (void)state;
    char id[IDS_TASK_ID_SIZE];
    for (int round = 0; round < ROUNDS; round++) {
        snprintf(id, sizeof(id), "task-unified-4-f%07d", round);
        task_record t = new_task(id, "key_a", 4);
        t.state = TASK_FINALIZING;
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    finisher completer = {.kind = 0, .barrier = &barrier}, canceller = {.kind = 1, .barrier = &barrier};
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, finish, &completer), 0);
    assert_int_equal(pthread_create(&b, NULL, finish, &canceller), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_barrier_destroy(&barrier);
    assert_true(completer.lost_cleanly);
    assert_true(canceller.lost_cleanly);
    for (int round = 0; round < ROUNDS; round++) {
        assert_true(completer.won[round] != canceller.won[round]);
        snprintf(id, sizeof(id), "task-unified-4-f%07d", round);
        task_record read;
        assert_int_equal(store_task_get(db, id, &read), STORE_OK);
        if (completer.won[round]) {
            assert_int_equal(read.state, TASK_COMPLETED);
            assert_int_equal(read.progress, 100);
            assert_string_equal(read.error_code, "");
            assert_null(read.error_message);
        } else {
            assert_int_equal(read.state, TASK_CANCELLED);
            assert_null(read.results_json);
        }
        task_record_clear(&read);
    }
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
#define WITH_FOLDER(test) cmocka_unit_test_setup_teardown(test, make_folder, close_and_remove)
    const struct CMUnitTest tests[] = {
        WITH_STORE(migrations_are_recorded_once),
        WITH_STORE(database_is_in_wal_mode),
        cmocka_unit_test(opening_a_missing_folder_fails),
        WITH_FOLDER(racing_processes_migrate_a_fresh_folder_once),
        WITH_FOLDER(version_one_database_is_upgraded_in_order),
        WITH_FOLDER(newer_schema_is_refused),
        WITH_STORE(key_fields_round_trip),
        WITH_STORE(empty_lists_are_empty),
        WITH_STORE(channel_fields_round_trip),
        WITH_STORE(every_task_field_round_trips),
        WITH_STORE(unknown_tasks_are_not_found_everywhere),
        WITH_STORE(transitions_refuse_terminal_shortcuts),
        WITH_STORE(cancel_records_the_fixed_reason),
        WITH_STORE(listing_limits_and_has_more),
        WITH_STORE(unfinished_are_listed_oldest_first),
        WITH_STORE(batches_insert_all_or_none),
        WITH_STORE(checkpoints_restart_the_log_without_waiting_for_readers),
        WITH_STORE(complete_and_cancel_race_to_one_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

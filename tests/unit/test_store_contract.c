/* test_store_contract.c — the parts of store.h that test_store_tasks.c leaves implicit, on both backends
 * (store_fixture.h) unless SQLite's own: the migration ledger (also under racing processes, and on
 * SQLite from an older schema), database URLs, every field of keys and channels, empty lists, and
 * SQLite's WAL mode and checkpoints. The task parts are in test_store_task_contract.c. */
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
#include "store_fixture.h"

/* ---- opening and migrations ---- */

static void migrations_are_recorded_once(void **state)
{
    (void)state;
    int64_t version = fixture_query_int("SELECT MAX(version) FROM schema_migrations");
    assert_true(version >= 1);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM schema_migrations"), version);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM schema_migrations WHERE applied_at > 0"),
                     version);
    store *again = NULL;
    assert_int_equal(fixture_open(&again), STORE_OK);
    store_close(again);
    assert_int_equal(fixture_query_int("SELECT MAX(version) FROM schema_migrations"), version);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM schema_migrations"), version);
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

/* The URL picks the backend; an unknown scheme or an unreachable server is an error, never a silent
 * fallback to the default. */
static void database_urls_pick_a_backend_or_fail(void **state)
{
    (void)state;
    store *opened = (store *)&opened;
    assert_int_equal(store_open_url("mysql://127.0.0.1/reelay", folder, &opened), STORE_ERROR);
    assert_null(opened);
    opened = (store *)&opened;
    assert_int_equal(store_open_url("sqlite:/elsewhere.db", folder, &opened), STORE_ERROR);
    assert_null(opened);
    /* port 1 on the loopback: nothing listens there */
    assert_int_equal(
        store_open_url("postgres://reelay@127.0.0.1:1/postgres?connect_timeout=5", folder, &opened),
        STORE_ERROR);
    assert_null(opened);
    /* sqlite: and "" are the default, the data folder's reelay.db */
    assert_int_equal(store_open_url("sqlite:", folder, &opened), STORE_OK);
    store_close(opened);
    assert_int_equal(store_open_url("", folder, &opened), STORE_OK);
    store_close(opened);
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
}

/* A connection the server dropped (a restart, a network cut) is reopened by the next call: the call
 * that finds it lost fails, none after it does. */
static void a_lost_connection_is_reopened(void **state)
{
    (void)state;
    key_record key = {.id = "key_1", .created_at = 1};
    unsigned char hash[STORE_KEY_HASH_SIZE] = {3};
    assert_int_equal(store_key_insert(db, &key, hash, NULL), STORE_OK);
    /* waits (up to 5 s) until the store's server process is gone */
    fixture_exec("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                 "AND datname = current_database() AND backend_type = 'client backend'");
    key_record found;
    assert_int_equal(store_key_find_by_hash(db, hash, &found), STORE_ERROR);
    assert_int_equal(store_key_find_by_hash(db, hash, &found), STORE_OK);
    assert_string_equal(found.id, "key_1");
    assert_int_equal(store_key_revoke(db, "key_1", 5), STORE_OK);
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
    fixture_exec(version_one_tasks);
    assert_int_equal(fixture_open(&db), STORE_OK);
    assert_true(fixture_query_int("SELECT MAX(version) FROM schema_migrations") >= 2);
    task_record extra =
        fixture_new_task("task-unified-1-bbbbbbbb", "key_a", 1); /* same second, inserted last */
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
    fixture_exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER);"
                 "INSERT INTO schema_migrations VALUES (1000000, 0);");
    assert_int_equal(fixture_open(&db), STORE_ERROR);
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
            if (fixture_open(&own) != STORE_OK) _exit(3);
            char id[IDS_TASK_ID_SIZE];
            snprintf(id, sizeof(id), "task-unified-1-proc%04d", i);
            task_record t = fixture_new_task(id, "key_a", 1);
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
    int64_t version = fixture_query_int("SELECT MAX(version) FROM schema_migrations");
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM schema_migrations"), version);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks"), RACING_PROCESSES);
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

/* ---- checkpoints (SQLite) ---- */

static bool task_exists(const char *id)
{
    task_record read;
    store_status status = store_task_get(db, id, &read);
    assert_true(status == STORE_OK || status == STORE_NOT_FOUND);
    if (status == STORE_OK) task_record_clear(&read);
    return status == STORE_OK;
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
        task_record t = fixture_new_task(id, "key_a", 3);
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
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks"), 90);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
#define WITH_FOLDER(test) cmocka_unit_test_setup_teardown(test, make_folder, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(migrations_are_recorded_once),
        WITH_FOLDER(newer_schema_is_refused),
        WITH_FOLDER(database_urls_pick_a_backend_or_fail),
        WITH_STORE(key_fields_round_trip),
        WITH_STORE(channel_fields_round_trip),
        WITH_STORE(empty_lists_are_empty),
    };
    const struct CMUnitTest sqlite_only[] = {
        WITH_STORE(database_is_in_wal_mode),
        cmocka_unit_test(opening_a_missing_folder_fails),
        WITH_FOLDER(version_one_database_is_upgraded_in_order),
        WITH_STORE(checkpoints_restart_the_log_without_waiting_for_readers),
    };
    const struct CMUnitTest races[] = {
        WITH_FOLDER(racing_processes_migrate_a_fresh_folder_once),
    };
    const struct CMUnitTest postgres_only[] = {
        WITH_STORE(a_lost_connection_is_reopened),
    };
    return store_fixture_main("test_store_contract", both, sizeof(both) / sizeof(both[0]), sqlite_only,
                              sizeof(sqlite_only) / sizeof(sqlite_only[0]), races,
                              sizeof(races) / sizeof(races[0])) +
           store_fixture_postgres_only("test_store_contract", postgres_only,
                                       sizeof(postgres_only) / sizeof(postgres_only[0]));
}

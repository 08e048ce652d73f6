/* store_fixture.h — runs a store contract test file against both backends of store.h (included by the
 * tests/unit/test_store_*.c files; header-only, like the other fixtures here).
 *
 * Each test gets a fresh database: on SQLite a new folder holding reelay.db; on PostgreSQL a new schema
 * in the database of REELAY_TEST_DATABASE_URL (a connection URI; the store is opened with that URI plus
 * options=-c search_path=<schema>), dropped afterwards. `make test`, `make unit` and `make stress` run the
 * unit tests inside a throwaway cluster (scripts/pg-test-cluster.sh run …) that sets the variable;
 * without it the PostgreSQL half of every store test FAILS (it is never skipped), so a run that forgot
 * the cluster cannot pass. By hand: scripts/pg-test-cluster.sh run ctest -R test_store.
 *
 * A test file lists its tests in up to three arrays and calls store_fixture_main: tests for both
 * backends, tests for SQLite only (its file format, WAL), and racing tests, which run once on SQLite and
 * RACE_RUNS_ON_POSTGRES times on PostgreSQL; store_fixture_postgres_only runs tests of PostgreSQL alone. */
#ifndef REELAY_TESTS_STORE_FIXTURE_H
#define REELAY_TESTS_STORE_FIXTURE_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define RACE_RUNS_ON_POSTGRES 20

static bool on_postgres;         /* the backend of the group running now */
static char folder[64];          /* every test's own folder (SQLite's database file lives here) */
static char database_url[1024];  /* PostgreSQL: the URL with this test's schema; "" on SQLite */
static char schema_name[64];     /* PostgreSQL: this test's schema */
static store *db;                /* the connection opened by open_fresh */
static unsigned schema_sequence; /* makes schema names unique within the process */

/* A pending sora-2 task of key_id created at `created`, due an hour later (its strings are static). */
static inline task_record fixture_new_task(const char *id, const char *key_id, int64_t created)
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

static const char *postgres_base_url(void)
{
    const char *url = getenv("REELAY_TEST_DATABASE_URL");
    return url && url[0] ? url : NULL;
}

static void ignore_postgres_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs SQL on the test cluster's database directly (search_path set to this test's schema when
 * there is one). Fails the test on an error. */
static void postgres_exec(const char *sql)
{
    PGconn *conn = PQconnectdb(postgres_base_url());
    assert_non_null(conn);
    if (PQstatus(conn) != CONNECTION_OK) fprintf(stderr, "test cluster: %s", PQerrorMessage(conn));
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PQsetNoticeProcessor(conn, ignore_postgres_notice, NULL);
    if (schema_name[0]) {
        char set[128];
        snprintf(set, sizeof(set), "SET search_path = %s", schema_name);
        PGresult *setting = PQexec(conn, set);
        assert_int_equal(PQresultStatus(setting), PGRES_COMMAND_OK);
        PQclear(setting);
    }
    PGresult *result = PQexec(conn, sql);
    ExecStatusType outcome = PQresultStatus(result);
    if (outcome != PGRES_COMMAND_OK && outcome != PGRES_TUPLES_OK)
        fprintf(stderr, "raw sql failed: %s\n", PQresultErrorMessage(result));
    PQclear(result);
    PQfinish(conn);
    assert_true(outcome == PGRES_COMMAND_OK || outcome == PGRES_TUPLES_OK);
}

/* The first column of the first row of a query on the test's database (-1 when there is no row). */
__attribute__((unused)) static int64_t fixture_query_int(const char *sql)
{
    int64_t value = -1;
    if (on_postgres) {
        PGconn *conn = PQconnectdb(database_url);
        assert_int_equal(PQstatus(conn), CONNECTION_OK);
        PGresult *result = PQexec(conn, sql);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) fprintf(stderr, "%s", PQresultErrorMessage(result));
        assert_int_equal(PQresultStatus(result), PGRES_TUPLES_OK);
        if (PQntuples(result) > 0 && !PQgetisnull(result, 0, 0))
            value = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
        PQclear(result);
        PQfinish(conn);
        return value;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *raw = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(raw, 10000);
    assert_int_equal(sqlite3_prepare_v2(raw, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return value;
}

/* Runs SQL (no results) on the test's database behind the store's back. */
__attribute__((unused)) static void fixture_exec(const char *sql)
{
    if (on_postgres) {
        postgres_exec(sql);
        return;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/reelay.db", folder);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(raw, 10000);
    char *message = NULL;
    int rc = sqlite3_exec(raw, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK) fprintf(stderr, "raw sql failed: %s\n", message ? message : "?");
    sqlite3_free(message);
    sqlite3_close(raw);
    assert_int_equal(rc, SQLITE_OK);
}

/* Opens another connection to the test's database (racing threads and processes use their own). */
static store_status fixture_open(store **out)
{
    return store_open_url(on_postgres ? database_url : NULL, folder, out);
}

/* A fresh, empty database for one test, not opened yet. */
__attribute__((unused)) static int make_folder(void **state)
{
    (void)state;
    db = NULL;
    snprintf(folder, sizeof(folder), "/tmp/reelay-store-XXXXXX");
    if (mkdtemp(folder) == NULL) return -1;
    schema_name[0] = database_url[0] = '\0';
    if (!on_postgres) return 0;
    char name[64], create[128];
    snprintf(name, sizeof(name), "test_%ld_%u", (long)getpid(), ++schema_sequence);
    snprintf(create, sizeof(create), "CREATE SCHEMA %s", name);
    postgres_exec(create);
    snprintf(schema_name, sizeof(schema_name), "%s", name);
    const char *base = postgres_base_url();
    int length = snprintf(database_url, sizeof(database_url), "%s%soptions=-c%%20search_path%%3D%s", base,
                          strchr(base, '?') ? "&" : "?", name);
    return length > 0 && (size_t)length < sizeof(database_url) ? 0 : -1;
}

__attribute__((unused)) static int open_fresh(void **state)
{
    if (make_folder(state) != 0) return -1;
    return fixture_open(&db) == STORE_OK ? 0 : -1;
}

static int close_and_remove(void **state)
{
    (void)state;
    store_close(db);
    db = NULL;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", folder);
    int failed = system(command) != 0;
    if (on_postgres && schema_name[0]) {
        char drop[128];
        snprintf(drop, sizeof(drop), "DROP SCHEMA %s CASCADE", schema_name);
        schema_name[0] = '\0';
        postgres_exec(drop);
    }
    return failed ? -1 : 0;
}

/* Runs one group of tests under a name saying which backend; the number that failed. */
static int run_group(const char *file, const char *what, const struct CMUnitTest *tests, size_t count)
{
    if (count == 0) return 0;
    char name[160];
    snprintf(name, sizeof(name), "%s %s", file, what);
    printf("[ GROUP    ] %s\n", name);
    fflush(stdout);
    return _cmocka_run_group_tests(name, tests, count, NULL, NULL);
}

/* Runs the groups: `both` and `sqlite_only` and `races` on SQLite; `both` and `races` (the latter
 * RACE_RUNS_ON_POSTGRES times) on PostgreSQL. Returns the number of failed tests (the exit status);
 * a missing REELAY_TEST_DATABASE_URL counts as a failure. Arrays may be NULL with a count of 0. */
__attribute__((unused)) static int store_fixture_main(const char *file, const struct CMUnitTest *both,
                                                      size_t both_count, const struct CMUnitTest *sqlite_only,
                                                      size_t sqlite_only_count,
                                                      const struct CMUnitTest *races, size_t race_count)
{
    on_postgres = false;
    int failed = run_group(file, "on SQLite", both, both_count);
    failed += run_group(file, "on SQLite only", sqlite_only, sqlite_only_count);
    failed += run_group(file, "races on SQLite", races, race_count);
    if (both_count + race_count == 0) return failed;
    if (postgres_base_url() == NULL) {
        fprintf(stderr,
                "FAILED: REELAY_TEST_DATABASE_URL is not set, so the PostgreSQL half of %s cannot run.\n"
                "Run the unit tests inside a test cluster: make unit, make test, or\n"
                "  scripts/pg-test-cluster.sh run ctest -R test_store\n",
                file);
        return failed + 1;
    }
    on_postgres = true;
    failed += run_group(file, "on PostgreSQL", both, both_count);
    for (int run = 1; race_count && run <= RACE_RUNS_ON_POSTGRES; run++) {
        char what[64];
        snprintf(what, sizeof(what), "races on PostgreSQL, run %d of %d", run, RACE_RUNS_ON_POSTGRES);
        failed += run_group(file, what, races, race_count);
    }
    return failed;
}

/* Runs tests that only mean something on PostgreSQL (a server to lose, …); a missing
 * REELAY_TEST_DATABASE_URL fails them too. Returns the number of failed tests. */
__attribute__((unused)) static int store_fixture_postgres_only(const char *file,
                                                               const struct CMUnitTest *tests, size_t count)
{
    if (postgres_base_url() == NULL) {
        fprintf(stderr,
                "FAILED: REELAY_TEST_DATABASE_URL is not set: %s's PostgreSQL-only tests cannot run.\n",
                file);
        return 1;
    }
    on_postgres = true;
    return run_group(file, "on PostgreSQL only", tests, count);
}

#endif

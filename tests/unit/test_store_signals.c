/* test_store_signals.c — signals between nodes (store.h): on PostgreSQL a signal sent on one connection
 * reaches another that listens, kind and payload intact, also payloads built to break quoting; payloads
 * and kinds outside the limits are refused; a listener whose connection is lost is told so and listens
 * again. On SQLite sending does nothing and listening is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"

typedef struct received {
    char kind[STORE_SIGNAL_KIND_MAX + 1];
    char payload[STORE_SIGNAL_PAYLOAD_MAX + 1];
} received;

/* A second connection to the test's database, listening. */
static store *open_listener(void)
{
    store *listener = NULL;
    assert_int_equal(fixture_open(&listener), STORE_OK);
    assert_true(store_signals_supported(listener));
    assert_int_equal(store_signal_listen(listener), STORE_OK);
    return listener;
}

static store_status wait_for(store *listener, int timeout_ms, received *out)
{
    memset(out, 0, sizeof(*out));
    return store_signal_wait(listener, timeout_ms, out->kind, sizeof(out->kind), out->payload,
                             sizeof(out->payload));
}

static void a_signal_reaches_a_listener_intact(void **state)
{
    (void)state;
    store *listener = open_listener();
    received got;
    assert_int_equal(wait_for(listener, 50, &got), STORE_NOT_FOUND);
    assert_int_equal(store_signal_send(db, "key", "key_123"), STORE_OK);
    assert_int_equal(store_signal_send(db, "poke", ""), STORE_OK);
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_string_equal(got.kind, "key");
    assert_string_equal(got.payload, "key_123");
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK); /* in order, an empty payload too */
    assert_string_equal(got.kind, "poke");
    assert_string_equal(got.payload, "");
    assert_int_equal(wait_for(listener, 0, &got), STORE_NOT_FOUND);
    store_close(listener);
}

static void hostile_payloads_travel_intact_or_are_refused(void **state)
{
    (void)state;
    store *listener = open_listener();
    /* quotes, backslashes, SQL and spaces travel as they are */
    static const char hostile[] = "x'); DROP TABLE tasks; -- \"q\" \\ $1 || ' ' ";
    assert_int_equal(store_signal_send(db, "poke", hostile), STORE_OK);
    received got;
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_string_equal(got.kind, "poke");
    assert_string_equal(got.payload, hostile);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks"), 0); /* the table is still there */
    /* control characters, bytes above ASCII, too long a payload, bad kinds: refused, nothing sent */
    assert_int_equal(store_signal_send(db, "poke", "two\nlines"), STORE_ERROR);
    assert_int_equal(store_signal_send(db, "poke", "caf\xc3\xa9"), STORE_ERROR);
    char too_long[STORE_SIGNAL_PAYLOAD_MAX + 2];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_int_equal(store_signal_send(db, "poke", too_long), STORE_ERROR);
    assert_int_equal(store_signal_send(db, "", "x"), STORE_ERROR);
    assert_int_equal(store_signal_send(db, "Key", "x"), STORE_ERROR);
    assert_int_equal(store_signal_send(db, "key x", "x"), STORE_ERROR);
    assert_int_equal(store_signal_send(db, "a_kind_name_longer_than_31_bytes", "x"), STORE_ERROR);
    too_long[STORE_SIGNAL_PAYLOAD_MAX] = '\0'; /* exactly the limit: fine */
    assert_int_equal(store_signal_send(db, "poke", too_long), STORE_OK);
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_int_equal(strlen(got.payload), STORE_SIGNAL_PAYLOAD_MAX);
    assert_int_equal(wait_for(listener, 100, &got), STORE_NOT_FOUND); /* the refused ones never left */
    store_close(listener);
}

static void malformed_notifications_are_dropped(void **state)
{
    (void)state;
    store *listener = open_listener();
    char sql[512];
    /* raw NOTIFYs on the channel, as anything else with access to the database could send */
    snprintf(sql, sizeof(sql),
             "SELECT pg_notify(left('reelay.' || current_schema(), 63), 'nospace'),"
             " pg_notify(left('reelay.' || current_schema(), 63), 'BAD kind'),"
             " pg_notify(left('reelay.' || current_schema(), 63), 'poke ' || repeat('z', 2000)),"
             " pg_notify(left('reelay.' || current_schema(), 63), 'poke a' || chr(10) || 'b'),"
             " pg_notify(left('reelay.' || current_schema(), 63), 'key good')");
    fixture_exec(sql);
    received got;
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_string_equal(got.kind, "key");
    assert_string_equal(got.payload, "good");
    store_close(listener);
}

static void other_schemas_do_not_hear_it(void **state)
{
    (void)state;
    store *listener = open_listener();
    /* the same database, the default schema: another installation */
    fixture_exec("SELECT pg_notify('reelay.public', 'key other')");
    assert_int_equal(store_signal_send(db, "key", "ours"), STORE_OK);
    received got;
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_string_equal(got.payload, "ours");
    assert_int_equal(wait_for(listener, 100, &got), STORE_NOT_FOUND);
    store_close(listener);
}

static void a_lost_listener_is_told_and_listens_again(void **state)
{
    (void)state;
    store *listener = open_listener();
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
             "WHERE query = 'LISTEN \"reelay.%s\"'",
             schema_name);
    fixture_exec(sql);
    received got;
    assert_int_equal(wait_for(listener, 5000, &got), STORE_ERROR);
    assert_int_equal(store_signal_listen(listener), STORE_OK); /* reconnects */
    assert_int_equal(store_signal_send(db, "channel", "fal-1"), STORE_OK);
    assert_int_equal(wait_for(listener, 5000, &got), STORE_OK);
    assert_string_equal(got.kind, "channel");
    assert_string_equal(got.payload, "fal-1");
    store_close(listener);
}

static void sqlite_sends_nothing_and_cannot_listen(void **state)
{
    (void)state;
    assert_false(store_signals_supported(db));
    assert_int_equal(store_signal_send(db, "key", "key_1"), STORE_OK);
    assert_int_equal(store_signal_send(db, "key", "a\nb"), STORE_ERROR);
    assert_int_equal(store_signal_listen(db), STORE_ERROR);
    received got;
    assert_int_equal(wait_for(db, 0, &got), STORE_ERROR);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest sqlite_only[] = {
        WITH_STORE(sqlite_sends_nothing_and_cannot_listen),
    };
    const struct CMUnitTest postgres_only[] = {
        WITH_STORE(a_signal_reaches_a_listener_intact),
        WITH_STORE(hostile_payloads_travel_intact_or_are_refused),
        WITH_STORE(malformed_notifications_are_dropped),
        WITH_STORE(other_schemas_do_not_hear_it),
        WITH_STORE(a_lost_listener_is_told_and_listens_again),
    };
    return store_fixture_main("test_store_signals", NULL, 0, sqlite_only,
                              sizeof(sqlite_only) / sizeof(sqlite_only[0]), NULL, 0) +
           store_fixture_postgres_only("test_store_signals", postgres_only,
                                       sizeof(postgres_only) / sizeof(postgres_only[0]));
}

/* test_store_callbacks.c — the callback outbox: due rows claimed oldest first under a lease (never
 * twice, also by racing connections), each attempt's outcome (delivered, retry at a time, given up),
 * the earliest due time, and rows that outlive the connection (restart). On both backends
 * (store_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"

/* A queued row as the finishing transaction would leave it (due at next_at_ms). */
static void queue(const char *task_id, const char *url, int64_t next_at_ms)
{
    char sql[512]; /* the ids and URLs of these tests hold no quote */
    int length = snprintf(sql, sizeof(sql),
                          "INSERT INTO callbacks (task_id, key_id, url, next_at, created_at, updated_at) "
                          "VALUES ('%s', 'key_a', '%s', %lld, %lld, %lld)",
                          task_id, url, (long long)next_at_ms, (long long)next_at_ms / 1000,
                          (long long)next_at_ms / 1000);
    assert_true(length > 0 && (size_t)length < sizeof(sql));
    fixture_exec(sql);
}

static callback_delivery get(const char *task_id)
{
    callback_delivery delivery;
    assert_int_equal(store_callback_get(db, task_id, &delivery), STORE_OK);
    return delivery;
}

static void an_empty_outbox_has_nothing_due(void **state)
{
    (void)state;
    callback_record *records = (callback_record *)1;
    size_t count = 7;
    assert_int_equal(store_callbacks_claim_due(db, 1000, 12000, 10, &records, &count), STORE_OK);
    assert_null(records);
    assert_int_equal(count, 0);
    int64_t next = 0;
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_NOT_FOUND);
    callback_delivery delivery;
    assert_int_equal(store_callback_get(db, "task-unified-1-nothing0", &delivery), STORE_NOT_FOUND);
    assert_int_equal(
        store_callback_finish_attempt(db, "task-unified-1-nothing0", 1, CALLBACK_DELIVERED, 200, "", 0, 1),
        STORE_NOT_FOUND);
}

static void due_rows_are_claimed_oldest_first_under_a_lease(void **state)
{
    (void)state;
    queue("task-unified-1-cccccccc", "https://c.example/hook", 3000);
    queue("task-unified-1-aaaaaaaa", "https://a.example/hook", 1000);
    queue("task-unified-1-bbbbbbbb", "https://b.example/hook", 2000);
    queue("task-unified-1-later000", "https://later.example/hook", 9000);
    int64_t next = 0;
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_OK);
    assert_int_equal(next, 1000);

    callback_record *records = NULL;
    size_t count = 0;
    assert_int_equal(store_callbacks_claim_due(db, 5000, 16000, 2, &records, &count), STORE_OK);
    assert_int_equal(count, 2); /* the limit */
    assert_string_equal(records[0].task_id, "task-unified-1-aaaaaaaa");
    assert_string_equal(records[0].url, "https://a.example/hook");
    assert_string_equal(records[0].key_id, "key_a");
    assert_int_equal(records[0].attempts, 1);
    assert_int_equal(records[0].next_at_ms, 16000);
    assert_string_equal(records[1].task_id, "task-unified-1-bbbbbbbb");
    free(records);

    /* claimed rows are not due again before their lease ends; the rest are */
    assert_int_equal(store_callbacks_claim_due(db, 5000, 16000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_string_equal(records[0].task_id, "task-unified-1-cccccccc");
    free(records);
    assert_int_equal(store_callbacks_claim_due(db, 5000, 16000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_OK);
    assert_int_equal(next, 9000);

    /* a lease that runs out (the sender died mid-attempt) makes the row due again; the attempt counted */
    assert_int_equal(store_callbacks_claim_due(db, 16000, 27000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 4);
    assert_string_equal(records[0].task_id, "task-unified-1-later000");
    assert_int_equal(records[0].attempts, 1);
    assert_int_equal(records[1].attempts, 2);
    free(records);
}

static void outcomes_deliver_retry_and_give_up(void **state)
{
    (void)state;
    const char *id = "task-unified-1-dddddddd";
    queue(id, "https://d.example/hook", 1000);
    callback_record *records = NULL;
    size_t count = 0;

    /* failed: due again at the given time, with the last status and error kept */
    assert_int_equal(store_callbacks_claim_due(db, 1000, 12000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    free(records);
    assert_int_equal(
        store_callback_finish_attempt(db, id, 1, CALLBACK_DUE, 500, "d.example answered 500", 2100, 1100),
        STORE_OK);
    callback_delivery delivery = get(id);
    assert_int_equal(delivery.state, CALLBACK_DUE);
    assert_int_equal(delivery.record.attempts, 1);
    assert_int_equal(delivery.record.next_at_ms, 2100);
    assert_int_equal(delivery.last_status, 500);
    assert_string_equal(delivery.last_error, "d.example answered 500");
    assert_int_equal(store_callbacks_claim_due(db, 2099, 13000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_callbacks_claim_due(db, 2100, 13000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(records[0].attempts, 2);
    free(records);

    /* a late outcome of attempt 1 (its lease ran out, attempt 2 is under way) changes nothing */
    assert_int_equal(store_callback_finish_attempt(db, id, 1, CALLBACK_GIVEN_UP, 0, "late", 0, 2150),
                     STORE_CONFLICT);
    delivery = get(id);
    assert_int_equal(delivery.state, CALLBACK_DUE);
    assert_int_equal(delivery.record.attempts, 2);
    assert_int_equal(delivery.record.next_at_ms, 13000);

    /* delivered: never due again; a second outcome for it is a conflict */
    assert_int_equal(store_callback_finish_attempt(db, id, 2, CALLBACK_DELIVERED, 204, NULL, 0, 2200),
                     STORE_OK);
    delivery = get(id);
    assert_int_equal(delivery.state, CALLBACK_DELIVERED);
    assert_int_equal(delivery.last_status, 204);
    assert_string_equal(delivery.last_error, "");
    assert_string_equal(callback_state_name(delivery.state), "delivered");
    assert_int_equal(store_callback_finish_attempt(db, id, 2, CALLBACK_GIVEN_UP, 500, "late", 0, 2300),
                     STORE_CONFLICT);
    int64_t next = 0;
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_NOT_FOUND);
    assert_int_equal(store_callbacks_claim_due(db, 99000, 110000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 0);

    /* given up: the same */
    const char *other = "task-unified-1-eeeeeeee";
    queue(other, "https://e.example/hook", 1000);
    assert_int_equal(store_callback_finish_attempt(db, other, 0, CALLBACK_GIVEN_UP, 0, "timeout", 0, 3000),
                     STORE_OK);
    delivery = get(other);
    assert_int_equal(delivery.state, CALLBACK_GIVEN_UP);
    assert_string_equal(callback_state_name(delivery.state), "given_up");
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_NOT_FOUND);
    assert_int_equal(store_callbacks_claim_due(db, 99000, 110000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 0);
}

static void the_delivery_state_says_when_it_last_changed(void **state)
{
    (void)state;
    const char *id = "task-unified-1-gggggggg";
    queue(id, "https://g.example/hook", 1000);
    assert_int_equal(get(id).updated_at, 1); /* queued */
    callback_record *records = NULL;
    size_t count = 0;
    assert_int_equal(store_callbacks_claim_due(db, 5000, 16000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    free(records);
    assert_int_equal(get(id).updated_at, 5); /* claimed */
    assert_int_equal(store_callback_finish_attempt(db, id, 1, CALLBACK_DUE, 502, "bad gateway", 9000, 7500),
                     STORE_OK);
    callback_delivery delivery = get(id);
    assert_int_equal(delivery.updated_at, 7); /* the attempt's outcome */
    assert_int_equal(delivery.last_status, 502);
}

static void the_outbox_outlives_the_connection(void **state)
{
    (void)state;
    queue("task-unified-1-ffffffff", "https://f.example/hook", 1000);
    callback_record *records = NULL;
    size_t count = 0;
    assert_int_equal(store_callbacks_claim_due(db, 1000, 12000, 10, &records, &count), STORE_OK);
    free(records);
    store_close(db); /* as a crash mid-attempt: nothing recorded */
    assert_int_equal(fixture_open(&db), STORE_OK);
    int64_t next = 0;
    assert_int_equal(store_callbacks_next_due(db, &next), STORE_OK);
    assert_int_equal(next, 12000);
    assert_int_equal(store_callbacks_claim_due(db, 12000, 23000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(records[0].attempts, 2);
    free(records);
}

/* The real queueing path: a task with a callback_url that finishes has its row due at once. */
static void a_finished_task_is_due_at_once(void **state)
{
    (void)state;
    unsigned char hash[32] = {9};
    key_record key = {.id = "key_a", .user_group = "default", .created_at = 1};
    assert_int_equal(store_key_insert(db, &key, hash, NULL), STORE_OK);
    task_record task;
    memset(&task, 0, sizeof(task));
    snprintf(task.id, sizeof(task.id), "task-unified-100-gggggggg");
    snprintf(task.key_id, sizeof(task.key_id), "key_a");
    snprintf(task.model, sizeof(task.model), "sora-2");
    snprintf(task.user_group, sizeof(task.user_group), "default");
    task.state = TASK_PENDING;
    task.created_at = task.updated_at = 100;
    task.deadline_at = 3700;
    task.params_json = (char *)"{\"model\":\"sora-2\",\"callback_url\":\"https://g.example/hook?x=1\"}";
    assert_int_equal(store_task_insert(db, &task), STORE_OK);
    assert_int_equal(store_task_cancel(db, task.id, "key_a", 150), STORE_OK);
    callback_record *records = NULL;
    size_t count = 0;
    assert_int_equal(store_callbacks_claim_due(db, 150000, 161000, 10, &records, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_string_equal(records[0].task_id, task.id);
    assert_string_equal(records[0].url, "https://g.example/hook?x=1");
    assert_string_equal(records[0].key_id, "key_a");
    assert_int_equal(records[0].attempts, 1);
    free(records);
}

enum { RACERS = 4, RACE_ROWS = 200 };

typedef struct racer {
    int claimed;
    bool too_many;
    char (*seen)[IDS_TASK_ID_SIZE];
} racer;

static void *claim_all(void *arg)
{
    racer *r = arg;
    store *own = NULL;
    if (fixture_open(&own) != STORE_OK) return NULL;
    for (;;) {
        callback_record *records = NULL;
        size_t count = 0;
        if (store_callbacks_claim_due(own, 10000, 50000, 7, &records, &count) != STORE_OK || count == 0) {
            free(records);
            break;
        }
        if (r->claimed + (int)count > RACE_ROWS) { /* rows claimed twice: the test fails on it */
            r->too_many = true;
            free(records);
            break;
        }
        for (size_t i = 0; i < count; i++)
            snprintf(r->seen[r->claimed++], IDS_TASK_ID_SIZE, "%s", records[i].task_id);
        free(records);
    }
    store_close(own);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void racing_senders_never_claim_a_row_twice(void **state)
{
    (void)state;
    /* one statement for every row: a connection per row would be most of the test's time */
    static char sql[RACE_ROWS * 128];
    int used =
        snprintf(sql, sizeof(sql),
                 "INSERT INTO callbacks (task_id, key_id, url, next_at, created_at, updated_at) VALUES ");
    for (int i = 0; i < RACE_ROWS; i++)
        used += snprintf(sql + used, sizeof(sql) - (size_t)used,
                         "%s('task-unified-1-r%07d', 'key_a', 'https://race.example/hook', %d, 1, 1)",
                         i ? ", " : "", i, 1000 + i);
    assert_true((size_t)used < sizeof(sql));
    fixture_exec(sql);
    static char seen[RACERS][RACE_ROWS][IDS_TASK_ID_SIZE];
    racer racers[RACERS];
    pthread_t threads[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer){.seen = seen[i]};
        assert_int_equal(pthread_create(&threads[i], NULL, claim_all, &racers[i]), 0);
    }
    static char all[RACERS * RACE_ROWS][IDS_TASK_ID_SIZE];
    int total = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        assert_false(racers[i].too_many);
        for (int j = 0; j < racers[i].claimed; j++)
            memcpy(all[total++], seen[i][j], IDS_TASK_ID_SIZE);
    }
    assert_int_equal(total, RACE_ROWS);
    qsort(all, (size_t)total, IDS_TASK_ID_SIZE, compare_ids);
    for (int i = 1; i < total; i++)
        assert_string_not_equal(all[i - 1], all[i]);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(an_empty_outbox_has_nothing_due),
        WITH_STORE(due_rows_are_claimed_oldest_first_under_a_lease),
        WITH_STORE(outcomes_deliver_retry_and_give_up),
        WITH_STORE(the_delivery_state_says_when_it_last_changed),
        WITH_STORE(the_outbox_outlives_the_connection),
        WITH_STORE(a_finished_task_is_due_at_once),
    };
    const struct CMUnitTest races[] = {
        WITH_STORE(racing_senders_never_claim_a_row_twice),
    };
    return store_fixture_main("test_store_callbacks", both, sizeof(both) / sizeof(both[0]), NULL, 0, races,
                              sizeof(races) / sizeof(races[0]));
}

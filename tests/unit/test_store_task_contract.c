/* test_store_task_contract.c — the task parts of store.h that test_store_tasks.c leaves implicit, on
 * both backends (store_fixture.h): every field of a task, NOT_FOUND for unknown ids on every call,
 * terminal shortcuts refused, listing limits and has_more, batches all or none, a completed task's results
 * replaced (its previews), and racing terminal transitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store_fixture.h"

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

    task_record bare = fixture_new_task("task-unified-5-barebare", "key_full", 5);
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
    task_record t = fixture_new_task("task-unified-6-known000", "key_a", 6);
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
    task_record t = fixture_new_task("task-unified-7-shortcut", "key_a", 7);
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
    task_record t = fixture_new_task("task-unified-8-cancelme", "key_a", 8);
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
        task_record t = fixture_new_task(id, "key_a", 1000 + i);
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

    /* oldest first (OpenAI's order=asc): from the oldest, and after a cursor the newer ones */
    task_list_query ascending = {.key_id = "key_a", .limit = 2, .state = -1, .oldest_first = true};
    assert_int_equal(store_task_list(db, &ascending, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 2);
    assert_true(more);
    assert_string_equal(page[0].id, "task-unified-9-00000000");
    assert_string_equal(page[1].id, "task-unified-9-00000001");
    task_records_free(page, count);
    ascending.after_id = "task-unified-9-00000098";
    assert_int_equal(store_task_list(db, &ascending, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 2);
    assert_false(more);
    assert_string_equal(page[0].id, "task-unified-9-00000099");
    assert_string_equal(page[1].id, "task-unified-9-00000100");
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
        task_record t = fixture_new_task(ids[i], "key_a", created[i]);
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

/* ---- batches ---- */

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
    task_record batch[3] = {fixture_new_task("task-unified-2-batch001", "key_a", 2),
                            fixture_new_task("task-unified-2-batch002", "key_a", 2),
                            fixture_new_task("task-unified-2-batch003", "key_a", 2)};
    assert_int_equal(store_task_insert_batch(db, batch, 0), STORE_OK);
    assert_int_equal(store_task_insert_batch(db, batch, 3), STORE_OK);
    for (int i = 0; i < 3; i++)
        assert_true(task_exists(batch[i].id));

    /* the last one collides with a stored task: the first two must not stay */
    task_record clash[3] = {fixture_new_task("task-unified-2-clash001", "key_a", 2),
                            fixture_new_task("task-unified-2-clash002", "key_a", 2), batch[1]};
    assert_int_equal(store_task_insert_batch(db, clash, 3), STORE_CONFLICT);
    assert_false(task_exists(clash[0].id));
    assert_false(task_exists(clash[1].id));
    /* a duplicate inside the batch itself */
    task_record twice[2] = {fixture_new_task("task-unified-2-twice001", "key_a", 2),
                            fixture_new_task("task-unified-2-twice001", "key_a", 2)};
    assert_int_equal(store_task_insert_batch(db, twice, 2), STORE_CONFLICT);
    assert_false(task_exists(twice[0].id));

    /* the connection is left outside any transaction: a later write commits and is seen by others */
    assert_int_equal(store_task_insert_batch(db, clash, 2), STORE_OK);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks"), 5);
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
    bool opened = fixture_open(&own) == STORE_OK;
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
        task_record t = fixture_new_task(id, "key_a", 4);
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

/* A completed task's results are replaced (its previews added after completion); nothing else is. */
static void results_of_completed_tasks_are_replaced(void **state)
{
    (void)state;
    task_record t = fixture_new_task("task-unified-8-previews", "key_a", 8);
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    const char *previews = "[{\"object\":\"o\",\"thumbnail\":\"p\"}]";
    assert_int_equal(store_task_set_results(db, t.id, previews, 9), STORE_CONFLICT); /* pending */
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_FINALIZING, "c", 9), STORE_OK);
    assert_int_equal(store_task_set_results(db, t.id, previews, 9), STORE_CONFLICT); /* not completed yet */
    assert_int_equal(store_task_complete(db, t.id, TASK_FINALIZING, "[{\"object\":\"o\"}]", -1, 10),
                     STORE_OK);
    assert_int_equal(store_task_set_results(db, t.id, "not an array", 11), STORE_ERROR);
    assert_int_equal(store_task_set_results(db, t.id, NULL, 11), STORE_ERROR);
    assert_int_equal(store_task_set_results(db, "task-unified-8-missing0", previews, 11), STORE_NOT_FOUND);
    assert_int_equal(store_task_set_results(db, t.id, previews, 12), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_string_equal(read.results_json, previews);
    assert_int_equal(read.state, TASK_COMPLETED);
    assert_int_equal(read.progress, 100);
    assert_true(read.completed_at == 10); /* still when it completed */
    assert_true(read.updated_at == 12);
    task_record_clear(&read);
    assert_int_equal(store_task_fail(db, t.id, "timeout", "late", 13), STORE_CONFLICT);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(every_task_field_round_trips),
        WITH_STORE(unknown_tasks_are_not_found_everywhere),
        WITH_STORE(transitions_refuse_terminal_shortcuts),
        WITH_STORE(cancel_records_the_fixed_reason),
        WITH_STORE(listing_limits_and_has_more),
        WITH_STORE(unfinished_are_listed_oldest_first),
        WITH_STORE(batches_insert_all_or_none),
        WITH_STORE(results_of_completed_tasks_are_replaced),
    };
    const struct CMUnitTest races[] = {
        WITH_STORE(complete_and_cancel_race_to_one_outcome),
    };
    return store_fixture_main("test_store_task_contract", both, sizeof(both) / sizeof(both[0]), NULL, 0,
                              races, sizeof(races) / sizeof(races[0]));
}

/* test_store_admin.c — what operators read (store.h, both backends): a fact read and replaced, the tasks
 * summary by state and model with the finished-lately counts, and each channel's recent activity (in
 * flight, completed, failed, the median duration), which leaves out what is too old or cancelled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

enum { NOW = 1800000000 };

static void facts_are_read_and_replaced(void **state)
{
    (void)state;
    char value[64];
    assert_int_equal(store_fact_get(db, "admin_token_sha256", value, sizeof(value)), STORE_NOT_FOUND);
    assert_int_equal(store_fact_set(db, "admin_token_sha256", "aa"), STORE_OK);
    assert_int_equal(store_fact_get(db, "admin_token_sha256", value, sizeof(value)), STORE_OK);
    assert_string_equal(value, "aa");
    char stored[64];
    assert_int_equal(store_fact_claim(db, "admin_token_sha256", "bb", stored, sizeof(stored)), STORE_OK);
    assert_string_equal(stored, "aa"); /* a claim keeps the first */
    assert_int_equal(store_fact_set(db, "admin_token_sha256", "cc"), STORE_OK);
    assert_int_equal(store_fact_get(db, "admin_token_sha256", value, sizeof(value)), STORE_OK);
    assert_string_equal(value, "cc"); /* a set replaces it */
}

/* A task of model on channel, created at created, moved to state (finished at finished when terminal). */
static void add_task(const char *id, const char *model, const char *channel, task_state state,
                     int64_t created, int64_t finished)
{
    task_record t = fixture_new_task(id, "key_a", created);
    snprintf(t.model, sizeof(t.model), "%s", model);
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    if (state == TASK_PENDING) return;
    assert_int_equal(store_task_transition(db, id, TASK_PENDING, TASK_SUBMITTING, channel, created),
                     STORE_OK);
    if (state == TASK_PROCESSING)
        assert_int_equal(store_task_transition(db, id, TASK_SUBMITTING, TASK_PROCESSING, NULL, created),
                         STORE_OK);
    if (state == TASK_COMPLETED)
        assert_int_equal(store_task_complete(db, id, TASK_SUBMITTING, "[{\"url\":\"x\"}]", -1, finished),
                         STORE_OK);
    if (state == TASK_FAILED)
        assert_int_equal(store_task_fail(db, id, "upstream_error", "no", finished), STORE_OK);
    if (state == TASK_CANCELLED) assert_int_equal(store_task_cancel(db, id, "key_a", finished), STORE_OK);
}

static void seed(void)
{
    add_task("t1", "sora-2", "a", TASK_COMPLETED, NOW - 100, NOW - 90);   /* 10 s */
    add_task("t2", "sora-2", "a", TASK_COMPLETED, NOW - 100, NOW - 70);   /* 30 s */
    add_task("t3", "sora-2", "a", TASK_COMPLETED, NOW - 1000, NOW - 980); /* 20 s */
    add_task("t4", "sora-2", "a", TASK_FAILED, NOW - 50, NOW - 30);
    add_task("t5", "veo-3", "a", TASK_PROCESSING, NOW - 20, 0);
    add_task("t6", "veo-3", "b", TASK_SUBMITTING, NOW - 20, 0);
    add_task("t7", "veo-3", "b", TASK_COMPLETED, NOW - 9000, NOW - 8000); /* too old for the hour */
    add_task("t8", "veo-3", "b", TASK_CANCELLED, NOW - 10, NOW - 5);
    add_task("t9", "kling-2", "", TASK_PENDING, NOW - 5, 0);
}

static void the_summary_counts_by_state_and_model(void **state)
{
    (void)state;
    seed();
    task_summary summary;
    assert_int_equal(store_task_summary(db, NOW, &summary), STORE_OK);
    assert_int_equal(summary.by_state[TASK_COMPLETED], 4);
    assert_int_equal(summary.by_state[TASK_FAILED], 1);
    assert_int_equal(summary.by_state[TASK_PENDING], 1);
    assert_int_equal(summary.by_state[TASK_CANCELLED], 1);
    assert_int_equal(summary.model_count, 3);
    assert_string_equal(summary.models[0].model, "kling-2");
    assert_string_equal(summary.models[1].model, "sora-2");
    assert_int_equal(summary.models[1].by_state[TASK_COMPLETED], 3);
    assert_int_equal(summary.models[1].by_state[TASK_FAILED], 1);
    assert_int_equal(summary.models[2].by_state[TASK_PROCESSING], 1);
    assert_int_equal(summary.models[2].by_state[TASK_SUBMITTING], 1);
    assert_int_equal(summary.finished_last_minute, 2); /* t4 (30 s ago) and t8 (5 s ago) */
    assert_int_equal(summary.finished_last_hour, 5);   /* and t1, t2, t3 */
    free(summary.models);
}

static void channel_activity_is_recent_and_per_channel(void **state)
{
    (void)state;
    seed();
    channel_activity *rows = NULL;
    size_t count = 0;
    assert_int_equal(store_channel_activity(db, NOW - 3600, &rows, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(rows[0].channel, "a");
    assert_int_equal(rows[0].in_flight, 1);
    assert_int_equal(rows[0].completed, 3);
    assert_int_equal(rows[0].failed, 1);
    assert_int_equal(rows[0].median_seconds, 20); /* of 10, 20, 30 */
    assert_string_equal(rows[1].channel, "b");
    assert_int_equal(rows[1].in_flight, 1);
    assert_int_equal(rows[1].completed, 0); /* t7 is older than the window, t8 was cancelled */
    assert_int_equal(rows[1].median_seconds, -1);
    free(rows);
    assert_int_equal(store_channel_activity(db, NOW + 10, &rows, &count), STORE_OK);
    assert_int_equal(count, 2); /* what is in flight stays listed */
    assert_int_equal(rows[0].completed + rows[1].completed, 0);
    free(rows);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(facts_are_read_and_replaced),
        WITH_STORE(the_summary_counts_by_state_and_model),
        WITH_STORE(channel_activity_is_recent_and_per_channel),
    };
    return store_fixture_main("test_store_admin", both, sizeof(both) / sizeof(both[0]), NULL, 0, NULL, 0);
}

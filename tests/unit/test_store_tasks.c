/* test_store_tasks.c — the store on both backends (store_fixture.h): reopening, keys, channels, every
 * compare-and-set rule of the task life, listing, racing writers, and durability across kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store_fixture.h"

static task_record new_task(const char *id, const char *key_id, int64_t created, const char *model)
{
    task_record t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.key_id, sizeof(t.key_id), "%s", key_id);
    snprintf(t.model, sizeof(t.model), "%s", model);
    snprintf(t.user_group, sizeof(t.user_group), "default");
    t.state = TASK_PENDING;
    t.created_at = t.updated_at = created;
    t.deadline_at = created + 3600;
    t.credits_reserved = 12;
    t.params_json = (char *)"{\"model\":\"sora-2\",\"prompt\":\"x\"}";
    return t;
}

static void reopening_keeps_data_and_schema(void **state)
{
    (void)state;
    task_record t = new_task("task-unified-1-aaaaaaaa", "key_a", 1, "sora-2");
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    store *again = NULL;
    assert_int_equal(fixture_open(&again), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(again, t.id, &read), STORE_OK);
    assert_string_equal(read.params_json, t.params_json);
    task_record_clear(&read);
    store_close(again);
}

static void keys_are_found_by_hash_until_revoked(void **state)
{
    (void)state;
    unsigned char hash[32] = {1, 2, 3}, other[32] = {9};
    key_record key = {.id = "key_one", .name = "first", .user_group = "default", .created_at = 10};
    assert_int_equal(store_key_insert(db, &key, hash, NULL), STORE_OK);
    key_record same_hash = {.id = "key_two", .created_at = 11};
    assert_int_equal(store_key_insert(db, &same_hash, hash, NULL), STORE_CONFLICT);
    key_record found;
    assert_int_equal(store_key_find_by_hash(db, hash, &found), STORE_OK);
    assert_string_equal(found.id, "key_one");
    assert_string_equal(found.name, "first");
    assert_int_equal(store_key_find_by_hash(db, other, &found), STORE_NOT_FOUND);
    assert_int_equal(store_key_revoke(db, "key_one", 20), STORE_OK);
    assert_int_equal(store_key_find_by_hash(db, hash, &found), STORE_NOT_FOUND);
    assert_int_equal(store_key_revoke(db, "key_none", 20), STORE_NOT_FOUND);
    key_record *keys = NULL;
    size_t count = 0;
    assert_int_equal(store_key_list(db, &keys, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(keys[0].revoked_at, 20);
    free(keys);
}

static void channels_list_by_priority(void **state)
{
    (void)state;
    channel_record low = {
        .name = "low", .provider = "sandbox", .models = "all", .priority = 1, .weight = 1, .enabled = true};
    channel_record high = {
        .name = "high", .provider = "fal", .models = "sora-2,sync-3", .priority = 5, .weight = 2};
    assert_int_equal(store_channel_insert(db, &low), STORE_OK);
    assert_int_equal(store_channel_insert(db, &high), STORE_OK);
    assert_int_equal(store_channel_insert(db, &low), STORE_CONFLICT);
    channel_record *channels = NULL;
    size_t count = 0;
    assert_int_equal(store_channel_list(db, &channels, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(channels[0].name, "high");
    assert_false(channels[0].enabled);
    assert_true(channel_serves_model(&channels[0], "sync-3"));
    assert_false(channel_serves_model(&channels[0], "sync"));
    assert_false(channel_serves_model(&channels[0], "sora-2-pro"));
    assert_true(channel_serves_model(&channels[1], "anything"));
    free(channels);
}

static void transitions_are_compare_and_set(void **state)
{
    (void)state;
    task_record t = new_task("task-unified-2-bbbbbbbb", "key_a", 2, "sora-2");
    assert_int_equal(store_task_insert(db, &t), STORE_OK);
    assert_int_equal(store_task_insert(db, &t), STORE_CONFLICT);
    assert_int_equal(store_task_transition(db, t.id, TASK_PROCESSING, TASK_FINALIZING, NULL, 3),
                     STORE_CONFLICT);
    assert_int_equal(
        store_task_transition(db, "task-unified-2-zzzzzzzz", TASK_PENDING, TASK_SUBMITTING, NULL, 3),
        STORE_NOT_FOUND);
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_SUBMITTING, "sandbox", 3), STORE_OK);
    assert_int_equal(store_task_transition(db, t.id, TASK_SUBMITTING, TASK_PROCESSING, NULL, 3), STORE_OK);
    assert_int_equal(store_task_transition(db, t.id, TASK_PROCESSING, TASK_COMPLETED, NULL, 3), STORE_ERROR);
    assert_int_equal(store_task_set_progress(db, t.id, 40, 4), STORE_OK);
    assert_int_equal(store_task_set_progress(db, t.id, 20, 4), STORE_OK);
    assert_int_equal(store_task_set_progress(db, t.id, 100, 4), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.progress, 99); /* never backwards, never 100 before completion */
    assert_string_equal(read.channel, "sandbox");
    task_record_clear(&read);
    assert_int_equal(store_task_complete(db, t.id, TASK_PROCESSING, "[]", -1, 5), STORE_ERROR);
    assert_int_equal(store_task_complete(db, t.id, TASK_PROCESSING, "not json", -1, 5), STORE_ERROR);
    assert_int_equal(store_task_complete(db, t.id, TASK_FINALIZING, "[{\"object\":\"x\"}]", -1, 5),
                     STORE_CONFLICT);
    assert_int_equal(store_task_complete(db, t.id, TASK_PROCESSING, "[{\"object\":\"x\"}]", -1, 5), STORE_OK);
    assert_int_equal(store_task_get(db, t.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_COMPLETED);
    assert_int_equal(read.progress, 100);
    assert_int_equal(read.completed_at, 5);
    assert_string_equal(read.results_json, "[{\"object\":\"x\"}]");
    task_record_clear(&read);
    assert_int_equal(store_task_fail(db, t.id, "timeout", "late", 6), STORE_CONFLICT);
    assert_int_equal(store_task_cancel(db, t.id, "key_a", 6), STORE_CONFLICT);
    assert_int_equal(store_task_set_progress(db, t.id, 10, 6), STORE_CONFLICT);
}

static void cancel_and_fail_record_why(void **state)
{
    (void)state;
    task_record a = new_task("task-unified-3-cccccccc", "key_a", 3, "sora-2");
    task_record b = new_task("task-unified-3-dddddddd", "key_a", 3, "sora-2");
    assert_int_equal(store_task_insert(db, &a), STORE_OK);
    assert_int_equal(store_task_insert(db, &b), STORE_OK);
    assert_int_equal(store_task_cancel(db, a.id, "key_other", 4), STORE_NOT_FOUND);
    assert_int_equal(store_task_cancel(db, a.id, "key_a", 4), STORE_OK);
    assert_int_equal(store_task_cancel(db, a.id, "key_a", 4), STORE_CONFLICT);
    assert_int_equal(store_task_fail(db, b.id, "input_unreachable", "404 upstream", 5), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(db, a.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_CANCELLED);
    assert_string_equal(read.error_code, "cancelled");
    assert_non_null(read.error_message);
    task_record_clear(&read);
    assert_int_equal(store_task_get(db, b.id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_FAILED);
    assert_string_equal(read.error_code, "input_unreachable");
    assert_string_equal(read.error_message, "404 upstream");
    assert_int_equal(read.completed_at, 5);
    task_record_clear(&read);
    int64_t counts[TASK_STATE_COUNT];
    assert_int_equal(store_task_count_by_state(db, counts), STORE_OK);
    assert_int_equal(counts[TASK_CANCELLED], 1);
    assert_int_equal(counts[TASK_FAILED], 1);
    assert_int_equal(counts[TASK_PENDING], 0);
}

static void listing_pages_newest_first(void **state)
{
    (void)state;
    char id[IDS_TASK_ID_SIZE];
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "task-unified-%d-%08d", 100 + i / 3, 7 - i); /* ids not in time order */
        task_record t = new_task(id, "key_a", 100 + i / 3, i % 2 ? "sora-2" : "sync-3");
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
    task_record other = new_task("task-unified-999-xxxxxxxx", "key_b", 999, "sora-2");
    assert_int_equal(store_task_insert(db, &other), STORE_OK);
    task_list_query query = {.key_id = "key_a", .limit = 3, .state = -1};
    task_record *page = NULL;
    size_t count = 0;
    bool more = false;
    char seen[8][IDS_TASK_ID_SIZE];
    size_t total = 0;
    do {
        assert_int_equal(store_task_list(db, &query, &page, &count, &more), STORE_OK);
        for (size_t i = 0; i < count; i++) {
            snprintf(seen[total], sizeof(seen[total]), "%s", page[i].id);
            assert_string_equal(page[i].key_id, "key_a");
            total++;
        }
        if (count) snprintf(id, sizeof(id), "%s", page[count - 1].id);
        task_records_free(page, count);
        query.after_id = id;
    } while (more);
    assert_int_equal(total, 7);
    /* newest first, insertion order breaking ties within a second */
    assert_string_equal(seen[0], "task-unified-102-00000001");
    assert_string_equal(seen[1], "task-unified-101-00000002");
    assert_string_equal(seen[6], "task-unified-100-00000007");
    task_list_query filtered = {.key_id = "key_a", .limit = 100, .state = TASK_PENDING, .model = "sora-2"};
    assert_int_equal(store_task_list(db, &filtered, &page, &count, &more), STORE_OK);
    assert_int_equal(count, 3);
    task_records_free(page, count);
    task_list_query foreign = {
        .key_id = "key_a", .limit = 10, .state = -1, .after_id = "task-unified-999-xxxxxxxx"};
    assert_int_equal(store_task_list(db, &foreign, &page, &count, &more), STORE_NOT_FOUND);
    task_record *unfinished = NULL;
    assert_int_equal(store_task_list_unfinished(db, &unfinished, &count), STORE_OK);
    assert_int_equal(count, 8);
    task_records_free(unfinished, count);
}

/* Two connections race the same compare-and-set; exactly one wins every round. */
typedef struct racer {
    int wins;
    pthread_barrier_t *barrier;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    store *own = NULL;
    if (fixture_open(&own) != STORE_OK) return NULL;
    char id[IDS_TASK_ID_SIZE];
    for (int round = 0; round < 50; round++) {
        snprintf(id, sizeof(id), "task-unified-7-r%07d", round);
        pthread_barrier_wait(r->barrier);
        if (store_task_transition(own, id, TASK_PENDING, TASK_SUBMITTING, NULL, 8) == STORE_OK) r->wins++;
    }
    store_close(own);
    return NULL;
}

static void racing_writers_have_one_winner(void **state)
{
    (void)state;
    char id[IDS_TASK_ID_SIZE];
    for (int round = 0; round < 50; round++) {
        snprintf(id, sizeof(id), "task-unified-7-r%07d", round);
        task_record t = new_task(id, "key_a", 7, "sora-2");
        assert_int_equal(store_task_insert(db, &t), STORE_OK);
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    racer a = {.barrier = &barrier}, b = {.barrier = &barrier};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &a);
    pthread_create(&tb, NULL, race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(a.wins + b.wins, 50);
}

static void committed_tasks_survive_kill9(void **state)
{
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        store *own = NULL;
        if (fixture_open(&own) != STORE_OK) _exit(3);
        task_record t = new_task("task-unified-9-killedxx", "key_a", 9, "sora-2");
        if (store_task_insert(own, &t) != STORE_OK) _exit(4);
        kill(getpid(), SIGKILL); /* no close, no checkpoint */
        _exit(5);
    }
    int status = 0;
    waitpid(child, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    store *again = NULL;
    assert_int_equal(fixture_open(&again), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(again, "task-unified-9-killedxx", &read), STORE_OK);
    assert_int_equal(read.state, TASK_PENDING);
    task_record_clear(&read);
    store_close(again);
}

static void state_names_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < TASK_STATE_COUNT; s++) {
        task_state parsed;
        assert_true(task_state_parse(task_state_name((task_state)s), &parsed));
        assert_int_equal(parsed, s);
        assert_int_equal(task_state_is_terminal((task_state)s), s >= TASK_COMPLETED);
    }
    task_state parsed;
    assert_false(task_state_parse("done", &parsed));
    assert_false(task_state_parse(NULL, &parsed));
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(reopening_keeps_data_and_schema), WITH_STORE(keys_are_found_by_hash_until_revoked),
        WITH_STORE(channels_list_by_priority),       WITH_STORE(transitions_are_compare_and_set),
        WITH_STORE(cancel_and_fail_record_why),      WITH_STORE(listing_pages_newest_first),
        WITH_STORE(committed_tasks_survive_kill9),   cmocka_unit_test(state_names_round_trip),
    };
    const struct CMUnitTest races[] = {
        WITH_STORE(racing_writers_have_one_winner),
    };
    return store_fixture_main("test_store_tasks", both, sizeof(both) / sizeof(both[0]), NULL, 0, races,
                              sizeof(races) / sizeof(races[0]));
}

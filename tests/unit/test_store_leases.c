/* test_store_leases.c — nodes, their leases on tasks, epoch fencing and claims (store.h), on both
 * backends: a node's tasks are its own until its lease passes, a node taken over can neither renew nor
 * write, a clean leave hands tasks back at once, and racing claimers never take one task twice. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_fixture.h"

static void sleep_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* A task inserted through `conn` (so it carries conn's epoch). */
static void insert_task(store *conn, const char *id)
{
    task_record t = fixture_new_task(id, "key_a", 1000);
    assert_int_equal(store_task_insert(conn, &t), STORE_OK);
}

static int64_t lease_of(const char *id)
{
    int64_t epoch = -1;
    assert_int_equal(store_task_lease(db, id, &epoch), STORE_OK);
    return epoch;
}

static void epochs_are_new_and_stamp_inserted_tasks(void **state)
{
    (void)state;
    int64_t first = 0, second = 0;
    assert_int_equal(store_node_register(db, "node-a", 10000, &first), STORE_OK);
    store *other = NULL;
    assert_int_equal(fixture_open(&other), STORE_OK);
    assert_int_equal(store_node_register(other, "node-b", 10000, &second), STORE_OK);
    assert_true(first > 0);
    assert_true(second > first);
    insert_task(db, "task-a");
    insert_task(other, "task-b");
    assert_int_equal(lease_of("task-a"), first);
    assert_int_equal(lease_of("task-b"), second);
    store_set_lease_epoch(other, 0); /* unfenced: inserted tasks belong to nobody */
    insert_task(other, "task-free");
    assert_int_equal(lease_of("task-free"), 0);
    int64_t unknown = 0;
    assert_int_equal(store_task_lease(db, "task-none", &unknown), STORE_NOT_FOUND);
    store_close(other);
}

/* Every engine write by a connection whose epoch the task does not carry is refused. */
static void writes_are_fenced_by_the_epoch(void **state)
{
    (void)state;
    int64_t owner = 0, stranger = 0;
    store *mine = NULL, *theirs = NULL;
    assert_int_equal(fixture_open(&mine), STORE_OK);
    assert_int_equal(fixture_open(&theirs), STORE_OK);
    assert_int_equal(store_node_register(mine, "owner", 60000, &owner), STORE_OK);
    assert_int_equal(store_node_register(theirs, "stranger", 60000, &stranger), STORE_OK);
    insert_task(mine, "task-f");
    insert_task(mine, "task-g");
    assert_int_equal(store_task_transition(theirs, "task-f", TASK_PENDING, TASK_SUBMITTING, "c", 1001),
                     STORE_CONFLICT);
    assert_int_equal(store_task_set_upstream(theirs, "task-f", TASK_PENDING, TASK_PENDING, "c", "{}", 1001),
                     STORE_CONFLICT);
    assert_int_equal(store_task_set_progress(theirs, "task-f", 50, 1001), STORE_CONFLICT);
    assert_int_equal(store_task_fail(theirs, "task-f", "x", "y", 1001), STORE_CONFLICT);
    assert_int_equal(store_task_transition(mine, "task-f", TASK_PENDING, TASK_PROCESSING, "c", 1001),
                     STORE_OK);
    assert_int_equal(store_task_complete(theirs, "task-f", TASK_PROCESSING, "[{\"url\":\"u\"}]", -1, 1002),
                     STORE_CONFLICT);
    assert_int_equal(store_task_complete(mine, "task-f", TASK_PROCESSING, "[{\"url\":\"u\"}]", -1, 1002),
                     STORE_OK);
    /* a cancel is a user's: any node (or none) may make it */
    assert_int_equal(store_task_cancel(theirs, "task-g", "key_a", 1003), STORE_OK);
    task_record back;
    assert_int_equal(store_task_get(db, "task-g", &back), STORE_OK);
    assert_int_equal(back.state, TASK_CANCELLED);
    task_record_clear(&back);
    store_close(mine);
    store_close(theirs);
}

/* A node whose lease passed is taken over: its tasks move to the claimer, it can neither renew nor
 * write them. (On SQLite a registering node ends every earlier one at once; on PostgreSQL only an
 * expired lease does.) */
static void an_expired_node_is_taken_over(void **state)
{
    (void)state;
    int64_t paused = 0, claimer = 0;
    store *sleeper = NULL, *awake = NULL;
    assert_int_equal(fixture_open(&sleeper), STORE_OK);
    assert_int_equal(fixture_open(&awake), STORE_OK);
    assert_int_equal(store_node_register(sleeper, "sleeper", on_postgres ? 300 : 60000, &paused), STORE_OK);
    insert_task(sleeper, "task-1");
    insert_task(sleeper, "task-2");
    assert_int_equal(store_node_register(awake, "awake", 60000, &claimer), STORE_OK);
    task_record *claimed = NULL;
    size_t count = 0;
    if (on_postgres) { /* a live lease is respected */
        assert_int_equal(store_tasks_claim(awake, claimer, 10, &claimed, &count), STORE_OK);
        assert_int_equal(count, 0);
        assert_null(claimed);
        assert_int_equal(store_node_renew(sleeper, paused, 300), STORE_OK);
        sleep_ms(400);
    }
    assert_int_equal(store_tasks_claim(awake, claimer, 10, &claimed, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(claimed[0].id, "task-1");
    assert_string_equal(claimed[1].id, "task-2");
    assert_string_equal(claimed[0].params_json, "{\"prompt\":\"x\"}");
    task_records_free(claimed, count);
    assert_int_equal(lease_of("task-1"), claimer);
    /* the sleeper wakes: it cannot renew, nor write what it no longer owns */
    assert_int_equal(store_node_renew(sleeper, paused, 10000), STORE_CONFLICT);
    assert_int_equal(store_task_transition(sleeper, "task-1", TASK_PENDING, TASK_SUBMITTING, "c", 1001),
                     STORE_CONFLICT);
    assert_int_equal(store_task_transition(awake, "task-1", TASK_PENDING, TASK_SUBMITTING, "c", 1001),
                     STORE_OK);
    /* nothing is left to claim; the list shows who is who */
    assert_int_equal(store_tasks_claim(awake, claimer, 10, &claimed, &count), STORE_OK);
    assert_int_equal(count, 0);
    node_record *nodes = NULL;
    assert_int_equal(store_node_list(db, &nodes, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_int_equal(nodes[0].epoch, claimer);
    assert_false(nodes[0].taken_over);
    assert_int_equal(nodes[0].tasks, 2);
    assert_string_equal(nodes[1].name, "sleeper");
    assert_true(nodes[1].taken_over);
    assert_int_equal(nodes[1].tasks, 0);
    free(nodes);
    store_close(sleeper);
    store_close(awake);
}

/* A node leaving cleanly hands its unfinished tasks back: claimable at once, finished ones untouched. */
static void a_leaving_node_hands_its_tasks_back(void **state)
{
    (void)state;
    int64_t leaving = 0, staying = 0;
    store *gone = NULL, *live = NULL;
    assert_int_equal(fixture_open(&gone), STORE_OK);
    assert_int_equal(fixture_open(&live), STORE_OK);
    assert_int_equal(store_node_register(live, "staying", 60000, &staying), STORE_OK);
    assert_int_equal(store_node_register(gone, "leaving", 60000, &leaving), STORE_OK);
    insert_task(gone, "task-open");
    insert_task(gone, "task-done");
    assert_int_equal(store_task_fail(gone, "task-done", "x", "y", 1001), STORE_OK);
    assert_int_equal(store_node_leave(gone, leaving), STORE_OK);
    assert_int_equal(lease_of("task-open"), 0);
    assert_int_equal(lease_of("task-done"), leaving);
    task_record *claimed = NULL;
    size_t count = 0;
    assert_int_equal(store_tasks_claim(live, staying, 10, &claimed, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_string_equal(claimed[0].id, "task-open");
    task_records_free(claimed, count);
    assert_int_equal(store_node_renew(gone, leaving, 1000), STORE_CONFLICT); /* its row is gone */
    store_close(gone);
    store_close(live);
}

static void facts_keep_the_first_value(void **state)
{
    (void)state;
    char stored[80];
    assert_int_equal(store_fact_claim(db, "secrets_fingerprint", "abc", stored, sizeof(stored)), STORE_OK);
    assert_string_equal(stored, "abc");
    assert_int_equal(store_fact_claim(db, "secrets_fingerprint", "xyz", stored, sizeof(stored)), STORE_OK);
    assert_string_equal(stored, "abc");
    assert_int_equal(store_fact_claim(db, "other", "it's \"quoted\"", stored, sizeof(stored)), STORE_OK);
    assert_string_equal(stored, "it's \"quoted\"");
}

static store_status take_slot(store *conn, const char *id, int cap, bool *full)
{
    return store_task_take_channel_slot(conn, id, TASK_PENDING, "capped", cap, "{\"phase\":\"sending\"}",
                                        1001, full);
}

/* A channel's cap counts every task occupying it, whoever wrote it. */
static void channel_slots_are_counted_in_the_store(void **state)
{
    (void)state;
    insert_task(db, "task-s1");
    insert_task(db, "task-s2");
    insert_task(db, "task-s3");
    bool full = true;
    assert_int_equal(take_slot(db, "task-s1", 2, &full), STORE_OK);
    assert_false(full);
    assert_int_equal(take_slot(db, "task-s2", 2, &full), STORE_OK);
    assert_int_equal(take_slot(db, "task-s3", 2, &full), STORE_CONFLICT);
    assert_true(full);
    task_record back;
    assert_int_equal(store_task_get(db, "task-s3", &back), STORE_OK);
    assert_int_equal(back.state, TASK_PENDING); /* nothing changed */
    assert_string_equal(back.channel, "");
    task_record_clear(&back);
    /* a lost compare-and-set is not "full" */
    assert_int_equal(take_slot(db, "task-s1", 2, &full), STORE_CONFLICT);
    assert_false(full);
    /* a task that ends frees its slot */
    assert_int_equal(store_task_fail(db, "task-s1", "x", "y", 1002), STORE_OK);
    assert_int_equal(take_slot(db, "task-s3", 2, &full), STORE_OK);
    assert_int_equal(store_task_get(db, "task-s3", &back), STORE_OK);
    assert_int_equal(back.state, TASK_SUBMITTING);
    assert_string_equal(back.channel, "capped");
    assert_string_equal(back.upstream_json, "{\"phase\":\"sending\"}");
    task_record_clear(&back);
    /* no cap: no count */
    insert_task(db, "task-s4");
    assert_int_equal(take_slot(db, "task-s4", 0, &full), STORE_OK);
}

/* Connections racing for a capped channel's slots: never more than the cap together. */
enum { SLOT_RACERS = 8, SLOT_CAP = 3 };
static atomic_int slots_taken;

static void *slot_racer_main(void *arg)
{
    store *own = NULL;
    if (fixture_open(&own) != STORE_OK) return (void *)1;
    char id[32];
    snprintf(id, sizeof(id), "task-r%d", (int)(intptr_t)arg);
    bool full = false;
    store_status status = take_slot(own, id, SLOT_CAP, &full);
    store_close(own);
    if (status == STORE_OK) atomic_fetch_add(&slots_taken, 1);
    return status == STORE_OK || (status == STORE_CONFLICT && full) ? NULL : (void *)1;
}

static void racing_slot_takers_never_exceed_the_cap(void **state)
{
    (void)state;
    atomic_store(&slots_taken, 0);
    for (int i = 0; i < SLOT_RACERS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "task-r%d", i);
        insert_task(db, id);
    }
    pthread_t threads[SLOT_RACERS];
    for (int i = 0; i < SLOT_RACERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, slot_racer_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < SLOT_RACERS; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        assert_null(result);
    }
    assert_int_equal(atomic_load(&slots_taken), SLOT_CAP);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks WHERE channel = 'capped' AND state = 1"),
                     SLOT_CAP);
}

/* Claimers racing over handed-back tasks: each task is claimed exactly once. */
enum { CLAIMERS = 6, RACED_TASKS = 120 };
static int claimed_by[RACED_TASKS];
static pthread_mutex_t claimed_lock = PTHREAD_MUTEX_INITIALIZER;

static void *claimer_main(void *arg)
{
    (void)arg;
    store *own = NULL;
    int64_t epoch = 0;
    if (fixture_open(&own) != STORE_OK) return (void *)1;
    if (store_node_register(own, "claimer", 60000, &epoch) != STORE_OK) return (void *)1;
    void *failed = NULL;
    for (int round = 0; round < 40 && failed == NULL; round++) {
        task_record *tasks = NULL;
        size_t count = 0;
        if (store_tasks_claim(own, epoch, 7, &tasks, &count) != STORE_OK) {
            failed = (void *)1;
            break;
        }
        pthread_mutex_lock(&claimed_lock);
        for (size_t i = 0; i < count; i++)
            claimed_by[atoi(tasks[i].id + 5)]++;
        pthread_mutex_unlock(&claimed_lock);
        task_records_free(tasks, count);
    }
    store_close(own);
    return failed;
}

static void racing_claimers_never_share_a_task(void **state)
{
    (void)state;
    memset(claimed_by, 0, sizeof(claimed_by));
    for (int i = 0; i < RACED_TASKS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "task-%d", i);
        insert_task(db, id); /* db has no epoch: nobody's */
    }
    pthread_t threads[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, claimer_main, NULL), 0);
    for (int i = 0; i < CLAIMERS; i++) {
        void *result = NULL;
        pthread_join(threads[i], &result);
        assert_null(result);
    }
    /* SQLite: each registration ends the earlier nodes, so a task may move on to a later claimer — but
     * never to two live ones at once; PostgreSQL: every node stays live, so each task is claimed once. */
    for (int i = 0; i < RACED_TASKS; i++) {
        if (on_postgres)
            assert_int_equal(claimed_by[i], 1);
        else
            assert_true(claimed_by[i] >= 1);
    }
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks WHERE lease_epoch = 0"), 0);
}

int main(void)
{
#define WITH_STORE(test) cmocka_unit_test_setup_teardown(test, open_fresh, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_STORE(epochs_are_new_and_stamp_inserted_tasks),
        WITH_STORE(writes_are_fenced_by_the_epoch),
        WITH_STORE(an_expired_node_is_taken_over),
        WITH_STORE(a_leaving_node_hands_its_tasks_back),
        WITH_STORE(facts_keep_the_first_value),
        WITH_STORE(channel_slots_are_counted_in_the_store),
    };
    const struct CMUnitTest races[] = {
        WITH_STORE(racing_claimers_never_share_a_task),
        WITH_STORE(racing_slot_takers_never_exceed_the_cap),
    };
    return store_fixture_main("test_store_leases", both, sizeof(both) / sizeof(both[0]), NULL, 0, races,
                              sizeof(races) / sizeof(races[0]));
}

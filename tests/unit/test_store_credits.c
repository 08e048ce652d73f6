/* test_store_credits.c — the credit ledger and task admission: grants, reservations that refuse to
 * overspend (also from racing threads), idempotency keys, the concurrency limit, settlement and refund
 * exactly once, the callback outbox, and the audit that proves balances equal their ledger. On both
 * backends (store_fixture.h). */
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

/* A fresh store (store_fixture.h) with two keys. */
static int open_with_keys(void **state)
{
    if (open_fresh(state) != 0) return -1;
    unsigned char hash_a[32] = {1}, hash_b[32] = {2};
    key_record a = {.id = "key_a", .user_group = "default", .created_at = 1};
    key_record b = {.id = "key_b", .user_group = "vip", .created_at = 1, .max_concurrent = 2};
    if (store_key_insert(db, &a, hash_a, "sealed-secret") != STORE_OK) return -1;
    return store_key_insert(db, &b, hash_b, NULL) == STORE_OK ? 0 : -1;
}

static task_record new_task(const char *id, const char *key_id, double reserve, const char *params)
{
    task_record t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.key_id, sizeof(t.key_id), "%s", key_id);
    snprintf(t.model, sizeof(t.model), "sora-2");
    snprintf(t.user_group, sizeof(t.user_group), "default");
    t.state = TASK_PENDING;
    t.created_at = t.updated_at = 100;
    t.deadline_at = 100 + 3600;
    t.credits_reserved = reserve;
    t.params_json = (char *)(params ? params : "{\"model\":\"sora-2\",\"prompt\":\"x\"}");
    return t;
}

static admit_outcome admit(const task_record *task, const char *idempotency_key, unsigned char hash_byte,
                           int max_concurrent, char existing[IDS_TASK_ID_SIZE])
{
    task_admission item = {
        .task = task, .idempotency_key = idempotency_key, .max_concurrent = max_concurrent};
    memset(item.request_hash, hash_byte, sizeof(item.request_hash));
    assert_int_equal(store_task_admit(db, &item, 1, true), STORE_OK);
    if (existing) snprintf(existing, IDS_TASK_ID_SIZE, "%s", item.existing_id);
    return item.outcome;
}

static void assert_balance(const char *key_id, int64_t available, int64_t reserved)
{
    credit_balance balance;
    assert_int_equal(store_credits_balance(db, key_id, &balance), STORE_OK);
    assert_int_equal(balance.available, available);
    assert_int_equal(balance.reserved, reserved);
}

static void assert_audit_clean(void)
{
    credit_audit audit;
    assert_int_equal(store_credits_audit(db, &audit), STORE_OK);
    if (audit.problems) fail_msg("audit: %s", audit.first_problem);
}

static void grants_move_the_balance_and_never_below_zero(void **state)
{
    (void)state;
    assert_balance("key_a", 0, 0);
    assert_int_equal(store_credits_grant(db, "key_a", 500, "welcome", 10), STORE_OK);
    assert_int_equal(store_credits_grant(db, "key_a", -200, "correction", 11), STORE_OK);
    assert_int_equal(store_credits_grant(db, "key_a", -301, "too much", 12), STORE_CONFLICT);
    assert_int_equal(store_credits_grant(db, "key_nobody", 5, "", 12), STORE_NOT_FOUND);
    assert_balance("key_a", 300, 0);
    ledger_entry *entries = NULL;
    size_t count = 0;
    assert_int_equal(store_credits_ledger(db, "key_a", 0, &entries, &count), STORE_OK);
    assert_int_equal(count, 2); /* the refused grant left no trace */
    assert_int_equal(entries[0].kind, LEDGER_GRANT);
    assert_int_equal(entries[0].amount, 500);
    assert_string_equal(entries[1].note, "correction");
    free(entries);
    assert_audit_clean();
}

static void admission_reserves_or_refuses_without_a_trace(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 100, "", 10), STORE_OK);
    task_record first = new_task("task-unified-100-aaaaaaa1", "key_a", 60, NULL);
    task_record second = new_task("task-unified-100-aaaaaaa2", "key_a", 60, NULL);
    assert_int_equal(admit(&first, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_balance("key_a", 40, 60);
    assert_int_equal(admit(&second, NULL, 0, 0, NULL), ADMIT_INSUFFICIENT_CREDITS);
    task_record read;
    assert_int_equal(store_task_get(db, second.id, &read), STORE_NOT_FOUND);
    assert_balance("key_a", 40, 60);
    assert_audit_clean();
}

static void settlement_charges_the_actual_and_returns_the_rest_once(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 100, "", 10), STORE_OK);
    task_record t = new_task("task-unified-100-aaaaaaa1", "key_a", 80, NULL);
    assert_int_equal(admit(&t, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_task_transition(db, t.id, TASK_PENDING, TASK_FINALIZING, "sandbox", 101),
                     STORE_OK);
    assert_int_equal(store_task_complete(db, t.id, TASK_FINALIZING, "[{\"url\":\"x\"}]", 30, 102), STORE_OK);
    assert_balance("key_a", 70, 0);
    /* a second finish of any kind loses the compare-and-set and moves nothing */
    assert_int_equal(store_task_complete(db, t.id, TASK_FINALIZING, "[{\"url\":\"x\"}]", 30, 103),
                     STORE_CONFLICT);
    assert_int_equal(store_task_fail(db, t.id, "timeout", "late", 103), STORE_CONFLICT);
    assert_balance("key_a", 70, 0);
    /* a charge above the reservation is clamped to it */
    task_record over = new_task("task-unified-100-aaaaaaa2", "key_a", 50, NULL);
    assert_int_equal(admit(&over, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_task_complete(db, over.id, TASK_PENDING, "[1]", 999, 104), STORE_OK);
    assert_balance("key_a", 20, 0);
    assert_audit_clean();
}

static void failure_and_cancellation_refund_in_full(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 100, "", 10), STORE_OK);
    task_record failed = new_task("task-unified-100-aaaaaaa1", "key_a", 30, NULL);
    task_record cancelled = new_task("task-unified-100-aaaaaaa2", "key_a", 45, NULL);
    assert_int_equal(admit(&failed, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(admit(&cancelled, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_balance("key_a", 25, 75);
    assert_int_equal(store_task_fail(db, failed.id, "generation_failed", "no", 105), STORE_OK);
    assert_balance("key_a", 55, 45);
    assert_int_equal(store_task_cancel(db, cancelled.id, "key_b", 105), STORE_NOT_FOUND); /* not the owner */
    assert_int_equal(store_task_cancel(db, cancelled.id, "key_a", 105), STORE_OK);
    assert_int_equal(store_task_cancel(db, cancelled.id, "key_a", 106), STORE_CONFLICT);
    assert_balance("key_a", 100, 0);
    ledger_entry *entries = NULL;
    size_t count = 0;
    assert_int_equal(store_credits_ledger(db, "key_a", 2, &entries, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_int_equal(entries[0].kind, LEDGER_REFUND);
    assert_int_equal(entries[0].amount, 30);
    assert_int_equal(entries[1].kind, LEDGER_REFUND);
    assert_string_equal(entries[1].task_id, cancelled.id);
    free(entries);
    assert_audit_clean();
}

static void idempotency_keys_return_the_first_task_or_refuse_another_body(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 100, "", 10), STORE_OK);
    task_record first = new_task("task-unified-100-aaaaaaa1", "key_a", 10, NULL);
    task_record retry = new_task("task-unified-100-aaaaaaa2", "key_a", 10, NULL);
    char existing[IDS_TASK_ID_SIZE];
    assert_int_equal(admit(&first, "order-7", 0xAA, 0, NULL), ADMIT_CREATED);
    assert_int_equal(admit(&retry, "order-7", 0xAA, 0, existing), ADMIT_DUPLICATE);
    assert_string_equal(existing, first.id);
    assert_int_equal(admit(&retry, "order-7", 0xBB, 0, existing), ADMIT_IDEMPOTENCY_MISMATCH);
    assert_balance("key_a", 90, 10); /* charged once */
    unsigned char hash[32];
    memset(hash, 0xAA, sizeof(hash));
    char found[IDS_TASK_ID_SIZE];
    bool same = false;
    assert_int_equal(store_idempotency_find(db, "key_a", "order-7", hash, 150, found, &same), STORE_OK);
    assert_true(same);
    assert_string_equal(found, first.id);
    assert_int_equal(store_idempotency_find(db, "key_b", "order-7", hash, 150, found, &same),
                     STORE_NOT_FOUND);
    /* the same key string of another API key is another key */
    task_record other = new_task("task-unified-100-aaaaaaa3", "key_b", 0, NULL);
    assert_int_equal(admit(&other, "order-7", 0xBB, 0, NULL), ADMIT_CREATED);
    /* past the TTL the key is forgotten and may be used afresh */
    task_record later = new_task("task-unified-200-aaaaaaa4", "key_a", 10, NULL);
    later.created_at = first.created_at + STORE_IDEMPOTENCY_TTL_SECONDS + 1;
    assert_int_equal(admit(&later, "order-7", 0xCC, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_idempotency_expire(db, later.created_at + STORE_IDEMPOTENCY_TTL_SECONDS + 1),
                     STORE_OK);
    assert_audit_clean();
}

static void the_concurrency_limit_counts_unfinished_tasks(void **state)
{
    (void)state;
    task_record t1 = new_task("task-unified-100-bbbbbbb1", "key_b", 0, NULL);
    task_record t2 = new_task("task-unified-100-bbbbbbb2", "key_b", 0, NULL);
    task_record t3 = new_task("task-unified-100-bbbbbbb3", "key_b", 0, NULL);
    assert_int_equal(admit(&t1, NULL, 0, 2, NULL), ADMIT_CREATED);
    assert_int_equal(admit(&t2, NULL, 0, 2, NULL), ADMIT_CREATED);
    assert_int_equal(admit(&t3, NULL, 0, 2, NULL), ADMIT_TOO_MANY_TASKS);
    assert_int_equal(store_task_fail(db, t1.id, "timeout", "x", 101), STORE_OK);
    assert_int_equal(admit(&t3, NULL, 0, 2, NULL), ADMIT_CREATED);
    assert_audit_clean();
}

static void a_batch_mixes_outcomes_in_one_commit(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 25, "", 10), STORE_OK);
    task_record tasks[4];
    task_admission items[4];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < 4; i++) {
        char id[IDS_TASK_ID_SIZE];
        snprintf(id, sizeof(id), "task-unified-100-ccccccc%d", i);
        tasks[i] = new_task(id, "key_a", 10, NULL);
        items[i].task = &tasks[i];
    }
    assert_int_equal(store_task_admit(db, items, 4, true), STORE_OK);
    assert_int_equal(items[0].outcome, ADMIT_CREATED);
    assert_int_equal(items[1].outcome, ADMIT_CREATED);
    assert_int_equal(items[2].outcome, ADMIT_INSUFFICIENT_CREDITS);
    assert_int_equal(items[3].outcome, ADMIT_INSUFFICIENT_CREDITS);
    assert_int_equal(items[1].available, 5);
    assert_balance("key_a", 5, 20);
    assert_audit_clean();
}

/* Two tasks of one batch with the same id (ids_task_new's rare collision), and one whose id an earlier
 * task has: the later ones are refused alone, nothing of theirs is stored, the rest commit. */
static void a_taken_id_refuses_that_task_alone(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 100, "", 10), STORE_OK);
    task_record first = new_task("task-unified-100-00aaaaaa", "key_a", 10, NULL);
    assert_int_equal(admit(&first, NULL, 0, 0, NULL), ADMIT_CREATED);
    task_record tasks[3] = {new_task("task-unified-100-00bbbbbb", "key_a", 10, NULL),
                            new_task("task-unified-100-00bbbbbb", "key_a", 10, NULL),
                            new_task("task-unified-100-00aaaaaa", "key_a", 10, NULL)};
    task_admission items[3] = {{.task = &tasks[0]}, {.task = &tasks[1]}, {.task = &tasks[2]}};
    assert_int_equal(store_task_admit(db, items, 3, true), STORE_OK);
    assert_int_equal(items[0].outcome, ADMIT_CREATED);
    assert_int_equal(items[1].outcome, ADMIT_ID_TAKEN);
    assert_int_equal(items[2].outcome, ADMIT_ID_TAKEN);
    assert_balance("key_a", 80, 20); /* two reservations, not four */
    assert_audit_clean();
}

static void a_finished_task_with_a_callback_url_queues_one_delivery(void **state)
{
    (void)state;
    task_record with = new_task("task-unified-100-ddddddd1", "key_a", 0,
                                "{\"model\":\"sora-2\",\"callback_url\":\"https://example.test/hook\"}");
    task_record without = new_task("task-unified-100-ddddddd2", "key_a", 0, NULL);
    assert_int_equal(admit(&with, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(admit(&without, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_task_fail(db, with.id, "timeout", "x", 200), STORE_OK);
    assert_int_equal(store_task_fail(db, without.id, "timeout", "x", 200), STORE_OK);
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM callbacks"), 1);
    callback_delivery delivery;
    assert_int_equal(store_callback_get(db, with.id, &delivery), STORE_OK);
    assert_string_equal(delivery.record.task_id, with.id);
    assert_string_equal(delivery.record.url, "https://example.test/hook");
    assert_int_equal(delivery.state, CALLBACK_DUE);
    assert_int_equal(delivery.record.next_at_ms, 200000);
    assert_int_equal(delivery.record.attempts, 0);
    assert_int_equal(delivery.updated_at, 200);
    assert_int_equal(store_callback_get(db, without.id, &delivery), STORE_NOT_FOUND);
    char secret[64];
    assert_int_equal(store_key_webhook_secret(db, "key_a", secret, sizeof(secret)), STORE_OK);
    assert_string_equal(secret, "sealed-secret");
    assert_int_equal(store_key_webhook_secret(db, "key_nobody", secret, sizeof(secret)), STORE_NOT_FOUND);
}

static void key_limits_can_be_changed(void **state)
{
    (void)state;
    assert_int_equal(store_key_update_limits(db, "key_a", "vip", 60, -1), STORE_OK);
    assert_int_equal(store_key_update_limits(db, "key_nobody", NULL, 1, 1), STORE_NOT_FOUND);
    key_record *keys = NULL;
    size_t count = 0;
    assert_int_equal(store_key_list(db, &keys, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(keys[0].id, "key_a");
    assert_string_equal(keys[0].user_group, "vip");
    assert_int_equal(keys[0].rpm_limit, 60);
    assert_int_equal(keys[0].max_concurrent, 0);
    assert_int_equal(keys[1].max_concurrent, 2);
    free(keys);
}

/* ---- racing admissions: many threads, each with its own connection, against a small balance ---- */

enum { RACERS = 6, PER_RACER = 20 };

typedef struct racer {
    int index;
    int created, refused;
    int refunded, settled, pending; /* what became of the tasks it created */
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    store *own = NULL;
    if (fixture_open(&own) != STORE_OK) return NULL;
    for (int i = 0; i < PER_RACER; i++) {
        char id[IDS_TASK_ID_SIZE];
        snprintf(id, sizeof(id), "task-unified-100-r%02d%05d", r->index, i);
        task_record t = new_task(id, "key_a", 7, NULL);
        task_admission item = {.task = &t};
        if (store_task_admit(own, &item, 1, true) != STORE_OK) break;
        if (item.outcome == ADMIT_CREATED) {
            r->created++;
            if (i % 3 == 0) {
                if (store_task_fail(own, id, "generation_failed", "x", 101) == STORE_OK) r->refunded++;
            } else if (i % 3 == 1) {
                if (store_task_complete(own, id, TASK_PENDING, "[1]", 3, 101) == STORE_OK) r->settled++;
            } else {
                r->pending++;
            }
        } else if (item.outcome == ADMIT_INSUFFICIENT_CREDITS) {
            r->refused++;
        }
    }
    store_close(own);
    return NULL;
}

static void racing_admissions_never_overspend(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 200, "", 10), STORE_OK);
    pthread_t threads[RACERS];
    racer racers[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer){.index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    }
    int created = 0, refused = 0, refunded = 0, settled = 0, pending = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        created += racers[i].created;
        refused += racers[i].refused;
        refunded += racers[i].refunded;
        settled += racers[i].settled;
        pending += racers[i].pending;
    }
    assert_int_equal(created + refused, RACERS * PER_RACER);
    assert_int_equal(refunded + settled + pending, created);
    assert_true(refused > 0);
    /* Not "less than one price left": a refund of another racer may land after the last refusal. The
     * balance is exactly what the outcomes leave: 7 held per pending task, 3 charged per completed one. */
    credit_balance balance;
    assert_int_equal(store_credits_balance(db, "key_a", &balance), STORE_OK);
    assert_int_equal(balance.reserved, 7 * pending);
    assert_int_equal(balance.available, 200 - 7 * pending - 3 * settled);
    assert_true(balance.available >= 0);
    assert_audit_clean();
}

/* ---- batches naming two keys in opposite orders, racing: neither may fail (no deadlock) ---- */

enum { CROSSING_ROUNDS = 30 };

typedef struct crossing {
    bool a_first;
    int admitted, failed;
    pthread_barrier_t *barrier;
} crossing;

static void *cross(void *arg)
{
    crossing *c = arg;
    store *own = NULL;
    bool opened = fixture_open(&own) == STORE_OK;
    for (int round = 0; round < CROSSING_ROUNDS; round++) {
        pthread_barrier_wait(c->barrier); /* every round, even when the open failed: no deadlock */
        if (!opened) continue;
        char first_id[IDS_TASK_ID_SIZE], second_id[IDS_TASK_ID_SIZE];
        snprintf(first_id, sizeof(first_id), "task-unified-100-x%d%06d", c->a_first, round);
        snprintf(second_id, sizeof(second_id), "task-unified-100-y%d%06d", c->a_first, round);
        task_record tasks[2] = {new_task(first_id, c->a_first ? "key_a" : "key_b", 1, NULL),
                                new_task(second_id, c->a_first ? "key_b" : "key_a", 1, NULL)};
        task_admission items[2] = {{.task = &tasks[0]}, {.task = &tasks[1]}};
        if (store_task_admit(own, items, 2, true) != STORE_OK) {
            c->failed++;
            continue;
        }
        c->admitted += (items[0].outcome == ADMIT_CREATED) + (items[1].outcome == ADMIT_CREATED);
    }
    store_close(own);
    if (!opened) c->failed = CROSSING_ROUNDS;
    return NULL;
}

static void batches_crossing_two_keys_both_commit(void **state)
{
    (void)state;
    assert_int_equal(store_credits_grant(db, "key_a", 1000, "", 10), STORE_OK);
    assert_int_equal(store_credits_grant(db, "key_b", 1000, "", 10), STORE_OK);
    assert_int_equal(store_key_update_limits(db, "key_b", NULL, -1, 0), STORE_OK); /* no concurrency cap */
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    crossing forward = {.a_first = true, .barrier = &barrier},
             backward = {.a_first = false, .barrier = &barrier};
    pthread_t one, two;
    assert_int_equal(pthread_create(&one, NULL, cross, &forward), 0);
    assert_int_equal(pthread_create(&two, NULL, cross, &backward), 0);
    pthread_join(one, NULL);
    pthread_join(two, NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(forward.failed + backward.failed, 0);
    assert_int_equal(forward.admitted + backward.admitted, 4 * CROSSING_ROUNDS);
    assert_balance("key_a", 1000 - 2 * CROSSING_ROUNDS, 2 * CROSSING_ROUNDS);
    assert_balance("key_b", 1000 - 2 * CROSSING_ROUNDS, 2 * CROSSING_ROUNDS);
    assert_audit_clean();
}

/* A database from before the ledger holds tasks without any ledger entry: the audit passes them over,
 * and finishing one moves no credits. A task that should have a reservation and has none is a problem. */
static void tasks_older_than_the_ledger_are_not_audited(void **state)
{
    (void)state;
    task_record old = new_task("task-unified-1-oldtask0", "key_a", 0, NULL); /* created_at 100: long ago */
    assert_int_equal(store_task_insert(db, &old), STORE_OK);
    credit_audit audit;
    assert_int_equal(store_credits_audit(db, &audit), STORE_OK);
    assert_int_equal(audit.problems, 0);
    assert_int_equal(audit.tasks_before_ledger, 1);
    assert_int_equal(audit.tasks_checked, 0);
    assert_int_equal(store_task_fail(db, old.id, "timeout", "too slow", 200), STORE_OK);
    assert_balance("key_a", 0, 0);
    assert_int_equal(store_credits_audit(db, &audit), STORE_OK);
    assert_int_equal(audit.problems, 0);
}

/* A task made since the ledger exists but without a reservation is a problem the audit reports. */
static void a_task_without_its_reservation_is_reported(void **state)
{
    (void)state;
    credit_audit audit;
    task_record stray = new_task("task-unified-1-strayta0", "key_a", 0, NULL);
    stray.created_at = stray.updated_at = time(NULL) + 60;
    assert_int_equal(store_task_insert(db, &stray), STORE_OK);
    assert_int_equal(store_credits_audit(db, &audit), STORE_OK);
    assert_int_equal(audit.problems, 1);
    assert_non_null(strstr(audit.first_problem, "task-unified-1-strayta0"));
}

/* Settles task `id` of key_id (reserving `reserve`) with a charge of `charge` at `at`. */
static void settle_at(const char *id, const char *key_id, int64_t reserve, int64_t charge, int64_t at)
{
    task_record t = new_task(id, key_id, (double)reserve, NULL);
    assert_int_equal(admit(&t, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_task_complete(db, t.id, TASK_PENDING, "[1]", charge, at), STORE_OK);
}

static void daily_usage_sums_settled_charges_per_utc_day(void **state)
{
    (void)state;
    const int64_t day = 20000 * 86400LL; /* a UTC midnight */
    assert_int_equal(store_credits_grant(db, "key_a", 1000, "", 10), STORE_OK);
    assert_int_equal(store_credits_grant(db, "key_b", 1000, "", 10), STORE_OK);
    settle_at("task-unified-100-eeeeeee1", "key_a", 80, 30, day + 100);
    settle_at("task-unified-100-eeeeeee2", "key_a", 50, 20, day + 86399); /* the day's last second */
    settle_at("task-unified-100-eeeeeee3", "key_a", 40, 0, day + 86400);  /* the next day, nothing charged */
    settle_at("task-unified-100-eeeeeee4", "key_a", 10, 10, day - 1);     /* the day before */
    settle_at("task-unified-100-eeeeeee5", "key_a", 10, 7, day + 2 * 86400);
    settle_at("task-unified-100-eeeeeee6", "key_b", 90, 90, day + 300); /* another key's */
    task_record refunded = new_task("task-unified-100-eeeeeee7", "key_a", 60, NULL);
    assert_int_equal(admit(&refunded, NULL, 0, 0, NULL), ADMIT_CREATED);
    assert_int_equal(store_task_fail(db, refunded.id, "timeout", "late", day + 200), STORE_OK);
    assert_int_equal(store_credits_grant(db, "key_a", 5, "", day + 400), STORE_OK);

    usage_day *days = NULL;
    size_t count = 0;
    assert_int_equal(store_usage_daily(db, "key_a", day, day + 2 * 86400, &days, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_int_equal(days[0].day, day);
    assert_int_equal(days[0].credits, 50);
    assert_int_equal(days[0].tasks, 2);
    assert_int_equal(days[1].day, day + 86400);
    assert_int_equal(days[1].credits, 0);
    assert_int_equal(days[1].tasks, 1);
    free(days);

    assert_int_equal(store_usage_daily(db, "key_a", day - 86400, day + 3 * 86400, &days, &count), STORE_OK);
    assert_int_equal(count, 4);
    assert_int_equal(days[0].day, day - 86400);
    assert_int_equal(days[0].credits, 10);
    assert_int_equal(days[3].day, day + 2 * 86400);
    assert_int_equal(days[3].credits, 7);
    free(days);

    assert_int_equal(store_usage_daily(db, "key_b", day, day + 86400, &days, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(days[0].credits, 90);
    free(days);
    days = (usage_day *)1;
    assert_int_equal(store_usage_daily(db, "key_nobody", 0, day * 2, &days, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_null(days);
    assert_audit_clean();
}

int main(void)
{
#define WITH_KEYS(test) cmocka_unit_test_setup_teardown(test, open_with_keys, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_KEYS(grants_move_the_balance_and_never_below_zero),
        WITH_KEYS(admission_reserves_or_refuses_without_a_trace),
        WITH_KEYS(settlement_charges_the_actual_and_returns_the_rest_once),
        WITH_KEYS(failure_and_cancellation_refund_in_full),
        WITH_KEYS(idempotency_keys_return_the_first_task_or_refuse_another_body),
        WITH_KEYS(the_concurrency_limit_counts_unfinished_tasks),
        WITH_KEYS(a_batch_mixes_outcomes_in_one_commit),
        WITH_KEYS(a_taken_id_refuses_that_task_alone),
        WITH_KEYS(a_finished_task_with_a_callback_url_queues_one_delivery),
        WITH_KEYS(key_limits_can_be_changed),
        WITH_KEYS(a_task_without_its_reservation_is_reported),
        WITH_KEYS(daily_usage_sums_settled_charges_per_utc_day),
    };
    /* a PostgreSQL database has no history from before the ledger */
    const struct CMUnitTest sqlite_only[] = {
        WITH_KEYS(tasks_older_than_the_ledger_are_not_audited),
    };
    const struct CMUnitTest races[] = {
        WITH_KEYS(racing_admissions_never_overspend),
        WITH_KEYS(batches_crossing_two_keys_both_commit),
    };
    return store_fixture_main("test_store_credits", both, sizeof(both) / sizeof(both[0]), sqlite_only,
                              sizeof(sqlite_only) / sizeof(sqlite_only[0]), races,
                              sizeof(races) / sizeof(races[0]));
}

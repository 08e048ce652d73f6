/* test_store_task_delete.c — store_task_delete on both backends (store_fixture.h): only a finished task of
 * the key goes, with its idempotency keys and its callback, in one transaction; the record comes back as
 * it was; the credit ledger stays and the audit still finds every balance right; a second delete, another
 * key's task and an unfinished one change nothing; a cached read never shows a deleted task. */
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

#define HOOK_PARAMS "{\"model\":\"sora-2\",\"prompt\":\"x\",\"callback_url\":\"https://example.test/hook\"}"
#define RESULTS                                                                                              \
    "[{\"object\":\"results/task-unified-100-settled1/output.mp4\",\"content_type\":\"video/mp4\"}]"

/* A fresh store with two keys, key_a holding 1000 credits. */
static int open_with_keys(void **state)
{
    if (open_fresh(state) != 0) return -1;
    unsigned char hash_a[32] = {1}, hash_b[32] = {2};
    key_record a = {.id = "key_a", .user_group = "default", .created_at = 1};
    key_record b = {.id = "key_b", .user_group = "default", .created_at = 1};
    if (store_key_insert(db, &a, hash_a, NULL) != STORE_OK ||
        store_key_insert(db, &b, hash_b, NULL) != STORE_OK)
        return -1;
    return store_credits_grant(db, "key_a", 1000, "", 10) == STORE_OK ? 0 : -1;
}

/* Admits a task of key_a reserving `reserve`, under idempotency key `idempotency` (NULL = none), with a
 * callback_url. */
static void admit_task(const char *id, int64_t reserve, const char *idempotency, unsigned char hash_byte)
{
    task_record t = fixture_new_task(id, "key_a", 100);
    t.credits_reserved = reserve;
    t.params_json = (char *)HOOK_PARAMS;
    task_admission item = {.task = &t, .idempotency_key = idempotency};
    memset(item.request_hash, hash_byte, sizeof(item.request_hash));
    assert_int_equal(store_task_admit(db, &item, 1, true), STORE_OK);
    assert_int_equal(item.outcome, ADMIT_CREATED);
}

static void assert_audit_clean(void)
{
    credit_audit audit;
    assert_int_equal(store_credits_audit(db, &audit), STORE_OK);
    if (audit.problems) fail_msg("audit: %s", audit.first_problem);
}

static bool task_exists(const char *id)
{
    task_record read;
    store_status status = store_task_get(db, id, &read);
    assert_true(status == STORE_OK || status == STORE_NOT_FOUND);
    if (status == STORE_OK) task_record_clear(&read);
    return status == STORE_OK;
}

static int64_t rows_of(const char *table, const char *task_id)
{
    char sql[192];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s WHERE task_id = '%s'", table, task_id);
    return fixture_query_int(sql);
}

static void a_settled_task_goes_with_its_keys_and_callback_and_the_ledger_stays(void **state)
{
    (void)state;
    const char *id = "task-unified-100-settled1";
    admit_task(id, 80, "order-1", 0xAA);
    assert_true(task_exists(id)); /* read once: SQLite now holds it in its cache */
    assert_int_equal(store_task_transition(db, id, TASK_PENDING, TASK_FINALIZING, "sandbox", 101), STORE_OK);
    assert_int_equal(store_task_complete(db, id, TASK_FINALIZING, RESULTS, 30, 102), STORE_OK);
    assert_true(task_exists(id));
    assert_int_equal(rows_of("callbacks", id), 1);
    assert_int_equal(rows_of("idempotency_keys", id), 1);
    int64_t ledger_rows = rows_of("credit_ledger", id);
    assert_int_equal(ledger_rows, 2); /* reserve, settle */

    task_record deleted;
    memset(&deleted, 0, sizeof(deleted));
    assert_int_equal(store_task_delete(db, id, "key_a", &deleted), STORE_OK);
    assert_string_equal(deleted.id, id);
    assert_string_equal(deleted.key_id, "key_a");
    assert_int_equal(deleted.state, TASK_COMPLETED);
    assert_int_equal(deleted.completed_at, 102);
    assert_string_equal(deleted.results_json, RESULTS);
    assert_string_equal(deleted.params_json, HOOK_PARAMS);
    task_record_clear(&deleted);

    assert_false(task_exists(id)); /* not served from the cache */
    assert_int_equal(fixture_query_int("SELECT COUNT(*) FROM tasks WHERE id = 'task-unified-100-settled1'"),
                     0);
    assert_int_equal(rows_of("callbacks", id), 0);
    assert_int_equal(rows_of("idempotency_keys", id), 0);
    assert_int_equal(rows_of("credit_ledger", id), ledger_rows);
    callback_delivery delivery;
    assert_int_equal(store_callback_get(db, id, &delivery), STORE_NOT_FOUND);
    credit_balance balance;
    assert_int_equal(store_credits_balance(db, "key_a", &balance), STORE_OK);
    assert_int_equal(balance.available, 970); /* what it was charged stays charged */
    assert_int_equal(balance.reserved, 0);
    assert_audit_clean();

    /* the idempotency key no longer answers: the same request admits a new task */
    unsigned char hash[32];
    memset(hash, 0xAA, sizeof(hash));
    char found[IDS_TASK_ID_SIZE];
    bool same = false;
    assert_int_equal(store_idempotency_find(db, "key_a", "order-1", hash, 150, found, &same),
                     STORE_NOT_FOUND);
    admit_task("task-unified-100-again001", 10, "order-1", 0xAA);

    /* twice: the second finds nothing */
    assert_int_equal(store_task_delete(db, id, "key_a", NULL), STORE_NOT_FOUND);
    assert_audit_clean();
}

static void refunded_tasks_go_too_and_the_audit_stays_clean(void **state)
{
    (void)state;
    const char *failed = "task-unified-100-failed01", *cancelled = "task-unified-100-cancel01";
    admit_task(failed, 30, NULL, 0);
    admit_task(cancelled, 45, "order-2", 0xBB);
    assert_int_equal(store_task_fail(db, failed, "generation_failed", "no", 105), STORE_OK);
    assert_int_equal(store_task_cancel(db, cancelled, "key_a", 106), STORE_OK);
    task_record deleted;
    assert_int_equal(store_task_delete(db, failed, "key_a", &deleted), STORE_OK);
    assert_int_equal(deleted.state, TASK_FAILED);
    assert_string_equal(deleted.error_code, "generation_failed");
    assert_null(deleted.results_json);
    task_record_clear(&deleted);
    assert_int_equal(store_task_delete(db, cancelled, "key_a", NULL), STORE_OK); /* no record wanted */
    assert_false(task_exists(failed));
    assert_false(task_exists(cancelled));
    assert_int_equal(rows_of("credit_ledger", failed), 2);    /* reserve, refund */
    assert_int_equal(rows_of("credit_ledger", cancelled), 2); /* reserve, refund */
    assert_int_equal(rows_of("idempotency_keys", cancelled), 0);
    credit_balance balance;
    assert_int_equal(store_credits_balance(db, "key_a", &balance), STORE_OK);
    assert_int_equal(balance.available, 1000);
    assert_int_equal(balance.unfinished_tasks, 0);
    assert_audit_clean();
}

static void another_keys_task_is_not_found_and_stays(void **state)
{
    (void)state;
    const char *id = "task-unified-100-theirs01";
    admit_task(id, 10, "order-3", 0xCC);
    assert_int_equal(store_task_fail(db, id, "timeout", "late", 105), STORE_OK);
    task_record untouched;
    memset(&untouched, 0, sizeof(untouched));
    assert_int_equal(store_task_delete(db, id, "key_b", &untouched), STORE_NOT_FOUND);
    assert_null(untouched.params_json); /* nothing handed over */
    assert_true(task_exists(id));
    assert_int_equal(rows_of("callbacks", id), 1);
    assert_int_equal(rows_of("idempotency_keys", id), 1);
    assert_int_equal(store_task_delete(db, "task-unified-100-nobody01", "key_a", NULL), STORE_NOT_FOUND);
    assert_audit_clean();
}

static void an_unfinished_task_is_a_conflict_and_stays(void **state)
{
    (void)state;
    const char *id = "task-unified-100-running1";
    admit_task(id, 50, "order-4", 0xDD);
    assert_int_equal(store_task_delete(db, id, "key_a", NULL), STORE_CONFLICT); /* pending */
    assert_int_equal(store_task_transition(db, id, TASK_PENDING, TASK_PROCESSING, "sandbox", 101), STORE_OK);
    assert_int_equal(store_task_delete(db, id, "key_a", NULL), STORE_CONFLICT);  /* processing */
    assert_int_equal(store_task_delete(db, id, "key_b", NULL), STORE_NOT_FOUND); /* not theirs either way */
    task_record read;
    assert_int_equal(store_task_get(db, id, &read), STORE_OK);
    assert_int_equal(read.state, TASK_PROCESSING);
    task_record_clear(&read);
    assert_int_equal(rows_of("idempotency_keys", id), 1);
    credit_balance balance;
    assert_int_equal(store_credits_balance(db, "key_a", &balance), STORE_OK);
    assert_int_equal(balance.reserved, 50);
    assert_int_equal(balance.unfinished_tasks, 1);
    /* once cancelled it may go */
    assert_int_equal(store_task_cancel(db, id, "key_a", 102), STORE_OK);
    assert_int_equal(store_task_delete(db, id, "key_a", NULL), STORE_OK);
    assert_false(task_exists(id));
    assert_audit_clean();
}

static void another_connection_never_reads_a_deleted_task(void **state)
{
    (void)state;
    const char *id = "task-unified-100-cached01";
    admit_task(id, 5, NULL, 0);
    assert_int_equal(store_task_fail(db, id, "timeout", "late", 105), STORE_OK);
    store *other = NULL;
    assert_int_equal(fixture_open(&other), STORE_OK);
    task_record read;
    assert_int_equal(store_task_get(other, id, &read), STORE_OK); /* cached there now (SQLite) */
    task_record_clear(&read);
    assert_int_equal(store_task_delete(db, id, "key_a", NULL), STORE_OK);
    assert_int_equal(store_task_get(other, id, &read), STORE_NOT_FOUND);
    assert_int_equal(store_task_delete(other, id, "key_a", NULL), STORE_NOT_FOUND);
    store_close(other);
}

int main(void)
{
#define WITH_KEYS(test) cmocka_unit_test_setup_teardown(test, open_with_keys, close_and_remove)
    const struct CMUnitTest both[] = {
        WITH_KEYS(a_settled_task_goes_with_its_keys_and_callback_and_the_ledger_stays),
        WITH_KEYS(refunded_tasks_go_too_and_the_audit_stays_clean),
        WITH_KEYS(another_keys_task_is_not_found_and_stays),
        WITH_KEYS(an_unfinished_task_is_a_conflict_and_stays),
        WITH_KEYS(another_connection_never_reads_a_deleted_task),
    };
    return store_fixture_main("test_store_task_delete", both, sizeof(both) / sizeof(both[0]), NULL, 0, NULL,
                              0);
}

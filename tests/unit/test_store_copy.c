/* test_store_copy.c — store_copy_into (store.h): an installation made through store.h on one backend
 * (keys with limits, a revoked one and a webhook secret; channels with sealed secrets, one disabled;
 * tasks admitted with an idempotency key, finished every way and left unfinished; grants; a callback
 * with a delivery attempt recorded; an upload; a cluster fact) is copied into an empty database of the
 * other backend, in both directions, and every row read back through store.h is the same; unfinished
 * tasks belong to no node; the copy's credit audit finds nothing. A target that is not empty is refused
 * and left alone. Needs the test cluster (REELAY_TEST_DATABASE_URL), like every store test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

#define NOW 1700000000LL

static store *sqlite_db, *pg_db;

static int open_both(void **state)
{
    if (make_folder(state) != 0) return -1;
    if (store_open_url(NULL, folder, &sqlite_db) != STORE_OK) return -1;
    return store_open_url(database_url, folder, &pg_db) == STORE_OK ? 0 : -1;
}

static int close_both(void **state)
{
    store_close(sqlite_db);
    store_close(pg_db);
    sqlite_db = pg_db = NULL;
    return close_and_remove(state);
}

static void add_key(store *s, const char *id, unsigned char hash_byte, int64_t credits)
{
    key_record key = {.created_at = NOW, .rpm_limit = 60, .max_concurrent = 5};
    snprintf(key.id, sizeof(key.id), "%s", id);
    snprintf(key.name, sizeof(key.name), "name of %s", id);
    snprintf(key.user_group, sizeof(key.user_group), "vip");
    unsigned char hash[STORE_KEY_HASH_SIZE];
    memset(hash, hash_byte, sizeof(hash));
    hash[0] = 0; /* a zero byte in the middle of a hash survives */
    assert_int_equal(store_key_insert(s, &key, hash, "sealed-webhook-secret-of-key"), STORE_OK);
    assert_int_equal(store_credits_grant(s, id, credits, "welcome", NOW), STORE_OK);
}

static void admit(store *s, const char *id, const char *key_id, const char *idempotency_key, int64_t created)
{
    task_record task = fixture_new_task(id, key_id, created);
    task.params_json = (char *)"{\"prompt\":\"x\",\"callback_url\":\"https://example.com/hook\"}";
    task.billing_json = (char *)"{\"per_second\":3}";
    snprintf(task.remixed_from, sizeof(task.remixed_from), "task_remixed_from_%s", id);
    task.credits_reserved = 40;
    task_admission item = {.task = &task, .idempotency_key = idempotency_key};
    memset(item.request_hash, 0xab, sizeof(item.request_hash));
    assert_int_equal(store_task_admit(s, &item, 1, true), STORE_OK);
    assert_int_equal(item.outcome, ADMIT_CREATED);
}

/* An installation with a row in every table, made through store.h only. */
static void populate(store *s)
{
    add_key(s, "key_a", 0x11, 1000);
    add_key(s, "key_b", 0x22, 300);
    add_key(s, "key_gone", 0x33, 0);
    assert_int_equal(store_key_revoke(s, "key_gone", NOW + 5), STORE_OK);
    channel_record channel = {
        .priority = 3, .weight = 2, .max_concurrent = 7, .enabled = false, .created_at = NOW};
    snprintf(channel.name, sizeof(channel.name), "fal-main");
    snprintf(channel.provider, sizeof(channel.provider), "fal");
    snprintf(channel.models, sizeof(channel.models), "sora-2,veo-3");
    snprintf(channel.base_url, sizeof(channel.base_url), "https://fal.example");
    snprintf(channel.credential_sealed, sizeof(channel.credential_sealed), "sealed-credential-bytes");
    snprintf(channel.webhook_secret_sealed, sizeof(channel.webhook_secret_sealed), "sealed-webhook");
    assert_int_equal(store_channel_insert(s, &channel), STORE_OK);
    /* tasks in one second: their order is insertion order */
    admit(s, "task_done", "key_a", "idem-1", NOW);
    admit(s, "task_failed", "key_a", NULL, NOW);
    admit(s, "task_running", "key_b", "idem-2", NOW);
    admit(s, "task_pending", "key_b", NULL, NOW);
    assert_int_equal(
        store_task_transition(s, "task_done", TASK_PENDING, TASK_SUBMITTING, "fal-main", NOW + 1), STORE_OK);
    assert_int_equal(store_task_complete(s, "task_done", TASK_SUBMITTING, "[{\"url\":\"r\"}]", 25, NOW + 2),
                     STORE_OK);
    assert_int_equal(store_task_fail(s, "task_failed", "upstream_error", "it broke", NOW + 3), STORE_OK);
    assert_int_equal(store_task_set_upstream(s, "task_running", TASK_PENDING, TASK_PROCESSING, "fal-main",
                                             "{\"job\":\"j-1\"}", NOW + 4),
                     STORE_OK);
    assert_int_equal(store_task_set_progress(s, "task_running", 42, NOW + 5), STORE_OK);
    callback_record *claimed = NULL;
    size_t claimed_count = 0;
    assert_int_equal(
        store_callbacks_claim_due(s, (NOW + 100) * 1000, (NOW + 200) * 1000, 10, &claimed, &claimed_count),
        STORE_OK);
    assert_int_equal(claimed_count, 2); /* the completed and the failed task's */
    assert_int_equal(store_callback_finish_attempt(s, "task_done", 1, CALLBACK_DELIVERED, 204, NULL, 0,
                                                   (NOW + 101) * 1000),
                     STORE_OK);
    assert_int_equal(store_callback_finish_attempt(s, "task_failed", 1, CALLBACK_DUE, 500, "server error",
                                                   (NOW + 160) * 1000, (NOW + 101) * 1000),
                     STORE_OK);
    free(claimed);
    upload_record upload = {.size = 1234, .auto_cleanup = true, .created_at = NOW, .expires_at = NOW + 3600};
    snprintf(upload.id, sizeof(upload.id), "file-1700000000-abcdefghijkl");
    snprintf(upload.key_id, sizeof(upload.key_id), "key_a");
    snprintf(upload.filename, sizeof(upload.filename), "clip.mp4");
    snprintf(upload.object_name, sizeof(upload.object_name), "uploads/%s/clip.mp4", upload.id);
    snprintf(upload.content_type, sizeof(upload.content_type), "video/mp4");
    upload_record *evicted = NULL;
    size_t evicted_count = 0;
    assert_int_equal(store_upload_insert(s, &upload, 1 << 20, NOW, &evicted, &evicted_count), STORE_OK);
    free(evicted);
    char stored[64];
    assert_int_equal(store_fact_claim(s, "secrets_fingerprint", "v1 fingerprint", stored, sizeof(stored)),
                     STORE_OK);
}

static void assert_same_text(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_same_task(const task_record *a, const task_record *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->key_id, b->key_id);
    assert_string_equal(a->model, b->model);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->progress, b->progress);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_int_equal(a->deadline_at, b->deadline_at);
    assert_int_equal(a->completed_at, b->completed_at);
    assert_string_equal(a->channel, b->channel);
    assert_string_equal(a->user_group, b->user_group);
    assert_int_equal(a->credits_reserved, b->credits_reserved);
    assert_same_text(a->params_json, b->params_json);
    assert_same_text(a->results_json, b->results_json);
    assert_string_equal(a->error_code, b->error_code);
    assert_same_text(a->error_message, b->error_message);
    assert_same_text(a->upstream_json, b->upstream_json);
    assert_same_text(a->billing_json, b->billing_json);
    assert_string_equal(a->remixed_from, b->remixed_from);
    assert_true(strncmp(a->remixed_from, "task_remixed_from_", 18) == 0); /* admitted with one: it was kept */
}

static void compare_keys(store *from, store *to)
{
    key_record *a = NULL, *b = NULL;
    size_t a_count = 0, b_count = 0;
    assert_int_equal(store_key_list(from, &a, &a_count), STORE_OK);
    assert_int_equal(store_key_list(to, &b, &b_count), STORE_OK);
    assert_int_equal(a_count, 3);
    assert_int_equal(b_count, a_count);
    assert_memory_equal(a, b, a_count * sizeof(*a)); /* fixed-size fields, zero-filled by both */
    for (size_t i = 0; i < a_count; i++) {
        credit_balance x, y;
        assert_int_equal(store_credits_balance(from, a[i].id, &x), STORE_OK);
        assert_int_equal(store_credits_balance(to, a[i].id, &y), STORE_OK);
        assert_int_equal(x.available, y.available);
        assert_int_equal(x.reserved, y.reserved);
        assert_int_equal(x.unfinished_tasks, y.unfinished_tasks);
        assert_string_equal(x.user_group, y.user_group);
        ledger_entry *la = NULL, *lb = NULL;
        size_t la_count = 0, lb_count = 0;
        assert_int_equal(store_credits_ledger(from, a[i].id, 0, &la, &la_count), STORE_OK);
        assert_int_equal(store_credits_ledger(to, a[i].id, 0, &lb, &lb_count), STORE_OK);
        assert_int_equal(la_count, lb_count);
        for (size_t j = 0; j < la_count; j++) {
            assert_int_equal(la[j].kind, lb[j].kind);
            assert_string_equal(la[j].task_id, lb[j].task_id);
            assert_int_equal(la[j].amount, lb[j].amount);
            assert_int_equal(la[j].released, lb[j].released);
            assert_string_equal(la[j].note, lb[j].note);
            assert_int_equal(la[j].created_at, lb[j].created_at);
        }
        free(la);
        free(lb);
        char secret[STORE_SEALED_SECRET_SIZE];
        assert_int_equal(store_key_webhook_secret(to, a[i].id, secret, sizeof(secret)), STORE_OK);
        assert_string_equal(secret, "sealed-webhook-secret-of-key");
    }
    free(a);
    free(b);
    /* the hash (with its zero byte) finds the key; a revoked key stays revoked */
    unsigned char hash[STORE_KEY_HASH_SIZE];
    memset(hash, 0x22, sizeof(hash));
    hash[0] = 0;
    key_record found;
    assert_int_equal(store_key_find_by_hash(to, hash, &found), STORE_OK);
    assert_string_equal(found.id, "key_b");
    memset(hash, 0x33, sizeof(hash));
    hash[0] = 0;
    assert_int_equal(store_key_find_by_hash(to, hash, &found), STORE_NOT_FOUND);
}

static void compare_channels(store *from, store *to)
{
    channel_record *a = NULL, *b = NULL;
    size_t a_count = 0, b_count = 0;
    assert_int_equal(store_channel_list(from, &a, &a_count), STORE_OK);
    assert_int_equal(store_channel_list(to, &b, &b_count), STORE_OK);
    assert_int_equal(a_count, 1);
    assert_int_equal(b_count, a_count);
    assert_memory_equal(a, b, sizeof(*a));
    free(a);
    free(b);
}

static void compare_tasks(store *from, store *to)
{
    const char *const ids[] = {"task_done", "task_failed", "task_running", "task_pending"};
    for (size_t i = 0; i < 4; i++) {
        task_record a, b;
        assert_int_equal(store_task_get(from, ids[i], &a), STORE_OK);
        assert_int_equal(store_task_get(to, ids[i], &b), STORE_OK);
        assert_same_task(&a, &b);
        task_record_clear(&a);
        task_record_clear(&b);
        int64_t epoch = -1;
        assert_int_equal(store_task_lease(to, ids[i], &epoch), STORE_OK);
        assert_int_equal(epoch, 0); /* nobody's: the first node claims it */
    }
    /* the order within one second (insertion order) is kept */
    task_list_query query = {.key_id = "key_b", .limit = 10, .state = -1};
    task_record *listed = NULL;
    size_t count = 0;
    bool more = false;
    assert_int_equal(store_task_list(to, &query, &listed, &count, &more), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(listed[0].id, "task_pending");
    assert_string_equal(listed[1].id, "task_running");
    task_records_free(listed, count);
    int64_t a[TASK_STATE_COUNT], b[TASK_STATE_COUNT];
    assert_int_equal(store_task_count_by_state(from, a), STORE_OK);
    assert_int_equal(store_task_count_by_state(to, b), STORE_OK);
    assert_memory_equal(a, b, sizeof(a));
}

static void compare_the_rest(store *from, store *to)
{
    unsigned char request_hash[32];
    memset(request_hash, 0xab, sizeof(request_hash));
    char task_id[IDS_TASK_ID_SIZE];
    bool same = false;
    assert_int_equal(store_idempotency_find(to, "key_b", "idem-2", request_hash, NOW + 10, task_id, &same),
                     STORE_OK);
    assert_string_equal(task_id, "task_running");
    assert_true(same);
    const char *const callbacks[] = {"task_done", "task_failed"};
    for (size_t i = 0; i < 2; i++) {
        callback_delivery a, b;
        assert_int_equal(store_callback_get(from, callbacks[i], &a), STORE_OK);
        assert_int_equal(store_callback_get(to, callbacks[i], &b), STORE_OK);
        assert_memory_equal(&a, &b, sizeof(a));
    }
    int64_t next_at = 0;
    assert_int_equal(store_callbacks_next_due(to, &next_at), STORE_OK);
    assert_int_equal(next_at, (NOW + 160) * 1000);
    upload_record a, b;
    assert_int_equal(store_upload_get(from, "file-1700000000-abcdefghijkl", &a), STORE_OK);
    assert_int_equal(store_upload_get(to, "file-1700000000-abcdefghijkl", &b), STORE_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    char stored[64];
    assert_int_equal(store_fact_claim(to, "secrets_fingerprint", "another", stored, sizeof(stored)),
                     STORE_OK);
    assert_string_equal(stored, "v1 fingerprint");
    credit_audit audit;
    assert_int_equal(store_credits_audit(to, &audit), STORE_OK);
    assert_int_equal(audit.problems, 0);
    assert_int_equal(audit.keys_checked, 3);
}

static void copy_and_compare(store *from, store *to)
{
    populate(from);
    store_copy_report report;
    assert_int_equal(store_copy_into(from, to, &report), STORE_OK);
    assert_string_equal(report.problem, "");
    assert_int_equal(report.keys, 3);
    assert_int_equal(report.channels, 1);
    assert_int_equal(report.tasks, 4);
    assert_int_equal(report.unfinished_tasks, 2);
    assert_int_equal(report.ledger_entries, 3 + 4 + 2); /* grants, reservations, a settle and a refund */
    assert_int_equal(report.idempotency_keys, 2);
    assert_int_equal(report.callbacks, 2);
    assert_int_equal(report.uploads, 1);
    assert_int_equal(report.facts, 1);
    compare_keys(from, to);
    compare_channels(from, to);
    compare_tasks(from, to);
    compare_the_rest(from, to);

    /* the target is not empty any more: a second copy is refused and changes nothing */
    assert_int_equal(store_copy_into(from, to, &report), STORE_CONFLICT);
    assert_non_null(strstr(report.problem, "not empty"));
    assert_int_equal(report.keys, 0);
    key_record *keys = NULL;
    size_t count = 0;
    assert_int_equal(store_key_list(to, &keys, &count), STORE_OK);
    assert_int_equal(count, 3);
    free(keys);
}

static void sqlite_to_postgres(void **state)
{
    (void)state;
    copy_and_compare(sqlite_db, pg_db);
}

static void postgres_to_sqlite(void **state)
{
    (void)state;
    copy_and_compare(pg_db, sqlite_db);
}

static void an_unfinished_task_copied_is_claimed_by_the_first_node(void **state)
{
    (void)state;
    populate(sqlite_db);
    int64_t old_epoch = 0;
    assert_int_equal(store_node_register(sqlite_db, "old", 10000, &old_epoch), STORE_OK);
    task_record *claimed = NULL;
    size_t count = 0;
    assert_int_equal(store_tasks_claim(sqlite_db, old_epoch, 10, &claimed, &count), STORE_OK);
    task_records_free(claimed, count);
    store_copy_report report;
    assert_int_equal(store_copy_into(sqlite_db, pg_db, &report), STORE_OK);
    int64_t epoch = 0;
    assert_int_equal(store_node_register(pg_db, "new", 10000, &epoch), STORE_OK);
    assert_int_equal(store_tasks_claim(pg_db, epoch, 10, &claimed, &count), STORE_OK);
    assert_int_equal(count, 2);
    assert_string_equal(claimed[0].id, "task_running");
    assert_string_equal(claimed[1].id, "task_pending");
    task_records_free(claimed, count);
}

static void the_same_sqlite_database_is_refused(void **state)
{
    (void)state;
    store *again = NULL;
    assert_int_equal(store_open_url(NULL, folder, &again), STORE_OK);
    store_copy_report report;
    assert_int_equal(store_copy_into(sqlite_db, again, &report), STORE_ERROR);
    assert_non_null(strstr(report.problem, "same database"));
    assert_int_equal(store_copy_into(pg_db, pg_db, &report), STORE_ERROR);
    store_close(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sqlite_to_postgres, open_both, close_both),
        cmocka_unit_test_setup_teardown(postgres_to_sqlite, open_both, close_both),
        cmocka_unit_test_setup_teardown(an_unfinished_task_copied_is_claimed_by_the_first_node, open_both,
                                        close_both),
        cmocka_unit_test_setup_teardown(the_same_sqlite_database_is_refused, open_both, close_both),
    };
    return store_fixture_postgres_only("test_store_copy", tests, sizeof(tests) / sizeof(tests[0]));
}

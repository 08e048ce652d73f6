/* store_pg_pending.c — the functions of store.h not written for PostgreSQL yet (pg_internal.h): each
 * logs that it is missing and answers STORE_ERROR, so that a caller fails loudly instead of silently. */
#include "store/pg_internal.h"
#include "store/store.h"
#include "util/log.h"

store_status pg_not_yet(const char *function)
{
    log_error("not implemented on PostgreSQL yet", "function=%s", function);
    return STORE_ERROR;
}

store_status pg_store_key_insert(pg_store *s, const key_record *key,
                                 const unsigned char hash[STORE_KEY_HASH_SIZE],
                                 const char *webhook_secret_sealed)
{
    return pg_not_yet("store_key_insert");
}

store_status pg_store_key_update_limits(pg_store *s, const char *id, const char *user_group, int rpm_limit,
                                        int max_concurrent)
{
    return pg_not_yet("store_key_update_limits");
}

store_status pg_store_key_webhook_secret(pg_store *s, const char *id, char *out, size_t out_size)
{
    return pg_not_yet("store_key_webhook_secret");
}

store_status pg_store_key_find_by_hash(pg_store *s, const unsigned char hash[STORE_KEY_HASH_SIZE],
                                       key_record *out)
{
    return pg_not_yet("store_key_find_by_hash");
}

store_status pg_store_key_list(pg_store *s, key_record **out, size_t *count)
{
    return pg_not_yet("store_key_list");
}

store_status pg_store_key_revoke(pg_store *s, const char *id, int64_t now)
{
    return pg_not_yet("store_key_revoke");
}

store_status pg_store_channel_insert(pg_store *s, const channel_record *channel)
{
    return pg_not_yet("store_channel_insert");
}

store_status pg_store_channel_update(pg_store *s, const channel_record *channel)
{
    return pg_not_yet("store_channel_update");
}

store_status pg_store_channel_remove(pg_store *s, const char *name)
{
    return pg_not_yet("store_channel_remove");
}

store_status pg_store_channel_list(pg_store *s, channel_record **out, size_t *count)
{
    return pg_not_yet("store_channel_list");
}

store_status pg_store_task_insert(pg_store *s, const task_record *task)
{
    return pg_not_yet("store_task_insert");
}

store_status pg_store_task_insert_batch(pg_store *s, const task_record *tasks, size_t count)
{
    return pg_not_yet("store_task_insert_batch");
}

store_status pg_store_task_get(pg_store *s, const char *id, task_record *out)
{
    return pg_not_yet("store_task_get");
}

store_status pg_store_task_list(pg_store *s, const task_list_query *query, task_record **out, size_t *count,
                                bool *has_more)
{
    return pg_not_yet("store_task_list");
}

store_status pg_store_task_transition(pg_store *s, const char *id, task_state from, task_state to,
                                      const char *channel, int64_t now)
{
    return pg_not_yet("store_task_transition");
}

store_status pg_store_task_set_upstream(pg_store *s, const char *id, task_state from, task_state to,
                                        const char *channel, const char *upstream_json, int64_t now)
{
    return pg_not_yet("store_task_set_upstream");
}

store_status pg_store_task_set_progress(pg_store *s, const char *id, int progress, int64_t now)
{
    return pg_not_yet("store_task_set_progress");
}

store_status pg_store_task_complete(pg_store *s, const char *id, task_state from, const char *results_json,
                                    int64_t credits_charged, int64_t now)
{
    return pg_not_yet("store_task_complete");
}

store_status pg_store_task_fail(pg_store *s, const char *id, const char *code, const char *message,
                                int64_t now)
{
    return pg_not_yet("store_task_fail");
}

store_status pg_store_task_cancel(pg_store *s, const char *id, const char *key_id, int64_t now)
{
    return pg_not_yet("store_task_cancel");
}

store_status pg_store_task_list_unfinished(pg_store *s, task_record **out, size_t *count)
{
    return pg_not_yet("store_task_list_unfinished");
}

store_status pg_store_task_count_by_state(pg_store *s, int64_t counts[TASK_STATE_COUNT])
{
    return pg_not_yet("store_task_count_by_state");
}

store_status pg_store_credits_grant(pg_store *s, const char *key_id, int64_t amount, const char *note,
                                    int64_t now)
{
    return pg_not_yet("store_credits_grant");
}

store_status pg_store_credits_balance(pg_store *s, const char *key_id, credit_balance *out)
{
    return pg_not_yet("store_credits_balance");
}

store_status pg_store_credits_ledger(pg_store *s, const char *key_id, size_t limit, ledger_entry **out,
                                     size_t *count)
{
    return pg_not_yet("store_credits_ledger");
}

store_status pg_store_credits_audit(pg_store *s, credit_audit *out)
{
    return pg_not_yet("store_credits_audit");
}

store_status pg_store_task_admit(pg_store *s, task_admission *items, size_t count, bool wait)
{
    return pg_not_yet("store_task_admit");
}

store_status pg_store_idempotency_find(pg_store *s, const char *key_id, const char *idempotency_key,
                                       const unsigned char request_hash[32], int64_t now,
                                       char task_id[IDS_TASK_ID_SIZE], bool *same_request)
{
    return pg_not_yet("store_idempotency_find");
}

store_status pg_store_idempotency_expire(pg_store *s, int64_t now)
{
    return pg_not_yet("store_idempotency_expire");
}

store_status pg_store_callbacks_claim_due(pg_store *s, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                                          callback_record **out, size_t *count)
{
    return pg_not_yet("store_callbacks_claim_due");
}

store_status pg_store_callback_finish_attempt(pg_store *s, const char *task_id, int attempt,
                                              callback_state state, int http_status, const char *error,
                                              int64_t next_at_ms, int64_t now_ms)
{
    return pg_not_yet("store_callback_finish_attempt");
}

store_status pg_store_callbacks_next_due(pg_store *s, int64_t *next_at_ms)
{
    return pg_not_yet("store_callbacks_next_due");
}

store_status pg_store_callback_get(pg_store *s, const char *task_id, callback_delivery *out)
{
    return pg_not_yet("store_callback_get");
}

store_status pg_store_upload_insert(pg_store *s, const upload_record *upload, int64_t quota_bytes,
                                    int64_t now, upload_record **evicted, size_t *evicted_count)
{
    return pg_not_yet("store_upload_insert");
}

store_status pg_store_upload_get(pg_store *s, const char *id, upload_record *out)
{
    return pg_not_yet("store_upload_get");
}

store_status pg_store_upload_usage(pg_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                   int64_t *count)
{
    return pg_not_yet("store_upload_usage");
}

store_status pg_store_uploads_take_expired(pg_store *s, int64_t now, size_t limit, upload_record **out,
                                           size_t *count)
{
    return pg_not_yet("store_uploads_take_expired");
}

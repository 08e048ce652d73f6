/* store.c — one store.h, two backends: store_open_url picks SQLite or PostgreSQL by the URL's scheme and
 * every function of store.h passes the call to the connection's backend (sqlite_store_X in
 * store_sqlite*.c, pg_store_X in store_pg*.c). A thin switch rather than a table of function pointers:
 * the two backends take different handle types, and each call stays type-checked. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_copy_internal.h"
#include "util/log.h"

struct store {
    sqlite_store *sqlite; /* exactly one of the two is set */
    pg_store *pg;
    store_task_observer_fn observer; /* store_observe_tasks; NULL = nobody */
    void *observer_context;
};

void store_observe_tasks(store *s, store_task_observer_fn observer, void *context)
{
    s->observer = observer;
    s->observer_context = context;
}

/* Tells the connection's observer that a write of the task succeeded; passes the status through. */
static store_status observed(store *s, const char *task_id, store_status status)
{
    if (status == STORE_OK && s->observer != NULL) s->observer(s->observer_context, task_id);
    return status;
}

static bool has_prefix(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

store_status store_open(const char *data_dir, store **out)
{
    return store_open_url(NULL, data_dir, out);
}

store_status store_open_url(const char *database_url, const char *data_dir, store **out)
{
    *out = NULL;
    bool postgres = database_url &&
                    (has_prefix(database_url, "postgres://") || has_prefix(database_url, "postgresql://"));
    if (!postgres && database_url && database_url[0] && strcmp(database_url, "sqlite:") != 0) {
        /* never the URL itself in the log: it may carry a password */
        log_error("unknown database URL: expected sqlite: or postgres://…", "scheme_length=%zu",
                  strcspn(database_url, ":"));
        return STORE_ERROR;
    }
    store *s = calloc(1, sizeof(*s));
    if (s == NULL) return STORE_ERROR;
    store_status status =
        postgres ? pg_store_open(database_url, &s->pg) : sqlite_store_open(data_dir, &s->sqlite);
    if (status != STORE_OK) {
        free(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

bool store_connection_shareable(store *s)
{
    return s->sqlite != NULL;
}

void store_close(store *s)
{
    if (s == NULL) return;
    if (s->pg)
        pg_store_close(s->pg);
    else
        sqlite_store_close(s->sqlite);
    free(s);
}

void store_backend_of(store *s, sqlite_store **sqlite, pg_store **pg)
{
    *sqlite = s->sqlite;
    *pg = s->pg;
}

/* ---- every other function: the connection's backend ---- */

store_status store_checkpoint(store *s)
{
    if (s->pg) return pg_store_checkpoint(s->pg);
    return sqlite_store_checkpoint(s->sqlite);
}

store_status store_key_insert(store *s, const key_record *key, const unsigned char hash[STORE_KEY_HASH_SIZE],
                              const char *webhook_secret_sealed)
{
    if (s->pg) return pg_store_key_insert(s->pg, key, hash, webhook_secret_sealed);
    return sqlite_store_key_insert(s->sqlite, key, hash, webhook_secret_sealed);
}

store_status store_key_update_limits(store *s, const char *id, const char *user_group, int rpm_limit,
                                     int max_concurrent)
{
    if (s->pg) return pg_store_key_update_limits(s->pg, id, user_group, rpm_limit, max_concurrent);
    return sqlite_store_key_update_limits(s->sqlite, id, user_group, rpm_limit, max_concurrent);
}

store_status store_key_webhook_secret(store *s, const char *id, char *out, size_t out_size)
{
    if (s->pg) return pg_store_key_webhook_secret(s->pg, id, out, out_size);
    return sqlite_store_key_webhook_secret(s->sqlite, id, out, out_size);
}

store_status store_key_find_by_hash(store *s, const unsigned char hash[STORE_KEY_HASH_SIZE], key_record *out)
{
    if (s->pg) return pg_store_key_find_by_hash(s->pg, hash, out);
    return sqlite_store_key_find_by_hash(s->sqlite, hash, out);
}

store_status store_key_list(store *s, key_record **out, size_t *count)
{
    if (s->pg) return pg_store_key_list(s->pg, out, count);
    return sqlite_store_key_list(s->sqlite, out, count);
}

store_status store_key_revoke(store *s, const char *id, int64_t now)
{
    if (s->pg) return pg_store_key_revoke(s->pg, id, now);
    return sqlite_store_key_revoke(s->sqlite, id, now);
}

store_status store_channel_insert(store *s, const channel_record *channel)
{
    if (s->pg) return pg_store_channel_insert(s->pg, channel);
    return sqlite_store_channel_insert(s->sqlite, channel);
}

store_status store_channel_update(store *s, const channel_record *channel)
{
    if (s->pg) return pg_store_channel_update(s->pg, channel);
    return sqlite_store_channel_update(s->sqlite, channel);
}

store_status store_channel_remove(store *s, const char *name)
{
    if (s->pg) return pg_store_channel_remove(s->pg, name);
    return sqlite_store_channel_remove(s->sqlite, name);
}

store_status store_channel_list(store *s, channel_record **out, size_t *count)
{
    if (s->pg) return pg_store_channel_list(s->pg, out, count);
    return sqlite_store_channel_list(s->sqlite, out, count);
}

store_status store_task_insert(store *s, const task_record *task)
{
    if (s->pg) return observed(s, task->id, pg_store_task_insert(s->pg, task));
    return observed(s, task->id, sqlite_store_task_insert(s->sqlite, task));
}

store_status store_task_insert_batch(store *s, const task_record *tasks, size_t count)
{
    if (s->pg) return pg_store_task_insert_batch(s->pg, tasks, count);
    return sqlite_store_task_insert_batch(s->sqlite, tasks, count);
}

store_status store_task_get(store *s, const char *id, task_record *out)
{
    if (s->pg) return pg_store_task_get(s->pg, id, out);
    return sqlite_store_task_get(s->sqlite, id, out);
}

store_status store_task_list(store *s, const task_list_query *query, task_record **out, size_t *count,
                             bool *has_more)
{
    if (s->pg) return pg_store_task_list(s->pg, query, out, count, has_more);
    return sqlite_store_task_list(s->sqlite, query, out, count, has_more);
}

store_status store_task_transition(store *s, const char *id, task_state from, task_state to,
                                   const char *channel, int64_t now)
{
    if (s->pg) return observed(s, id, pg_store_task_transition(s->pg, id, from, to, channel, now));
    return observed(s, id, sqlite_store_task_transition(s->sqlite, id, from, to, channel, now));
}

store_status store_task_set_upstream(store *s, const char *id, task_state from, task_state to,
                                     const char *channel, const char *upstream_json, int64_t now)
{
    if (s->pg)
        return observed(s, id, pg_store_task_set_upstream(s->pg, id, from, to, channel, upstream_json, now));
    return observed(s, id,
                    sqlite_store_task_set_upstream(s->sqlite, id, from, to, channel, upstream_json, now));
}

store_status store_task_set_progress(store *s, const char *id, int progress, int64_t now)
{
    if (s->pg) return observed(s, id, pg_store_task_set_progress(s->pg, id, progress, now));
    return observed(s, id, sqlite_store_task_set_progress(s->sqlite, id, progress, now));
}

store_status store_task_set_results(store *s, const char *id, const char *results_json, int64_t now)
{
    if (s->pg) return observed(s, id, pg_store_task_set_results(s->pg, id, results_json, now));
    return observed(s, id, sqlite_store_task_set_results(s->sqlite, id, results_json, now));
}

store_status store_task_complete(store *s, const char *id, task_state from, const char *results_json,
                                 int64_t credits_charged, int64_t now)
{
    if (s->pg)
        return observed(s, id, pg_store_task_complete(s->pg, id, from, results_json, credits_charged, now));
    return observed(s, id,
                    sqlite_store_task_complete(s->sqlite, id, from, results_json, credits_charged, now));
}

store_status store_task_take_channel_slot(store *s, const char *id, task_state from, const char *channel,
                                          int cap, const char *upstream_json, int64_t now, bool *full)
{
    if (s->pg)
        return pg_store_task_take_channel_slot(s->pg, id, from, channel, cap, upstream_json, now, full);
    return observed(
        s, id,
        sqlite_store_task_take_channel_slot(s->sqlite, id, from, channel, cap, upstream_json, now, full));
}

store_status store_task_fail(store *s, const char *id, const char *code, const char *message, int64_t now)
{
    if (s->pg) return observed(s, id, pg_store_task_fail(s->pg, id, code, message, now));
    return observed(s, id, sqlite_store_task_fail(s->sqlite, id, code, message, now));
}

store_status store_task_cancel(store *s, const char *id, const char *key_id, int64_t now)
{
    if (s->pg) return observed(s, id, pg_store_task_cancel(s->pg, id, key_id, now));
    return observed(s, id, sqlite_store_task_cancel(s->sqlite, id, key_id, now));
}

store_status store_task_delete(store *s, const char *task_id, const char *key_id, task_record *deleted_out)
{
    if (s->pg) return pg_store_task_delete(s->pg, task_id, key_id, deleted_out);
    return sqlite_store_task_delete(s->sqlite, task_id, key_id, deleted_out);
}

store_status store_task_list_unfinished(store *s, task_record **out, size_t *count)
{
    if (s->pg) return pg_store_task_list_unfinished(s->pg, out, count);
    return sqlite_store_task_list_unfinished(s->sqlite, out, count);
}

store_status store_task_count_by_state(store *s, int64_t counts[TASK_STATE_COUNT])
{
    if (s->pg) return pg_store_task_count_by_state(s->pg, counts);
    return sqlite_store_task_count_by_state(s->sqlite, counts);
}

void store_set_lease_epoch(store *s, int64_t epoch)
{
    if (s->pg)
        s->pg->lease_epoch = epoch;
    else
        s->sqlite->lease_epoch = epoch;
}

store_status store_node_register(store *s, const char *name, int64_t lease_ms, int64_t *epoch)
{
    store_status status = s->pg ? pg_store_node_register(s->pg, name, lease_ms, epoch)
                                : sqlite_store_node_register(s->sqlite, name, lease_ms, epoch);
    if (status == STORE_OK) store_set_lease_epoch(s, *epoch);
    return status;
}

store_status store_node_renew(store *s, int64_t epoch, int64_t lease_ms)
{
    if (s->pg) return pg_store_node_renew(s->pg, epoch, lease_ms);
    return sqlite_store_node_renew(s->sqlite, epoch, lease_ms);
}

store_status store_node_leave(store *s, int64_t epoch)
{
    if (s->pg) return pg_store_node_leave(s->pg, epoch);
    return sqlite_store_node_leave(s->sqlite, epoch);
}

store_status store_tasks_claim(store *s, int64_t epoch, size_t limit, task_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (epoch <= 0 || limit == 0) return epoch <= 0 ? STORE_ERROR : STORE_OK;
    if (s->pg) return pg_store_tasks_claim(s->pg, epoch, limit, out, count);
    return sqlite_store_tasks_claim(s->sqlite, epoch, limit, out, count);
}

store_status store_task_lease(store *s, const char *id, int64_t *epoch)
{
    if (s->pg) return pg_store_task_lease(s->pg, id, epoch);
    return sqlite_store_task_lease(s->sqlite, id, epoch);
}

store_status store_node_list(store *s, node_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (s->pg) return pg_store_node_list(s->pg, out, count);
    return sqlite_store_node_list(s->sqlite, out, count);
}

store_status store_fact_claim(store *s, const char *name, const char *value, char *stored, size_t stored_size)
{
    if (stored_size > 0) stored[0] = '\0';
    if (s->pg) return pg_store_fact_claim(s->pg, name, value, stored, stored_size);
    return sqlite_store_fact_claim(s->sqlite, name, value, stored, stored_size);
}

store_status store_fact_get(store *s, const char *name, char *value, size_t value_size)
{
    if (value_size > 0) value[0] = '\0';
    if (s->pg) return pg_store_fact_get(s->pg, name, value, value_size);
    return sqlite_store_fact_get(s->sqlite, name, value, value_size);
}

store_status store_fact_set(store *s, const char *name, const char *value)
{
    if (s->pg) return pg_store_fact_set(s->pg, name, value);
    return sqlite_store_fact_set(s->sqlite, name, value);
}

store_status store_task_summary(store *s, int64_t now, task_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (s->pg) return pg_store_task_summary(s->pg, now, out);
    return sqlite_store_task_summary(s->sqlite, now, out);
}

store_status store_channel_activity(store *s, int64_t since, channel_activity **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (s->pg) return pg_store_channel_activity(s->pg, since, out, count);
    return sqlite_store_channel_activity(s->sqlite, since, out, count);
}

void store_secret_hash(const char *secret, unsigned char out[STORE_KEY_HASH_SIZE])
{
    crypto_hash_sha256(out, (const unsigned char *)secret, strlen(secret));
}

store_status store_credits_grant(store *s, const char *key_id, int64_t amount, const char *note, int64_t now)
{
    if (s->pg) return pg_store_credits_grant(s->pg, key_id, amount, note, now);
    return sqlite_store_credits_grant(s->sqlite, key_id, amount, note, now);
}

store_status store_credits_balance(store *s, const char *key_id, credit_balance *out)
{
    if (s->pg) return pg_store_credits_balance(s->pg, key_id, out);
    return sqlite_store_credits_balance(s->sqlite, key_id, out);
}

store_status store_credits_ledger(store *s, const char *key_id, size_t limit, ledger_entry **out,
                                  size_t *count)
{
    if (s->pg) return pg_store_credits_ledger(s->pg, key_id, limit, out, count);
    return sqlite_store_credits_ledger(s->sqlite, key_id, limit, out, count);
}

store_status store_credits_audit(store *s, credit_audit *out)
{
    if (s->pg) return pg_store_credits_audit(s->pg, out);
    return sqlite_store_credits_audit(s->sqlite, out);
}

store_status store_usage_daily(store *s, const char *key_id, int64_t since_unix, int64_t until_unix,
                               usage_day **out, size_t *count)
{
    if (s->pg) return pg_store_usage_daily(s->pg, key_id, since_unix, until_unix, out, count);
    return sqlite_store_usage_daily(s->sqlite, key_id, since_unix, until_unix, out, count);
}

store_status store_task_admit(store *s, task_admission *items, size_t count, bool wait)
{
    store_status status = s->pg ? pg_store_task_admit(s->pg, items, count, wait)
                                : sqlite_store_task_admit(s->sqlite, items, count, wait);
    for (size_t i = 0; i < count && status == STORE_OK; i++)
        if (items[i].outcome == ADMIT_CREATED) observed(s, items[i].task->id, status);
    return status;
}

store_status store_idempotency_find(store *s, const char *key_id, const char *idempotency_key,
                                    const unsigned char request_hash[32], int64_t now,
                                    char task_id[IDS_TASK_ID_SIZE], bool *same_request)
{
    if (s->pg)
        return pg_store_idempotency_find(s->pg, key_id, idempotency_key, request_hash, now, task_id,
                                         same_request);
    return sqlite_store_idempotency_find(s->sqlite, key_id, idempotency_key, request_hash, now, task_id,
                                         same_request);
}

store_status store_idempotency_expire(store *s, int64_t now)
{
    if (s->pg) return pg_store_idempotency_expire(s->pg, now);
    return sqlite_store_idempotency_expire(s->sqlite, now);
}

store_status store_callbacks_claim_due(store *s, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                                       callback_record **out, size_t *count)
{
    if (s->pg) return pg_store_callbacks_claim_due(s->pg, now_ms, lease_until_ms, limit, out, count);
    return sqlite_store_callbacks_claim_due(s->sqlite, now_ms, lease_until_ms, limit, out, count);
}

store_status store_callback_finish_attempt(store *s, const char *task_id, int attempt, callback_state state,
                                           int http_status, const char *error, int64_t next_at_ms,
                                           int64_t now_ms)
{
    if (s->pg)
        return pg_store_callback_finish_attempt(s->pg, task_id, attempt, state, http_status, error,
                                                next_at_ms, now_ms);
    return sqlite_store_callback_finish_attempt(s->sqlite, task_id, attempt, state, http_status, error,
                                                next_at_ms, now_ms);
}

store_status store_callbacks_next_due(store *s, int64_t *next_at_ms)
{
    if (s->pg) return pg_store_callbacks_next_due(s->pg, next_at_ms);
    return sqlite_store_callbacks_next_due(s->sqlite, next_at_ms);
}

store_status store_callback_get(store *s, const char *task_id, callback_delivery *out)
{
    if (s->pg) return pg_store_callback_get(s->pg, task_id, out);
    return sqlite_store_callback_get(s->sqlite, task_id, out);
}

store_status store_upload_insert(store *s, const upload_record *upload, int64_t quota_bytes, int64_t now,
                                 upload_record **evicted, size_t *evicted_count)
{
    if (s->pg) return pg_store_upload_insert(s->pg, upload, quota_bytes, now, evicted, evicted_count);
    return sqlite_store_upload_insert(s->sqlite, upload, quota_bytes, now, evicted, evicted_count);
}

store_status store_upload_get(store *s, const char *id, upload_record *out)
{
    if (s->pg) return pg_store_upload_get(s->pg, id, out);
    return sqlite_store_upload_get(s->sqlite, id, out);
}

store_status store_upload_usage(store *s, const char *key_id, int64_t now, int64_t *bytes, int64_t *count)
{
    if (s->pg) return pg_store_upload_usage(s->pg, key_id, now, bytes, count);
    return sqlite_store_upload_usage(s->sqlite, key_id, now, bytes, count);
}

store_status store_uploads_take_expired(store *s, int64_t now, size_t limit, upload_record **out,
                                        size_t *count)
{
    if (s->pg) return pg_store_uploads_take_expired(s->pg, now, limit, out, count);
    return sqlite_store_uploads_take_expired(s->sqlite, now, limit, out, count);
}

bool store_signals_supported(store *s)
{
    return s->pg != NULL;
}

store_status store_signal_send(store *s, const char *kind, const char *payload)
{
    if (s->pg) return pg_store_signal_send(s->pg, kind, payload);
    /* one node per SQLite database: nobody else to tell, but the signal must still be a valid one */
    if (!store_signal_is_valid(kind, payload)) {
        log_error("signal refused: kind or payload outside the limits", "kind_length=%zu", strlen(kind));
        return STORE_ERROR;
    }
    return STORE_OK;
}

store_status store_signal_listen(store *s)
{
    if (s->pg) return pg_store_signal_listen(s->pg);
    log_error("signals between nodes need PostgreSQL", "backend=sqlite");
    return STORE_ERROR;
}

store_status store_signal_wait(store *s, int timeout_ms, char *kind, size_t kind_size, char *payload,
                               size_t payload_size)
{
    if (s->pg) return pg_store_signal_wait(s->pg, timeout_ms, kind, kind_size, payload, payload_size);
    log_error("signals between nodes need PostgreSQL", "backend=sqlite");
    return STORE_ERROR;
}

store_status store_rate_counts_exchange(store *s, int64_t epoch, int64_t window, const rate_count *own,
                                        size_t own_count, rate_count **others, size_t *others_count)
{
    *others = NULL;
    *others_count = 0;
    if (s->pg)
        return pg_store_rate_counts_exchange(s->pg, epoch, window, own, own_count, others, others_count);
    return sqlite_store_rate_counts_exchange(s->sqlite, epoch, window, own, own_count, others, others_count);
}

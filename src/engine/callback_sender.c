/* callback_sender.c — the callback outbox's delivery thread (see callback_sender.h): claim due rows,
 * POST each on one multi handle, record each outcome. */
#include "engine/callback_sender.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/fetch_post.h"
#include "net/webhook_verify.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret_box.h"

enum { LEASE_SLACK_MS = 1000, RESPONSE_CAP = 16 * 1024, ERROR_SIZE = 256 };

/* One attempt in flight. */
typedef struct delivery {
    struct delivery *next, *prev;
    callback_record record;
    fetch_post *post;
    int64_t started_ms;
} delivery;

struct callback_sender {
    callback_sender_config config;
    char data_dir[PATH_MAX];
    char *database_url; /* the config's, copied (NULL = SQLite in data_dir) */
    char public_url[512];
    link_signer signer;
    secret_box box;
    store *db;
    CURLM *multi;
    pthread_t thread;
    atomic_bool stopping;
    /* owned by the thread */
    delivery *flights;
    int64_t next_look_ms; /* when to look at the outbox next */
    /* stats */
    atomic_size_t in_flight;
    atomic_uint_fast64_t delivered, retried, given_up;
};

/* The sealed secret of the key, opened into out ("" when the key has none or it cannot be opened). */
static void key_secret(callback_sender *s, const char *key_id, char *out, size_t out_size)
{
    char sealed[STORE_SEALED_SECRET_SIZE];
    out[0] = '\0';
    if (store_key_webhook_secret(s->db, key_id, sealed, sizeof(sealed)) != STORE_OK || sealed[0] == '\0')
        return;
    if (secret_box_open(&s->box, sealed, out, out_size) != 0) {
        log_error("a key's webhook secret cannot be opened", "key=%s", key_id);
        out[0] = '\0';
    }
}

typedef enum { ATTEMPT_DELIVERED, ATTEMPT_FAILED, ATTEMPT_HOPELESS } attempt_outcome;

/* Records the end of an attempt: delivered, retried later, or given up — after the last attempt, or at
 * once when no retry could help (ATTEMPT_HOPELESS: the URL is refused, the task is gone). */
static void finish(callback_sender *s, const callback_record *record, attempt_outcome outcome, long status,
                   const char *error, int64_t now_ms)
{
    callback_state state = CALLBACK_DUE;
    int64_t next_at_ms = 0;
    if (outcome == ATTEMPT_DELIVERED) {
        state = CALLBACK_DELIVERED;
        atomic_fetch_add(&s->delivered, 1);
        log_info("callback delivered", "task=%s attempt=%d status=%ld", record->task_id, record->attempts,
                 status);
    } else if (outcome == ATTEMPT_HOPELESS || record->attempts >= CALLBACK_MAX_ATTEMPTS) {
        state = CALLBACK_GIVEN_UP;
        atomic_fetch_add(&s->given_up, 1);
        log_warn("callback given up", "task=%s attempts=%d status=%ld error=\"%s\"", record->task_id,
                 record->attempts, status, error);
    } else {
        next_at_ms = now_ms + s->config.retry_delays_ms[record->attempts > 0 ? record->attempts - 1 : 0];
        atomic_fetch_add(&s->retried, 1);
        log_info("callback failed; retrying", "task=%s attempt=%d status=%ld error=\"%s\" retry_in_ms=%lld",
                 record->task_id, record->attempts, status, error, (long long)(next_at_ms - now_ms));
    }
    store_status stored = store_callback_finish_attempt(s->db, record->task_id, record->attempts, state,
                                                        (int)status, error, next_at_ms, clock_unix_ms());
    /* CONFLICT: a later attempt's outcome is there; NOT_FOUND: the task was deleted meanwhile */
    if (stored != STORE_OK && stored != STORE_CONFLICT && stored != STORE_NOT_FOUND)
        log_error("a callback's outcome could not be stored; it is tried again after its lease", "task=%s",
                  record->task_id);
    s->next_look_ms = 0; /* the earliest due time may have changed */
}

/* Builds and starts one attempt. Problems that no retry can fix give the callback up at once. */
static void start(callback_sender *s, const callback_record *record, int64_t now_ms)
{
    task_record task;
    memset(&task, 0, sizeof(task));
    store_status found = store_task_get(s->db, record->task_id, &task);
    if (found != STORE_OK) {
        finish(s, record, found == STORE_NOT_FOUND ? ATTEMPT_HOPELESS : ATTEMPT_FAILED, 0,
               found == STORE_NOT_FOUND ? "the task no longer exists" : "the task could not be read", now_ms);
        return;
    }
    json_text body = {0};
    task_view_links links = s->config.links;
    task_view_write(&links, &task, &body);
    task_record_clear(&task);
    if (body.failed || body.data == NULL) {
        json_text_free(&body);
        finish(s, record, ATTEMPT_FAILED, 0, "out of memory", now_ms);
        return;
    }

    char webhook_id[IDS_TASK_ID_SIZE + 8];
    snprintf(webhook_id, sizeof(webhook_id), "msg_%s", record->task_id);
    char secret[SECRET_BOX_MAX_PLAIN + 1];
    key_secret(s, record->key_id, secret, sizeof(secret));
    webhook_signed_headers signed_headers;
    bool signed_ok = secret[0] != '\0' && webhook_sign_standard(secret, webhook_id, now_ms / 1000, body.data,
                                                                body.length, &signed_headers) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!signed_ok) {
        /* Standard Webhooks headers all the same, so receivers can still deduplicate */
        memset(&signed_headers, 0, sizeof(signed_headers));
        snprintf(signed_headers.id, sizeof(signed_headers.id), "webhook-id: %s", webhook_id);
        snprintf(signed_headers.timestamp, sizeof(signed_headers.timestamp), "webhook-timestamp: %lld",
                 (long long)(now_ms / 1000));
        log_warn("callback sent unsigned: the key has no usable webhook secret", "task=%s key=%s",
                 record->task_id, record->key_id);
    }
    const char *headers[] = {"Content-Type: application/json", signed_headers.id, signed_headers.timestamp,
                             signed_ok ? signed_headers.signature : NULL, NULL};
    fetch_post_options options = {.policy = &s->config.fetch,
                                  .timeout_ms = (long)s->config.timeout_ms,
                                  .max_response_bytes = RESPONSE_CAP,
                                  .https_only = true};
    fetch_result result;
    char err[ERROR_SIZE];
    fetch_post *post =
        fetch_post_begin(record->url, headers, body.data, body.length, &options, &result, err, sizeof(err));
    sodium_memzero(&signed_headers, sizeof(signed_headers)); /* libcurl holds its own copy */
    json_text_free(&body);
    if (post == NULL) {
        /* no retry makes a refused URL acceptable */
        finish(s, record, result == FETCH_INVALID_URL ? ATTEMPT_HOPELESS : ATTEMPT_FAILED, 0, err, now_ms);
        return;
    }
    delivery *d = calloc(1, sizeof(*d));
    if (d == NULL || curl_multi_add_handle(s->multi, fetch_post_easy(post)) != CURLM_OK) {
        free(d);
        fetch_post_end(post, CURLE_FAILED_INIT, NULL, NULL, 0);
        finish(s, record, ATTEMPT_FAILED, 0, "the delivery could not start", now_ms);
        return;
    }
    d->record = *record;
    d->post = post;
    d->started_ms = now_ms;
    curl_easy_setopt(fetch_post_easy(post), CURLOPT_PRIVATE, d);
    d->next = s->flights;
    if (s->flights) s->flights->prev = d;
    s->flights = d;
    atomic_fetch_add(&s->in_flight, 1);
    log_debug("callback attempt", "task=%s attempt=%d", record->task_id, record->attempts);
}

static void unlink_delivery(callback_sender *s, delivery *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        s->flights = d->next;
    if (d->next) d->next->prev = d->prev;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void done(callback_sender *s, delivery *d, CURLcode code)
{
    curl_multi_remove_handle(s->multi, fetch_post_easy(d->post));
    unlink_delivery(s, d);
    long status = 0;
    char err[ERROR_SIZE];
    fetch_result result = fetch_post_end(d->post, code, &status, err, sizeof(err));
    finish(s, &d->record, result == FETCH_OK ? ATTEMPT_DELIVERED : ATTEMPT_FAILED, status,
           result == FETCH_OK ? "" : err, clock_unix_ms());
    free(d);
}

/* Claims what is due (as far as there is room) and starts it; sets when to look again. */
static void look(callback_sender *s, int64_t now_ms)
{
    size_t in_flight = atomic_load(&s->in_flight);
    int64_t next_due = INT64_MAX;
    store_status status = store_callbacks_next_due(s->db, &next_due);
    if (status == STORE_OK && next_due <= now_ms && in_flight < s->config.max_in_flight) {
        callback_record *records = NULL;
        size_t count = 0;
        int64_t lease_until = now_ms + s->config.timeout_ms + LEASE_SLACK_MS;
        if (store_callbacks_claim_due(s->db, now_ms, lease_until, s->config.max_in_flight - in_flight,
                                      &records, &count) == STORE_OK) {
            for (size_t i = 0; i < count && !atomic_load(&s->stopping); i++)
                start(s, &records[i], now_ms);
            free(records);
        }
        /* more may be due (beyond the room there was): then the next look comes at once */
        if (store_callbacks_next_due(s->db, &next_due) != STORE_OK) next_due = INT64_MAX;
    }
    int64_t next = now_ms + s->config.poll_interval_ms;
    if (next_due < next) next = next_due;
    if (atomic_load(&s->in_flight) >= s->config.max_in_flight) next = now_ms + s->config.poll_interval_ms;
    s->next_look_ms = next;
}

static void *sender_main(void *arg)
{
    callback_sender *s = arg;
    while (!atomic_load(&s->stopping)) {
        /* Finished and timed-out attempts are settled before anything is claimed: whatever is still in
         * flight at the look is younger than its lease (timeout + slack), so it cannot be claimed
         * again under itself, even after this thread was held up. */
        int running = 0;
        curl_multi_perform(s->multi, &running);
        CURLMsg *message;
        int left = 0;
        while ((message = curl_multi_info_read(s->multi, &left)) != NULL) {
            if (message->msg != CURLMSG_DONE) continue;
            delivery *d = NULL;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            if (d != NULL) done(s, d, message->data.result);
        }
        int64_t now_ms = clock_unix_ms();
        if (now_ms >= s->next_look_ms) {
            look(s, now_ms);
            curl_multi_perform(s->multi, &running); /* start what was just added */
        }
        if (s->next_look_ms == 0) continue; /* an outcome changed the schedule: look right away */
        int64_t wait_ms = s->next_look_ms - clock_unix_ms();
        if (wait_ms < 0) wait_ms = 0;
        if (wait_ms > s->config.poll_interval_ms) wait_ms = s->config.poll_interval_ms;
        curl_multi_poll(s->multi, NULL, 0, (int)wait_ms, NULL);
    }
    return NULL;
}

callback_sender *callback_sender_start(const callback_sender_config *config)
{
    callback_sender *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    s->config = *config;
    snprintf(s->data_dir, sizeof(s->data_dir), "%s", config->data_dir);
    s->config.data_dir = s->data_dir;
    s->database_url = config->database_url ? strdup(config->database_url) : NULL;
    s->config.database_url = s->database_url;
    if (config->links.signer) s->signer = *config->links.signer;
    s->config.links.signer = &s->signer;
    snprintf(s->public_url, sizeof(s->public_url), "%s",
             config->links.public_url ? config->links.public_url : "");
    s->config.links.public_url = s->public_url;
    if (s->config.timeout_ms <= 0) s->config.timeout_ms = 10000;
    static const int64_t default_delays[CALLBACK_MAX_ATTEMPTS - 1] = {1000, 2000, 4000};
    for (int i = 0; i < CALLBACK_MAX_ATTEMPTS - 1; i++)
        if (s->config.retry_delays_ms[i] <= 0) s->config.retry_delays_ms[i] = default_delays[i];
    if (s->config.poll_interval_ms <= 0) s->config.poll_interval_ms = 250;
    if (s->config.max_in_flight == 0) s->config.max_in_flight = 256;

    if ((config->database_url != NULL && s->database_url == NULL) ||
        secret_box_load(s->data_dir, &s->box) != 0 ||
        store_open_url(s->database_url, s->data_dir, &s->db) != STORE_OK || !fetch_library_ready() ||
        (s->multi = curl_multi_init()) == NULL || pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        log_error("the callback sender could not start", "data=\"%s\"", s->data_dir);
        if (s->multi) curl_multi_cleanup(s->multi);
        if (s->db) store_close(s->db);
        sodium_memzero(&s->box, sizeof(s->box));
        free(s->database_url);
        free(s);
        return NULL;
    }
    return s;
}

void callback_sender_stop(callback_sender *s)
{
    atomic_store(&s->stopping, true);
    curl_multi_wakeup(s->multi);
    pthread_join(s->thread, NULL);
    while (s->flights) {
        delivery *d = s->flights;
        curl_multi_remove_handle(s->multi, fetch_post_easy(d->post));
        unlink_delivery(s, d);
        fetch_post_end(d->post, CURLE_ABORTED_BY_CALLBACK, NULL, NULL, 0);
        free(d);
    }
    curl_multi_cleanup(s->multi);
    store_close(s->db);
    sodium_memzero(&s->box, sizeof(s->box));
    sodium_memzero(&s->signer, sizeof(s->signer));
    free(s->database_url);
    free(s);
}

void callback_sender_get_stats(callback_sender *s, callback_sender_stats *out)
{
    out->in_flight = atomic_load(&s->in_flight);
    out->delivered = atomic_load(&s->delivered);
    out->retried = atomic_load(&s->retried);
    out->given_up = atomic_load(&s->given_up);
}

/* api_internal.h — what the files of api/ share: the per-thread state and the task view. Not part
 * of the module's contract (that is api.h). */
#ifndef REELAY_API_INTERNAL_H
#define REELAY_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "engine/routing.h"
#include "store/store.h"
#include "util/json_text.h"

/* Recently authenticated keys of one thread, by hash; an entry is trusted for KEY_CACHE_MS, so a
 * revoked key stops working within that time even when no signal says so (SQLite, or a signal missed);
 * a "key" signal from another node or the command line (api_follow_signals) empties every thread's
 * cache at once. */
enum { KEY_CACHE_SLOTS = 64, KEY_CACHE_MS = 500 };
typedef struct key_cache_entry {
    unsigned char hash[32];
    key_record key;
    int64_t checked_ms; /* 0 = empty slot */
} key_cache_entry;

/* A submission waiting for its thread's next group commit (generations.c). */
enum { ADMISSION_RETRY_MS = 1, ADMISSION_MAX_DEFERRALS = 20 };
typedef struct pending_submission pending_submission;

typedef struct api_thread {
    api_app *app;
    store *db;
    /* Group commit: the submissions accepted during one event-loop iteration are stored in one
     * transaction at its end (h2o's zero timeout), then answered. */
    pending_submission **pending;
    size_t pending_count, pending_capacity;
    h2o_timeout_entry_t flush_timer;
    h2o_context_t *context;
    /* When another thread holds the store's writer lock, a flush does not wait for it: it comes back
     * ADMISSION_RETRY_MS later with whatever else arrived meanwhile (at most ADMISSION_MAX_DEFERRALS
     * times in a row, then it waits). */
    h2o_timeout_t retry_timeout;
    bool retry_timeout_ready;
    int flush_deferrals;
    h2o_multithread_receiver_t admitted; /* batches back from the admission writer (admission_writer.h) */
    bool admitted_ready;                 /* registered on the loop's queue */
    size_t batches_out;                  /* batches at the writer, not yet back */
    bool stopping; /* api_generations_stopping ran: submissions are admitted one by one, without timers */
    key_cache_entry keys[KEY_CACHE_SLOTS];
    uint64_t keys_generation;     /* app->keys_generation when the key cache was last emptied */
    routing_channel *channels;    /* cached channel view for routing checks, refreshed every CHANNEL_CACHE_MS
                                     or at once after a "channel" signal */
    uint64_t channels_generation; /* app->channels_generation when the channels were last read */
    size_t channel_count;
    int64_t channels_loaded_ms;
    struct task_watch_thread
        *watch; /* live events' watchers of this thread (task_watch.h); NULL until used */
} api_thread;

/* Authenticates the request's Bearer key into *key and counts the request against the key's rate
 * limit (api/rate_limit.h). On failure sends 401 (or 429 over the limit) and returns false. */
bool api_authenticate(http_exchange *exchange, key_record *key);
/* http_route.screen for routes that take large bodies: refuses a head without a valid key before a
 * byte of its body is accepted (the handler authenticates again, and counts the rate limit). */
bool api_screen_key(void *thread_data, const http_request_head *head, reelay_error *err);
/* Sets X-RateLimit-Limit / -Remaining / -Reset (seconds until the window ends) on the response,
 * replacing earlier values: the headers describe the limit that decided the answer. */
void api_add_rate_headers(h2o_req_t *req, int limit, int remaining, int reset_seconds);

/* Parses the request body as a JSON object (Content-Type application/json, no duplicate names); on
 * failure returns NULL with err filled (400). The body's size was already held to its route's limit by
 * the HTTP server (http_server_config.route_body_bytes). */
json_t *api_parse_json_object(h2o_req_t *req, reelay_error *err);
/* Whether the request's Content-Type is application/json (parameters allowed): the rule of
 * api_parse_json_object, for handlers that read a JSON body their own way (the base64 upload). */
bool api_content_type_is_json(h2o_req_t *req);

/* A store call failed (the database is unreachable, or refused): answers 503 store_unavailable with
 * Retry-After: API_STORE_RETRY_AFTER and `message` (what could not be done; say whether anything
 * changed). The next store call reconnects by itself once the database is back. */
#define API_STORE_RETRY_AFTER "2"
void api_send_store_unavailable(h2o_req_t *req, const char *message);

/* Sends a JSON value (stolen; NULL means it could not be built: 500 internal_error) with `status`. */
void api_send_json_value(h2o_req_t *req, int status, json_t *value);

/* Appends the task as GET /v1/tasks/{id} shows it. */
void api_task_write(const api_app *app, const task_record *task, json_text *out);
/* Sends written JSON text (a failed text becomes a 500) and frees it. */
void api_send_json_text(h2o_req_t *req, int status, json_text *text);

/* Whether an enabled channel can take this model with these advanced options (routing_check over a
 * per-thread copy of the channel table, refreshed every 2 s). */
routing_verdict api_route_check(api_thread *thread, const char *model, const json_t *advanced,
                                json_t **unsupported);
/* Re-reads the thread's channel copy when it is older than 2 s (credentials are not kept in it). */
void api_channels_refresh(api_thread *thread);

/* File names (files.c). The last path segment of name[0..length), reduced to [A-Za-z0-9._-]: each run
 * of other bytes becomes one '_'; leading dots go (no hidden files, no ".."), trailing dots and '_' too.
 * The extension (the last '.' and 1 to 16 letters or digits) is always kept: a name with nothing usable
 * before it is called "file" ("....mp4" → "file.mp4"), and a name longer than API_FILE_NAME_MAX is cut
 * before it. out_size should be 4 * API_FILE_NAME_MAX + 1. False when nothing is left. */
enum { API_FILE_NAME_MAX = 120 };
bool api_file_name_sanitize(const char *name, size_t length, char *out, size_t out_size);

/* File types (files.c, over api_file_types). The media type of a name's extension (any case; NULL when
 * it has none of the table's); the extension (no dot) a media type's files get (NULL when not in the
 * table); whether files of a media type are shown inline (audio, video, images other than SVG) rather
 * than downloaded. */
const char *api_file_type_of_name(const char *name);
const char *api_file_extension_of_type(const char *media_type, size_t length);
bool api_file_is_inline(const char *media_type);
/* Headers that keep a served file from acting as a page of reelay's origin (nosniff, a sandbox CSP, and
 * a download name unless the file is plain media): files.c, for every answer with a stored file's bytes. */
void api_files_add_safety_headers(h2o_req_t *req, const char *name);
/* Answers GET or HEAD with the stored object `name` (file_download.c), on any storage: read on the
 * offload pool a chunk at a time, with Content-Type by extension, ETag, Last-Modified, one byte Range
 * (206/416), If-Range and If-None-Match (304); 404 not_found when the object is not there, 503
 * storage_unavailable when the storage cannot be read. The caller has authorized the request. */
void api_send_stored_object(api_thread *thread, h2o_req_t *req, const char *name);

/* Handlers. */
void api_generations_create(http_exchange *exchange);
/* The admission of a task (generations.c) once the key and Idempotency-Key are read: the body (the
 * unified fields; borrowed) validated, a known Idempotency-Key answered, routed, its inputs probed,
 * priced and queued for the group commit; answers in every case. */
typedef struct api_admit_options {
    bool openai_video;                 /* answered as OpenAI's video object (POST /v1/videos) */
    const unsigned char *request_hash; /* what an Idempotency-Key is bound to (32 bytes), or NULL for the
                                          SHA-256 of the validated parameters (api_request_hash), and of
                                          remixed_from when set */
    const char *remixed_from;          /* the video the new one remixes, or NULL */
    json_t *param_names; /* the client's names of unified fields (openai_param_names), or NULL; borrowed */
} api_admit_options;
void api_generations_admit(api_thread *thread, h2o_req_t *req, const key_record *key,
                           const char *idempotency_key, const json_t *body, const api_admit_options *options);
/* Reads the Idempotency-Key header into out ("" when absent). False (after answering 400) when it is
 * empty, longer than STORE_IDEMPOTENCY_KEY_MAX or not printable ASCII. */
bool api_read_idempotency_key(h2o_req_t *req, char out[STORE_IDEMPOTENCY_KEY_MAX + 1]);
/* The SHA-256 of a JSON value's canonical text (sorted keys, compact); false when out of memory. */
bool api_request_hash(const json_t *params, unsigned char request_hash[32]);
/* True after answering when the key's Idempotency-Key was used in the last 24 hours: with this hash,
 * its task (openai_video: as a video object); with another, 422 idempotency_key_reused. False when it
 * is new (or the store could not say: the admission's insert decides). */
bool api_answered_by_idempotency(api_thread *thread, h2o_req_t *req, const key_record *key,
                                 const char *idempotency_key, const unsigned char request_hash[32],
                                 bool openai_video);
/* POST /v1/videos/generations/quote: the submit's checks and price, nothing stored (quote.c). */
void api_generations_quote(http_exchange *exchange);
/* The HTTP thread is stopping: admits and answers what is still pending, releases its timers. */
void api_generations_stopping(api_thread *thread);
void api_tasks_get(http_exchange *exchange);
void api_tasks_list(http_exchange *exchange);
/* Reads a list route's limit (1…100; 422 out_of_range) and after (a task id, read into the caller's
 * buffer `after`; 422 invalid_value "after must be the id of one of your <noun>") into *query; false
 * after answering (tasks.c). */
bool api_read_list_paging(h2o_req_t *req, task_list_query *query, char after[IDS_TASK_ID_SIZE],
                          const char *noun);
/* store_task_list for a list route (tasks.c): false after answering 422 invalid_value naming `after`
 * ("after must be the id of one of your <noun>") or 503 store_unavailable. */
bool api_task_list_read(api_thread *thread, h2o_req_t *req, const task_list_query *query, const char *noun,
                        task_record **tasks, size_t *count, bool *has_more);
void api_tasks_cancel(http_exchange *exchange);
/* Reads the web console shows beside a task (task_info.c), each authenticated (401), 404 task_not_found
 * for an unknown or another key's task, 503 store_unavailable when the store fails:
 *   GET /v1/tasks/{id}/callback  its callback's delivery state (api_task_callback_write);
 *   GET /v1/tasks/{id}/request   {"task_id","model","params"}: the stored validated parameters;
 *   GET /v1/usage/daily?days=N   the key's settled credits per UTC day (api_usage_daily_write); N 1…90,
 *                                default 30, else 422 out_of_range param "days". */
void api_task_callback_get(http_exchange *exchange);
void api_task_request_get(http_exchange *exchange);
void api_usage_daily(http_exchange *exchange);
/* Appends the callback answer of task_id: {"task_id","url","state","attempts","last_status",
 * "last_error","next_attempt_at","updated_at"}. delivery NULL (no callback, or not queued yet: a task's
 * row is made when it finishes) gives state "none", attempts 0 and every other member null. Otherwise
 * state is "pending" (due, an attempt maybe under way), "delivered" or "failed" (given up); last_status
 * is null until an attempt got an answer, last_error null when there is none, next_attempt_at (Unix
 * seconds, rounded up) null unless pending. Pure. */
void api_task_callback_write(const char *task_id, const callback_delivery *delivery, json_text *out);
/* Appends {"object":"list","days":N,"data":[{"date":"YYYY-MM-DD","credits","tasks"},…]}: one entry per UTC
 * day from first_day (its midnight, Unix seconds) for `days` days, oldest first; a day is its row of
 * rows[0…count) (oldest first, as store_usage_daily gives them; rows outside the days are skipped) or
 * zeros. False when a day cannot be written as a date (the text is then incomplete). Pure. */
bool api_usage_daily_write(int64_t first_day, int days, const usage_day *rows, size_t count, json_text *out);
/* Live progress (task_events.c): GET /v1/tasks/{id}/events and GET /v1/tasks/events (Server-Sent
 * Events). */
void api_task_events(http_exchange *exchange);
/* Reads the key's own task the path names into *task (the caller clears it); false after answering 404
 * task_not_found (a malformed id, no such task, or another key's: as GET /v1/tasks/{id}) or 503. */
bool api_read_own_task(http_exchange *exchange, const key_record *key, task_record *task);
void api_key_events(http_exchange *exchange);
/* ?wait=N of GET /v1/tasks/{id}: 0 when absent, N (0…60), or -1 when malformed (422 out_of_range sent). */
int api_task_wait_seconds(h2o_req_t *req);
/* Answers the task (the caller's, read just now) as soon as its status or progress changes, or after
 * `seconds` with what it is then. The request is answered later, from the loop. */
void api_task_wait(http_exchange *exchange, const task_record *task, int seconds);
/* The thread stops: every stream ends, every wait gets 503 server_stopping. */
void api_task_events_stopping(api_thread *thread);
/* OpenAI's Videos API (openai_videos.c): GET /v1/videos/{id}, GET /v1/videos and GET
 * /v1/videos/{id}/content. POST /v1/videos is
 * generations.c's: the unified submit's admission (credits, limits, idempotency, callbacks) over the body
 * mapped by openai_videos_map.h, answered with the video object. */
void api_openai_videos_create(http_exchange *exchange);
void api_openai_videos_get(http_exchange *exchange);
void api_openai_videos_list(http_exchange *exchange);
void api_openai_videos_content(http_exchange *exchange);
/* POST /v1/videos/{id}/remix (openai_videos_remix.c). */
void api_openai_videos_remix(http_exchange *exchange);
/* Authenticates (api_authenticate: *key) and reads the caller's video the path names into *task (the
 * caller clears it); false after answering 401, 404 not_found (no such video, or another key's) or 503. */
bool api_read_own_video(http_exchange *exchange, key_record *key, task_record *task);
/* DELETE /v1/videos/{id} (video_delete.c): a finished video of the key goes for good (store_task_delete),
 * then its stored result objects; 409 task_not_finished while it is queued or in progress. */
void api_openai_videos_delete(http_exchange *exchange);
/* An object name of the blob store (blob.h), as a fixed buffer. */
typedef struct api_object_name {
    char text[256];
} api_object_name;
/* The stored objects a deleted task's results_json names (each result's "object", "thumbnail" and
 * "spritesheet"), in order: only valid object names inside the task's own folder results/<task_id>/ (a
 * longer or foreign name is left out: the results sweep takes what is left). Returns a malloc'd array
 * of *count names (free()), or NULL with *count 0 when there is none (no results, text that is not a JSON
 * array, out of memory). Pure: no I/O. */
api_object_name *api_video_result_objects(const char *task_id, const char *results_json, size_t *count);
void api_upstream_webhook(http_exchange *exchange);
void api_models_list(http_exchange *exchange);
void api_balance_get(http_exchange *exchange);
/* GET [/v1]/dashboard/billing/subscription and …/usage (OpenAI's shape, from the key's credits) and
 * GET /api/pricing (the open-source gateways' shape, no key needed): billing.c, which documents the
 * credit ↔ USD mapping. */
void api_billing_subscription(http_exchange *exchange);
void api_billing_usage(http_exchange *exchange);
void api_pricing_list(http_exchange *exchange);
/* GET /console[/…] (console.c): the web console's page, or its bundle under /console/assets/. */
void api_console_page(http_exchange *exchange);
void api_ops_health(http_exchange *exchange);
void api_ops_metrics(http_exchange *exchange);
/* POST /v1/files/upload/stream (multipart), /base64 and /url (JSON): uploads.c. */
void api_uploads_stream(http_exchange *exchange);
void api_uploads_base64(http_exchange *exchange);
void api_uploads_url(http_exchange *exchange);

#endif

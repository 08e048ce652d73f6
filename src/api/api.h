/* api.h — the HTTP resources of reelay: generations, tasks, files, models, health and metrics.
 *
 * api_routes is the route table handed to the HTTP server; api_thread_init/done give each event-loop
 * thread its own store connection and caches. Handlers authenticate, validate, do one short local
 * store call, hand work to the engine (in memory) and answer — they never wait on the network. */
#ifndef REELAY_API_API_H
#define REELAY_API_API_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "catalog/prices.h"
#include "media/media.h"
#include "blob/link.h"
#include "engine/engine.h"
#include "http/http.h"
#include "store/store.h"

typedef struct api_app {
    const char *data_dir;
    const char *database_url; /* store_open_url's URL (NULL = SQLite in data_dir) */
    const char *public_url;   /* no trailing slash; used in result links */
    int64_t link_ttl_seconds; /* result links live this long after completion */
    int64_t task_timeout_seconds;
    size_t max_json_bytes; /* JSON request bodies above this get 413 */
    link_signer signer;
    blob_store *blobs;
    engine *engine;
    http_server *server; /* for request metrics; set once serving */
    store *admission_db; /* SQLite, without a writer: one connection shared by every HTTP thread for
                            admissions (used only under the store's writer lock), so its page cache stays
                            warm; NULL = each thread's own */
    struct admission_writer *admission_writer; /* commits every HTTP thread's admissions on its own
                                                  connection (admission_writer.h); NULL = the threads do */
    /* Uploads (uploads.c) */
    int64_t max_upload_bytes;         /* larger files get 413 file_too_large */
    int64_t upload_quota_bytes;       /* what one key's unexpired uploads may add up to */
    int64_t upload_ttl_seconds;       /* an upload and its link expire this long after it */
    const fetch_policy *upload_fetch; /* the guard for POST /v1/files/upload/url (max_bytes capped) */

    /* Admission (issue 4): the price table, the allow-list for callback URLs (REELAY_FETCH_ALLOW) and the
     * probe of media inputs. probe_input blocks (it runs on the offload pool): 0 with *info, or -1 with a
     * code ("input_unreachable", "input_blocked", "input_too_large", "input_not_media", "timeout") and a
     * message for the client. NULL = inputs are not probed (and media models are priced at 0 seconds). */
    price_table *prices;
    const char *fetch_allow;
    int (*probe_input)(void *context, const char *url, media_info *info, char *code, size_t code_size,
                       char *message, size_t message_size);
    void *probe_context;

    /* Bumped when another node or the command line says a key or a channel changed (api_follow_signals);
     * each HTTP thread drops its cached keys or channels when it sees a new value. */
    atomic_uint_fast64_t keys_generation, channels_generation;

    /* Live progress (task_events.c): a comment line is sent on an event stream without news this often
     * (0 = 15 s); the HTTP threads' mailboxes for the engine's task changes (made by api_follow_signals;
     * NULL = the streams rely on their periodic re-reads alone). */
    int64_t events_keepalive_ms;
    struct task_watch_board *task_board;
} api_app;

extern const http_route api_routes[];
extern const size_t api_route_count;
/* http_server_config.unmatched: a path under /v1/ that no route knows asks for a valid key first (401,
 * counted against its rate limit), then answers 404 unknown_path; any other path answers 404 at once. */
void api_unmatched(http_exchange *exchange);

/* The guard of the file mount for /v1/files (the folder is the blob store's): lets h2o serve a file
 * only through a valid, unexpired signed link; answers 403 / 410 otherwise. A served file carries
 * X-Content-Type-Options: nosniff and Content-Security-Policy: sandbox and, unless it is audio, video
 * or an image other than SVG, Content-Disposition: attachment. */
bool api_files_authorize(http_exchange *exchange);
/* http_file_mount.serve when objects are not local files (S3 storage): answers GET and HEAD of what
 * api_files_authorize let through from the store, streamed a chunk at a time off the loop (see
 * file_download.c), with the headers h2o's file handler gives a local file (Content-Type by the name's
 * extension, Content-Length, ETag, Last-Modified, Accept-Ranges; one byte range → 206, an unsatisfiable
 * one → 416 range_not_satisfiable; If-None-Match → 304). A missing object → 404 not_found as for a
 * local file; storage that fails before the answer starts → 503 storage_unavailable with Retry-After: 5;
 * after it started, the answer is cut short (the connection closes). */
void api_files_serve_object(http_exchange *exchange);
/* The mount's types (http_file_mount.types): the audio, video and image formats reelay takes. */
extern const http_file_type api_file_types[];

/* Subscribes the HTTP threads' caches of keys and channels to the engine's signals between nodes
 * (engine_on_signal), once app->engine runs: a revoked key or a changed channel is dropped by every
 * thread at once. Nothing on SQLite (the caches' short lifetimes hold alone). Also subscribes the live
 * event streams to the engine's task changes (engine_follow_tasks), on either backend; call it before
 * the HTTP threads start. */
void api_follow_signals(api_app *app);

void *api_thread_init(void *app, int thread_index);
void api_thread_done(void *thread_data);
void api_thread_stopping(void *thread_data);

#endif

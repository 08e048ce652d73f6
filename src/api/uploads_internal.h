/* uploads_internal.h — what the upload routes (uploads.c) share with the common end of every upload
 * (upload_commit.c): the scratch file a route fills, its error answers, and upload_commit, which turns
 * the finished file into the key's upload. Not part of the module's contract (that is api.h). */
#ifndef REELAY_API_UPLOADS_INTERNAL_H
#define REELAY_API_UPLOADS_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api_internal.h"

/* A route's scratch folder and the file in it; dir "" when none was made (or it was handed on). */
typedef struct scratch_file {
    char dir[PATH_MAX];
    char path[PATH_MAX]; /* dir/upload */
} scratch_file;

/* Removes the scratch folder, if any, and empties *scratch (so a second call does nothing). */
void upload_scratch_remove(scratch_file *scratch);

/* 500 internal_error ("the upload could not be stored"), logged with the step that failed. */
void upload_send_server_error(h2o_req_t *req, const char *what);
/* 413 file_too_large naming the limit; param is the field (NULL = none). */
void upload_send_too_large(h2o_req_t *req, const api_app *app, const char *param);

/* How the request stands when upload_commit is called: from the handler itself (its first step), or
 * from the done of an offloaded step (its work was already admitted: http_offload_continue). */
typedef enum { UPLOAD_FIRST_STEP, UPLOAD_CONTINUATION } upload_step;

/* What follows a stored upload instead of its answer (multipart POST /v1/videos: the task's admission).
 * fn is called exactly once, on the loop thread: with the recorded upload and its signed link, when it
 * must answer req itself; or with upload and url NULL when upload_commit answered (an error) or the
 * request is gone (req NULL), when it only releases context. */
typedef void (*upload_then_fn)(api_thread *thread, h2o_req_t *req, const upload_record *upload,
                               const char *url, void *context);
typedef struct upload_then {
    upload_then_fn fn;
    void *context;
} upload_then;

/* Moves the finished scratch file into storage as the object uploads/<id>/<filename> (the object
 * first, the row after: a row never names a missing object), records the upload under the key's quota
 * (evicting its oldest auto_cleanup uploads when asked, whose objects are then removed) and answers
 * 200 with the signed link, or the error. Takes the scratch file over: *scratch is emptied, so the
 * caller's own removal of it does nothing. On local storage everything happens before this returns
 * (a rename); on S3 the PUT and the removals run on the offload pool (they may wait on the network)
 * and the answer comes later from this loop thread. Answers in every case, or, with `then` (may be NULL),
 * hands a recorded upload to then->fn to answer. */
void upload_commit(api_thread *thread, h2o_req_t *req, upload_step step, const char *key_id,
                   scratch_file *scratch, int64_t size, const char *filename, const char *declared_type,
                   bool auto_cleanup, const upload_then *then);

/* Writes data to a new scratch file, then upload_commit (UPLOAD_FIRST_STEP) with the rest. */
void upload_store_bytes(api_thread *thread, h2o_req_t *req, const char *key_id, const char *data, size_t size,
                        const char *filename, const char *declared_type, bool auto_cleanup,
                        const upload_then *then);

#endif

/* file_download.c — GET and HEAD of a signed link when objects are not local files (api.h:
 * api_files_serve_object), and the bytes of GET /v1/videos/{id}/content (api_send_stored_object), whatever
 * the storage. The object's head, and each chunk of its bytes, are read on the offload
 * pool; the answer streams one chunk at a time, and the next chunk is read only once h2o has sent the
 * last one (the generator's proceed), so a download holds at most DOWNLOAD_CHUNK bytes of this node's
 * memory however large the object and however slow the client. The headers are those h2o's file
 * handler gives a local file: Content-Type by extension, Content-Length, ETag, Last-Modified,
 * Accept-Ranges, one byte range (206 with Content-Range, 416 when unsatisfiable), If-None-Match (304).
 *
 * A download's state is freed by whichever comes last: h2o disposing of the request, or the job in
 * flight coming back (done is told the request is gone). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "util/log.h"

enum { DOWNLOAD_CHUNK = 1 << 20, DOWNLOAD_NOT_RUN = 1 };

/* What the first job decided the answer is. */
typedef enum {
    ANSWER_UNKNOWN = 0,
    ANSWER_MISSING,
    ANSWER_UNAVAILABLE,
    ANSWER_UNCHANGED,
    ANSWER_UNSATISFIABLE,
    ANSWER_BYTES
} download_answer;

typedef struct download {
    h2o_generator_t generator; /* h2o calls proceed for the next chunk */
    blob_store *blobs;
    char name[600];
    bool head_only;
    bool request_gone, job_in_flight; /* loop thread only */
    /* the request's conditional headers, copied on the loop for the worker ("" when absent) */
    char range[128], if_range[128], if_none_match[512];
    bool has_range, range_too_long;
    /* set by the first job */
    download_answer answer;
    blob_object_info info;
    bool partial;
    uint64_t first, count; /* the bytes answered */
    uint64_t offset;       /* the next byte to read */
    uint64_t remaining;    /* bytes not yet handed to h2o */
    /* each chunk */
    int read_status; /* BLOB_OK, BLOB_NOT_FOUND, BLOB_ERROR, or DOWNLOAD_NOT_RUN */
    size_t chunk_length;
    char chunk[DOWNLOAD_CHUNK];
} download;

/* Lives in the request's memory pool: h2o disposes of it with the request. */
typedef struct download_link {
    download *d;
} download_link;

static void release_if_done(download *d)
{
    if (d->request_gone && !d->job_in_flight) free(d);
}

static void on_request_disposed(void *object)
{
    download *d = ((download_link *)object)->d;
    d->request_gone = true;
    release_if_done(d);
}

static int chunk_sink(void *context, const void *data, size_t size)
{
    download *d = context;
    if (size > sizeof(d->chunk) - d->chunk_length) return -1; /* more than asked for */
    memcpy(d->chunk + d->chunk_length, data, size);
    d->chunk_length += size;
    return 0;
}

/* On a worker: the next chunk into d->chunk. */
static void read_chunk(download *d)
{
    uint64_t want = d->remaining < sizeof(d->chunk) ? d->remaining : sizeof(d->chunk);
    d->chunk_length = 0;
    d->read_status = blob_read(d->blobs, d->name, d->offset, want, chunk_sink, d);
    if (d->read_status == BLOB_OK && d->chunk_length != want) d->read_status = BLOB_ERROR;
    if (d->read_status == BLOB_OK) d->offset += want;
}

/* On a worker: the object's head, what to answer, and the first chunk of a GET. */
static void first_work(void *ctx)
{
    download *d = ctx;
    int status = blob_head(d->blobs, d->name, &d->info);
    if (status != BLOB_OK) {
        d->answer = status == BLOB_NOT_FOUND ? ANSWER_MISSING : ANSWER_UNAVAILABLE;
        return;
    }
    if (d->if_none_match[0] &&
        http_etag_list_matches(d->if_none_match, strlen(d->if_none_match), d->info.etag)) {
        d->answer = ANSWER_UNCHANGED;
        return;
    }
    /* If-Range: the range holds only while the object is the one the client has part of */
    bool use_range = d->has_range && (d->if_range[0] == '\0' || strcmp(d->if_range, d->info.etag) == 0);
    http_range_kind kind =
        d->range_too_long ? HTTP_RANGE_UNSATISFIABLE
        : use_range ? http_byte_range_parse(d->range, strlen(d->range), d->info.size, &d->first, &d->count)
                    : http_byte_range_parse(NULL, 0, d->info.size, &d->first, &d->count);
    if (use_range && kind == HTTP_RANGE_UNSATISFIABLE) {
        d->answer = ANSWER_UNSATISFIABLE;
        return;
    }
    d->answer = ANSWER_BYTES;
    d->partial = kind == HTTP_RANGE_PARTIAL;
    d->offset = d->first;
    d->remaining = d->count;
    d->read_status = BLOB_OK;
    if (!d->head_only && d->remaining > 0) read_chunk(d);
}

static void chunk_work(void *ctx)
{
    read_chunk(ctx);
}

static void chunk_done(h2o_req_t *req, void *ctx);

/* h2o has sent the last chunk: read the next one. */
static void on_proceed(h2o_generator_t *generator, h2o_req_t *req)
{
    download *d = H2O_STRUCT_FROM_MEMBER(download, generator, generator);
    d->read_status = DOWNLOAD_NOT_RUN;
    d->job_in_flight = true;
    if (http_offload_continue(req, chunk_work, chunk_done, d) == HTTP_OFFLOAD_QUEUED) return;
    d->job_in_flight = false;
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); /* the server is stopping: cut the answer short */
}

static void on_stop(h2o_generator_t *generator, h2o_req_t *req)
{
    (void)generator, (void)req; /* the request's disposal (on_request_disposed) does the cleaning up */
}

/* Hands the chunk just read to h2o, or cuts the answer short when it could not be read. */
static void send_chunk(download *d, h2o_req_t *req)
{
    if (d->read_status != BLOB_OK) {
        log_warn("a download was cut short: the storage did not give the next bytes", "object=%s offset=%llu",
                 d->name, (unsigned long long)d->offset);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    d->remaining -= d->chunk_length;
    h2o_iovec_t buffer = h2o_iovec_init(d->chunk, d->chunk_length);
    h2o_send(req, &buffer, 1, d->remaining == 0 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void chunk_done(h2o_req_t *req, void *ctx)
{
    download *d = ctx;
    d->job_in_flight = false;
    if (req == NULL || d->request_gone) {
        release_if_done(d);
        return;
    }
    send_chunk(d, req);
}

/* ETag, Last-Modified and Accept-Ranges, as h2o's file handler sends them. */
static void add_validators(h2o_req_t *req, const blob_object_info *info)
{
    if (info->etag[0]) http_add_header(req, "etag", info->etag);
    if (info->modified_unix > 0) {
        time_t when = (time_t)info->modified_unix;
        struct tm gmt;
        char text[H2O_TIMESTR_RFC1123_LEN + 1];
        if (gmtime_r(&when, &gmt) != NULL) {
            h2o_time2str_rfc1123(text, &gmt);
            http_add_header(req, "last-modified", text);
        }
    }
    http_add_header(req, "accept-ranges", "bytes");
}

/* Starts an answer of status whose body (if any) the generator sends. */
static void start_answer(download *d, h2o_req_t *req, int status, const char *reason, uint64_t length)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = (size_t)length;
    d->generator = (h2o_generator_t){.proceed = on_proceed, .stop = on_stop};
    h2o_start_response(req, &d->generator);
}

static void answer_bytes(download *d, h2o_req_t *req)
{
    if (!d->head_only && d->remaining > 0 && d->read_status != BLOB_OK) {
        http_add_header(req, "retry-after", "5");
        http_send_error_code(req, "storage_unavailable", NULL,
                             "The storage did not give this file's bytes; retry in a few seconds.");
        return;
    }
    const char *type = api_file_type_of_name(d->name);
    http_add_header(req, "content-type", type ? type : "application/octet-stream");
    add_validators(req, &d->info);
    if (d->partial) {
        char range[96];
        snprintf(range, sizeof(range), "bytes %llu-%llu/%llu", (unsigned long long)d->first,
                 (unsigned long long)(d->first + d->count - 1), (unsigned long long)d->info.size);
        http_add_header(req, "content-range", range);
    }
    start_answer(d, req, d->partial ? 206 : 200, d->partial ? "Partial Content" : "OK", d->count);
    if (d->head_only || d->remaining == 0)
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        send_chunk(d, req);
}

/* Back on the loop with the head (and first chunk): the answer. */
static void first_done(h2o_req_t *req, void *ctx)
{
    download *d = ctx;
    d->job_in_flight = false;
    if (req == NULL || d->request_gone) {
        release_if_done(d); /* otherwise the request still lives (answered by the pool): its disposal frees */
        return;
    }
    switch (d->answer) {
    case ANSWER_MISSING:
        http_send_error_code(req, "not_found", NULL, "There is nothing at this path.");
        return;
    case ANSWER_UNCHANGED:
        add_validators(req, &d->info);
        start_answer(d, req, 304, "Not Modified", SIZE_MAX);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    case ANSWER_UNSATISFIABLE: {
        char range[48];
        snprintf(range, sizeof(range), "bytes */%llu", (unsigned long long)d->info.size);
        http_add_header(req, "content-range", range);
        http_send_error_code(req, "range_not_satisfiable", NULL, "The requested range is outside the file.");
        return;
    }
    case ANSWER_BYTES:
        answer_bytes(d, req);
        return;
    default:
        http_add_header(req, "retry-after", "5");
        http_send_error_code(req, "storage_unavailable", NULL,
                             "The storage holding this file cannot be reached; retry in a few seconds.");
        return;
    }
}

/* Copies request header `name` into out; false when it is absent. *too_long when it does not fit. */
static bool copy_header(h2o_req_t *req, const char *name, char *out, size_t out_size, bool *too_long)
{
    out[0] = '\0';
    h2o_iovec_t value = http_request_header(req, name);
    if (value.base == NULL) return false;
    if (value.len >= out_size) {
        if (too_long) *too_long = true;
        return true;
    }
    memcpy(out, value.base, value.len);
    out[value.len] = '\0';
    return true;
}

void api_send_stored_object(api_thread *thread, h2o_req_t *req, const char *name)
{
    download *d = malloc(sizeof(*d));
    if (d == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The server is out of memory.");
        return;
    }
    memset(d, 0, offsetof(download, chunk));
    d->blobs = thread->app->blobs;
    if (strlen(name) >= sizeof(d->name) || !blob_name_is_valid(name)) {
        free(d);
        http_send_error_code(req, "not_found", NULL, "There is nothing at this path.");
        return;
    }
    strcpy(d->name, name);
    d->head_only = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    d->has_range = copy_header(req, "range", d->range, sizeof(d->range), &d->range_too_long);
    bool if_range_too_long = false, if_none_match_too_long = false;
    copy_header(req, "if-range", d->if_range, sizeof(d->if_range), &if_range_too_long);
    if (if_range_too_long) d->has_range = false, d->range_too_long = false; /* matches no ETag of ours */
    copy_header(req, "if-none-match", d->if_none_match, sizeof(d->if_none_match), &if_none_match_too_long);
    if (if_none_match_too_long) d->if_none_match[0] = '\0';
    download_link *link = h2o_mem_alloc_shared(&req->pool, sizeof(*link), on_request_disposed);
    link->d = d;
    d->job_in_flight = true;
    int offloaded = http_offload(req, first_work, first_done, d);
    if (offloaded == HTTP_OFFLOAD_QUEUED) return;
    d->job_in_flight = false; /* the request's disposal frees d */
    if (offloaded != HTTP_OFFLOAD_REFUSED)
        http_send_error_code(req, "internal_error", NULL, "The download could not be started.");
}

void api_files_serve_object(http_exchange *exchange)
{
    char name[600];
    if (http_path_param(exchange, 0, name, sizeof(name)) != 0) { /* authorize checked it already */
        http_send_error_code(exchange->req, "not_found", NULL, "There is nothing at this path.");
        return;
    }
    api_send_stored_object(exchange->thread_data, exchange->req, name);
}

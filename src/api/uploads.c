/* uploads.c — POST /v1/files/upload/{stream,base64,url}: a key's files, kept for --upload-ttl behind
 * signed links (so they are fetched by plain GET and usable as task inputs).
 *
 * Every route ends in upload_commit() (upload_commit.c): the file, already in a scratch folder, becomes
 * the blob object uploads/<id>/<filename>, then its row is inserted under the key's quota (evicting
 * that key's oldest auto_cleanup uploads when asked), then the answer carries the signed link. The body
 * arrives whole (h2o buffers it, in a mapped temporary file when large); the file part goes from there
 * straight to the scratch file, while a base64 body is scanned and decoded chunk by chunk on the offload
 * pool. A URL upload downloads on the offload pool through the guarded fetcher and continues here on the
 * loop. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/uploads_internal.h"
#include "util/base64_stream.h"
#include "util/clock.h"
#include "util/data_url.h"
#include "util/json_scan.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/url_scheme.h"

enum { MAX_FORM_PARTS = 16, MAX_URL = 2048 };

/* ---- file names and types ---- */

/* The name and type rules live in files.c, next to the types the file links are served with. */

/* "file" plus the extension of a MIME type when it is a known media type. */
static void default_filename(const char *type, size_t type_length, char *out, size_t out_size)
{
    const char *extension = type ? api_file_extension_of_type(type, type_length) : NULL;
    snprintf(out, out_size, "file%s%s", extension ? "." : "", extension ? extension : "");
}

/* ---- the scratch file ---- */

static int scratch_make(blob_store *blobs, scratch_file *scratch)
{
    scratch->dir[0] = scratch->path[0] = '\0';
    if (blob_scratch_create(blobs, scratch->dir, sizeof(scratch->dir)) != 0) return -1;
    if (snprintf(scratch->path, sizeof(scratch->path), "%s/upload", scratch->dir) >=
        (int)sizeof(scratch->path))
        return -1;
    return 0;
}

static int write_all(int fd, const void *data, size_t length)
{
    const char *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n, length -= (size_t)n;
    }
    return 0;
}

void upload_store_bytes(api_thread *thread, h2o_req_t *req, const char *key_id, const char *data, size_t size,
                        const char *filename, const char *declared_type, bool auto_cleanup,
                        const upload_then *then)
{
    scratch_file scratch;
    int fd = -1;
    if (scratch_make(thread->app->blobs, &scratch) != 0 ||
        (fd = open(scratch.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
        write_all(fd, data, size) != 0) {
        if (fd >= 0) close(fd);
        upload_scratch_remove(&scratch);
        upload_send_server_error(req, "write the scratch file");
        if (then && then->fn) then->fn(thread, req, NULL, NULL, then->context);
        return;
    }
    close(fd);
    upload_commit(thread, req, UPLOAD_FIRST_STEP, key_id, &scratch, (int64_t)size, filename, declared_type,
                  auto_cleanup, then);
}

/* ---- POST /v1/files/upload/stream (multipart/form-data) ---- */

static bool part_named(const http_multipart_part *part, const char *name)
{
    return part->name.len == strlen(name) && memcmp(part->name.base, name, part->name.len) == 0;
}

/* "true"/"false" (any case) or "1"/"0", surrounding spaces allowed. */
static int parse_form_bool(h2o_iovec_t value, bool *out)
{
    size_t start = 0, end = value.len;
    while (start < end && isspace((unsigned char)value.base[start]))
        start++;
    while (end > start && isspace((unsigned char)value.base[end - 1]))
        end--;
    const char *p = value.base + start;
    size_t n = end - start;
    if ((n == 4 && strncasecmp(p, "true", 4) == 0) || (n == 1 && *p == '1')) return *out = true, 0;
    if ((n == 5 && strncasecmp(p, "false", 5) == 0) || (n == 1 && *p == '0')) return *out = false, 0;
    return -1;
}

void api_uploads_stream(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    h2o_iovec_t boundary;
    if (http_multipart_boundary(http_request_header(req, "content-type"), &boundary) != 0) {
        http_send_error_code(req, "invalid_content_type", NULL,
                             "Content-Type must be multipart/form-data with a boundary.");
        return;
    }
    http_multipart_part parts[MAX_FORM_PARTS];
    size_t count = 0;
    const char *parse_error = NULL;
    if (http_multipart_parse(req->entity.base, req->entity.len, boundary, parts, MAX_FORM_PARTS, &count,
                             &parse_error) != 0) {
        char message[160];
        snprintf(message, sizeof(message), "The multipart body is malformed: %s.", parse_error);
        http_send_error_code(req, "invalid_multipart", NULL, "%s", message);
        return;
    }
    const http_multipart_part *file = NULL, *file_name = NULL, *auto_cleanup_part = NULL;
    for (size_t i = 0; i < count; i++) {
        const http_multipart_part **slot = part_named(&parts[i], "file")           ? &file
                                           : part_named(&parts[i], "file_name")    ? &file_name
                                           : part_named(&parts[i], "auto_cleanup") ? &auto_cleanup_part
                                                                                   : NULL;
        if (slot == NULL) continue; /* other fields (e.g. the old API's purpose) are ignored */
        if (*slot != NULL) {
            char name[32];
            snprintf(name, sizeof(name), "%.*s", (int)parts[i].name.len, parts[i].name.base);
            http_send_error_code(req, "duplicate_form_field", name,
                                 "This form field appears more than once.");
            return;
        }
        *slot = &parts[i];
    }
    if (file == NULL) {
        http_send_error_code(req, "missing_field", "file", "The form has no file part named \"file\".");
        return;
    }
    bool auto_cleanup = true;
    if (auto_cleanup_part && parse_form_bool(auto_cleanup_part->data, &auto_cleanup) != 0) {
        http_send_error_code(req, "invalid_field", "auto_cleanup", "auto_cleanup must be true or false.");
        return;
    }
    char filename[4 * API_FILE_NAME_MAX + 1];
    if (file_name) {
        if (!api_file_name_sanitize(file_name->data.base, file_name->data.len, filename, sizeof(filename))) {
            http_send_error_code(req, "invalid_field", "file_name",
                                 "file_name must contain letters or digits.");
            return;
        }
    } else if (file->filename.base == NULL ||
               !api_file_name_sanitize(file->filename.base, file->filename.len, filename, sizeof(filename))) {
        default_filename(file->content_type.base, file->content_type.len, filename, sizeof(filename));
    }
    if ((int64_t)file->data.len > app->max_upload_bytes) {
        upload_send_too_large(req, app, "file");
        return;
    }
    if (file->data.len == 0) {
        http_send_error_code(req, "empty_file", "file", "The file is empty.");
        return;
    }
    char declared[128] = "";
    if (file->content_type.base)
        snprintf(declared, sizeof(declared), "%.*s", (int)file->content_type.len, file->content_type.base);
    upload_store_bytes(thread, req, key.id, file->data.base, file->data.len, filename,
                       declared[0] ? declared : NULL, auto_cleanup, NULL);
}

/* ---- JSON bodies (base64 and url) ---- */

/* Reads the fields both JSON routes share from a parsed body; answers 400 and returns -1 when one is
 * malformed. *file_name points into body. */
static int read_common_fields(h2o_req_t *req, json_t *body, bool *auto_cleanup, const char **file_name)
{
    json_t *cleanup = json_object_get(body, "auto_cleanup");
    *auto_cleanup = true;
    if (cleanup && !json_is_null(cleanup)) {
        if (!json_is_boolean(cleanup)) {
            http_send_error_code(req, "invalid_field", "auto_cleanup", "auto_cleanup must be a boolean.");
            return -1;
        }
        *auto_cleanup = json_is_true(cleanup);
    }
    json_t *name = json_object_get(body, "file_name");
    *file_name = NULL;
    if (name && !json_is_null(name)) {
        if (!json_is_string(name)) {
            http_send_error_code(req, "invalid_field", "file_name", "file_name must be a string.");
            return -1;
        }
        *file_name = json_string_value(name);
    }
    return 0;
}

/* Parses the JSON object body and its common fields; answers 400 and returns NULL on failure. */
static json_t *parse_upload_json(h2o_req_t *req, bool *auto_cleanup, const char **file_name)
{
    reelay_error err;
    json_t *body = api_parse_json_object(req, &err);
    if (body == NULL) {
        http_send_error(req, &err);
        return NULL;
    }
    if (read_common_fields(req, body, auto_cleanup, file_name) != 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* ---- POST /v1/files/upload/base64 ----
 *
 * The body is ~4/3 of the file, in h2o's buffer (a mapped temporary file once large). It is never
 * parsed whole nor decoded on the loop: the loop copies it BASE64_CHUNK bytes at a time into the job
 * (h2o frees the body when the client goes, so a worker never reads it), and a worker scans each
 * piece (util/json_scan.h: file_data streamed out, the other members parsed), decodes file_data's
 * text (util/base64_stream.h) and writes the bytes to the scratch file; back on the loop, the next
 * piece or the answer. Memory stays about one chunk per upload whatever the file's size, and the
 * answers are those of a whole-body parse: invalid JSON anywhere is invalid_json, checked before
 * the fields, checked before the base64. */

enum { BASE64_CHUNK = 1 << 20, DATA_URL_HEAD = 512 };

typedef struct base64_upload {
    api_thread *thread; /* the loop's: every done runs on the same thread */
    key_record key;
    scratch_file scratch;
    int fd;
    int64_t max_bytes;
    size_t body_offset; /* bytes of req->entity handed to the worker so far */
    bool last;          /* the chunk is the body's end: the worker finishes the scan */
    /* file_data's text: its first DATA_URL_HEAD bytes are held until we know whether it is a data:
     * URL (the rule is the one of the old whole-string parse) */
    char head[DATA_URL_HEAD];
    size_t head_length;
    bool head_done, data_url_invalid;
    char media_type[128]; /* of a data: URL, else "" */
    bool too_large, write_failed;
    json_scan scan;
    base64_stream decoder;
    size_t chunk_length;
    char chunk[BASE64_CHUNK];
} base64_upload;

/* The decoder's bytes: into the scratch file, held to the upload limit. */
static int base64_upload_write(void *ctx, const unsigned char *data, size_t length)
{
    base64_upload *job = ctx;
    if ((int64_t)(job->decoder.decoded + length) > job->max_bytes) {
        job->too_large = true;
        return -1;
    }
    if (write_all(job->fd, data, length) != 0) {
        job->write_failed = true;
        return -1;
    }
    return 0;
}

/* Decides from the held head whether file_data is a data:<type>;base64,<data> URL (a comma within
 * its first 512 bytes, ";base64" right before it: util/data_url.h), then decodes what follows the
 * prefix. */
static void base64_upload_head(base64_upload *job)
{
    size_t payload = 0;
    job->head_done = true;
    if (data_url_parse_base64(job->head, job->head_length, job->media_type, sizeof(job->media_type),
                              &payload) == DATA_URL_INVALID) {
        job->data_url_invalid = true;
        return;
    }
    base64_stream_feed(&job->decoder, job->head + payload, job->head_length - payload);
}

/* file_data's decoded string content, from the scan. */
static int base64_upload_text(void *ctx, const char *data, size_t length)
{
    base64_upload *job = ctx;
    if (!job->head_done) {
        size_t take = sizeof(job->head) - job->head_length;
        if (take > length) take = length;
        memcpy(job->head + job->head_length, data, take);
        job->head_length += take, data += take, length -= take;
        if (job->head_length < sizeof(job->head)) return 0;
        base64_upload_head(job);
    }
    if (!job->data_url_invalid) base64_stream_feed(&job->decoder, data, length);
    return job->write_failed ? -1 : 0;
}

static void base64_upload_work(void *ctx)
{
    base64_upload *job = ctx;
    json_scan_feed(&job->scan, job->chunk, job->chunk_length);
    if (!job->last || json_scan_finish(&job->scan) != JSON_SCAN_OK || !job->scan.streamed) return;
    if (!job->head_done) base64_upload_head(job);
    if (!job->data_url_invalid) base64_stream_finish(&job->decoder);
}

static void base64_upload_free(base64_upload *job)
{
    if (job->fd >= 0) close(job->fd);
    upload_scratch_remove(&job->scratch);
    json_scan_free(&job->scan);
    free(job);
}

/* Hands the body's next chunk to a worker. Returns false when the job was not queued (the client has
 * its answer; the caller frees the job). */
static bool base64_upload_next(base64_upload *job, h2o_req_t *req);

/* The whole body was read: the answer, in the order a whole-body parse gave its errors. */
static void base64_upload_answer(base64_upload *job, h2o_req_t *req)
{
    const api_app *app = job->thread->app;
    char message[400];
    switch (job->scan.status) {
    case JSON_SCAN_OK:
        break;
    case JSON_SCAN_INVALID:
        snprintf(message, sizeof(message), "The request body is not valid JSON: %s (at byte %llu).",
                 job->scan.error, (unsigned long long)job->scan.error_offset);
        http_send_error_code(req, "invalid_json", NULL, "%s", message);
        return;
    case JSON_SCAN_NOT_OBJECT:
        http_send_error_code(req, "invalid_json", NULL, "The request body must be a JSON object.");
        return;
    case JSON_SCAN_TOO_LARGE:
        snprintf(message, sizeof(message),
                 "The members other than file_data are larger than %zu bytes in all.", app->max_json_bytes);
        http_send_error_code(req, "request_too_large", NULL, "%s", message);
        return;
    default:
        upload_send_server_error(req, job->write_failed ? "write the scratch file" : "read the body");
        return;
    }
    bool auto_cleanup;
    const char *file_name;
    if (read_common_fields(req, job->scan.members, &auto_cleanup, &file_name) != 0) return;
    if (!job->scan.streamed || job->scan.streamed_length == 0) {
        bool present = json_object_get(job->scan.members, "file_data") != NULL || job->scan.streamed;
        http_send_error_code(req, present ? "invalid_field" : "missing_field", "file_data",
                             "file_data must be a non-empty base64 string.");
        return;
    }
    if (job->data_url_invalid) {
        http_send_error_code(req, "invalid_field", "file_data",
                             "A data: URL in file_data must be base64 (data:<type>;base64,<data>).");
        return;
    }
    char filename[4 * API_FILE_NAME_MAX + 1];
    if (file_name) {
        if (!api_file_name_sanitize(file_name, strlen(file_name), filename, sizeof(filename))) {
            http_send_error_code(req, "invalid_field", "file_name",
                                 "file_name must contain letters or digits.");
            return;
        }
    } else {
        default_filename(job->media_type[0] ? job->media_type : NULL, strlen(job->media_type), filename,
                         sizeof(filename));
    }
    if (job->too_large) {
        upload_send_too_large(req, app, "file_data");
        return;
    }
    if (job->decoder.status == BASE64_STREAM_INVALID) {
        snprintf(message, sizeof(message), "file_data is not valid base64: %s.", job->decoder.error);
        http_send_error_code(req, "invalid_base64", "file_data", "%s", message);
        return;
    }
    if (job->decoder.status != BASE64_STREAM_OK) {
        upload_send_server_error(req, "write the scratch file");
        return;
    }
    if (job->decoder.decoded == 0) {
        http_send_error_code(req, "empty_file", "file_data", "The file is empty.");
        return;
    }
    close(job->fd);
    job->fd = -1;
    upload_commit(job->thread, req, UPLOAD_CONTINUATION, job->key.id, &job->scratch,
                  (int64_t)job->decoder.decoded, filename, job->media_type[0] ? job->media_type : NULL,
                  auto_cleanup, NULL);
}

/* Back on the loop after a chunk: the next one, or the answer; req is NULL when the client is gone. */
static void base64_upload_done(h2o_req_t *req, void *ctx)
{
    base64_upload *job = ctx;
    if (req == NULL || http_client_gone(req)) {
        log_info("upload abandoned", "key=%s read=%zu", job->key.id, job->body_offset);
        if (req) /* nobody reads it; it lets h2o close the connection */
            http_send_error_code(req, "client_gone", NULL, "The client has gone.");
    } else if (!job->last && job->scan.status == JSON_SCAN_OK) {
        if (base64_upload_next(job, req)) return;
    } else {
        base64_upload_answer(job, req);
    }
    base64_upload_free(job);
}

static bool base64_upload_next(base64_upload *job, h2o_req_t *req)
{
    size_t left = req->entity.len - job->body_offset;
    job->chunk_length = left < sizeof(job->chunk) ? left : sizeof(job->chunk);
    memcpy(job->chunk, req->entity.base + job->body_offset, job->chunk_length);
    job->body_offset += job->chunk_length;
    job->last = job->body_offset == req->entity.len;
    int offloaded = http_offload(req, base64_upload_work, base64_upload_done, job);
    if (offloaded == HTTP_OFFLOAD_QUEUED) return true;
    if (offloaded != HTTP_OFFLOAD_REFUSED) upload_send_server_error(req, "queue the decoding");
    return false;
}

void api_uploads_base64(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    if (!api_content_type_is_json(req)) {
        http_send_error_code(req, "invalid_content_type", NULL, "Content-Type must be application/json.");
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        http_send_error_code(req, "invalid_json", NULL, "The request body is empty.");
        return;
    }
    base64_upload *job = malloc(sizeof(*job));
    if (job == NULL) {
        upload_send_server_error(req, "allocate");
        return;
    }
    memset(job, 0, offsetof(base64_upload, scan));
    job->fd = -1;
    job->thread = thread;
    job->key = key;
    job->max_bytes = app->max_upload_bytes;
    base64_stream_init(&job->decoder, base64_upload_write, job);
    if (json_scan_init(&job->scan, "file_data", base64_upload_text, job, app->max_json_bytes) !=
            JSON_SCAN_OK ||
        scratch_make(app->blobs, &job->scratch) != 0 ||
        (job->fd = open(job->scratch.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        base64_upload_free(job);
        upload_send_server_error(req, "create the scratch file");
        return;
    }
    if (!base64_upload_next(job, req)) base64_upload_free(job);
}

/* ---- POST /v1/files/upload/url ---- */

typedef struct url_upload {
    api_thread *thread; /* the loop's: done runs on the same thread */
    key_record key;
    char url[MAX_URL + 1];
    char filename[4 * API_FILE_NAME_MAX + 1];
    bool filename_given;
    bool auto_cleanup;
    scratch_file scratch;
    fetch_policy policy;
    /* set by the worker */
    fetch_result result;
    fetch_response response;
    char error[256];
} url_upload;

static void url_upload_work(void *ctx)
{
    url_upload *job = ctx;
    job->result = fetch_url_to_file(job->url, job->scratch.path, &job->policy, &job->response, job->error,
                                    sizeof(job->error));
}

static void url_upload_done(h2o_req_t *req, void *ctx)
{
    url_upload *job = ctx;
    const api_app *app = job->thread->app;
    if (req != NULL) {
        char message[400];
        switch (job->result) {
        case FETCH_OK:
            if (job->response.size == 0) {
                http_send_error_code(req, "empty_file_at_url", "url", "The URL's content is empty.");
                break;
            }
            if (!job->filename_given) {
                /* the URL's last path segment, or "file" with the extension of its Content-Type */
                const char *path = strstr(job->url, "://");
                path = path ? strchr(path + 3, '/') : NULL;
                size_t path_length = path ? strcspn(path, "?#") : 0;
                if (path == NULL ||
                    !api_file_name_sanitize(path, path_length, job->filename, sizeof(job->filename))) {
                    const char *type = job->response.content_type;
                    default_filename(type, strcspn(type, "; "), job->filename, sizeof(job->filename));
                }
            }
            upload_commit(job->thread, req, UPLOAD_CONTINUATION, job->key.id, &job->scratch,
                          (int64_t)job->response.size, job->filename,
                          job->response.content_type[0] ? job->response.content_type : NULL,
                          job->auto_cleanup, NULL);
            break;
        case FETCH_TOO_LARGE:
            upload_send_too_large(req, app, "url");
            break;
        default:
            snprintf(message, sizeof(message), "The URL could not be downloaded (%s): %s",
                     fetch_result_name(job->result), job->error);
            http_send_error_code(req,
                                 job->result == FETCH_BLOCKED       ? "url_blocked"
                                 : job->result == FETCH_INVALID_URL ? "invalid_url"
                                                                    : "url_unreachable",
                                 "url", "%s", message);
            break;
        }
    }
    upload_scratch_remove(&job->scratch);
    free(job);
}

void api_uploads_url(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    bool auto_cleanup;
    const char *file_name;
    json_t *body = parse_upload_json(req, &auto_cleanup, &file_name);
    if (body == NULL) return;
    json_t *url = json_object_get(body, "url");
    if (!json_is_string(url) || json_string_length(url) == 0 || json_string_length(url) > MAX_URL) {
        json_decref(body);
        http_send_error_code(req, url ? "invalid_field" : "missing_field", "url",
                             "url must be a string of 1 to 2048 characters.");
        return;
    }
    const char *text = json_string_value(url);
    if (url_scheme_http_length(text) == 0) {
        json_decref(body);
        http_send_error_code(req, "invalid_url", "url", "url must be an absolute http or https URL.");
        return;
    }
    url_upload *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        json_decref(body);
        upload_send_server_error(req, "allocate");
        return;
    }
    job->thread = thread;
    job->key = key;
    snprintf(job->url, sizeof(job->url), "%s", text);
    job->auto_cleanup = auto_cleanup;
    if (file_name) {
        job->filename_given = true;
        if (!api_file_name_sanitize(file_name, strlen(file_name), job->filename, sizeof(job->filename))) {
            json_decref(body);
            free(job);
            http_send_error_code(req, "invalid_field", "file_name",
                                 "file_name must contain letters or digits.");
            return;
        }
    }
    json_decref(body);
    job->policy = *app->upload_fetch;
    if (job->policy.max_bytes == 0 || (int64_t)job->policy.max_bytes > app->max_upload_bytes)
        job->policy.max_bytes = (size_t)app->max_upload_bytes;
    if (scratch_make(app->blobs, &job->scratch) != 0) {
        upload_scratch_remove(&job->scratch);
        free(job);
        upload_send_server_error(req, "create the scratch folder");
        return;
    }
    int offloaded = http_offload(req, url_upload_work, url_upload_done, job);
    if (offloaded != HTTP_OFFLOAD_QUEUED) {
        upload_scratch_remove(&job->scratch);
        free(job);
        if (offloaded != HTTP_OFFLOAD_REFUSED) upload_send_server_error(req, "queue the download");
    }
}

/* blob_s3_request.h — one request to an S3-compatible bucket, shared by the files of the S3 backend
 * (blob_s3.c: objects; blob_s3_upload.c: puts and multipart uploads; blob_s3_list.c: listings and the
 * XML they answer with). Requests are signed by libcurl (CURLOPT_AWS_SIGV4, through net_curl_setup)
 * with an unsigned payload ("x-amz-content-sha256: UNSIGNED-PAYLOAD"), so bodies stream. */
#ifndef REELAY_BLOB_BLOB_S3_REQUEST_H
#define REELAY_BLOB_BLOB_S3_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob_internal.h"

enum { S3_KEY_SIZE = 1100, S3_URL_SIZE = 4096, S3_XML_LIMIT = 4 << 20 };

typedef struct s3_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *key;    /* the whole key ("" = the bucket itself); [A-Za-z0-9._/-] only */
    const char *query;  /* in canonical form (keys sorted, values encoded, "k=" when empty), or NULL */
    const char *range;  /* a Range header value, or NULL */
    const char *body;   /* an in-memory body (POST), or NULL */
    size_t body_size;
    int upload_fd;          /* with upload: the file the body is read from */
    bool upload;            /* a PUT whose body is bytes [upload_offset, +upload_size) of upload_fd */
    uint64_t upload_offset; /* where the body starts in upload_fd */
    uint64_t upload_size;
    blob_sink sink; /* where a 2xx body goes; NULL = into the response's text */
    void *sink_context;
} s3_request;

typedef struct s3_response {
    long status;           /* the HTTP status; 0 when no answer came */
    char *text;            /* the body when there is no sink, or an error body: NUL-terminated, capped */
    size_t text_length;    /* (free with s3_response_free) */
    blob_object_info info; /* from Content-Length, Last-Modified and ETag */
    bool has_length;       /* Content-Length was given */
    uint64_t delivered;    /* bytes handed to the sink */
    char error_code[64];   /* the <Code> of an S3 error body, "" when none or unreadable */
} s3_response;

/* Sends request once (or up to three times when the server is unreachable or answers 500/503 before
 * any byte reached a sink). Returns 0 when an answer came whole (look at response->status), -1 when
 * none did (the failure is logged with the operation `what`). response is filled in either case. */
int s3_perform(blob_s3 *s3, const char *what, const s3_request *request, s3_response *response);
void s3_response_free(s3_response *response);

/* Logs a request answered with an unexpected status (and the S3 error code, if any). */
void s3_log_status(const blob_s3 *s3, const char *what, const char *key, const s3_response *response);

/* The bucket's key of an object name (prefix + '/' + name) in out. Returns 0, or -1 for an invalid
 * name or one that does not fit. */
int s3_object_key(const blob_s3 *s3, const char *name, char *out, size_t out_size);

/* The bucket's prefix ("" when none). */
const char *s3_prefix(const blob_s3 *s3);

/* The part size multipart uploads use. */
size_t s3_part_size(const blob_s3 *s3);

/* Appends value to out (at *length) encoded as SigV4 query values are (unreserved bytes as they are,
 * everything else %XX). Returns 0, or -1 when it does not fit. */
int s3_query_append(char *out, size_t out_size, size_t *length, const char *value);

/* Copies the text of the first <tag>…</tag> of xml[0..length) found at or after from (NULL = the
 * start) into out, with the five XML entities decoded. Returns a pointer just past the closing tag, or
 * NULL when there is none, it holds markup, or it does not fit. */
const char *s3_xml_text(const char *xml, size_t length, const char *from, const char *tag, char *out,
                        size_t out_size);

/* Parses an ISO 8601 time as S3 lists it ("2026-11-27T18:19:02.000Z"). Returns unix seconds or 0. */
int64_t s3_parse_iso_time(const char *text);

#endif

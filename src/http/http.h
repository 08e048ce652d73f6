/* http.h — reelay's HTTP front: h2o event loops (one thread each, one per core by default), a tiny
 * router, and the helpers every handler uses to read requests and write responses.
 *
 * Handlers run on an event-loop thread and must never wait on the network. They answer synchronously
 * (h2o buffers the whole request body before the handler runs), or hand blocking work to the offload
 * pool (http_offload, below) and answer when it is done. Each thread has its own `thread_data`
 * (made by the application's thread_init callback: e.g. its own database connection).
 *
 * Before a body is read, its request's head is screened: a Content-Length over the route's limit, a
 * route's own screen (http_route.screen: an upload's key), conflicting lengths and malformed or
 * oversized heads are answered at once and the connection closed. Every error a client sees, h2o's
 * own included, is the documented JSON {"error": {message, type, code, param}}. A request whose client
 * has already reset the connection is not handed to its handler. */
#ifndef REELAY_HTTP_HTTP_H
#define REELAY_HTTP_HTTP_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define HTTP_MAX_PATH_PARAMS 4

/* One request as a handler sees it. */
typedef struct http_exchange {
    h2o_req_t *req;
    void *thread_data;                        /* from http_server_config.thread_init */
    int route_index;                          /* index in the route table (for metrics) */
    h2o_iovec_t params[HTTP_MAX_PATH_PARAMS]; /* "{name}" segments and a trailing "*", in order, raw */
    size_t param_count;
    void *auth; /* free for the application (the authenticated key) */
} http_exchange;

typedef void (*http_handler_fn)(http_exchange *exchange);

/* One header line of a request head, as sent (name not yet lower-cased). */
typedef struct http_head_field {
    h2o_iovec_t name;
    h2o_iovec_t value;
} http_head_field;

/* A request's head as it arrived, before its body is read (see http_route.screen). Everything points
 * into the connection's input and is valid only during the call. */
typedef struct http_request_head {
    h2o_iovec_t method;
    h2o_iovec_t path; /* raw, query included */
    const http_head_field *fields;
    size_t field_count;
} http_request_head;

/* The value of the first header called name (case-insensitive), or {NULL, 0}. */
h2o_iovec_t http_head_field_value(const http_request_head *head, const char *name);

/* A route's look at a request head before any byte of its body is accepted: true lets the body in;
 * false refuses the request with err (answered at once, then the connection is closed). Runs on the
 * loop thread with the thread's thread_data; may do a short local store call, nothing slower. */
typedef bool (*http_screen_fn)(void *thread_data, const http_request_head *head, reelay_error *err);

/* A route: method "GET"/"POST"/…; pattern of '/'-separated segments where "{name}" matches one
 * non-empty segment and a final "*" matches the (non-empty) rest. */
typedef struct http_route {
    const char *method;
    const char *pattern;
    const char *name; /* metrics label, e.g. "tasks.get" */
    http_handler_fn handler;
    http_screen_fn screen; /* may be NULL: every head within the body limit is let in */
    bool large_body;       /* takes bodies up to max_body_bytes (uploads), not route_body_bytes */
} http_route;

/* A file name extension (without the dot, matched in any case) and the Content-Type served for it. */
typedef struct http_file_type {
    const char *extension;
    const char *media_type;
} http_file_type;

/* A folder served below a path prefix by h2o's file handler (Range, conditional requests, HEAD,
 * Content-Type by extension), behind a guard: `authorize` sees the request first, with params[0] =
 * the rest of the path; it returns true to let the file be served, or answers itself and returns false.
 * Headers it adds before returning true stay on the file's answer (200, 206, 304, 416; HEAD too). */
typedef struct http_file_mount {
    const char *prefix;    /* e.g. "/v1/files" (no trailing slash) */
    const char *directory; /* the folder served */
    const char *name;      /* metrics label */
    bool (*authorize)(http_exchange *exchange);
    /* The only Content-Types served, by extension, ending with {NULL, NULL}; a file of any other
     * extension is application/octet-stream. NULL = h2o's own table (which has text/html, SVG, …). */
    const http_file_type *types;
    /* When set, what authorize lets through is answered by serve (e.g. streamed from object storage)
     * instead of h2o's file handler, and directory is not used (may be NULL). serve runs on the loop
     * thread with params[0] as authorize saw it and must answer (now or later, e.g. via http_offload). */
    http_handler_fn serve;
} http_file_mount;

typedef struct http_server_config {
    const char *host;        /* listen address, e.g. "127.0.0.1" */
    int port;                /* 0 = ephemeral (the chosen one is in http_server_port()) */
    int threads;             /* event-loop threads (default: number of cores) */
    size_t max_body_bytes;   /* larger bodies get h2o's 413 while they arrive (the upload limit) */
    size_t route_body_bytes; /* larger bodies get a JSON 413 request_too_large before the handler
                                runs, except on large-body routes (http_route.large_body);
                                0 = max_body_bytes */
    /* Bodies being received that grow past spill_threshold bytes are kept in a temporary file mapped
     * into memory (made from spill_template, e.g. "<dir>/h2o.b.XXXXXX", and unlinked at once)
     * instead of on the heap. Process-wide (h2o has one setting for every server); 0 / NULL = h2o's
     * defaults (32 MiB under /tmp). */
    size_t spill_threshold;
    const char *spill_template;
    uint64_t request_timeout_ms; /* a client slower than this to send a request is dropped */
    uint64_t idle_timeout_ms;    /* an idle keep-alive connection is closed after this */
    const http_route *routes;
    size_t route_count;
    /* Answers a request whose path no route knows, instead of the 404 unknown_path (e.g. to ask for a
     * key first); must answer. NULL = 404 unknown_path. */
    http_handler_fn unmatched;
    const http_file_mount *file_mount; /* may be NULL */
    void *(*thread_init)(void *app,
                         int thread_index); /* once per loop thread, before it serves; NULL = fail */
    void (*thread_done)(void *thread_data);
    /* On the loop thread as it stops serving, before its h2o context goes: answer what is pending and
     * dispose of timeouts the application made on the loop. May be NULL. */
    void (*thread_stopping)(void *thread_data);
    /* Once every listener is bound, before any thread serves: the port (the real one when port was
     * 0), for settings the threads will read. May be NULL. */
    void (*listening)(void *listening_context, int port);
    void *listening_context;
    void *app;
    bool access_log;        /* one log line per request */
    size_t offload_workers; /* threads of the http_offload pool (0 = HTTP_OFFLOAD_DEFAULT_WORKERS) */
} http_server_config;

#define HTTP_OFFLOAD_DEFAULT_WORKERS 16

typedef struct http_server http_server;

/* Binds the listening sockets (SO_REUSEPORT, one per thread) and starts the threads. Returns NULL
 * (with a log line) when the address cannot be bound. */
http_server *http_server_start(const http_server_config *config);
int http_server_port(const http_server *server);
/* Asks every loop to stop, joins the threads, frees everything. Offloaded jobs not yet taken by a
 * worker are delivered unrun (done with req = NULL); jobs running are waited for. */
void http_server_stop(http_server *server);

/* Requests per route and status, summed over threads: calls fn once per non-zero (route, status). */
void http_server_each_count(const http_server *server,
                            void (*fn)(void *ctx, const char *route, int status, uint64_t count), void *ctx);

/* ---- Reading requests ---- */

/* The value of a request header (case-insensitive name), or {NULL, 0}. */
h2o_iovec_t http_request_header(h2o_req_t *req, const char *name);
/* Copies the percent-decoded value of query parameter `name` into out. Returns 1 when present, 0 when
 * absent, -1 when present but malformed or too long. */
int http_query_param(h2o_req_t *req, const char *name, char *out, size_t out_size);
/* Copies path parameter i (percent-decoded) into out: 0, or -1 when malformed / too long. */
int http_path_param(const http_exchange *exchange, size_t i, char *out, size_t out_size);

/* Whether the request's client has reset its connection (the kernel says it is closed): long work for
 * it can stop. When true, the connection will be closed after this request's answer, which should be
 * sent at once (nobody reads it; e.g. http_send_error_code "client_gone"). */
bool http_client_gone(h2o_req_t *req);
/* The same, also true when the client closed its side of the connection (a FIN: TCP's CLOSE_WAIT), for
 * long answers to a client that sends nothing more (event streams). */
bool http_client_closed(h2o_req_t *req);

/* ---- Writing responses (each sends the whole response) ---- */

void http_send_json(h2o_req_t *req, int status, const char *body, size_t length);
/* The documented error shape {"error":{"message","type","code","param"}} with err->status. */
void http_send_error(h2o_req_t *req, const reelay_error *err);
/* The documented error body for err, as malloc'd JSON text (NULL when out of memory). */
char *http_error_json(const reelay_error *err);
/* The standard reason phrase of an HTTP status ("Payload Too Large"); "Error" for unknown 4xx. */
const char *http_reason_phrase(int status);
/* Raises the error `code` of util/error.h's table (its status and type) with param (NULL = null) and the
 * printf-style message, and sends it: reelay_error_raise + http_send_error. An unknown code asserts in a
 * debug build and is answered as a 500 in a release build. */
void http_send_error_code(h2o_req_t *req, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends an error made of the fields as given, without the table: for the call sites not yet converted
 * (api/generations.c, api/webhooks.c) and for tests of the HTTP plumbing. */
void http_send_error_fields(h2o_req_t *req, int status, const char *type, const char *code, const char *param,
                            const char *message);
/* Adds a response header (before sending); value copied into the request's pool. */
void http_add_header(h2o_req_t *req, const char *name, const char *value);
/* The same, replacing any earlier value of that header. name must be lower case. */
void http_set_header(h2o_req_t *req, const char *name, const char *value);

/* ---- Offloading blocking work ----
 *
 * A handler that must do something blocking (a guarded fetch, a media probe) hands it to a shared
 * pool of worker threads (http_server_config.offload_workers) and returns without answering; the
 * answer is sent later from `done`, which runs on the request's own event-loop thread.
 *
 *   work(ctx)      on a worker thread: may block; must not touch the request or any loop's state.
 *   done(req, ctx) on the loop thread that called http_offload, after work returned: answer with
 *                  req (e.g. http_send_json). req is NULL when the request is gone (the client went
 *                  away and h2o disposed of it), or when the server stopped before a worker took the
 *                  job — then work did not run (and the client got a 503 server_stopping). Either
 *                  way done owns ctx and must free it. done is called exactly once.
 *
 * Jobs run in FIFO order as workers free up. ctx is handed from thread to thread with the proper
 * synchronisation (a mutex, then h2o's queue): work sees what the handler wrote, done sees what
 * work wrote. */
/* One pending job (opaque; C does not let the type share the function's name). */
typedef struct http_offload_job http_offload_job;
typedef void (*http_offload_work_fn)(void *ctx);
typedef void (*http_offload_done_fn)(h2o_req_t *req, void *ctx);

/* Call on the request's loop thread (from a handler). Returns
 *   HTTP_OFFLOAD_QUEUED (0): the handler must not answer and must leave ctx to done;
 *   HTTP_OFFLOAD_REFUSED:    nothing queued and the client already has its 503 with Retry-After
 *                            (`server_stopping` once the server is stopping, `overloaded` when
 *                            HTTP_OFFLOAD_QUEUE_PER_WORKER jobs per worker are already waiting);
 *   -1:                      nothing queued, nobody answered (allocation failure, or off a loop
 *                            thread): the caller answers.
 * Unless queued, nothing will be called and the caller still owns ctx. */
enum { HTTP_OFFLOAD_QUEUED = 0, HTTP_OFFLOAD_REFUSED = 1, HTTP_OFFLOAD_QUEUE_PER_WORKER = 32 };
int http_offload(h2o_req_t *req, http_offload_work_fn work, http_offload_done_fn done, void *ctx);

/* The next step of work a request was already admitted for (the next chunk of a download whose
 * answer has started): queued whatever the length of the queue, and never answered here. done is
 * called exactly once, on this loop thread, with req (or NULL when the request is gone), including
 * when the server stopped before a worker took the job: work then did not run, and ctx must say so
 * (e.g. a result field work would have set). Returns HTTP_OFFLOAD_QUEUED, or -1 when nothing was
 * queued (allocation failure, off a loop thread, the server stopping): the caller still owns ctx. */
int http_offload_continue(h2o_req_t *req, http_offload_work_fn work, http_offload_done_fn done, void *ctx);

/* Work that no request waits for any more (removing objects after the client went away): queued like a
 * continuation, then done(NULL, ctx) runs on this loop thread (ctx must say whether work ran, as for
 * http_offload_continue). The loop waits for it before it stops. Returns HTTP_OFFLOAD_QUEUED, or -1
 * when nothing was queued (allocation failure, off a loop thread, the server stopping): the caller
 * still owns ctx and does the work itself. */
int http_offload_detached(http_offload_work_fn work, http_offload_done_fn done, void *ctx);

/* ---- Byte ranges and entity tags (byte_range.c) ---- */

typedef enum {
    HTTP_RANGE_NONE = 0,     /* no Range, or several ranges: send the whole object (200) */
    HTTP_RANGE_PARTIAL,      /* one satisfiable range: *offset and *count (206) */
    HTTP_RANGE_UNSATISFIABLE /* malformed, or outside the object (416, a Content-Range with only the size) */
} http_range_kind;

/* Reads a Range header's value[0..length) (value NULL = no header) against an object of size bytes:
 * "bytes=a-b" (b clamped to the last byte), "bytes=a-", "bytes=-n" (the last n bytes, all when n is
 * larger); any other unit or form (spaces included) is unsatisfiable, as h2o's file handler answers
 * for local files. Sets *offset and *count (the whole object for HTTP_RANGE_NONE). Pure. */
http_range_kind http_byte_range_parse(const char *value, size_t length, uint64_t size, uint64_t *offset,
                                      uint64_t *count);

/* Whether an If-None-Match value list[0..length) (entity tags separated by commas, or "*") names etag
 * (quoted, as served), by weak comparison (a "W/" prefix on either side is ignored). False for an
 * empty etag. Pure. */
bool http_etag_list_matches(const char *list, size_t length, const char *etag);

/* ---- multipart/form-data bodies (multipart.c) ---- */

/* One part of a form. Every field points into the body given to http_multipart_parse (nothing is
 * copied or decoded); a field that was absent has base == NULL. */
typedef struct http_multipart_part {
    h2o_iovec_t name;         /* Content-Disposition name= (never empty) */
    h2o_iovec_t filename;     /* Content-Disposition filename=, as sent (quoted values keep escapes) */
    h2o_iovec_t content_type; /* the part's Content-Type */
    h2o_iovec_t data;         /* the content, any bytes (CR and LF included) */
} http_multipart_part;

/* The boundary parameter of a Content-Type value "multipart/form-data; boundary=…" (quoted or not;
 * 1–70 characters of RFC 2046's set). Returns 0 with *boundary pointing into content_type, or -1 when
 * the type is not multipart/form-data or the boundary is missing, repeated or invalid. */
int http_multipart_boundary(h2o_iovec_t content_type, h2o_iovec_t *boundary);

/* Splits body into at most max_parts parts (in order; a preamble and an epilogue are ignored).
 * Returns 0 with *count parts, or -1 with a short English *error (for a 400) for anything malformed:
 * no boundary, a boundary line not followed by CRLF, a part without Content-Disposition form-data
 * and a name, header lines over 16 KiB or without a colon, a repeated parameter, more than max_parts
 * parts, or a body cut short (no closing delimiter). Runs in time linear in the body. Names may
 * repeat: the caller decides what a duplicate means. */
int http_multipart_parse(const char *body, size_t length, h2o_iovec_t boundary, http_multipart_part *parts,
                         size_t max_parts, size_t *count, const char **error);

#endif

/* server_internal.h — what the parts of the HTTP front share behind http.h: the server and its loop
 * threads (server.c), request-head screening (head_screen.c) and the JSON rewrite of h2o's own error
 * answers (error_filter.c). Not part of the module's contract. */
#ifndef REELAY_HTTP_SERVER_INTERNAL_H
#define REELAY_HTTP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "http/http.h"
#include "http/offload_internal.h"

typedef struct http_thread {
    h2o_context_t context; /* first: handlers find their thread from req->conn->ctx */
    h2o_accept_ctx_t accept_context;
    struct http_server *server;
    int index;
    int listen_fd;
    pthread_t thread;
    void *thread_data;
    http_offload_receiver *offload; /* this loop's end of the offload pool */
    _Atomic uint64_t *counts; /* [(route_count + 3) * STATUS_SLOTS]: routes, 405, unmatched, file mount */
    h2o_linklist_t rearm;     /* connections whose reader h2o may have re-armed (head_screen.c) */
    h2o_linklist_t conns;     /* every open connection of this loop (head_screen.c) */
} http_thread;

struct http_server {
    http_server_config config;
    h2o_globalconf_t globalconf;
    http_thread *threads;
    int thread_count;
    int port;
    atomic_bool stopping;
    http_offload_pool *offload; /* workers shared by every loop */
};

/* Counter rows after the routes' own. */
enum { HTTP_ROW_METHOD_NOT_ALLOWED = 0, HTTP_ROW_UNMATCHED = 1, HTTP_ROW_FILE_MOUNT = 2 };

/* Counts one answered request on the thread's row (a route index, or route_count + HTTP_ROW_*). */
void http_server_count(http_thread *thread, size_t row, int status);
/* The route that will take method + path (path without the query), and the largest body it takes.
 * *row is its counter row (route_count + HTTP_ROW_* when no route matches); *route is NULL then. */
size_t http_server_body_limit(const struct http_server *server, h2o_iovec_t method, h2o_iovec_t path,
                              const http_route **route, size_t *row);

/* ---- head_screen.c ----
 *
 * h2o 2.2 reads a request's whole body before any handler runs, and answers a malformed head with a
 * plain-text 400 it writes itself. To refuse a request from its head alone (a Content-Length over the
 * route's limit, an upload without a valid key, conflicting lengths) and to answer malformed heads in
 * the documented JSON, each accepted HTTP/1 connection's read callback is wrapped: every time bytes
 * arrive while a head is awaited, the head at the start of the connection's input is parsed (with
 * h2o's own parser, picohttpparser) before h2o sees it. h2o re-arms its own reader after each response;
 * http_head_screen_rearm, run before every loop iteration, wraps it again. */

/* Right after h2o_accept: wraps the connection's reader. */
void http_head_screen_attach(http_thread *thread, h2o_socket_t *sock);
/* From every handler's entry, when h2o has the request's whole body: the next head is awaited, so the
 * reader is wrapped again once h2o re-arms it; a head already buffered behind this request (pipelined)
 * is screened now, and one that would be refused makes this the connection's last answer. Returns
 * false when requests are queued behind this one and the client has already gone (its connection was
 * reset): the caller should skip the work and answer briefly; the connection is closed after that
 * answer, dropping what was queued on it. */
bool http_head_screen_request(http_thread *thread, h2o_req_t *req);
/* Before each loop iteration: re-wraps readers h2o has re-armed since. */
void http_head_screen_rearm(http_thread *thread);
/* As the loop stops: closes every connection still open (idle keep-alive ones, slow senders), so
 * that h2o's context can be disposed of. */
void http_head_screen_close_all(http_thread *thread);

/* ---- error_filter.c ---- */

/* Registers, on a path's configuration, the filter that turns any answer of 400 or more that is not
 * JSON (h2o's own plain-text errors: broken chunked encoding, a body over the global limit, a missing
 * file, an unsatisfiable range …) into the documented {"error": …} shape, keeping the status. */
void http_error_filter_register(h2o_pathconf_t *pathconf);

#endif

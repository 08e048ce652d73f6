/* offload_internal.h — how server.c drives the offload pool of offload.c. Not part of the module's
 * contract (http_offload in http.h is).
 *
 * Life: the server starts one pool; each loop thread creates its receiver (on the context's
 * inter-thread queue) before serving. To stop: quiesce the pool (jobs no worker has taken yet are
 * delivered with req = NULL, unrun), let each loop drain its jobs while it still runs, destroy the
 * receivers before h2o_context_dispose, then stop the pool (joins the workers). */
#ifndef REELAY_HTTP_OFFLOAD_INTERNAL_H
#define REELAY_HTTP_OFFLOAD_INTERNAL_H

#include <h2o.h>
#include <stddef.h>

typedef struct http_offload_pool http_offload_pool;
typedef struct http_offload_receiver http_offload_receiver;

/* Starts `workers` threads; NULL when none could be started. */
http_offload_pool *http_offload_pool_start(size_t workers);
/* From now on, queued jobs are delivered (done with req = NULL) without running their work. */
void http_offload_pool_quiesce(http_offload_pool *pool);
/* Joins the workers and frees the pool; every receiver must have been drained. NULL is a no-op. */
void http_offload_pool_stop(http_offload_pool *pool);

/* On the loop thread, after h2o_context_init: registers the thread's receiver; http_offload called
 * on this thread then uses it. NULL on allocation failure. */
http_offload_receiver *http_offload_receiver_create(http_offload_pool *pool, h2o_context_t *context);
/* On the loop thread: runs the loop until every job this thread sent has been delivered. */
void http_offload_receiver_drain(http_offload_receiver *receiver, h2o_loop_t *loop);
/* On the loop thread, after draining and before h2o_context_dispose. NULL is a no-op. */
void http_offload_receiver_destroy(http_offload_receiver *receiver, h2o_context_t *context);

#endif

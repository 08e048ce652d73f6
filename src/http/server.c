/* server.c — h2o event loops, one per thread, each with its own SO_REUSEPORT listening socket so the
 * kernel spreads connections; one h2o handler that routes every request through the route table and
 * counts it by route and status. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server_internal.h"
#include "util/clock.h"
#include "util/log.h"

/* Statuses counted individually; anything else lands in the last slot, reported as 0. */
static const int counted_statuses[] = {200, 201, 204, 206, 304, 400, 401, 402, 403, 404,
                                       405, 409, 410, 413, 416, 422, 429, 500, 503, 0};
#define STATUS_SLOTS (sizeof(counted_statuses) / sizeof(counted_statuses[0]))

typedef struct router_handler {
    h2o_handler_t super;
    struct http_server *server;
} router_handler;

typedef struct mount_guard_handler {
    h2o_handler_t super;
    struct http_server *server;
} mount_guard_handler;

static size_t status_slot(int status)
{
    for (size_t i = 0; i + 1 < STATUS_SLOTS; i++)
        if (counted_statuses[i] == status) return i;
    return STATUS_SLOTS - 1;
}

void http_server_count(http_thread *thread, size_t row, int status)
{
    atomic_fetch_add_explicit(&thread->counts[row * STATUS_SLOTS + status_slot(status)], 1,
                              memory_order_relaxed);
}

/* Matches path (no query) against a pattern; fills the exchange's params on success. */
static bool route_matches(const char *pattern, const char *path, size_t path_length, http_exchange *exchange)
{
    const char *p = pattern, *s = path, *end = path + path_length;
    exchange->param_count = 0;
    while (*p && s < end) {
        if (*p != '/' || *s != '/') return false;
        p++, s++;
        const char *segment_end = memchr(s, '/', (size_t)(end - s));
        if (segment_end == NULL) segment_end = end;
        if (p[0] == '*' && p[1] == '\0') {
            if (s == end || exchange->param_count == HTTP_MAX_PATH_PARAMS) return false;
            exchange->params[exchange->param_count++] = h2o_iovec_init(s, (size_t)(end - s));
            return true;
        }
        const char *pattern_end = strchr(p, '/');
        if (pattern_end == NULL) pattern_end = p + strlen(p);
        if (*p == '{') {
            if (segment_end == s || exchange->param_count == HTTP_MAX_PATH_PARAMS) return false;
            exchange->params[exchange->param_count++] = h2o_iovec_init(s, (size_t)(segment_end - s));
        } else if ((size_t)(pattern_end - p) != (size_t)(segment_end - s) ||
                   memcmp(p, s, (size_t)(segment_end - s)) != 0) {
            return false;
        }
        p = pattern_end, s = segment_end;
    }
    return *p == '\0' && s == end;
}

/* The largest body a route's handler sees: small everywhere but on the large-body (upload) routes. */
static size_t route_body_limit(const http_server_config *config, const http_route *route)
{
    if (config->route_body_bytes == 0) return config->max_body_bytes;
    if (route->large_body) return config->max_body_bytes;
    return config->route_body_bytes;
}

size_t http_server_body_limit(const struct http_server *server, h2o_iovec_t method, h2o_iovec_t path,
                              const http_route **route, size_t *row)
{
    const http_server_config *config = &server->config;
    http_exchange scratch;
    bool path_known = false;
    *route = NULL;
    for (size_t i = 0; i < config->route_count; i++) {
        if (!route_matches(config->routes[i].pattern, path.base, path.len, &scratch)) continue;
        path_known = true;
        if (!h2o_memis(method.base, method.len, config->routes[i].method, strlen(config->routes[i].method)))
            continue;
        *route = &config->routes[i];
        *row = i;
        return route_body_limit(config, *route);
    }
    *row = config->route_count + (path_known ? HTTP_ROW_METHOD_NOT_ALLOWED : HTTP_ROW_UNMATCHED);
    return config->route_body_bytes ? config->route_body_bytes : config->max_body_bytes;
}

/* What the access log and the counters need of a routed request, kept in its memory pool. */
typedef struct request_record {
    struct http_server *server;
    http_thread *thread;
    h2o_req_t *req;
    size_t row;
    const char *route_name;
    int64_t started_ms;
} request_record;

static void on_request_disposed(void *object)
{
    request_record *record = object;
    h2o_req_t *req = record->req;
    int status = req->res.status; /* 0 when the client left before an answer */
    http_server_count(record->thread, record->row, status);
    if (record->server->config.access_log)
        log_info("request", "method=%.*s route=%s status=%d ms=%lld", (int)req->method.len, req->method.base,
                 record->route_name, status, (long long)(clock_monotonic_ms() - record->started_ms));
}

static int on_request(h2o_handler_t *self, h2o_req_t *req)
{
    struct http_server *server = ((router_handler *)self)->server;
    http_thread *thread = (http_thread *)req->conn->ctx;
    int64_t started = clock_monotonic_ms();
    size_t path_length = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    http_exchange exchange = {.req = req, .thread_data = thread->thread_data, .route_index = -1};
    bool path_known = false;
    /* A client that reset the connection reads no answer, so none is worked out; the connection closes
     * after this one, and the requests it had queued go with it. */
    bool gone = !http_head_screen_request(thread, req);
    if (gone) http_send_error_code(req, "client_gone", NULL, "The client has gone.");
    for (size_t i = 0; !gone && i < server->config.route_count; i++) {
        const http_route *route = &server->config.routes[i];
        if (!route_matches(route->pattern, req->path.base, path_length, &exchange)) continue;
        path_known = true;
        if (!h2o_memis(req->method.base, req->method.len, route->method, strlen(route->method))) continue;
        exchange.route_index = (int)i;
        if (req->entity.len > route_body_limit(&server->config, route)) {
            char message[96];
            snprintf(message, sizeof(message), "The request body is larger than %zu bytes.",
                     route_body_limit(&server->config, route));
            http_send_error_code(req, "request_too_large", NULL, "%s", message);
            break;
        }
        route->handler(&exchange);
        break;
    }
    size_t counter_row;
    const char *route_name;
    if (gone) {
        counter_row = server->config.route_count + HTTP_ROW_UNMATCHED;
        route_name = "client_gone";
    } else if (exchange.route_index >= 0) {
        counter_row = (size_t)exchange.route_index;
        route_name = server->config.routes[exchange.route_index].name;
    } else if (path_known) {
        counter_row = server->config.route_count + HTTP_ROW_METHOD_NOT_ALLOWED;
        route_name = "method_not_allowed";
        http_send_error_code(req, "method_not_allowed", NULL, "This method is not allowed on this path.");
    } else {
        counter_row = server->config.route_count + HTTP_ROW_UNMATCHED;
        route_name = "unmatched";
        if (server->config.unmatched)
            server->config.unmatched(&exchange);
        else
            http_send_error_code(req, "unknown_path", NULL, "There is nothing at this path.");
    }
    /* Counted and logged when h2o lets go of the request, so that an answer sent later (after a group
     * commit or offloaded work) is recorded with its real status and time. */
    request_record *record = h2o_mem_alloc_shared(&req->pool, sizeof(*record), on_request_disposed);
    *record = (request_record){.server = server,
                               .thread = thread,
                               .req = req,
                               .row = counter_row,
                               .route_name = route_name,
                               .started_ms = started};
    return 0;
}

/* The guard in front of h2o's file handler: declines (-1) to let the file handler serve, or hands the
 * request to the mount's own serve. Requests served are counted as 200 (the answer may be 206 or 304). */
static int on_mount_request(h2o_handler_t *self, h2o_req_t *req)
{
    struct http_server *server = ((mount_guard_handler *)self)->server;
    const http_file_mount *mount = server->config.file_mount;
    http_thread *thread = (http_thread *)req->conn->ctx;
    size_t path_length = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    size_t prefix_length = strlen(mount->prefix);
    http_exchange exchange = {.req = req, .thread_data = thread->thread_data, .route_index = -1};
    if (path_length > prefix_length + 1)
        exchange.params[exchange.param_count++] =
            h2o_iovec_init(req->path.base + prefix_length + 1, path_length - prefix_length - 1);
    bool serve = false;
    if (!http_head_screen_request(thread, req)) {
        http_send_error_code(req, "client_gone", NULL, "The client has gone.");
    } else if (exchange.param_count == 0) {
        http_send_error_code(req, "unknown_path", NULL, "There is nothing at this path.");
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
               !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        http_send_error_code(req, "method_not_allowed", NULL, "This method is not allowed on this path.");
    } else {
        serve = mount->authorize(&exchange);
    }
    int status = serve ? 200 : req->res.status;
    http_server_count(thread, server->config.route_count + HTTP_ROW_FILE_MOUNT, status);
    if (server->config.access_log)
        log_info("request", "method=%.*s route=%s status=%d", (int)req->method.len, req->method.base,
                 mount->name, status);
    if (serve && mount->serve != NULL) { /* answered by the application (now or later), not h2o's handler */
        mount->serve(&exchange);
        return 0;
    }
    return serve ? -1 : 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL) return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL) return;
    h2o_accept(listener->data, sock);
    http_head_screen_attach((http_thread *)((h2o_accept_ctx_t *)listener->data)->ctx, sock);
}

static int open_listener(const char *host, int port)
{
    struct sockaddr_storage address;
    socklen_t address_length;
    memset(&address, 0, sizeof(address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        address_length = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        address_length = sizeof(*v6);
    } else {
        log_error("listen address must be an IP address", "host=\"%s\"", host);
        return -1;
    }
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&address, address_length) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("cannot listen", "host=%s port=%d errno=%d error=\"%s\"", host, port, errno,
                  strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&address)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
}

static void *thread_main(void *arg)
{
    http_thread *thread = arg;
    struct http_server *server = thread->server;
    h2o_linklist_init_anchor(&thread->rearm);
    h2o_linklist_init_anchor(&thread->conns);
    h2o_context_init(&thread->context, h2o_evloop_create(), &server->globalconf);
    thread->offload = http_offload_receiver_create(server->offload, &thread->context);
    if (thread->offload == NULL) {
        log_error("cannot set up offloading on an HTTP thread", "index=%d", thread->index);
        abort(); /* out of memory at startup */
    }
    thread->accept_context.ctx = &thread->context;
    thread->accept_context.hosts = server->globalconf.hosts;
    h2o_socket_t *listener =
        h2o_evloop_socket_create(thread->context.loop, thread->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &thread->accept_context;
    h2o_socket_read_start(listener, on_accept);
    log_thread_buffer_start(); /* this loop's log lines go out together after each turn */
    while (!atomic_load(&server->stopping)) {
        http_head_screen_rearm(thread);
        h2o_evloop_run(thread->context.loop, 100);
        log_thread_flush();
    }
    log_thread_buffer_stop();
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    /* Offloaded jobs come back (answered, or unrun once the pool is quiesced) before the loop goes. */
    http_offload_receiver_drain(thread->offload, thread->context.loop);
    /* Let the loop finish closing. */
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(thread->context.loop, 0);
    if (server->config.thread_stopping) server->config.thread_stopping(thread->thread_data);
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(thread->context.loop, 0);
    http_head_screen_close_all(thread); /* h2o's context cannot go while a connection waits on its timers */
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(thread->context.loop, 0);
    http_offload_receiver_destroy(thread->offload, &thread->context);
    h2o_context_dispose(&thread->context);
    h2o_evloop_destroy(thread->context.loop);
    return NULL;
}

/* Registers the host's paths. h2o picks the first registered path that prefixes the request: routes
 * below the file mount's prefix (POST /v1/files/upload/…) go first, then the file mount, then "/".
 * Every path answers its errors through the error filter. */
static void register_paths(struct http_server *server, const http_server_config *config)
{
    h2o_hostconf_t *host =
        h2o_config_register_host(&server->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (config->file_mount) {
        size_t prefix_length = strlen(config->file_mount->prefix);
        for (size_t i = 0; i < config->route_count; i++) {
            const char *pattern = config->routes[i].pattern;
            if (strncmp(pattern, config->file_mount->prefix, prefix_length) != 0 ||
                pattern[prefix_length] != '/' || strpbrk(pattern, "{*") != NULL)
                continue;
            h2o_pathconf_t *exact = h2o_config_register_path(host, pattern, 0);
            router_handler *router = (router_handler *)h2o_create_handler(exact, sizeof(*router));
            router->super.on_req = on_request;
            router->server = server;
            http_error_filter_register(exact);
        }
    }
    if (config->file_mount) {
        h2o_pathconf_t *files = h2o_config_register_path(host, config->file_mount->prefix, 0);
        mount_guard_handler *guard = (mount_guard_handler *)h2o_create_handler(files, sizeof(*guard));
        guard->super.on_req = on_mount_request;
        guard->server = server;
        h2o_mimemap_t *types = NULL; /* NULL: h2o's own table */
        if (config->file_mount->types && config->file_mount->serve == NULL) {
            types = h2o_mimemap_create();
            h2o_mimemap_clear_types(types); /* what is left is the default, application/octet-stream */
            for (const http_file_type *type = config->file_mount->types; type->extension; type++)
                h2o_mimemap_define_mimetype(types, type->extension, type->media_type, NULL);
        }
        if (config->file_mount->serve == NULL)
            h2o_file_register(files, config->file_mount->directory, NULL, types, 0);
        if (types) h2o_mem_release_shared(types); /* the file handler holds its own reference */
        http_error_filter_register(files);
    }
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    router_handler *handler = (router_handler *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = on_request;
    handler->server = server;
    http_error_filter_register(path);
    /* h2o answers requests it refuses before routing (a body over the global limit, broken chunked
     * encoding) on the host's fallback path. */
    http_error_filter_register(&host->fallback_path);
}

http_server *http_server_start(const http_server_config *config)
{
    struct http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) return NULL;
    server->config = *config;
    server->thread_count = config->threads > 0 ? config->threads : 1;
    h2o_config_init(&server->globalconf);
    server->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("reelay"));
    server->globalconf.max_request_entity_size = config->max_body_bytes;
    if (config->spill_threshold) h2o_socket_buffer_mmap_settings.threshold = config->spill_threshold;
    if (config->spill_template &&
        strlen(config->spill_template) < sizeof(h2o_socket_buffer_mmap_settings.fn_template))
        strcpy(h2o_socket_buffer_mmap_settings.fn_template, config->spill_template);
    if (config->request_timeout_ms) server->globalconf.http1.req_timeout = config->request_timeout_ms;
    /* HTTP/1.1 only without TLS: handlers that answer after the event-loop iteration (group commit)
     * rely on HTTP/1's one-request-at-a-time connections; h2c upgrades are refused. */
    server->globalconf.http1.upgrade_to_http2 = 0;
    if (config->idle_timeout_ms) server->globalconf.http2.idle_timeout = config->idle_timeout_ms;
    register_paths(server, config);

    server->offload = http_offload_pool_start(config->offload_workers ? config->offload_workers
                                                                      : HTTP_OFFLOAD_DEFAULT_WORKERS);
    if (server->offload == NULL) goto fail;
    server->threads = calloc((size_t)server->thread_count, sizeof(http_thread));
    if (server->threads == NULL) goto fail;
    int port = config->port;
    for (int i = 0; i < server->thread_count; i++) {
        http_thread *thread = &server->threads[i];
        thread->server = server;
        thread->index = i;
        thread->listen_fd = open_listener(config->host, port);
        if (thread->listen_fd < 0) goto fail;
        if (i == 0) port = server->port = bound_port(thread->listen_fd);
        thread->counts = calloc((config->route_count + 3) * STATUS_SLOTS, sizeof(*thread->counts));
        if (thread->counts == NULL) goto fail;
        thread->thread_data = config->thread_init ? config->thread_init(config->app, i) : NULL;
        if (config->thread_init && thread->thread_data == NULL) goto fail;
    }
    if (config->listening) config->listening(config->listening_context, server->port);
    for (int i = 0; i < server->thread_count; i++)
        if (pthread_create(&server->threads[i].thread, NULL, thread_main, &server->threads[i]) != 0) {
            log_error("cannot start an HTTP thread", "index=%d", i);
            abort(); /* a half-started server is not worth untangling at startup */
        }
    return server;

fail:
    for (int i = 0; server->threads && i < server->thread_count; i++) {
        http_thread *thread = &server->threads[i];
        if (thread->listen_fd > 0) close(thread->listen_fd);
        if (thread->thread_data && config->thread_done) config->thread_done(thread->thread_data);
        free(thread->counts);
    }
    free(server->threads);
    http_offload_pool_stop(server->offload);
    h2o_config_dispose(&server->globalconf);
    free(server);
    return NULL;
}

int http_server_port(const http_server *server)
{
    return server->port;
}

void http_server_stop(http_server *server)
{
    atomic_store(&server->stopping, true);
    http_offload_pool_quiesce(server->offload);
    for (int i = 0; i < server->thread_count; i++)
        pthread_join(server->threads[i].thread, NULL);
    http_offload_pool_stop(server->offload); /* every loop has drained its jobs */
    for (int i = 0; i < server->thread_count; i++) {
        http_thread *thread = &server->threads[i];
        if (server->config.thread_done) server->config.thread_done(thread->thread_data);
        free(thread->counts);
    }
    free(server->threads);
    h2o_config_dispose(&server->globalconf);
    free(server);
}

void http_server_each_count(const http_server *server,
                            void (*fn)(void *ctx, const char *route, int status, uint64_t count), void *ctx)
{
    size_t routes = server->config.route_count;
    size_t rows = routes + (server->config.file_mount ? 3 : 2);
    for (size_t row = 0; row < rows; row++) {
        const char *name = row < routes        ? server->config.routes[row].name
                           : row == routes     ? "method_not_allowed"
                           : row == routes + 1 ? "unmatched"
                                               : server->config.file_mount->name;
        for (size_t slot = 0; slot < STATUS_SLOTS; slot++) {
            uint64_t total = 0;
            for (int i = 0; i < server->thread_count; i++)
                total += atomic_load_explicit(&server->threads[i].counts[row * STATUS_SLOTS + slot],
                                              memory_order_relaxed);
            if (total) fn(ctx, name, counted_statuses[slot], total);
        }
    }
}

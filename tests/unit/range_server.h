/* range_server.h — a small HTTP/1.1 server on 127.0.0.1 for tests of the range reader and the input
 * probe: a thread per connection, keep-alive, single byte ranges ("bytes=a-b", "a-", "-n"), and
 * counters (connections, requests, body bytes sent) that the tests check. What each path answers is
 * up to the test's handler; range_server_send_body serves a body as a well-behaved server would.
 * Header-only (static inline) so that each test binary includes what it needs. */
#ifndef REELAY_TESTS_RANGE_SERVER_H
#define REELAY_TESTS_RANGE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RANGE_SERVER_MAX_CONNECTIONS = 512 };

typedef struct range_server_request {
    char path[512];
    bool has_range;
    char range[128]; /* the Range header's value */
    bool close;      /* the client asked for Connection: close */
} range_server_request;

/* Answers one request on fd. Returns true to keep the connection for the next request. */
typedef bool (*range_server_handler)(int fd, const range_server_request *request, void *context);

typedef struct range_server {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int connections;
    atomic_int requests;
    atomic_llong bytes_sent; /* body bytes of range_server_send_body answers */
    range_server_handler handler;
    void *context;
    pthread_mutex_t lock;
    pthread_t workers[RANGE_SERVER_MAX_CONNECTIONS];
    int worker_count;
} range_server;

typedef struct range_server_connection {
    range_server *server;
    int fd;
} range_server_connection;

static inline void range_server_send(int fd, const void *data, size_t length)
{
    const char *cursor = data;
    while (length > 0) {
        ssize_t sent = send(fd, cursor, length, MSG_NOSIGNAL);
        if (sent <= 0) return; /* the client gave up: expected in the budget and time cases */
        cursor += sent;
        length -= (size_t)sent;
    }
}

static inline void range_server_send_text(int fd, const char *text)
{
    range_server_send(fd, text, strlen(text));
}

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against size into [*start, *end]; false if unsatisfiable
 * or malformed. */
/* Waits (bounded by timeout_ms of silence) until the client closes, so that a slow answer ends as soon
 * as the test is done with it. */
static inline void range_server_wait_for_close(int fd, int timeout_ms)
{
    struct pollfd waiter = {.fd = fd, .events = POLLIN};
    char sink[256];
    while (poll(&waiter, 1, timeout_ms) == 1) {
        if (recv(fd, sink, sizeof(sink), 0) <= 0) return;
    }
}

static inline bool range_server_parse_range(const char *value, long long size, long long *start,
                                            long long *end)
{
    long long a = -1, b = -1;
    if (strncmp(value, "bytes=", 6) != 0) return false;
    const char *p = value + 6;
    if (*p == '-') {
        b = strtoll(p + 1, NULL, 10);
        if (b <= 0 || size == 0) return false;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return true;
    }
    char *rest = NULL;
    a = strtoll(p, &rest, 10);
    if (rest == p || *rest != '-' || a < 0 || a >= size) return false;
    if (rest[1] == '\0')
        b = size - 1;
    else
        b = strtoll(rest + 1, NULL, 10);
    if (b < a) return false;
    if (b >= size) b = size - 1;
    *start = a;
    *end = b;
    return true;
}

/* Serves body as a well-behaved server: 206 with Content-Range for a satisfiable range when
 * honour_range, 416 for an unsatisfiable one, else 200 with all of it. */
static inline void range_server_send_body(range_server *server, int fd, const range_server_request *request,
                                          const void *body, size_t size, const char *content_type,
                                          bool honour_range)
{
    char head[512];
    long long start = 0, end = (long long)size - 1;
    if (honour_range && request->has_range) {
        if (!range_server_parse_range(request->range, (long long)size, &start, &end)) {
            snprintf(head, sizeof(head),
                     "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%zu\r\n"
                     "Content-Length: 0\r\n\r\n",
                     size);
            range_server_send_text(fd, head);
            return;
        }
        snprintf(head, sizeof(head),
                 "HTTP/1.1 206 Partial Content\r\nContent-Type: %s\r\nContent-Range: bytes %lld-%lld/%zu\r\n"
                 "Content-Length: %lld\r\nAccept-Ranges: bytes\r\n\r\n",
                 content_type, start, end, size, end - start + 1);
    } else {
        snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                 content_type, size);
    }
    long long length = size == 0 ? 0 : end - start + 1;
    /* counted before sending, so the count is complete once the client has the bytes */
    atomic_fetch_add(&server->bytes_sent, length);
    range_server_send_text(fd, head);
    range_server_send(fd, (const char *)body + start, (size_t)length);
}

/* Reads one request head (bounded, with a short idle timeout that also notices stop). */
static inline bool range_server_read_request(range_server *server, int fd, range_server_request *out)
{
    char head[8192];
    size_t used = 0;
    head[0] = '\0';
    while (strstr(head, "\r\n\r\n") == NULL) {
        if (used >= sizeof(head) - 1) return false;
        struct pollfd waiter = {.fd = fd, .events = POLLIN};
        int ready = poll(&waiter, 1, 50);
        if (ready == 0) {
            if (atomic_load(&server->stop)) return false;
            continue;
        }
        if (ready < 0) return false;
        ssize_t got = recv(fd, head + used, 1, 0); /* byte by byte: never eat the next request */
        if (got <= 0) return false;
        used += (size_t)got;
        head[used] = '\0';
    }
    memset(out, 0, sizeof(*out));
    if (sscanf(head, "GET %511s HTTP/1.1", out->path) != 1) return false;
    for (char *line = strstr(head, "\r\n"); line != NULL && line[2] != '\0';
         line = strstr(line + 2, "\r\n")) {
        const char *name = line + 2;
        if (strncasecmp(name, "Range:", 6) == 0) {
            out->has_range = true;
            sscanf(name + 6, " %127[^\r]", out->range);
        } else if (strncasecmp(name, "Connection: close", 17) == 0) {
            out->close = true;
        }
    }
    return true;
}

static inline void *range_server_serve_connection(void *argument)
{
    range_server_connection *connection = argument;
    range_server *server = connection->server;
    int fd = connection->fd;
    free(connection);
    range_server_request request;
    while (range_server_read_request(server, fd, &request)) {
        atomic_fetch_add(&server->requests, 1);
        if (!server->handler(fd, &request, server->context) || request.close) break;
    }
    (void)shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static inline void *range_server_accept_loop(void *argument)
{
    range_server *server = argument;
    struct pollfd waiter = {.fd = server->listen_fd, .events = POLLIN};
    while (!atomic_load(&server->stop)) {
        if (poll(&waiter, 1, 20) != 1) continue;
        int fd = accept(server->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&server->connections, 1);
        range_server_connection *connection = malloc(sizeof(*connection));
        pthread_mutex_lock(&server->lock);
        bool room = server->worker_count < RANGE_SERVER_MAX_CONNECTIONS && connection != NULL;
        if (room) {
            *connection = (range_server_connection){.server = server, .fd = fd};
            if (pthread_create(&server->workers[server->worker_count], NULL, range_server_serve_connection,
                               connection) == 0)
                server->worker_count++;
            else
                room = false;
        }
        pthread_mutex_unlock(&server->lock);
        if (!room) {
            free(connection);
            close(fd);
        }
    }
    return NULL;
}

/* Binds 127.0.0.1 on an ephemeral port; returns the socket and fills *port. */
static inline int range_server_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static inline int range_server_start(range_server *server, range_server_handler handler, void *context)
{
    memset(server, 0, sizeof(*server));
    server->handler = handler;
    server->context = context;
    if (pthread_mutex_init(&server->lock, NULL) != 0) return -1;
    server->listen_fd = range_server_listener(&server->port);
    if (server->listen_fd < 0) return -1;
    return pthread_create(&server->thread, NULL, range_server_accept_loop, server) == 0 ? 0 : -1;
}

static inline void range_server_stop(range_server *server)
{
    atomic_store(&server->stop, true);
    pthread_join(server->thread, NULL);
    for (int i = 0; i < server->worker_count; i++)
        pthread_join(server->workers[i], NULL);
    close(server->listen_fd);
    pthread_mutex_destroy(&server->lock);
}

static inline void range_server_reset_counters(range_server *server)
{
    atomic_store(&server->connections, 0);
    atomic_store(&server->requests, 0);
    atomic_store(&server->bytes_sent, 0);
}

#endif

/* head_screen.c — looks at each request's head before h2o reads its body (contract in server_internal.h).
 *
 * A refused head is answered here, in the documented JSON, written straight to the socket (h2o has not
 * taken the request, so nothing else is writing); then the write side is shut (the client sees the
 * answer and the end of the stream) and whatever the client still sends is read and dropped until it
 * closes, MAX_DISCARD bytes have passed or h2o's request timeout ends the connection — a lingering
 * close, so that a client still sending its body is not reset before it reads the answer. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/server_internal.h"
#include "util/log.h"

/* picohttpparser, which libh2o exports (h2o's HTTP/1 reader parses heads with it) but Debian does not
 * ship a header for. The same parser with the same limits, so that a head refused here is exactly one
 * h2o would have refused in plain text. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

enum {
    MAX_DISCARD = 4 << 20,              /* bytes dropped after a refusal before the connection is closed */
    MANY_HEADERS = 4 * H2O_MAX_HEADERS, /* enough to tell "too many headers" from a malformed head */
    CHUNK_SLACK = 64 << 10, /* chunked framing not yet decoded in the input (one chunk-size line and a bit) */
};

typedef struct head_screen_conn {
    http_thread *thread;
    h2o_socket_t *sock;
    h2o_socket_cb h2o_reader;  /* h2o's HTTP/1 reader, which this one wraps */
    h2o_linklist_t rearm_link; /* in thread->rearm while h2o may re-arm its reader */
    h2o_linklist_t conns_link; /* in thread->conns while the socket is open */
    bool head_passed;          /* the head at the start of the input was screened and let in */
    bool chunked;              /* … with a chunked body, held to body_limit as it arrives */
    bool refused;              /* answered here: input is dropped until the connection ends */
    size_t body_limit;
    size_t row; /* the screened head's counter row */
    size_t head_length;
    size_t kept_input; /* after a refusal, input bytes h2o may still point into */
    size_t discarded;
} head_screen_conn;

typedef enum { SCREEN_NEED_MORE, SCREEN_PASS, SCREEN_REFUSE } screen_verdict;

h2o_iovec_t http_head_field_value(const http_request_head *head, const char *name)
{
    size_t length = strlen(name);
    for (size_t i = 0; i < head->field_count; i++)
        if (head->fields[i].name.len == length && strncasecmp(head->fields[i].name.base, name, length) == 0)
            return head->fields[i].value;
    return h2o_iovec_init(NULL, 0);
}

static bool only_line_ends(const char *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (bytes[i] != '\r' && bytes[i] != '\n') return false;
    return true;
}

/* A Content-Length value: digits only, no sign, no overflow. */
static bool parse_length(h2o_iovec_t value, size_t *out)
{
    if (value.len == 0 || value.len > 19) return false;
    size_t n = 0;
    for (size_t i = 0; i < value.len; i++) {
        if (value.base[i] < '0' || value.base[i] > '9') return false;
        n = n * 10 + (size_t)(value.base[i] - '0');
    }
    *out = n;
    return true;
}

/* How a request says its body is framed. */
typedef struct body_framing {
    size_t content_length;
    bool has_length; /* a Content-Length (every copy the same value) */
    bool chunked;    /* Transfer-Encoding: chunked */
} body_framing;

/* Copies the parsed headers into fields and reads the body's framing from them. False with err filled
 * for a Content-Length that is not a number or is given twice with two values, a Transfer-Encoding
 * other than a single "chunked", or both (RFC 9112 §6.1: such a message may be an attempt at request
 * smuggling). */
static bool read_framing(const struct phr_header *headers, size_t header_count, http_head_field *fields,
                         body_framing *framing, reelay_error *err)
{
    *framing = (body_framing){0};
    bool has_transfer_encoding = false;
    for (size_t i = 0; i < header_count; i++) {
        fields[i].name = h2o_iovec_init(headers[i].name, headers[i].name_len);
        fields[i].value = h2o_iovec_init(headers[i].value, headers[i].value_len);
        if (headers[i].name == NULL) continue; /* a folded continuation line (h2o refuses those) */
        if (headers[i].name_len == 14 && strncasecmp(headers[i].name, "content-length", 14) == 0) {
            size_t value;
            if (!parse_length(fields[i].value, &value)) {
                reelay_error_raise(err, "invalid_content_length", NULL,
                                   "Content-Length must be a whole number of bytes.");
                return false;
            }
            if (framing->has_length && value != framing->content_length) {
                reelay_error_raise(err, "conflicting_content_length", NULL,
                                   "The request carries two different Content-Length values.");
                return false;
            }
            framing->has_length = true, framing->content_length = value;
        } else if (headers[i].name_len == 17 && strncasecmp(headers[i].name, "transfer-encoding", 17) == 0) {
            if (has_transfer_encoding ||
                !h2o_lcstris(headers[i].value, headers[i].value_len, H2O_STRLIT("chunked"))) {
                reelay_error_raise(err, "unsupported_transfer_encoding", NULL,
                                   "The only Transfer-Encoding understood is a single 'chunked'.");
                return false;
            }
            has_transfer_encoding = framing->chunked = true;
        }
    }
    if (framing->has_length && has_transfer_encoding) {
        reelay_error_raise(err, "conflicting_content_length", NULL,
                           "A request may not carry both Content-Length and Transfer-Encoding.");
        return false;
    }
    return true;
}

/* Judges the head at the start of bytes. On SCREEN_PASS, fills conn's body expectations; on
 * SCREEN_REFUSE, err and *row (the counter row to count the answer on). */
static screen_verdict screen_head(head_screen_conn *conn, const char *bytes, size_t size, reelay_error *err,
                                  size_t *row)
{
    const struct http_server *server = conn->thread->server;
    size_t considered = size < H2O_MAX_REQLEN ? size : H2O_MAX_REQLEN;
    struct phr_header headers[H2O_MAX_HEADERS];
    size_t header_count = H2O_MAX_HEADERS;
    const char *method, *path;
    size_t method_length, path_length;
    int minor_version;
    int head_length = phr_parse_request(bytes, considered, &method, &method_length, &path, &path_length,
                                        &minor_version, headers, &header_count, 0);
    *row = server->config.route_count + HTTP_ROW_UNMATCHED;
    if (head_length == -2) {
        if (considered < H2O_MAX_REQLEN) return SCREEN_NEED_MORE;
        reelay_error_raise(err, "request_head_too_large", NULL,
                           "The request line and headers are longer than %d bytes.", H2O_MAX_REQLEN);
        return SCREEN_REFUSE;
    }
    if (head_length == -1) {
        if (considered <= 4 && only_line_ends(bytes, considered)) return SCREEN_PASS; /* h2o closes quietly */
        struct phr_header many[MANY_HEADERS];
        size_t many_count = MANY_HEADERS;
        int again = phr_parse_request(bytes, considered, &method, &method_length, &path, &path_length,
                                      &minor_version, many, &many_count, 0);
        if (again != -1)
            reelay_error_raise(err, "too_many_headers", NULL, "A request may carry at most %d header lines.",
                               H2O_MAX_HEADERS);
        else
            reelay_error_raise(err, "malformed_request", NULL,
                               "The request line or a header line is malformed.");
        return SCREEN_REFUSE;
    }

    http_head_field fields[H2O_MAX_HEADERS];
    body_framing framing;
    if (!read_framing(headers, header_count, fields, &framing, err)) return SCREEN_REFUSE;

    const char *query = memchr(path, '?', path_length);
    h2o_iovec_t route_path = h2o_iovec_init(path, query ? (size_t)(query - path) : path_length);
    const http_route *route;
    size_t limit =
        http_server_body_limit(server, h2o_iovec_init(method, method_length), route_path, &route, row);
    if (framing.has_length && framing.content_length > limit) {
        reelay_error_raise(err, "request_too_large", NULL, "The request body is larger than %zu bytes.",
                           limit);
        return SCREEN_REFUSE;
    }
    if (route != NULL && route->screen != NULL) {
        http_request_head head = {.method = h2o_iovec_init(method, method_length),
                                  .path = h2o_iovec_init(path, path_length),
                                  .fields = fields,
                                  .field_count = header_count};
        if (!route->screen(conn->thread->thread_data, &head, err)) return SCREEN_REFUSE;
    }
    conn->chunked = framing.chunked;
    conn->body_limit = limit;
    conn->row = *row;
    conn->head_length = (size_t)head_length;
    return SCREEN_PASS;
}

/* screen_head, remembering a head let in, so that the reads of its body are not screened again. */
static screen_verdict screen_and_note(head_screen_conn *conn, const char *bytes, size_t size,
                                      reelay_error *err, size_t *row)
{
    screen_verdict verdict = screen_head(conn, bytes, size, err, row);
    if (verdict == SCREEN_PASS) conn->head_passed = true;
    return verdict;
}

/* Answers err on the socket itself and starts the lingering close. kept_input: input bytes h2o may
 * still point into (0 when it has not taken the head). */
static void refuse(head_screen_conn *conn, const reelay_error *err, size_t row, size_t kept_input)
{
    char *body = http_error_json(err);
    char head[256];
    int head_length = snprintf(head, sizeof(head),
                               "HTTP/1.1 %d %s\r\nServer: reelay\r\nContent-Type: application/json\r\n"
                               "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                               err->status, http_reason_phrase(err->status), body ? strlen(body) : 0);
    /* counted before the answer leaves, so that a client reading it finds it counted */
    http_server_count(conn->thread, row, err->status);
    if (conn->thread->server->config.access_log)
        log_info("request", "route=refused status=%d code=%s", err->status, err->code);
    int fd = h2o_socket_get_fd(conn->sock);
    struct iovec parts[2] = {{head, (size_t)head_length}, {body, body ? strlen(body) : 0}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = body ? 2 : 1};
    /* A fresh connection's send buffer holds far more than this answer; if it does not, the client
     * gets a truncated answer and the close, which is all a client that does not read deserves. */
    if (sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
        log_debug("refused request not answered", "errno=%d", errno);
    shutdown(fd, SHUT_WR);
    free(body);
    conn->refused = true;
    conn->kept_input = kept_input;
    conn->sock->input->size = kept_input;
}

static void on_socket_close(void *data)
{
    head_screen_conn *conn = data;
    if (h2o_linklist_is_linked(&conn->rearm_link)) h2o_linklist_unlink(&conn->rearm_link);
    h2o_linklist_unlink(&conn->conns_link);
    free(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    head_screen_conn *conn = sock->on_close.data;
    if (err != NULL) {
        conn->h2o_reader(sock, err); /* h2o closes the connection (conn is freed with the socket) */
        return;
    }
    if (conn->refused) {
        conn->discarded += sock->input->size - conn->kept_input;
        sock->input->size = conn->kept_input;
        if (conn->discarded > MAX_DISCARD) conn->h2o_reader(sock, h2o_socket_error_closed);
        return;
    }
    reelay_error refusal;
    size_t row;
    if (!conn->head_passed) {
        if (screen_and_note(conn, sock->input->bytes, sock->input->size, &refusal, &row) == SCREEN_REFUSE) {
            refuse(conn, &refusal, row, 0);
            return;
        }
    } else if (conn->chunked && sock->input->size > conn->head_length + conn->body_limit + CHUNK_SLACK) {
        /* h2o decodes chunks in place as they come, so the input past the head is the body so far plus
         * at most the framing not yet decoded. h2o has seen the input as it was before this read and
         * may point into it: those bytes stay, the new ones go. */
        reelay_error_raise(&refusal, "request_too_large", NULL, "The request body is larger than %zu bytes.",
                           conn->body_limit);
        refuse(conn, &refusal, conn->row, sock->input->size - sock->bytes_read);
        return;
    }
    conn->h2o_reader(sock, NULL);
}

void http_head_screen_attach(http_thread *thread, h2o_socket_t *sock)
{
    /* The wrap needs h2o's reader in place and the close hook free (h2o uses it only on client sockets). */
    if (sock->_cb.read == NULL || sock->on_close.cb != NULL) return;
    head_screen_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) return; /* unscreened: h2o's own checks still apply */
    conn->thread = thread;
    conn->sock = sock;
    conn->h2o_reader = sock->_cb.read;
    h2o_linklist_insert(&thread->conns, &conn->conns_link);
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = conn;
    sock->_cb.read = on_read;
}

void http_head_screen_close_all(http_thread *thread)
{
    while (!h2o_linklist_is_empty(&thread->conns)) {
        head_screen_conn *conn = H2O_STRUCT_FROM_MEMBER(head_screen_conn, conns_link, thread->conns.next);
        /* h2o's reader told of a closed socket closes the connection, whatever it was doing (the
         * socket's close hook then takes conn off the list). */
        conn->h2o_reader(conn->sock, h2o_socket_error_closed);
        if (thread->conns.next == &conn->conns_link) { /* h2o kept it: never expected, never loop forever */
            conn->sock->on_close.cb = NULL;
            on_socket_close(conn);
        }
    }
}

static head_screen_conn *conn_of(h2o_req_t *req)
{
    if (req->conn->callbacks->get_socket == NULL) return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->on_close.cb != on_socket_close) return NULL;
    return sock->on_close.data;
}

/* The kernel's view of the connection: closed means the peer reset it (or it is otherwise dead). */
/* The kernel's TCP state of the connection, or -1. */
static int connection_state(h2o_socket_t *sock)
{
    struct tcp_info info;
    socklen_t length = sizeof(info);
    if (getsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    return info.tcpi_state;
}

static bool connection_reset(h2o_socket_t *sock)
{
    return connection_state(sock) == TCP_CLOSE;
}

bool http_client_closed(h2o_req_t *req)
{
    head_screen_conn *conn = conn_of(req);
    if (conn == NULL) return false;
    int state = connection_state(conn->sock);
    if (state != TCP_CLOSE && state != TCP_CLOSE_WAIT) return false;
    req->http1_is_persistent = 0;
    return true;
}

bool http_client_gone(h2o_req_t *req)
{
    head_screen_conn *conn = conn_of(req);
    if (conn == NULL || !connection_reset(conn->sock)) return false;
    req->http1_is_persistent = 0;
    return true;
}

bool http_head_screen_request(http_thread *thread, h2o_req_t *req)
{
    head_screen_conn *conn = conn_of(req);
    if (conn == NULL) return true;
    h2o_socket_t *sock = conn->sock;
    conn->head_passed = false;
    if (!h2o_linklist_is_linked(&conn->rearm_link)) h2o_linklist_insert(&thread->rearm, &conn->rearm_link);
    /* h2o keeps this request's head and body (chunks decoded in place) at the start of the input until
     * its answer is sent; a pipelined request follows them. With nothing queued behind this request
     * (the common case, known from the screened head's length) there is nothing to drop or screen. */
    if (sock->input->size <= conn->head_length + (req->entity.base ? req->entity.len : 0)) return true;
    if (connection_reset(sock)) {
        req->http1_is_persistent = 0;
        return false;
    }
    const char *method, *path;
    size_t method_length, path_length, header_count = H2O_MAX_HEADERS;
    int minor_version;
    struct phr_header headers[H2O_MAX_HEADERS];
    size_t considered = sock->input->size < H2O_MAX_REQLEN ? sock->input->size : H2O_MAX_REQLEN;
    int head_length = phr_parse_request(sock->input->bytes, considered, &method, &method_length, &path,
                                        &path_length, &minor_version, headers, &header_count, 0);
    if (head_length <= 0) return true;
    size_t current = (size_t)head_length + (req->entity.base ? req->entity.len : 0);
    if (req->entity.base && req->entity.base != sock->input->bytes + head_length)
        return true; /* not h2o's layout */
    if (current >= sock->input->size) return true;
    reelay_error refusal;
    size_t row;
    /* A refused one: h2o would take that head on its own, so this answer is the connection's last. */
    if (screen_and_note(conn, sock->input->bytes + current, sock->input->size - current, &refusal, &row) ==
        SCREEN_REFUSE)
        req->http1_is_persistent = 0;
    return true;
}

void http_head_screen_rearm(http_thread *thread)
{
    h2o_linklist_t *link = thread->rearm.next;
    while (link != &thread->rearm) {
        head_screen_conn *conn = H2O_STRUCT_FROM_MEMBER(head_screen_conn, rearm_link, link);
        link = link->next;
        h2o_socket_t *sock = conn->sock;
        if (sock->_cb.read == conn->h2o_reader) sock->_cb.read = on_read;
        /* still reading our way, or re-wrapped now: off the list; h2o still answering: stays */
        if (sock->_cb.read == on_read) h2o_linklist_unlink(&conn->rearm_link);
    }
}

/* Webhook delivery of the fal stand-in: see webhook.h. */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_USER_ID = 256, MAX_SIGNED_IDS = 512 };

/* At most this many webhook connections are open at once; later deliveries wait their turn in order, so
 * 10,000 jobs finishing together do not need 10,000 descriptors. */
enum { MAX_CONNECTIONS = 256 };

/* One POST in flight: the whole request (head and body) is sent from bytes. */
typedef struct delivery {
    h2o_http1client_t *client;
    h2o_linklist_t in_flight_link; /* on sender.waiting until its connection opens, then on in_flight */
    h2o_iovec_t request, host;     /* host: always 127.0.0.1 (parse_allowed_url) */
    uint16_t port;
    uint64_t *sent_ms; /* where the time it goes out is written, or NULL */
    char bytes[];
} delivery;

static struct {
    bool ready;
    unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
    const char *user_id;
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t client_context;
    h2o_linklist_t in_flight, waiting;
    bool pumping;
    uint64_t delivered, failed, in_flight_count, waiting_count;
} sender;

bool standin_webhook_sign(const unsigned char secret_key[crypto_sign_SECRETKEYBYTES], const char *request_id,
                          const char *user_id, uint64_t timestamp, const char *body, size_t body_length,
                          char out[STANDIN_SIGNATURE_HEX_LENGTH + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES], signature[crypto_sign_BYTES];
    char digest_hex[crypto_hash_sha256_BYTES * 2 + 1];
    char message[MAX_SIGNED_IDS + 24 + sizeof(digest_hex) + 3];
    out[0] = '\0';
    if (strlen(request_id) + strlen(user_id) > MAX_SIGNED_IDS) return false;
    if (crypto_hash_sha256(digest, (const unsigned char *)body, body_length) != 0) return false;
    sodium_bin2hex(digest_hex, sizeof(digest_hex), digest, sizeof(digest));
    int length = snprintf(message, sizeof(message), "%s\n%s\n%llu\n%s", request_id, user_id,
                          (unsigned long long)timestamp, digest_hex);
    if (length < 0 || (size_t)length >= sizeof(message)) return false;
    if (crypto_sign_detached(signature, NULL, (const unsigned char *)message, (unsigned long long)length,
                             secret_key) != 0)
        return false;
    sodium_bin2hex(out, STANDIN_SIGNATURE_HEX_LENGTH + 1, signature, sizeof(signature));
    return true;
}

/* Parses url into parsed; true when it is http://127.0.0.1[:port]/… with a port other than 0. */
static bool parse_allowed_url(const char *url, h2o_url_t *parsed)
{
    if (h2o_url_parse(url, strlen(url), parsed) != 0) return false;
    return parsed->scheme == &H2O_URL_SCHEME_HTTP &&
           h2o_memis(parsed->host.base, parsed->host.len, H2O_STRLIT("127.0.0.1")) &&
           h2o_url_get_port(parsed) != 0;
}

bool standin_webhook_url_allowed(const char *url)
{
    h2o_url_t parsed;
    return parse_allowed_url(url, &parsed);
}

bool standin_webhooks_init(h2o_loop_t *loop, const unsigned char secret_key[crypto_sign_SECRETKEYBYTES],
                           const char *user_id, uint64_t io_timeout_ms)
{
    size_t length = strlen(user_id);
    if (length == 0 || length > MAX_USER_ID) return false;
    for (const char *c = user_id; *c; c++)
        if (*c < 0x21 || *c > 0x7e) return false; /* it goes into a header line as is */
    memcpy(sender.secret_key, secret_key, sizeof(sender.secret_key));
    sender.user_id = user_id;
    h2o_timeout_init(loop, &sender.io_timeout, io_timeout_ms);
    sender.client_context = (h2o_http1client_ctx_t){.loop = loop, .io_timeout = &sender.io_timeout};
    h2o_linklist_init_anchor(&sender.in_flight);
    h2o_linklist_init_anchor(&sender.waiting);
    sender.ready = true;
    return true;
}

static void pump(void);

/* Ends a delivery: counts it and frees it (the client closes itself after the callback returns). */
static void finish(delivery *d, bool delivered)
{
    h2o_linklist_unlink(&d->in_flight_link);
    sender.in_flight_count--;
    if (delivered)
        sender.delivered++;
    else
        sender.failed++;
    free(d);
    pump();
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version,
                                       int status, h2o_iovec_t message, h2o_header_t *headers,
                                       size_t header_count, int header_length)
{
    (void)minor_version, (void)message, (void)headers, (void)header_count, (void)header_length;
    bool answered = errstr == NULL || errstr == h2o_http1client_error_is_eos;
    finish(client->data, answered && status >= 200 && status <= 299);
    return NULL; /* the body does not matter: closing now */
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr,
                                          h2o_iovec_t **request, size_t *request_count, int *method_is_head)
{
    delivery *d = client->data;
    if (errstr) {
        finish(d, false);
        return NULL;
    }
    if (d->sent_ms) *d->sent_ms = h2o_now(sender.client_context.loop);
    *request = &d->request;
    *request_count = 1;
    *method_is_head = 0;
    return on_head;
}

/* The request's head and body, allocated as one delivery; NULL when memory runs out or it cannot be signed.
 */
static delivery *build_delivery(const h2o_url_t *url, const char *request_id, const char *body,
                                size_t body_length)
{
    uint64_t timestamp = (uint64_t)time(NULL);
    char signature[STANDIN_SIGNATURE_HEX_LENGTH + 1];
    if (!standin_webhook_sign(sender.secret_key, request_id, sender.user_id, timestamp, body, body_length,
                              signature))
        return NULL;
    static const char head_format[] = "POST %.*s HTTP/1.1\r\nHost: %.*s\r\nContent-Type: application/json\r\n"
                                      "Content-Length: %zu\r\nConnection: close\r\n"
                                      "X-Fal-Webhook-Request-Id: %s\r\nX-Fal-Webhook-User-Id: %s\r\n"
                                      "X-Fal-Webhook-Timestamp: %llu\r\nX-Fal-Webhook-Signature: %s\r\n\r\n";
#define HEAD_ARGUMENTS                                                                                       \
    (int)url->path.len, url->path.base, (int)url->authority.len, url->authority.base, body_length,           \
        request_id, sender.user_id, (unsigned long long)timestamp, signature
    int head_length = snprintf(NULL, 0, head_format, HEAD_ARGUMENTS);
    if (head_length < 0) return NULL;
    delivery *d = malloc(sizeof(*d) + (size_t)head_length + 1 + body_length);
    if (!d) return NULL;
    if (snprintf(d->bytes, (size_t)head_length + 1, head_format, HEAD_ARGUMENTS) != head_length) {
        free(d);
        return NULL;
    }
#undef HEAD_ARGUMENTS
    memcpy(d->bytes + head_length, body, body_length);
    d->request = h2o_iovec_init(d->bytes, (size_t)head_length + body_length);
    d->host = h2o_iovec_init(H2O_STRLIT("127.0.0.1"));
    d->port = h2o_url_get_port(url);
    d->client = NULL;
    d->in_flight_link = (h2o_linklist_t){NULL, NULL}; /* unlinked, as h2o_linklist_insert asserts */
    return d;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr,
                                          h2o_iovec_t **request, size_t *request_count, int *method_is_head);

/* Opens connections for waiting deliveries, oldest first, while fewer than MAX_CONNECTIONS are open. A
 * connection that fails at once finishes (and calls pump) inside h2o_http1client_connect: the flag keeps
 * that from recursing; the outer loop goes on. */
static void pump(void)
{
    if (sender.pumping) return;
    sender.pumping = true;
    while (sender.in_flight_count < MAX_CONNECTIONS && !h2o_linklist_is_empty(&sender.waiting)) {
        delivery *d = H2O_STRUCT_FROM_MEMBER(delivery, in_flight_link, sender.waiting.next);
        h2o_linklist_unlink(&d->in_flight_link);
        sender.waiting_count--;
        h2o_linklist_insert(&sender.in_flight, &d->in_flight_link);
        sender.in_flight_count++;
        /* an IP-literal host connects directly (no resolver thread) */
        h2o_http1client_connect(&d->client, d, &sender.client_context, d->host, d->port, 0, on_connect);
    }
    sender.pumping = false;
}

bool standin_webhooks_send(const char *url, const char *request_id, const char *body, size_t body_length,
                           uint64_t *sent_ms)
{
    h2o_url_t parsed;
    delivery *d = NULL;
    if (!sender.ready || !parse_allowed_url(url, &parsed) ||
        !(d = build_delivery(&parsed, request_id, body, body_length))) {
        sender.failed++;
        return false;
    }
    d->sent_ms = sent_ms;
    h2o_linklist_insert(&sender.waiting, &d->in_flight_link);
    sender.waiting_count++;
    pump();
    return true;
}

void standin_webhooks_totals(uint64_t *delivered, uint64_t *failed, uint64_t *in_flight)
{
    *delivered = sender.delivered;
    *failed = sender.failed;
    *in_flight = sender.in_flight_count + sender.waiting_count;
}

void standin_webhooks_dispose(void)
{
    if (!sender.ready) return;
    while (!h2o_linklist_is_empty(&sender.in_flight)) {
        delivery *d = H2O_STRUCT_FROM_MEMBER(delivery, in_flight_link, sender.in_flight.next);
        h2o_http1client_cancel(d->client);
        h2o_linklist_unlink(&d->in_flight_link);
        sender.in_flight_count--;
        free(d);
    }
    while (!h2o_linklist_is_empty(&sender.waiting)) {
        delivery *d = H2O_STRUCT_FROM_MEMBER(delivery, in_flight_link, sender.waiting.next);
        h2o_linklist_unlink(&d->in_flight_link);
        sender.waiting_count--;
        free(d);
    }
    h2o_timeout_dispose(sender.client_context.loop, &sender.io_timeout);
    sender.ready = false;
}

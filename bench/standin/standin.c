/* reelay-fal-standin: a fast stand-in for fal.ai's queue API (specs/upstream-apis.md §1), for benchmarks.
 *
 * It follows the contract of the Python test emulator (tests/emulators/fal_queue.py) on its success
 * path, in one h2o event-loop thread so that it answers far faster than reelay asks:
 *   POST /{endpoint}                     → 200 IN_QUEUE with request_id, status_url, response_url, cancel_url
 *   GET  /{owner}/{app}/requests/{id}/status → 202 IN_QUEUE / IN_PROGRESS, 200 COMPLETED (by the job's age)
 *   GET  /{owner}/{app}/requests/{id}    → 400 while running, then 200 {"video": {"url": …}}
 *   PUT  /{owner}/{app}/requests/{id}/cancel → 202 CANCELLATION_REQUESTED / 400 ALREADY_COMPLETED
 *   GET  /.well-known/jwks.json          → the Ed25519 public key of the webhook signatures (the Python
 *                                          emulator's key: seed bytes 0..31), no key needed
 *   GET  /media/{id}.mp4                 → the MP4 named on the command line (h2o's file handler: Range,
 *                                          HEAD, conditional requests); no key needed, like fal's CDN
 * Every route but /media needs `Authorization: Key <key>`. Jobs live in a hash table (jobs.h); their
 * phase is computed from their age, so waiting jobs cost no thread. A submit with `?fal_webhook=URL`
 * (http://127.0.0.1[:port]/… only, else 422) gets one signed webhook POST when it completes (webhook.h):
 * such jobs wait in one h2o timeout list of duration queue_ms + run_ms (a FIFO of deadlines, one timer),
 * unless cancelled first. Not yet: faults, failing outcomes, webhook retries.
 *
 * Usage: reelay-fal-standin --media FILE.mp4 [--port N (0: any; printed)] [--queue-ms N] [--run-ms N]
 *                           [--key KEY] [--user-id ID (X-Fal-Webhook-User-Id, default user_emulator)]
 *                           [--report FILE]
 * Prints "listening on http://127.0.0.1:PORT" on stdout once it accepts; stops on SIGINT / SIGTERM and
 * then prints the webhook totals on stderr and, with --report, writes one line per job to FILE:
 * "request_id submitted_ms webhook_sent_ms completed_answered_ms" (Unix ms, the loop's clock; 0 = never):
 * when it was submitted, when its webhook went out on its connection, and when a status or result answer
 * first said COMPLETED. A benchmark measures the gateway's delays from these. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <h2o.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs.h"
#include "webhook.h"

enum { MAX_WEBHOOK_URL = 2048, MAX_REQUIRED_FIELDS = 3, WEBHOOK_IO_TIMEOUT_MS = 10000 };

/* The applications of the gateway's eight models (§1.9): an endpoint must start with one prefix. */
static const struct {
    const char *prefix;
    const char *owner_app; /* the first two path segments: where status and result live */
    const char *required[MAX_REQUIRED_FIELDS];
} APPS[] = {
    {"fal-ai/sync-lipsync/", "fal-ai/sync-lipsync", {"video_url", "audio_url"}},
    {"fal-ai/creatify/aurora", "fal-ai/creatify", {"image_url", "audio_url"}},
    {"fal-ai/kling-video/", "fal-ai/kling-video", {"image_url", "video_url", "character_orientation"}},
    {"fal-ai/sora-2/", "fal-ai/sora-2", {"prompt"}},
};
enum { APP_COUNT = sizeof(APPS) / sizeof(APPS[0]), SORA_APP = 3 };

typedef struct standin_settings {
    const char *media_path;
    const char *key;
    const char *user_id;     /* X-Fal-Webhook-User-Id */
    const char *report_path; /* --report: where the jobs' times go on exit, or NULL */
    unsigned port;
    uint64_t queue_ms, run_ms;
} standin_settings;

static struct {
    standin_settings settings;
    char origin[64];         /* http://127.0.0.1:PORT */
    char authorization[256]; /* "Key <key>" */
    h2o_globalconf_t config;
    h2o_context_t context;
    h2o_accept_ctx_t accept;
    standin_job_table jobs;
    h2o_timeout_t webhooks_due; /* duration queue_ms + run_ms: the jobs whose webhook is still to send */
    unsigned char signing_key[crypto_sign_SECRETKEYBYTES];
    char jwks[256]; /* the public key, as fal serves it */
} standin;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

/* Answers with a JSON body (copied into the request's pool). */
static int reply(h2o_req_t *req, int status, const char *reason, const char *body, size_t length)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, length);
    return 0;
}

#define REPLY_LITERAL(req, status, reason, body) reply(req, status, reason, H2O_STRLIT(body))

/* Answers with a body formatted into a stack buffer; a body that does not fit is a 500 (never sent cut). */
static int reply_formatted(h2o_req_t *req, int status, const char *reason, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static int reply_formatted(h2o_req_t *req, int status, const char *reason, const char *format, ...)
{
    char body[2048];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(body, sizeof(body), format, arguments);
    va_end(arguments);
    if (length < 0 || (size_t)length >= sizeof(body))
        return REPLY_LITERAL(req, 500, "Internal Server Error", "{\"detail\":\"answer too long\"}");
    return reply(req, status, reason, body, (size_t)length);
}

static const char *phase_of(const standin_job *job)
{
    uint64_t age = h2o_now(standin.context.loop) - job->submitted_ms;
    if (age < standin.settings.queue_ms) return "IN_QUEUE";
    if (age < standin.settings.queue_ms + standin.settings.run_ms) return "IN_PROGRESS";
    return "COMPLETED";
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The percent-decoded fal_webhook value of the query (length bytes at query), into out (MAX_WEBHOOK_URL + 1
 * bytes). Returns 1 when found and clean, 0 when absent, -1 when malformed, too long or holding control
 * bytes. */
static int find_webhook(const char *query, size_t length, char *out)
{
    static const char name[] = "fal_webhook=";
    const char *end = query + length;
    for (const char *pair = query; pair < end;) {
        const char *pair_end = memchr(pair, '&', (size_t)(end - pair));
        if (!pair_end) pair_end = end;
        if ((size_t)(pair_end - pair) >= sizeof(name) - 1 && memcmp(pair, name, sizeof(name) - 1) == 0) {
            size_t used = 0;
            for (const char *p = pair + sizeof(name) - 1; p < pair_end; p++) {
                int c = (unsigned char)*p;
                if (c == '%') {
                    if (pair_end - p < 3 || hex_value(p[1]) < 0 || hex_value(p[2]) < 0) return -1;
                    c = hex_value(p[1]) * 16 + hex_value(p[2]);
                    p += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (c < 0x21 || c == 0x7f || c == '"' || c == '\\' || used == MAX_WEBHOOK_URL) return -1;
                out[used++] = (char)c;
            }
            out[used] = '\0';
            return used ? 1 : -1;
        }
        pair = pair_end + 1;
    }
    return 0;
}

/* Answers 422 naming what is wrong with the input and returns true; returns false (nothing sent) when
 * the body is a JSON object holding the app's required fields. */
static bool input_rejected(h2o_req_t *req, unsigned app)
{
    json_error_t error;
    json_t *input = req->entity.base ? json_loadb(req->entity.base, req->entity.len, 0, &error) : NULL;
    if (!json_is_object(input)) {
        json_decref(input);
        REPLY_LITERAL(
            req, 422, "Unprocessable Entity",
            "{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"invalid JSON\",\"type\":\"value_error\"}]}");
        return true;
    }
    for (unsigned i = 0; i < MAX_REQUIRED_FIELDS && APPS[app].required[i]; i++) {
        if (!json_object_get(input, APPS[app].required[i])) {
            json_decref(input);
            reply_formatted(req, 422, "Unprocessable Entity",
                            "{\"detail\":[{\"loc\":[\"body\",\"%s\"],\"msg\":\"field required\","
                            "\"type\":\"value_error.missing\"}]}",
                            APPS[app].required[i]);
            return true;
        }
    }
    json_decref(input);
    return false;
}

/* The model output of a completed job ({"video": …}, as the result and the webhook payload) into out.
 * Returns its length, or -1 when it does not fit. */
static int format_output(const standin_job *job, char *out, size_t size)
{
    char video_id[64] = "";
    if (job->app_index == SORA_APP) {
        char compact[STANDIN_REQUEST_ID_LENGTH + 1];
        size_t used = 0;
        for (const char *c = job->request_id; *c; c++)
            if (*c != '-') compact[used++] = *c;
        compact[used] = '\0';
        snprintf(video_id, sizeof(video_id), ",\"video_id\":\"video_%s\"", compact);
    }
    int length = snprintf(out, size,
                          "{\"video\":{\"url\":\"%s/media/%s.mp4\",\"content_type\":\"video/mp4\","
                          "\"file_name\":\"output.mp4\",\"file_size\":1}%s}",
                          standin.origin, job->request_id, video_id);
    return length < 0 || (size_t)length >= size ? -1 : length;
}

/* The timeout of a job's webhook_due: the job has just completed; POSTs its signed webhook. */
static void on_webhook_due(h2o_timeout_entry_t *entry)
{
    standin_job *job = H2O_STRUCT_FROM_MEMBER(standin_job, webhook_due, entry);
    char output[512], body[1024];
    int output_length = format_output(job, output, sizeof(output));
    int length = output_length < 0 ? -1
                                   : snprintf(body, sizeof(body),
                                              "{\"request_id\":\"%s\",\"gateway_request_id\":\"%s\","
                                              "\"status\":\"OK\",\"payload\":%s,\"error\":null}",
                                              job->request_id, job->request_id, output);
    if (length < 0 || (size_t)length >= sizeof(body)) {
        fprintf(stderr, "webhook of %s: body too long, not sent\n", job->request_id);
        return;
    }
    standin_webhooks_send(job->webhook_url, job->request_id, body, (size_t)length, &job->webhook_sent_ms);
}

static int submit(h2o_req_t *req, const char *endpoint, size_t endpoint_length)
{
    unsigned app = 0;
    while (app < APP_COUNT && !(endpoint_length >= strlen(APPS[app].prefix) &&
                                memcmp(endpoint, APPS[app].prefix, strlen(APPS[app].prefix)) == 0))
        app++;
    if (app == APP_COUNT)
        return REPLY_LITERAL(req, 404, "Not Found", "{\"detail\":\"Application not found\"}");
    if (input_rejected(req, app)) return 0;
    char webhook[MAX_WEBHOOK_URL + 1];
    int has_webhook = 0;
    if (req->query_at != SIZE_MAX)
        has_webhook =
            find_webhook(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, webhook);
    if (has_webhook < 0 || (has_webhook && !standin_webhook_url_allowed(webhook)))
        return REPLY_LITERAL(req, 422, "Unprocessable Entity", "{\"detail\":\"bad fal_webhook\"}");
    standin_job *job =
        standin_jobs_add(&standin.jobs, app, h2o_now(standin.context.loop), has_webhook ? webhook : NULL);
    if (!job) return REPLY_LITERAL(req, 503, "Service Unavailable", "{\"detail\":\"out of memory\"}");
    if (job->webhook_url) { /* linked now, so it fires queue_ms + run_ms after submitted_ms */
        job->webhook_due.cb = on_webhook_due;
        h2o_timeout_link(standin.context.loop, &standin.webhooks_due, &job->webhook_due);
    }
    const char *id = job->request_id, *base = standin.origin, *owner_app = APPS[app].owner_app;
    return reply_formatted(req, 200, "OK",
                           "{\"status\":\"IN_QUEUE\",\"request_id\":\"%s\",\"gateway_request_id\":\"%s\","
                           "\"queue_position\":0,\"response_url\":\"%s/%s/requests/%s\","
                           "\"status_url\":\"%s/%s/requests/%s/status\","
                           "\"cancel_url\":\"%s/%s/requests/%s/cancel\"}",
                           id, id, base, owner_app, id, base, owner_app, id, base, owner_app, id);
}

/* Remembers the first answer that told a client the job completed (for --report). */
static void note_completed_answer(standin_job *job)
{
    if (job->completed_answered_ms == 0) job->completed_answered_ms = h2o_now(standin.context.loop);
}

static int status(h2o_req_t *req, standin_job *job)
{
    const char *phase = job->cancelled ? "COMPLETED" : phase_of(job); /* fal has no CANCELLED status */
    const char *id = job->request_id, *base = standin.origin, *owner_app = APPS[job->app_index].owner_app;
    int completed = strcmp(phase, "COMPLETED") == 0;
    if (completed && !job->cancelled) note_completed_answer(job);
    char extra[96];
    if (completed)
        snprintf(extra, sizeof(extra), ",\"metrics\":{\"inference_time\":%.3f}",
                 standin.settings.run_ms / 1000.0);
    else
        snprintf(extra, sizeof(extra), "%s", strcmp(phase, "IN_QUEUE") == 0 ? ",\"queue_position\":0" : "");
    return reply_formatted(req, completed ? 200 : 202, completed ? "OK" : "Accepted",
                           "{\"status\":\"%s\",\"request_id\":\"%s\",\"response_url\":\"%s/%s/requests/%s\","
                           "\"status_url\":\"%s/%s/requests/%s/status\","
                           "\"cancel_url\":\"%s/%s/requests/%s/cancel\"%s}",
                           phase, id, base, owner_app, id, base, owner_app, id, base, owner_app, id, extra);
}

static int result(h2o_req_t *req, standin_job *job)
{
    if (job->cancelled)
        return REPLY_LITERAL(req, 400, "Bad Request", "{\"detail\":\"Request was cancelled\"}");
    if (strcmp(phase_of(job), "COMPLETED") != 0)
        return REPLY_LITERAL(req, 400, "Bad Request", "{\"detail\":\"Request is still in progress\"}");
    note_completed_answer(job);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-fal-request-id"), 0, NULL,
                          job->request_id, STANDIN_REQUEST_ID_LENGTH);
    char output[512];
    int length = format_output(job, output, sizeof(output));
    if (length < 0)
        return REPLY_LITERAL(req, 500, "Internal Server Error", "{\"detail\":\"answer too long\"}");
    return reply(req, 200, "OK", output, (size_t)length);
}

static int cancel(h2o_req_t *req, standin_job *job)
{
    if (job->cancelled || strcmp(phase_of(job), "COMPLETED") == 0)
        return REPLY_LITERAL(req, 400, "Bad Request", "{\"status\":\"ALREADY_COMPLETED\"}");
    job->cancelled = true;
    if (h2o_timeout_is_linked(&job->webhook_due))
        h2o_timeout_unlink(&job->webhook_due); /* none, like the emulator */
    return REPLY_LITERAL(req, 202, "Accepted", "{\"status\":\"CANCELLATION_REQUESTED\"}");
}

static int is_method(const h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method));
}

/* The queue API: the path is /{owner}/{app}/requests/{id}[/status|/cancel] or /{endpoint} for a submit. */
static int on_queue_request(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (is_method(req, "GET") &&
        h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/.well-known/jwks.json")))
        return reply(req, 200, "OK", standin.jwks, strlen(standin.jwks));
    ssize_t header = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (header < 0 ||
        !h2o_memis(req->headers.entries[header].value.base, req->headers.entries[header].value.len,
                   standin.authorization, strlen(standin.authorization)))
        return REPLY_LITERAL(req, 401, "Unauthorized", "{\"detail\":\"Invalid or missing key\"}");
    const char *path = req->path_normalized.base + 1; /* h2o's normalized path starts with '/' */
    size_t length = req->path_normalized.len - 1;
    const char *segment_start[6];
    size_t segment_length[6], segments = 0;
    for (size_t at = 0; at <= length && segments < 6;) {
        const char *slash = memchr(path + at, '/', length - at);
        size_t end = slash ? (size_t)(slash - path) : length;
        segment_start[segments] = path + at;
        segment_length[segments++] = end - at;
        at = end + 1;
    }
    if (segments >= 4 && h2o_memis(segment_start[2], segment_length[2], H2O_STRLIT("requests"))) {
        standin_job *job = standin_jobs_find(&standin.jobs, segment_start[3], segment_length[3]);
        int bare = segments == 4 || (segments == 5 && segment_length[4] == 0);
        int is_status = segments == 5 && h2o_memis(segment_start[4], segment_length[4], H2O_STRLIT("status"));
        int is_cancel = segments == 5 && h2o_memis(segment_start[4], segment_length[4], H2O_STRLIT("cancel"));
        if (!((is_method(req, "GET") && (bare || is_status)) || (is_method(req, "PUT") && is_cancel)))
            return REPLY_LITERAL(req, 405, "Method Not Allowed", "{\"detail\":\"Method not allowed\"}");
        if (!job || job->app_index >= APP_COUNT)
            return REPLY_LITERAL(req, 404, "Not Found", "{\"detail\":\"Request not found\"}");
        if (is_status) return status(req, job);
        if (is_cancel) return cancel(req, job);
        return result(req, job);
    }
    if (is_method(req, "POST")) return submit(req, path, length);
    return REPLY_LITERAL(req, 404, "Not Found", "{\"detail\":\"Not found\"}");
}

static void on_accept(h2o_socket_t *listener, const char *error)
{
    if (error) return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock) h2o_accept(&standin.accept, sock);
}

/* A listening socket on 127.0.0.1:port (0: any free port); writes the bound port back. Returns the fd or -1.
 */
static int listen_on_loopback(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int on = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t address_length = sizeof(address);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &address_length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static int parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') return -1;
    *out = value;
    return 0;
}

/* Reads the command line into settings. Returns 0, or -1 after printing what is wrong. */
static int parse_arguments(int argc, char **argv, standin_settings *settings)
{
    static const struct option options[] = {
        {"media", required_argument, NULL, 'm'},    {"port", required_argument, NULL, 'p'},
        {"queue-ms", required_argument, NULL, 'q'}, {"run-ms", required_argument, NULL, 'r'},
        {"key", required_argument, NULL, 'k'},      {"user-id", required_argument, NULL, 'u'},
        {"report", required_argument, NULL, 'o'},   {NULL, 0, NULL, 0},
    };
    *settings =
        (standin_settings){.key = "fal_test_key", .user_id = "user_emulator", .queue_ms = 100, .run_ms = 500};
    uint64_t port = 0;
    for (int option; (option = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        int bad = 0;
        if (option == 'm')
            settings->media_path = optarg;
        else if (option == 'k')
            settings->key = optarg;
        else if (option == 'u')
            settings->user_id = optarg;
        else if (option == 'o')
            settings->report_path = optarg;
        else if (option == 'p')
            bad = parse_count(optarg, &port) || port > 65535;
        else if (option == 'q')
            bad = parse_count(optarg, &settings->queue_ms);
        else if (option == 'r')
            bad = parse_count(optarg, &settings->run_ms);
        else
            bad = 1;
        if (bad) {
            fprintf(stderr,
                    "usage: %s --media FILE.mp4 [--port N] [--queue-ms N] [--run-ms N] [--key KEY] "
                    "[--user-id ID] [--report FILE]\n",
                    argv[0]);
            return -1;
        }
    }
    struct stat media;
    if (!settings->media_path || stat(settings->media_path, &media) != 0 || !S_ISREG(media.st_mode)) {
        fprintf(stderr, "%s: --media must name a readable MP4 file\n", argv[0]);
        return -1;
    }
    settings->port = (unsigned)port;
    return 0;
}

/* Derives the webhook signing key from the Python emulator's seed (bytes 0..31, so a reelay configured
 * for either trusts both) and writes its JWKS. Returns false when libsodium cannot start. */
static bool prepare_signing_key(void)
{
    unsigned char seed[crypto_sign_SEEDBYTES], public_key[crypto_sign_PUBLICKEYBYTES];
    char encoded[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    if (sodium_init() < 0) return false;
    for (unsigned i = 0; i < sizeof(seed); i++)
        seed[i] = (unsigned char)i;
    if (crypto_sign_seed_keypair(public_key, standin.signing_key, seed) != 0) return false;
    sodium_bin2base64(encoded, sizeof(encoded), public_key, sizeof(public_key),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int written = snprintf(
        standin.jwks, sizeof(standin.jwks),
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"emulator\"}]}", encoded);
    return written > 0 && (size_t)written < sizeof(standin.jwks);
}

/* Forgets the webhooks not sent yet, cancels those in flight and prints the totals (before the loop goes). */
static void stop_webhooks(void)
{
    uint64_t delivered, failed, in_flight, unsent = 0;
    while (!h2o_linklist_is_empty(&standin.webhooks_due._entries)) {
        h2o_timeout_unlink(
            H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, standin.webhooks_due._entries.next));
        unsent++;
    }
    h2o_timeout_dispose(standin.context.loop, &standin.webhooks_due);
    standin_webhooks_totals(&delivered, &failed, &in_flight);
    standin_webhooks_dispose();
    fprintf(stderr, "webhooks: %llu delivered, %llu failed, %llu cut short, %llu not yet due\n",
            (unsigned long long)delivered, (unsigned long long)failed, (unsigned long long)in_flight,
            (unsigned long long)unsent);
}

/* With --report, writes every job's times to the report file (standin_jobs_report). False (said on stderr)
 * when the file cannot be written. */
static bool write_report(void)
{
    if (!standin.settings.report_path) return true;
    FILE *out = fopen(standin.settings.report_path, "w");
    bool written = out && standin_jobs_report(&standin.jobs, out);
    if (out && fclose(out) != 0) written = false;
    if (!written)
        fprintf(stderr, "cannot write the report %s: %s\n", standin.settings.report_path, strerror(errno));
    return written;
}

/* The host: /media serves the one result file (any name under it), everything else is the queue API. */
static void configure_routes(void)
{
    h2o_config_init(&standin.config);
    standin.config.server_name = h2o_iovec_init(H2O_STRLIT("reelay-fal-standin"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&standin.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_mimemap_t *types = h2o_mimemap_create();
    h2o_mimemap_type_t *mp4 = h2o_mimemap_get_type_by_extension(types, h2o_iovec_init(H2O_STRLIT("mp4")));
    h2o_file_register_file(h2o_config_register_path(host, "/media", 0), standin.settings.media_path, mp4, 0);
    h2o_mem_release_shared(types);
    h2o_handler_t *queue = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*queue));
    queue->on_req = on_queue_request;
}

int main(int argc, char **argv)
{
    if (parse_arguments(argc, argv, &standin.settings) != 0) return 2;
    int written =
        snprintf(standin.authorization, sizeof(standin.authorization), "Key %s", standin.settings.key);
    if (written < 0 || (size_t)written >= sizeof(standin.authorization)) {
        fprintf(stderr, "%s: --key is too long\n", argv[0]);
        return 2;
    }
    if (!standin_jobs_init(&standin.jobs) || !prepare_signing_key()) {
        fprintf(stderr, "%s: cannot set up the job table or the signing key\n", argv[0]);
        return 1;
    }
    int fd = listen_on_loopback(&standin.settings.port);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%u: %s\n", argv[0], standin.settings.port,
                strerror(errno));
        return 1;
    }
    snprintf(standin.origin, sizeof(standin.origin), "http://127.0.0.1:%u", standin.settings.port);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction stop = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);

    configure_routes();
    h2o_context_init(&standin.context, h2o_evloop_create(), &standin.config);
    h2o_timeout_init(standin.context.loop, &standin.webhooks_due,
                     standin.settings.queue_ms + standin.settings.run_ms);
    if (!standin_webhooks_init(standin.context.loop, standin.signing_key, standin.settings.user_id,
                               WEBHOOK_IO_TIMEOUT_MS)) {
        fprintf(stderr, "%s: --user-id must be 1 to 256 printable characters without spaces\n", argv[0]);
        return 2;
    }
    standin.accept = (h2o_accept_ctx_t){.ctx = &standin.context, .hosts = standin.config.hosts};
    h2o_socket_t *listener = h2o_evloop_socket_create(standin.context.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    printf("listening on %s\n", standin.origin);
    fflush(stdout);
    while (!stop_requested)
        h2o_evloop_run(standin.context.loop, 100);
    int status_code = write_report() ? 0 : 1; /* first: what follows asserts no client is still connected */
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    stop_webhooks();
    h2o_context_dispose(&standin.context);
    h2o_evloop_destroy(standin.context.loop);
    h2o_config_dispose(&standin.config);
    standin_jobs_dispose(&standin.jobs);
    return status_code;
}

/* upstream.h — the providers reelay forwards tasks to, as tables of pure functions.
 *
 * Each provider (fal, sync, kling, openai, creatify; and the local sandbox, which has no wire format)
 * is one `upstream_provider`: what it is called, its real base URL, the models it serves, the advanced
 * options it honours, the form of its credential, and the functions that turn a task into HTTP
 * requests and HTTP answers back into what happened. Those functions do no I/O, read no clock and
 * keep no state of their own: everything they need is in their arguments, so they are unit-tested
 * on fixture JSON (tests/unit/test_upstream_*.c). The engine does the I/O, through libcurl.
 *
 * Every byte of an answer is hostile: parsers accept any body (not JSON, wrong types, huge strings)
 * and answer with a verdict, never crash, and never trust a URL that points away from the channel
 * when it will carry the credential (see upstream_same_origin).
 *
 * Life of a job, as the engine drives it:
 *   build_submit → (send) → parse_submit: ACCEPTED (job filled) | REFUSED | THROTTLED | AMBIGUOUS
 *   build_poll → (send) → parse_poll: QUEUED | RUNNING | SUCCEEDED | FAILED | FETCH_RESULT | RETRY | LOST
 *   FETCH_RESULT (fal): build_result → parse_result: SUCCEEDED | FAILED | RETRY
 *   SUCCEEDED: build_download gives the request that fetches the video bytes
 *   cancel: build_cancel (fal only; NULL elsewhere)
 *   submission unknown: build_lookup (kling: by our external id; sync: the same submit with the same
 *   Idempotency-Key) → parse_poll / parse_submit; NULL = no way to look it up (fail after a grace). */
#ifndef REELAY_UPSTREAM_UPSTREAM_H
#define REELAY_UPSTREAM_UPSTREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPSTREAM_URL_SIZE 2048
#define UPSTREAM_MAX_HEADERS 6
#define UPSTREAM_HEADER_SIZE 768

/* One HTTP request to make. Headers are complete lines without CRLF ("Authorization: Key …"). */
typedef struct upstream_request {
    const char *method;   /* "GET", "POST", "PUT", "DELETE" (static strings) */
    char url[UPSTREAM_URL_SIZE];
    char headers[UPSTREAM_MAX_HEADERS][UPSTREAM_HEADER_SIZE];
    int header_count;
    char *body;           /* malloc'd JSON text, or NULL */
    size_t body_size;
    bool carries_credential; /* the engine sends it only to the channel's own origin */
} upstream_request;

/* Frees the body and resets the request. */
void upstream_request_clear(upstream_request *request);

/* One HTTP answer as received. status 0 = no answer at all (never happens here: transport failures
 * are the engine's business). Header values are NULL when absent. */
typedef struct upstream_response {
    long status;
    const char *body;
    size_t body_size;
    const char *retry_after;   /* "Retry-After" (seconds or an HTTP date) */
    const char *retry_after_ms; /* "retry-after-ms" (OpenAI) */
    const char *poll_after_ms; /* "openai-poll-after-ms" */
} upstream_response;

/* What we remember of a job at its provider: stored with the task (upstream_job_to_json), so it
 * survives restarts. URLs are those the provider returned (fal), already checked for origin. */
typedef struct upstream_job {
    char id[128];
    char status_url[UPSTREAM_URL_SIZE];
    char result_url[UPSTREAM_URL_SIZE];
    char cancel_url[UPSTREAM_URL_SIZE];
} upstream_job;

/* Per-channel authentication state that providers may keep between requests (Kling's JWT, renewed
 * before it expires). Owned by the engine, one per channel; starts zeroed. */
typedef struct upstream_auth_cache {
    char token[512];
    int64_t expires_at; /* Unix seconds; 0 = none */
} upstream_auth_cache;

/* Everything a builder or parser may look at. */
typedef struct upstream_context {
    const char *base_url;     /* the channel's base URL (never ""; no trailing slash) */
    const char *credential;   /* the opened credential, in the provider's form */
    const char *task_id;      /* ours: external id / idempotency key where the provider takes one */
    const char *model;        /* our model id, e.g. "lipsync-2" */
    const json_t *params;     /* the canonical validated parameters (catalog_validate's output) */
    const char *webhook_url;  /* where the provider should call us, or NULL to rely on polling */
    int64_t now;              /* Unix seconds */
    upstream_auth_cache *auth; /* never NULL */
} upstream_context;

typedef enum {
    UPSTREAM_ACCEPTED,  /* the job exists; job->id is set */
    UPSTREAM_REFUSED,   /* definitely not created (4xx/5xx before acceptance): another channel may try */
    UPSTREAM_THROTTLED, /* 429: not created; try again after retry_after_ms, never a task failure */
    UPSTREAM_AMBIGUOUS, /* a success status we cannot read: the job may exist ("submission unknown") */
} upstream_submit_verdict;

typedef enum {
    UPSTREAM_JOB_QUEUED,
    UPSTREAM_JOB_RUNNING,
    UPSTREAM_JOB_SUCCEEDED,    /* media_url set (or the download needs only the job: OpenAI) */
    UPSTREAM_JOB_FAILED,       /* error_code and error_message set */
    UPSTREAM_JOB_FETCH_RESULT, /* finished: the result document must be fetched (fal) */
    UPSTREAM_JOB_RETRY,        /* this answer tells nothing (429, 5xx, malformed): ask again later */
    UPSTREAM_JOB_LOST,         /* the provider does not know the job (404) */
} upstream_job_phase;

/* A verdict with its details. */
typedef struct upstream_outcome {
    upstream_submit_verdict verdict; /* parse_submit */
    upstream_job_phase phase;        /* parse_poll, parse_result */
    int progress;                    /* 0..100, or -1 when the provider gives none */
    int64_t retry_after_ms;          /* the provider's wish (Retry-After, poll-after), 0 = none */
    char media_url[UPSTREAM_URL_SIZE];
    double duration;                 /* seconds, when the provider states it; 0 otherwise */
    char error_code[48];             /* our task error code: content_policy_violation, invalid_parameters,
                                        generation_failed, upstream_error, … */
    char error_message[512];         /* the provider's own words */
} upstream_outcome;

/* Webhook headers as received (lower-case names), for verifiers. */
typedef struct upstream_header {
    const char *name;
    const char *value;
} upstream_header;

typedef struct upstream_provider {
    const char *name;               /* "fal", "sync", "kling", "openai", "creatify", "sandbox" */
    const char *default_base_url;   /* the provider's real one ("" for the sandbox) */
    const char *credential_form;    /* for help texts: "KEY", "ACCESS_KEY:SECRET_KEY", … */
    const char *const *models;      /* NULL-terminated: the models it can serve; NULL = every catalog model
                                       (the sandbox) */
    /* true when this provider honours the advanced option `field` for `model`. */
    bool (*honours)(const char *model, const char *field);
    /* true when the credential has the provider's form (a non-empty key, "A:B", …). */
    bool (*credential_valid)(const char *credential);

    /* The builders return 0, or -1 with a reason in err (the task then fails as invalid_parameters). */
    int (*build_submit)(const upstream_context *ctx, upstream_request *out, char *err, size_t err_size);
    void (*parse_submit)(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                         upstream_outcome *out);
    int (*build_poll)(const upstream_context *ctx, const upstream_job *job, upstream_request *out);
    void (*parse_poll)(const upstream_context *ctx, const upstream_response *response, upstream_job *job,
                       upstream_outcome *out);
    /* NULL unless the provider has a separate result document (fal). */
    int (*build_result)(const upstream_context *ctx, const upstream_job *job, upstream_request *out);
    void (*parse_result)(const upstream_context *ctx, const upstream_response *response, upstream_outcome *out);
    /* The request that downloads the video of a SUCCEEDED job. */
    int (*build_download)(const upstream_context *ctx, const upstream_job *job, const upstream_outcome *done,
                          upstream_request *out);
    /* NULL when the provider cannot cancel. */
    int (*build_cancel)(const upstream_context *ctx, const upstream_job *job, upstream_request *out);
    /* NULL when a job whose submission went unanswered cannot be found again. The answer is read with
     * parse_submit when lookup_is_submit (Sync's idempotent replay), else with parse_poll (job->id set). */
    int (*build_lookup)(const upstream_context *ctx, upstream_request *out, upstream_job *job);
    bool lookup_is_submit;
} upstream_provider;

/* NULL for an unknown name. */
const upstream_provider *upstream_provider_find(const char *name);
/* NULL-terminated list of every provider, sandbox included. */
const upstream_provider *const *upstream_providers(void);
/* True when the provider serves the model: it is in its `models`, or, when that is NULL, in the catalog. */
bool upstream_provider_serves(const upstream_provider *provider, const char *model);

/* True when both absolute URLs have the same scheme, host and port. */
bool upstream_same_origin(const char *a, const char *b);

/* The stored form of a job: {"id":…,"status_url":…,…} (empty strings omitted). Caller decrefs. */
json_t *upstream_job_to_json(const upstream_job *job);
/* false when the object lacks an id or a field does not fit. */
bool upstream_job_from_json(const json_t *object, upstream_job *out);

/* Reads a Retry-After value (delta seconds or an HTTP date) as milliseconds from now; 0 when absent
 * or unreadable; capped at one hour. */
int64_t upstream_retry_after_ms(const char *retry_after, const char *retry_after_ms, int64_t now);

/* Shared helpers for the provider files. */
int upstream_add_header(upstream_request *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Sets out->body to the compact JSON of body (steals the reference) and adds Content-Type. */
int upstream_set_json_body(upstream_request *out, json_t *body);
/* Parses the body as a JSON object; NULL when it is not one. Caller decrefs. */
json_t *upstream_parse_object(const upstream_response *response);
/* Copies a string member (or "" when absent or not a string) into out; false if it did not fit. */
bool upstream_copy_string(const json_t *object, const char *key, char *out, size_t out_size);
/* The generic verdict for a submit answer that is not a success: 429 → THROTTLED, other statuses →
 * REFUSED, with the provider's message in error_message when one can be found. */
void upstream_refusal(const upstream_response *response, int64_t now, const char *message, upstream_outcome *out);
/* A poll answer that is not a success: 404 → LOST, otherwise RETRY (with the provider's wish). */
void upstream_poll_trouble(const upstream_response *response, int64_t now, upstream_outcome *out);
/* Percent-encodes text for a query value into out; -1 when it does not fit. */
int upstream_url_encode(const char *text, char *out, size_t out_size);
/* true for a credential of 1..512 printable characters without spaces, containing `separator`
 * (with text on both sides) when separator is not '\0'. */
bool upstream_credential_shape(const char *credential, char separator);
/* Splits "A:B" at the first colon into its two parts; false when it does not fit or has no colon. */
bool upstream_credential_split(const char *credential, char *first, size_t first_size, char *second,
                               size_t second_size);
/* The parameter as a string / number / bool, or the fallback when absent or of another type. */
const char *upstream_param_string(const json_t *params, const char *name, const char *fallback);
/* Fills error_code and error_message (message truncated to fit, control characters replaced). */
void upstream_set_error(upstream_outcome *out, const char *code, const char *message);

#endif

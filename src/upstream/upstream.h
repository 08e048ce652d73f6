/* upstream.h — the providers reelay forwards tasks to, as tables of data and pure functions.
 *
 * Each provider (fal, sync, kling, openai, creatify; and the local sandbox, which has no wire format)
 * is one `upstream_provider`, defined in its own file of this folder and listed in the registry
 * (upstream_common.c): what it is called, its real base URL, the models it serves (one row each: our
 * id, its native name or endpoint, the advanced options it honours), the form of its credential, the
 * functions that turn a task into HTTP requests and HTTP answers back into what happened, and how it
 * calls back: whether it is asked to, how a callback is verified, where the callback names the job and
 * where the keys it signs with are published. Nothing outside this folder names a provider: the engine
 * and the API ask the table.
 *
 * The functions do no I/O, read no clock and keep no state of their own: everything they need is in
 * their arguments, so they are unit-tested on fixture JSON (tests/unit/test_upstream_*.c). The engine
 * does the I/O, through libcurl (engine/upstream_runner.c, engine/webhook_keys.c).
 *
 * Every byte of an answer or a webhook is hostile: parsers accept any body (not JSON, wrong types, huge
 * strings) and answer with a verdict, never crash, and never trust a URL that points away from the
 * channel when it will carry the credential (see upstream_same_origin).
 *
 * Life of a job, as the engine drives it:
 *   build_submit → (send) → parse_submit: ACCEPTED (job filled) | REFUSED | THROTTLED | AMBIGUOUS
 *   build_poll → (send) → parse_poll: QUEUED | RUNNING | SUCCEEDED | FAILED | FETCH_RESULT | RETRY | LOST
 *   FETCH_RESULT (fal): build_result → parse_result: SUCCEEDED | FAILED | RETRY
 *   SUCCEEDED: build_download gives the request that fetches the video bytes
 *   cancel: build_cancel (fal only; NULL elsewhere)
 *   submission unknown: build_lookup (kling: by our external id; sync: the same submit with the same
 *   Idempotency-Key) → parse_poll / parse_submit; NULL = no way to look it up (fail after a grace).
 * A webhook (POST /v1/upstream/{channel}/webhook) is checked with verify_webhook and only ever prompts
 * a poll of the job it names (upstream_webhook_job_id): the poll says what is true. */
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
    const char *method; /* "GET", "POST", "PUT", "DELETE" (static strings) */
    char url[UPSTREAM_URL_SIZE];
    char headers[UPSTREAM_MAX_HEADERS][UPSTREAM_HEADER_SIZE];
    int header_count;
    char *body; /* malloc'd JSON text, or NULL */
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
    const char *retry_after;    /* "Retry-After" (seconds or an HTTP date) */
    const char *retry_after_ms; /* "retry-after-ms" (OpenAI) */
    const char *poll_after_ms;  /* "openai-poll-after-ms" */
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
    const char *base_url;      /* the channel's base URL (never ""; no trailing slash) */
    const char *credential;    /* the opened credential, in the provider's form */
    const char *task_id;       /* ours: external id / idempotency key where the provider takes one */
    const char *model;         /* our model id, e.g. "lipsync-2" */
    const json_t *params;      /* the canonical validated parameters (catalog_validate's output) */
    const char *webhook_url;   /* where the provider should call us, or NULL to rely on polling */
    int64_t now;               /* Unix seconds */
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
    double duration;         /* seconds, when the provider states it; 0 otherwise */
    char error_code[48];     /* our task error code: content_policy_violation, invalid_parameters,
                                generation_failed, upstream_error, … */
    char error_message[512]; /* the provider's own words */
} upstream_outcome;

/* Webhook headers as received (lower-case names), for verifiers. */
typedef struct upstream_header {
    const char *name;
    const char *value;
} upstream_header;

/* One model a provider serves. */
typedef struct upstream_model {
    const char *model;          /* our model id, e.g. "kling-v3-motion-control"; NULL ends a table */
    const char *native;         /* the provider's own name or endpoint for it (fal: a template whose
                                   {tier} / {input} the adapter fills from the parameters) */
    const char *const *honours; /* NULL-terminated advanced options it honours for this model; NULL = none */
    int variant;                /* the adapter's own use (fal: which input body); 0 when unused */
} upstream_model;

/* Whether the provider is asked, per request, to call back (the webhook URL goes in the submit). */
typedef enum {
    UPSTREAM_WEBHOOK_NEVER,       /* never (OpenAI: webhooks are set per project, in its dashboard) */
    UPSTREAM_WEBHOOK_ALWAYS,      /* whenever this server has a public URL */
    UPSTREAM_WEBHOOK_WITH_SECRET, /* only when the channel has a webhook secret to verify them with */
} upstream_webhook_ask;

/* A webhook as received, for verify_webhook. */
typedef struct upstream_webhook {
    const upstream_header *headers; /* every request header, names in lower case */
    size_t header_count;
    const char *body; /* the raw body bytes (not NUL-terminated) */
    size_t body_size;
    const char *secret; /* the channel's opened webhook secret, or NULL when it has none */
    const char *keys;   /* the provider's published key document as last fetched, or NULL when none yet */
    int64_t now;        /* Unix seconds */
} upstream_webhook;

typedef enum {
    UPSTREAM_WEBHOOK_VERIFIED, /* signed by the provider */
    UPSTREAM_WEBHOOK_UNSIGNED, /* unsigned by design (Creatify; Kling without a secret): a prompt to poll */
    UPSTREAM_WEBHOOK_REFUSED,  /* a bad or missing signature, or no secret to check it with */
    UPSTREAM_WEBHOOK_KEYS_MISSING, /* the provider's published keys are not loaded yet: try again later */
} upstream_webhook_verdict;

typedef struct upstream_provider {
    const char *name;             /* "fal", "sync", "kling", "openai", "creatify", "sandbox" */
    const char *default_base_url; /* the provider's real one ("" for the sandbox) */
    const char *credential_form;  /* for help texts: "KEY", "ACCESS_KEY:SECRET_KEY", … */
    /* the models it serves, ended by a row whose model is NULL; NULL = every catalog model, under its
     * own name (the sandbox, which renders each from its catalog row's recipe) */
    const upstream_model *models;
    bool honours_every_option; /* every advanced option of every model it serves (the sandbox) */
    bool runs_locally;         /* tasks render in this process, no wire format (the sandbox) */
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
    void (*parse_result)(const upstream_context *ctx, const upstream_response *response,
                         upstream_outcome *out);
    /* The request that downloads the video of a SUCCEEDED job. */
    int (*build_download)(const upstream_context *ctx, const upstream_job *job, const upstream_outcome *done,
                          upstream_request *out);
    /* NULL when the provider cannot cancel. */
    int (*build_cancel)(const upstream_context *ctx, const upstream_job *job, upstream_request *out);
    /* NULL when a job whose submission went unanswered cannot be found again. The answer is read with
     * parse_submit when lookup_is_submit (Sync's idempotent replay), else with parse_poll (job->id set). */
    int (*build_lookup)(const upstream_context *ctx, upstream_request *out, upstream_job *job);
    bool lookup_is_submit;

    /* ---- webhooks ---- */
    upstream_webhook_ask webhook_ask;
    /* Its webhooks come only once a job has ended (fal): a verified one fetches the result document
     * (build_result) at once instead of polling first. */
    bool webhooks_at_end;
    /* Whether this webhook comes from the provider; *reason is set (a static text) when REFUSED.
     * NULL when the provider takes no webhooks at all (the sandbox): the route answers 404. */
    upstream_webhook_verdict (*verify_webhook)(const upstream_webhook *hook, const char **reason);
    /* Where a webhook body names the provider's job: a member name, or "outer.inner" (OpenAI's
     * "data.id"); read by upstream_webhook_job_id. NULL = webhooks name no job. */
    const char *webhook_job_id_field;
    /* Where the provider publishes the keys its webhooks are signed with (fal's JWKS); NULL when its
     * scheme needs none. The engine fetches the document and hands it to verify_webhook as hook->keys. */
    const char *webhook_keys_url;
    /* The number of keys in a fetched key document (>= 0), or -1 when it is not usable; only
     * consulted when webhook_keys_url is set. The document is any bytes, NUL-terminated. */
    int (*webhook_keys_count)(const char *document);
} upstream_provider;

/* NULL for an unknown name. */
const upstream_provider *upstream_provider_find(const char *name);
/* NULL-terminated list of every provider, sandbox included. */
const upstream_provider *const *upstream_providers(void);
/* The provider's row for our model id; NULL when it does not serve it (or model is NULL). A provider
 * whose models is NULL answers one shared row (no native name, no options) for every catalog model. */
const upstream_model *upstream_provider_model(const upstream_provider *provider, const char *model);
/* True when the provider serves the model. */
bool upstream_provider_serves(const upstream_provider *provider, const char *model);
/* True when the provider serves the model and honours its advanced option `field` for it. */
bool upstream_provider_honours(const upstream_provider *provider, const char *model, const char *field);
/* True when the row lists `field` among the options it honours. */
bool upstream_model_honours(const upstream_model *row, const char *field);

/* ---- webhooks (upstream_webhooks.c) ---- */

/* True when a submit on a channel of this provider should carry a webhook URL (given that this server
 * has a public URL): by the provider's webhook_ask and whether the channel has a webhook secret. */
bool upstream_webhook_wanted(const upstream_provider *provider, bool channel_has_secret);
/* The job id a webhook body names (at the provider's webhook_job_id_field), copied into out; "" when
 * the body is not JSON, names none, it is not a string or it does not fit. The body is any bytes. */
void upstream_webhook_job_id(const upstream_provider *provider, const char *body, size_t size, char *out,
                             size_t out_size);
/* The value of the header with this lower-case name (the first one), or "" when absent. */
const char *upstream_webhook_header(const upstream_webhook *hook, const char *name);
/* Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) under hook->secret: VERIFIED, or
 * REFUSED with "no webhook secret set" / "bad signature". For the providers that sign that way. */
upstream_webhook_verdict upstream_webhook_verify_standard(const upstream_webhook *hook, const char **reason);

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
/* build_download for a result that is a link (done->media_url, http or https) fetched without the
 * credential: a public CDN or a tokenised link. -1 when there is no such link. */
int upstream_build_link_download(const upstream_context *ctx, const upstream_job *job,
                                 const upstream_outcome *done, upstream_request *out);
int upstream_add_header(upstream_request *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Sets out->body to the compact JSON of body (steals the reference) and adds Content-Type. */
int upstream_set_json_body(upstream_request *out, json_t *body);
/* Parses the body as a JSON object; NULL when it is not one. Caller decrefs. */
json_t *upstream_parse_object(const upstream_response *response);
/* Copies a string member (or "" when absent or not a string) into out; false if it did not fit. */
bool upstream_copy_string(const json_t *object, const char *key, char *out, size_t out_size);
/* The generic verdict for a submit answer that is not a success: 429 → THROTTLED, other statuses →
 * REFUSED, with the provider's message in error_message when one can be found. */
void upstream_refusal(const upstream_response *response, int64_t now, const char *message,
                      upstream_outcome *out);
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
/* Appends text to out, which is always NUL-terminated (truncated when full; once full, nothing more fits). */
void upstream_text_append(char *out, size_t out_size, const char *text);
/* Fills error_code and error_message (message truncated to fit, control characters replaced). */
void upstream_set_error(upstream_outcome *out, const char *code, const char *message);

#endif

/* admission.h — the checks a generation body passes before it may become a task, shared by
 * POST /v1/videos/generations (generations.c) and POST /v1/videos/generations/quote (quote.c), so
 * that a quote answers exactly what the submit of the same body would (the same errors, codes and
 * params, the same probes, the same price). Not part of the module's contract (that is api.h).
 *
 * The steps, in the order a handler calls them:
 *   1. admission_validate: the catalog's validation (catalog_validate) and the callback_url check;
 *   2. admission_route: a channel can run the model with the advanced options given;
 *   3. admission_probe: the media inputs probed on the offload pool (never on the loop thread);
 *   4. admission_price: the probed inputs against the documented limits, then the price.
 * Each step answers the request itself when it refuses; the handler only stops. */
#ifndef REELAY_API_ADMISSION_H
#define REELAY_API_ADMISSION_H

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "catalog/prices.h"
#include "media/media.h"

/* One media input of the body, and what its probe found. */
typedef struct admission_input {
    char field[24]; /* "video_url", "image_urls[0]" … */
    char *url;      /* owned; NULL when out of memory (the probe then fails with internal_error) */
    const catalog_media_input *rule; /* the catalog's row of this input */
    int probed;                      /* 0 ok, -1 failed */
    media_info info;
    char code[48];
    char message[400];
} admission_input;

typedef struct admission_check admission_check;

/* Called on the loop thread once the inputs are probed (or at once when there is nothing to probe).
 * req is NULL when the request is gone: the callee only frees what holds the check. */
typedef void (*admission_probed_fn)(h2o_req_t *req, admission_check *check);

/* What the steps learn about one body. Embed it (it is not allocated by these functions); it must stay
 * at one address from admission_probe until its callback ran. */
struct admission_check {
    api_thread *thread;
    key_record key;
    const catalog_model *model;
    json_t *params;   /* owned: the canonical parameters (catalog_validate) */
    json_t *advanced; /* owned: the advanced options the client gave (catalog_validate) */
    admission_input inputs[CATALOG_MAX_MEDIA_INPUTS];
    size_t input_count;
    admission_probed_fn probed; /* set by the caller before admission_probe */
    json_t *param_names; /* owned, may be NULL: the client's name of a unified field it gave under another
                            API's name ({"duration": "seconds"}); errors name the client's field */
};

/* Step 1: validates the parsed body (borrowed) against the catalog and checks its callback_url; fills
 * check->model, params and advanced. False after answering the request (422 as catalog_validate says,
 * 422 invalid_callback_url). */
bool admission_validate(admission_check *check, h2o_req_t *req, const json_t *body);

/* Step 2: true when an enabled channel can run the model with the given advanced options; false after
 * answering 503 no_available_channel (Retry-After: 30) or 422 unsupported_advanced_options. */
bool admission_route(admission_check *check, h2o_req_t *req);

/* Step 3: collects the body's media inputs and probes them on the offload pool (app->probe_input), then
 * calls check->probed(req, check) on this loop thread; without inputs or a probe, calls it at once.
 * False when the probe could not be queued: the request was answered (503 overloaded, or the pool's
 * own refusal) and check->probed is not called — the caller frees. */
bool admission_probe(admission_check *check, h2o_req_t *req);

/* Step 4: true with *quote filled when the probed inputs keep to the documented limits (kind, format,
 * readable length, maximum length) and the task is priced (credits 0 when the app has no price table);
 * false with err filled (the error to answer, naming the input) otherwise. */
bool admission_price(const admission_check *check, price_quote *quote, reelay_error *err);

/* Renames err->param (its part before any "[") to the client's name of that field, if param_names has
 * one ("duration" → "seconds", "image_urls[0]" → "input_reference"). */
void admission_name_param(const admission_check *check, reelay_error *err);

/* Frees what the check owns (params, advanced, input URLs, param_names); the struct itself is the
 * caller's. */
void admission_clear(admission_check *check);

#endif

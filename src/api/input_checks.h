/* input_checks.h — how the API learns what a task's media inputs are at submit time (for the limits of
 * the model pages and for pricing): engine/input_probe.h with a process-wide cache, and reelay's own
 * uploads resolved locally (engine/local_inputs.h). Blocking: called on the offload pool. */
#ifndef REELAY_API_INPUT_CHECKS_H
#define REELAY_API_INPUT_CHECKS_H

#include "engine/input_probe.h"
#include "engine/local_inputs.h"

typedef struct api_input_checks {
    fetch_policy policy;
    local_inputs local; /* local.public_url may be set once the server knows it */
    input_probe_cache *cache;
    input_probe_config config;
} api_input_checks;

/* 0, or -1 when out of memory. */
int api_input_checks_init(api_input_checks *checks, const fetch_policy *policy, const local_inputs *local);
void api_input_checks_done(api_input_checks *checks);

/* The error code (a 422 row of util/error.h's table) a probe failure is answered with: "input_unreachable",
 * "input_blocked", "input_too_large", "input_not_media", "input_timeout", "invalid_url"; "ok" for
 * INPUT_PROBE_OK. */
const char *api_input_probe_code(input_probe_kind kind);

/* api_app.probe_input over checks (the context): 0 with *info, or -1 with the API's code
 * (input_unreachable, input_blocked, input_too_large, input_not_media, input_timeout, invalid_url) and a
 * message without the URL. */
int api_input_probe(void *context, const char *url, media_info *info, char *code, size_t code_size,
                    char *message, size_t message_size);

#endif

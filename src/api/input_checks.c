/* input_checks.c — the probe behind api_app.probe_input: engine/input_probe.h (guarded range reads,
 * a cache by URL, reelay's own uploads read where they lie: a local file or the bucket), its failures named
 * as the API names them. */
#include <stdio.h>
#include <string.h>

#include "api/input_checks.h"

const char *api_input_probe_code(input_probe_kind kind)
{
    switch (kind) {
    case INPUT_PROBE_OK:
        return "ok";
    case INPUT_PROBE_INVALID_URL:
        return "invalid_url";
    case INPUT_PROBE_UNREACHABLE:
        return "input_unreachable";
    case INPUT_PROBE_BLOCKED:
        return "input_blocked";
    case INPUT_PROBE_TOO_LARGE:
        return "input_too_large";
    case INPUT_PROBE_NOT_MEDIA:
        return "input_not_media";
    case INPUT_PROBE_TIMEOUT:
        return "input_timeout";
    }
    return "input_unreachable";
}

static bool resolve_local(void *context, const char *url, char *path, size_t path_size)
{
    const api_input_checks *checks = context;
    return local_input_resolve(&checks->local, url, path, path_size);
}

static bool probe_own_object(void *context, const char *url, media_info *out, input_probe_error *err, int *rc)
{
    const api_input_checks *checks = context;
    return local_input_probe(&checks->local, url, out, err, rc);
}

int api_input_checks_init(api_input_checks *checks, const fetch_policy *policy, const local_inputs *local)
{
    memset(checks, 0, sizeof(*checks));
    checks->policy = *policy;
    checks->local = *local;
    checks->cache = input_probe_cache_create(0, 0, 0);
    if (checks->cache == NULL) return -1;
    checks->config = (input_probe_config){.policy = &checks->policy,
                                          .resolve_local = resolve_local,
                                          .probe_own_object = probe_own_object,
                                          .resolve_context = checks,
                                          .cache = checks->cache};
    return 0;
}

void api_input_checks_done(api_input_checks *checks)
{
    input_probe_cache_destroy(checks->cache);
    checks->cache = NULL;
}

int api_input_probe(void *context, const char *url, media_info *info, char *code, size_t code_size,
                    char *message, size_t message_size)
{
    api_input_checks *checks = context;
    input_probe_error err;
    if (input_probe(&checks->config, url, info, &err) == 0) return 0;
    snprintf(code, code_size, "%s", api_input_probe_code(err.kind));
    snprintf(message, message_size, "%s",
             err.message[0] ? err.message : "the input could not be read as media");
    return -1;
}

/* openai.c — placeholder until the adapter lands. */
#include <stddef.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"

static const char *const openai_models[] = {NULL};

const upstream_provider upstream_openai = {
    .name = "openai",
    .default_base_url = "https://api.openai.com/v1",
    .credential_form = "KEY",
    .models = openai_models,
};

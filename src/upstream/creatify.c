/* creatify.c — placeholder until the adapter lands. */
#include <stddef.h>

#include "upstream/upstream.h"
#include "upstream/upstream_providers.h"

static const char *const creatify_models[] = {NULL};

const upstream_provider upstream_creatify = {
    .name = "creatify",
    .default_base_url = "https://api.creatify.ai",
    .credential_form = "API_ID:API_KEY",
    .models = creatify_models,
};

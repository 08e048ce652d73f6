/* upstream_providers.h — the provider tables, one per file of this folder (internal to upstream/;
 * everyone else finds them with upstream_provider_find). */
#ifndef REELAY_UPSTREAM_PROVIDERS_H
#define REELAY_UPSTREAM_PROVIDERS_H

#include "upstream/upstream.h"

extern const upstream_provider upstream_sandbox;  /* upstream_common.c */
extern const upstream_provider upstream_fal;      /* fal.c */
extern const upstream_provider upstream_sync;     /* sync.c */
extern const upstream_provider upstream_kling;    /* kling.c */
extern const upstream_provider upstream_openai;   /* openai.c */
extern const upstream_provider upstream_creatify; /* creatify.c */

#endif

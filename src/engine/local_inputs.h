/* local_inputs.h — recognising this server's own file links among task inputs, so that an upload (or
 * a result) used as a model's *_url input is read from local storage instead of fetched over HTTP —
 * the guarded fetcher would refuse a loopback address anyway.
 *
 * A URL is local when it is exactly "<public_url>/v1/files/<object>?…expires=…&signature=…" (the
 * shape link_sign_url writes; the scheme in any letter case, parameters in any order, others
 * ignored), the signature is valid and
 * unexpired now (link_verify), the object name is valid (blob_name_is_valid) and the object exists
 * as a regular file. Anything else — another host, a tampered or expired link, a missing object — is
 * not local, and the caller treats the URL as any other (fetching it through the guard, which then
 * fails or succeeds on its own terms). Thread-safe: reads only; call from any thread. */
#ifndef REELAY_ENGINE_LOCAL_INPUTS_H
#define REELAY_ENGINE_LOCAL_INPUTS_H

#include <stdbool.h>
#include <stddef.h>

#include "blob/blob.h"
#include "blob/link.h"

typedef struct local_inputs {
    const char *public_url;    /* this server's base, no trailing slash; NULL or "" = nothing is local */
    const link_signer *signer; /* the link secret (blob/link.h); NULL = nothing is local */
    const blob_store *blobs;   /* where objects live; NULL = nothing is local */
} local_inputs;

/* True when url is a valid, unexpired link to an existing object of this server: writes the object's
 * local path into path (read it; never write or remove it). False otherwise (path is then ""). cfg may
 * be NULL (false). */
bool local_input_resolve(const local_inputs *cfg, const char *url, char *path, size_t path_size);

#endif

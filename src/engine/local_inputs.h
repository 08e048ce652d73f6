/* local_inputs.h — recognising this server's own file links among task inputs, so that an upload (or
 * a result) used as a model's *_url input is read from storage instead of fetched over HTTP — the
 * guarded fetcher would refuse a loopback address anyway.
 *
 * A URL is ours when it is exactly "<public_url>/v1/files/<object>?…expires=…&signature=…" (the
 * shape link_sign_url writes; the scheme in any letter case, parameters in any order, others
 * ignored), the signature is valid and unexpired now (link_verify), the object name is valid
 * (blob_name_is_valid) and the object exists (a regular file of local storage, or an object of the
 * bucket). Anything else — another host, a tampered or expired link, a missing object — is not ours,
 * and the caller treats the URL as any other (fetching it through the guard, which then fails or
 * succeeds on its own terms). Thread-safe: reads only; call from any thread (blocking: not a loop). */
#ifndef REELAY_ENGINE_LOCAL_INPUTS_H
#define REELAY_ENGINE_LOCAL_INPUTS_H

#include <stdbool.h>
#include <stddef.h>

#include "blob/blob.h"
#include "blob/link.h"
#include "engine/input_probe.h"

typedef struct local_inputs {
    const char *public_url;    /* this server's base, no trailing slash; NULL or "" = nothing is local */
    const link_signer *signer; /* the link secret (blob/link.h); NULL = nothing is local */
    blob_store *blobs;         /* where objects live; NULL = nothing is local */
} local_inputs;

/* Local storage only: true when url is one of our links to an existing file; writes the object's local
 * path into path (read it; never write or remove it). False otherwise, and always on S3 storage (path
 * is then ""). cfg may be NULL (false). */
bool local_input_resolve(const local_inputs *cfg, const char *url, char *path, size_t path_size);

typedef enum {
    LOCAL_INPUT_NOT_OURS = 0, /* not one of our links, or its object is missing: fetch it as any URL */
    LOCAL_INPUT_COPIED,       /* dst_path holds the object's bytes */
    LOCAL_INPUT_FAILED,       /* ours, but the storage could not give it (dst_path is absent) */
} local_input_status;

/* Either backend: when url is one of our links, puts a copy of its object at dst_path (a hard link
 * or a copy of a local file; blob_get_file from a bucket). cfg may be NULL (NOT_OURS). */
local_input_status local_input_copy(const local_inputs *cfg, const char *url, const char *dst_path);

/* S3 storage only: when url is one of our links to an existing object, probes the object where it
 * lies (media_probe_io over ranged reads, 256 KiB at a time) and returns true with *rc = 0 and *out
 * (size = the object's), or *rc = -1 and *err (INPUT_PROBE_NOT_MEDIA, or INPUT_PROBE_UNREACHABLE when
 * the bucket failed). False when it is not ours or storage is local (use local_input_resolve). */
bool local_input_probe(const local_inputs *cfg, const char *url, media_info *out, input_probe_error *err,
                       int *rc);

#endif

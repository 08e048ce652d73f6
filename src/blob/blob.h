/* blob.h — where reelay keeps result and upload files: a local folder (the default) or a bucket of
 * S3-compatible storage (blob_store_open_s3).
 *
 * Objects are named by relative paths of [A-Za-z0-9._-] segments separated by '/', such as
 * "results/task-unified-1757165031-uyujaw3d/output.mp4"; a name with "..", an empty segment, a
 * leading '/' or any other character is refused, so a name can never escape the folder or the
 * bucket's prefix.
 *
 * The contract both backends keep:
 *   - writing: blob_put_file moves a finished local file in; an object appears whole or not at all
 *     (a rename locally; a single PUT, or a multipart upload completed last, on S3), and the
 *     source file is gone on success;
 *   - reading: blob_head (size, modification time, ETag), blob_read (the whole object or a byte range,
 *     streamed to a callback, never held in memory whole) and blob_get_file (a local copy);
 *   - removing: blob_remove (one object, absent is fine) and blob_remove_prefix (a folder);
 *   - listing: blob_list visits every object under a folder, for expiry sweeps;
 *   - blob_local_path exists only for the local backend (files served by h2o's file handler, local
 *     inputs); on S3 it fails, and callers read through blob_head, blob_read and blob_get_file
 *     instead (api/file_download.c serves links, engine/local_inputs.c reads inputs).
 * The media type of an object is not stored: callers derive it from the name's extension, the same
 * way for both backends. Every function is thread-safe for distinct names (and for reads of one name);
 * failures are logged (never with credentials) and return BLOB_ERROR. */
#ifndef REELAY_BLOB_BLOB_H
#define REELAY_BLOB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store;

/* Opens the local store rooted at root_dir (created if missing). Returns 0, or -1 with errno set. */
int blob_store_open(const char *root_dir, blob_store **out);
void blob_store_close(blob_store *store);

/* True when name is a valid object name (see above). */
bool blob_name_is_valid(const char *name);

/* Moves the finished local file src_path into the store under name, atomically: locally a rename
 * within the same file system, else a copy to a temporary name, fsync, rename; on S3 a streamed PUT,
 * or a multipart upload for a file larger than the part size (never the whole file in memory), then
 * src_path is removed. Returns 0 or -1 (src_path is then kept). */
int blob_put_file(blob_store *store, const char *name, const char *src_path);

/* Writes the local path of object `name` into out. Returns 0, or -1 for an invalid name, a path that
 * does not fit, or a store that is not local (S3). Does not check that the object exists. */
int blob_local_path(const blob_store *store, const char *name, char *out, size_t out_size);

/* Removes every object whose name starts with prefix + "/" (a folder). Returns 0 or -1. */
int blob_remove_prefix(blob_store *store, const char *prefix);

/* ---- Objects on S3-compatible storage ---- */

/* Where a bucket is and how to sign for it. Strings are copied by blob_store_open_s3; the library never
 * reads the environment (src/cli/settings_table.c fills this in). */
typedef struct blob_s3_config {
    const char *url;           /* "s3://bucket" or "s3://bucket/prefix" (prefix: a valid object name) */
    const char *endpoint;      /* "http(s)://host[:port]"; NULL or "" = https://s3.<region>.amazonaws.com */
    const char *region;        /* NULL or "" = "us-east-1" */
    const char *access_key_id; /* required */
    const char *secret_access_key; /* required */
    bool path_style;               /* endpoint/bucket/key; else virtual host: bucket.endpoint-host/key */
    size_t part_size;              /* multipart part size, and objects larger use multipart; 0 = 8 MiB */
    long request_timeout_ms;       /* one request (one part); 0 = 300000 */
} blob_s3_config;

enum { BLOB_S3_DEFAULT_PART_SIZE = 8 << 20, BLOB_S3_MIN_PART_SIZE = 5 << 20 };

/* Opens a store on the bucket of config, with its scratch space (below) under the local folder
 * scratch_dir (created if missing). Checks at once that the bucket answers and accepts the credentials
 * (one listing of the prefix). Returns 0, or -1 with a message in err that names the endpoint and the
 * bucket, never the secret. Needs curl_global_init done by the program. */
int blob_store_open_s3(const blob_s3_config *config, const char *scratch_dir, blob_store **out, char *err,
                       size_t err_size);

/* True for the local-folder backend (blob_local_path works). */
bool blob_store_is_local(const blob_store *store);

/* ---- Reading, listing and removing objects (both backends) ---- */

enum { BLOB_OK = 0, BLOB_ERROR = -1, BLOB_NOT_FOUND = -2 };

typedef struct blob_object_info {
    uint64_t size;
    int64_t modified_unix; /* seconds; 0 when the backend did not say */
    char etag[80];         /* quoted as served ("" when none); changes when the object does */
} blob_object_info;

/* The object's size, modification time and ETag. Returns BLOB_OK, BLOB_NOT_FOUND or BLOB_ERROR. */
int blob_head(blob_store *store, const char *name, blob_object_info *out);

/* Receives the bytes of an object in order; returns 0 to go on, anything else to stop the read (which
 * then returns BLOB_ERROR). */
typedef int (*blob_sink)(void *context, const void *data, size_t size);

/* Streams bytes [offset, offset + length) of the object to sink; length 0 = up to the end. offset must
 * be below the object's size (or 0 for an empty object with length 0), and offset + length at most
 * the size: the caller clamps a client's Range with blob_head first. Returns BLOB_OK once exactly
 * those bytes were delivered, BLOB_NOT_FOUND, or BLOB_ERROR (a short or failed transfer included). */
int blob_read(blob_store *store, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
              void *context);

/* Copies the object into the local file dst_path (created or truncated, mode 0640). Returns BLOB_OK,
 * BLOB_NOT_FOUND or BLOB_ERROR (dst_path is then removed). */
int blob_get_file(blob_store *store, const char *name, const char *dst_path);

/* Removes one object; one that does not exist is not an error. Returns BLOB_OK or BLOB_ERROR. */
int blob_remove(blob_store *store, const char *name);

/* Called for each object of a listing, with its full name; info has size and modified_unix (etag may
 * be ""). Returns 0 to go on, anything else to stop (blob_list then returns that value). */
typedef int (*blob_visitor)(void *context, const char *name, const blob_object_info *info);

/* Visits every object whose name starts with prefix + "/" (prefix NULL or "" = every object; the
 * scratch area is never listed), in no promised order. Returns BLOB_OK, the visitor's non-zero
 * value, or BLOB_ERROR. Objects added or removed meanwhile may or may not be visited. */
int blob_list(blob_store *store, const char *prefix, blob_visitor visit, void *context);

/* ---- Scratch space ----
 *
 * Work in progress (uploads being written, renders, h2o's spilled request bodies) lives under
 * <root>/.scratch (an S3 store: <scratch_dir>/.scratch), inside the store's file system so finished
 * files are renamed into place. Each
 * process that uses it gets its own folder <root>/.scratch/<pid>-<random>/, next to a lock file
 * <pid>-<random>.lock that it holds (flock) for as long as it lives: a folder whose lock can be taken
 * belongs to a dead process (a kill -9, a crash) and is removed by the next sweep, while a live
 * process's folder is never touched by another. The folder is claimed on first use and removed by
 * blob_store_close. */

enum { BLOB_SCRATCH_MAX_AGE_SECONDS = 3600 }; /* longer than any legitimate job */

/* A scratch folder (inside this process's own). Writes its path into out; the caller removes it with
 * blob_scratch_remove. Returns 0 or -1. Thread-safe. */
int blob_scratch_create(blob_store *store, char *out, size_t out_size);
void blob_scratch_remove(const char *scratch_path);

/* This process's scratch folder itself (claimed now if not yet), e.g. for h2o's spill files. Returns
 * 0 or -1. Thread-safe. */
int blob_scratch_process_dir(blob_store *store, char *out, size_t out_size);

/* Removes what no live process holds: the folders (and lock files) of dead processes, at once; any
 * other entry of <root>/.scratch without a lock (older layouts, strays) and this process's own
 * scratch folders once older than max_age_seconds. Never touches a live process's folder. Returns
 * the number of entries removed, or -1 when the scratch area cannot be read. */
int blob_scratch_sweep(blob_store *store, int64_t max_age_seconds);

#endif

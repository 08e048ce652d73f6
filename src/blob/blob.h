/* blob.h — where reelay keeps result files: a local folder today, S3-compatible storage later.
 *
 * Objects are named by relative paths of [A-Za-z0-9._-] segments separated by '/', such as
 * "results/task-unified-1757165031-uyujaw3d/output.mp4"; a name with "..", an empty segment, a
 * leading '/' or any other character is refused, so a name can never escape the folder. */
#ifndef REELAY_BLOB_BLOB_H
#define REELAY_BLOB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store;

/* Opens the store rooted at root_dir (created if missing). Returns 0, or -1 with errno set. */
int blob_store_open(const char *root_dir, blob_store **out);
void blob_store_close(blob_store *store);

/* True when name is a valid object name (see above). */
bool blob_name_is_valid(const char *name);

/* Moves the finished local file src_path into the store under name, atomically (rename within the
 * same file system, else copy to a temporary name, fsync, rename). Returns 0 or -1. */
int blob_put_file(blob_store *store, const char *name, const char *src_path);

/* Writes the local path of object `name` into out. Returns 0, or -1 for an invalid name or a path
 * that does not fit. Does not check that the object exists. */
int blob_local_path(const blob_store *store, const char *name, char *out, size_t out_size);

/* Removes every object whose name starts with prefix + "/" (a folder). Returns 0 or -1. */
int blob_remove_prefix(blob_store *store, const char *prefix);

/* ---- Scratch space ----
 *
 * Work in progress (uploads being written, renders, h2o's spilled request bodies) lives under
 * <root>/.scratch, inside the store's file system so finished files are renamed into place. Each
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

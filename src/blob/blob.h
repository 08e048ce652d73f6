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

/* A scratch folder inside the store's file system (so finished files can be renamed into place).
 * Writes its path into out; the caller removes it with blob_scratch_remove. Returns 0 or -1. */
int blob_scratch_create(blob_store *store, char *out, size_t out_size);
void blob_scratch_remove(const char *scratch_path);

#endif

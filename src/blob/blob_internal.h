/* blob_internal.h — what the files of src/blob/ share and nothing outside uses: the store itself (a local
 * folder, or a bucket with a local scratch folder) and the S3 backend's functions behind blob.h. */
#ifndef REELAY_BLOB_BLOB_INTERNAL_H
#define REELAY_BLOB_BLOB_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"

typedef struct blob_s3 blob_s3;

struct blob_store {
    char root[PATH_MAX];           /* the objects' folder (local), or only the scratch area's parent (S3) */
    blob_s3 *s3;                   /* NULL = local */
    pthread_mutex_t scratch_mutex; /* guards the claim below */
    char process_name[48];         /* "<pid>-<random>", "" until claimed */
    char process_dir[PATH_MAX];    /* <root>/.scratch/<process_name> */
    int lock_fd;                   /* holds <process_dir>.lock's flock; -1 until claimed */
};

/* The local backend's object functions (blob_local_objects.c), as blob.h describes them. */
int blob_local_head(blob_store *store, const char *name, blob_object_info *out);
int blob_local_read(blob_store *store, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
                    void *context);
int blob_local_remove(blob_store *store, const char *name);
int blob_local_list(blob_store *store, const char *prefix, blob_visitor visit, void *context);

/* ---- The S3 backend (blob_s3*.c) ----
 * Object names are keys below the bucket's prefix; every function returns as blob.h says. */

/* Checks config, parses the endpoint and lists the prefix once. Returns 0, or -1 with err filled. */
int blob_s3_open(const blob_s3_config *config, blob_s3 **out, char *err, size_t err_size);
void blob_s3_close(blob_s3 *s3);
int blob_s3_put_file(blob_s3 *s3, const char *name, const char *src_path);
int blob_s3_head(blob_s3 *s3, const char *name, blob_object_info *out);
int blob_s3_read(blob_s3 *s3, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
                 void *context);
int blob_s3_remove(blob_s3 *s3, const char *name);
int blob_s3_list(blob_s3 *s3, const char *prefix, blob_visitor visit, void *context);

#endif

/* blob_objects.c — reading, listing and removing objects (blob.h), for both backends: each public function
 * hands an S3 store to blob_s3*.c and does the local folder's work here. */
#include "blob/blob_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int blob_local_head(blob_store *store, const char *name, blob_object_info *out)
{
    char path[PATH_MAX];
    struct stat st;
    if (blob_local_path(store, name, path, sizeof(path)) != 0) return BLOB_ERROR;
    if (stat(path, &st) != 0) return errno == ENOENT || errno == ENOTDIR ? BLOB_NOT_FOUND : BLOB_ERROR;
    if (!S_ISREG(st.st_mode)) return BLOB_NOT_FOUND;
    *out = (blob_object_info){.size = (uint64_t)st.st_size, .modified_unix = (int64_t)st.st_mtime};
    snprintf(out->etag, sizeof(out->etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
    return BLOB_OK;
}

int blob_local_read(blob_store *store, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
                    void *context)
{
    char path[PATH_MAX];
    if (blob_local_path(store, name, path, sizeof(path)) != 0) return BLOB_ERROR;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? BLOB_NOT_FOUND : BLOB_ERROR;
    struct stat st;
    int result = BLOB_ERROR;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && offset <= (uint64_t)st.st_size &&
        (offset < (uint64_t)st.st_size || length == 0)) {
        uint64_t left = length ? length : (uint64_t)st.st_size - offset;
        if (left <= (uint64_t)st.st_size - offset) result = BLOB_OK;
        char buffer[1 << 16];
        while (result == BLOB_OK && left > 0) {
            ssize_t got =
                pread(fd, buffer, left < sizeof(buffer) ? (size_t)left : sizeof(buffer), (off_t)offset);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0 || sink(context, buffer, (size_t)got) != 0) result = BLOB_ERROR;
            offset += (uint64_t)(got > 0 ? got : 0), left -= (uint64_t)(got > 0 ? got : 0);
        }
    }
    close(fd);
    return result;
}

int blob_local_remove(blob_store *store, const char *name)
{
    char path[PATH_MAX];
    if (blob_local_path(store, name, path, sizeof(path)) != 0) return BLOB_ERROR;
    return unlink(path) == 0 || errno == ENOENT || errno == ENOTDIR ? BLOB_OK : BLOB_ERROR;
}

/* Visits the regular files under folder (the object name `name`), depth first. */
static int list_folder(const char *folder, const char *name, blob_visitor visit, void *context, int depth)
{
    DIR *dir = opendir(folder);
    if (dir == NULL) return errno == ENOENT || errno == ENOTDIR ? BLOB_OK : BLOB_ERROR;
    int result = BLOB_OK;
    struct dirent *entry;
    while (result == BLOB_OK && (entry = readdir(dir)) != NULL) {
        char path[PATH_MAX], child[PATH_MAX];
        struct stat st;
        if (entry->d_name[0] == '.' &&
            (name[0] == '\0' || strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0))
            continue; /* ".", "..", and at the top the scratch area and other hidden entries */
        if (snprintf(path, sizeof(path), "%s/%s", folder, entry->d_name) >= (int)sizeof(path) ||
            snprintf(child, sizeof(child), "%s%s%s", name, name[0] ? "/" : "", entry->d_name) >=
                (int)sizeof(child) ||
            lstat(path, &st) != 0 || !blob_name_is_valid(child))
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32)
            result = list_folder(path, child, visit, context, depth + 1);
        else if (S_ISREG(st.st_mode))
            result = visit(
                context, child,
                &(blob_object_info){.size = (uint64_t)st.st_size, .modified_unix = (int64_t)st.st_mtime});
    }
    closedir(dir);
    return result;
}

int blob_local_list(blob_store *store, const char *prefix, blob_visitor visit, void *context)
{
    bool all = prefix == NULL || prefix[0] == '\0';
    char folder[PATH_MAX];
    if (all) {
        if (snprintf(folder, sizeof(folder), "%s", store->root) >= (int)sizeof(folder)) return BLOB_ERROR;
    } else if (blob_local_path(store, prefix, folder, sizeof(folder)) != 0) {
        return BLOB_ERROR;
    }
    return list_folder(folder, all ? "" : prefix, visit, context, 0);
}

/* ---- blob.h's functions: S3 or local ---- */

int blob_head(blob_store *store, const char *name, blob_object_info *out)
{
    return store->s3 ? blob_s3_head(store->s3, name, out) : blob_local_head(store, name, out);
}

int blob_read(blob_store *store, const char *name, uint64_t offset, uint64_t length, blob_sink sink,
              void *context)
{
    return store->s3 ? blob_s3_read(store->s3, name, offset, length, sink, context)
                     : blob_local_read(store, name, offset, length, sink, context);
}

int blob_remove(blob_store *store, const char *name)
{
    return store->s3 ? blob_s3_remove(store->s3, name) : blob_local_remove(store, name);
}

int blob_list(blob_store *store, const char *prefix, blob_visitor visit, void *context)
{
    return store->s3 ? blob_s3_list(store->s3, prefix, visit, context)
                     : blob_local_list(store, prefix, visit, context);
}

static int write_to_fd(void *context, const void *data, size_t size)
{
    int fd = *(int *)context;
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, (const char *)data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

int blob_get_file(blob_store *store, const char *name, const char *dst_path)
{
    if (!blob_name_is_valid(name)) return BLOB_ERROR;
    int fd = open(dst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return BLOB_ERROR;
    int result = blob_read(store, name, 0, 0, write_to_fd, &fd);
    if (close(fd) != 0 && result == BLOB_OK) result = BLOB_ERROR;
    if (result != BLOB_OK) unlink(dst_path);
    return result;
}

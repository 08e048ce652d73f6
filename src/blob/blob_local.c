/* blob_local.c — the local-folder implementation of blob.h: objects are files under one root, and
 * scratch folders live under <root>/.scratch so that finished renders are renamed into place. */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ids.h"
#include "util/log.h"

struct blob_store {
    char root[PATH_MAX];
};

static int make_directories(const char *path)
{
    char buffer[PATH_MAX];
    if (snprintf(buffer, sizeof(buffer), "%s", path) >= (int)sizeof(buffer)) return -1;
    for (char *p = buffer + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buffer, 0750) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buffer, 0750) != 0 && errno != EEXIST) return -1;
    return 0;
}

int blob_store_open(const char *root_dir, blob_store **out)
{
    blob_store *store = calloc(1, sizeof(*store));
    if (store == NULL) return -1;
    if (snprintf(store->root, sizeof(store->root), "%s", root_dir) >= (int)sizeof(store->root) ||
        make_directories(store->root) != 0) {
        free(store);
        return -1;
    }
    *out = store;
    return 0;
}

void blob_store_close(blob_store *store)
{
    free(store);
}

bool blob_name_is_valid(const char *name)
{
    size_t segment_length = 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > 512) return false;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            /* no empty segment, no "." or ".." segment */
            if (segment_length == 0) return false;
            if (segment_length <= 2 && p[-1] == '.' && (segment_length == 1 || p[-2] == '.')) return false;
            if (*p == '\0') return true;
            segment_length = 0;
            continue;
        }
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok) return false;
        segment_length++;
    }
}

int blob_local_path(const blob_store *store, const char *name, char *out, size_t out_size)
{
    if (!blob_name_is_valid(name)) return -1;
    int n = snprintf(out, out_size, "%s/%s", store->root, name);
    return (n < 0 || (size_t)n >= out_size) ? -1 : 0;
}

static int copy_file_durably(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int outfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (outfd < 0) {
        close(in);
        return -1;
    }
    char buffer[1 << 16];
    int result = 0;
    for (;;) {
        ssize_t n = read(in, buffer, sizeof(buffer));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            result = -1;
            break;
        }
        for (ssize_t written = 0; written < n;) {
            ssize_t w = write(outfd, buffer + written, (size_t)(n - written));
            if (w < 0) {
                if (errno == EINTR) continue;
                result = -1;
                break;
            }
            written += w;
        }
        if (result != 0) break;
    }
    if (result == 0 && fsync(outfd) != 0) result = -1;
    close(in);
    if (close(outfd) != 0) result = -1;
    return result;
}

int blob_put_file(blob_store *store, const char *name, const char *src_path)
{
    char path[PATH_MAX];
    if (blob_local_path(store, name, path, sizeof(path)) != 0) return -1;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int made = make_directories(path);
    *slash = '/';
    if (made != 0) return -1;
    if (rename(src_path, path) == 0) return 0;
    if (errno != EXDEV) return -1;
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof(temporary), "%s.partial", path) >= (int)sizeof(temporary)) return -1;
    if (copy_file_durably(src_path, temporary) != 0 || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    unlink(src_path);
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        log_warn("could not remove", "path=\"%s\" errno=%d", path, errno);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int blob_remove_prefix(blob_store *store, const char *prefix)
{
    char path[PATH_MAX];
    if (blob_local_path(store, prefix, path, sizeof(path)) != 0) return -1;
    remove_tree(path);
    return 0;
}

int blob_scratch_create(blob_store *store, char *out, size_t out_size)
{
    char scratch_root[PATH_MAX];
    if (snprintf(scratch_root, sizeof(scratch_root), "%s/.scratch", store->root) >=
            (int)sizeof(scratch_root) ||
        make_directories(scratch_root) != 0)
        return -1;
    char suffix[24];
    ids_random_alnum(suffix, sizeof(suffix), "", 16);
    int n = snprintf(out, out_size, "%s/%s", scratch_root, suffix);
    if (n < 0 || (size_t)n >= out_size) return -1;
    return mkdir(out, 0700) == 0 ? 0 : -1;
}

void blob_scratch_remove(const char *scratch_path)
{
    if (scratch_path != NULL && scratch_path[0] != '\0') remove_tree(scratch_path);
}

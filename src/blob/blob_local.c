/* blob_local.c — the store itself: the local-folder backend of blob.h (objects are files under one root)
 * with puts and folder removals handed to the S3 backend when the store is a bucket; and the scratch
 * area of both: folders under <root>/.scratch so that finished renders are renamed into place, one per
 * process guarded by a lock file (flock) so that a sweep tells dead processes' from live. */
#include "blob/blob_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/ids.h"
#include "util/log.h"

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
    pthread_mutex_init(&store->scratch_mutex, NULL);
    store->lock_fd = -1;
    *out = store;
    return 0;
}

int blob_store_open_s3(const blob_s3_config *config, const char *scratch_dir, blob_store **out, char *err,
                       size_t err_size)
{
    blob_s3 *s3 = NULL;
    if (blob_s3_open(config, &s3, err, err_size) != 0) return -1;
    if (blob_store_open(scratch_dir, out) != 0) {
        snprintf(err, err_size, "could not create the scratch folder %s", scratch_dir);
        blob_s3_close(s3);
        return -1;
    }
    (*out)->s3 = s3;
    return 0;
}

bool blob_store_is_local(const blob_store *store)
{
    return store->s3 == NULL;
}

static void remove_tree(const char *path);

void blob_store_close(blob_store *store)
{
    if (store == NULL) return;
    if (store->lock_fd >= 0) { /* our scratch goes; the lock file last, while still held */
        remove_tree(store->process_dir);
        char lock_path[PATH_MAX + 8];
        snprintf(lock_path, sizeof(lock_path), "%s.lock", store->process_dir);
        unlink(lock_path);
        close(store->lock_fd);
    }
    pthread_mutex_destroy(&store->scratch_mutex);
    blob_s3_close(store->s3);
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
    if (store->s3 != NULL || !blob_name_is_valid(name)) return -1;
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
    if (store->s3 != NULL) return blob_s3_put_file(store->s3, name, src_path);
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

static int remove_listed(void *context, const char *name, const blob_object_info *info)
{
    (void)info;
    return blob_s3_remove(context, name) == BLOB_OK ? 0 : BLOB_ERROR;
}

int blob_remove_prefix(blob_store *store, const char *prefix)
{
    if (store->s3 != NULL) /* listed, then deleted one by one (no Content-MD5 needed, as DeleteObjects has) */
        return blob_name_is_valid(prefix) && blob_s3_list(store->s3, prefix, remove_listed, store->s3) == 0
                   ? 0
                   : -1;
    char path[PATH_MAX];
    if (blob_local_path(store, prefix, path, sizeof(path)) != 0) return -1;
    remove_tree(path);
    return 0;
}

static int scratch_root(const blob_store *store, char *out, size_t out_size)
{
    int n = snprintf(out, out_size, "%s/.scratch", store->root);
    return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

/* Takes a new process folder: the lock file first (created, locked, and checked to still be the file
 * at that name — a sweep may have taken and unlinked it between our open and our flock), then the
 * folder, so a folder never exists without its held lock. Called under scratch_mutex. */
static int scratch_claim(blob_store *store)
{
    char root[PATH_MAX];
    if (scratch_root(store, root, sizeof(root)) != 0 || make_directories(root) != 0) return -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        char random[16], lock_path[PATH_MAX + 8];
        ids_random_alnum(random, sizeof(random), "", 8);
        snprintf(store->process_name, sizeof(store->process_name), "%ld-%s", (long)getpid(), random);
        if (snprintf(store->process_dir, sizeof(store->process_dir), "%s/%s", root, store->process_name) >=
            (int)sizeof(store->process_dir))
            return -1;
        snprintf(lock_path, sizeof(lock_path), "%s.lock", store->process_dir);
        int fd = open(lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return -1;
        }
        struct stat held, named;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &held) != 0 || stat(lock_path, &named) != 0 ||
            held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
            close(fd);
            continue;
        }
        if (mkdir(store->process_dir, 0700) != 0) {
            unlink(lock_path);
            close(fd);
            return -1;
        }
        store->lock_fd = fd;
        return 0;
    }
    return -1;
}

int blob_scratch_process_dir(blob_store *store, char *out, size_t out_size)
{
    pthread_mutex_lock(&store->scratch_mutex);
    int result = store->lock_fd >= 0 ? 0 : scratch_claim(store);
    if (result == 0 && snprintf(out, out_size, "%s", store->process_dir) >= (int)out_size) result = -1;
    pthread_mutex_unlock(&store->scratch_mutex);
    return result;
}

int blob_scratch_create(blob_store *store, char *out, size_t out_size)
{
    char process_dir[PATH_MAX];
    if (blob_scratch_process_dir(store, process_dir, sizeof(process_dir)) != 0) return -1;
    char suffix[24];
    ids_random_alnum(suffix, sizeof(suffix), "", 16);
    int n = snprintf(out, out_size, "%s/%s", process_dir, suffix);
    if (n < 0 || (size_t)n >= out_size) return -1;
    return mkdir(out, 0700) == 0 ? 0 : -1;
}

static bool older_than(const struct stat *st, int64_t max_age_seconds)
{
    return (int64_t)time(NULL) - (int64_t)st->st_mtime > max_age_seconds;
}

/* name.lock of a dead process: its folder goes, then the lock file (still held, so nobody reuses it
 * meanwhile). Returns 1 when removed, 0 when its owner lives. */
static int sweep_lock(const char *root, const char *name)
{
    char lock_path[PATH_MAX], dir[PATH_MAX];
    if (snprintf(lock_path, sizeof(lock_path), "%s/%s", root, name) >= (int)sizeof(lock_path)) return 0;
    snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(lock_path) - 5), lock_path);
    int fd = open(lock_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* held: its process is alive */
        close(fd);
        return 0;
    }
    remove_tree(dir);
    unlink(lock_path);
    close(fd);
    log_info("scratch of a dead process removed", "path=\"%s\"", dir);
    return 1;
}

int blob_scratch_sweep(blob_store *store, int64_t max_age_seconds)
{
    char root[PATH_MAX];
    if (scratch_root(store, root, sizeof(root)) != 0) return -1;
    DIR *folder = opendir(root);
    if (folder == NULL) return errno == ENOENT ? 0 : -1;
    pthread_mutex_lock(&store->scratch_mutex);
    char own[sizeof(store->process_name)];
    snprintf(own, sizeof(own), "%s", store->lock_fd >= 0 ? store->process_name : "");
    pthread_mutex_unlock(&store->scratch_mutex);
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        size_t length = strlen(name);
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", root, name) >= (int)sizeof(path)) continue;
        if (length > 5 && strcmp(name + length - 5, ".lock") == 0) {
            if (!(own[0] && strncmp(name, own, length - 5) == 0 && own[length - 5] == '\0'))
                removed += sweep_lock(root, name);
            continue;
        }
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (own[0] && strcmp(name, own) == 0) { /* our own folder: only what outlived any job */
            DIR *mine = opendir(path);
            struct dirent *job;
            while (mine && (job = readdir(mine)) != NULL) {
                char job_path[PATH_MAX];
                struct stat job_st;
                if (strcmp(job->d_name, ".") == 0 || strcmp(job->d_name, "..") == 0 ||
                    snprintf(job_path, sizeof(job_path), "%s/%s", path, job->d_name) >=
                        (int)sizeof(job_path) ||
                    lstat(job_path, &job_st) != 0 || !older_than(&job_st, max_age_seconds))
                    continue;
                remove_tree(job_path);
                removed++;
            }
            if (mine) closedir(mine);
            continue;
        }
        char lock_path[PATH_MAX + 8];
        snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
        if (access(lock_path, F_OK) == 0) continue; /* a process folder: its lock file decides */
        /* no lock: an older layout's entry or a stray; removed once surely finished */
        if (!older_than(&st, max_age_seconds)) continue;
        remove_tree(path);
        removed++;
    }
    closedir(folder);
    return removed;
}

void blob_scratch_remove(const char *scratch_path)
{
    if (scratch_path != NULL && scratch_path[0] != '\0') remove_tree(scratch_path);
}

/* secret_file.c — load-or-create of random secrets in the data folder (see secret_file.h). */
#include "util/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

int secret_file_load(const char *data_dir, const char *name, unsigned char *out, size_t size)
{
    char path[PATH_MAX], draft[PATH_MAX];
    if (size > 256 || snprintf(path, sizeof(path), "%s/%s", data_dir, name) >= (int)sizeof(path) ||
        snprintf(draft, sizeof(draft), "%s/.%s.%ld", data_dir, name, (long)getpid()) >= (int)sizeof(draft))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        /* Written in full under a private name, then linked into place: link() fails when the name
         * exists, so of two processes creating it at once one wins, and nobody reads a partial file. */
        unsigned char fresh[256];
        randombytes_buf(fresh, size);
        int draft_fd = open(draft, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (draft_fd < 0) return -1;
        ssize_t written = write(draft_fd, fresh, size);
        int synced = fsync(draft_fd);
        close(draft_fd);
        sodium_memzero(fresh, sizeof(fresh));
        int linked = written == (ssize_t)size && synced == 0 ? link(draft, path) : -1;
        int link_errno = errno;
        unlink(draft);
        if (linked != 0 && link_errno != EEXIST) return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return -1;
    ssize_t n = read(fd, out, size);
    close(fd);
    return n == (ssize_t)size ? 0 : -1;
}

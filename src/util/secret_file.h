/* secret_file.h — random secrets kept in files of the data folder (mode 0600), made on first use.
 * Two processes racing to create the same file end up with the same secret. */
#ifndef REELAY_UTIL_SECRET_FILE_H
#define REELAY_UTIL_SECRET_FILE_H

#include <stddef.h>

/* Reads exactly `size` bytes from <data_dir>/<name> into out, creating the file with random bytes
 * when it does not exist. Returns 0, or -1 (missing folder, unreadable or short file). */
int secret_file_load(const char *data_dir, const char *name, unsigned char *out, size_t size);

#endif

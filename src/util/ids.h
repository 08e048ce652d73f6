/* ids.h — identifiers and random tokens, all drawn from libsodium's CSPRNG.
 *
 * Call sodium_init() (done by main) before any of these. */
#ifndef REELAY_UTIL_IDS_H
#define REELAY_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_TASK_ID_SIZE 40 /* "task-unified-" + 10+ digits + "-" + 8 + NUL fits */

/* Writes "task-unified-<created>-<8 chars of [a-z0-9]>" into out. */
void ids_task_new(char out[IDS_TASK_ID_SIZE], int64_t created);

/* True when id has the task id shape (used to answer 404 early for anything else). */
bool ids_task_is_valid(const char *id);

/* Writes prefix followed by `random_chars` characters of [a-z0-9] (NUL-terminated) into out;
 * out_size must be at least strlen(prefix) + random_chars + 1. */
void ids_random_alnum(char *out, size_t out_size, const char *prefix, size_t random_chars);

/* Writes prefix followed by the URL-safe base64 (no padding) of `random_bytes` random bytes. */
void ids_random_token(char *out, size_t out_size, const char *prefix, size_t random_bytes);

/* True when text is a name: 1 to maximum characters of [A-Za-z0-9_-] (channels, groups, providers). */
bool ids_is_plain_name(const char *text, size_t maximum);

#endif

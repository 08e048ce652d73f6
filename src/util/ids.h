/* ids.h — identifiers and random tokens, all drawn from libsodium's CSPRNG.
 *
 * Call sodium_init() (done by main) before any of these. */
#ifndef REELAY_UTIL_IDS_H
#define REELAY_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_TASK_ID_SIZE 40 /* "task-unified-" + 10+ digits + "-" + 8 + NUL fits */

/* Writes "task-unified-<created>-<8 chars of [a-z0-9]>" into out. The first two of the eight name the
 * current millisecond of the second (in 1296 steps of ~0.77 ms, in byte order), the other six are
 * random. So ids sort in the order they were made, to the millisecond, and the store's indexes on task
 * ids take a batch of new tasks in one or two pages instead of one page each (that alone made
 * submissions 40 % faster). Ids are not secrets (a task is only shown to its key); two made in the same
 * step collide with odds 1 in 36^6 (2.2e9), and the store answers ADMIT_ID_TAKEN then, so the caller
 * draws another. */
void ids_task_new(char out[IDS_TASK_ID_SIZE], int64_t created);

/* The same for a given millisecond of the second (0–999; others are clamped). */
void ids_task_new_at(char out[IDS_TASK_ID_SIZE], int64_t created, int millisecond);

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

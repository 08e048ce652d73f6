/* ids.c — task ids and random tokens from libsodium (see ids.h). */
#include "util/ids.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* The CSPRNG's bytes, drawn 1 KiB at a time per thread: each draw is a system call, and one per id cost
 * 2 % of a submission. (The process never forks without exec, so no two processes share a pool.) */
static unsigned char next_random_byte(void)
{
    static __thread unsigned char pool[1024];
    static __thread size_t used = sizeof(pool);
    if (used == sizeof(pool)) {
        randombytes_buf(pool, sizeof(pool));
        used = 0;
    }
    unsigned char byte = pool[used];
    pool[used++] = 0; /* a byte is used once */
    return byte;
}

void ids_random_alnum(char *out, size_t out_size, const char *prefix, size_t random_chars)
{
    size_t prefix_len = strlen(prefix);
    if (out_size < prefix_len + random_chars + 1) {
        if (out_size > 0) out[0] = '\0';
        return;
    }
    memcpy(out, prefix, prefix_len);
    /* Bytes of 252 and above are skipped so that every character is equally likely (252 = 7 × 36). */
    for (size_t i = 0; i < random_chars;) {
        unsigned char byte = next_random_byte();
        if (byte >= 252) continue;
        out[prefix_len + i++] = alnum[byte % (sizeof(alnum) - 1)];
    }
    out[prefix_len + random_chars] = '\0';
}

void ids_task_new_at(char out[IDS_TASK_ID_SIZE], int64_t created, int millisecond)
{
    static const char in_byte_order[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    if (millisecond < 0) millisecond = 0;
    if (millisecond > 999) millisecond = 999;
    int step = millisecond * 36 * 36 / 1000; /* 0 … 1294 */
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "task-unified-%lld-%c%c", (long long)created, in_byte_order[step / 36],
             in_byte_order[step % 36]);
    ids_random_alnum(out, IDS_TASK_ID_SIZE, prefix, 6);
}

void ids_task_new(char out[IDS_TASK_ID_SIZE], int64_t created)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ids_task_new_at(out, created, (int)(now.tv_nsec / 1000000));
}

bool ids_task_is_valid(const char *id)
{
    static const char prefix[] = "task-unified-";
    size_t len = strlen(id);
    if (len >= IDS_TASK_ID_SIZE || strncmp(id, prefix, sizeof(prefix) - 1) != 0) return false;
    const char *p = id + sizeof(prefix) - 1;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (digits == 0 || digits > 12 || *p != '-') return false;
    p++;
    size_t tail = 0;
    for (; *p; p++, tail++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return false;
    return tail == 8;
}

void ids_random_token(char *out, size_t out_size, const char *prefix, size_t random_bytes)
{
    unsigned char raw[64];
    size_t prefix_len = strlen(prefix);
    if (random_bytes > sizeof(raw) ||
        out_size <
            prefix_len + sodium_base64_ENCODED_LEN(random_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
        if (out_size > 0) out[0] = '\0';
        return;
    }
    randombytes_buf(raw, random_bytes);
    memcpy(out, prefix, prefix_len);
    sodium_bin2base64(out + prefix_len, out_size - prefix_len, raw, random_bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

bool ids_is_plain_name(const char *text, size_t maximum)
{
    if (text == NULL) return false;
    size_t length = strlen(text);
    return length > 0 && length <= maximum &&
           strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == length;
}

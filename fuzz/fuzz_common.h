/* fuzz_common.h — what every harness of fuzz/ shares: a check that stops the run with a message even
 * in builds without assert(), and helpers that cut one fuzz input into NUL-terminated fields. Harnesses
 * are single files; nothing here allocates behind the caller's back. */
#ifndef REELAY_FUZZ_COMMON_H
#define REELAY_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant of the code under test: when it does not hold, libFuzzer records the input as a crash. */
#define FUZZ_CHECK(condition)                                                                                \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition);                \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* A cursor over the input. Fields are separated by a separator byte; the last field is the rest. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
} fuzz_input;

/* The next byte (0 once the input is used up). */
static inline uint8_t fuzz_take_byte(fuzz_input *in)
{
    if (in->size == 0) return 0;
    uint8_t value = in->data[0];
    in->data++, in->size--;
    return value;
}

/* A malloc'd NUL-terminated copy of the bytes up to the next `separator` (consumed) or the end of the
 * input. NUL bytes inside stay (C string functions then see a shorter text); *length (may be NULL) is
 * the field's full length. Never NULL: the process stops on allocation failure. */
static inline char *fuzz_take_field(fuzz_input *in, uint8_t separator, size_t *length)
{
    const uint8_t *end = memchr(in->data, separator, in->size);
    size_t field = end != NULL ? (size_t)(end - in->data) : in->size;
    char *copy = malloc(field + 1);
    if (copy == NULL) abort();
    if (field > 0) memcpy(copy, in->data, field);
    copy[field] = '\0';
    if (length) *length = field;
    size_t used = end != NULL ? field + 1 : field;
    in->data += used, in->size -= used;
    return copy;
}

/* The rest of the input as a malloc'd NUL-terminated copy (see fuzz_take_field). */
static inline char *fuzz_take_rest(fuzz_input *in, size_t *length)
{
    char *copy = malloc(in->size + 1);
    if (copy == NULL) abort();
    if (in->size > 0) memcpy(copy, in->data, in->size);
    copy[in->size] = '\0';
    if (length) *length = in->size;
    in->data += in->size, in->size = 0;
    return copy;
}

/* True when text[0..length) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF): what jansson needs to put a C string into JSON. */
static inline bool fuzz_utf8_valid(const char *text, size_t length)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + length;
    while (p < end) {
        unsigned c = *p++;
        if (c < 0x80) continue;
        size_t more;
        unsigned minimum, value;
        if (c >= 0xC2 && c <= 0xDF)
            more = 1, minimum = 0x80, value = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, minimum = 0x800, value = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, minimum = 0x10000, value = c & 0x07;
        else
            return false;
        if ((size_t)(end - p) < more) return false;
        for (size_t i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return false;
            value = (value << 6) | (*p & 0x3F);
        }
        if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
    }
    return true;
}

/* True when a char array of `size` bytes holds a terminated string (as every fixed buffer must). */
static inline bool fuzz_terminated(const char *buffer, size_t size)
{
    return memchr(buffer, '\0', size) != NULL;
}

#endif

/* json_text.c — appending escaped JSON to a growing buffer (see json_text.h). */
#include "util/json_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(json_text *text, size_t more)
{
    if (text->failed) return false;
    if (text->length + more + 1 <= text->capacity) return true;
    size_t capacity = text->capacity ? text->capacity : 512;
    while (capacity < text->length + more + 1) capacity *= 2;
    char *grown = realloc(text->data, capacity);
    if (grown == NULL) {
        text->failed = true;
        return false;
    }
    text->data = grown;
    text->capacity = capacity;
    return true;
}

static void append(json_text *text, const char *bytes, size_t length)
{
    if (!reserve(text, length)) return;
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
}

void json_text_free(json_text *text)
{
    free(text->data);
    text->data = NULL;
    text->length = text->capacity = 0;
}

void json_text_raw(json_text *text, const char *raw)
{
    append(text, raw, strlen(raw));
}

void json_text_string(json_text *text, const char *value)
{
    if (value == NULL) {
        append(text, "null", 4);
        return;
    }
    append(text, "\"", 1);
    const char *run = value;
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        append(text, run, (size_t)(p - run));
        char escaped[8];
        switch (c) {
        case '"': append(text, "\\\"", 2); break;
        case '\\': append(text, "\\\\", 2); break;
        case '\n': append(text, "\\n", 2); break;
        case '\r': append(text, "\\r", 2); break;
        case '\t': append(text, "\\t", 2); break;
        default:
            snprintf(escaped, sizeof(escaped), "\\u%04x", c);
            append(text, escaped, 6);
        }
        run = p + 1;
    }
    append(text, run, strlen(run));
    append(text, "\"", 1);
}

void json_text_integer(json_text *text, int64_t value)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRId64, value);
    append(text, digits, (size_t)n);
}

void json_text_number(json_text *text, double value)
{
    if (!isfinite(value)) {
        append(text, "null", 4);
        return;
    }
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%.17g", value);
    /* prefer the shortest text that reads back as the same number */
    for (int precision = 1; precision < 17; precision++) {
        char shorter[32];
        int m = snprintf(shorter, sizeof(shorter), "%.*g", precision, value);
        if (strtod(shorter, NULL) == value) {
            memcpy(digits, shorter, (size_t)m + 1);
            n = m;
            break;
        }
    }
    append(text, digits, (size_t)n);
    if (strpbrk(digits, ".eE") == NULL) append(text, ".0", 2); /* keep it a JSON real */
}

void json_text_key(json_text *text, const char *key, bool first)
{
    if (!first) append(text, ",", 1);
    json_text_string(text, key);
    append(text, ":", 1);
}

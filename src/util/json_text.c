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
    while (capacity < text->length + more + 1)
        capacity *= 2;
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
        case '"':
            append(text, "\\\"", 2);
            break;
        case '\\':
            append(text, "\\\\", 2);
            break;
        case '\n':
            append(text, "\\n", 2);
            break;
        case '\r':
            append(text, "\\r", 2);
            break;
        case '\t':
            append(text, "\\t", 2);
            break;
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

enum { JSON_TEXT_NUMBER_MAX = 400 }; /* sign, 309 integer digits or 323 leading zeros, 17 digits, ".0" */

/* Writes finite value in plain positional notation (never an exponent: 400 is "400.0", 2.5e-7
 * "0.00000025") with the fewest significant digits that read back as the same double, always with a
 * '.' so that it stays a JSON real; out must hold JSON_TEXT_NUMBER_MAX bytes. (The loop stops at 16 decimals,
 * 17 significant digits, which always read back.) */
static size_t format_positional(double value, char *out)
{
    char scientific[40];
    for (int precision = 0; precision < 17; precision++) {
        snprintf(scientific, sizeof(scientific), "%.*e", precision, value);
        if (strtod(scientific, NULL) == value) break;
    }
    /* scientific is "[-]d[.ddd]e±XX": take the significant digits and the exponent apart */
    const char *p = scientific;
    size_t n = 0;
    if (*p == '-') out[n++] = *p++;
    char digits[20];
    size_t digit_count = 0;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[digit_count++] = *p;
    int exponent = atoi(p + 1);
    while (digit_count > 1 && digits[digit_count - 1] == '0')
        digit_count--;
    if (exponent < 0) { /* 0.000ddd */
        out[n++] = '0', out[n++] = '.';
        for (int i = -1; i > exponent; i--)
            out[n++] = '0';
        memcpy(out + n, digits, digit_count), n += digit_count;
    } else if ((size_t)exponent + 1 >= digit_count) { /* ddd000.0 */
        memcpy(out + n, digits, digit_count), n += digit_count;
        for (size_t i = digit_count; i < (size_t)exponent + 1; i++)
            out[n++] = '0';
        out[n++] = '.', out[n++] = '0';
    } else { /* ddd.ddd */
        memcpy(out + n, digits, (size_t)exponent + 1), n += (size_t)exponent + 1;
        out[n++] = '.';
        memcpy(out + n, digits + exponent + 1, digit_count - (size_t)exponent - 1);
        n += digit_count - (size_t)exponent - 1;
    }
    out[n] = '\0';
    return n;
}

void json_text_number(json_text *text, double value)
{
    if (!isfinite(value)) {
        append(text, "null", 4);
        return;
    }
    char digits[JSON_TEXT_NUMBER_MAX];
    append(text, digits, format_positional(value, digits));
}

void json_text_key(json_text *text, const char *key, bool first)
{
    if (!first) append(text, ",", 1);
    json_text_string(text, key);
    append(text, ":", 1);
}

/* json_scan.c — a byte-at-a-time state machine over one JSON object: keys and small member values
 * are collected as text and parsed by jansson; the streamed string is decoded here (escapes, UTF-8
 * validity), which is the only JSON this file checks by itself. */
#include "util/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SCAN_BEFORE,       /* whitespace, then '{' */
    SCAN_OBJECT_START, /* after '{': a key or '}' */
    SCAN_KEY,          /* inside a key (collected in span, quotes included) */
    SCAN_COLON,        /* after a key */
    SCAN_VALUE_START,  /* after ':' */
    SCAN_SMALL,        /* inside a small value (collected in span) */
    SCAN_STREAM,       /* inside the streamed string */
    SCAN_AFTER_VALUE,  /* ',' or '}' */
    SCAN_KEY_EXPECTED, /* after ',': a key */
    SCAN_AFTER,        /* after the object: whitespace only */
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static json_scan_status scan_fail(json_scan *scan, json_scan_status status, uint64_t offset,
                                  const char *reason)
{
    snprintf(scan->error_text, sizeof(scan->error_text), "%s", reason);
    scan->status = status;
    scan->error = scan->error_text;
    scan->error_offset = offset;
    return status;
}

json_scan_status json_scan_init(json_scan *scan, const char *stream_name, json_scan_sink sink, void *sink_ctx,
                                size_t max_small_bytes)
{
    memset(scan, 0, offsetof(json_scan, out));
    scan->stream_name = stream_name;
    scan->sink = sink;
    scan->sink_ctx = sink_ctx;
    scan->max_small_bytes = max_small_bytes;
    scan->state = SCAN_BEFORE;
    scan->members = json_object();
    if (scan->members == NULL) scan->status = JSON_SCAN_NO_MEMORY;
    return scan->status;
}

void json_scan_free(json_scan *scan)
{
    json_decref(scan->members);
    scan->members = NULL;
    free(scan->span);
    scan->span = NULL;
    free(scan->key);
    scan->key = NULL;
}

/* Appends one byte to the span, held to the size limits. */
static json_scan_status span_append(json_scan *scan, char c, uint64_t offset)
{
    if (scan->state == SCAN_KEY ? scan->span_length >= JSON_SCAN_MAX_KEY
                                : ++scan->small_bytes > scan->max_small_bytes)
        return scan_fail(scan, JSON_SCAN_TOO_LARGE, offset,
                         scan->state == SCAN_KEY ? "a member name is too long"
                                                 : "the other members are too large");
    if (scan->span_length == scan->span_capacity) {
        size_t capacity = scan->span_capacity ? scan->span_capacity * 2 : 256;
        char *grown = realloc(scan->span, capacity);
        if (grown == NULL) return scan->status = JSON_SCAN_NO_MEMORY;
        scan->span = grown, scan->span_capacity = capacity;
    }
    scan->span[scan->span_length++] = c;
    return JSON_SCAN_OK;
}

static void span_start(json_scan *scan, int state, uint64_t offset)
{
    scan->state = state;
    scan->span_length = 0;
    scan->span_start = offset;
    scan->depth = 0;
    scan->in_string = scan->escaped = false;
}

/* Parses the collected span with jansson (any JSON value). NULL with the scan failed. */
static json_t *span_parse(json_scan *scan)
{
    json_error_t error;
    json_t *value =
        json_loadb(scan->span, scan->span_length, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (value == NULL) {
        char reason[200];
        snprintf(reason, sizeof(reason), "%s", error.text);
        scan_fail(scan, JSON_SCAN_INVALID,
                  scan->span_start + (uint64_t)(error.position > 0 ? error.position - 1 : 0), reason);
    }
    return value;
}

/* The key's closing quote was read: decode it, refuse a repeated name. */
static json_scan_status key_end(json_scan *scan)
{
    json_t *name = span_parse(scan);
    if (name == NULL) return scan->status;
    free(scan->key);
    scan->key = strdup(json_string_value(name));
    json_decref(name);
    if (scan->key == NULL) return scan->status = JSON_SCAN_NO_MEMORY;
    scan->key_is_stream = strcmp(scan->key, scan->stream_name) == 0;
    if (json_object_get(scan->members, scan->key) || (scan->key_is_stream && scan->streamed))
        return scan_fail(scan, JSON_SCAN_INVALID, scan->span_start, "duplicate object key");
    scan->state = SCAN_COLON;
    return JSON_SCAN_OK;
}

/* The nesting jansson counts against JSON_PARSER_MAX_DEPTH: 1 for a scalar or an empty container. */
static int value_depth(json_t *value)
{
    int deepest = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach(value, key, member)
        {
            int depth = value_depth(member);
            if (depth > deepest) deepest = depth;
        }
    } else if (json_is_array(value)) {
        size_t index;
        json_t *element;
        json_array_foreach(value, index, element)
        {
            int depth = value_depth(element);
            if (depth > deepest) deepest = depth;
        }
    }
    return 1 + deepest;
}

/* The small value's span is complete: parse it and keep it under its key. */
static json_scan_status small_end(json_scan *scan)
{
    json_t *value = span_parse(scan);
    if (value == NULL) return scan->status;
    /* Parsed alone, the value is one level less deep than in the body, where jansson would refuse it. */
    if (value_depth(value) + 1 > JSON_PARSER_MAX_DEPTH) {
        json_decref(value);
        return scan_fail(scan, JSON_SCAN_INVALID, scan->span_start, "maximum parsing depth reached");
    }
    if (json_object_set_new(scan->members, scan->key, value) != 0) return scan->status = JSON_SCAN_NO_MEMORY;
    scan->state = SCAN_AFTER_VALUE;
    return JSON_SCAN_OK;
}

static json_scan_status out_flush(json_scan *scan)
{
    if (scan->out_length == 0) return JSON_SCAN_OK;
    size_t length = scan->out_length;
    scan->out_length = 0;
    if (scan->sink(scan->sink_ctx, scan->out, length) != 0) return scan->status = JSON_SCAN_SINK_FAILED;
    return JSON_SCAN_OK;
}

static json_scan_status out_byte(json_scan *scan, unsigned char c)
{
    scan->out[scan->out_length++] = (char)c;
    scan->streamed_length++;
    return scan->out_length == sizeof(scan->out) ? out_flush(scan) : JSON_SCAN_OK;
}

static json_scan_status out_code_point(json_scan *scan, unsigned cp)
{
    unsigned char bytes[4];
    size_t n;
    if (cp < 0x80)
        bytes[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800)
        bytes[0] = (unsigned char)(0xC0 | cp >> 6), bytes[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        bytes[0] = (unsigned char)(0xE0 | cp >> 12), bytes[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)),
        bytes[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    else
        bytes[0] = (unsigned char)(0xF0 | cp >> 18), bytes[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F)),
        bytes[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)), bytes[3] = (unsigned char)(0x80 | (cp & 0x3F)),
        n = 4;
    for (size_t i = 0; i < n; i++)
        if (out_byte(scan, bytes[i]) != JSON_SCAN_OK) return scan->status;
    return JSON_SCAN_OK;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One byte of the streamed string (after its opening quote). */
static json_scan_status stream_byte(json_scan *scan, unsigned char c, uint64_t offset)
{
    if (scan->escape == 1) { /* after a backslash */
        static const char simple[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
        if (c == 'u') {
            scan->escape = 2, scan->code_point = 0;
            return JSON_SCAN_OK;
        }
        const char *at = c ? strchr(simple, c) : NULL;
        if (at == NULL || scan->high_surrogate)
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid escape in a string");
        scan->escape = 0;
        return out_byte(scan, (unsigned char)decoded[at - simple]);
    }
    if (scan->escape >= 2) { /* \u and 4 hex digits */
        int digit = hex_value(c);
        if (digit < 0) return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid \\u escape in a string");
        scan->code_point = scan->code_point * 16 + (unsigned)digit;
        if (++scan->escape < 6) return JSON_SCAN_OK;
        scan->escape = 0;
        unsigned cp = scan->code_point;
        if (scan->high_surrogate) {
            if (cp < 0xDC00 || cp > 0xDFFF)
                return scan_fail(scan, JSON_SCAN_INVALID, offset,
                                 "invalid Unicode surrogate pair in a string");
            cp = 0x10000 + ((scan->high_surrogate - 0xD800) << 10) + (cp - 0xDC00);
            scan->high_surrogate = 0;
            return out_code_point(scan, cp);
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            scan->high_surrogate = cp;
            return JSON_SCAN_OK;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid Unicode surrogate in a string");
        if (cp == 0) return scan_fail(scan, JSON_SCAN_INVALID, offset, "\\u0000 is not allowed in a string");
        return out_code_point(scan, cp);
    }
    if (scan->utf8_need > 0) {
        if (c < scan->utf8_low || c > scan->utf8_high)
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid UTF-8 in a string");
        scan->utf8_need--;
        scan->utf8_low = 0x80, scan->utf8_high = 0xBF;
        return out_byte(scan, c);
    }
    if (scan->high_surrogate && c != '\\')
        return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid Unicode surrogate in a string");
    if (c == '\\') {
        scan->escape = 1;
        return JSON_SCAN_OK;
    }
    if (c == '"') {
        if (out_flush(scan) != JSON_SCAN_OK) return scan->status;
        scan->streamed = true;
        scan->state = SCAN_AFTER_VALUE;
        return JSON_SCAN_OK;
    }
    if (c < 0x20) return scan_fail(scan, JSON_SCAN_INVALID, offset, "control character in a string");
    if (c >= 0x80) { /* the lead byte of a UTF-8 sequence (RFC 3629's table) */
        scan->utf8_low = 0x80, scan->utf8_high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            scan->utf8_need = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            scan->utf8_need = 2, scan->utf8_low = c == 0xE0 ? 0xA0 : 0x80,
            scan->utf8_high = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            scan->utf8_need = 3, scan->utf8_low = c == 0xF0 ? 0x90 : 0x80,
            scan->utf8_high = c == 0xF4 ? 0x8F : 0xBF;
        else
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "invalid UTF-8 in a string");
    }
    return out_byte(scan, c);
}

/* One byte of a small value (its first byte already in span). */
static json_scan_status small_byte(json_scan *scan, unsigned char c, uint64_t offset, bool *again)
{
    char first = scan->span[0];
    if (scan->in_string) {
        if (span_append(scan, (char)c, offset) != JSON_SCAN_OK) return scan->status;
        if (scan->escaped)
            scan->escaped = false;
        else if (c == '\\')
            scan->escaped = true;
        else if (c == '"')
            scan->in_string = false;
        return !scan->in_string && scan->depth == 0 ? small_end(scan) : JSON_SCAN_OK;
    }
    if (first != '{' && first != '[') { /* a number or a literal: ends before a delimiter */
        if (is_space(c) || c == ',' || c == '}' || c == ']') {
            *again = true;
            return small_end(scan);
        }
        return span_append(scan, (char)c, offset);
    }
    if (span_append(scan, (char)c, offset) != JSON_SCAN_OK) return scan->status;
    if (c == '"')
        scan->in_string = true;
    else if (c == '{' || c == '[')
        scan->depth++;
    else if ((c == '}' || c == ']') && --scan->depth == 0)
        return small_end(scan);
    return JSON_SCAN_OK;
}

/* One byte of the body; *again asks for the same byte to be read once more (in the new state). */
static json_scan_status scan_byte(json_scan *scan, unsigned char c, uint64_t offset, bool *again)
{
    switch (scan->state) {
    case SCAN_STREAM:
        return stream_byte(scan, c, offset);
    case SCAN_SMALL:
        return small_byte(scan, c, offset, again);
    case SCAN_KEY:
        if (span_append(scan, (char)c, offset) != JSON_SCAN_OK) return scan->status;
        if (scan->escaped)
            scan->escaped = false;
        else if (c == '\\')
            scan->escaped = true;
        else if (c == '"')
            return key_end(scan);
        return JSON_SCAN_OK;
    default:
        break;
    }
    if (is_space(c)) return JSON_SCAN_OK;
    switch (scan->state) {
    case SCAN_BEFORE:
        if (c != '{') return scan_fail(scan, JSON_SCAN_NOT_OBJECT, offset, "the body is not a JSON object");
        scan->state = SCAN_OBJECT_START;
        return JSON_SCAN_OK;
    case SCAN_OBJECT_START:
    case SCAN_KEY_EXPECTED:
        if (c == '}' && scan->state == SCAN_OBJECT_START) {
            scan->state = SCAN_AFTER;
            return JSON_SCAN_OK;
        }
        if (c != '"') return scan_fail(scan, JSON_SCAN_INVALID, offset, "string or '}' expected");
        span_start(scan, SCAN_KEY, offset);
        return span_append(scan, '"', offset);
    case SCAN_COLON:
        if (c != ':') return scan_fail(scan, JSON_SCAN_INVALID, offset, "':' expected");
        scan->state = SCAN_VALUE_START;
        return JSON_SCAN_OK;
    case SCAN_VALUE_START:
        if (c == '"' && scan->key_is_stream) {
            scan->state = SCAN_STREAM;
            scan->escape = 0, scan->high_surrogate = 0, scan->utf8_need = 0;
            return JSON_SCAN_OK;
        }
        if (c == ',' || c == '}' || c == ']' || c == ':')
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "a value expected");
        span_start(scan, SCAN_SMALL, offset);
        if (span_append(scan, (char)c, offset) != JSON_SCAN_OK) return scan->status;
        if (c == '"')
            scan->in_string = true;
        else if (c == '{' || c == '[')
            scan->depth = 1;
        return JSON_SCAN_OK;
    case SCAN_AFTER_VALUE:
        if (c == ',')
            scan->state = SCAN_KEY_EXPECTED;
        else if (c == '}')
            scan->state = SCAN_AFTER;
        else
            return scan_fail(scan, JSON_SCAN_INVALID, offset, "',' or '}' expected");
        return JSON_SCAN_OK;
    default: /* SCAN_AFTER */
        return scan_fail(scan, JSON_SCAN_INVALID, offset, "end of input expected after the object");
    }
}

json_scan_status json_scan_feed(json_scan *scan, const char *data, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)data;
    for (size_t i = 0; i < length && scan->status == JSON_SCAN_OK; i++) {
        /* The streamed string's plain ASCII runs, the bulk of a large body, go straight out. */
        if (scan->state == SCAN_STREAM && scan->escape == 0 && scan->utf8_need == 0 &&
            !scan->high_surrogate) {
            size_t run = i;
            while (run < length && bytes[run] >= 0x20 && bytes[run] < 0x80 && bytes[run] != '"' &&
                   bytes[run] != '\\')
                run++;
            while (i < run && scan->status == JSON_SCAN_OK) {
                size_t n = run - i, room = sizeof(scan->out) - scan->out_length;
                if (n > room) n = room;
                memcpy(scan->out + scan->out_length, bytes + i, n);
                scan->out_length += n, scan->streamed_length += n, i += n;
                if (scan->out_length == sizeof(scan->out)) out_flush(scan);
            }
            if (i == length || scan->status != JSON_SCAN_OK) break;
        }
        bool again;
        do {
            again = false;
            scan_byte(scan, bytes[i], scan->fed + i, &again);
        } while (again && scan->status == JSON_SCAN_OK);
    }
    scan->fed += length;
    return scan->status;
}

json_scan_status json_scan_finish(json_scan *scan)
{
    if (scan->status != JSON_SCAN_OK) return scan->status;
    if (scan->state == SCAN_SMALL && scan->span[0] != '{' && scan->span[0] != '[' && !scan->in_string)
        small_end(scan); /* a literal cut by the end: parsed for the error message's sake */
    if (scan->status == JSON_SCAN_OK && scan->state != SCAN_AFTER)
        scan_fail(scan, JSON_SCAN_INVALID, scan->fed,
                  scan->state == SCAN_BEFORE ? "the body holds no JSON value"
                                             : "the body ends inside its object");
    return scan->status;
}

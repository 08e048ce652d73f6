/* json_scan.h — a JSON object body read in pieces, for bodies too large to parse whole: one named
 * member's string value is streamed out (its escapes decoded) while every other member, small, is
 * parsed by jansson into an object. It is a span finder, not a JSON library: it follows the
 * top-level object's structure, finds each member value's extent and hands it to json_loadb, and
 * validates the one streamed string itself.
 *
 * The whole body is checked as strictly as json_loadb(JSON_REJECT_DUPLICATES) would: a body that is
 * not one JSON object (with only whitespace around it), a malformed member value, a key or value
 * string with a bad escape, invalid UTF-8, a raw control character or \u0000, or a repeated member
 * name, is JSON_SCAN_INVALID. The messages are this module's own (not jansson's), with the byte
 * offset. A body whose first non-whitespace byte is not '{' is JSON_SCAN_NOT_OBJECT. The result does
 * not depend on how the body is split into calls. Memory is bounded: the non-streamed members
 * (their text) may take at most max_small_bytes in all, each key at most JSON_SCAN_MAX_KEY bytes,
 * else JSON_SCAN_TOO_LARGE. */
#ifndef REELAY_UTIL_JSON_SCAN_H
#define REELAY_UTIL_JSON_SCAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { JSON_SCAN_MAX_KEY = 1024, JSON_SCAN_OUT = 4096 };

typedef enum json_scan_status {
    JSON_SCAN_OK = 0,
    JSON_SCAN_INVALID = -1,     /* not valid JSON (see error, error_offset) */
    JSON_SCAN_NOT_OBJECT = -2,  /* valid or not, it does not start as an object */
    JSON_SCAN_TOO_LARGE = -3,   /* the non-streamed members exceed max_small_bytes (or a key is too long) */
    JSON_SCAN_SINK_FAILED = -4, /* the sink returned non-zero */
    JSON_SCAN_NO_MEMORY = -5,
} json_scan_status;

/* Receives the streamed member's string content, decoded (UTF-8), in order, in pieces of at most
 * JSON_SCAN_OUT bytes. Returns 0 to go on, non-zero to stop with JSON_SCAN_SINK_FAILED. Bytes given
 * before a later syntax error are not taken back: the caller discards its output on error. */
typedef int (*json_scan_sink)(void *ctx, const char *data, size_t length);

typedef struct json_scan {
    /* read-only for callers */
    json_scan_status status;
    const char *error;        /* reason for JSON_SCAN_INVALID / NOT_OBJECT / TOO_LARGE (valid as long as
                                 the scan), else NULL */
    uint64_t error_offset;    /* byte offset in the body of the error */
    uint64_t fed;             /* body bytes fed so far */
    json_t *members;          /* every member but a streamed string, by name (owned; see json_scan_free) */
    bool streamed;            /* the streamed member was present with a string value */
    uint64_t streamed_length; /* its decoded length in bytes */
    /* private */
    const char *stream_name;
    json_scan_sink sink;
    void *sink_ctx;
    size_t max_small_bytes, small_bytes;
    int state;
    char *span; /* the key or small value being collected (grows; owned) */
    size_t span_length, span_capacity;
    uint64_t span_start;     /* its offset in the body */
    char *key;               /* the decoded name of the current member (owned) */
    bool key_is_stream;      /* the current key is stream_name */
    int depth;               /* brackets open in the small value */
    bool in_string, escaped; /* inside a string of the key / small value, after a backslash */
    int escape;              /* streamed string: 0 none, 1 after '\\', 2..5 reading \u hex digits */
    unsigned code_point, high_surrogate;
    int utf8_need;                     /* continuation bytes still expected */
    unsigned char utf8_low, utf8_high; /* range of the next continuation byte */
    size_t out_length;
    char out[JSON_SCAN_OUT];
    char error_text[200];
} json_scan;

/* Starts a scan in which the member named stream_name, when its value is a string, goes to sink
 * (stream_name and sink_ctx must outlive the scan). Returns JSON_SCAN_OK or JSON_SCAN_NO_MEMORY. */
json_scan_status json_scan_init(json_scan *scan, const char *stream_name, json_scan_sink sink, void *sink_ctx,
                                size_t max_small_bytes);

/* Feeds the next length bytes of the body. Returns the scan's status (once not OK, it stays so and
 * nothing more is read). */
json_scan_status json_scan_feed(json_scan *scan, const char *data, size_t length);

/* Ends the body: OK only when one complete object was read. Call once, after the last feed. */
json_scan_status json_scan_finish(json_scan *scan);

/* Frees what the scan holds (members included). */
void json_scan_free(json_scan *scan);

#endif

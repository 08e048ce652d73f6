/* base64_stream.h — decoding base64 text that arrives in pieces (an upload's body, chunk by chunk)
 * into bytes delivered in pieces, so neither the text nor the decoded file is ever whole in memory.
 * The decoding itself is libsodium's sodium_base642bin; this module only stages and validates.
 *
 * Accepted text (the same as reelay always accepted in file_data):
 *   - the standard alphabet (A-Z a-z 0-9 + /) or the URL-safe one (A-Z a-z 0-9 - _), not both;
 *   - padding optional: at the very end, one or two '=' that complete the last group of four
 *     (whitespace may follow; nothing else may);
 *   - space, tab, CR and LF ignored anywhere;
 *   - the unused low bits of a final partial group must be zero (libsodium's rule), and a final group
 *     of a single character is invalid;
 *   - the empty text (or only whitespace) is valid and decodes to nothing.
 * Anything else is an error with the offset of the offending character (counted over every byte fed,
 * whitespace included) and a short English reason. The result never depends on how the text is split
 * into calls: the same bytes reach the sink, and the same error is reported, for any split.
 *
 * Use: base64_stream_init, then base64_stream_feed for each piece, then base64_stream_finish once.
 * Decoded bytes go to the sink in pieces of at most BASE64_STREAM_OUT_MAX bytes, in order, as soon as
 * a full staging block is ready (so some bytes may reach the sink before a later error is found: the
 * caller discards its output on error). After an error, or a sink failure, every later call returns
 * the same status and feeds nothing. No allocation; the struct may live anywhere (it is ~16 KiB). */
#ifndef REELAY_UTIL_BASE64_STREAM_H
#define REELAY_UTIL_BASE64_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BASE64_STREAM_STAGE = 8192,                         /* text characters decoded per sink call */
    BASE64_STREAM_OUT_MAX = BASE64_STREAM_STAGE / 4 * 3 /* most bytes given to the sink at once */
};

typedef enum base64_stream_status {
    BASE64_STREAM_OK = 0,
    BASE64_STREAM_INVALID = -1,     /* the text is not base64 (see error, error_offset) */
    BASE64_STREAM_SINK_FAILED = -2, /* the sink returned non-zero (its own reason is the caller's) */
} base64_stream_status;

/* Receives decoded bytes (length >= 1). Returns 0 to go on, non-zero to stop the decoding with
 * BASE64_STREAM_SINK_FAILED. */
typedef int (*base64_stream_sink)(void *ctx, const unsigned char *data, size_t length);

typedef struct base64_stream {
    /* read-only for callers */
    uint64_t decoded; /* bytes given to the sink so far */
    uint64_t fed;     /* text bytes fed so far (whitespace included) */
    base64_stream_status status;
    const char *error;     /* static reason when status is BASE64_STREAM_INVALID, else NULL */
    uint64_t error_offset; /* offset of the offending character in the text fed (or fed, when the
                              text ended too soon) when status is BASE64_STREAM_INVALID */
    /* private */
    base64_stream_sink sink;
    void *sink_ctx;
    int alphabet;                /* 0 not yet known, 1 standard, 2 URL-safe */
    unsigned padding;            /* '=' seen so far (then only whitespace may follow) */
    uint64_t symbols;            /* alphabet characters seen so far (to check the final group) */
    uint64_t last_symbol_offset; /* where the last alphabet character was (for a bad final group) */
    size_t staged_length;
    char staged[BASE64_STREAM_STAGE];
    unsigned char out[BASE64_STREAM_OUT_MAX];
} base64_stream;

/* Starts a decoding whose bytes go to sink(sink_ctx, …). sink must not be NULL. */
void base64_stream_init(base64_stream *stream, base64_stream_sink sink, void *sink_ctx);

/* Feeds the next length bytes of text (any bytes; length may be 0). Returns the stream's status. */
base64_stream_status base64_stream_feed(base64_stream *stream, const char *text, size_t length);

/* Ends the text: checks the final group and padding, and gives the sink the last bytes. Returns the
 * stream's status; on BASE64_STREAM_OK, stream->decoded is the decoded size. Call once. */
base64_stream_status base64_stream_finish(base64_stream *stream);

#endif

/* range_reader.h — parts of a remote file without downloading all of it.
 *
 * Probing an input (kind, container, duration) needs its headers and, for an MP4 whose index sits at
 * the end, a few blocks from the end: a few hundred KiB of a file that may be hundreds of MiB. The
 * reader opens a URL once (the guard, allow-list, redirect and size rules of net/fetch.h: the
 * connect-time address check applies to every connection it makes) and then reads byte ranges with
 * `Range: bytes=a-b` requests on one reused connection (keep-alive). After a redirect the final URL is
 * kept, so later ranges do not repeat the redirect.
 *
 * A server that ignores Range (200 with the whole body) is read from the start, keeping at most
 * whole_body_cap bytes in memory; reads inside that prefix are served from it, reads past it fail as
 * FETCH_TOO_LARGE ("no ranges"; range_reader_ranges_supported tells the caller). Every byte the server
 * sends counts against max_read_bytes, and open plus all reads share one time budget. Whatever the
 * server says is checked: a Content-Range that is not exactly the range asked for (or one consistent
 * with the size seen so far), more body than announced, a body cut short, or a multipart answer fails
 * the reader as FETCH_UNREACHABLE. Failures are sticky: once a read fails, every later read fails the
 * same way (range_reader_error says why), so a demuxer cannot retry a hostile server forever.
 *
 * Blocking; one reader belongs to one thread at a time. */
#ifndef REELAY_NET_RANGE_READER_H
#define REELAY_NET_RANGE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/fetch.h"

typedef struct range_reader_limits {
    size_t max_read_bytes; /* body bytes all requests together may bring in (default 64 MiB) */
    long total_timeout_ms; /* from open to the last read (default 30 s; the policy's total_timeout_ms
                              caps it too) */
    size_t read_ahead;     /* smallest range requested, so that small sequential reads share one request
                              (default 64 KiB) */
    size_t whole_body_cap; /* a server ignoring Range: bytes of its body kept (default 16 MiB; never more
                              than max_read_bytes) */
} range_reader_limits;

/* Fills *limits with the defaults above. */
void range_reader_limits_init(range_reader_limits *limits);

typedef struct range_reader range_reader;

/* Opens url: checks it, connects (guarded) and reads its first block, learning the size (from
 * Content-Range, or Content-Length when Range is ignored) and whether ranges work. policy NULL = the
 * defaults of fetch_policy_init, limits NULL = those of range_reader_limits_init; both are copied
 * (policy->allow_list must outlive the reader). Returns NULL with *result and err on failure — the same
 * results and messages as fetch_url_to_file (never quoting the URL). */
range_reader *range_reader_open(const char *url, const fetch_policy *policy,
                                const range_reader_limits *limits, fetch_result *result, char *err,
                                size_t err_size);

/* Copies up to length bytes at offset into buffer. Returns the number copied (> 0; may be fewer than
 * asked, never past the end), 0 at or past the end of the file, -1 on failure (range_reader_error says
 * why; the failure is sticky) or for a negative offset (errno EINVAL, not sticky). */
ssize_t range_reader_read(range_reader *reader, int64_t offset, void *buffer, size_t length);

/* Size of the file in bytes, -1 while unknown (a server that says neither Content-Range totals nor
 * Content-Length). */
int64_t range_reader_size(const range_reader *reader);

/* False when the server ignored Range: only the first whole_body_cap bytes can be read. */
bool range_reader_ranges_supported(const range_reader *reader);

/* Body bytes received so far (redirect bodies included) and HTTP requests made, open included. */
uint64_t range_reader_bytes_read(const range_reader *reader);
unsigned range_reader_request_count(const range_reader *reader);

/* FETCH_OK while the reader is healthy; else the sticky failure, with its message in err. */
fetch_result range_reader_error(const range_reader *reader, char *err, size_t err_size);

/* Closes the connection and frees the reader. NULL is ignored. */
void range_reader_close(range_reader *reader);

#endif

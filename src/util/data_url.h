/* data_url.h — the head of a data: URL ("data:<media type>[;parameters];base64,<payload>") that a
 * client may put in front of base64 text (file_data of a base64 upload). Pure: it reads the bytes it is
 * given, writes only the caller's buffers, allocates nothing. */
#ifndef REELAY_UTIL_DATA_URL_H
#define REELAY_UTIL_DATA_URL_H

#include <stddef.h>

typedef enum data_url_kind {
    DATA_URL_NONE = 0,     /* not a data: URL: the whole text is the payload */
    DATA_URL_BASE64 = 1,   /* a base64 data: URL: the payload follows its comma */
    DATA_URL_INVALID = -1, /* starts as a data: URL but is malformed or not base64 */
} data_url_kind;

/* Reads the head of text[0..length) (any bytes; no terminator needed; the caller may pass only the
 * first bytes of a longer text, the rule then applies to those).
 *
 * DATA_URL_NONE when length is 5 or less or text does not begin with "data:" (in any letter case).
 * DATA_URL_BASE64 when it does, and its first comma is at offset 12 or more and right after ";base64"
 * (in any letter case): *payload_offset is the offset after that comma, and media_type gets the bytes
 * from after "data:" up to the first ';' — the media type without its parameters (which are not looked
 * at), possibly "" — cut at a NUL byte and to media_type_size - 1 bytes, always NUL-terminated.
 * DATA_URL_INVALID when it begins with "data:" otherwise (no comma, or no ";base64" before it).
 * Unless DATA_URL_BASE64, *payload_offset is 0 and media_type is "". media_type may be NULL only when
 * media_type_size is 0 (the media type is then not copied). */
data_url_kind data_url_parse_base64(const char *text, size_t length, char *media_type, size_t media_type_size,
                                    size_t *payload_offset);

#endif

/* data_url.c — recognising "data:<type>[;parameters];base64," in front of base64 text (see data_url.h).
 * The rule is the one uploads always applied: the first comma decides, ";base64" must end right there. */
#include "util/data_url.h"

#include <stdbool.h>
#include <string.h>

enum { PREFIX = 5, MARKER = 7 }; /* strlen("data:"), strlen(";base64") */

/* True when bytes[0..n) is `lowercase` in any letter case (ASCII only, as strncasecmp in the C locale). */
static bool bytes_equal_ignoring_case(const char *bytes, const char *lowercase, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = bytes[i] >= 'A' && bytes[i] <= 'Z' ? (char)(bytes[i] - 'A' + 'a') : bytes[i];
        if (c != lowercase[i]) return false;
    }
    return true;
}

data_url_kind data_url_parse_base64(const char *text, size_t length, char *media_type, size_t media_type_size,
                                    size_t *payload_offset)
{
    *payload_offset = 0;
    if (media_type_size > 0) media_type[0] = '\0';
    if (length <= PREFIX || !bytes_equal_ignoring_case(text, "data:", PREFIX)) return DATA_URL_NONE;
    const char *comma = memchr(text, ',', length);
    if (comma == NULL || (size_t)(comma - text) < PREFIX + MARKER ||
        !bytes_equal_ignoring_case(comma - MARKER, ";base64", MARKER))
        return DATA_URL_INVALID;
    /* the media type ends at the first ';' (that of ";base64" at the latest) */
    const char *type = text + PREFIX;
    size_t type_length = (size_t)(comma - MARKER - type);
    const char *parameters = memchr(type, ';', type_length);
    if (parameters) type_length = (size_t)(parameters - type);
    const char *nul = memchr(type, '\0', type_length);
    if (nul) type_length = (size_t)(nul - type);
    if (media_type_size > 0) {
        if (type_length > media_type_size - 1) type_length = media_type_size - 1;
        memcpy(media_type, type, type_length);
        media_type[type_length] = '\0';
    }
    *payload_offset = (size_t)(comma + 1 - text);
    return DATA_URL_BASE64;
}

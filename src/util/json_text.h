/* json_text.h — writing JSON text straight into a growing buffer, for responses on the hot path
 * where building a jansson tree and dumping it would cost more than the rest of the request.
 * Strings are escaped per RFC 8259 (UTF-8 passes through; control characters become \u00XX). */
#ifndef REELAY_UTIL_JSON_TEXT_H
#define REELAY_UTIL_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json_text {
    char *data; /* NUL-terminated; owned */
    size_t length, capacity;
    bool failed; /* an allocation failed: the text is incomplete and must not be sent */
} json_text;

void json_text_free(json_text *text);
void json_text_raw(json_text *text, const char *raw);      /* appended as is */
void json_text_string(json_text *text, const char *value); /* "escaped", or null for NULL */
void json_text_integer(json_text *text, int64_t value);
/* A real, in plain positional notation with the fewest digits that read back as the same double: never
 * an exponent, always a '.' (4 is 4.0, 0.1 is 0.1, 2.5e-7 is 0.00000025); null when not finite. Whole
 * quantities (credits, counts, seconds that are integers) are written with json_text_integer instead. */
void json_text_number(json_text *text, double value);
/* "key": — with a leading comma unless first is true. */
void json_text_key(json_text *text, const char *key, bool first);

#endif

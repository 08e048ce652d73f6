/* error.c — filling a reelay_error (see error.h). */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

/* snprintf cuts at a byte count, possibly inside a UTF-8 sequence (a long non-ASCII field name in
 * param or message, cut here or by the caller): such text is not JSON-writable and the client would get
 * a 500 for its 422. Drops a last character left incomplete. */
static void drop_cut_character(char *text)
{
    size_t length = strlen(text), lead = length;
    while (lead > 0 && length - lead < 3 && ((unsigned char)text[lead - 1] & 0xC0) == 0x80)
        lead--;
    unsigned char first = lead > 0 ? (unsigned char)text[lead - 1] : 0;
    size_t need = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : 2;
    if (first >= 0xC0 && length - (lead - 1) < need) text[lead - 1] = '\0';
}

int reelay_error_set(reelay_error *err, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...)
{
    if (err == NULL) return -1;
    err->status = status;
    err->type = type;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    drop_cut_character(err->param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    drop_cut_character(err->message);
    return -1;
}

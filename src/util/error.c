/* error.c — filling a reelay_error (see error.h). */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int reelay_error_set(reelay_error *err, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...)
{
    if (err == NULL) return -1;
    err->status = status;
    err->type = type;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

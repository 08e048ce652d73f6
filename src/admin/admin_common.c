/* admin_common.c — results, field names, notification of the other nodes: what every admin action
 * shares (admin_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "engine/cluster_signals.h"

/* The field as the front end names it: "base_url" or, for flags, "--base-url". */
static void field_label(const admin_context *ctx, const char *field, char *out, size_t out_size)
{
    if (!ctx->flag_names) {
        snprintf(out, out_size, "%s", field);
        return;
    }
    snprintf(out, out_size, "--%s", field);
    for (char *c = out; *c; c++)
        if (*c == '_') *c = '-';
}

void admin_fail(const admin_context *ctx, admin_result *result, admin_outcome outcome, const char *code,
                const char *field, const char *format, ...)
{
    memset(result, 0, sizeof(*result));
    result->outcome = outcome;
    result->code = code;
    char label[sizeof(result->param)] = "";
    if (field) field_label(ctx, field, label, sizeof(label));
    snprintf(result->param, sizeof(result->param), "%s", label);
    char raw[sizeof(result->message)];
    va_list args;
    va_start(args, format);
    vsnprintf(raw, sizeof(raw), format, args);
    va_end(args);
    /* "{F}" names the field as the front end does */
    size_t used = 0;
    for (const char *c = raw; *c && used + 1 < sizeof(result->message); c++) {
        if (c[0] == '{' && c[1] == 'F' && c[2] == '}') {
            int n = snprintf(result->message + used, sizeof(result->message) - used, "%s", label);
            used += n > 0 ? (size_t)n : 0;
            if (used >= sizeof(result->message)) used = sizeof(result->message) - 1;
            c += 2;
        } else {
            result->message[used++] = *c;
        }
    }
    result->message[used] = '\0';
}

void admin_done(admin_result *result)
{
    memset(result, 0, sizeof(*result));
}

void admin_changed(admin_result *result, const char *field, const char *format, ...)
{
    size_t used = strlen(result->changed);
    if (used + 1 >= sizeof(result->changed)) return;
    int n = snprintf(result->changed + used, sizeof(result->changed) - used, "%s%s=", used ? " " : "", field);
    if (n < 0 || (size_t)n >= sizeof(result->changed) - used) return;
    used += (size_t)n;
    va_list args;
    va_start(args, format);
    vsnprintf(result->changed + used, sizeof(result->changed) - used, format, args);
    va_end(args);
}

void admin_fail_store(const admin_context *ctx, admin_result *result, const char *what)
{
    admin_fail(ctx, result, ADMIN_FAILED, "store_unavailable", NULL,
               "The database could not be reached: %s (nothing changed); retry later.", what);
}

void admin_tell_nodes(const admin_context *ctx, admin_result *result, const char *kind, const char *body)
{
    if (cluster_signal_publish(ctx->db, kind, body) != STORE_OK) result->nodes_not_told = true;
}

bool admin_text_is_plain(const char *text, size_t maximum)
{
    size_t length = strlen(text);
    if (length > maximum) return false;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return false;
    return true;
}

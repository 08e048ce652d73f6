/* store_names.c — what every backend of store.h shares beyond the record: the names of ledger kinds and
 * callback states, how a ledger row moves the balances, and the credit audit's problem count. */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "store/store.h"
#include "store/store_common.h"

static const char *const kind_names[] = {"grant", "reserve", "settle", "refund"};

const char *ledger_kind_name(ledger_kind kind)
{
    return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "unknown";
}

bool ledger_kind_parse(const char *name, ledger_kind *out)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *out = (ledger_kind)i;
            return true;
        }
    return false;
}

const char *callback_state_name(callback_state state)
{
    switch (state) {
    case CALLBACK_DUE:
        return "due";
    case CALLBACK_DELIVERED:
        return "delivered";
    case CALLBACK_GIVEN_UP:
        return "given_up";
    }
    return "unknown";
}

ledger_deltas ledger_deltas_of(ledger_kind kind, int64_t amount, int64_t released)
{
    switch (kind) {
    case LEDGER_GRANT:
        return (ledger_deltas){.available = amount};
    case LEDGER_RESERVE:
        return (ledger_deltas){.available = -amount, .reserved = amount, .tasks = 1};
    case LEDGER_SETTLE:
        return (ledger_deltas){.available = released - amount, .reserved = -released, .tasks = -1};
    case LEDGER_REFUND:
        return (ledger_deltas){.available = amount, .reserved = -amount, .tasks = -1};
    }
    return (ledger_deltas){0};
}

void credit_audit_problem(credit_audit *out, const char *format, ...)
{
    if (out->problems++ == 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(out->first_problem, sizeof(out->first_problem), format, args);
        va_end(args);
    }
}

/* store_names.c — what every backend of store.h shares beyond the record: the names of ledger kinds and
 * callback states, how a ledger row moves the balances, the credit audit's problem count, and what a
 * signal between nodes may hold. */
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

void credit_audit_check_key(credit_audit *out, const credit_audit_key_row *k)
{
    out->keys_checked++;
    if (k->counted != k->open_tasks)
        credit_audit_problem(out, "key %s: counts %lld unfinished tasks, but %lld hold a reservation", k->id,
                             (long long)k->counted, (long long)k->open_tasks);
    if (k->available != k->ledger_available)
        credit_audit_problem(out, "key %s: available %lld, but its ledger sums to %lld", k->id,
                             (long long)k->available, (long long)k->ledger_available);
    if (k->reserved != k->ledger_reserved)
        credit_audit_problem(out, "key %s: reserved %lld, but its ledger sums to %lld", k->id,
                             (long long)k->reserved, (long long)k->ledger_reserved);
    if (k->reserved != k->open_reserved)
        credit_audit_problem(out, "key %s: reserved %lld, but its unfinished tasks hold %lld", k->id,
                             (long long)k->reserved, (long long)k->open_reserved);
    if (k->available < 0 || k->reserved < 0)
        credit_audit_problem(out, "key %s: negative balance %lld / %lld", k->id, (long long)k->available,
                             (long long)k->reserved);
}

void credit_audit_check_task(credit_audit *out, const credit_audit_task_row *t)
{
    out->tasks_checked++;
    if (t->reserves != 1)
        credit_audit_problem(out, "task %s: %lld reservations (expected 1)", t->id, (long long)t->reserves);
    else if (!t->reserved_on_its_key)
        credit_audit_problem(out, "task %s: reserved on another key", t->id);
    if (t->releases != (t->finished ? 1 : 0))
        credit_audit_problem(out, "task %s: released %lld times, finished=%d", t->id, (long long)t->releases,
                             t->finished);
    else if (t->finished && t->released != t->reserved)
        credit_audit_problem(out, "task %s: released %lld of a %lld reservation", t->id,
                             (long long)t->released, (long long)t->reserved);
    if (t->overcharged != 0) credit_audit_problem(out, "task %s: charged more than reserved", t->id);
}

bool store_signal_is_valid(const char *kind, const char *payload)
{
    if (kind == NULL || payload == NULL) return false;
    size_t kind_length = strlen(kind);
    if (kind_length == 0 || kind_length > STORE_SIGNAL_KIND_MAX) return false;
    for (size_t i = 0; i < kind_length; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') || kind[i] == '_'))
            return false;
    size_t payload_length = 0;
    for (; payload[payload_length] != '\0'; payload_length++)
        if (payload_length >= STORE_SIGNAL_PAYLOAD_MAX || payload[payload_length] < 0x20 ||
            payload[payload_length] > 0x7e)
            return false;
    return true;
}

/* store_names.c — the names of ledger kinds and callback states (store.h): the same for every backend. */
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

/* store_common.h — what every backend of store.h shares (internal to store/): copying task records and
 * reading ledger kinds by name. The backends' own entry points are in sqlite_internal.h and
 * pg_internal.h; store.c picks one per connection. */
#ifndef REELAY_STORE_STORE_COMMON_H
#define REELAY_STORE_STORE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Deep copy of a task record (task_record.c); false when out of memory (out is then cleared). */
bool task_record_copy(task_record *out, const task_record *in);

/* The ledger kind named `name` ("grant", …) into *out (store_names.c); false for NULL or an unknown name. */
bool ledger_kind_parse(const char *name, ledger_kind *out);

/* How one ledger row moves a key's balances: available credits, reserved credits and the count of
 * unfinished tasks holding a reservation (a grant adds; a reservation moves amount from available to
 * reserved; a settlement releases `released`, charging `amount` of it; a refund returns all of it). */
typedef struct ledger_deltas {
    int64_t available, reserved, tasks;
} ledger_deltas;
ledger_deltas ledger_deltas_of(ledger_kind kind, int64_t amount, int64_t released);

/* Counts one problem the credit audit found, keeping the text of the first (store_names.c). */
void credit_audit_problem(credit_audit *out, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif

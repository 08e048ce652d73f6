/* store_common.h — what every backend of store.h shares (internal to store/): copying task records and
 * reading ledger kinds by name. The backends' own entry points are in sqlite_internal.h and
 * pg_internal.h; store.c picks one per connection. */
#ifndef REELAY_STORE_STORE_COMMON_H
#define REELAY_STORE_STORE_COMMON_H

#include <stdbool.h>

#include "store/store.h"

/* Deep copy of a task record (task_record.c); false when out of memory (out is then cleared). */
bool task_record_copy(task_record *out, const task_record *in);

/* The ledger kind named `name` ("grant", …) into *out (store_names.c); false for NULL or an unknown name. */
bool ledger_kind_parse(const char *name, ledger_kind *out);

#endif

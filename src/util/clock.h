/* clock.h — wall-clock seconds for records, monotonic milliseconds for deadlines and timers. */
#ifndef REELAY_UTIL_CLOCK_H
#define REELAY_UTIL_CLOCK_H

#include <stdint.h>

int64_t clock_unix_seconds(void); /* CLOCK_REALTIME, whole seconds */
int64_t clock_unix_ms(void);      /* CLOCK_REALTIME, milliseconds */
int64_t clock_monotonic_ms(void); /* CLOCK_MONOTONIC, milliseconds */

#endif

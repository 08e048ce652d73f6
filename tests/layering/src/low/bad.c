/* bad.c — calls upward: the include on line 3 must fail the check. */
#include <stdio.h>
#include "high/high.h"
#include "low/low.h"
#include "vendor/not_a_module.h"
int low_value(void) { return high_value() + base_value(); }

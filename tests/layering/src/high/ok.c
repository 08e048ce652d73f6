/* ok.c — uses low directly and base through it. */
#include "high/high.h"
#include "low/low.h"

#include "base/base.h"
int high_value(void) { return low_value() + base_value(); }

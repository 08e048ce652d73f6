/* low.h — uses base. */
#include "base/base.h"
int low_value(void);

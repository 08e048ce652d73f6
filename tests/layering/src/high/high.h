/* high.h — the top module. */
int high_value(void);

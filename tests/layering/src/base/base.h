/* base.h — the bottom module of the layering check's fixture (tests/layering/run.cmake). */
int base_value(void);

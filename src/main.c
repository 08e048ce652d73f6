/* main.c — the command line (placeholder until the commands land). */
#include <stdio.h>
int main(void)
{
    puts("reelay");
    return 0;
}

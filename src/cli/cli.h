/* cli.h — command-line commands that live outside main.c. Each takes the arguments after its own
 * name (argv[0] is the command word) and returns the process exit status: 0 done, 1 failed,
 * 2 misused (a message and the usage are printed to stderr). */
#ifndef REELAY_CLI_CLI_H
#define REELAY_CLI_CLI_H

/* `reelay channels add|list|update|disable|enable|remove`: the provider accounts tasks run on.
 * Credentials are sealed with the data folder's key before they are stored and are only ever
 * printed masked. */
int cli_channels(int argc, char **argv);

#endif

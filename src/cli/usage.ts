/** A command line that cannot be run as given: the message and the usage are printed, exit code 2. */
export class UsageError extends Error {}

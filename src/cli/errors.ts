/** A CLI failure: printed as one line `vigil: <message>` and turned into an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    /** 2 = the command line was wrong; 1 = the command could not do its job. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, 2);

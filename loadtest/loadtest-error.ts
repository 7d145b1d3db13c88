/** Stable codes of the load test's own errors. */
export type LoadtestErrorCode =
  /** A command-line option or scenario field is missing or out of range. */
  | 'LOADTEST_BAD_OPTION'
  /** The admin API answered with an unexpected status. */
  | 'LOADTEST_ADMIN_REFUSED'
  /** The admin API answered with a body the load test cannot use. */
  | 'LOADTEST_ADMIN_REPLY'
  /** The admin API could not be reached. */
  | 'LOADTEST_ADMIN_UNREACHABLE'
  /** An admin API request took longer than its bound. */
  | 'LOADTEST_ADMIN_TIMEOUT'
  /** A simulator process failed or exited early. */
  | 'LOADTEST_WORKER_FAILED'
  /** A phase of the run did not finish within its bound. */
  | 'LOADTEST_PHASE_TIMEOUT'
  /** A service the load test starts itself did not come up. */
  | 'LOADTEST_SPAWN_FAILED';

export class LoadtestError extends Error {
  readonly code: LoadtestErrorCode;

  constructor(
    code: LoadtestErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LoadtestError';
    this.code = code;
  }
}

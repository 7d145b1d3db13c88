/**
 * The one error the priority engine throws. Every throw is a caller bug or a
 * bad setting, never a traffic condition: overload is handled by dropping and
 * counting, not by throwing. A throw leaves the engine as it was.
 */

/** Stable codes; docs/priority.md lists each with its cause and fix. */
export type PriorityErrorCode =
  /** A setting has the wrong type or range, or its key is unknown. */
  | 'PRIORITY_BAD_SETTINGS'
  /** An input lacks a field its type needs, or a field is out of range. */
  | 'PRIORITY_BAD_INPUT'
  /** An input's type is neither built in nor registered as a custom type. */
  | 'PRIORITY_UNKNOWN_TYPE'
  /** A reliable input's seq is not above the last one offered. */
  | 'PRIORITY_SEQ_ORDER';

export class PriorityError extends Error {
  readonly code: PriorityErrorCode;

  constructor(
    code: PriorityErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PriorityError';
    this.code = code;
  }
}

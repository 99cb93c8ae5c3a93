/**
 * The base of every loopstream error: a fixed `name` per family (set by the subclass), an `LS_…` code from the
 * family's closed union, and a message that says what was wrong, where, and what was expected. docs/errors.md
 * gives every code its fix (fastify's coded errors, RxJS's named error classes).
 */
export abstract class CodedError<Code extends string> extends Error {
  abstract override readonly name: string;
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

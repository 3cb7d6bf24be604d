/**
 * The lab's one error type: every refusal says what is wrong (`message`) and how to fix it
 * (`hint`), so a reader of a failed notebook or command knows the next step without the source.
 */
export class LabError extends Error {
  readonly hint: string;

  constructor(message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }

  override toString(): string {
    return `${this.name}: ${this.message}\n  fix: ${this.hint}`;
  }
}

/** Formats any thrown value for a terminal: a LabError with its fix, anything else as is. */
export function describeError(error: unknown): string {
  if (error instanceof LabError) return error.toString();
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

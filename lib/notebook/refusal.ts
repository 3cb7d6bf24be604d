import { LabError } from "../errors.js";

/**
 * The refusal `f` throws, for a notebook to show and to check by its code and fields: the LabError,
 * or undefined when `f` returns. Anything else thrown is a failure, not a refusal, and propagates.
 */
export function refusalOf(f: () => unknown): LabError | undefined {
  try {
    f();
    return undefined;
  } catch (error) {
    if (error instanceof LabError) return error;
    throw error;
  }
}

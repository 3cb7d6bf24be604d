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

/** refusalOf for work that answers later (an attribution, a chain call): the LabError `pending` rejects with, or undefined. */
export async function refusalOfAsync(pending: Promise<unknown>): Promise<LabError | undefined> {
  try {
    await pending;
    return undefined;
  } catch (error) {
    if (error instanceof LabError) return error;
    throw error;
  }
}

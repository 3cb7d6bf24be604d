import { expect } from "chai";
import { LabError } from "../../lib/errors.js";

/**
 * The refusal `fn` throws, checked for its class, code and (a subset of) its fields, and for a
 * fix: how tests assert errors, never by message text.
 */
export function expectCode<E extends LabError>(fn: () => unknown, type: abstract new (...args: never[]) => E, code: string, fields: Record<string, unknown> = {}): E {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return checked(error, type, code, fields);
}

/** expectCode for a promise. */
export async function expectCodeAsync<E extends LabError>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E, code: string, fields: Record<string, unknown> = {}): Promise<E> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  return checked(error, type, code, fields);
}

function checked<E extends LabError>(error: unknown, type: abstract new (...args: never[]) => E, code: string, fields: Record<string, unknown>): E {
  expect(error, `expected a ${type.name} with code ${code}`).to.be.instanceOf(type);
  const e = error as E;
  expect(e.code, `${e.code}: ${e.message}`).to.equal(code);
  expect(e.fields).to.deep.include(fields);
  expect(e.hint, "a fix").to.be.a("string").and.not.empty;
  return e;
}

/** The code and fields of the LabError `fn` throws, for tests that compare them whole. */
export function refusal(fn: () => unknown): { code: string; fields: Record<string, unknown> } {
  try {
    fn();
  } catch (error) {
    if (error instanceof LabError) return { code: error.code, fields: error.fields };
    throw error;
  }
  throw new Error("expected a refusal");
}

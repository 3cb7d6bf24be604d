/**
 * Canonical JSON as RFC 8785 (JSON Canonicalization Scheme, JCS) defines it: no whitespace;
 * object members sorted by their names' UTF-16 code units; numbers serialized as ECMAScript's
 * Number.prototype.toString does (shortest round-trip digits, exponent from 1e21 on, -0 as 0);
 * strings with only `"`, `\` and the control characters escaped (\b \t \n \f \r, else \u00xx).
 * Two values with the same data give the same bytes, so their sha256 is an identity: the Model
 * Factory's spec hash (recorded on chain) and the step cache's keys are both made here.
 *
 * Input is I-JSON (RFC 7493), as JCS requires: NaN, ±Infinity, bigint, lone surrogates and
 * anything that is not null, boolean, number, string, array or plain object are refused, since
 * JSON would either fail on them or silently write two different values the same way. Members
 * whose value is undefined are left out (JSON.stringify's rule). One extension: a typed array is
 * written as the array of its numbers (the step cache keys tensors' data).
 */
import { LabError } from "./errors.js";

export class CanonicalJsonError extends LabError {}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function refuse(path: string, got: string): CanonicalJsonError {
  return new CanonicalJsonError({
    code: "json/not-canonical",
    message: `${path || "(root)"} is ${got}, which has no canonical JSON (RFC 8785)`,
    hint: "pass finite numbers, well-formed strings, booleans, null, arrays, typed arrays and plain objects",
    fields: { path: path || "(root)", got },
  });
}

/** The RFC 8785 serialization of `value`; `path` names where a refused value sits (for the error). */
export function canonicalJson(value: unknown, path = ""): string {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw refuse(path, "a string with a lone surrogate");
    // ECMAScript's JSON.stringify escapes exactly as JCS section 3.2.2.2 asks
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw refuse(path, String(value));
    // Number.prototype.toString's shortest round-trip form, as JCS section 3.2.2.3; JSON.stringify writes -0 as 0
    return JSON.stringify(value);
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    if (value instanceof BigInt64Array || value instanceof BigUint64Array) throw refuse(path, "a bigint array");
    return canonicalJson(Array.from(value as Float64Array), path);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(",")}]`;
  if (typeof value === "object" && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      // JavaScript compares strings by UTF-16 code units, the order JCS section 3.2.3 prescribes
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([k, v]) => `${canonicalJson(k, path)}:${canonicalJson(v, path ? `${path}.${k}` : k)}`).join(",")}}`;
  }
  throw refuse(path, value === undefined ? "undefined" : typeof value === "object" ? `a ${value.constructor?.name ?? "non-plain"} object` : `a ${typeof value}`);
}

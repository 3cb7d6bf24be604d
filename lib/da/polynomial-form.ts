// How an encoded payload becomes a blob (EigenDA's codecs.PolynomialForm). A blob is always the
// coefficients of a polynomial; the encoded payload's 32-byte words are either those coefficients
// themselves ("coefficient") or the polynomial's evaluations at the blob length's roots of unity
// ("evaluation"), in which case the blob is their inverse FFT. EigenDA's v2 client defaults to
// evaluation form: the payload can then be opened at single points, which fraud proofs need.
import { decodePayload, encodePayload } from "./codec.js";
import { DAConfigError } from "./errors.js";
import { bytesToFieldElements, fieldElementsToBytes } from "./field.js";
import { intt, ntt } from "./ntt.js";

export type PolynomialForm = "evaluation" | "coefficient";
export const POLYNOMIAL_FORMS: readonly PolynomialForm[] = ["evaluation", "coefficient"];
/** EigenDA's v2 client default (PolynomialFormEval). */
export const DEFAULT_PAYLOAD_FORM: PolynomialForm = "evaluation";

function checkForm(form: PolynomialForm): void {
  if (!POLYNOMIAL_FORMS.includes(form)) {
    throw new DAConfigError({
      code: "da/unknown-polynomial-form",
      message: `polynomial form "${String(form)}" is neither "evaluation" nor "coefficient"`,
      hint: 'pass "evaluation" (EigenDA\'s default) or "coefficient"',
      fields: { form: String(form) },
    });
  }
}

/** EncodedPayload.ToBlob: the blob's coefficients (an inverse FFT of the words in evaluation form). */
export function encodedPayloadToBlob(encoded: Uint8Array, form: PolynomialForm = DEFAULT_PAYLOAD_FORM): bigint[] {
  checkForm(form);
  const words = bytesToFieldElements(encoded);
  return form === "evaluation" ? intt(words) : words;
}

/** Blob.ToEncodedPayloadUnchecked: the encoded payload's bytes (an FFT of the coefficients in evaluation form). */
export function blobToEncodedPayload(coefficients: readonly bigint[], form: PolynomialForm = DEFAULT_PAYLOAD_FORM): Uint8Array {
  checkForm(form);
  return fieldElementsToBytes(form === "evaluation" ? ntt(coefficients) : coefficients);
}

/** Payload.ToBlob: encode, then take the words in the given form. */
export function payloadToBlob(payload: Uint8Array, form: PolynomialForm = DEFAULT_PAYLOAD_FORM): bigint[] {
  return encodedPayloadToBlob(encodePayload(payload), form);
}

/** Blob.ToPayload: back to the encoded payload in the given form, then decode it (padding checked). */
export function blobToPayload(coefficients: readonly bigint[], form: PolynomialForm = DEFAULT_PAYLOAD_FORM): Uint8Array {
  return decodePayload(blobToEncodedPayload(coefficients, form));
}

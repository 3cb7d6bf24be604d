import { type ErrorFields, LabError, type LabErrorSpec } from "../errors.js";

/** Every refusal of the intelligence layer: a stable code, its fields, what is wrong and the fix. */
export class IntelligenceError extends LabError {}

/** A data set file is absent, or its bytes are not the ones recorded in datasets/README.md. */
export class DatasetError extends IntelligenceError {}

/**
 * A Model Factory spec field is wrong; `field` names it with its path, e.g. "lora.r", and is
 * also `fields.field`. The code says how it is wrong ("spec/unknown-field", "spec/wrong-type").
 */
export class SpecError extends IntelligenceError {
  readonly field: string;
  constructor(field: string, message: string, hint: string, detail: { code?: string; fields?: ErrorFields } = {}) {
    super({ code: detail.code ?? "spec/invalid-field", message: `spec field "${field}": ${message}`, hint, fields: { field, ...detail.fields } });
    this.field = field;
  }
}

/** A PEFT adapter directory or safetensors file that cannot be read back. */
export class AdapterFormatError extends IntelligenceError {}

/** Tensors that cannot be written as safetensors (codes "safetensors/encode-…"). */
export class SafetensorsEncodingError extends AdapterFormatError {}

/** Bytes that are not a safetensors file this reader takes. */
export class SafetensorsDecodingError extends AdapterFormatError {}

/** Training reached a non-finite loss. */
export class NonFiniteLossError extends IntelligenceError {
  readonly step: number;
  constructor(spec: LabErrorSpec & { fields: { step: number } }) {
    super(spec);
    this.step = spec.fields.step;
  }
}

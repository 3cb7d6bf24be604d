import { LabError } from "../errors.js";

/** Every refusal of the intelligence layer: `message` says what is wrong, `hint` the fix. */
export class IntelligenceError extends LabError {}

/** A data set file is absent, or its bytes are not the ones recorded in datasets/README.md. */
export class DatasetError extends IntelligenceError {}

/** A Model Factory spec field is wrong; `field` names it with its path, e.g. "lora.r". */
export class SpecError extends IntelligenceError {
  readonly field: string;
  constructor(field: string, message: string, hint: string) {
    super(`spec field "${field}": ${message}`, hint);
    this.field = field;
  }
}

/** A PEFT adapter directory or safetensors file that cannot be read back. */
export class AdapterFormatError extends IntelligenceError {}

/** Training reached a non-finite loss. */
export class NonFiniteLossError extends IntelligenceError {
  readonly step: number;
  constructor(step: number, message: string, hint: string) {
    super(message, hint);
    this.step = step;
  }
}

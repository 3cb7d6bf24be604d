// Errors of the loop: each refusal has a stable code and the fields its message and fix come from.
import { type ErrorFields, LabError } from "../errors.js";

export class LoopError extends LabError {
  constructor(code: string, message: string, hint: string, fields: ErrorFields = {}) {
    super({ code, message, hint, fields });
  }
}

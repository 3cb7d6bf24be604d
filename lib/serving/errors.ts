import type { ErrorFields } from "../errors.js";
import { IntelligenceError } from "../intelligence/errors.js";

/**
 * Every refusal of OpenLoRA serving, with a stable code. The HTTP server maps the consequence
 * to a status: the request is refused (4xx) and the rest of the batch goes on.
 *   adapter/*  an adapter that cannot be served (unknown, wrong base, wrong shapes, corrupt file)
 *   request/*  a request the server cannot take (malformed body, prompt too long)
 *   cache/*    a budget that cannot hold what is asked of it
 */
export class OpenLoraError extends IntelligenceError {
  /** HTTP status the server answers with. */
  readonly status: number;
  constructor(spec: { code: string; message: string; hint: string; fields?: ErrorFields; status?: number; cause?: unknown }) {
    super(spec);
    this.status = spec.status ?? 400;
  }
}

export function unknownAdapter(id: string, known: number): OpenLoraError {
  return new OpenLoraError({
    code: "adapter/unknown",
    status: 404,
    fields: { adapter: id, registered: known },
    message: `no adapter named "${id}" is registered`,
    hint: "list adapters with GET /v1/models, or load one with POST /v1/models { id, path }",
  });
}

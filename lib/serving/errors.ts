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

/** The id is already taken (by the base model or a registered adapter); `hint` says what to do instead. */
export function adapterExists(id: string, hint: string): OpenLoraError {
  return new OpenLoraError({ code: "adapter/exists", status: 409, fields: { adapter: id }, message: `model "${id}" is already served`, hint });
}

/** Every code the HTTP server answers with, its status and when: the table of README and ./lab serve --help. */
export const SERVING_ERROR_CODES: ReadonlyArray<[code: string, status: number, when: string]> = [
  ["request/malformed-json", 400, "the body is not JSON"],
  ["request/not-an-object", 400, "the body is not a JSON object"],
  ["request/missing-field", 400, "a required field is absent (param names it)"],
  ["request/bad-field", 400, "a field has the wrong type or range (param names it)"],
  ["request/unsupported-field", 400, "a field OpenLoRA does not serve, or serves only at its neutral value (param names it)"],
  ["request/empty-prompt", 400, "the prompt is empty"],
  ["request/prompt-too-long", 400, "the prompt is over the context, in bytes (before tokenizing) or tokens"],
  ["request/context-exceeded", 400, "prompt + max_tokens is over max_model_len (as vLLM)"],
  ["request/unknown-character", 400, "a prompt character is outside the model's vocabulary"],
  ["request/bad-uri", 400, "a path segment is not valid percent-encoding"],
  ["request/no-route", 404, "no such path"],
  ["request/method-not-allowed", 405, "a known path with another method (Allow lists the methods)"],
  ["request/too-large", 413, "the body is over the limit"],
  ["adapter/bad-id", 400, "an id that is not 1-128 of A-Z a-z 0-9 . _ : / - (no . or .. segment)"],
  ["adapter/base-model", 400, "unloading the base model"],
  ["adapter/unknown", 404, "no model of that id is served"],
  ["adapter/not-found", 404, "the adapter folder or one of its files does not exist"],
  ["adapter/path-not-allowed", 403, "the folder's real path (symlinks resolved) is outside every --adapter-root"],
  ["merge/disabled", 403, "the server has no folder for merged adapters"],
  ["adapter/exists", 409, "the id is already served"],
  ["adapter/folder-exists", 409, "the merged adapter's folder already exists (never replaced)"],
  ["adapter/busy", 409, "unloading an adapter running sequences use"],
  ["adapter/changed", 409, "the adapter file changed since it was loaded"],
  ["request/duplicate-id", 409, "a request_id that names a request still queued or running, or one whose receipt is kept (pending or in a kept batch)"],
  ["receipts/empty", 409, "sealing with no receipt waiting"],
  ["adapter/file-missing", 410, "the adapter file went away after loading"],
  ["adapter/bad-config", 422, "an adapter_config.json field has the wrong type or range (fields.field names it)"],
  ["adapter/unsupported", 422, "a PEFT feature the batched product cannot serve (DoRA, bias, rank_pattern, modules_to_save ...)"],
  ["adapter/rank-too-large", 422, "the adapter's rank is over --max-rank"],
  ["adapter/non-finite", 422, "a NaN or infinite adapter weight"],
  ["adapter/corrupt", 422, "an unreadable config or safetensors file"],
  ["adapter/base-unknown", 422, "the adapter does not say which base model it was made on"],
  ["adapter/base-mismatch", 422, "the adapter was made on another base model"],
  ["adapter/shape-mismatch", 422, "tensor names or shapes that do not fit the base"],
  ["adapter/non-finite-output", 422, "the adapter's weights overflowed on this request (the rest of the batch is served)"],
  ["merge/*", 422, "a merge recipe that cannot be combined (ranks, weights, density, bases)"],
  ["cache/over-budget", 507, "one adapter is larger than the whole host budget"],
  ["adapter/run-failed", 500, "a decode step failed on this request's row when run alone (the rest of the batch is served)"],
  ["server/internal", 500, "a fault of the server itself"],
];

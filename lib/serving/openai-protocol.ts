import { OpenLoraError } from "./errors.js";
import type { TokenLogprobs } from "./sampling.js";

/**
 * The request bodies of OpenAI's completions and chat completions APIs as vLLM and LoRAX serve
 * them, checked field by field before any work: every field is either served, accepted only at
 * the value that changes nothing (presence_penalty 0, best_of 1, an empty logit_bias ...), or
 * refused with 400 `request/unsupported-field` naming it. Nothing is ignored silently.
 *
 * Chat messages are rendered with one documented template (CHAT_TEMPLATE): each message as
 * "Role: content\n" (System, User, Assistant), then "Assistant: ", whose continuation is the
 * reply. The lab's base models were trained on plain text, not on a chat format, so the template
 * is plain text too, in characters every vocabulary of the lab holds.
 */
export const CHAT_TEMPLATE = "{for each message}{Role}: {content}\\n{end}Assistant: ";

/** A request for generated text, from either API, in the server's terms. */
export interface GenerationSpec {
  api: "completions" | "chat";
  model: string;
  /** The text fed to the model (the chat template applied). */
  prompt: string;
  /** Undefined: the API's default (16 for completions, the rest of the context for chat). */
  maxTokens?: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: string[];
  stream: boolean;
  /** Top-k log-probabilities per token (k may be 0: the sampled token's only); undefined: none. */
  logprobs?: number;
  /** Completions only: the prompt is returned before the completion. */
  echo: boolean;
  /**
   * vLLM's `request_id`: the client's name for the request; the completion's id is then
   * "cmpl-<request_id>" (or "chatcmpl-…"), so a client that numbers its requests gets the same
   * receipts for the same run. Undefined: the server names the request.
   */
  requestId?: string;
}

/** vLLM's default cap on top log-probabilities per token (--max-logprobs). */
export const MAX_LOGPROBS = 20;

export function requestError(code: string, message: string, hint: string, fields: Record<string, string | number> = {}, status = 400): OpenLoraError {
  return new OpenLoraError({ code, message, hint, fields, status });
}

export function unsupportedField(field: string, why: string, hint = `leave "${field}" out`): OpenLoraError {
  return requestError("request/unsupported-field", `field "${field}" ${why}`, hint, { field });
}

type Body = Record<string, unknown>;

export function asObject(raw: unknown, example: string): Body {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw requestError("request/not-an-object", "the body must be a JSON object", `send ${example}`);
  return raw as Body;
}

/** Refuses any field of the body that is not in `known`. */
export function onlyKnownFields(body: Body, known: readonly string[]): void {
  for (const name of Object.keys(body)) if (!known.includes(name)) throw unsupportedField(name, "is not served by OpenLoRA", `leave "${name}" out (the fields served are: ${known.join(", ")})`);
}

export function field<T>(body: Body, name: string, type: "string" | "number" | "boolean", fallback?: T): T {
  const v = body[name];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw requestError("request/missing-field", `field "${name}" is required`, `add "${name}" (${type}) to the body`, { field: name });
    return fallback;
  }
  if (typeof v !== type || (type === "number" && !Number.isFinite(v)))
    throw requestError("request/bad-field", `field "${name}" must be a ${type}, got ${JSON.stringify(v).slice(0, 80)}`, `send "${name}" as a ${type}`, { field: name });
  return v as T;
}

function integerIn(body: Body, name: string, lo: number, hi: number): number | undefined {
  if (body[name] === undefined || body[name] === null) return undefined;
  const v = field<number>(body, name, "number");
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw requestError("request/bad-field", `${name} must be an integer in [${lo}, ${hi}], got ${v}`, `send ${name} between ${lo} and ${hi}`, { field: name });
  return v;
}

/** Fields accepted only at the value that changes nothing. */
function neutralOnly(body: Body): void {
  const neutral: Array<[string, (v: unknown) => boolean, string]> = [
    ["presence_penalty", (v) => v === 0, "penalties are not applied: send 0 or leave it out"],
    ["frequency_penalty", (v) => v === 0, "penalties are not applied: send 0 or leave it out"],
    ["logit_bias", (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0, "logit biases are not applied: send {} or leave it out"],
    ["best_of", (v) => v === 1, "one sequence is generated per request: send 1 or leave it out"],
    ["n", (v) => v === 1, "one completion is served per request: send 1 or leave it out"],
    ["suffix", (v) => v === "", "insertion (suffix) is not served: leave it out"],
  ];
  for (const [name, ok, hint] of neutral) {
    const v = body[name];
    if (v !== undefined && v !== null && !ok(v)) throw unsupportedField(name, `= ${JSON.stringify(v).slice(0, 40)} is not served`, hint);
  }
  if (body.user !== undefined && body.user !== null) field<string>(body, "user", "string");
  if (body.stream_options !== undefined && body.stream_options !== null) {
    const o = asObject(body.stream_options, '"stream_options": { "include_usage": true }');
    for (const k of Object.keys(o)) if (k !== "include_usage" && k !== "continuous_usage_stats") throw unsupportedField(`stream_options.${k}`, "is not served");
  }
}

/** A client's request id: 1 to 64 of A-Z a-z 0-9 . _ : - (it becomes part of the completion's id). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function requestId(body: Body): string | undefined {
  if (body.request_id === undefined || body.request_id === null) return undefined;
  const id = field<string>(body, "request_id", "string");
  if (!REQUEST_ID.test(id))
    throw requestError("request/bad-field", "request_id must be 1 to 64 of A-Z a-z 0-9 . _ : -", "send a short id such as run7-12, or leave request_id out", { field: "request_id" });
  return id;
}

/** What both APIs share: sampling, stop, seed, stream, max_tokens, request_id. */
function sampling(body: Body, maxTokensField: string): Omit<GenerationSpec, "api" | "model" | "prompt" | "logprobs" | "echo"> {
  const maxTokens = body[maxTokensField] === undefined || body[maxTokensField] === null ? undefined : field<number>(body, maxTokensField, "number");
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1))
    throw requestError("request/bad-field", `${maxTokensField} must be a positive integer, got ${maxTokens}`, `set ${maxTokensField} to 1 or more`, { field: maxTokensField });
  const temperature = field<number>(body, "temperature", "number", 1);
  if (temperature < 0 || temperature > 2) throw requestError("request/bad-field", `temperature must be in [0, 2], got ${temperature}`, "use 0 for greedy decoding", { field: "temperature" });
  const topP = field<number>(body, "top_p", "number", 1);
  if (!(topP > 0 && topP <= 1)) throw requestError("request/bad-field", `top_p must be in (0, 1], got ${topP}`, "use 1 to sample from the whole distribution", { field: "top_p" });
  const seed = field<number>(body, "seed", "number", 0);
  if (!Number.isSafeInteger(seed)) throw requestError("request/bad-field", `seed must be an integer, got ${seed}`, "send an integer seed", { field: "seed" });
  const stop = body.stop === undefined || body.stop === null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  if (stop.length > 4 || !stop.every((s) => typeof s === "string" && s.length > 0 && s.length <= 64))
    throw requestError("request/bad-field", "stop must be a non-empty string or up to 4 of them (64 characters each)", "send stop as a string or string array", { field: "stop" });
  return { maxTokens, temperature, topP, seed, stop: stop as string[], stream: field<boolean>(body, "stream", "boolean", false), requestId: requestId(body) };
}

/** The body fields both endpoints take (OpenAI's shared sampling fields and vLLM's request_id). */
const SHARED_FIELDS = [
  "model",
  "max_tokens",
  "temperature",
  "top_p",
  "n",
  "stream",
  "stream_options",
  "logprobs",
  "stop",
  "seed",
  "user",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "request_id",
] as const;

const COMPLETION_FIELDS = [...SHARED_FIELDS, "prompt", "echo", "best_of", "suffix"] as const;

/** POST /v1/completions. */
export function parseCompletionRequest(raw: unknown): GenerationSpec {
  const body = asObject(raw, '{ "model": ..., "prompt": ... }');
  onlyKnownFields(body, COMPLETION_FIELDS);
  neutralOnly(body);
  let prompt = body.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1) throw unsupportedField("prompt", "as an array of several prompts is not served", "send one prompt (a string) per request");
    prompt = prompt[0];
  }
  if (typeof prompt !== "string") {
    if (prompt === undefined || prompt === null) throw requestError("request/missing-field", 'field "prompt" is required', 'add "prompt" (string) to the body', { field: "prompt" });
    throw requestError("request/bad-field", 'field "prompt" must be a string', "send the prompt as text (token-id prompts are not served)", { field: "prompt" });
  }
  const logprobs = integerIn(body, "logprobs", 0, MAX_LOGPROBS);
  const echo = field<boolean>(body, "echo", "boolean", false);
  if (echo && logprobs !== undefined) throw unsupportedField("echo", "with logprobs is not served (the prompt's log-probabilities are not computed)", "leave out echo or logprobs");
  return { api: "completions", model: field<string>(body, "model", "string"), prompt, ...sampling(body, "max_tokens"), logprobs, echo };
}

const CHAT_FIELDS = [...SHARED_FIELDS, "messages", "max_completion_tokens", "top_logprobs"] as const;

const ROLES: Record<string, string> = { system: "System", user: "User", assistant: "Assistant" };

/** The chat template (CHAT_TEMPLATE) applied to checked messages. */
export function renderChat(messages: ReadonlyArray<{ role: string; content: string }>): string {
  return `${messages.map((m) => `${ROLES[m.role]}: ${m.content}\n`).join("")}Assistant: `;
}

function messageText(content: unknown, k: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content) && content.every((p) => typeof p === "object" && p !== null && (p as Body).type === "text" && typeof (p as Body).text === "string"))
    return content.map((p) => (p as { text: string }).text).join("");
  throw unsupportedField(`messages[${k}].content`, "must be a string or a list of text parts", 'send "content" as text (images and audio are not served)');
}

/** POST /v1/chat/completions. */
export function parseChatRequest(raw: unknown): GenerationSpec {
  const body = asObject(raw, '{ "model": ..., "messages": [{ "role": "user", "content": ... }] }');
  onlyKnownFields(body, CHAT_FIELDS);
  neutralOnly(body);
  const raws = body.messages;
  if (!Array.isArray(raws) || raws.length === 0 || raws.length > 64)
    throw requestError("request/bad-field", "messages must be a list of 1 to 64 messages", 'send [{ "role": "user", "content": "..." }]', { field: "messages" });
  const messages = raws.map((m, k) => {
    const msg = asObject(m, '{ "role": "user", "content": "..." }');
    for (const name of Object.keys(msg)) if (name !== "role" && name !== "content" && name !== "name") throw unsupportedField(`messages[${k}].${name}`, "is not served");
    if (typeof msg.role !== "string" || !(msg.role in ROLES))
      throw requestError("request/bad-field", `messages[${k}].role must be system, user or assistant`, "use one of the three roles", { field: `messages[${k}].role` });
    return { role: msg.role, content: messageText(msg.content, k) };
  });
  if (body.max_tokens !== undefined && body.max_completion_tokens !== undefined)
    throw requestError("request/bad-field", "max_tokens and max_completion_tokens both set", "send one of them", { field: "max_completion_tokens" });
  const wantLogprobs = field<boolean>(body, "logprobs", "boolean", false);
  const top = integerIn(body, "top_logprobs", 0, MAX_LOGPROBS);
  if (top !== undefined && !wantLogprobs) throw requestError("request/bad-field", "top_logprobs needs logprobs: true", 'add "logprobs": true', { field: "top_logprobs" });
  return {
    api: "chat",
    model: field<string>(body, "model", "string"),
    prompt: renderChat(messages),
    ...sampling(body, body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens"),
    logprobs: wantLogprobs ? (top ?? 0) : undefined,
    echo: false,
  };
}

/** The legacy completions `logprobs` object for a run of tokens starting at text offset `offset`. */
export function completionLogprobs(entries: readonly TokenLogprobs[], text: (t: number) => string, offset: number) {
  const tokens = entries.map((e) => text(e.token));
  const offsets: number[] = [];
  let at = offset;
  for (const t of tokens) {
    offsets.push(at);
    at += t.length;
  }
  return {
    tokens,
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries([...e.top.map((x) => [text(x.token), x.logprob] as const), [text(e.token), e.logprob] as const])),
    text_offset: offsets,
  };
}

/** The chat `logprobs` object: { content: [{ token, logprob, bytes, top_logprobs }] }. */
export function chatLogprobs(entries: readonly TokenLogprobs[], text: (t: number) => string) {
  const bytes = (s: string) => Array.from(new TextEncoder().encode(s));
  return {
    content: entries.map((e) => ({
      token: text(e.token),
      logprob: e.logprob,
      bytes: bytes(text(e.token)),
      top_logprobs: e.top.map((x) => ({ token: text(x.token), logprob: x.logprob, bytes: bytes(text(x.token)) })),
    })),
  };
}

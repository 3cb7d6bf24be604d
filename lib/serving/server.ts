import { rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { LabError } from "../errors.js";
import type { TieredAdapterCache } from "./adapter-cache.js";
import { freshMergedDir, resolveAdapterDir } from "./adapter-paths.js";
import { adapterExists, OpenLoraError } from "./errors.js";
import { COMBINATION_TYPES, type CombinationType, combineAdapters, writeHostAdapter } from "./merge.js";
import { gauge, ServingMetrics } from "./metrics.js";
import { asObject, chatLogprobs, completionLogprobs, field, type GenerationSpec, onlyKnownFields, parseChatRequest, parseCompletionRequest, requestError } from "./openai-protocol.js";
import { type ReceiptBatch, ReceiptLog, type RecordedBatch, receiptOf, requestIdOf } from "./receipts.js";
import type { TokenLogprobs } from "./sampling.js";
import type { GenerationRequest, GenerationResult, Scheduler } from "./scheduler.js";
import { checkAdapterId } from "./store.js";

/**
 * OpenLoRA over HTTP, in the dialect vLLM's and LoRAX's OpenAI-compatible servers speak (`model`
 * names the adapter, or the base model by its own id):
 *   POST   /v1/completions          OpenAI completions: model, prompt, max_tokens, temperature, top_p, seed,
 *                                   stop, stream (+stream_options), logprobs (top k ≤ 20), echo, n=1, best_of=1, user
 *   POST   /v1/chat/completions     OpenAI chat completions: messages (CHAT_TEMPLATE), max_tokens or
 *                                   max_completion_tokens, logprobs + top_logprobs, and the sampling fields above
 *                                   stream: server-sent events "data: {chunk}\n\n" ... "data: [DONE]\n\n"
 *   GET    /v1/models               the base model, then every adapter with where it is loaded (slot, host, disk)
 *   GET    /v1/models/{id}          one of them
 *   POST   /v1/models               { id, path, base_model_sha256? }: load an adapter at run time (201)
 *   DELETE /v1/models/{id}          unload it
 *   POST   /v1/load_lora_adapter    vLLM's { lora_name, lora_path }: load (200, text)
 *   POST   /v1/unload_lora_adapter  vLLM's { lora_name }: unload (200, text)
 *   POST   /v1/models/merge         { id, adapters, weights?, merge_strategy, density?, majority_sign_method?, seed? }:
 *                                   combine registered adapters into a new one (LoRAX's merge strategies)
 *   GET    /health                  status, base model, backend, queue
 *   GET    /metrics                 Prometheus text: requests, tokens, latency histograms, cache, slots, cold starts
 *   GET    /v1/receipts             receipts waiting and batches sealed
 *   POST   /v1/receipts/seal        seal the waiting receipts under a Merkle root (and record it on chain)
 * Every refusal is a JSON error { error: { message, type, param, code, hint, fields } } with the
 * lab's stable code, answered alone: the scheduler goes on serving everyone else. A known path
 * asked with another method is 405 with an Allow header. A client that disconnects cancels its
 * generation before the next decode step, and its receipt counts the tokens written to it.
 */
export interface TextTokenizer {
  encode(s: string): ArrayLike<number>;
  decode(ids: ArrayLike<number>): string;
}

export interface ServerOptions {
  scheduler: Scheduler;
  cache: TieredAdapterCache;
  tokenizer: TextTokenizer;
  backend: string;
  /** The base model, served under `name` as well as under its adapters. */
  baseModel: { name: string; sha256: string };
  receipts?: ReceiptLog;
  /** Writes out a sealed batch (the CLI writes a file and records it on chain); absent: kept in memory only. */
  recordBatch?: (batch: ReceiptBatch) => Promise<RecordedBatch>;
  /** Folders POST /v1/models and /v1/load_lora_adapter may load from (real paths, symlinks resolved). */
  loadRoots: string[];
  /** Folder combined adapters are written to (POST /v1/models/merge); absent: merging is refused. */
  mergeDir?: string;
  /** Largest request body in bytes (default 256 KiB). */
  maxBodyBytes?: number;
  /** Largest prompt in UTF-8 bytes, checked before tokenizing (default 4 bytes per position of the context). */
  maxPromptBytes?: number;
  /** Pending receipts that seal a batch on their own (default 1024), so memory stays bounded. */
  sealEvery?: number;
  /** Where a failure of a batch sealed on its own is reported (default: stderr). */
  onSealError?: (e: unknown) => void;
}

export interface RunningServer {
  url: string;
  server: Server;
  receipts: ReceiptLog;
  metrics: ServingMetrics;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, param: string) => Promise<void> | void;

const unixSeconds = () => Math.floor(Date.now() / 1000);

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json), ...headers });
  res.end(json);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** OpenAI's error object, with the lab's code, fix and fields; `param` names the field at fault. */
export function errorBody(e: unknown): { status: number; body: { error: Record<string, unknown> } } {
  if (e instanceof LabError) {
    const status = e instanceof OpenLoraError ? e.status : 400;
    const fields = JSON.parse(JSON.stringify(e.fields, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
    const param = typeof e.fields.field === "string" ? e.fields.field : null;
    return { status, body: { error: { message: e.message, type: status >= 500 ? "server_error" : "invalid_request_error", param, code: e.code, hint: e.hint, fields } } };
  }
  return { status: 500, body: { error: { message: e instanceof Error ? e.message : String(e), type: "server_error", param: null, code: "server/internal" } } };
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw requestError("request/too-large", `the request body (${declared} bytes) exceeds ${limit} bytes`, "send a smaller body", { limit }, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw requestError("request/too-large", `the request body exceeds ${limit} bytes`, "send a smaller body", { limit }, 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw requestError("request/malformed-json", `the body is not JSON: ${(e as Error).message}`, "send a JSON object with content-type application/json");
  }
}

function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw requestError("request/bad-uri", `the path segment ${JSON.stringify(raw.slice(0, 80))} is not valid percent-encoding`, "percent-encode the model id as UTF-8 (encodeURIComponent)", {
      segment: raw.slice(0, 80),
    });
  }
}

/** Text of the tokens as they may be streamed: nothing past the start of a stop sequence, nothing that may begin one. */
class StopHoldBack {
  sent = 0;
  constructor(
    private readonly stops: readonly string[],
    private readonly decode: (tokens: number[]) => string,
  ) {}

  /** Index in the text where the first stop sequence starts, or Infinity. */
  stopAt(text: string): number {
    let at = Infinity;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0) at = Math.min(at, i);
    }
    return at;
  }

  /** The new text that can be sent now (all of it when `final`). */
  next(tokens: number[], final: boolean): string {
    const text = this.decode(tokens);
    const stop = this.stopAt(text);
    const hold = final || this.stops.length === 0 ? 0 : Math.max(...this.stops.map((s) => s.length)) - 1;
    const safe = Math.min(stop, Math.max(this.sent, text.length - hold));
    const part = text.slice(this.sent, Math.max(this.sent, safe));
    this.sent += part.length;
    return part;
  }

  /** How many leading tokens are wholly inside the text sent. */
  tokensSent(tokens: number[]): number {
    let n = 0;
    while (n < tokens.length && this.decode(tokens.slice(0, n + 1)).length <= this.sent) n++;
    return n;
  }
}

export async function startServer(opts: ServerOptions, listen: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const receipts = opts.receipts ?? new ReceiptLog();
  const metrics = new ServingMetrics();
  const limit = opts.maxBodyBytes ?? 256 << 10;
  const { scheduler, cache, tokenizer } = opts;
  const blockSize = scheduler.opts.blockSize;
  /** Tokens a sequence can hold, prompt and completion: every position, and the token sampled at the last one. */
  const contextTokens = blockSize + 1;
  const maxPromptBytes = opts.maxPromptBytes ?? 4 * blockSize;
  const sealEvery = opts.sealEvery ?? 1024;
  const started = Date.now();
  const baseId = opts.baseModel.name;
  cache.serveBase(baseId, opts.baseModel.sha256);
  let counter = 0;

  const encode = (prompt: string): number[] => {
    const bytes = Buffer.byteLength(prompt);
    if (bytes > maxPromptBytes)
      throw requestError(
        "request/prompt-too-long",
        `the prompt has ${bytes} bytes; at most ${maxPromptBytes} can fit the ${blockSize}-token context`,
        `shorten the prompt to ${blockSize} tokens or fewer`,
        {
          promptBytes: bytes,
          maxPromptBytes,
          field: "prompt",
        },
      );
    try {
      return Array.from(tokenizer.encode(prompt));
    } catch (e) {
      throw requestError("request/unknown-character", e instanceof Error ? e.message : String(e), "use only characters of the model's vocabulary (GET /health lists its size)", { field: "prompt" });
    }
  };

  const baseEntry = () => ({
    id: baseId,
    object: "model",
    created: Math.floor(started / 1000),
    owned_by: "openlora",
    root: baseId,
    parent: null,
    max_model_len: contextTokens,
    base_model_sha256: opts.baseModel.sha256,
    location: "base",
  });

  const modelEntry = (id: string) => {
    if (id === baseId) return baseEntry();
    const r = cache.store.get(id);
    return {
      id,
      object: "model",
      created: r.created,
      owned_by: "openlora",
      root: id,
      parent: baseId,
      max_model_len: contextTokens,
      base_model_sha256: r.baseSha256,
      adapter_sha256: r.sha256,
      rank: r.config.r,
      target_modules: r.config.targetModules,
      location: cache.location(id),
    };
  };

  /** Seals the pending receipts and writes the batch out; the batch leaves memory once newer ones push it out. */
  async function seal(): Promise<{ batch: ReceiptBatch; onChain?: RecordedBatch }> {
    const batch = receipts.seal();
    const onChain = opts.recordBatch ? await opts.recordBatch(batch) : undefined;
    return { batch, onChain };
  }

  function addReceipt(r: GenerationResult, delivered: number[]): void {
    receipts.add(receiptOf(r, opts.backend, delivered));
    if (receipts.pending().length >= sealEvery) seal().catch(opts.onSealError ?? ((e) => console.error(`receipts: a batch sealed on its own was not written out: ${String(e)}`)));
  }

  /** A client-chosen request id whose receipt is still kept (pending or in a kept batch) is not served again: one id, one receipt. */
  function refuseRecordedId(id: string): void {
    const where = receipts.holds(requestIdOf(id));
    if (where)
      throw new OpenLoraError({
        code: "request/duplicate-id",
        status: 409,
        fields: { id, field: "request_id", receipt: where },
        message: `request id ${id} already names a served request whose receipt is ${where === "pending" ? "waiting to be sealed" : "in a sealed batch"}`,
        hint: "give each request its own request_id (a run that numbers its requests needs a prefix of its own)",
      });
  }

  /** The checked request for the scheduler: model known, prompt bounded then tokenized, max_tokens within the context. */
  function generationRequest(spec: GenerationSpec, id: string): GenerationRequest {
    cache.check(spec.model);
    const prompt = encode(spec.prompt);
    if (prompt.length === 0) throw requestError("request/empty-prompt", "the prompt is empty", "send at least one character of prompt", { field: "prompt" });
    if (prompt.length > blockSize)
      throw requestError("request/prompt-too-long", `the prompt has ${prompt.length} tokens; the model's context holds ${blockSize} positions`, `shorten the prompt to ${blockSize} tokens or fewer`, {
        promptTokens: prompt.length,
        blockSize,
        field: "prompt",
      });
    const room = contextTokens - prompt.length;
    if (spec.maxTokens !== undefined && spec.maxTokens > room)
      throw requestError(
        "request/context-exceeded",
        `This model's maximum context length is ${contextTokens} tokens. However, you requested ${prompt.length + spec.maxTokens} tokens (${prompt.length} in the prompt, ${spec.maxTokens} in the completion). Please reduce the length of the prompt or completion.`,
        `set max_tokens to ${room} or fewer for this prompt`,
        { field: "max_tokens", promptTokens: prompt.length, maxTokens: spec.maxTokens, contextTokens },
      );
    const maxTokens = spec.maxTokens ?? (spec.api === "chat" ? room : Math.min(16, room));
    const stops = new StopHoldBack(spec.stop, (t) => tokenizer.decode(t));
    return {
      id,
      adapter: spec.model,
      prompt,
      maxTokens,
      seed: spec.seed,
      sampling: { temperature: spec.temperature, topP: spec.topP },
      logprobs: spec.logprobs,
      shouldStop: spec.stop.length ? (tokens) => stops.stopAt(tokenizer.decode(tokens)) !== Infinity : undefined,
    };
  }

  async function generate(req: IncomingMessage, res: ServerResponse, api: "completions" | "chat"): Promise<void> {
    const arrived = performance.now();
    const raw = await readBody(req, limit);
    const spec = api === "chat" ? parseChatRequest(raw) : parseCompletionRequest(raw);
    const id = `${api === "chat" ? "chatcmpl" : "cmpl"}-${spec.requestId ?? `${(++counter).toString(36)}-${started.toString(36)}`}`;
    if (spec.requestId !== undefined) refuseRecordedId(id);
    const request = generationRequest(spec, id);
    scheduler.validate(request); // refused before any header is written
    const created = unixSeconds();
    const text = (tokens: number[]) => tokenizer.decode(tokens);
    const tokenText = (t: number) => tokenizer.decode([t]);
    let gone = false;
    res.on("close", () => {
      if (!res.writableFinished) gone = true;
    });
    request.cancelled = () => gone;
    const usage = (r: GenerationResult, completion: number) => ({ prompt_tokens: r.prompt.length, completion_tokens: completion, total_tokens: r.prompt.length + completion });
    const finishReason = (r: GenerationResult) => (r.finishReason === "cancelled" ? "abort" : r.finishReason);
    const observe = (r: GenerationResult, delivered: number[]) => {
      addReceipt(r, delivered);
      metrics.promptTokens.inc({}, r.prompt.length);
      metrics.generationTokens.inc({}, delivered.length);
      if (r.finishReason === "cancelled") metrics.streamsCut.inc();
      if (r.tokens.length) metrics.firstToken.observe(r.timings.firstTokenMs / 1000);
    };
    const object = api === "chat" ? "chat.completion" : "text_completion";

    if (!spec.stream) {
      const r = await scheduler.submit(request);
      if (r.finishReason === "cancelled") return observe(r, []); // nobody is left to answer
      observe(r, r.tokens);
      const stops = new StopHoldBack(spec.stop, text);
      const full = text(r.tokens);
      const out = full.slice(0, Math.min(full.length, stops.stopAt(full)));
      const logprobs = r.logprobs ? (api === "chat" ? chatLogprobs(r.logprobs, tokenText) : completionLogprobs(r.logprobs, tokenText, spec.echo ? spec.prompt.length : 0)) : null;
      const choice =
        api === "chat"
          ? { index: 0, message: { role: "assistant", content: out }, logprobs, finish_reason: finishReason(r) }
          : { index: 0, text: spec.echo ? spec.prompt + out : out, logprobs, finish_reason: finishReason(r) };
      send(res, 200, { id, object, created, model: spec.model, choices: [choice], usage: usage(r, r.tokens.length), adapter_location: r.timings.coldStart.from, timings: r.timings });
      metrics.latency.observe((performance.now() - arrived) / 1000);
      return;
    }

    const chunkObject = api === "chat" ? "chat.completion.chunk" : "text_completion";
    const write = (body: object) => {
      if (!gone) res.write(`data: ${JSON.stringify(body)}\n\n`);
    };
    const chunk = (part: string, finish: string | null, logprobs: unknown, extra: object = {}) => ({
      id,
      object: chunkObject,
      created,
      model: spec.model,
      choices: [api === "chat" ? { index: 0, delta: part === "" && finish ? {} : { content: part }, logprobs, finish_reason: finish } : { index: 0, text: part, logprobs, finish_reason: finish }],
      ...extra,
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    if (api === "chat") write({ id, object: chunkObject, created, model: spec.model, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] });
    else if (spec.echo) write(chunk(spec.prompt, null, null));
    const stops = new StopHoldBack(spec.stop, text);
    const tokens: number[] = [];
    let unsent: TokenLogprobs[] = []; // log-probabilities of tokens whose text is not out yet
    const logprobsOf = (entries: TokenLogprobs[], textOffset: number) =>
      spec.logprobs === undefined ? null : api === "chat" ? chatLogprobs(entries, tokenText) : completionLogprobs(entries, tokenText, textOffset);
    request.onToken = (token, _index, logprobs) => {
      tokens.push(token);
      if (logprobs) unsent.push(logprobs);
      const offset = (spec.echo ? spec.prompt.length : 0) + stops.sent;
      const part = stops.next(tokens, false);
      if (!part) return;
      write(chunk(part, null, logprobsOf(unsent, offset)));
      unsent = [];
    };
    try {
      const r = await scheduler.submit(request);
      if (r.finishReason === "cancelled") {
        observe(r, r.tokens.slice(0, stops.tokensSent(r.tokens)));
        return;
      }
      observe(r, r.tokens);
      const offset = (spec.echo ? spec.prompt.length : 0) + stops.sent;
      const rest = stops.next(r.tokens, true); // up to the stop sequence, if one came
      write(chunk(rest, finishReason(r), logprobsOf(unsent, offset), { usage: usage(r, r.tokens.length) }));
    } catch (e) {
      write(errorBody(e).body);
    }
    if (!gone) res.end("data: [DONE]\n\n");
    metrics.latency.observe((performance.now() - arrived) / 1000);
  }

  /** A new model id must be well formed and name neither the base model nor a registered adapter. */
  function refuseTakenId(id: string, hint: string): void {
    checkAdapterId(id);
    if (id === baseId || cache.store.has(id)) throw adapterExists(id, hint);
  }

  /** Registers the adapter folder `path` (realpath under the roots) as `id`, reading every tensor now. */
  async function load(id: string, path: string, baseSha256?: string): Promise<void> {
    refuseTakenId(id, `unload it first (DELETE /v1/models/${id}) or choose another id`);
    const dir = resolveAdapterDir(path, opts.loadRoots);
    cache.store.register(id, dir, { baseSha256 });
    try {
      await cache.prefetch(id); // into host memory: the first request finds it warm
    } catch (e) {
      cache.store.unregister(id);
      throw e;
    }
  }

  function unload(id: string): void {
    if (id === baseId)
      throw new OpenLoraError({
        code: "adapter/base-model",
        status: 400,
        fields: { adapter: id },
        message: `"${id}" is the base model, which every adapter runs on`,
        hint: "unload adapters only (GET /v1/models lists them)",
      });
    cache.store.get(id);
    cache.evict(id);
    cache.store.unregister(id);
  }

  async function loadAdapter(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readBody(req, limit), '{ "id": ..., "path": ... }');
    onlyKnownFields(body, ["id", "path", "base_model_sha256"]);
    const id = field<string>(body, "id", "string");
    await load(id, field<string>(body, "path", "string"), field<string>(body, "base_model_sha256", "string", "") || undefined);
    send(res, 201, modelEntry(id));
  }

  async function vllmLoad(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readBody(req, limit), '{ "lora_name": ..., "lora_path": ... }');
    onlyKnownFields(body, ["lora_name", "lora_path", "load_inplace"]);
    if (body.load_inplace === true)
      throw requestError("request/unsupported-field", 'field "load_inplace" is not served: an adapter is replaced by unloading it first', "unload it, then load it again", { field: "load_inplace" });
    const name = field<string>(body, "lora_name", "string");
    await load(name, field<string>(body, "lora_path", "string"));
    sendText(res, 200, `Success: LoRA adapter '${name}' added successfully.`);
  }

  async function vllmUnload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readBody(req, limit), '{ "lora_name": ... }');
    onlyKnownFields(body, ["lora_name", "lora_int_id"]);
    const name = field<string>(body, "lora_name", "string");
    unload(name);
    sendText(res, 200, `Success: LoRA adapter '${name}' removed successfully.`);
  }

  async function mergeAdapters(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = asObject(await readBody(req, limit), '{ "id", "adapters": [...], "merge_strategy" }');
    onlyKnownFields(body, ["id", "adapters", "weights", "merge_strategy", "density", "majority_sign_method", "seed"]);
    // every check before anything is read or written: the id, its folder, then the recipe
    const id = field<string>(body, "id", "string");
    refuseTakenId(id, "choose another id for the merged adapter");
    if (!opts.mergeDir) throw requestError("merge/disabled", "this server has no folder for merged adapters", "start it with a merge folder (./lab serve writes RUNS/openlora/merged)", {}, 403);
    const dir = freshMergedDir(opts.mergeDir, id);
    const ids = body.adapters;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 16 || !ids.every((a) => typeof a === "string"))
      throw requestError("request/bad-field", "adapters must be a list of 1 to 16 adapter ids", "name the registered adapters to combine", { field: "adapters" });
    for (const a of ids as string[]) cache.store.get(a);
    const weights = body.weights === undefined ? ids.map(() => 1) : body.weights;
    if (!Array.isArray(weights) || !weights.every((w) => typeof w === "number" && Number.isFinite(w)))
      throw requestError("request/bad-field", "weights must be an array of numbers", "give one weight per adapter (default 1 each)", { field: "weights" });
    const strategy = field<string>(body, "merge_strategy", "string", "linear") as CombinationType;
    if (!COMBINATION_TYPES.includes(strategy))
      throw requestError("request/bad-field", `merge_strategy "${strategy}" is not one of ${COMBINATION_TYPES.join(", ")}`, "use linear, ties, dare_linear or dare_ties", { field: "merge_strategy" });
    const method = field<string>(body, "majority_sign_method", "string", "total");
    if (method !== "total" && method !== "frequency")
      throw requestError("request/bad-field", `majority_sign_method "${method}" is not total or frequency`, "use total (default) or frequency", { field: "majority_sign_method" });
    const density = body.density === undefined ? undefined : field<number>(body, "density", "number");
    const seed = field<number>(body, "seed", "number", 0);
    const hosts = (ids as string[]).map((a) => cache.store.read(a));
    const combined = combineAdapters(id, hosts, weights as number[], { combinationType: strategy, density, majoritySignMethod: method, seed });
    writeHostAdapter(dir, combined); // synchronous since the checks: no other request ran in between
    try {
      cache.store.register(id, dir);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true }); // the folder was new: it leaves with the refusal
      throw e;
    }
    send(res, 201, modelEntry(id));
  }

  async function sealReceipts(res: ServerResponse): Promise<void> {
    const { batch, onChain } = await seal();
    send(res, 200, { root: batch.root, count: batch.receipts.length, base_model_sha256: batch.baseModelHash, batch_id: onChain?.batchId.toString() ?? null, tx_hash: onChain?.txHash ?? null });
  }

  function health(res: ServerResponse): void {
    send(res, 200, {
      status: "ok",
      base_model: opts.baseModel,
      backend: opts.backend,
      adapters: cache.store.list().length,
      max_model_len: contextTokens,
      slots: cache.bank.slots,
      slots_used: cache.bank.occupied().length,
      host_bytes: cache.hostBytes(),
      host_budget_bytes: cache.hostBudgetBytes,
      queued: scheduler.queued(),
      running: scheduler.active(),
      uptime_s: (Date.now() - started) / 1000,
    });
  }

  function prometheus(res: ServerResponse): void {
    const c = cache.stats;
    const lines = [
      ...metrics.requests.render(),
      ...metrics.promptTokens.render(),
      ...metrics.generationTokens.render(),
      ...metrics.streamsCut.render(),
      ...metrics.latency.render(),
      ...metrics.firstToken.render(),
      "# HELP openlora_adapter_acquires_total adapters brought to a slot for a request, by the tier they were found in",
      "# TYPE openlora_adapter_acquires_total counter",
      `openlora_adapter_acquires_total{tier="slot"} ${c.slotHits}`,
      `openlora_adapter_acquires_total{tier="host"} ${c.hostHits}`,
      `openlora_adapter_acquires_total{tier="disk"} ${c.diskLoads}`,
      "# HELP openlora_cold_starts_total acquires that were not slot hits, by the tier the adapter came from",
      "# TYPE openlora_cold_starts_total counter",
      `openlora_cold_starts_total{from="host"} ${c.coldStartsFrom.host}`,
      `openlora_cold_starts_total{from="disk"} ${c.coldStartsFrom.disk}`,
      ...gauge("openlora_slots", "adapter slots in the backend", cache.bank.slots),
      ...gauge("openlora_slots_used", "adapter slots holding an adapter", cache.bank.occupied().length),
      ...gauge("openlora_host_bytes", "bytes of adapters in the host tier", cache.hostBytes()),
      ...gauge("openlora_adapters", "adapters registered", cache.store.list().length),
      ...gauge("openlora_requests_running", "sequences in the running batch", scheduler.active()),
      ...gauge("openlora_requests_waiting", "requests queued", scheduler.queued()),
      ...gauge("openlora_receipts_pending", "receipts waiting for a batch", receipts.pending().length),
      ...gauge("openlora_receipt_batches_sealed", "receipt batches sealed", receipts.sealedBatches),
    ];
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(`${lines.join("\n")}\n`);
  }

  const routes: Record<string, Record<string, Handler>> = {
    "/health": { GET: (_, res) => health(res) },
    "/metrics": { GET: (_, res) => prometheus(res) },
    "/v1/completions": { POST: (req, res) => generate(req, res, "completions") },
    "/v1/chat/completions": { POST: (req, res) => generate(req, res, "chat") },
    "/v1/models": {
      GET: (_, res) => send(res, 200, { object: "list", data: [baseEntry(), ...cache.store.list().map((r) => modelEntry(r.id))] }),
      POST: loadAdapter,
    },
    "/v1/models/merge": { POST: mergeAdapters },
    "/v1/models/{id}": {
      GET: (_, res, id) => {
        cache.check(id);
        send(res, 200, modelEntry(id));
      },
      DELETE: (_, res, id) => {
        unload(id);
        send(res, 200, { id, object: "model", deleted: true });
      },
    },
    "/v1/load_lora_adapter": { POST: vllmLoad },
    "/v1/unload_lora_adapter": { POST: vllmUnload },
    "/v1/receipts": {
      GET: (_, res) =>
        send(res, 200, {
          pending: receipts.pending().length,
          sealed_batches: receipts.sealedBatches,
          sealed_receipts: receipts.sealedReceipts,
          batches: receipts.batches.map((b) => ({ root: b.root, count: b.receipts.length })),
        }),
    },
    "/v1/receipts/seal": { POST: (_, res) => sealReceipts(res) },
  };

  function routeOf(path: string, method: string): { pattern: string; param: string } | undefined {
    // GET or DELETE /v1/models/merge is the adapter named "merge"
    if (routes[path] && (routes[path][method] || !path.startsWith("/v1/models/"))) return { pattern: path, param: "" };
    if (path.startsWith("/v1/models/") && path.length > "/v1/models/".length) return { pattern: "/v1/models/{id}", param: decodePathSegment(path.slice("/v1/models/".length)) };
    return undefined;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const rawPath = (req.url ?? "/").split("?")[0];
    const path = rawPath.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const found = routeOf(path, method);
    if (!found) {
      throw requestError("request/no-route", `no route ${method} ${path.slice(0, 80)}`, `the routes are: ${Object.keys(routes).join(", ")}`, { method, path: path.slice(0, 80) }, 404);
    }
    const handler = routes[found.pattern][method];
    if (!handler) {
      const allow = Object.keys(routes[found.pattern]).join(", ");
      res.setHeader("allow", allow);
      throw requestError("request/method-not-allowed", `${found.pattern} answers ${allow}, not ${method}`, `use ${allow}`, { method, path: found.pattern, allow }, 405);
    }
    await handler(req, res, found.param);
    return found.pattern;
  }

  const server = createServer((req, res) => {
    route(req, res)
      .then((pattern) => metrics.requests.inc({ route: pattern, status: String(res.statusCode) }))
      .catch((e) => {
        const { status, body } = errorBody(e);
        metrics.requests.inc({ route: "error", status: String(status) });
        if (res.headersSent) res.end();
        else {
          send(res, status, body, status === 405 ? { allow: String(res.getHeader("allow") ?? "") } : {});
          req.resume(); // drain what the client still sends, so the connection closes cleanly
        }
      });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(listen.port ?? 0, listen.host ?? "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    receipts,
    metrics,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve, sep } from "node:path";
import { LabError } from "../errors.js";
import type { TieredAdapterCache } from "./adapter-cache.js";
import { OpenLoraError } from "./errors.js";
import { COMBINATION_TYPES, type CombinationType, combineAdapters, writeHostAdapter } from "./merge.js";
import { type ReceiptBatch, ReceiptLog, type RecordedBatch, receiptOf } from "./receipts.js";
import type { GenerationRequest, GenerationResult, Scheduler } from "./scheduler.js";

/**
 * OpenLoRA over HTTP, in the conventions clients already speak (OpenAI's completions API, as
 * LoRAX serves it: `model` names the adapter):
 *   POST   /v1/completions        { model, prompt, max_tokens, temperature, top_p, seed, stop, stream }
 *                                 stream: server-sent events "data: {chunk}\n\n" ... "data: [DONE]\n\n"
 *   GET    /v1/models             every adapter, with where it is loaded (disk, host, slot)
 *   POST   /v1/models             { id, path, base_model_sha256? }: load an adapter at run time
 *   DELETE /v1/models/{id}        unload it
 *   POST   /v1/models/merge       { id, adapters, weights?, merge_strategy, density?, majority_sign_method?, seed? }:
 *                                 combine registered adapters into a new one (LoRAX's merge strategies)
 *   GET    /health                status, base model, backend, queue
 *   GET    /v1/receipts           receipts waiting and batches sealed
 *   POST   /v1/receipts/seal      seal the waiting receipts under a Merkle root (and record it on chain)
 * A bad request is answered alone with a 4xx JSON error { error: { message, type, code, hint,
 * fields } }; the scheduler goes on serving everyone else.
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
  baseModel: { name: string; sha256: string };
  receipts?: ReceiptLog;
  /** Records a sealed batch on chain (the CLI wires InferenceReceipts); absent: sealed off chain. */
  recordBatch?: (batch: ReceiptBatch) => Promise<RecordedBatch>;
  /** Folders POST /v1/models may load from; a path outside them is refused. */
  loadRoots: string[];
  /** Folder combined adapters are written to (POST /v1/models/merge); absent: merging is refused. */
  mergeDir?: string;
  /** Largest request body in bytes. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  server: Server;
  receipts: ReceiptLog;
  close(): Promise<void>;
}

const created = () => Math.floor(Date.now() / 1000);

function bad(code: string, message: string, hint: string, fields: Record<string, string | number> = {}, status = 400): OpenLoraError {
  return new OpenLoraError({ code, message, hint, fields, status });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

function errorBody(e: unknown): { status: number; body: unknown } {
  if (e instanceof LabError) {
    const status = e instanceof OpenLoraError ? e.status : 400;
    const fields = JSON.parse(JSON.stringify(e.fields, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
    return { status, body: { error: { message: e.message, type: status >= 500 ? "server_error" : "invalid_request_error", code: e.code, hint: e.hint, fields } } };
  }
  return { status: 500, body: { error: { message: e instanceof Error ? e.message : String(e), type: "server_error", code: "server/internal" } } };
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw bad("request/too-large", `the request body exceeds ${limit} bytes`, "send a smaller body", { limit }, 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad("request/malformed-json", `the body is not JSON: ${(e as Error).message}`, "send a JSON object with content-type application/json");
  }
}

interface CompletionBody {
  model: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: string[];
  stream: boolean;
}

function field<T>(body: Record<string, unknown>, name: string, type: "string" | "number" | "boolean", fallback?: T): T {
  const v = body[name];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw bad("request/missing-field", `field "${name}" is required`, `add "${name}" (${type}) to the body`, { field: name });
    return fallback;
  }
  if (typeof v !== type || (type === "number" && !Number.isFinite(v)))
    throw bad("request/bad-field", `field "${name}" must be a ${type}, got ${JSON.stringify(v)}`, `send "${name}" as a ${type}`, { field: name });
  return v as T;
}

/** Checks a completions body field by field (OpenAI's names and defaults). */
export function parseCompletionBody(raw: unknown): CompletionBody {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("request/not-an-object", "the body must be a JSON object", 'send { "model": ..., "prompt": ... }');
  const body = raw as Record<string, unknown>;
  if (Array.isArray(body.prompt)) {
    if (body.prompt.length !== 1) throw bad("request/bad-field", "prompt arrays of more than one prompt are not served", "send one prompt per request", { field: "prompt" });
    body.prompt = body.prompt[0];
  }
  const maxTokens = field<number>(body, "max_tokens", "number", 16);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw bad("request/bad-field", `max_tokens must be a positive integer, got ${maxTokens}`, "set max_tokens to 1 or more", { field: "max_tokens" });
  const temperature = field<number>(body, "temperature", "number", 1);
  if (temperature < 0 || temperature > 2) throw bad("request/bad-field", `temperature must be in [0, 2], got ${temperature}`, "use 0 for greedy decoding", { field: "temperature" });
  const topP = field<number>(body, "top_p", "number", 1);
  if (!(topP > 0 && topP <= 1)) throw bad("request/bad-field", `top_p must be in (0, 1], got ${topP}`, "use 1 to sample from the whole distribution", { field: "top_p" });
  const seed = field<number>(body, "seed", "number", 0);
  if (!Number.isSafeInteger(seed)) throw bad("request/bad-field", `seed must be an integer, got ${seed}`, "send an integer seed", { field: "seed" });
  const n = body.n ?? 1;
  if (n !== 1) throw bad("request/bad-field", `n=${JSON.stringify(n)}: one completion per request is served`, "send n=1 (or leave it out)", { field: "n" });
  const stop = body.stop === undefined || body.stop === null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  if (!stop.every((s) => typeof s === "string" && s.length > 0))
    throw bad("request/bad-field", "stop must be a non-empty string or an array of them", "send stop as a string or string array", { field: "stop" });
  return {
    model: field<string>(body, "model", "string"),
    prompt: field<string>(body, "prompt", "string"),
    maxTokens,
    temperature,
    topP,
    seed,
    stop: stop as string[],
    stream: field<boolean>(body, "stream", "boolean", false),
  };
}

export async function startServer(opts: ServerOptions, listen: { port?: number; host?: string } = {}): Promise<RunningServer> {
  const receipts = opts.receipts ?? new ReceiptLog();
  const limit = opts.maxBodyBytes ?? 1 << 20;
  const { scheduler, cache, tokenizer } = opts;
  let counter = 0;
  const started = Date.now();

  const encode = (prompt: string): number[] => {
    try {
      return Array.from(tokenizer.encode(prompt));
    } catch (e) {
      throw bad("request/unknown-character", e instanceof Error ? e.message : String(e), "use only characters of the model's vocabulary (GET /health lists its size)");
    }
  };

  const modelEntry = (id: string) => {
    const r = cache.store.get(id);
    return {
      id,
      object: "model",
      created: 0,
      owned_by: "openlora",
      base_model_sha256: r.baseSha256,
      adapter_sha256: r.sha256,
      rank: r.config.r,
      target_modules: r.config.targetModules,
      location: cache.location(id),
    };
  };

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseCompletionBody(await readBody(req, limit));
    const prompt = encode(body.prompt);
    const id = `cmpl-${(++counter).toString(36)}-${started.toString(36)}`;
    const text = (tokens: number[]) => tokenizer.decode(tokens);
    const stopAt = (tokens: number[]) => {
      const t = text(tokens);
      return Math.min(
        ...body.stop.map((s) => {
          const i = t.indexOf(s);
          return i < 0 ? Infinity : i;
        }),
      );
    };
    const request: GenerationRequest = {
      id,
      adapter: body.model,
      prompt,
      maxTokens: body.maxTokens,
      seed: body.seed,
      sampling: { temperature: body.temperature, topP: body.topP },
      shouldStop: body.stop.length ? (tokens) => stopAt(tokens) !== Infinity : undefined,
    };
    scheduler.validate(request); // refused before any header is written
    const chunk = (textPart: string, finish: string | null, extra: object = {}) => ({
      id,
      object: "text_completion",
      created: created(),
      model: body.model,
      choices: [{ text: textPart, index: 0, logprobs: null, finish_reason: finish }],
      ...extra,
    });
    const finish = (r: GenerationResult) => {
      receipts.add(receiptOf(r, opts.backend));
      const full = text(r.tokens);
      const cut = stopAt(r.tokens);
      return { text: cut === Infinity ? full : full.slice(0, cut), usage: { prompt_tokens: r.prompt.length, completion_tokens: r.tokens.length, total_tokens: r.prompt.length + r.tokens.length } };
    };
    if (!body.stream) {
      const r = await scheduler.submit(request);
      const f = finish(r);
      send(res, 200, { ...chunk(f.text, r.finishReason), usage: f.usage, adapter_location: r.timings.coldStart.from, timings: r.timings });
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    request.onToken = (token) => res.write(`data: ${JSON.stringify(chunk(text([token]), null))}\n\n`);
    try {
      const r = await scheduler.submit(request);
      const f = finish(r);
      res.write(`data: ${JSON.stringify(chunk("", r.finishReason, { usage: f.usage }))}\n\n`);
    } catch (e) {
      res.write(`data: ${JSON.stringify(errorBody(e).body)}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  }

  async function loadAdapter(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, limit);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("request/not-an-object", "the body must be a JSON object", 'send { "id": ..., "path": ... }');
    const body = raw as Record<string, unknown>;
    const id = field<string>(body, "id", "string");
    const path = resolve(field<string>(body, "path", "string"));
    const baseSha256 = field<string>(body, "base_model_sha256", "string", "");
    if (!opts.loadRoots.some((root) => path === resolve(root) || path.startsWith(resolve(root) + sep))) {
      throw bad("adapter/path-not-allowed", `${path} is outside the folders this server loads adapters from`, `put the adapter under one of: ${opts.loadRoots.join(", ")}`, { path }, 403);
    }
    cache.store.register(id, path, { baseSha256: baseSha256 || undefined });
    try {
      await cache.prefetch(id); // reads every tensor now: a corrupt file is refused at load, not at first use
    } catch (e) {
      cache.store.unregister(id);
      throw e;
    }
    send(res, 201, modelEntry(id));
  }

  async function mergeAdapters(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!opts.mergeDir) throw bad("merge/disabled", "this server has no folder for merged adapters", "start it with a merge folder (./lab serve writes experiments/runs/openlora/merged)", {}, 403);
    const raw = await readBody(req, limit);
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("request/not-an-object", "the body must be a JSON object", 'send { "id", "adapters": [...], "merge_strategy" }');
    const body = raw as Record<string, unknown>;
    const id = field<string>(body, "id", "string");
    const ids = body.adapters;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((a) => typeof a === "string"))
      throw bad("request/bad-field", "adapters must be a non-empty array of adapter ids", "name the registered adapters to combine", { field: "adapters" });
    const weights = body.weights === undefined ? ids.map(() => 1) : body.weights;
    if (!Array.isArray(weights) || !weights.every((w) => typeof w === "number" && Number.isFinite(w)))
      throw bad("request/bad-field", "weights must be an array of numbers", "give one weight per adapter (default 1 each)", { field: "weights" });
    const strategy = field<string>(body, "merge_strategy", "string", "linear") as CombinationType;
    if (!COMBINATION_TYPES.includes(strategy))
      throw bad("request/bad-field", `merge_strategy "${strategy}" is not one of ${COMBINATION_TYPES.join(", ")}`, "use linear, ties, dare_linear or dare_ties", { field: "merge_strategy" });
    const method = field<string>(body, "majority_sign_method", "string", "total");
    if (method !== "total" && method !== "frequency")
      throw bad("request/bad-field", `majority_sign_method "${method}" is not total or frequency`, "use total (default) or frequency", { field: "majority_sign_method" });
    const density = body.density === undefined ? undefined : field<number>(body, "density", "number");
    const hosts = (ids as string[]).map((a) => cache.store.read(a));
    const combined = combineAdapters(id, hosts, weights as number[], { combinationType: strategy, density, majoritySignMethod: method, seed: field<number>(body, "seed", "number", 0) });
    if (cache.store.has(id)) throw bad("adapter/exists", `adapter "${id}" is already registered`, "choose another id for the merged adapter", { adapter: id }, 409);
    const dir = join(opts.mergeDir, id.replace(/[^A-Za-z0-9._-]/g, "_"));
    writeHostAdapter(dir, combined);
    cache.store.register(id, dir);
    send(res, 201, modelEntry(id));
  }

  async function sealReceipts(res: ServerResponse): Promise<void> {
    const batch = receipts.seal();
    const onChain = opts.recordBatch ? await opts.recordBatch(batch) : undefined;
    send(res, 200, { root: batch.root, count: batch.receipts.length, base_model_sha256: batch.baseModelHash, batch_id: onChain?.batchId.toString() ?? null, tx_hash: onChain?.txHash ?? null });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/health") {
      return send(res, 200, {
        status: "ok",
        base_model: opts.baseModel,
        backend: opts.backend,
        adapters: cache.store.list().length,
        slots: cache.bank.slots,
        slots_used: cache.bank.occupied().length,
        host_bytes: cache.hostBytes(),
        host_budget_bytes: cache.hostBudgetBytes,
        queued: scheduler.queued(),
        running: scheduler.active(),
        uptime_s: (Date.now() - started) / 1000,
      });
    }
    if (path === "/v1/completions" && method === "POST") return completions(req, res);
    if (path === "/v1/models" && method === "GET") return send(res, 200, { object: "list", data: cache.store.list().map((r) => modelEntry(r.id)) });
    if (path === "/v1/models" && method === "POST") return loadAdapter(req, res);
    if (path === "/v1/models/merge" && method === "POST") return mergeAdapters(req, res);
    if (path.startsWith("/v1/models/") && method === "GET") return send(res, 200, modelEntry(decodeURIComponent(path.slice("/v1/models/".length))));
    if (path.startsWith("/v1/models/") && method === "DELETE") {
      const id = decodeURIComponent(path.slice("/v1/models/".length));
      cache.store.get(id);
      cache.evict(id);
      cache.store.unregister(id);
      return send(res, 200, { id, object: "model", deleted: true });
    }
    if (path === "/v1/receipts" && method === "GET") return send(res, 200, { pending: receipts.pending().length, batches: receipts.batches.map((b) => ({ root: b.root, count: b.receipts.length })) });
    if (path === "/v1/receipts/seal" && method === "POST") return sealReceipts(res);
    throw bad("request/no-route", `no route ${method} ${path}`, "see GET /health, GET|POST /v1/models, POST /v1/completions, POST /v1/receipts/seal", { method, path }, 404);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e) => {
      const { status, body } = errorBody(e);
      if (res.headersSent) res.end();
      else send(res, status, body);
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
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

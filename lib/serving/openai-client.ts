import { encodeBytes32String, sha256 } from "ethers";
import { bytes32Hex } from "../chain/contracts.js";
import { NO_ADAPTER_SHA256, type TieredAdapterCache } from "./adapter-cache.js";
import { OpenLoraError } from "./errors.js";
import { type InferenceReceipt, type ReceiptLog, tokenHash } from "./receipts.js";

/**
 * The client side of the OpenAI-compatible API, for the notebooks and the loop: where their
 * requests go, the adapters the target must serve, and receipts for a target that writes none.
 * LAB_OPENAI_BASE_URL names any OpenAI-compatible server by its base (as OpenAI's clients take
 * it: http://HOST:PORT/v1); unset, the requests go to the lab's own OpenLoRA server.
 */
export function openAiBaseUrl(labServerUrl: string): string {
  const given = process.env.LAB_OPENAI_BASE_URL?.trim();
  return (given || `${labServerUrl}/v1`).replace(/\/+$/, "");
}

/** True when `baseUrl` is the lab server's own (its receipts are written by the server). */
export function isLabServer(baseUrl: string, labServerUrl: string): boolean {
  return baseUrl === `${labServerUrl}/v1`;
}

/**
 * A served model's context in tokens (`max_model_len`, as vLLM's /v1/models lists it): prompt and
 * completion together must fit it.
 */
export async function modelContextLength(baseUrl: string, model: string): Promise<number> {
  const listed = await fetch(`${baseUrl}/models`);
  if (!listed.ok) throw unreachable(baseUrl, `GET /models answered ${listed.status}`);
  const entry = ((await listed.json()) as { data: Array<{ id: string; max_model_len?: number }> }).data.find((m) => m.id === model);
  if (entry?.max_model_len === undefined) throw unreachable(baseUrl, `GET /models lists no max_model_len for ${model}`);
  return entry.max_model_len;
}

/**
 * Makes the target serve these adapters: each one its /v1/models does not list is loaded with
 * vLLM's /v1/load_lora_adapter (which the lab's server answers too). Returns the names loaded.
 */
export async function ensureAdapters(baseUrl: string, adapters: ReadonlyArray<{ name: string; path: string }>): Promise<string[]> {
  const listed = await fetch(`${baseUrl}/models`);
  if (!listed.ok) throw unreachable(baseUrl, `GET /models answered ${listed.status}`);
  const served = new Set(((await listed.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id));
  const loaded: string[] = [];
  for (const a of adapters) {
    if (served.has(a.name)) continue;
    const res = await fetch(`${baseUrl}/load_lora_adapter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lora_name: a.name, lora_path: a.path }) });
    if (!res.ok) throw unreachable(baseUrl, `loading ${a.name} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    loaded.push(a.name);
  }
  return loaded;
}

function unreachable(baseUrl: string, what: string): OpenLoraError {
  return new OpenLoraError({
    code: "client/target-refused",
    status: 502,
    fields: { baseUrl },
    message: `the OpenAI-compatible server at ${baseUrl}: ${what}`,
    hint: "check LAB_OPENAI_BASE_URL (a base such as http://127.0.0.1:8000/v1) and that the server allows run-time LoRA loading",
  });
}

/**
 * The receipt of a completion another server answered, written by the client from what it sent
 * and received: the same fields as the lab server's receipts, the tokens those of the lab's
 * tokenizer for the prompt and the returned text, the latency the client measured.
 */
export function clientReceipt(o: {
  id: string;
  prompt: ArrayLike<number>;
  output: ArrayLike<number>;
  adapterSha256: string;
  baseSha256: string;
  latencyMs: number;
  backend: string;
}): InferenceReceipt {
  return {
    requestId: sha256(new TextEncoder().encode(o.id)),
    adapterHash: bytes32Hex(o.adapterSha256),
    baseModelHash: bytes32Hex(o.baseSha256),
    promptHash: tokenHash(Array.from(o.prompt)),
    outputHash: tokenHash(Array.from(o.output)),
    tokensIn: o.prompt.length,
    tokensOut: o.output.length,
    latencyMicros: Math.round(o.latencyMs * 1000),
    backend: encodeBytes32String(o.backend.slice(0, 31)),
    cut: false,
  };
}

/**
 * A completions client for the notebooks and the loop: `complete(body)` POSTs to /completions of
 * LAB_OPENAI_BASE_URL or the lab's server. The lab's server writes its own receipts; for any other
 * target the client writes each answered completion's receipt into the lab server's log, so the
 * receipt batch that is sealed covers every inference served, wherever it ran.
 */
export function completionsClient(o: {
  server: { url: string; receipts: ReceiptLog };
  cache: TieredAdapterCache;
  tokenizer: { encode(s: string): ArrayLike<number> };
  baseSha256: string;
  /** Names the client's requests "<prefix><n>" in call order (vLLM's request_id), so a seeded run seals the same receipts root each time. */
  requestIdPrefix?: string;
}): {
  baseUrl: string;
  external: boolean;
  complete(body: unknown): Promise<Response>;
} {
  const baseUrl = openAiBaseUrl(o.server.url);
  const external = !isLabServer(baseUrl, o.server.url);
  let numbered = 0;
  // Numbered at call time, before any await: concurrent calls keep the order they were made in.
  const named = (body: unknown): unknown =>
    o.requestIdPrefix !== undefined && typeof body === "object" && body !== null && !("request_id" in body) ? { ...body, request_id: `${o.requestIdPrefix}${++numbered}` } : body;
  const complete = async (body: unknown): Promise<Response> => {
    const started = performance.now();
    // Only the lab's server is sent a request_id: other OpenAI-compatible servers may refuse the field.
    const payload = external ? body : named(body);
    const res = await fetch(`${baseUrl}/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof payload === "string" ? payload : JSON.stringify(payload) });
    if (!external || res.status !== 200) return res;
    const sent = body as { model: string; prompt: string };
    const answer = (await res.clone().json()) as { id: string; choices: Array<{ text: string }> };
    const { store } = o.cache;
    o.server.receipts.add(
      clientReceipt({
        id: answer.id,
        prompt: o.tokenizer.encode(sent.prompt),
        output: o.tokenizer.encode(answer.choices[0].text),
        adapterSha256: store.has(sent.model) ? store.get(sent.model).sha256 : NO_ADAPTER_SHA256,
        baseSha256: o.baseSha256,
        latencyMs: performance.now() - started,
        backend: new URL(baseUrl).host,
      }),
    );
    return res;
  };
  return { baseUrl, external, complete };
}

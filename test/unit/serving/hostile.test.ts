import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { charTokenizer } from "../../../lib/intelligence/datasets/text-corpus.js";
import { createGpt } from "../../../lib/intelligence/models/gpt.js";
import { decodeSafetensors, encodeSafetensors } from "../../../lib/intelligence/peft/safetensors.js";
import {
  type BaseModelInfo,
  BatchedEngine,
  mergedFolderName,
  ReceiptLog,
  type RunningServer,
  renderChat,
  Scheduler,
  servingLayers,
  startServer,
  weightsSha256,
  writeGeneratedAdapter,
} from "../../../lib/serving/index.js";
import { generatedAdapters, servingStack, tf } from "./fixtures.js";

/**
 * The server as a hostile client meets it: every refusal answered alone with its status and code,
 * nothing else changed on disk, and the requests beside it served as if it had not come.
 */
// the tiny GPT with a context long enough for the chat template and for streams to be cut mid-way
const model = createGpt(tf, { vocabSize: 13, blockSize: 64, nLayer: 2, nHead: 2, nEmbd: 16 });
const weights = model.init(3);
const base = { model, weights, info: { sha256: await weightsSha256(weights), modules: model.linearModules } as BaseModelInfo };
const { root, dirs } = generatedAdapters(base.info, 6);
const outside = mkdtempSync(join(tmpdir(), "openlora-outside-"));
const mergeDir = join(root, "merged");
// 13 symbols, the tiny base's vocabulary, holding the chat template's characters
const tokenizer = charTokenizer("Assistant: User\nb");
const letters = "Assinte ";

let server: RunningServer;
let stack: ReturnType<typeof servingStack>;
let scheduler: Scheduler;
let receipts: ReceiptLog;

before(async () => {
  stack = servingStack(base.info, dirs.slice(0, 4), { slots: 8, maxRank: 4 });
  scheduler = new Scheduler({
    engine: new BatchedEngine(tf, base.model.config, base.weights, servingLayers(tf, base.weights, base.model.linearModules), stack.bank),
    cache: stack.cache,
    blockSize: 64,
    maxBatchSize: 32,
  });
  receipts = new ReceiptLog({ keepBatches: 2 });
  server = await startServer({ scheduler, cache: stack.cache, tokenizer, backend: "wasm", baseModel: { name: "tiny", sha256: base.info.sha256 }, loadRoots: [root], mergeDir, receipts });
});
after(() => server.close());

const post = (path: string, body: unknown) =>
  fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

async function refused(res: Response, status: number, code: string, field?: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as { error: { code: string; param: string | null; fields: Record<string, unknown>; hint: string } };
  expect(res.status, `${code}: ${JSON.stringify(body)}`).to.equal(status);
  expect(body.error.code).to.equal(code);
  expect(body.error.hint).to.be.a("string").and.not.empty;
  if (field !== undefined) expect(body.error.param).to.equal(field);
  return body.error.fields;
}

/** Every file under `dir` with its sha256: what "nothing changed on disk" is checked against. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

const modelIds = async () => ((await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

/** A copy of adapter `from` under the root with its config edited. */
function editedConfig(name: string, from: string, edit: (c: Record<string, unknown>) => void): string {
  const dir = join(root, name);
  cpSync(from, dir, { recursive: true });
  const c = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  edit(c);
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(c));
  return dir;
}

/** A copy of adapter `from` under the root with every tensor value rewritten. */
function editedTensors(name: string, from: string, value: (name: string, i: number) => number): string {
  const dir = join(root, name);
  cpSync(from, dir, { recursive: true });
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, "adapter_model.safetensors")));
  for (const [k, t] of Object.entries(tensors)) t.data = Float32Array.from(t.data, (_, i) => value(k, i));
  writeFileSync(join(dir, "adapter_model.safetensors"), encodeSafetensors(tensors, metadata));
  return dir;
}

describe("OpenLoRA against hostile clients", () => {
  it("merge ids are checked before anything is written: . and .. are 400, one id is one folder, an existing folder is a 409", async () => {
    expect((await post("/v1/models/merge", { id: "keep", adapters: ["a0"] })).status).to.equal(201);
    const before = snapshot(root);
    for (const id of [".", "..", "a/..", "../x", ""]) await refused(await post("/v1/models/merge", { id, adapters: ["a0"] }), 400, "adapter/bad-id");
    expect(snapshot(root)).to.deep.equal(before);
    expect((await post("/v1/completions", { model: "keep", prompt: "As", max_tokens: 2 })).status).to.equal(200);
    // x_y and x:y: two ids, two folders
    expect((await post("/v1/models/merge", { id: "x_y", adapters: ["a0"], weights: [0.5] })).status).to.equal(201);
    const first = snapshot(join(mergeDir, "x_y"));
    expect((await post("/v1/models/merge", { id: "x:y", adapters: ["a0"], weights: [2] })).status).to.equal(201);
    expect(snapshot(join(mergeDir, "x_y"))).to.deep.equal(first);
    expect(mergedFolderName("x:y")).to.equal("x%3Ay");
    // a folder already there (a merge of an earlier server) is never replaced
    mkdirSync(join(mergeDir, "old"), { recursive: true });
    writeFileSync(join(mergeDir, "old", "note.txt"), "kept");
    const mid = snapshot(root);
    await refused(await post("/v1/models/merge", { id: "old", adapters: ["a0"] }), 409, "adapter/folder-exists");
    await refused(await post("/v1/models/merge", { id: "keep", adapters: ["a0"] }), 409, "adapter/exists");
    await refused(await post("/v1/models/merge", { id: "tiny", adapters: ["a0"] }), 409, "adapter/exists");
    await refused(await post("/v1/models/merge", { id: "mixed", adapters: ["a0", "a1"] }), 422, "merge/rank-mismatch");
    expect(snapshot(root)).to.deep.equal(mid);
    for (const id of ["keep", "x_y", "x:y"]) expect((await fetch(`${server.url}/v1/models/${encodeURIComponent(id)}`, { method: "DELETE" })).status).to.equal(200);
  });

  it("adapters are checked whole at load: config types, rank against --max-rank, target modules, finite tensors; nothing is registered", async () => {
    const ids = await modelIds();
    const cases: Array<[string, string, string, string]> = [
      ["alpha-text", editedConfig("alpha-text", dirs[4], (c) => (c.lora_alpha = "x")), "adapter/bad-config", "lora_alpha"],
      ["rank-text", editedConfig("rank-text", dirs[4], (c) => (c.r = "2")), "adapter/bad-config", "r"],
      ["no-targets", editedConfig("no-targets", dirs[4], (c) => delete c.target_modules), "adapter/bad-config", "target_modules"],
      ["dora", editedConfig("dora", dirs[4], (c) => (c.use_dora = true)), "adapter/unsupported", ""],
      ["nan", editedTensors("nan", dirs[4], (name, i) => (name.includes("lora_B") && i === 3 ? Number.NaN : 0.1)), "adapter/non-finite", ""],
    ];
    const wide = join(root, "wide");
    writeGeneratedAdapter(wide, base.info, { r: 8, targetModules: ["q_proj"], seed: 9 });
    cases.push(["wide", wide, "adapter/rank-too-large", ""]);
    const before = snapshot(root);
    for (const [id, path, code, field] of cases) {
      const fields = await refused(await post("/v1/models", { id, path }), 422, code);
      if (field) expect(fields.field, id).to.equal(field);
    }
    expect(snapshot(root)).to.deep.equal(before);
    expect(await modelIds()).to.deep.equal(ids);
  });

  it("a request whose adapter fails at run time fails alone: 24 requests beside it get the tokens they get without it", async () => {
    // finite weights that overflow: every logit of its rows becomes infinite
    const overflowing = editedTensors("overflow", dirs[4], (name, i) => (name.includes("lora_A") ? (i % 2 ? 1e20 : -1e20) : 1e20));
    const load = await post("/v1/models", { id: "overflow", path: overflowing });
    expect(load.status).to.equal(201);
    const good = Array.from({ length: 24 }, (_, i) => ({
      model: i % 5 === 4 ? "tiny" : `a${i % 4}`,
      prompt: letters.slice(i % 5, (i % 5) + 3),
      max_tokens: 5,
      temperature: 0.8,
      seed: i,
      stream: i % 2 === 0,
    }));
    const textOf = async (res: Response, stream: boolean) => {
      expect(res.status).to.equal(200);
      if (!stream) return ((await res.json()) as { choices: Array<{ text: string }> }).choices[0].text;
      const frames = (await res.text()).split("\n\n").filter(Boolean);
      expect(frames[frames.length - 1]).to.equal("data: [DONE]");
      return frames
        .slice(0, -1)
        .map((f) => (JSON.parse(f.slice(6)) as { choices: Array<{ text: string }> }).choices[0].text)
        .join("");
    };
    const alone = [];
    for (const g of good) alone.push(await textOf(await post("/v1/completions", g), g.stream));
    const mixed = [...good.slice(0, 12), { model: "overflow", prompt: "Ass", max_tokens: 5, temperature: 1, seed: 1, stream: false }, ...good.slice(12)];
    const answers = await Promise.all(mixed.map((m) => post("/v1/completions", m)));
    const bad = answers.splice(12, 1)[0];
    const fields = await refused(bad, 422, "adapter/non-finite-output");
    expect(fields.adapter).to.equal("overflow");
    const texts = await Promise.all(answers.map((a, i) => textOf(a, good[i].stream)));
    expect(texts).to.deep.equal(alone);
    expect((await fetch(`${server.url}/v1/models/overflow`, { method: "DELETE" })).status).to.equal(200);
  });

  it("load paths are resolved with realpath: a link inside a root pointing outside is 403, a missing folder 404", async () => {
    cpSync(dirs[5], join(outside, "adapter"), { recursive: true });
    symlinkSync(join(outside, "adapter"), join(root, "link-out"));
    mkdirSync(join(root, "file-link"));
    copyConfig(dirs[5], join(root, "file-link"));
    symlinkSync(join(outside, "adapter", "adapter_model.safetensors"), join(root, "file-link", "adapter_model.safetensors"));
    const ids = await modelIds();
    await refused(await post("/v1/models", { id: "escape", path: join(root, "link-out") }), 403, "adapter/path-not-allowed");
    await refused(await post("/v1/load_lora_adapter", { lora_name: "escape", lora_path: join(root, "file-link") }), 403, "adapter/path-not-allowed");
    await refused(await post("/v1/models", { id: "up", path: join(root, "..", "..", "etc") }), 403, "adapter/path-not-allowed");
    await refused(await post("/v1/models", { id: "gone", path: join(root, "nowhere") }), 404, "adapter/not-found");
    expect(await modelIds()).to.deep.equal(ids);
  });

  it("vLLM's load and unload routes answer as vLLM does; a second load of one name is a 409, an unknown unload a 404", async () => {
    const load = await post("/v1/load_lora_adapter", { lora_name: "v1", lora_path: dirs[5] });
    expect(load.status).to.equal(200);
    expect(await load.text()).to.equal("Success: LoRA adapter 'v1' added successfully.");
    expect((await modelIds()).includes("v1")).to.equal(true);
    await refused(await post("/v1/load_lora_adapter", { lora_name: "v1", lora_path: dirs[5] }), 409, "adapter/exists");
    await refused(await post("/v1/load_lora_adapter", { lora_name: "v2", lora_path: dirs[5], load_inplace: true }), 400, "request/unsupported-field", "load_inplace");
    const unload = await post("/v1/unload_lora_adapter", { lora_name: "v1" });
    expect(await unload.text()).to.equal("Success: LoRA adapter 'v1' removed successfully.");
    await refused(await post("/v1/unload_lora_adapter", { lora_name: "v1" }), 404, "adapter/unknown");
  });

  it("a client that disconnects cancels its generation; its receipt counts the tokens written to it and says the stream was cut", async () => {
    const sealedBefore = receipts.pending().length;
    const cancelledBefore = scheduler.stats.cancelled;
    const clients = 8;
    const got = await Promise.all(Array.from({ length: clients }, (_, i) => abortAfter({ model: `a${i % 4}`, prompt: "A", max_tokens: 60, temperature: 0, stream: true }, 3)));
    await until(() => scheduler.active() === 0 && scheduler.queued() === 0);
    expect(scheduler.stats.cancelled - cancelledBefore).to.equal(clients);
    const cut = receipts.pending().slice(sealedBefore);
    expect(cut).to.have.length(clients);
    for (const r of cut) {
      expect(r.cut).to.equal(true);
      expect(r.tokensOut).to.be.lessThan(60);
    }
    expect(Math.min(...cut.map((r) => r.tokensOut))).to.be.at.least(Math.min(...got));
  });

  it("a request_id names one request: a second request under it is 409 while the first streams, and while its receipt is kept (pending, then sealed)", async () => {
    const body = { model: "a1", prompt: "A", max_tokens: 60, temperature: 0, stream: true, request_id: "twice" };
    let running: Record<string, unknown> = {};
    await abortAfter(body, 3, async () => {
      running = await refused(await post("/v1/completions", { ...body, stream: false }), 409, "request/duplicate-id", "request_id");
    });
    expect(running).to.deep.include({ id: "cmpl-twice", field: "request_id" });
    await until(() => scheduler.active() === 0 && scheduler.queued() === 0);
    const pendingBefore = receipts.pending().length;
    const pending = await refused(await post("/v1/completions", { ...body, stream: false, max_tokens: 2 }), 409, "request/duplicate-id", "request_id");
    expect(pending).to.deep.equal({ id: "cmpl-twice", field: "request_id", receipt: "pending" });
    expect(receipts.pending().length, "a refused request leaves no receipt").to.equal(pendingBefore);
    expect((await post("/v1/receipts/seal", {})).status).to.equal(200);
    const chat = await post("/v1/chat/completions", { model: "a1", messages: [{ role: "user", content: "A" }], max_tokens: 2, request_id: "twice" });
    expect(chat.status, "a chat completion under the name is chatcmpl-twice: another receipt").to.equal(200);
    const again = await refused(await post("/v1/completions", { ...body, stream: false, max_tokens: 2 }), 409, "request/duplicate-id", "request_id");
    expect(again).to.deep.equal({ id: "cmpl-twice", field: "request_id", receipt: "sealed" });
    // once its batch has left memory (2 batches kept here), the id names nothing the server holds
    for (let i = 0; i < receipts.keepBatches; i++) {
      expect((await post("/v1/completions", { model: "a0", prompt: "A", max_tokens: 1 })).status).to.equal(200);
      expect((await post("/v1/receipts/seal", {})).status).to.equal(200);
    }
    const free = await post("/v1/completions", { ...body, stream: false, max_tokens: 2 });
    expect(free.status).to.equal(200);
    expect(((await free.json()) as { id: string }).id).to.equal("cmpl-twice");
  });

  it("bounded parsing: a prompt is measured in bytes before it is tokenized; a body over the limit is 413", async () => {
    // characters outside the vocabulary: tokenizing first would answer unknown-character
    const fields = await refused(await post("/v1/completions", { model: "a0", prompt: "☃".repeat(2000) }), 400, "request/prompt-too-long", "prompt");
    expect(fields.promptBytes).to.equal(6000);
    await refused(await post("/v1/completions", { model: "a0", prompt: "A".repeat(1 << 20) }), 413, "request/too-large");
    expect((await fetch(`${server.url}/health`)).status).to.equal(200);
  });

  it("the dialect: bad URI 400, wrong method 405 with Allow, unsupported fields 400 by name, max_tokens beyond the context 400", async () => {
    await refused(await fetch(`${server.url}/v1/models/%E0%A4%A`), 400, "request/bad-uri");
    const wrong = await fetch(`${server.url}/v1/completions`);
    expect(wrong.headers.get("allow")).to.equal("POST");
    await refused(wrong, 405, "request/method-not-allowed");
    await refused(await fetch(`${server.url}/v1/models`, { method: "PUT" }), 405, "request/method-not-allowed");
    await refused(await fetch(`${server.url}/nowhere`), 404, "request/no-route");
    const body = { model: "a0", prompt: "As", max_tokens: 2 };
    await refused(await post("/v1/completions", { ...body, logit_bias: { "3": 5 } }), 400, "request/unsupported-field", "logit_bias");
    await refused(await post("/v1/completions", { ...body, best_of: 2 }), 400, "request/unsupported-field", "best_of");
    await refused(await post("/v1/completions", { ...body, presence_penalty: 0.5 }), 400, "request/unsupported-field", "presence_penalty");
    await refused(await post("/v1/completions", { ...body, guided_json: {} }), 400, "request/unsupported-field", "guided_json");
    await refused(await post("/v1/completions", { ...body, echo: true, logprobs: 1 }), 400, "request/unsupported-field", "echo");
    await refused(await post("/v1/chat/completions", { model: "a0", messages: [{ role: "user", content: "A" }], tools: [] }), 400, "request/unsupported-field", "tools");
    const over = await refused(await post("/v1/completions", { ...body, max_tokens: 64 }), 400, "request/context-exceeded", "max_tokens");
    expect(over).to.include({ promptTokens: 2, maxTokens: 64, contextTokens: 65 });
    expect((await post("/v1/completions", { ...body, max_tokens: 63, logit_bias: {}, best_of: 1, presence_penalty: 0, user: "u1" })).status).to.equal(200);
  });

  it("the base model is listed first and served under its own id; it cannot be unloaded; created times are real", async () => {
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string; created: number; parent: string | null; max_model_len: number }> };
    expect(models.data[0]).to.include({ id: "tiny", parent: null, max_model_len: 65 });
    expect(models.data[1].parent).to.equal("tiny");
    const now = Date.now() / 1000;
    for (const m of models.data) expect(m.created).to.be.within(now - 600, now + 1);
    const res = await post("/v1/completions", { model: "tiny", prompt: "As", max_tokens: 3, temperature: 0 });
    expect(res.status).to.equal(200);
    const json = (await res.json()) as { created: number; choices: Array<{ text: string }> };
    expect(json.created).to.be.within(now - 5, now + 5);
    expect(json.choices[0].text).to.have.length(3);
    await refused(await fetch(`${server.url}/v1/models/tiny`, { method: "DELETE" }), 400, "adapter/base-model");
  });

  it("chat completions render the documented template; streamed, the same reply in deltas", async () => {
    const messages = [
      { role: "system", content: "Be brief" },
      { role: "user", content: "Ask" },
    ];
    expect(renderChat(messages)).to.equal("System: Be brief\nUser: Ask\nAssistant: ");
    const chat = [{ role: "user", content: "A" }];
    const res = await post("/v1/chat/completions", { model: "a1", messages: chat, max_tokens: 3, temperature: 0 });
    expect(res.status).to.equal(200);
    const json = (await res.json()) as { object: string; choices: Array<{ message: { role: string; content: string }; finish_reason: string }> };
    expect(json.object).to.equal("chat.completion");
    expect(json.choices[0].message.role).to.equal("assistant");
    const plain = (await (await post("/v1/completions", { model: "a1", prompt: renderChat(chat), max_tokens: 3, temperature: 0 })).json()) as { choices: Array<{ text: string }> };
    expect(json.choices[0].message.content).to.equal(plain.choices[0].text);
    const sse = await (await post("/v1/chat/completions", { model: "a1", messages: chat, max_tokens: 3, temperature: 0, stream: true })).text();
    const frames = sse.split("\n\n").filter(Boolean);
    expect(frames[frames.length - 1]).to.equal("data: [DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)) as { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> });
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).to.equal(true);
    expect(chunks[0].choices[0].delta.role).to.equal("assistant");
    expect(chunks.map((c) => c.choices[0].delta.content ?? "").join("")).to.equal(json.choices[0].message.content);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).to.equal("length");
  });

  it("logprobs (top k per token), echo and stop are honoured, streamed or not", async () => {
    const res = await post("/v1/completions", { model: "a2", prompt: "As", max_tokens: 4, temperature: 0, logprobs: 2 });
    const json = (await res.json()) as {
      choices: Array<{ text: string; logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: Array<Record<string, number>>; text_offset: number[] } }>;
    };
    const lp = json.choices[0].logprobs;
    expect(lp.tokens.join("")).to.equal(json.choices[0].text);
    expect(lp.text_offset).to.deep.equal([0, 1, 2, 3]);
    for (const [k, top] of lp.top_logprobs.entries()) {
      const values = Object.values(top);
      expect(values.length).to.be.within(2, 3);
      expect(lp.token_logprobs[k]).to.equal(Math.max(...values)); // greedy: the sampled token is the most likely
      expect(lp.token_logprobs[k]).to.be.at.most(0);
    }
    const chat = (await (await post("/v1/chat/completions", { model: "a2", messages: [{ role: "user", content: "A" }], max_tokens: 2, temperature: 0, logprobs: true, top_logprobs: 3 })).json()) as {
      choices: Array<{ logprobs: { content: Array<{ token: string; logprob: number; top_logprobs: unknown[] }> } }>;
    };
    expect(chat.choices[0].logprobs.content).to.have.length(2);
    expect(chat.choices[0].logprobs.content[0].top_logprobs).to.have.length(3);
    const echo = (await (await post("/v1/completions", { model: "a2", prompt: "As", max_tokens: 4, temperature: 0, echo: true })).json()) as { choices: Array<{ text: string }> };
    expect(echo.choices[0].text).to.equal(`As${json.choices[0].text}`);
    const stop = json.choices[0].text.slice(1, 3);
    const cut = (await (await post("/v1/completions", { model: "a2", prompt: "As", max_tokens: 4, temperature: 0, stop })).json()) as { choices: Array<{ text: string; finish_reason: string }> };
    expect(cut.choices[0]).to.deep.include({ text: json.choices[0].text.slice(0, json.choices[0].text.indexOf(stop)), finish_reason: "stop" });
    const sse = await (await post("/v1/completions", { model: "a2", prompt: "As", max_tokens: 4, temperature: 0, stop, stream: true })).text();
    const streamed = sse
      .split("\n\n")
      .filter((f) => f.startsWith("data: {"))
      .map((f) => (JSON.parse(f.slice(6)) as { choices: Array<{ text: string }> }).choices[0].text)
      .join("");
    expect(streamed).to.equal(cut.choices[0].text); // nothing of the stop sequence was streamed
  });

  it("GET /metrics answers Prometheus text that counts requests, tokens, latency, cache and slots", async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1] ?? Number.NaN);
    expect((await post("/v1/completions", { model: "a3", prompt: "A", max_tokens: 2 })).status).to.equal(200);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).to.contain("text/plain");
    const text = await res.text();
    for (const name of ["openlora_requests_total", "openlora_request_latency_seconds", "openlora_adapter_acquires_total", "openlora_slots_used", "openlora_cold_starts_total"])
      expect(text).to.contain(`# TYPE ${name}`);
    expect(count(text, "openlora_generation_tokens_total") - count(before, "openlora_generation_tokens_total")).to.equal(2);
    expect(count(text, "openlora_request_latency_seconds_count") - count(before, "openlora_request_latency_seconds_count")).to.equal(1);
    expect(text).to.match(/openlora_request_latency_seconds_bucket\{le="\+Inf"\} \d+/);
  });

  it("receipts stay bounded: sealed batches beyond the last few leave memory, the counts cover all", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await post("/v1/completions", { model: "a0", prompt: "A", max_tokens: 1 })).status).to.equal(200);
      expect((await post("/v1/receipts/seal", {})).status).to.equal(200);
    }
    const r = (await (await fetch(`${server.url}/v1/receipts`)).json()) as { sealed_batches: number; batches: unknown[] };
    expect(r.sealed_batches).to.be.at.least(3);
    expect(r.batches).to.have.length(2);
    expect(receipts.batches).to.have.length(2);
  });
});

function copyConfig(from: string, to: string): void {
  writeFileSync(join(to, "adapter_config.json"), readFileSync(join(from, "adapter_config.json")));
}

/** Streams a completion and hangs up after `events` chunks; returns how many it read. */
/** Opens a stream, reads `events` events, runs `whileOpen` (the stream still running), then disconnects. */
function abortAfter(body: object, events: number, whileOpen: () => Promise<void> = async () => {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
      let seen = 0;
      let leaving = false;
      res.on("data", (b: Buffer) => {
        seen += b
          .toString()
          .split("\n\n")
          .filter((f) => f.startsWith("data: {")).length;
        if (seen >= events && !leaving) {
          leaving = true;
          whileOpen().then(() => {
            req.destroy();
            resolve(seen);
          }, reject);
        }
      });
      res.on("end", () => resolve(seen));
    });
    req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(e)));
    req.end(data);
  });
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(done()).to.equal(true);
}

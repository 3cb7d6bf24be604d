import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { charTokenizer } from "../../../lib/intelligence/datasets/text-corpus.js";
import { BatchedEngine, type RunningServer, receiptProof, Scheduler, servingLayers, startServer, verifyReceiptProof } from "../../../lib/serving/index.js";
import { generatedAdapters, servingStack, tf, tinyBase } from "./fixtures.js";

const base = await tinyBase();
const other = await tinyBase(2);
const { root, dirs } = generatedAdapters(base.info, 5);
const tokenizer = charTokenizer("abcdefghijklm"); // 13 symbols: the tiny base's vocabulary

let server: RunningServer;
let stack: ReturnType<typeof servingStack>;
let scheduler: Scheduler;

before(async () => {
  stack = servingStack(base.info, dirs.slice(0, 4), { slots: 3 });
  scheduler = new Scheduler({
    engine: new BatchedEngine(tf, base.model.config, base.weights, servingLayers(tf, base.weights, base.model.linearModules), stack.bank),
    cache: stack.cache,
    blockSize: 12,
    maxBatchSize: 4,
  });
  server = await startServer({ scheduler, cache: stack.cache, tokenizer, backend: "wasm", baseModel: { name: "tiny", sha256: base.info.sha256 }, loadRoots: [root], mergeDir: join(root, "merged") });
});
after(() => server.close());

const post = (path: string, body: unknown) =>
  fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

interface Chunk {
  choices?: Array<{ text: string; finish_reason: string | null }>;
}
interface ModelEntry {
  id: string;
  location: string;
}

async function streamed(body: object): Promise<{ text: string; events: Chunk[] }> {
  const res = await post("/v1/completions", { ...body, stream: true });
  expect(res.status).to.equal(200);
  expect(res.headers.get("content-type")).to.equal("text/event-stream");
  const raw = await res.text();
  const frames = raw.split("\n\n").filter(Boolean);
  expect(frames.every((f) => f.startsWith("data: "))).to.equal(true);
  expect(frames[frames.length - 1]).to.equal("data: [DONE]");
  const events = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)) as Chunk);
  return { text: events.map((e) => e.choices?.[0]?.text ?? "").join(""), events };
}

describe("OpenLoRA HTTP server", () => {
  it("answers /health and lists adapters with where each is loaded", async () => {
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health).to.include({ status: "ok", backend: "wasm", adapters: 4, slots: 3 });
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    expect(models.object).to.equal("list");
    expect((models.data as ModelEntry[]).map((m) => m.id)).to.deep.equal(["tiny", "a0", "a1", "a2", "a3"]);
    expect(models.data[1]).to.include({ location: "disk", rank: 2, base_model_sha256: base.info.sha256 });
  });

  it("serves an OpenAI completion, and the same tokens as server-sent events", async () => {
    const body = { model: "a1", prompt: "abc", max_tokens: 5, temperature: 0 };
    const res = await post("/v1/completions", body);
    expect(res.status).to.equal(200);
    const json = await res.json();
    expect(json).to.include({ object: "text_completion", model: "a1" });
    expect(json.choices[0].text).to.have.length(5);
    expect(json.choices[0].finish_reason).to.equal("length");
    expect(json.usage).to.deep.equal({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    const s = await streamed(body);
    expect(s.text).to.equal(json.choices[0].text);
    expect(s.events.length).to.equal(6); // five tokens and the closing chunk with finish_reason
    expect(s.events[5].choices?.[0].finish_reason).to.equal("length");
    const models = await (await fetch(`${server.url}/v1/models/a1`)).json();
    expect(models.location).to.equal("slot");
  });

  it("stops at a stop sequence: the text ends before it and finish_reason is stop", async () => {
    const body = { model: "a2", prompt: "abc", max_tokens: 6, temperature: 0 };
    const free = ((await (await post("/v1/completions", body)).json()) as { choices: Array<{ text: string }> }).choices[0].text;
    const stop = free.slice(2, 3);
    const cut = (await (await post("/v1/completions", { ...body, stop })).json()) as { choices: Array<{ text: string; finish_reason: string }> };
    expect(cut.choices[0].text).to.equal(free.slice(0, free.indexOf(stop)));
    expect(cut.choices[0].finish_reason).to.equal("stop");
  });

  it("a burst mixing good and bad requests: each bad one gets its 4xx code, every good one is served", async () => {
    const good = Array.from({ length: 8 }, (_, i) => ({ model: `a${i % 4}`, prompt: "abcdefghijklm".slice(i, i + 3), max_tokens: 4, temperature: 0 }));
    const expected = await Promise.all(good.map(async (g) => (await (await post("/v1/completions", g)).json()).choices[0].text));
    const bad: Array<[unknown, number, string]> = [
      [{ model: "missing", prompt: "abc" }, 404, "adapter/unknown"],
      [{ model: "a0", prompt: "abcdefghijklm" }, 400, "request/prompt-too-long"],
      ["{ not json", 400, "request/malformed-json"],
      [{ model: "a0", prompt: "xyz!" }, 400, "request/unknown-character"],
      [{ model: "a0" }, 400, "request/missing-field"],
      [{ model: "a0", prompt: "ab", max_tokens: -2 }, 400, "request/bad-field"],
      [[1, 2], 400, "request/not-an-object"],
    ];
    const all = [...good.map((g) => ({ body: g as unknown, stream: false })), ...bad.map(([b]) => ({ body: b, stream: false }))];
    all.splice(3, 0, { body: { ...good[0], stream: true }, stream: true });
    const answers = await Promise.all(all.map((a) => post("/v1/completions", a.body)));
    const texts = await Promise.all(answers.map((r) => r.text()));
    for (const [i, g] of good.entries()) {
      const k = all.findIndex((a) => a.body === g);
      expect(answers[k].status, JSON.stringify(g)).to.equal(200);
      expect(JSON.parse(texts[k]).choices[0].text).to.equal(expected[i]);
    }
    for (const [b, status, code] of bad) {
      const k = all.findIndex((a) => a.body === b);
      expect(answers[k].status, code).to.equal(status);
      expect(JSON.parse(texts[k]).error.code).to.equal(code);
    }
    expect(texts[3]).to.contain("data: [DONE]");
    expect((await fetch(`${server.url}/health`)).status).to.equal(200);
  });

  it("loads and unloads adapters at run time; a mismatched or corrupt adapter is refused and nothing else changes", async () => {
    const load = await post("/v1/models", { id: "late", path: dirs[4] });
    expect(load.status).to.equal(201);
    expect((await load.json()).location).to.equal("host");
    expect((await post("/v1/completions", { model: "late", prompt: "ab", max_tokens: 2 })).status).to.equal(200);
    const foreign = generatedAdapters(other.info, 1);
    const foreignDir = join(root, "foreign");
    mkdirSync(foreignDir, { recursive: true });
    for (const f of ["adapter_config.json", "adapter_model.safetensors"]) copyFileSync(join(foreign.dirs[0], f), join(foreignDir, f));
    const mismatch = await post("/v1/models", { id: "foreign", path: foreignDir });
    expect(mismatch.status).to.equal(422);
    expect((await mismatch.json()).error.code).to.equal("adapter/base-mismatch");
    const corruptDir = join(root, "corrupt");
    mkdirSync(corruptDir, { recursive: true });
    copyFileSync(join(dirs[0], "adapter_config.json"), join(corruptDir, "adapter_config.json"));
    const bytes = readFileSync(join(dirs[0], "adapter_model.safetensors"));
    writeFileSync(join(corruptDir, "adapter_model.safetensors"), bytes.subarray(0, 20));
    const corrupt = await post("/v1/models", { id: "corrupt", path: corruptDir });
    expect(corrupt.status).to.equal(422);
    expect((await corrupt.json()).error.code).to.equal("adapter/corrupt");
    const outside = await post("/v1/models", { id: "etc", path: "/etc" });
    expect(outside.status).to.equal(403);
    const del = await fetch(`${server.url}/v1/models/late`, { method: "DELETE" });
    expect(del.status).to.equal(200);
    const gone = await post("/v1/completions", { model: "late", prompt: "ab" });
    expect(gone.status).to.equal(404);
    const ids = ((await (await fetch(`${server.url}/v1/models`)).json()) as { data: ModelEntry[] }).data.map((m) => m.id);
    expect(ids).to.deep.equal(["tiny", "a0", "a1", "a2", "a3"]);
  });

  it("merges registered adapters into a new one at run time (LoRAX's merge strategies) and serves it", async () => {
    const res = await post("/v1/models/merge", { id: "blend", adapters: ["a0", "a0"], weights: [0.5, 0.5], merge_strategy: "ties", density: 0.5 });
    expect(res.status).to.equal(201);
    expect((await res.json()).rank).to.equal(2);
    const done = await post("/v1/completions", { model: "blend", prompt: "abc", max_tokens: 3, temperature: 0 });
    expect(done.status).to.equal(200);
    const mixedRanks = await post("/v1/models/merge", { id: "bad", adapters: ["a0", "a1"], merge_strategy: "linear" });
    expect(mixedRanks.status).to.equal(422);
    expect((await mixedRanks.json()).error.code).to.equal("merge/rank-mismatch");
    expect((await fetch(`${server.url}/v1/models/blend`, { method: "DELETE" })).status).to.equal(200);
  });

  it("seals one receipt per served completion under a Merkle root every receipt proves against", async () => {
    const pending = (await (await fetch(`${server.url}/v1/receipts`)).json()).pending;
    expect(pending).to.be.greaterThan(10);
    const res = await post("/v1/receipts/seal", {});
    expect(res.status).to.equal(200);
    const sealed = await res.json();
    expect(sealed.count).to.equal(pending);
    const batch = server.receipts.batches[0];
    expect(batch.root).to.equal(sealed.root);
    for (const [i, r] of batch.receipts.entries()) expect(verifyReceiptProof(sealed.root, r, receiptProof(batch, i))).to.equal(true);
    expect(new Set(batch.receipts.map((r) => r.requestId)).size).to.equal(pending);
    expect((await post("/v1/receipts/seal", {})).status).to.equal(409);
  });

  it("names a completion by the client's request_id (vLLM's field), so the same requests seal the same root on a second server", async () => {
    const requests = [0, 1, 2].map((i) => ({ model: "a1", prompt: "ab", max_tokens: 3, temperature: 1, seed: i, request_id: `run7-${i}` }));
    const roots: string[] = [];
    // a second server on the same scheduler, with receipts of its own: the ids are new to it
    const second = await startServer({ scheduler, cache: stack.cache, tokenizer, backend: "wasm", baseModel: { name: "tiny", sha256: base.info.sha256 }, loadRoots: [root] });
    try {
      for (const url of [server.url, second.url]) {
        const send = (path: string, body: unknown) => fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const answers = await Promise.all(requests.map(async (r) => (await send("/v1/completions", r)).json()));
        expect(answers.map((a) => a.id)).to.deep.equal(["cmpl-run7-0", "cmpl-run7-1", "cmpl-run7-2"]);
        roots.push((await (await send("/v1/receipts/seal", {})).json()).root);
      }
    } finally {
      await second.close();
    }
    expect(roots[1], "latency is measured afresh each run, and is not in the root").to.equal(roots[0]);
    const bad = await post("/v1/completions", { ...requests[0], request_id: "../x" });
    expect(bad.status).to.equal(400);
    expect((await bad.json()).error).to.include({ code: "request/bad-field", param: "request_id" });
  });
});

import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fromRoot, writeJsonAtomic } from "../../files.js";
import { LabError } from "../../errors.js";
import { initTf } from "../../tf/index.js";
import { fortunesTokenizer, loadOrPretrainBase, baseModel } from "../../intelligence/models/zoo.js";
import type { GptConfig } from "../../intelligence/models/gpt.js";
import type { Model } from "../../intelligence/models/types.js";
import { DEFAULT_SERVICE, openLoraService, recordReceiptBatch, startServer, writeGeneratedAdapter, type ReceiptBatch } from "../../intelligence/openlora/index.js";

const USAGE = `usage: ./lab serve [options]
  --port N               listen on 127.0.0.1:N (default 8000; 0 picks a free port)
  --adapter ID=DIR       serve the PEFT adapter folder DIR as model ID (repeatable)
  --no-factory           do not serve the Model Factory's adapters (experiments/runs/factory/*/adapter)
  --generate N           also serve N generated adapters (ranks 2, 4, 8) for scale tests
  --slots N              adapter slots in the backend (default ${DEFAULT_SERVICE.slots})
  --max-rank N           largest adapter rank the slots hold (default ${DEFAULT_SERVICE.maxRank})
  --host-budget-mb N     host-memory budget of the adapter cache (default ${DEFAULT_SERVICE.hostBudgetBytes >> 20})
  --max-batch N          sequences decoded together (default ${DEFAULT_SERVICE.maxBatchSize})
  --step-budget-ms N     admit no new sequence after a decode step slower than this
  --base-mode quick|full the fortunes-gpt base checkpoint (default quick, seed 1: the Factory specs' base)
  --chain                record sealed receipt batches in InferenceReceipts (in-process chain, or LAB_RPC_URL)
Sealed receipts (POST /v1/receipts/seal, and at Ctrl-C) are written to experiments/runs/openlora/receipts/ROOT.json.`;

/** ./lab serve: OpenLoRA over HTTP on the Factory's base model (see lib/intelligence/openlora/server.ts). */
export default async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      port: { type: "string", default: "8000" }, adapter: { type: "string", multiple: true, default: [] }, "no-factory": { type: "boolean", default: false },
      generate: { type: "string", default: "0" }, slots: { type: "string" }, "max-rank": { type: "string" }, "host-budget-mb": { type: "string" },
      "max-batch": { type: "string" }, "step-budget-ms": { type: "string" }, "base-mode": { type: "string", default: "quick" }, chain: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new LabError({ code: "serve/bad-option", message: `--${name} ${v} is not a non-negative integer`, hint: USAGE, fields: { option: name, value: v } });
    return n;
  };
  const mode = values["base-mode"];
  if (mode !== "quick" && mode !== "full") throw new LabError({ code: "serve/bad-option", message: `--base-mode ${mode}: use quick or full`, hint: USAGE, fields: { option: "base-mode" } });
  const { tf, backend } = await initTf();
  const model = baseModel(tf, "fortunes-gpt") as Model<GptConfig>;
  const base = loadOrPretrainBase(tf, "fortunes-gpt", { mode, seed: 1 });
  const service = openLoraService(tf, model, base, {
    slots: int("slots", values.slots), maxRank: int("max-rank", values["max-rank"]), maxBatchSize: int("max-batch", values["max-batch"]),
    hostBudgetBytes: values["host-budget-mb"] ? int("host-budget-mb", values["host-budget-mb"])! << 20 : undefined,
    stepBudgetMs: int("step-budget-ms", values["step-budget-ms"]),
  });
  const roots = [fromRoot("experiments", "runs")];
  const factoryRuns = fromRoot("experiments", "runs", "factory");
  if (!values["no-factory"] && existsSync(factoryRuns)) {
    for (const run of readdirSync(factoryRuns)) {
      const dir = join(factoryRuns, run, "adapter");
      if (!existsSync(join(dir, "adapter_config.json"))) continue;
      try { service.store.register(run, dir); console.log(`adapter ${run}: ${dir}`); } catch (e) { console.log(`adapter ${run} skipped: ${(e as Error).message}`); }
    }
  }
  for (const spec of values.adapter as string[]) {
    const [id, dir] = spec.split("=");
    if (!id || !dir) throw new LabError({ code: "serve/bad-option", message: `--adapter ${spec}: expected ID=DIR`, hint: USAGE, fields: { option: "adapter" } });
    service.store.register(id, resolve(dir));
    roots.push(resolve(dir, ".."));
  }
  const generated = int("generate", values.generate) ?? 0;
  const info = { sha256: base.sha256, modules: model.linearModules };
  const targets = [["q_proj", "v_proj"], ["v_proj", "fc_out", "lm_head"], ["q_proj", "k_proj", "v_proj", "o_proj"]];
  for (let i = 0; i < generated; i++) {
    const id = `gen-${String(i).padStart(4, "0")}`;
    const dir = fromRoot("experiments", "runs", "openlora", "generated", base.sha256.slice(0, 12), id);
    if (!existsSync(join(dir, "adapter_model.safetensors"))) writeGeneratedAdapter(dir, info, { r: [2, 4, 8][i % 3], targetModules: targets[i % 3], seed: i });
    service.store.register(id, dir);
  }
  let recordBatch: ((b: ReceiptBatch) => ReturnType<typeof recordReceiptBatch>) | undefined;
  let closeChain = async () => {};
  if (values.chain) {
    const { connect, deployOrReuse } = await import("../../chain/index.js");
    const chain = await connect();
    const contract = await deployOrReuse(chain, "InferenceReceipts");
    console.log(`receipts: InferenceReceipts at ${await contract.getAddress()} on chain ${chain.chainId}`);
    recordBatch = (b) => recordReceiptBatch(contract, b);
    closeChain = () => chain.close();
  }
  const keep = async (batch: ReceiptBatch) => {
    const onChain = recordBatch ? await recordBatch(batch) : undefined;
    writeJsonAtomic(fromRoot("experiments", "runs", "openlora", "receipts", `${batch.root}.json`), { ...batch, onChain: onChain ? { batchId: onChain.batchId.toString(), txHash: onChain.txHash } : null });
    return onChain ?? { batchId: -1n, txHash: "", root: batch.root };
  };
  const port = int("port", values.port) ?? 8000;
  const server = await startServer({
    scheduler: service.scheduler, cache: service.cache, tokenizer: fortunesTokenizer(), backend,
    baseModel: { name: "fortunes-gpt", sha256: base.sha256 }, loadRoots: roots, recordBatch: keep,
    mergeDir: fromRoot("experiments", "runs", "openlora", "merged", base.sha256.slice(0, 12)),
  }, { port });
  console.log(`OpenLoRA on ${server.url}: ${service.store.list().length} adapters, base fortunes-gpt ${base.sha256.slice(0, 12)}…, backend ${backend}`);
  console.log(`  curl ${server.url}/v1/models`);
  const first = service.store.list()[0]?.id ?? "ADAPTER";
  console.log(`  curl ${server.url}/v1/completions -H 'content-type: application/json' -d '{"model":"${first}","prompt":"The ","max_tokens":32,"temperature":0}'`);
  await new Promise<void>((done) => process.once("SIGINT", () => done()));
  console.log("\nstopping: sealing pending receipts ...");
  if (server.receipts.pending().length) {
    const batch = server.receipts.seal();
    await keep(batch);
    console.log(`sealed ${batch.receipts.length} receipts under ${batch.root}`);
  }
  await server.close();
  service.dispose();
  await closeChain();
  return 0;
}

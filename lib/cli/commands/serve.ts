import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { cacheDir } from "../../cache.js";
import { fromRoot, writeJsonAtomic } from "../../files.js";
import type { GptConfig } from "../../intelligence/models/gpt.js";
import type { Model } from "../../intelligence/models/types.js";
import { baseModel, fortunesTokenizer, loadOrPretrainBase } from "../../intelligence/models/zoo.js";
import { DEFAULT_SERVICE, deployReceipts, openLoraService, type ReceiptBatch, recordReceiptBatch, startServer, writeGeneratedAdapter } from "../../serving/index.js";
import { initTf } from "../../tf/index.js";
import { CliError, defineCommand } from "../command.js";

const HINT = "see ./lab serve --help";

/** ./lab serve: OpenLoRA over HTTP on the Factory's base model (see lib/serving/server.ts). */
export default defineCommand({
  name: "serve",
  usage: "[--port N] [--adapter ID=DIR ...] [--generate N] [--chain] [cache and batch options]",
  description:
    "Serves LoRA adapters on the Model Factory's fortunes-gpt base over HTTP on 127.0.0.1, in OpenAI's\n" +
    "completions API (model = adapter id, stream: true for server-sent events), with /v1/models (and where\n" +
    "each adapter is loaded), run-time load, unload and merge, /health, and receipts sealed under a Merkle\n" +
    "root (POST /v1/receipts/seal, and at Ctrl-C) into experiments/runs/openlora/receipts/ROOT.json.",
  options: {
    port: { type: "string", value: "N", doc: "listen on 127.0.0.1:N (default 8000; 0 picks a free port)" },
    adapter: { type: "string", multiple: true, value: "ID=DIR", doc: "serve the PEFT adapter folder DIR as model ID" },
    "no-factory": { type: "boolean", doc: "do not serve the Model Factory's adapters (.lab/cache/factory/*/adapter)" },
    generate: { type: "string", value: "N", doc: "also serve N generated adapters (ranks 2, 4, 8) for scale tests" },
    slots: { type: "string", value: "N", doc: `adapter slots in the backend (default ${DEFAULT_SERVICE.slots})` },
    "max-rank": { type: "string", value: "N", doc: `largest adapter rank the slots hold (default ${DEFAULT_SERVICE.maxRank})` },
    "host-budget-mb": { type: "string", value: "N", doc: `host-memory budget of the adapter cache (default ${DEFAULT_SERVICE.hostBudgetBytes >> 20})` },
    "max-batch": { type: "string", value: "N", doc: `sequences decoded together (default ${DEFAULT_SERVICE.maxBatchSize})` },
    "step-budget-ms": { type: "string", value: "N", doc: "admit no new sequence after a decode step slower than this" },
    "base-mode": { type: "string", value: "quick|full", doc: "the fortunes-gpt base checkpoint (default quick, seed 1: the Factory specs' base)" },
    chain: { type: "boolean", doc: "record sealed receipt batches in InferenceReceipts (in-process chain, or LAB_RPC_URL)" },
  },
  examples: [
    "./lab serve --generate 100",
    "./lab serve --adapter lit=.lab/cache/factory/fortunes-literature-lora/adapter --slots 8 --host-budget-mb 16",
    'curl -s 127.0.0.1:8000/v1/completions -H \'content-type: application/json\' -d \'{"model":"gen-0001","prompt":"The ","max_tokens":32}\'',
  ],
  async run({ values }) {
    return serve(values);
  },
});

interface ServeValues {
  port?: string;
  adapter: string[];
  "no-factory": boolean;
  generate?: string;
  slots?: string;
  "max-rank"?: string;
  "host-budget-mb"?: string;
  "max-batch"?: string;
  "step-budget-ms"?: string;
  "base-mode"?: string;
  chain: boolean;
}

async function serve(values: ServeValues): Promise<number> {
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new CliError({ code: "cli/bad-option-value", message: `./lab serve: --${name} ${v} is not a non-negative integer`, hint: HINT, fields: { command: "serve", option: name, value: v } });
    return n;
  };
  const mode = values["base-mode"] ?? "quick";
  if (mode !== "quick" && mode !== "full")
    throw new CliError({ code: "cli/bad-option-value", message: `./lab serve: --base-mode ${mode}: use quick or full`, hint: HINT, fields: { command: "serve", option: "base-mode", value: mode } });
  // every option is checked before the model loads
  const settings = {
    slots: int("slots", values.slots),
    maxRank: int("max-rank", values["max-rank"]),
    maxBatchSize: int("max-batch", values["max-batch"]),
    hostBudgetBytes: values["host-budget-mb"] ? int("host-budget-mb", values["host-budget-mb"])! << 20 : undefined,
    stepBudgetMs: int("step-budget-ms", values["step-budget-ms"]),
  };
  const generated = int("generate", values.generate) ?? 0;
  const port = int("port", values.port) ?? 8000;
  const { tf, backend } = await initTf();
  const model = baseModel(tf, "fortunes-gpt") as Model<GptConfig>;
  const base = loadOrPretrainBase(tf, "fortunes-gpt", { mode, seed: 1 });
  const service = openLoraService(tf, model, base, settings);
  // ./lab factory writes its outputs to the factory cache when the spec names no output.dir
  const factoryRuns = cacheDir("factory");
  const roots = [fromRoot("experiments", "runs"), factoryRuns];
  if (!values["no-factory"] && existsSync(factoryRuns)) {
    for (const run of readdirSync(factoryRuns)) {
      const dir = join(factoryRuns, run, "adapter");
      if (!existsSync(join(dir, "adapter_config.json"))) continue;
      try {
        service.store.register(run, dir);
        console.log(`adapter ${run}: ${dir}`);
      } catch (e) {
        console.log(`adapter ${run} skipped: ${(e as Error).message}`);
      }
    }
  }
  for (const spec of values.adapter) {
    const [id, dir] = spec.split("=");
    if (!id || !dir)
      throw new CliError({ code: "cli/bad-option-value", message: `./lab serve: --adapter ${spec}: expected ID=DIR`, hint: HINT, fields: { command: "serve", option: "adapter", value: spec } });
    service.store.register(id, resolve(dir));
    roots.push(resolve(dir, ".."));
  }
  const info = { sha256: base.sha256, modules: model.linearModules };
  const targets = [
    ["q_proj", "v_proj"],
    ["v_proj", "fc_out", "lm_head"],
    ["q_proj", "k_proj", "v_proj", "o_proj"],
  ];
  for (let i = 0; i < generated; i++) {
    const id = `gen-${String(i).padStart(4, "0")}`;
    const dir = fromRoot("experiments", "runs", "openlora", "generated", base.sha256.slice(0, 12), id);
    if (!existsSync(join(dir, "adapter_model.safetensors"))) writeGeneratedAdapter(dir, info, { r: [2, 4, 8][i % 3], targetModules: targets[i % 3], seed: i });
    service.store.register(id, dir);
  }
  let recordBatch: ((b: ReceiptBatch) => ReturnType<typeof recordReceiptBatch>) | undefined;
  let closeChain = async () => {};
  if (values.chain) {
    const { connect } = await import("../../chain/index.js");
    const chain = await connect();
    const contract = await deployReceipts(chain);
    console.log(`receipts: InferenceReceipts at ${await contract.getAddress()} on chain ${chain.chainId}`);
    recordBatch = (b) => recordReceiptBatch(contract, b);
    closeChain = () => chain.close();
  }
  const keep = async (batch: ReceiptBatch) => {
    const onChain = recordBatch ? await recordBatch(batch) : undefined;
    writeJsonAtomic(fromRoot("experiments", "runs", "openlora", "receipts", `${batch.root}.json`), {
      ...batch,
      onChain: onChain ? { batchId: onChain.batchId.toString(), txHash: onChain.txHash } : null,
    });
    return onChain ?? { batchId: -1n, txHash: "", root: batch.root };
  };
  const server = await startServer(
    {
      scheduler: service.scheduler,
      cache: service.cache,
      tokenizer: fortunesTokenizer(),
      backend,
      baseModel: { name: "fortunes-gpt", sha256: base.sha256 },
      loadRoots: roots,
      recordBatch: keep,
      mergeDir: fromRoot("experiments", "runs", "openlora", "merged", base.sha256.slice(0, 12)),
    },
    { port },
  );
  console.log(`OpenLoRA on ${server.url}: ${service.store.list().length} adapters, base fortunes-gpt ${base.sha256.slice(0, 12)}…, backend ${backend}`);
  console.log(`  curl ${server.url}/v1/models`);
  const first = service.store.list()[0]?.id ?? "ADAPTER";
  console.log(`  curl ${server.url}/v1/completions -H 'content-type: application/json' -d '{"model":"${first}","prompt":"The ","max_tokens":32,"temperature":0}'`);
  await new Promise<void>((done) => {
    process.once("SIGINT", () => done());
    process.once("SIGTERM", () => done());
  });
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

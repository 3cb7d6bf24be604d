import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { cacheDir } from "../../cache.js";
import { writeJsonAtomic } from "../../files.js";
import type { GptConfig } from "../../intelligence/models/gpt.js";
import type { Model } from "../../intelligence/models/types.js";
import { baseModel, fortunesTokenizer, loadOrPretrainBase } from "../../intelligence/models/zoo.js";
import { runsRoot } from "../../run-context.js";
import {
  CHAT_TEMPLATE,
  DEFAULT_SERVICE,
  deployReceipts,
  openLoraService,
  type ReceiptBatch,
  recordReceiptBatch,
  SERVING_ERROR_CODES,
  startServer,
  writeGeneratedAdapter,
} from "../../serving/index.js";
import { initTf } from "../../tf/index.js";
import { CliError, defineCommand } from "../command.js";

const HINT = "see ./lab serve --help";

const ROUTES = [
  "POST   /v1/completions          OpenAI completions: model, prompt, max_tokens, temperature, top_p, seed, stop, stream,",
  "                                stream_options, logprobs (top k <= 20), echo, n=1, best_of=1, user",
  "POST   /v1/chat/completions     chat: messages (template below), max_tokens | max_completion_tokens, logprobs, top_logprobs",
  "GET    /v1/models[/ID]          the base model (fortunes-gpt) and every adapter, with where each is loaded",
  "POST   /v1/models               { id, path, base_model_sha256? }: load an adapter (201)",
  "DELETE /v1/models/ID            unload it",
  "POST   /v1/load_lora_adapter    vLLM's { lora_name, lora_path } (200, text)",
  "POST   /v1/unload_lora_adapter  vLLM's { lora_name } (200, text)",
  "POST   /v1/models/merge         { id, adapters, weights?, merge_strategy, density?, majority_sign_method?, seed? }",
  "GET    /health                  status, base model, backend, slots, queue",
  "GET    /metrics                 Prometheus text: requests, tokens, latency histograms, cache tiers, slots, cold starts",
  "GET    /v1/receipts             receipts waiting, batches sealed",
  "POST   /v1/receipts/seal        seal the waiting receipts under a Merkle root (and record it with --chain)",
];

/** ./lab serve: OpenLoRA over HTTP on the Factory's base model (see lib/serving/server.ts). */
export default defineCommand({
  name: "serve",
  usage: "[--port N] [--adapter ID=DIR ...] [--adapter-root DIR ...] [--generate N] [--chain] [cache and batch options]",
  description:
    "Serves the fortunes-gpt base model and LoRA adapters on it over HTTP on 127.0.0.1, in the OpenAI-compatible\n" +
    "dialect of vLLM and LoRAX (model = the base model's id or an adapter's). Adapters are loaded from the Model\n" +
    "Factory's outputs, --adapter, --generate, or at run time from under an --adapter-root; receipts are sealed under\n" +
    "a Merkle root (POST /v1/receipts/seal, every 1,024 receipts, and at Ctrl-C) into RUNS/openlora/receipts/ROOT.json,\n" +
    "RUNS being LAB_RUNS_DIR or experiments/runs.\n\n" +
    `routes:\n${ROUTES.map((r) => `  ${r}`).join("\n")}\n\n` +
    `chat template: ${CHAT_TEMPLATE}\n\n` +
    `error codes (JSON { error: { message, type, param, code, hint, fields } }):\n${SERVING_ERROR_CODES.map(([code, status, when]) => `  ${status} ${code.padEnd(28)} ${when}`).join("\n")}`,
  options: {
    port: { type: "string", value: "N", doc: "listen on 127.0.0.1:N (default 8000; 0 picks a free port)" },
    adapter: { type: "string", multiple: true, value: "ID=DIR", doc: "serve the PEFT adapter folder DIR as model ID" },
    "adapter-root": {
      type: "string",
      multiple: true,
      value: "DIR",
      doc: "a folder run-time loads may read from, symlinks resolved (default: the Factory's output folder, .lab/cache/factory)",
    },
    "no-factory": { type: "boolean", doc: "do not serve the Model Factory's adapters (.lab/cache/factory/*/adapter)" },
    generate: { type: "string", value: "N", doc: "also serve N generated adapters gen-0000... (ranks 2, 4, 8; default 1)" },
    slots: { type: "string", value: "N", doc: `adapter slots in the backend (default ${DEFAULT_SERVICE.slots})` },
    "max-rank": { type: "string", value: "N", doc: `largest adapter rank the slots hold; larger ones are refused at load (default ${DEFAULT_SERVICE.maxRank})` },
    "host-budget-mb": { type: "string", value: "N", doc: `host-memory budget of the adapter cache (default ${DEFAULT_SERVICE.hostBudgetBytes >> 20})` },
    "max-batch": { type: "string", value: "N", doc: `sequences decoded together (default ${DEFAULT_SERVICE.maxBatchSize})` },
    "step-budget-ms": { type: "string", value: "N", doc: "admit no new sequence after a decode step slower than this" },
    "base-mode": { type: "string", value: "quick|full", doc: "the fortunes-gpt base checkpoint (default quick, seed 1: the Factory specs' base)" },
    chain: { type: "boolean", doc: "record sealed receipt batches in InferenceReceipts (in-process chain, or LAB_RPC_URL)" },
  },
  examples: [
    "./lab serve",
    "./lab serve --generate 100 --adapter-root experiments/runs",
    "./lab serve --adapter lit=.lab/cache/factory/fortunes-literature-lora/adapter --slots 8 --host-budget-mb 16",
    'curl -s 127.0.0.1:8000/v1/completions -H \'content-type: application/json\' -d \'{"model":"gen-0000","prompt":"The ","max_tokens":32}\'',
    'curl -s 127.0.0.1:8000/v1/chat/completions -H \'content-type: application/json\' -d \'{"model":"fortunes-gpt","messages":[{"role":"user","content":"Hi"}],"max_tokens":16}\'',
    "curl -s 127.0.0.1:8000/metrics",
  ],
  async run({ values }) {
    return serve(values);
  },
});

interface ServeValues {
  port?: string;
  adapter: string[];
  "adapter-root": string[];
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
  const generated = int("generate", values.generate) ?? 1;
  const port = int("port", values.port) ?? 8000;
  const { tf, backend } = await initTf();
  const model = baseModel(tf, "fortunes-gpt") as Model<GptConfig>;
  const base = await loadOrPretrainBase(tf, "fortunes-gpt", { mode, seed: 1 });
  const service = openLoraService(tf, model, base, { ...settings, decodeThread: true });
  // ./lab factory writes its outputs to the factory cache when the spec names no output.dir
  const factoryRuns = cacheDir("factory");
  const roots = values["adapter-root"]?.length ? values["adapter-root"].map((r) => resolve(r)) : [factoryRuns];
  const runs = join(runsRoot(), "openlora");
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
  }
  const info = { sha256: base.sha256, modules: model.linearModules };
  const targets = [
    ["q_proj", "v_proj"],
    ["v_proj", "fc_out", "lm_head"],
    ["q_proj", "k_proj", "v_proj", "o_proj"],
  ];
  for (let i = 0; i < generated; i++) {
    const id = `gen-${String(i).padStart(4, "0")}`;
    const dir = join(runs, "generated", base.sha256.slice(0, 12), id);
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
    writeJsonAtomic(join(runs, "receipts", `${batch.root}.json`), {
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
      mergeDir: join(runs, "merged", base.sha256.slice(0, 12)),
    },
    { port },
  );
  console.log(`OpenLoRA on ${server.url}: base fortunes-gpt ${base.sha256.slice(0, 12)}… and ${service.store.list().length} adapters, backend ${backend}`);
  console.log(`  run-time loads from: ${roots.join(", ")}`);
  console.log(`  curl ${server.url}/v1/models`);
  const first = service.store.list()[0]?.id ?? "fortunes-gpt";
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

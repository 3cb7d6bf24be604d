/**
 * Real language-model output to attribute: the Intelligence layer's character-level GPT, LoRA
 * fine-tuned by the Model Factory on the fortunes-literature datanet, samples a text from a prompt
 * under a seed. The suffix-array attribution (suffix-array.ts) then finds where its spans come from.
 *
 * The fine-tuned adapter is kept in the attribution-lm cache (lib/cache.ts; PEFT files + the run's
 * result.json): a later call loads it, checks its sha256 against the run's record, and samples again
 * — generation is cheap, the Factory run is not.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Tensor } from "@tensorflow/tfjs";
import { cacheDir } from "../cache.js";
import { fromRoot, sha256Hex } from "../files.js";
import type { ForwardOptions, Model, WeightMap } from "../intelligence/index.js";
import * as I from "../intelligence/index.js";
import { nextTurn, type OnProgress } from "../progress.js";
import { rng as makeRng } from "../random.js";
import { initTf } from "../tf/index.js";
import { readFloats } from "../tf/read-back.js";
import { AttributionError, HashMismatchError } from "./errors.js";

export interface LmSampleOptions {
  /** Factory spec of the LoRA run (default experiments/factory/fortunes-lora.yaml). */
  spec?: string;
  /** Seed of the Factory run and of sampling. */
  seed: number;
  /** Training steps of the Factory run (overrides the spec: fewer for quick runs). */
  steps?: number;
  /** Base model pretraining budget (overrides the spec: "quick" for quick runs, "full" for a fluent base). */
  pretrain?: "quick" | "full";
  prompt: string;
  /** Characters to generate after the prompt. */
  length: number;
  temperature?: number;
  /** Where the fine-tuned adapter is kept (default: the attribution-lm cache). */
  cacheDir?: string;
  /** Counts the Factory run's steps (all at once when the adapter is reused), then the sampling (one more). */
  onProgress?: OnProgress;
}

export interface LmSample {
  prompt: string;
  /** The generated continuation (without the prompt). */
  text: string;
  seed: number;
  temperature: number;
  /** The run that produced the weights. */
  specName: string;
  pretrain: string;
  steps: number;
  baseSha256: string;
  adapterSha256: string;
  /** The adapter came from an earlier run (true) or was trained by this call. */
  adapterFromCache: boolean;
  /** The run's validation loss at its last evaluation, when recorded. */
  validationLoss?: number;
}

type SamplingModel = { tf: typeof import("@tensorflow/tfjs"); forward(w: Record<string, Tensor>, x: Tensor, o?: unknown): Tensor; config: unknown };

/**
 * Samples `length` tokens (characters for the character model) one at a time from the softmax of
 * the last position's logits, and answers the ids themselves: a byte-level BPE model can sample
 * ids whose decoded text encodes to other (and more) ids — a lone byte of a multi-byte character
 * decodes to U+FFFD — so whatever scores the sample scores these ids, not its text re-encoded.
 */
export async function sampleTokens(
  model: SamplingModel,
  weights: Record<string, Tensor>,
  forwardOptions: unknown,
  tokenizer: { encode(s: string): Int32Array },
  prompt: string,
  length: number,
  seed: number,
  temperature = 0.8,
): Promise<Int32Array> {
  const tf = model.tf;
  const blockSize = (model.config as { blockSize: number }).blockSize;
  const r = makeRng(seed).fork("lm-sample");
  const ids = Array.from(tokenizer.encode(prompt));
  const out: number[] = [];
  for (let k = 0; k < length; k++) {
    const window = ids.slice(-blockSize);
    const last = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(window), [1, window.length], "int32");
      const all = model.forward(weights, x, forwardOptions);
      return all.slice([0, window.length - 1, 0], [1, 1, -1]).reshape([-1]);
    });
    const logits = await readFloats(last);
    last.dispose();
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    const p = Float64Array.from(logits, (v) => Math.exp((v - max) / temperature));
    let total = 0;
    for (const v of p) total += v;
    let u = r.next() * total,
      next = p.length - 1;
    for (let i = 0; i < p.length; i++) {
      u -= p[i];
      if (u <= 0) {
        next = i;
        break;
      }
    }
    ids.push(next);
    out.push(next);
  }
  return Int32Array.from(out);
}

/** sampleTokens' ids decoded: the sampled text. */
export async function sampleText(
  model: SamplingModel,
  weights: Record<string, Tensor>,
  forwardOptions: unknown,
  tokenizer: { encode(s: string): Int32Array; decode(ids: ArrayLike<number>): string },
  prompt: string,
  length: number,
  seed: number,
  temperature = 0.8,
): Promise<string> {
  return tokenizer.decode(await sampleTokens(model, weights, forwardOptions, tokenizer, prompt, length, seed, temperature));
}

/**
 * Fine-tunes (or reloads) the fortunes GPT's LoRA adapter through the Model Factory and samples a
 * continuation of `prompt`. The adapter is refused if its bytes no longer hash to the run's record.
 */
export async function sampleFineTunedLm(o: LmSampleOptions): Promise<LmSample> {
  const specPath = o.spec ?? "experiments/factory/fortunes-lora.yaml";
  const loaded = I.loadSpec(isAbsolute(specPath) ? specPath : fromRoot(specPath));
  const spec = { ...loaded, base_model: { ...loaded.base_model, pretrain: o.pretrain ?? loaded.base_model.pretrain } };
  if (spec.method !== "lora")
    throw new AttributionError({
      code: "lm-output/not-lora",
      message: `spec ${spec.name} is a ${spec.method} run`,
      hint: "use a LoRA spec on the fortunes-gpt base (experiments/factory/fortunes-lora.yaml)",
      fields: { spec: spec.name, method: spec.method },
    });
  const steps = o.steps ?? spec.training.steps ?? 150;
  // the folder is named by everything that shapes the adapter: an edited spec trains a new one
  const specTag = sha256Hex(JSON.stringify({ ...spec, seed: o.seed, training: { ...spec.training, steps } })).slice(0, 12);
  const dir = join(o.cacheDir ?? cacheDir("attribution-lm"), `${spec.name}-${spec.base_model.pretrain}-seed${o.seed}-steps${steps}-${specTag}`);
  const { tf } = await initTf({ quiet: true });
  const tokenizer = I.fortunesTokenizer();
  let model: Model, weights: WeightMap, fwd: ForwardOptions, adapterSha256: string, baseSha256: string, fromCache: boolean, validationLoss: number | undefined;
  const resultPath = join(dir, "result.json");
  if (existsSync(resultPath) && existsSync(join(dir, "adapter", "adapter_model.safetensors"))) {
    const record = JSON.parse(readFileSync(resultPath, "utf8")) as { adapter_sha256: string; base_model_sha256: string };
    model = I.baseModel(tf, spec.base_model.name);
    const base = await I.loadOrPretrainBase(tf, spec.base_model.name, { mode: spec.base_model.pretrain, seed: spec.base_model.seed });
    if (base.sha256 !== record.base_model_sha256) {
      throw new HashMismatchError({
        code: "lm-output/base-hash-mismatch",
        message: `base model ${spec.base_model.name} hashes to ${base.sha256}, the adapter in ${dir} was trained on ${record.base_model_sha256}`,
        hint: `delete ${dir} to fine-tune again on the current base`,
        fields: { dir, actual: base.sha256, recorded: record.base_model_sha256 },
      });
    }
    const adapter = I.loadAdapter(model, join(dir, "adapter"));
    if (adapter.sha256 !== record.adapter_sha256) {
      throw new HashMismatchError({
        code: "lm-output/adapter-hash-mismatch",
        message: `adapter in ${dir} hashes to ${adapter.sha256}, its run recorded ${record.adapter_sha256}`,
        hint: `the adapter file was altered: delete ${dir} to fine-tune again`,
        fields: { dir, actual: adapter.sha256, recorded: record.adapter_sha256 },
      });
    }
    weights = I.loraWeightMap(base.weights, adapter);
    fwd = I.loraForwardOptions(adapter);
    adapterSha256 = adapter.sha256;
    baseSha256 = base.sha256;
    fromCache = true;
    const metricsPath = join(dir, "metrics.json");
    if (existsSync(metricsPath)) validationLoss = lastValidationLoss(JSON.parse(readFileSync(metricsPath, "utf8")));
  } else {
    const run = await I.runFactory(
      { ...spec, seed: o.seed, training: { ...spec.training, steps, epochs: null } },
      { quiet: true, outDir: dir, onStep: o.onProgress && ((s) => o.onProgress?.(s.step, steps + 1, "fine-tuning")) },
    );
    model = run.model;
    weights = run.weights;
    fwd = run.forwardOptions;
    adapterSha256 = run.adapterSha256;
    baseSha256 = run.baseSha256;
    fromCache = false;
    validationLoss = lastValidationLoss(run.metrics);
  }
  const temperature = o.temperature ?? 0.8;
  if (o.onProgress) {
    o.onProgress(steps, steps + 1, "sampling");
    await nextTurn();
  }
  const text = await sampleText(model, weights, fwd, tokenizer, o.prompt, o.length, o.seed, temperature);
  o.onProgress?.(steps + 1, steps + 1);
  return { prompt: o.prompt, text, seed: o.seed, temperature, specName: spec.name, pretrain: spec.base_model.pretrain, steps, baseSha256, adapterSha256, adapterFromCache: fromCache, validationLoss };
}

function lastValidationLoss(metrics: unknown): number | undefined {
  return (metrics as { final?: { validation_loss?: number } })?.final?.validation_loss;
}

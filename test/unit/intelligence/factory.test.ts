import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tensor } from "@tensorflow/tfjs";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { fromRoot, sha256Hex } from "../../../lib/files.js";
import {
  type BpeTokenizer,
  batchTensors,
  checkpointWeights,
  loadSpec,
  NonFiniteLossError,
  RunInterruptedError,
  readSafetensorsHeader,
  recipeTokenizer,
  runFactory,
  SpecError,
  specHash,
  trainableLoss,
  validateSpec,
} from "../../../lib/intelligence/index.js";
import { loraAKey, loraBKey } from "../../../lib/intelligence/models/peft-keys.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

/** Where these tests' Factory outputs go: a temporary folder, never the repository. */
const UNIT_OUTPUTS = mkdtempSync(join(tmpdir(), "lab-factory-"));

/** A small, fast spec: quick base model, 10% of the datanet, a few steps. */
function tiny(overrides: Record<string, unknown> = {}, name = "unit-tiny"): Record<string, unknown> {
  return {
    name,
    base_model: { name: "fmnist-mlp", pretrain: "quick", seed: 1 },
    data: { datanets: ["fmnist-low-contrast"], scale: 0.05 },
    method: "lora",
    lora: { r: 2, alpha: 4, target_modules: ["fc1", "fc2"], dropout: 0.1 },
    optimizer: { lr: 0.003 },
    training: { steps: 6, batch_size: 32 },
    seed: 5,
    checkpoints: { every: 2, keep: 2 },
    evaluation: { every: 3, test_limit: 200 },
    output: { dir: join(UNIT_OUTPUTS, name) },
    ...overrides,
  };
}

describe("Model Factory spec validation", () => {
  it("accepts the example specs and fills defaults", () => {
    const spec = loadSpec(fromRoot("experiments", "factory", "fmnist-lora.yaml"));
    expect(spec.lora.use_dora).to.equal(false);
    expect(spec.optimizer.beta2).to.equal(0.999);
    const t = validateSpec(tiny());
    expect(t.schedule).to.deep.equal({ kind: "cosine", warmup_steps: 0 });
  });

  it("reads a spec file only when it declares kind: factory, and the kind leaves the spec hash alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-factory-kind-"));
    const text = readFileSync(fromRoot("experiments", "factory", "fmnist-lora.yaml"), "utf8");
    writeFileSync(join(dir, "experiment.yaml"), text.replace("kind: factory", "kind: experiment"));
    writeFileSync(join(dir, "none.yaml"), text.replace("kind: factory\n", ""));
    expect(expectCode(() => loadSpec(join(dir, "experiment.yaml")), SpecError, "spec/wrong-kind", { expected: "factory", got: "experiment" }).field).to.equal("kind");
    expect(expectCode(() => loadSpec(join(dir, "none.yaml")), SpecError, "spec/missing-field").field).to.equal("kind");
    expect(specHash(loadSpec(fromRoot("experiments", "factory", "fmnist-lora.yaml")))).to.equal(specHash(validateSpec(parseYaml(text.replace("kind: factory\n", "")))));
  });

  it("refuses an unknown field, naming it and suggesting the right one", () => {
    const e = expectCode(() => validateSpec(tiny({ lora: { r: 2, alpah: 4, target_modules: ["fc1"] } })), SpecError, "spec/unknown-field", { field: "lora.alpah", suggestion: "alpha" });
    expect(e.field).to.equal("lora.alpah");
    expectCode(() => validateSpec(tiny({ epochs: 3 })), SpecError, "spec/unknown-field", { field: "epochs" });
  });

  it("refuses a wrong type, naming the field", () => {
    expectCode(() => validateSpec(tiny({ training: { steps: "100", batch_size: 32 } })), SpecError, "spec/wrong-type", { field: "training.steps", expected: "number", got: 'string "100"' });
    expectCode(() => validateSpec(tiny({ lora: { r: 2.5, alpha: 4, target_modules: ["fc1"] } })), SpecError, "spec/wrong-type", { field: "lora.r" });
    expectCode(() => validateSpec(tiny({ lora: { r: 2, alpha: 4, target_modules: "fc1" } })), SpecError, "spec/wrong-type", { field: "lora.target_modules" });
    expectCode(() => validateSpec(tiny({ lora: { r: 2, alpha: 4, use_dora: "yes", target_modules: ["fc1"] } })), SpecError, "spec/wrong-type", { field: "lora.use_dora" });
  });

  it("bounds steps, epochs, batch size and rank, refusing a typo like 1e12 steps before anything loads", () => {
    for (const [override, field, bound] of [
      [{ training: { steps: 1e12, batch_size: 32 } }, "training.steps", 1_000_000],
      [{ training: { epochs: 1e6, batch_size: 32 } }, "training.epochs", 1000],
      [{ training: { steps: 6, batch_size: 100_000 } }, "training.batch_size", 8192],
      [{ lora: { r: 4096, alpha: 4, target_modules: ["fc1"] } }, "lora.r", 256],
    ] as const) {
      const e = expectCode(() => validateSpec(tiny(override)), SpecError, "spec/out-of-range", { max: bound });
      expect(e.field, field).to.equal(field);
    }
    expect(validateSpec(tiny({ training: { steps: 1_000_000, batch_size: 8192 } })).training.steps).to.equal(1_000_000);
  });

  it("refuses a missing data set or required field", () => {
    const e = expectCode(() => validateSpec(tiny({ data: { datanets: ["fmnist-low-contrast", "fmnist-lowcontrast"] } })), SpecError, "spec/unknown-datanet", {
      name: "fmnist-lowcontrast",
      suggestion: "fmnist-low-contrast",
    });
    expect(e.field).to.equal("data.datanets[1]");
    const { name: _drop, ...noName } = tiny();
    expect(expectCode(() => validateSpec(noName), SpecError, "spec/missing-field").field).to.equal("name");
    expectCode(() => validateSpec(tiny({ data: { datanets: ["fortunes-literature"] } })), SpecError, "spec/datanet-modality-mismatch", {
      name: "fortunes-literature",
      modality: "text",
      baseModel: "fmnist-mlp",
    });
    expectCode(() => validateSpec(tiny({ training: { steps: 5, epochs: 1 } })), SpecError, "spec/steps-or-epochs", { field: "training" });
  });

  it("refuses a rank larger than a target layer, before training", async () => {
    const e = await expectCodeAsync(runFactory(tiny({ lora: { r: 200, alpha: 4, target_modules: ["fc1", "fc2"] } }), { quiet: true }), SpecError, "spec/rank-too-large", {
      r: 200,
      module: "fc2",
      limit: 128,
    });
    expect(e.field).to.equal("lora.r");
    await expectCodeAsync(runFactory(tiny({ lora: { r: 2, alpha: 4, target_modules: ["q_proj"] } }), { quiet: true }), SpecError, "spec/no-target-module", { field: "lora.target_modules" });
  });

  it("refuses a base model whose hash does not match, naming the actual hash", async () => {
    const wrong = "0".repeat(64);
    const e = await expectCodeAsync(runFactory(tiny({ base_model: { name: "fmnist-mlp", pretrain: "quick", seed: 1, sha256: wrong } }), { quiet: true }), SpecError, "spec/base-hash-mismatch", {
      expected: wrong,
    });
    expect(e.field).to.equal("base_model.sha256");
    expect(e.fields.actual)
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.equal(wrong);
  });
});

describe("Model Factory runs", function () {
  this.timeout(180_000);
  const outDir = (name: string) => join(UNIT_OUTPUTS, name);
  after(() => rmSync(UNIT_OUTPUTS, { recursive: true, force: true }));

  let first: Awaited<ReturnType<typeof runFactory>>;
  it("writes PEFT files, kept checkpoints with their learning rates, metrics and a model card", async () => {
    first = await runFactory(tiny({}, "unit-a"), { quiet: true });
    const dir = outDir("unit-a");
    for (const f of ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "metrics.json", "model_card.md", "result.json", "spec.json"])
      expect(existsSync(join(dir, f)), f).to.equal(true);
    expect(first.checkpoints.map((c) => c.step)).to.deep.equal([4, 6]);
    expect(first.checkpoints[0].lr).to.be.greaterThan(first.checkpoints[1].lr); // cosine decay
    expect(Object.keys(first.checkpoints[1].tensors)).to.include(loraAKey("fc1"));
    expect(readSafetensorsHeader(readFileSync(join(dir, "checkpoints", "step-000006", "adapter_model.safetensors"))).header).to.have.property("base_model.model.fc2.lora_B.weight");
    expect(first.metrics.trainable_fraction).to.be.lessThan(0.02);
    expect(first.train.contributorOf.length).to.equal(first.train.n);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result.adapter_sha256).to.equal(first.adapterSha256);
    expect(readFileSync(join(dir, "model_card.md"), "utf8")).to.match(/## Evaluation/);
  });

  it("exposes per-example gradients w.r.t. the LoRA tensors of each kept checkpoint (for attribution)", async () => {
    const { tf } = await initTf({ quiet: true });
    const loss = trainableLoss(first);
    const ck = first.checkpoints[first.checkpoints.length - 1];
    const w = checkpointWeights(first.model, ck);
    const keys = Object.keys(w);
    const gradOf = (idx: number[]) => {
      const { x, y } = batchTensors(first.model, first.train, idx);
      return tf.grads((...ts: Tensor[]) => tf.sum(loss(Object.fromEntries(keys.map((k, i) => [k, ts[i]])), x, y)))(keys.map((k) => w[k]));
    };
    const g0 = gradOf([0]),
      g1 = gradOf([1]),
      g01 = gradOf([0, 1]);
    const err = Math.max(...keys.map((_, i) => tf.max(tf.abs(tf.sub(tf.add(g0[i], g1[i]), g01[i]))).dataSync()[0]));
    expect(err).to.be.lessThan(1e-5);
    expect(tf.max(tf.abs(g0[keys.indexOf(loraBKey("fc1"))])).dataSync()[0]).to.be.greaterThan(0);
    // the final checkpoint is the trained adapter
    expect(tf.max(tf.abs(tf.sub(w[loraAKey("fc1")], first.adapter!.tensors[loraAKey("fc1")]))).dataSync()[0]).to.equal(0);
  });

  it("gives the same adapter bytes for the same seed, and different bytes for another seed", async () => {
    const again = await runFactory(tiny({}, "unit-b"), { quiet: true });
    expect(again.adapterSha256).to.equal(first.adapterSha256);
    expect(readFileSync(join(outDir("unit-b"), "adapter", "adapter_model.safetensors")).equals(readFileSync(join(outDir("unit-a"), "adapter", "adapter_model.safetensors")))).to.equal(true);
    const other = await runFactory(tiny({ seed: 6 }, "unit-c"), { quiet: true });
    expect(other.adapterSha256).to.not.equal(first.adapterSha256);
  });

  it("trains DoRA with LoRA+ learning rates and exports the magnitude vector under PEFT's key", async () => {
    const r = await runFactory(tiny({ lora: { r: 2, alpha: 4, target_modules: ["fc1"], use_dora: true }, optimizer: { lr: 0.003, lr_ratio_b: 16 } }, "unit-dora"), { quiet: true });
    const { header } = readSafetensorsHeader(readFileSync(join(outDir("unit-dora"), "adapter", "adapter_model.safetensors")));
    expect(header["base_model.model.fc1.lora_magnitude_vector"].shape).to.deep.equal([256]);
    expect(JSON.parse(readFileSync(join(outDir("unit-dora"), "adapter", "adapter_config.json"), "utf8")).use_dora).to.equal(true);
    const meta = JSON.parse(readFileSync(join(r.checkpoints[0].dir, "meta.json"), "utf8"));
    expect(meta.lr_b).to.be.closeTo(16 * meta.lr, 1e-12);
    expect(r.metrics.final.test_accuracy).to.be.greaterThan(r.metrics.base.test_accuracy);
  });

  it("resumes an interrupted run from its saved state and ends with the same adapter", async () => {
    const spec = tiny({}, "unit-d");
    let stopped: RunInterruptedError | undefined;
    try {
      await runFactory(spec, { quiet: true, stopAfterSteps: 3 });
    } catch (e) {
      stopped = e as RunInterruptedError;
    }
    expect(stopped).to.be.instanceOf(RunInterruptedError);
    expect(stopped!.step).to.equal(3);
    expect(existsSync(outDir("unit-d"))).to.equal(false); // nothing half-written in the output
    const resumed = await runFactory(spec, { quiet: true });
    expect(resumed.metrics.resumed_from_step).to.equal(3);
    expect(resumed.adapterSha256).to.equal(first.adapterSha256);
  });

  it("fine-tunes the transformer LM on the text datanet, with a CAUSAL_LM adapter on attention projections", async () => {
    const r = await runFactory(
      {
        name: "unit-lm",
        base_model: { name: "fortunes-gpt", pretrain: "quick", seed: 1 },
        data: { datanets: ["fortunes-literature"], scale: 0.3 },
        method: "lora",
        lora: { r: 2, alpha: 4, target_modules: ["q_proj", "v_proj"] },
        optimizer: { lr: 0.01 },
        training: { steps: 4, batch_size: 8 },
        seed: 1,
        checkpoints: { every: 2, keep: 2 },
        evaluation: { every: 4, test_limit: 16 },
        output: { dir: outDir("unit-lm") },
      },
      { quiet: true },
    );
    const d = r.datanets[0];
    expect(d.modality).to.equal("text");
    expect(d.contributors.map((c) => c.kind)).to.deep.equal(["iid", "non-iid", "duplicate", "label-flip"]);
    // the copyist's windows are copies of the archivist's, so their hashes are among the archivist's
    const hashesOf = (k: number) => new Set(d.sampleHashes.filter((_, i) => d.contributorOf[i] === k));
    const archivist = hashesOf(0);
    expect([...hashesOf(2)].every((h) => archivist.has(h))).to.equal(true);
    expect(r.test.n).to.equal(16); // held-out documents no contributor used
    expect(r.metrics.final.test_loss).to.be.lessThan(r.metrics.base.test_loss);
    const cfg = JSON.parse(readFileSync(join(outDir("unit-lm"), "adapter", "adapter_config.json"), "utf8"));
    expect(cfg.task_type).to.equal("CAUSAL_LM");
    expect(Object.keys(readSafetensorsHeader(readFileSync(join(outDir("unit-lm"), "adapter", "adapter_model.safetensors"))).header)).to.include("base_model.model.h.1.attn.v_proj.lora_B.weight");
  });

  it("fine-tunes the BPE base on the text datanet cut into its tokens, and the model card records its tokenizer", async () => {
    const r = await runFactory(
      {
        name: "unit-lm-bpe",
        base_model: { name: "fortunes-bpe-gpt", pretrain: "quick", seed: 1 },
        data: { datanets: ["fortunes-literature"], scale: 0.3 },
        method: "lora",
        lora: { r: 2, alpha: 4, target_modules: ["v_proj"] },
        optimizer: { lr: 0.01 },
        training: { steps: 2, batch_size: 8 },
        seed: 1,
        checkpoints: { every: 2, keep: 1 },
        evaluation: { every: 2, test_limit: 8 },
        output: { dir: outDir("unit-lm-bpe") },
      },
      { quiet: true },
    );
    const tokenizer = recipeTokenizer("fortunes-bpe-gpt") as BpeTokenizer;
    const d = r.datanets[0];
    // windows of BPE ids: the first decodes to the start of the archivist's text
    const T = d.xShape[0];
    expect(Array.from(d.x).every((id) => id < 2048)).to.equal(true);
    expect(tokenizer.decode(d.x.subarray(0, T)).length).to.be.greaterThan(T);
    const card = readFileSync(join(outDir("unit-lm-bpe"), "model_card.md"), "utf8");
    expect(card).to.include(`- Tokenizer: byte-level-bpe, 2048 tokens, saved as tokenizer.json beside the base weights (sha256 \`${sha256Hex(tokenizer.serialize())}\`)`);
  });

  it("stops on a NaN loss with a message and keeps the last good checkpoint", async () => {
    const spec = tiny({ optimizer: { name: "sgd", lr: 1e30 }, checkpoints: { every: 1, keep: 2 }, training: { steps: 6, batch_size: 32 } }, "unit-nan");
    let error: NonFiniteLossError | undefined;
    try {
      await runFactory(spec, { quiet: true });
    } catch (e) {
      error = e as NonFiniteLossError;
    }
    expect(error).to.be.instanceOf(NonFiniteLossError);
    expect(error!.code).to.equal("train/non-finite-loss");
    expect(error!.fields).to.include({ spec: "unit-nan", step: error!.step });
    const lastGood = String(error!.fields.lastCheckpoint);
    expect(existsSync(join(lastGood, "adapter_model.safetensors"))).to.equal(true);
    rmSync(join(lastGood, "..", ".."), { recursive: true, force: true });
  });
});

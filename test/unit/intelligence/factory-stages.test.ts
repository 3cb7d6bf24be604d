import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { SpecError } from "../../../lib/intelligence/errors.js";
import {
  baseModel,
  checkpointName,
  type FactorySpec,
  factoryData,
  factoryMetrics,
  factoryStaging,
  initTrainable,
  keptCheckpointNames,
  lastCheckpointDir,
  loadOrPretrainBase,
  lockStaging,
  type Model,
  metricsHash,
  Optimizer,
  pruneCheckpoints,
  RunInterruptedError,
  readCheckpoints,
  restoreTrainingState,
  runFactory,
  saveTrainingState,
  stepSchedule,
  type Tf,
  totalStepsOf,
  validateSpec,
  writeCheckpoint,
  writeFactoryOutputs,
} from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

function spec(overrides: Record<string, unknown> = {}): FactorySpec {
  return validateSpec({
    name: "unit-stages",
    base_model: { name: "fmnist-mlp", pretrain: "quick", seed: 1 },
    data: { datanets: ["fmnist-low-contrast"], scale: 0.05 },
    lora: { r: 2, alpha: 4, target_modules: ["fc1", "fc2"] },
    training: { steps: 10, batch_size: 32 },
    seed: 5,
    checkpoints: { every: 3, keep: 2 },
    evaluation: { every: 4, test_limit: 100 },
    ...overrides,
  });
}

describe("Model Factory stages", function () {
  this.timeout(60_000);
  let tf: Tf;
  let model: Model;
  before(async () => {
    tf = (await initTf({ quiet: true })).tf;
    model = baseModel(tf, "fmnist-mlp");
  });

  describe("spec and data", () => {
    it("splits each datanet into disjoint training and validation examples that cover it, by seed", () => {
      const s = spec();
      const { datanets, train, validation } = factoryData(s);
      const seen = new Set<string>();
      for (const split of [train, validation]) {
        for (let k = 0; k < split.n; k++) seen.add(`${split.datanetOf[k]}:${split.sampleOf[k]}`);
      }
      expect(seen.size).to.equal(train.n + validation.n);
      expect(train.n + validation.n).to.equal(datanets.reduce((a, d) => a + d.n, 0));
      expect(validation.n).to.equal(Math.round(datanets[0].n * s.data.validation_fraction));
      const again = factoryData(s).validation.sampleOf;
      expect([...again]).to.deep.equal([...validation.sampleOf]);
      expect([...factoryData(spec({ seed: 6 })).validation.sampleOf]).to.not.deep.equal([...validation.sampleOf]);
    });

    it("refuses a batch larger than the training split, with the sizes as fields", () => {
      expectCode(() => factoryData(spec({ training: { steps: 10, batch_size: 5000 } })), SpecError, "spec/batch-larger-than-data", { field: "training.batch_size", batchSize: 5000 });
    });

    it("counts steps from epochs, and evaluates and checkpoints on schedule and at the last step", () => {
      expect(totalStepsOf(spec(), 1000)).to.equal(10);
      expect(totalStepsOf(spec({ training: { epochs: 2, batch_size: 32 } }), 100)).to.equal(7);
      const s = spec();
      const due = Array.from({ length: 10 }, (_, i) => stepSchedule(s, i + 1, 10));
      expect(due.map((d, i) => (d.evaluate ? i + 1 : 0)).filter(Boolean)).to.deep.equal([4, 8, 10]);
      expect(due.map((d, i) => (d.checkpoint ? i + 1 : 0)).filter(Boolean)).to.deep.equal([3, 6, 9, 10]);
    });
  });

  describe("lock and resume", () => {
    it("restores trainable tensors, optimizer moments and step exactly as saved", async () => {
      const s = spec();
      const base = await loadOrPretrainBase(tf, s.base_model.name, { mode: "quick", seed: 1 });
      const setup = initTrainable(tf, model, base.weights, s);
      const opt = new Optimizer(tf, { name: "adamw", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, lrRatioB: 1 }, setup.trainable);
      const key = Object.keys(setup.trainable)[0];
      opt.m[key].assign(tf.onesLike(opt.m[key]));
      opt.step = 7;
      const dir = join(mkdtempSync(join(tmpdir(), "lab-state-")), "state");
      const state = { step: 7, history: [{ step: 7, loss: 0.5, lr: 1e-3 }], evals: [], seconds: 1.5, specSha256: "ab" };
      await saveTrainingState(dir, setup.trainable, opt, state);
      const saved = Float32Array.from(setup.trainable[key].dataSync() as Float32Array);

      const fresh = initTrainable(tf, model, base.weights, spec({ seed: 9 }));
      const freshOpt = new Optimizer(tf, opt.config, fresh.trainable);
      expect(restoreTrainingState(tf, join(dir, "..", "absent"), fresh.trainable, freshOpt)).to.equal(undefined);
      expect(restoreTrainingState(tf, dir, fresh.trainable, freshOpt)).to.deep.equal(state);
      expect([...(fresh.trainable[key].dataSync() as Float32Array)]).to.deep.equal([...saved]);
      expect((freshOpt.m[key].dataSync() as Float32Array).every((v) => v === 1)).to.equal(true);
      expect(freshOpt.step).to.equal(7);
      opt.dispose();
      freshOpt.dispose();
    });

    it("lets one process at a time use a spec's staging folder", () => {
      const staging = factoryStaging(spec({ name: "unit-stages-lock" }), "f".repeat(64));
      const lock = lockStaging(staging, "unit-stages-lock");
      try {
        writeFileSync(staging.lockFile, String(process.ppid));
        expectCode(() => lockStaging(staging, "unit-stages-lock"), LabError, "lock/held");
      } finally {
        writeFileSync(staging.lockFile, String(process.pid));
        lock.release();
      }
      expect(existsSync(staging.lockFile)).to.equal(false);
      rmSync(staging.root, { recursive: true, force: true });
    });
  });

  describe("checkpoints", () => {
    it("keeps the newest checkpoints, sorted by step, and reads them back without PEFT's prefix", async () => {
      const s = spec();
      const base = await loadOrPretrainBase(tf, s.base_model.name, { mode: "quick", seed: 1 });
      const setup = initTrainable(tf, model, base.weights, s);
      const root = mkdtempSync(join(tmpdir(), "lab-ckpt-"));
      expect(lastCheckpointDir(root)).to.equal("(none yet)");
      for (const step of [3, 6, 9, 10]) await writeCheckpoint(root, { step, lr: step / 1000, loss: 1 / step }, setup.trainable, s, model, setup.adapter);
      expect(keptCheckpointNames(root)).to.deep.equal([checkpointName(9), checkpointName(10)]);
      expect(checkpointName(10)).to.equal("step-000010");
      expect(lastCheckpointDir(root)).to.equal(join(root, "step-000010"));
      const back = readCheckpoints(root, true);
      expect(back.map((c) => [c.step, c.lr])).to.deep.equal([
        [9, 0.009],
        [10, 0.01],
      ]);
      expect(Object.keys(back[0].tensors)).to.have.members(Object.keys(setup.trainable));
      expect(pruneCheckpoints(root, 1)).to.deep.equal([checkpointName(9)]);
    });
  });

  describe("outputs and card", () => {
    it("measures throughput over the steps and seconds of this call only", () => {
      const s = spec();
      const evaluation = { step: 10, validation_loss: 1, validation_accuracy: 0.5, test_loss: 1.1, test_accuracy: 0.4 };
      const m = factoryMetrics(
        s,
        model,
        10,
        { trainable: 10, total: 1000 },
        {
          history: [],
          evals: [evaluation],
          final: evaluation,
          base: { loss: 2, accuracy: 0.1 },
          seconds: 5,
          secondsBefore: 3,
          resumedFrom: 6,
          peakTrainingBytes: 123,
        },
        "cpu",
      );
      expect(m.examples_per_second).to.equal((4 * 32) / 2);
      expect(m.trainable_fraction).to.equal(0.01);
      expect(m.final).to.deep.equal({ test_loss: 1.1, test_accuracy: 0.4, validation_loss: 1, validation_accuracy: 0.5 });
      expect(m.resumed_from_step).to.equal(6);
      // the hash the chain records: blind to the wall clock, not to what the model learned
      const slower = { ...m, seconds: 50, examples_per_second: 1, model_gflops_per_second: 0.1 };
      expect(metricsHash(slower)).to.equal(metricsHash(m));
      expect(metricsHash({ ...m, final: { ...m.final, test_loss: 1.2 } })).to.not.equal(metricsHash(m));
    });

    it("replaces an older output folder whole, taking the kept checkpoints along", async () => {
      const s = spec();
      const base = await loadOrPretrainBase(tf, s.base_model.name, { mode: "quick", seed: 1 });
      const setup = initTrainable(tf, model, base.weights, s);
      const root = mkdtempSync(join(tmpdir(), "lab-out-"));
      const outDir = join(root, "out");
      const checkpointsDir = join(root, "staging", "checkpoints");
      const adapter = { ...setup.adapter!, tensors: setup.trainable };
      await writeCheckpoint(checkpointsDir, { step: 3, lr: 0.001, loss: 1 }, setup.trainable, s, model, setup.adapter);
      const { datanets } = factoryData(s);
      const evaluation = { step: 10, validation_loss: 1, validation_accuracy: 0.5, test_loss: 1.1, test_accuracy: 0.4 };
      const metrics = factoryMetrics(
        s,
        model,
        10,
        { trainable: 10, total: 1000 },
        {
          history: [],
          evals: [evaluation],
          final: evaluation,
          base: { loss: 2, accuracy: 0.1 },
          seconds: 1,
          secondsBefore: 0,
          resumedFrom: null,
          peakTrainingBytes: 0,
        },
        "cpu",
      );
      writeFileSync(join(root, "placeholder"), "");
      await writeFactoryOutputs({ outDir, spec: s, specSha256: "a".repeat(64), model, metrics, datanets, trainable: setup.trainable, adapter, base, checkpointsDir, backend: "cpu" });
      writeFileSync(join(outDir, "stale.txt"), "from an older run");
      await writeCheckpoint(checkpointsDir, { step: 6, lr: 0.001, loss: 1 }, setup.trainable, s, model, setup.adapter);
      const out = await writeFactoryOutputs({ outDir, spec: s, specSha256: "a".repeat(64), model, metrics, datanets, trainable: setup.trainable, adapter, base, checkpointsDir, backend: "cpu" });
      expect(readdirSync(outDir).sort()).to.deep.equal(["adapter", "checkpoints", "datanets", "metrics.json", "model_card.md", "result.json", "spec.json"]);
      expect(readdirSync(join(outDir, "checkpoints"))).to.deep.equal(["step-000006"]);
      expect(keptCheckpointNames(checkpointsDir)).to.deep.equal([]);
      expect(readdirSync(root).sort()).to.deep.equal(["out", "placeholder", "staging"]);
      const result = JSON.parse(readFileSync(join(outDir, "result.json"), "utf8"));
      expect(result).to.include({ adapter_sha256: out.adapterSha256, metrics_sha256: out.metricsSha256, base_model_sha256: base.sha256 });
      expect(readFileSync(join(outDir, "model_card.md"), "utf8")).to.contain(`# ${s.name}`);
    });
  });

  describe("the training loop", () => {
    it("reports progress through its callbacks, and a resumed run starts from the history it restored", async () => {
      const outDir = join(mkdtempSync(join(tmpdir(), "lab-loop-")), "out");
      const s = spec({ name: "unit-stages-callbacks", training: { steps: 6, batch_size: 32 }, checkpoints: { every: 2, keep: 2 }, evaluation: { every: 3, test_limit: 100 } });
      const seen: string[] = [];
      const callbacks = {
        onStart: (x: { startStep: number; totalSteps: number; history: unknown[] }) => seen.push(`start ${x.startStep}/${x.totalSteps} history ${x.history.length}`),
        onStep: (x: { step: number }) => seen.push(`step ${x.step}`),
        onEvaluation: (x: { step: number }) => seen.push(`eval ${x.step}`),
        onCheckpoint: (x: { step: number; dir: string }) => seen.push(`checkpoint ${x.step} ${x.dir.endsWith(checkpointName(x.step))}`),
      };
      await expectCodeAsync(runFactory(s, { quiet: true, outDir, stopAfterSteps: 3, ...callbacks }), RunInterruptedError, "factory/interrupted");
      await runFactory(s, { quiet: true, outDir, ...callbacks });
      expect(seen).to.deep.equal([
        "start 0/6 history 0",
        "step 1",
        "checkpoint 2 true",
        "step 2",
        "eval 3",
        "step 3",
        // the state saved at the stop (step 3) is where the second call starts
        "start 3/6 history 3",
        "checkpoint 4 true",
        "step 4",
        "step 5",
        "eval 6",
        "checkpoint 6 true",
        "step 6",
      ]);
    });
  });
});

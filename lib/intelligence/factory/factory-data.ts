import { rng } from "../../random.js";
import { type Datanet, shiftedTestSet } from "../datanets.js";
import { IntelligenceError, SpecError } from "../errors.js";
import { matchTargetModules } from "../lora/index.js";
import type { Model } from "../models/types.js";
import type { TrainData } from "../train.js";
import { DATANET_CATALOG } from "./catalog.js";
import type { FactorySpec } from "./factory-spec.js";

export interface SplitData extends TrainData {
  /** Per example: which datanet (index into datanets) and which sample of it. */
  datanetOf: Int32Array;
  sampleOf: Int32Array;
  /** Contributor address of each example. */
  contributorOf: string[];
}

/** The examples a run trains, selects and reports on. */
export interface FactoryData {
  datanets: Datanet[];
  train: SplitData;
  validation: SplitData;
  test: TrainData;
}

/** Semantic checks that need the model's shape (still before any training). */
export function checkSpecAgainstModel(spec: FactorySpec, model: Model): void {
  if (spec.method !== "lora") return;
  const matched = matchTargetModules(model.linearModules, spec.lora.target_modules);
  if (matched.length === 0) {
    throw new SpecError(
      "lora.target_modules",
      `${JSON.stringify(spec.lora.target_modules)} match no layer of ${spec.base_model.name}`,
      `choose among: ${model.linearModules.map((m) => m.name).join(", ")} (suffixes like q_proj match every block)`,
      { code: "spec/no-target-module", fields: { targetModules: spec.lora.target_modules, model: spec.base_model.name } },
    );
  }
  for (const m of matched) {
    const limit = Math.min(m.inFeatures, m.outFeatures);
    if (spec.lora.r > limit) {
      throw new SpecError(
        "lora.r",
        `rank ${spec.lora.r} is larger than layer ${m.name} allows (${m.outFeatures}×${m.inFeatures}, so at most ${limit})`,
        `set lora.r <= ${limit} or drop ${m.name} from lora.target_modules`,
        { code: "spec/rank-too-large", fields: { r: spec.lora.r, module: m.name, limit } },
      );
    }
  }
}

/**
 * Splits every datanet into training and validation examples: per datanet, a seeded shuffle
 * (forked by datanet id, so adding a datanet leaves the others' splits alone) whose first
 * round(n × fraction) indices validate.
 */
export function splitDatanets(datanets: Datanet[], fraction: number, seed: number): { train: SplitData; validation: SplitData } {
  const trainRefs: Array<[number, number]> = [],
    valRefs: Array<[number, number]> = [];
  datanets.forEach((d, di) => {
    const order = rng(seed)
      .fork(`split:${d.id}`)
      .shuffle(Array.from({ length: d.n }, (_, i) => i));
    const nVal = Math.round(d.n * fraction);
    order.forEach((i, k) => {
      (k < nVal ? valRefs : trainRefs).push([di, i]);
    });
  });
  return { train: gatherExamples(datanets, trainRefs), validation: gatherExamples(datanets, valRefs) };
}

/** Copies the referenced (datanet, sample) examples into one contiguous set. */
function gatherExamples(datanets: Datanet[], refs: Array<[number, number]>): SplitData {
  const d0 = datanets[0];
  const xs = d0.xShape.reduce((a, b) => a * b, 1),
    ys = d0.yShape.reduce((a, b) => a * b, 1);
  const x = d0.x instanceof Int32Array ? new Int32Array(refs.length * xs) : new Float32Array(refs.length * xs);
  const y = new Int32Array(refs.length * ys);
  refs.forEach(([di, i], k) => {
    const d = datanets[di];
    x.set(d.x.subarray(i * xs, (i + 1) * xs), k * xs);
    y.set(d.y.subarray(i * ys, (i + 1) * ys), k * ys);
  });
  return {
    x,
    y,
    n: refs.length,
    xShape: d0.xShape,
    yShape: d0.yShape,
    datanetOf: Int32Array.from(refs.map((r) => r[0])),
    sampleOf: Int32Array.from(refs.map((r) => r[1])),
    contributorOf: refs.map(([di, i]) => datanets[di].contributors[datanets[di].contributorOf[i]].address),
  };
}

/** The first `limit` held-out documents of a text datanet: its test set. */
export function heldOutTest(d: Datanet, limit: number): TrainData {
  if (!d.heldOut || d.heldOut.n === 0) {
    throw new IntelligenceError({
      code: "factory/no-held-out-documents",
      message: `datanet ${d.name} has no held-out documents to test on`,
      hint: "lower data.scale so some documents stay unused",
      fields: { datanet: d.name },
    });
  }
  const n = Math.min(limit, d.heldOut.n);
  const T = d.heldOut.xShape[0];
  return { x: d.heldOut.x.subarray(0, n * T), y: d.heldOut.y.subarray(0, n * T), n, xShape: d.heldOut.xShape, yShape: d.heldOut.yShape };
}

/**
 * Stage "data": builds the spec's datanets, splits them, refuses a batch larger than the
 * training split, and picks the test set (the shifted Fashion-MNIST test split for images,
 * held-out documents for text).
 */
export function factoryData(spec: FactorySpec): FactoryData {
  const datanets = spec.data.datanets.map((name) => DATANET_CATALOG[name].build(spec.data.scale, spec.base_model.name));
  const { train, validation } = splitDatanets(datanets, spec.data.validation_fraction, spec.seed);
  if (train.n < spec.training.batch_size) {
    throw new SpecError("training.batch_size", `${spec.training.batch_size} exceeds the ${train.n} training examples`, `set training.batch_size <= ${train.n} or data.scale higher`, {
      code: "spec/batch-larger-than-data",
      fields: { batchSize: spec.training.batch_size, trainExamples: train.n },
    });
  }
  const entry = DATANET_CATALOG[spec.data.datanets[0]];
  const test: TrainData =
    entry.modality === "image" ? { ...shiftedTestSet(entry.shift!, { limit: spec.evaluation.test_limit }), xShape: [784], yShape: [] } : heldOutTest(datanets[0], spec.evaluation.test_limit);
  return { datanets, train, validation, test };
}

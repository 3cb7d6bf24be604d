import { rng } from "../../random.js";
import { IntelligenceError } from "../errors.js";
import { rowNorm } from "../models/ops.js";
import { doraMagnitudeKey, loraAKey, loraBKey, weightKey } from "../models/peft-keys.js";
import type { ForwardOptions, LinearModule, Model, Tensor, Tf, WeightMap } from "../models/types.js";

/** LoRA settings, named as in PEFT's LoraConfig. */
export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module names or name suffixes (PEFT matches "q_proj" against "h.0.attn.q_proj"). */
  targetModules: string[];
  useRslora: boolean;
  useDora: boolean;
  /** "kaiming" (PEFT's default: A ~ Kaiming-uniform a=√5) or "gaussian" (A ~ N(0, 1/r)). */
  initLoraWeights: "kaiming" | "gaussian";
  /** PEFT's `bias` setting; only "none" (biases frozen) is implemented. */
  bias: "none";
}

export const DEFAULT_LORA: LoraConfig = {
  r: 8,
  loraAlpha: 16,
  loraDropout: 0,
  targetModules: [],
  useRslora: false,
  useDora: false,
  initLoraWeights: "kaiming",
  bias: "none",
};

export function loraConfig(partial: Partial<LoraConfig> & { targetModules: string[] }): LoraConfig {
  return { ...DEFAULT_LORA, ...partial };
}

/** α/r, or α/√r with rsLoRA (Kalajdzievski 2023), which keeps updates stable as r grows. */
export function loraScaling(c: Pick<LoraConfig, "r" | "loraAlpha" | "useRslora">): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** PEFT's matching rule for a list of names: exact match, or the name ends with "." + target. */
export function matchTargetModules(modules: LinearModule[], targets: string[]): LinearModule[] {
  return modules.filter((m) => targets.some((t) => m.name === t || m.name.endsWith(`.${t}`)));
}

/** LoRA tensors keyed as in PEFT state dicts (without the base_model.model. prefix). */
export interface LoraAdapter {
  config: LoraConfig;
  modules: LinearModule[];
  tensors: WeightMap;
}

/**
 * New adapter: A Kaiming-uniform with a=√5 (bound 1/√in, as PEFT's reset_lora_parameters) or
 * Gaussian N(0, 1/r); B zero, so the adapted model starts equal to the base. DoRA's magnitude
 * starts at the row norms of W0.
 */
export function initLora(model: Model, base: WeightMap, config: LoraConfig, seed: number): LoraAdapter {
  const tf = model.tf;
  if (!Number.isInteger(config.r) || config.r < 1)
    throw new IntelligenceError({
      code: "lora/bad-rank",
      message: `LoRA rank r=${config.r} is not a positive integer`,
      hint: "set r to 1 or more (typical: 4, 8, 16)",
      fields: { r: config.r },
    });
  const modules = matchTargetModules(model.linearModules, config.targetModules);
  if (modules.length === 0) {
    throw new IntelligenceError({
      code: "lora/no-target-module",
      message: `target_modules ${JSON.stringify(config.targetModules)} match no linear layer of the ${model.kind} model`,
      hint: `choose among: ${model.linearModules.map((m) => m.name).join(", ")}`,
      fields: { targetModules: config.targetModules, model: model.kind },
    });
  }
  const tensors: WeightMap = {};
  for (const m of modules) {
    if (config.r > Math.min(m.inFeatures, m.outFeatures)) {
      throw new IntelligenceError({
        code: "lora/rank-too-large",
        message: `LoRA rank ${config.r} exceeds layer ${m.name} (${m.outFeatures}×${m.inFeatures})`,
        hint: `use r <= ${Math.min(m.inFeatures, m.outFeatures)}`,
        fields: { r: config.r, module: m.name, limit: Math.min(m.inFeatures, m.outFeatures) },
      });
    }
    const r = rng(seed).fork(`lora:${m.name}`);
    const a = new Float32Array(config.r * m.inFeatures);
    if (config.initLoraWeights === "gaussian") {
      for (let i = 0; i < a.length; i++) a[i] = r.normal() / config.r;
    } else {
      const bound = 1 / Math.sqrt(m.inFeatures);
      for (let i = 0; i < a.length; i++) a[i] = (2 * r.next() - 1) * bound;
    }
    tensors[loraAKey(m.name)] = tf.tensor2d(a, [config.r, m.inFeatures]);
    tensors[loraBKey(m.name)] = tf.zeros([m.outFeatures, config.r]);
    if (config.useDora) tensors[doraMagnitudeKey(m.name)] = tf.tidy(() => rowNorm(tf, base[weightKey(m.name)]));
  }
  return { config, modules, tensors };
}

export function loraForwardOptions(adapter: LoraAdapter, training = false, dropoutSeed = 0): ForwardOptions {
  return {
    lora: { scaling: loraScaling(adapter.config), dora: adapter.config.useDora },
    loraDropout: adapter.config.loraDropout,
    training,
    dropoutSeed,
  };
}

/** The weight map the model's forward sees: base weights plus adapter tensors. */
export function loraWeightMap(base: WeightMap, adapter: LoraAdapter | WeightMap): WeightMap {
  const tensors = "tensors" in adapter && "config" in adapter ? (adapter as LoraAdapter).tensors : (adapter as WeightMap);
  return { ...base, ...tensors };
}

export function countParams(weights: WeightMap): number {
  return Object.values(weights).reduce((s, t) => s + t.size, 0);
}

export function trainableParamCount(adapter: LoraAdapter): number {
  return countParams(adapter.tensors);
}

/** ΔW = s·B·A for one module. */
export function deltaWeight(tf: Tf, adapter: LoraAdapter, module: string): Tensor {
  return tf.tidy(() => tf.mul(tf.matMul(adapter.tensors[loraBKey(module)], adapter.tensors[loraAKey(module)]), loraScaling(adapter.config)));
}

export interface MergedModel {
  weights: WeightMap;
  /** Per module, what unmerge needs to undo DoRA's rescaling (m / ‖W0 + ΔW‖ at merge time). */
  doraFactors: Record<string, Tensor>;
}

/**
 * Folds the adapter into the base weights: W = W0 + s·B·A (LoRA) or
 * W = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ row-wise (DoRA). The result runs without LoRA terms.
 */
export function mergeLora(model: Model, base: WeightMap, adapter: LoraAdapter): MergedModel {
  const tf = model.tf;
  const weights: WeightMap = { ...base };
  const doraFactors: Record<string, Tensor> = {};
  for (const m of adapter.modules) {
    const key = weightKey(m.name);
    weights[key] = tf.tidy(() => {
      const combined = tf.add(base[key], deltaWeight(tf, adapter, m.name));
      if (!adapter.config.useDora) return combined;
      const factor = tf.div(adapter.tensors[doraMagnitudeKey(m.name)], rowNorm(tf, combined));
      doraFactors[m.name] = tf.keep(factor);
      return tf.mul(combined, tf.expandDims(factor, 1));
    });
  }
  return { weights, doraFactors };
}

/** Recovers W0 from merged weights: W0 = W − s·B·A (DoRA: W / factor − s·B·A). */
export function unmergeLora(model: Model, merged: MergedModel, adapter: LoraAdapter): WeightMap {
  const tf = model.tf;
  const weights: WeightMap = { ...merged.weights };
  for (const m of adapter.modules) {
    const key = weightKey(m.name);
    weights[key] = tf.tidy(() => {
      let w = merged.weights[key];
      if (adapter.config.useDora) w = tf.div(w, tf.expandDims(merged.doraFactors[m.name], 1));
      return tf.sub(w, deltaWeight(tf, adapter, m.name));
    });
  }
  return weights;
}

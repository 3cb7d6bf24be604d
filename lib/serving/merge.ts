import { sha256Hex, writeDirAtomic } from "../files.js";
import { type LoraConfig, loraScaling } from "../intelligence/lora/index.js";
import { loraAKey, loraBKey, toPeftKey, weightKey } from "../intelligence/models/peft-keys.js";
import type { LinearModule } from "../intelligence/models/types.js";
import { toPeftConfig } from "../intelligence/peft/index.js";
import { encodeSafetensors } from "../intelligence/peft/safetensors.js";
import { type Rng, rng } from "../random.js";
import { OpenLoraError } from "./errors.js";
import { BASE_HASH_METADATA, type HostAdapter, type HostModule } from "./store.js";

/**
 * Adapters combined into one, with the semantics of PEFT's `add_weighted_adapter` for the
 * combination types that keep the rank (and of LoRAX's merge strategies, which take them from
 * PEFT): every adapter must have the same rank r; the new adapter has rank r and lora_alpha = r
 * (scaling 1), targets the union of the layers, and per layer combines the A matrices and the
 * B matrices separately, adapter i weighted by
 *   A: sign(wᵢ·sᵢ)·√|wᵢ·sᵢ|      B: √|wᵢ·sᵢ|        (sᵢ = αᵢ/rᵢ, the adapter's scaling)
 * so that one adapter with weight 1 gives back its own ΔW = s·B·A. The task-tensor operations:
 *   linear          Σ wᵢ·Tᵢ
 *   ties            trim each Tᵢ to its top `density` share by magnitude; elect the sign of each
 *                   entry (sign of Σ Tᵢ, "total", or of Σ sign(Tᵢ), "frequency"); average the
 *                   weighted entries that agree with it (TIES-Merging, Yadav et al. 2023)
 *   dare_linear     drop each entry with probability 1 − density, rescale survivors by 1/density
 *                   (DARE, Yu et al. 2023), then Σ wᵢ·Tᵢ
 *   dare_ties       DARE's drop and rescale, then TIES's sign election and disjoint mean
 *   magnitude_prune trim as TIES does, then Σ wᵢ·Tᵢ
 * DARE's drops come from the lab's seeded generator, so a seed gives the same merge everywhere
 * (PEFT draws them from torch's generator).
 */
export type CombinationType = "linear" | "ties" | "dare_linear" | "dare_ties" | "magnitude_prune";
export const COMBINATION_TYPES: readonly CombinationType[] = ["linear", "ties", "dare_linear", "dare_ties", "magnitude_prune"];

export interface CombineOptions {
  combinationType: CombinationType;
  /** Fraction of entries kept, in [0, 1]: needed by every type but linear. */
  density?: number;
  majoritySignMethod?: "total" | "frequency";
  seed?: number;
}

/** Keeps the ⌊density·n⌋ entries of largest magnitude (PEFT's magnitude_based_pruning). */
export function magnitudePrune(t: Float32Array, density: number): Float32Array {
  if (density >= 1) return t.slice();
  const k = Math.floor(density * t.length);
  const order = Array.from(t.keys()).sort((a, b) => Math.abs(t[b]) - Math.abs(t[a]) || a - b);
  const out = new Float32Array(t.length);
  for (let j = 0; j < k; j++) out[order[j]] = t[order[j]];
  return out;
}

/** Keeps each entry with probability density and divides survivors by it (DARE's drop and rescale). */
export function randomPrune(t: Float32Array, density: number, r: Rng): Float32Array {
  if (density >= 1) return t.slice();
  const out = new Float32Array(t.length);
  for (let j = 0; j < t.length; j++) if (r.next() < density) out[j] = t[j] / density;
  return out;
}

/** Per entry, true where tensor i's sign is the elected one (sign(0) never is). */
export function majoritySignMask(ts: Float32Array[], method: "total" | "frequency"): boolean[][] {
  const n = ts[0].length;
  const elected = new Int8Array(n);
  for (let j = 0; j < n; j++) {
    let m = 0;
    for (const t of ts) m += method === "total" ? t[j] : Math.sign(t[j]);
    elected[j] = m >= 0 ? 1 : -1;
  }
  return ts.map((t) => Array.from(t, (v, j) => Math.sign(v) === elected[j]));
}

function weightedSum(ts: Float32Array[], w: number[]): Float32Array {
  const out = new Float32Array(ts[0].length);
  ts.forEach((t, i) => {
    for (let j = 0; j < t.length; j++) out[j] += w[i] * t[j];
  });
  return out;
}

function disjointMerge(ts: Float32Array[], w: number[], mask: boolean[][]): Float32Array {
  const out = new Float32Array(ts[0].length);
  for (let j = 0; j < out.length; j++) {
    let sum = 0;
    let kept = 0;
    ts.forEach((t, i) => {
      if (mask[i][j]) {
        sum += w[i] * t[j];
        kept++;
      }
    });
    out[j] = sum / Math.max(kept, 1);
  }
  return out;
}

/** One combination of same-shaped task tensors with per-tensor weights. */
export function combineTensors(ts: Float32Array[], w: number[], o: CombineOptions, r: Rng): Float32Array {
  const density = o.density ?? 1;
  const method = o.majoritySignMethod ?? "total";
  switch (o.combinationType) {
    case "linear":
      return weightedSum(ts, w);
    case "magnitude_prune":
      return weightedSum(
        ts.map((t) => magnitudePrune(t, density)),
        w,
      );
    case "dare_linear":
      return weightedSum(
        ts.map((t) => randomPrune(t, density, r)),
        w,
      );
    case "ties": {
      const trimmed = ts.map((t) => magnitudePrune(t, density));
      return disjointMerge(trimmed, w, majoritySignMask(trimmed, method));
    }
    case "dare_ties": {
      const dropped = ts.map((t) => randomPrune(t, density, r));
      return disjointMerge(dropped, w, majoritySignMask(dropped, method));
    }
  }
}

function checkCombine(adapters: HostAdapter[], weights: number[], o: CombineOptions): void {
  const bad = (code: string, message: string, hint: string, fields: Record<string, string | number | readonly (string | number)[]>) => new OpenLoraError({ code, message, hint, fields, status: 422 });
  if (adapters.length === 0) throw bad("merge/no-adapters", "no adapters to combine", "pass one adapter or more", {});
  if (weights.length !== adapters.length)
    throw bad("merge/weights-length", `${weights.length} weights for ${adapters.length} adapters`, "give one weight per adapter", { weights: weights.length, adapters: adapters.length });
  if (!COMBINATION_TYPES.includes(o.combinationType))
    throw bad("merge/unknown-type", `combination type "${o.combinationType}" is not one of ${COMBINATION_TYPES.join(", ")}`, "use linear, ties, dare_linear, dare_ties or magnitude_prune", {
      type: String(o.combinationType),
    });
  const ranks = [...new Set(adapters.map((a) => a.r))];
  if (ranks.length > 1)
    throw bad(
      "merge/rank-mismatch",
      `adapters have ranks ${ranks.join(", ")}; ${o.combinationType} needs one rank`,
      "combine adapters of equal rank (PEFT's svd and cat types are the ones that change rank)",
      { ranks },
    );
  if (o.combinationType !== "linear" && !(o.density !== undefined && o.density >= 0 && o.density <= 1))
    throw bad("merge/bad-density", `${o.combinationType} needs a density in [0, 1], got ${o.density}`, "set density, e.g. 0.2", { density: o.density ?? "unset" });
  const bases = new Set(adapters.map((a) => a.baseSha256));
  if (bases.size > 1) throw bad("merge/base-mismatch", "the adapters were trained on different base models", "combine adapters of one base model", { bases: [...bases] });
}

/** The combined adapter (rank r, α = r), as host arrays; `id` names it. */
export function combineAdapters(id: string, adapters: HostAdapter[], weights: number[], o: CombineOptions): HostAdapter {
  checkCombine(adapters, weights, o);
  // PEFT applies a single adapter as linear whatever the type asked for
  const opts: CombineOptions = adapters.length === 1 ? { ...o, combinationType: "linear" } : o;
  const r = adapters[0].r;
  const random = rng(o.seed ?? 0).fork(`combine:${id}`);
  const names: string[] = [];
  for (const a of adapters) for (const m of a.modules) if (!names.includes(m.name)) names.push(m.name);
  const modules: HostModule[] = names.map((name) => {
    const having = adapters.map((a, i) => ({ m: a.modules.find((x) => x.name === name), ws: weights[i] * a.scaling })).filter((x) => x.m);
    const wA = having.map((h) => (h.ws >= 0 ? 1 : -1) * Math.sqrt(Math.abs(h.ws))); // the sign on A only, so B·A keeps it
    const wB = having.map((h) => Math.sqrt(Math.abs(h.ws)));
    const m0 = having[0].m!;
    return {
      name,
      inFeatures: m0.inFeatures,
      outFeatures: m0.outFeatures,
      a: combineTensors(
        having.map((h) => h.m!.a),
        wA,
        opts,
        random,
      ),
      b: combineTensors(
        having.map((h) => h.m!.b),
        wB,
        opts,
        random,
      ),
    };
  });
  const targets = [...new Set(adapters.flatMap((a) => a.config.targetModules))];
  const config: LoraConfig = { ...adapters[0].config, r, loraAlpha: r, targetModules: targets, useRslora: false };
  const bytes = modules.reduce((s, m) => s + m.a.byteLength + m.b.byteLength, 0);
  return { id, sha256: "", baseSha256: adapters[0].baseSha256, config, r, scaling: loraScaling(config), modules, bytes };
}

/** Writes a host adapter as a PEFT folder (the combined one, to register and serve); returns its sha256. */
export function writeHostAdapter(dir: string, adapter: HostAdapter): string {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const m of adapter.modules) {
    tensors[toPeftKey(loraAKey(m.name))] = { shape: [adapter.r, m.inFeatures], data: m.a };
    tensors[toPeftKey(loraBKey(m.name))] = { shape: [m.outFeatures, adapter.r], data: m.b };
  }
  const bytes = encodeSafetensors(tensors, { format: "pt", [BASE_HASH_METADATA]: adapter.baseSha256 });
  writeDirAtomic(dir, {
    "adapter_config.json": `${JSON.stringify(toPeftConfig(adapter.config, `sha256:${adapter.baseSha256}`, "CAUSAL_LM"), null, 2)}\n`,
    "adapter_model.safetensors": bytes,
  });
  return sha256Hex(bytes);
}

/** ΔW = s·B·A of one layer, [out, in] row-major. */
export function deltaOf(adapter: HostAdapter, module: string): Float32Array | undefined {
  const m = adapter.modules.find((x) => x.name === module);
  if (!m) return undefined;
  const d = new Float32Array(m.outFeatures * m.inFeatures);
  for (let o = 0; o < m.outFeatures; o++) {
    for (let j = 0; j < adapter.r; j++) {
      const b = adapter.scaling * m.b[o * adapter.r + j];
      for (let i = 0; i < m.inFeatures; i++) d[o * m.inFeatures + i] += b * m.a[j * m.inFeatures + i];
    }
  }
  return d;
}

/** W = W0 ± s·B·A for every layer the adapter targets: sign +1 merges, −1 unmerges. */
export function applyDelta(weights: Record<string, Float32Array>, modules: LinearModule[], adapter: HostAdapter, sign: 1 | -1): Record<string, Float32Array> {
  const out = { ...weights };
  for (const m of modules) {
    const d = deltaOf(adapter, m.name);
    if (!d) continue;
    const w = weights[weightKey(m.name)].slice();
    for (let k = 0; k < w.length; k++) w[k] += sign * d[k];
    out[weightKey(m.name)] = w;
  }
  return out;
}

import type { LoraConfig } from "../intelligence/lora/index.js";
import { loraAKey, loraBKey } from "../intelligence/models/peft-keys.js";
import type { LinearModule, Tensor, Tf, WeightMap } from "../intelligence/models/types.js";
import { OpenLoraError } from "./errors.js";
import type { HostAdapter } from "./store.js";

/**
 * The top tier: a fixed number of adapter slots in the backend (S-LoRA's "GPU memory" pool,
 * here the tfjs backend's). An adapter in a slot has its tensors in PEFT's layout and
 * transposed (Aᵀ [in, r], Bᵀ [r, out], for the per-request strategies and merging), and, per
 * linear layer, its block for the batched product: Aᵀ and (s·B)ᵀ zero-padded to the bank's
 * rank R (so adapters of mixed ranks share one product exactly) with the scaling folded into
 * B. `gathered` lays those blocks out per row of a batch (Punica's SGMV, gathered form).
 */
export interface ResidentAdapter {
  id: string;
  slot: number;
  sha256: string;
  baseSha256: string;
  config: LoraConfig;
  r: number;
  scaling: number;
  modules: LinearModule[];
  /** MODULE.lora_A.weight [r, in], MODULE.lora_B.weight [out, r]: PEFT keys, unscaled. */
  tensors: WeightMap;
  /** Per module, Aᵀ [in, r] and Bᵀ [r, out], unscaled: the serving layout. */
  transposed: Record<string, { aT: Tensor; bT: Tensor }>;
  bytes: number;
}

/** Per batch row, the row's adapter block of one layer (zeros where it does not adapt the layer). */
export interface GatheredModule {
  /** Aᵀ per row [N, in, R] */
  aT: Tensor;
  /** (s·B)ᵀ per row [N, R, out] */
  sbT: Tensor;
}

/** Per module, an adapter's Aᵀ [in, R] and (s·B)ᵀ [R, out], zero-padded to the bank's rank R. */
export type PaddedBlocks = Map<string, { a: Float32Array; b: Float32Array }>;

/** Where a batched engine finds each row's adapter blocks: a SlotBank, or the copy a decode thread keeps. */
export interface BlockSource {
  readonly modules: LinearModule[];
  gathered(module: string, slotsPerRow: number[]): GatheredModule | undefined;
}

/**
 * One layer's adapter blocks for the rows of a batch, row n using slot slotsPerRow[n]: copied
 * from host-side blocks into two tensors, so no gather runs in the backend (on wasm a gather
 * of [32, 256, 8] takes longer than a [32, 256] × [256, 256] product). Undefined when no
 * row's adapter adapts the layer.
 */
export function gatherBlocks(tf: Tf, modules: LinearModule[], R: number, blocksOf: (slot: number) => PaddedBlocks | undefined, module: string, slotsPerRow: number[]): GatheredModule | undefined {
  const blocks = slotsPerRow.map((s) => blocksOf(s)?.get(module));
  if (!blocks.some((b) => b)) return undefined;
  const m = modules.find((x) => x.name === module)!;
  const aSize = m.inFeatures * R;
  const bSize = R * m.outFeatures;
  const a = new Float32Array(slotsPerRow.length * aSize);
  const b = new Float32Array(slotsPerRow.length * bSize);
  blocks.forEach((blk, n) => {
    if (!blk) return;
    a.set(blk.a, n * aSize);
    b.set(blk.b, n * bSize);
  });
  const N = slotsPerRow.length;
  return { aT: tf.tensor3d(a, [N, m.inFeatures, R]), sbT: tf.tensor3d(b, [N, R, m.outFeatures]) };
}

export class SlotBank implements BlockSource {
  private readonly residents: Array<ResidentAdapter | undefined>;
  private readonly padded: Array<PaddedBlocks | undefined>;

  constructor(
    readonly tf: Tf,
    readonly modules: LinearModule[],
    readonly slots: number,
    readonly maxRank: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1)
      throw new OpenLoraError({ code: "cache/bad-slots", fields: { slots }, message: `slot count ${slots} is not a positive integer`, hint: "give at least one adapter slot" });
    this.residents = new Array(slots).fill(undefined);
    this.padded = new Array(slots).fill(undefined);
  }

  resident(slot: number): ResidentAdapter | undefined {
    return this.residents[slot];
  }

  freeSlot(): number {
    return this.residents.indexOf(undefined);
  }

  /** Host → backend: the adapter's tensors and its padded rows for the stacks (built lazily). */
  load(slot: number, host: HostAdapter): ResidentAdapter {
    if (this.residents[slot]) throw new Error(`slot ${slot} is occupied by ${this.residents[slot]!.id}`);
    if (host.r > this.maxRank) {
      throw new OpenLoraError({
        code: "adapter/rank-too-large",
        status: 422,
        fields: { adapter: host.id, r: host.r, maxRank: this.maxRank },
        message: `adapter "${host.id}" has rank ${host.r}; the slots hold rank ${this.maxRank} at most`,
        hint: `start the server with a larger --max-rank (at least ${host.r})`,
      });
    }
    const tf = this.tf;
    const tensors: WeightMap = {};
    const transposed: ResidentAdapter["transposed"] = {};
    const padded: PaddedBlocks = new Map();
    const R = this.maxRank;
    const r = host.r;
    for (const m of host.modules) {
      const I = m.inFeatures;
      const O = m.outFeatures;
      tensors[loraAKey(m.name)] = tf.tensor2d(m.a, [r, I]);
      tensors[loraBKey(m.name)] = tf.tensor2d(m.b, [O, r]);
      const aT = new Float32Array(I * r);
      const bT = new Float32Array(r * O);
      const aPad = new Float32Array(I * R); // columns r..R-1 stay zero
      const sbPad = new Float32Array(R * O); // rows r..R-1 stay zero
      for (let j = 0; j < r; j++) {
        for (let i = 0; i < I; i++) {
          aT[i * r + j] = m.a[j * I + i];
          aPad[i * R + j] = m.a[j * I + i];
        }
        for (let o = 0; o < O; o++) {
          bT[j * O + o] = m.b[o * r + j];
          sbPad[j * O + o] = host.scaling * m.b[o * r + j];
        }
      }
      transposed[m.name] = { aT: tf.tensor2d(aT, [I, r]), bT: tf.tensor2d(bT, [r, O]) };
      padded.set(m.name, { a: aPad, b: sbPad });
    }
    const modules = this.modules.filter((m) => padded.has(m.name));
    const resident: ResidentAdapter = {
      id: host.id,
      slot,
      sha256: host.sha256,
      baseSha256: host.baseSha256,
      config: host.config,
      r: host.r,
      scaling: host.scaling,
      modules,
      tensors,
      transposed,
      bytes: host.bytes,
    };
    this.residents[slot] = resident;
    this.padded[slot] = padded;
    return resident;
  }

  free(slot: number): void {
    const r = this.residents[slot];
    if (!r) return;
    for (const t of Object.values(r.tensors)) t.dispose();
    for (const t of Object.values(r.transposed)) {
      t.aT.dispose();
      t.bT.dispose();
    }
    this.residents[slot] = undefined;
    this.padded[slot] = undefined;
  }

  /** One layer's adapter blocks for the rows of a batch, row n using slot slotsPerRow[n] (gatherBlocks). */
  gathered(module: string, slotsPerRow: number[]): GatheredModule | undefined {
    return gatherBlocks(this.tf, this.modules, this.maxRank, (s) => this.padded[s], module, slotsPerRow);
  }

  /** The padded blocks of the adapter in a slot, per module (what a decode engine in another thread is sent). */
  blocks(slot: number): PaddedBlocks | undefined {
    return this.padded[slot];
  }

  /** Bytes the slots hold: each resident's tensors (both layouts) and its padded blocks. */
  bytes(): number {
    const own = this.residents.reduce((s, r) => s + (r ? 2 * Object.values(r.tensors).reduce((t, x) => t + 4 * x.size, 0) : 0), 0);
    const blocks = this.padded.reduce((s, p) => s + (p ? [...p.values()].reduce((t, b) => t + b.a.byteLength + b.b.byteLength, 0) : 0), 0);
    return own + blocks;
  }

  occupied(): ResidentAdapter[] {
    return this.residents.filter((r): r is ResidentAdapter => r !== undefined);
  }

  dispose(): void {
    for (let s = 0; s < this.slots; s++) this.free(s);
  }
}

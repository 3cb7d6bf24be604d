import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGpt } from "../../../lib/intelligence/models/gpt.js";
import { AdapterStore, type BaseModelInfo, SlotBank, TieredAdapterCache, weightsSha256, writeGeneratedAdapter } from "../../../lib/serving/index.js";
import { initTf } from "../../../lib/tf/index.js";

export const { tf } = await initTf({ quiet: true });

/** A small GPT with seeded weights, and its base-model identity for the adapter store. */
export async function tinyBase(seed = 1) {
  const model = createGpt(tf, { vocabSize: 13, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 16 });
  const weights = model.init(seed);
  const info: BaseModelInfo = { sha256: await weightsSha256(weights), modules: model.linearModules };
  return { model, weights, info };
}

/** Generated adapters of mixed ranks and targets under a fresh temp folder. */
export function generatedAdapters(info: BaseModelInfo, count: number, ranks = [2, 4, 1]): { root: string; dirs: string[] } {
  const root = mkdtempSync(join(tmpdir(), "openlora-"));
  const targets = [
    ["q_proj", "v_proj"],
    ["q_proj", "k_proj", "v_proj", "o_proj", "fc_in", "fc_out"],
    ["fc_out", "lm_head"],
  ];
  const dirs = Array.from({ length: count }, (_, i) => {
    const dir = join(root, `a${i}`);
    writeGeneratedAdapter(dir, info, { r: ranks[i % ranks.length], targetModules: targets[i % targets.length], seed: 100 + i, bStd: 0.2 });
    return dir;
  });
  return { root, dirs };
}

export function servingStack(info: BaseModelInfo, dirs: string[], opts: { slots?: number; hostBudget?: number; maxRank?: number } = {}) {
  const store = new AdapterStore(info, { maxRank: opts.maxRank ?? 4 });
  for (const [i, d] of dirs.entries()) store.register(`a${i}`, d);
  const bank = new SlotBank(tf, info.modules, opts.slots ?? 8, opts.maxRank ?? 4);
  const cache = new TieredAdapterCache(store, bank, opts.hostBudget ?? 1e9);
  return { store, bank, cache };
}

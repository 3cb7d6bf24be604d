// Shared scenario builders for the ledger tests: a seeded workload run through the in-memory
// simulation, and helpers to rebuild L1 blocks from (possibly tampered) batcher transactions.
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import type { BatcherOptions } from "../../../lib/ledger/batcher.js";
import { defaultRollupConfig, type RollupConfig } from "../../../lib/ledger/params.js";
import { simulate, type SimRun } from "../../../lib/ledger/sim.js";
import { Workload } from "../../../lib/ledger/workload.js";

export const BATCHER = "0x00000000000000000000000000000000000000bb";

export function testConfig(overrides: Partial<RollupConfig> = {}): RollupConfig {
  return defaultRollupConfig({ genesisTimestamp: 1_700_000_000, batcherAddress: BATCHER, ...overrides });
}

export async function scenario(opts: { cfg?: RollupConfig; batcher: BatcherOptions; l2Blocks: number; txsPerBlock: number; seed?: number }): Promise<SimRun & { cfg: RollupConfig }> {
  const cfg = opts.cfg ?? testConfig();
  const w = new Workload({ seed: opts.seed ?? 11, chainId: cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 8) });
  const setup = w.setup().map((t) => t.raw);
  const run = await simulate({
    cfg,
    batcher: opts.batcher,
    l2Blocks: opts.l2Blocks,
    seed: opts.seed ?? 11,
    txsForBlock: (i) => (i === 0 ? setup : w.take(opts.txsPerBlock).map((t) => t.raw)),
  });
  return { ...run, cfg };
}

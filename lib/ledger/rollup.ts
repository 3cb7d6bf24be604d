// Runs the whole rollup on two Hardhat chains: the rollup driver sequences L2 blocks on L2 (chain
// A) from the seeded workload while L1 advances every 12 s, the batcher posts channels to L1 as
// calldata or blobs, and derivation reads L1 back and re-executes every derived block on a fresh
// L2 (chain B) with the same genesis. The result carries both chains for output roots and figures.

import { devPrivateKeys } from "../chain/keys.js";
import { nextTurn, type OnProgress } from "../progress.js";
import type { Batcher, BatcherOptions } from "./batcher.js";
import type { L1BlockRef } from "./block-refs.js";
import { type ChainHandle, HardhatEngine, openChain } from "./chains.js";
import type { DerivationPipeline } from "./derivation/pipeline.js";
import { type ChannelInclusion, type PostedChannel, RollupDriver } from "./driver.js";
import { fjordL1Cost, OP_MAINNET_SCALARS } from "./fees.js";
import { openHardhatRollup } from "./hardhat-l1.js";
import { commitmentFunction, kzg } from "./kzg-eip4844.js";
import type { RollupConfig } from "./rollup-config.js";
import type { Sequencer } from "./sequencer.js";
import { type GeneratedTx, type TxKind, Workload } from "./workload.js";

export type { PostedChannel } from "./driver.js";

export interface RollupOptions {
  seed: number;
  l2Blocks: number;
  txsPerBlock: number;
  batcher: BatcherOptions;
  /** Genesis date of both chains (fixed, so runs are reproducible). */
  genesisDate?: Date;
  /** Re-execute derived blocks on a fresh L2 (chain B). */
  derive?: boolean;
  l1BlockTime?: number;
  cfg?: Partial<RollupConfig>;
  /** Called at count 0 for each set-up stage, then as L2 blocks are sequenced (one count each) and when derivation is done (one more). */
  onProgress?: OnProgress;
}

export interface RollupRun {
  cfg: RollupConfig;
  l1: ChainHandle;
  l2: ChainHandle;
  /** Fresh L2 that re-executed the derived blocks (when derive is on). */
  l2Derived?: ChainHandle;
  sequencer: Sequencer;
  batcher: Batcher;
  workload: Workload;
  generated: GeneratedTx[];
  posted: PostedChannel[];
  /** For each channel, the L1 block that included it. */
  inclusions: ChannelInclusion[];
  pipeline?: DerivationPipeline;
  /** Every L1 block of the run, by number (the chain the sequencer picked origins from). */
  l1Blocks: readonly L1BlockRef[];
  l1Head: L1BlockRef;
  /** Wall-clock seconds of sequencing + posting, and of derivation with re-execution. */
  timings: { sequenceS: number; deriveS: number };
  close(): Promise<void>;
}

export async function runRollup(o: RollupOptions): Promise<RollupRun> {
  const derive = o.derive !== false;
  const total = o.l2Blocks + (derive ? 1 : 0);
  // the set-up takes seconds before the first block: reported as stages at count 0
  const settingUp = async (stage: string) => {
    o.onProgress?.(0, total, stage);
    if (o.onProgress) await nextTurn();
  };
  await settingUp("opening the chains");
  const rollup = await openHardhatRollup(o);
  const { cfg, l1, l2 } = rollup;
  const driver = new RollupDriver({ cfg, l1: rollup.port, engine: new HardhatEngine(l2), genesis: rollup.genesis, batcher: o.batcher, seed: o.seed });
  const workload = new Workload({ seed: o.seed, chainId: l2.chainId, senderKeys: devPrivateKeys().slice(0, 16) });
  const generated: GeneratedTx[] = [];
  const setup = workload.setup();
  // The trusted setup takes seconds to load: not part of what sequencing costs.
  if (o.batcher.da === "blobs") {
    await settingUp("loading the KZG trusted setup");
    await kzg();
  }
  const t0 = performance.now();
  const sequenced = o.onProgress && ((done: number) => o.onProgress?.(done, total, done < o.l2Blocks ? "sequencing" : derive ? "deriving" : undefined));
  await driver.run(
    o.l2Blocks,
    (i) => {
      const txs = i === 0 ? setup : workload.take(o.txsPerBlock);
      generated.push(...txs);
      return txs.map((t) => t.raw);
    },
    sequenced,
  );

  const run: RollupRun = {
    cfg,
    l1,
    l2,
    sequencer: driver.sequencer,
    batcher: driver.batcher,
    workload,
    generated,
    posted: driver.posted,
    inclusions: driver.inclusions(),
    l1Blocks: rollup.port.blocks,
    l1Head: rollup.port.head,
    timings: { sequenceS: (performance.now() - t0) / 1000, deriveS: 0 },
    close: async () => {
      await Promise.all([l1.close(), l2.close(), run.l2Derived?.close()]);
    },
  };
  if (derive) {
    const l2b = await openChain("l2", rollup.genesisDate);
    run.l2Derived = l2b;
    const commitBlob = o.batcher.da === "blobs" ? await commitmentFunction() : undefined;
    const derived = await driver.derive(new HardhatEngine(l2b), { commitBlob });
    run.timings.deriveS = derived.seconds;
    run.pipeline = derived.pipeline;
    o.onProgress?.(total, total, "derived");
  }
  return run;
}

/** A batcher transaction as L1 holds it. */
export interface BatcherTxOnL1 {
  l1Block: number;
  type: number;
  to: string;
  blobs: number;
  frameBytes: number;
  blobGasUsed: number;
  versionedHashes: string[];
}

/** Every batcher transaction of the run, read back from L1 with its receipt. */
export async function batcherTransactionsOnL1(run: Pick<RollupRun, "l1" | "posted">): Promise<BatcherTxOnL1[]> {
  const out: BatcherTxOnL1[] = [];
  for (const t of run.posted.flatMap((p) => p.txs)) {
    const [tx, receipt] = await Promise.all([run.l1.send("eth_getTransactionByHash", [t.hash]), run.l1.send("eth_getTransactionReceipt", [t.hash])]);
    out.push({
      l1Block: Number(receipt.blockNumber),
      type: Number(tx.type),
      to: tx.to,
      blobs: t.blobs,
      frameBytes: t.bytes,
      blobGasUsed: Number(receipt.blobGasUsed ?? 0),
      versionedHashes: tx.blobVersionedHashes ?? [],
    });
  }
  return out;
}

/** Fjord's L1 fee computed here beside the one the L2 put in a transaction's receipt. */
export interface FjordFeeCheck {
  kind: TxKind;
  bytes: number;
  fastlzSize: number;
  /** Fjord's estimated compressed size in bytes. */
  estimatedSize: number;
  l1GasUsed: bigint;
  receiptL1GasUsed: bigint;
  l1Fee: bigint;
  receiptL1Fee: bigint;
  matches: boolean;
}

/** Fjord's L1 cost of every generated transaction whose receipt reports one (legacy receipts do not), against the receipt. */
export async function fjordFeeChecks(run: Pick<RollupRun, "l2" | "generated">): Promise<FjordFeeCheck[]> {
  const out: FjordFeeCheck[] = [];
  for (const t of run.generated) {
    const r = await run.l2.send("eth_getTransactionReceipt", [t.hash]);
    if (r.l1Fee === undefined) continue;
    const mine = fjordL1Cost(t.raw, { l1BaseFee: BigInt(r.l1GasPrice), l1BlobBaseFee: BigInt(r.l1BlobBaseFee), ...OP_MAINNET_SCALARS });
    const receiptL1GasUsed = BigInt(r.l1GasUsed);
    const receiptL1Fee = BigInt(r.l1Fee);
    out.push({
      kind: t.kind,
      bytes: t.raw.length,
      fastlzSize: mine.fastlzSize,
      estimatedSize: Number(mine.estimatedSizeScaled) / 1e6,
      l1GasUsed: mine.l1GasUsed,
      receiptL1GasUsed,
      l1Fee: mine.l1Fee,
      receiptL1Fee,
      matches: mine.l1Fee === receiptL1Fee && mine.l1GasUsed === receiptL1GasUsed,
    });
  }
  return out;
}

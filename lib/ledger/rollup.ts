// Runs the whole rollup on two Hardhat chains: the sequencer builds L2 blocks on L2 (chain A)
// from the seeded workload while L1 advances every 12 s; the batcher posts channels to L1 as
// calldata or blobs; derivation reads L1 back and re-executes every derived block on a fresh L2
// (chain B) with the same genesis. The result carries both chains for output roots and figures.

import { devPrivateKeys } from "../chain/keys.js";
import { rng } from "../random.js";
import { Batcher, type BatcherOptions, type ChannelInfo } from "./batcher.js";
import type { L1BlockRef, L2BlockRef } from "./block-refs.js";
import { BlobStore, type ChainHandle, HardhatEngine, L1Poster, l1BlockData, l1BlockRef, openChain, type PostedTx } from "./chains.js";
import { DerivationPipeline } from "./derivation/pipeline.js";
import { commitmentFunction, kzg } from "./kzg-eip4844.js";
import { defaultRollupConfig, type RollupConfig } from "./rollup-config.js";
import { Sequencer } from "./sequencer.js";
import { BATCHER_ACCOUNT } from "./sim.js";
import { type GeneratedTx, Workload } from "./workload.js";

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
}

export interface PostedChannel {
  channel: ChannelInfo;
  txs: PostedTx[];
  /** L1 block that included the channel's last transaction. */
  l1Block?: number;
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
  pipeline?: DerivationPipeline;
  l1Head: L1BlockRef;
  /** Wall-clock seconds of sequencing + posting, and of derivation with re-execution. */
  timings: { sequenceS: number; deriveS: number };
  close(): Promise<void>;
}

export async function runRollup(o: RollupOptions): Promise<RollupRun> {
  const genesisDate = o.genesisDate ?? new Date("2026-01-01T00:00:00Z");
  const l1BlockTime = o.l1BlockTime ?? 12;
  const [l1, l2] = await Promise.all([openChain("l1", genesisDate), openChain("l2", genesisDate)]);
  const l1Genesis = await l1BlockRef(l1, 0);
  const l2GenesisBlock = await l2.send("eth_getBlockByNumber", ["0x0", false]);
  const batcherWallet = l1.wallet(BATCHER_ACCOUNT);
  const cfg = defaultRollupConfig({ l2ChainId: l2.chainId, genesisTimestamp: Number(l2GenesisBlock.timestamp), batcherAddress: batcherWallet.address, ...o.cfg });
  const genesis: L2BlockRef = {
    number: 0,
    hash: l2GenesisBlock.hash,
    parentHash: l2GenesisBlock.parentHash,
    timestamp: cfg.genesisTimestamp,
    l1origin: { number: 0, hash: l1Genesis.hash },
    sequenceNumber: 0,
  };

  const l1Refs: L1BlockRef[] = [l1Genesis];
  const sequencer = new Sequencer(cfg, new HardhatEngine(l2), genesis, (n) => l1Refs[n]);
  const batcher = new Batcher(cfg, o.batcher, rng(o.seed).fork("channel-ids"));
  const blobStore = new BlobStore();
  const poster = new L1Poster(l1, batcherWallet, cfg.batchInboxAddress, blobStore);
  const workload = new Workload({ seed: o.seed, chainId: l2.chainId, senderKeys: devPrivateKeys().slice(0, 16) });
  const generated: GeneratedTx[] = [];
  const posted: PostedChannel[] = [];
  const unincluded: PostedChannel[] = [];

  const recordL1Block = async () => {
    const ref = await l1BlockRef(l1, "latest");
    l1Refs.push(ref);
    for (const p of unincluded.splice(0)) p.l1Block = ref.number;
  };
  const mineL1 = async () => {
    await l1.send("evm_mine", [l1Refs[l1Refs.length - 1]!.timestamp + l1BlockTime]);
    await recordL1Block();
  };
  poster.blobBlockTimestamp = () => l1Refs[l1Refs.length - 1]!.timestamp + l1BlockTime;
  poster.onBlobBlock = recordL1Block;
  const post = async (txs: Awaited<ReturnType<Batcher["flush"]>>) => {
    if (txs.length === 0) return;
    const entries = new Map<ChannelInfo, PostedChannel>();
    for (const t of txs) {
      if (!entries.has(t.channel)) {
        const p: PostedChannel = { channel: t.channel, txs: [] };
        entries.set(t.channel, p);
        posted.push(p);
      }
    }
    // A blob transaction is mined on the spot: its channel's inclusion block is known at once.
    for (const p of entries.values()) unincluded.push(p);
    const sent = await poster.post(txs);
    for (const [i, t] of txs.entries()) entries.get(t.channel)!.txs.push(sent[i]!);
  };

  const setup = workload.setup();
  // The trusted setup takes seconds to load: not part of what sequencing costs.
  if (o.batcher.da === "blobs") await kzg();
  const t0 = performance.now();
  for (let i = 0; i < o.l2Blocks; i++) {
    while (l1Refs[l1Refs.length - 1]!.timestamp + l1BlockTime <= sequencer.nextTimestamp) await mineL1();
    const txs = i === 0 ? setup : workload.take(o.txsPerBlock);
    generated.push(...txs);
    const block = await sequencer.buildBlock(txs.map((t) => t.raw));
    await post(batcher.addBlock(block));
  }
  await post(batcher.flush());
  await mineL1();
  await mineL1();

  const run: RollupRun = {
    cfg,
    l1,
    l2,
    sequencer,
    batcher,
    workload,
    generated,
    posted,
    l1Head: l1Refs[l1Refs.length - 1]!,
    timings: { sequenceS: (performance.now() - t0) / 1000, deriveS: 0 },
    close: async () => {
      await Promise.all([l1.close(), l2.close(), run.l2Derived?.close()]);
    },
  };
  if (o.derive !== false) {
    const l2b = await openChain("l2", genesisDate);
    run.l2Derived = l2b;
    const commit = o.batcher.da === "blobs" ? await commitmentFunction() : undefined;
    const pipeline = new DerivationPipeline(cfg, new HardhatEngine(l2b), genesis, [l1Genesis], { blobs: blobStore, commitBlob: commit });
    const t1 = performance.now();
    for (let n = 1; n <= run.l1Head.number; n++) await pipeline.addL1Block(await l1BlockData(l1, n));
    run.timings.deriveS = (performance.now() - t1) / 1000;
    run.pipeline = pipeline;
  }
  return run;
}

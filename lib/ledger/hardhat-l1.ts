// The rollup driver's L1 port on a Hardhat chain, and the opening of the two chains the rollup runs
// on: L1 and an L2 whose genesis block is the sequencer's genesis. runRollup and the loop's L2 open
// the rollup the same way; a fresh L2 from the same genesis date re-executes what derivation reads.
import type { Wallet } from "ethers";
import type { BatcherTx } from "./batcher.js";
import type { BlobSource, L1BlockData, L1BlockRef, L2BlockRef } from "./block-refs.js";
import { BlobStore, type ChainHandle, L1Poster, l1BlockData, l1BlockRef, openChain, type PostedTx } from "./chains.js";
import { BATCHER_ACCOUNT, type L1Port } from "./driver.js";
import { defaultRollupConfig, type RollupConfig } from "./rollup-config.js";

/** The genesis date of both chains unless a run names another (fixed, so runs are reproducible). */
export const DEFAULT_GENESIS_DATE = new Date("2026-01-01T00:00:00Z");

/** L1 on a Hardhat chain with manual mining: batcher transactions wait in the mempool for the next block. */
export class HardhatL1Port implements L1Port {
  readonly blobStore = new BlobStore();
  onBlock: (ref: L1BlockRef) => void = () => {};
  private readonly refs: L1BlockRef[];
  private readonly poster: L1Poster;

  constructor(
    readonly chain: ChainHandle,
    batcher: Wallet,
    inbox: string,
    genesis: L1BlockRef,
    readonly blockTime = 12,
  ) {
    this.refs = [genesis];
    this.poster = new L1Poster(chain, batcher, inbox, this.blobStore);
    this.poster.blobBlockTimestamp = () => this.head.timestamp + this.blockTime;
    this.poster.onBlobBlock = () => this.recordHead();
  }

  get head(): L1BlockRef {
    return this.refs[this.refs.length - 1]!;
  }

  get blobs(): BlobSource {
    return this.blobStore;
  }

  /** Every L1 block the rollup has seen, by number. */
  get blocks(): readonly L1BlockRef[] {
    return this.refs;
  }

  ref(n: number): L1BlockRef | undefined {
    return this.refs[n];
  }

  async mine(): Promise<void> {
    await this.chain.send("evm_mine", [this.head.timestamp + this.blockTime]);
    await this.recordHead();
  }

  submit(txs: readonly BatcherTx[]): Promise<PostedTx[]> {
    return this.poster.post(txs);
  }

  blockData(n: number): Promise<L1BlockData> {
    return l1BlockData(this.chain, n);
  }

  /** Takes blocks mined outside the port (contracts deployed with automine on) into the chain the sequencer sees. */
  async catchUp(): Promise<void> {
    const head = Number(await this.chain.send("eth_blockNumber"));
    for (let n = this.head.number + 1; n <= head; n++) this.refs.push(await l1BlockRef(this.chain, n));
  }

  private async recordHead(): Promise<void> {
    const ref = await l1BlockRef(this.chain, "latest");
    this.refs.push(ref);
    this.onBlock(ref);
  }
}

export interface HardhatRollupOptions {
  genesisDate?: Date;
  l1BlockTime?: number;
  cfg?: Partial<RollupConfig>;
}

export interface HardhatRollup {
  cfg: RollupConfig;
  genesisDate: Date;
  l1: ChainHandle;
  l2: ChainHandle;
  port: HardhatL1Port;
  /** The L2 genesis block as the sequencer's and derivation's starting point. */
  genesis: L2BlockRef;
}

/** Opens L1 and L2 from one genesis date; the rollup configuration names L2's chain id and genesis and the batcher's address. */
export async function openHardhatRollup(o: HardhatRollupOptions = {}): Promise<HardhatRollup> {
  const genesisDate = o.genesisDate ?? DEFAULT_GENESIS_DATE;
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
  const port = new HardhatL1Port(l1, batcherWallet, cfg.batchInboxAddress, l1Genesis, o.l1BlockTime ?? 12);
  return { cfg, genesisDate, l1, l2, port, genesis };
}

/** Block identity: how many of L2 blocks 1..`upTo` have the same hash and state root on both chains. */
export async function identicalBlocks(a: Pick<ChainHandle, "send">, b: Pick<ChainHandle, "send">, upTo: number): Promise<number> {
  let same = 0;
  for (let n = 1; n <= upTo; n++) {
    const q = `0x${n.toString(16)}`;
    const [x, y] = await Promise.all([a.send("eth_getBlockByNumber", [q, false]), b.send("eth_getBlockByNumber", [q, false])]);
    if (x && y && x.hash === y.hash && x.stateRoot === y.stateRoot) same++;
  }
  return same;
}

// The sequencer: builds L2 blocks every blockTime seconds and assigns each an L1 origin (its
// epoch). The origin advances when the next L1 block is known and not later than the L2
// timestamp; an L2 block may not run more than maxSequencerDrift seconds ahead of its origin
// (past that, only empty blocks), and an origin is never older than the sequencing window allows.
// The activation blocks of Isthmus and Jovian carry no sequenced transactions (noTxPool; derivation
// drops a Jovian activation batch that has any).
import type { SingularBatch } from "./batch.js";
import type { L1BlockRef, L2BlockRef } from "./block-refs.js";
import { fromHex } from "./bytes.js";
import { payloadAttributes } from "./derivation/attributes.js";
import type { Engine } from "./derivation/pipeline.js";
import { isForkActivationBlock, type RollupConfig } from "./rollup-config.js";

export interface SequencedBlock {
  ref: L2BlockRef;
  /** The block as a singular batch: what the batcher posts. */
  batch: SingularBatch;
}

export class Sequencer {
  readonly blocks: SequencedBlock[] = [];
  private head: L2BlockRef;

  constructor(
    readonly cfg: RollupConfig,
    private readonly engine: Engine,
    genesis: L2BlockRef,
    /** L1 blocks the sequencer has seen, by number. */
    private readonly l1: (n: number) => L1BlockRef | undefined,
  ) {
    this.head = genesis;
  }

  get unsafeHead(): L2BlockRef {
    return this.head;
  }

  get nextTimestamp(): number {
    return this.head.timestamp + this.cfg.blockTime;
  }

  /** Picks the L1 origin for the next block; `txsAllowed` is false past the drift limit. */
  nextOrigin(): { origin: L1BlockRef; txsAllowed: boolean } {
    const t = this.nextTimestamp;
    const cur = this.l1(this.head.l1origin.number)!;
    const next = this.l1(cur.number + 1);
    if (next && t >= next.timestamp) return { origin: next, txsAllowed: t <= next.timestamp + this.cfg.maxSequencerDrift };
    return { origin: cur, txsAllowed: t <= cur.timestamp + this.cfg.maxSequencerDrift };
  }

  private isUpgradeBlock(t: number): boolean {
    return isForkActivationBlock(this.cfg, "isthmus", t) || isForkActivationBlock(this.cfg, "jovian", t);
  }

  async buildBlock(txs: readonly Uint8Array[]): Promise<SequencedBlock> {
    const { origin, txsAllowed } = this.nextOrigin();
    const batch: SingularBatch = {
      parentHash: fromHex(this.head.hash),
      epochNum: origin.number,
      epochHash: fromHex(origin.hash),
      timestamp: this.nextTimestamp,
      transactions: txsAllowed && !this.isUpgradeBlock(this.nextTimestamp) ? [...txs] : [],
    };
    const ref = await this.engine.execute(payloadAttributes(batch, this.head, origin));
    const block = { ref, batch };
    this.blocks.push(block);
    this.head = ref;
    return block;
  }
}

/** Blocks that break the L1-origin rules: earlier than their origin, or later than maxSequencerDrift after it. */
export function originRuleViolations(cfg: Pick<RollupConfig, "maxSequencerDrift">, blocks: readonly L2BlockRef[], l1: (n: number) => L1BlockRef | undefined): L2BlockRef[] {
  return blocks.filter((b) => {
    const origin = l1(b.l1origin.number);
    return !origin || b.timestamp < origin.timestamp || b.timestamp > origin.timestamp + cfg.maxSequencerDrift;
  });
}

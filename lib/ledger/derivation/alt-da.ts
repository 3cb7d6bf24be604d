// Alt-DA data source (specs/experimental/alt-da.md; op-node's AltDADataSource): sits between L1
// retrieval and the frame queue. Batcher data that starts with the alt-DA version byte 0x01 is a
// commitment; the resolver fetches the frames behind it from the DA layer (checking them against
// the commitment) or drops it. Other data (frames, 0x00) passes through, so a batcher that failed
// over to L1 derives as before. Fetching is asynchronous, so the frames of an L1 block are
// resolved once, when derivation moves to that block, before the stages pull them. A commitment
// the resolver drops is recorded in the drop log with the resolver's reason.
import type { ErrorFields } from "../../errors.js";
import type { L1BlockRef } from "../block-refs.js";
import type { DropLog } from "./drops.js";
import type { DataProvider } from "./frame-queue.js";
import type { L1Retrieval } from "./l1-retrieval.js";
import { EOF } from "./stage.js";

/** Why a resolver drops a commitment: the code of the refusal and its fields. */
export interface AltDADrop {
  dropped: string;
  fields: ErrorFields;
}

/** Turns batcher data into the frames behind it, or says why it drops it; a thrown error stops derivation. */
export interface AltDAResolver {
  resolve(data: Uint8Array): Promise<Uint8Array | AltDADrop>;
}

export class AltDADataSource implements DataProvider {
  private resolved: Uint8Array[] = [];

  constructor(
    private readonly retrieval: L1Retrieval,
    private readonly resolver: AltDAResolver,
    private readonly drops: DropLog,
  ) {}

  get origin(): L1BlockRef | undefined {
    return this.retrieval.origin;
  }

  /** Resolves every batcher datum of the current L1 block, in order. */
  async fetch(): Promise<void> {
    for (let d = this.retrieval.nextData(); d !== EOF; d = this.retrieval.nextData()) {
      const frames = await this.resolver.resolve(d);
      if (frames instanceof Uint8Array) this.resolved.push(frames);
      else this.drops.record({ stage: "alt-da", reason: frames.dropped, l1Block: this.origin?.number, fields: frames.fields });
    }
  }

  nextData(): Uint8Array | typeof EOF {
    return this.resolved.shift() ?? EOF;
  }
}

// Execution engines for derived payloads. HashEngine is a pure stand-in (block hash = keccak of
// parent, timestamp, origin and transactions) for tests that exercise derivation rules without a
// chain; the sequencer uses the same engine so both sides agree on hashes.
import { keccak256 } from "ethers";
import type { L2BlockRef } from "./block-refs.js";
import { fromHex } from "./bytes.js";
import type { PayloadAttributes } from "./derivation/attributes.js";
import type { Engine } from "./derivation/pipeline.js";
import { rlpEncode, uintBytes } from "./rlp.js";

export class HashEngine implements Engine {
  private number: number;
  constructor(head: L2BlockRef) {
    this.number = head.number;
  }
  async execute(a: PayloadAttributes): Promise<L2BlockRef> {
    return this.build(a);
  }
  build(a: PayloadAttributes): L2BlockRef {
    this.number += 1;
    const hash = keccak256(rlpEncode([fromHex(a.parentHash), uintBytes(a.timestamp), uintBytes(a.l1origin.number), fromHex(a.l1origin.hash), a.transactions]));
    return {
      number: this.number,
      hash,
      parentHash: a.parentHash,
      timestamp: a.timestamp,
      l1origin: { number: a.l1origin.number, hash: a.l1origin.hash },
      sequenceNumber: a.sequenceNumber,
    };
  }
}

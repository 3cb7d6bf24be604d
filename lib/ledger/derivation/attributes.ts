// Payload Attributes (specs/protocol/derivation.md "Payload Attributes Derivation"): what the
// execution engine needs to build the L2 block for an accepted batch. The deposit part (the L1
// attributes transaction and user deposits of the epoch's first block) is described but left
// to the engine: Hardhat's op chain accepts no deposit transactions over JSON-RPC.
import type { SingularBatch } from "../batch.js";
import type { L1BlockRef, L2BlockRef } from "../block-refs.js";
import { toHex } from "../bytes.js";

/** The sequencer fee vault predeploy, the OP Stack's suggestedFeeRecipient. */
export const SEQUENCER_FEE_VAULT = "0x4200000000000000000000000000000000000011";

export interface PayloadAttributes {
  parentHash: string;
  timestamp: number;
  l1origin: L1BlockRef;
  /** Position in the epoch: 0 makes the L1 attributes deposit carry a new origin. */
  sequenceNumber: number;
  suggestedFeeRecipient: string;
  /** The batch's transactions, after the (implicit) deposits. */
  transactions: Uint8Array[];
  /** Only the listed transactions may enter the block. */
  noTxPool: true;
}

export function payloadAttributes(batch: SingularBatch, parent: L2BlockRef, origin: L1BlockRef): PayloadAttributes {
  const sequenceNumber = origin.number === parent.l1origin.number ? parent.sequenceNumber + 1 : 0;
  return {
    parentHash: toHex(batch.parentHash),
    timestamp: batch.timestamp,
    l1origin: origin,
    sequenceNumber,
    suggestedFeeRecipient: SEQUENCER_FEE_VAULT,
    transactions: batch.transactions,
    noTxPool: true,
  };
}

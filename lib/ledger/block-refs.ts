// Block references and L1 data shapes shared by the sequencer, batcher and derivation.

export interface BlockId {
  number: number;
  hash: string;
}

export interface L1BlockRef extends BlockId {
  parentHash: string;
  timestamp: number;
  /** Base fee and blob base fee of the block (known for real L1 blocks), for the L1 attributes. */
  baseFee?: bigint;
  blobBaseFee?: bigint;
}

export interface L2BlockRef extends BlockId {
  parentHash: string;
  timestamp: number;
  /** The L1 block this L2 block's epoch refers to. */
  l1origin: BlockId;
  /** Position of the block within its epoch (0 for the first block of an epoch). */
  sequenceNumber: number;
}

/**
 * A transaction of an L1 block as L1 retrieval sees it: the signed EIP-2718 envelope the block
 * holds (a blob transaction without its sidecar). Type, recipient, data, blob hashes and sender
 * are all read from it; the sender by recovering the signature.
 */
export interface L1Tx {
  raw: Uint8Array;
}

export interface L1BlockData extends L1BlockRef {
  transactions: L1Tx[];
}

/** Where blob contents come from (a beacon node's blob sidecars in production). */
export interface BlobSource {
  getBlob(versionedHash: string): Uint8Array | undefined;
}

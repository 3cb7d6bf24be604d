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

/** A transaction as L1 retrieval sees it. */
export interface L1Tx {
  type: number;
  /** Sender recovered from the signature. */
  from: string;
  to: string | null;
  data: Uint8Array;
  blobVersionedHashes: string[];
}

export interface L1BlockData extends L1BlockRef {
  transactions: L1Tx[];
}

/** Where blob contents come from (a beacon node's blob sidecars in production). */
export interface BlobSource {
  getBlob(versionedHash: string): Uint8Array | undefined;
}

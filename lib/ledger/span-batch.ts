// Span batches (specs/protocol/delta/span-batches.md), batch_version 1:
//   prefix  = rel_timestamp (uvarint) ++ l1_origin_num (uvarint) ++ parent_check (20) ++ l1_origin_check (20)
//   payload = block_count (uvarint) ++ origin_bits (bitlist) ++ block_tx_counts (uvarints) ++ txs
//   txs     = contract_creation_bits ++ y_parity_bits ++ tx_sigs ++ tx_tos ++ tx_datas
//             ++ tx_nonces ++ tx_gases ++ protected_bits
import { concatBytes, decodeBitlist, encodeBitlist, encodeUvarint, Reader } from "./bytes.js";
import { DecodeError, LimitError } from "./errors.js";
import { MAX_SPAN_BATCH_ELEMENT_COUNT } from "./params.js";
import { asBytes, asList, bytesToUint, rlpDecode, rlpEncode, rlpReadNext, uintBytes, type RlpItem } from "./rlp.js";

/** What encoding and decoding a span batch needs from the rollup config. */
export interface SpanBatchCodecConfig {
  genesisTimestamp: number;
  blockTime: number;
  l2ChainId: bigint;
}

export interface SpanBatchElement {
  epochNum: number;
  timestamp: number;
  /** EIP-2718 encoded signed transactions. */
  transactions: Uint8Array[];
}

export interface SpanBatch {
  /** span_start.parent_hash[:20] */
  parentCheck: Uint8Array;
  /** span_end.l1_origin.hash[:20] */
  l1OriginCheck: Uint8Array;
  /** origin_bits: whether each block's L1 origin differs from its parent's. */
  originBits: boolean[];
  blocks: SpanBatchElement[];
}

/** Builds a span batch from consecutive singular-batch-like blocks. */
export function spanBatchFromBlocks(
  blocks: readonly { parentHash: Uint8Array; epochNum: number; epochHash: Uint8Array; timestamp: number; transactions: Uint8Array[] }[],
  parentEpochNum: number,
): SpanBatch {
  if (blocks.length === 0) throw new DecodeError("span batch with no blocks", "empty span batches are invalid; add at least one block");
  const originBits: boolean[] = [];
  let prev = parentEpochNum;
  for (const b of blocks) {
    if (b.epochNum !== prev && b.epochNum !== prev + 1) {
      throw new DecodeError(`L1 origin jumps from ${prev} to ${b.epochNum}`, "consecutive L2 blocks advance their origin by at most one");
    }
    originBits.push(b.epochNum !== prev);
    prev = b.epochNum;
  }
  const last = blocks[blocks.length - 1]!;
  return {
    parentCheck: blocks[0]!.parentHash.slice(0, 20),
    l1OriginCheck: last.epochHash.slice(0, 20),
    originBits,
    blocks: blocks.map((b) => ({ epochNum: b.epochNum, timestamp: b.timestamp, transactions: b.transactions })),
  };
}

interface SpanTx {
  type: number;
  contractCreation: boolean;
  yParity: boolean;
  r: Uint8Array;
  s: Uint8Array;
  to: Uint8Array | null;
  txData: Uint8Array;
  nonce: bigint;
  gas: bigint;
  protectedBit: boolean | null; // legacy only
}

function pad32(b: Uint8Array): Uint8Array {
  if (b.length > 32) throw new DecodeError("signature value over 32 bytes", "corrupt transaction");
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

/** Strips leading zero bytes: r and s are RLP integers inside a transaction. */
function trimInt(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** Checks an access list's shape (20-byte addresses, 32-byte keys) and returns it as an RLP item. */
function checkAccessList(item: RlpItem | undefined): RlpItem {
  for (const e of asList(item, "access_list")) {
    const [a, keys] = asList(e, "access list entry", 2);
    if (asBytes(a, "access list address").length !== 20) throw new DecodeError("access list address is not 20 bytes", "corrupt transaction");
    for (const k of asList(keys, "storage keys")) if (asBytes(k, "storage key").length !== 32) throw new DecodeError("storage key is not 32 bytes", "corrupt transaction");
  }
  return item!;
}

/**
 * Splits a signed EIP-2718 transaction into the span batch's per-field columns. Parsed with the
 * lab's RLP reader rather than a wallet library: derivation speed is bounded by this step.
 */
function splitTx(raw: Uint8Array, chainId: bigint): SpanTx {
  if (raw.length === 0) throw new DecodeError("empty transaction", "batches carry no empty transactions");
  const type = raw[0]! >= 0xc0 ? 0 : raw[0]!;
  if (type !== 0 && type !== 1 && type !== 2) throw new DecodeError(`transaction type ${type} cannot be span-batched`, "span batches carry types 0, 1 and 2");
  const f = asList(rlpDecode(type === 0 ? raw : raw.subarray(1)), `type ${type} transaction`, type === 0 ? 9 : type === 1 ? 11 : 12);
  const int = (i: number, what: string) => bytesToUint(asBytes(f[i], what), what);
  let nonce: bigint, gas: bigint, toB: Uint8Array, value: Uint8Array, data: Uint8Array, txData: Uint8Array;
  let yParity: boolean, protectedBit: boolean | null = null;
  let r: Uint8Array, s: Uint8Array;
  if (type === 0) {
    nonce = int(0, "nonce");
    gas = int(2, "gas");
    toB = asBytes(f[3], "to");
    value = asBytes(f[4], "value");
    data = asBytes(f[5], "data");
    const v = int(6, "v");
    if (v === 27n || v === 28n) {
      protectedBit = false;
      yParity = v === 28n;
    } else {
      protectedBit = true;
      if ((v - 35n) / 2n !== chainId) throw new DecodeError(`legacy transaction signed for chain ${(v - 35n) / 2n}`, "sign for the L2 chain id");
      yParity = (v - 35n) % 2n === 1n;
    }
    r = asBytes(f[7], "r");
    s = asBytes(f[8], "s");
    txData = rlpEncode([value, asBytes(f[1], "gasPrice"), data]);
  } else {
    if (int(0, "chainId") !== chainId) throw new DecodeError("transaction signed for another chain", "sign for the L2 chain id");
    nonce = int(1, "nonce");
    const o = type === 1 ? 0 : 1; // type 2 has two fee fields where type 1 has gasPrice
    gas = int(3 + o, "gas");
    toB = asBytes(f[4 + o], "to");
    value = asBytes(f[5 + o], "value");
    data = asBytes(f[6 + o], "data");
    const accessList = checkAccessList(f[7 + o]);
    const yp = int(8 + o, "yParity");
    if (yp > 1n) throw new DecodeError("yParity above 1", "corrupt transaction");
    yParity = yp === 1n;
    r = asBytes(f[9 + o], "r");
    s = asBytes(f[10 + o], "s");
    txData =
      type === 1
        ? concatBytes([Uint8Array.of(1), rlpEncode([value, asBytes(f[2], "gasPrice"), data, accessList])])
        : concatBytes([Uint8Array.of(2), rlpEncode([value, asBytes(f[2], "max_priority_fee_per_gas"), asBytes(f[3], "max_fee_per_gas"), data, accessList])]);
  }
  if (toB.length !== 0 && toB.length !== 20) throw new DecodeError("to is neither empty nor 20 bytes", "corrupt transaction");
  return { type, contractCreation: toB.length === 0, yParity, r: pad32(r), s: pad32(s), to: toB.length === 0 ? null : toB, txData, nonce, gas, protectedBit };
}

export function encodeSpanBatch(sb: SpanBatch, cfg: SpanBatchCodecConfig): Uint8Array {
  const n = sb.blocks.length;
  if (n === 0) throw new DecodeError("span batch with no blocks", "empty span batches are invalid");
  const first = sb.blocks[0]!;
  const last = sb.blocks[n - 1]!;
  const txs = sb.blocks.flatMap((b) => b.transactions.map((t) => splitTx(t, cfg.l2ChainId)));
  if (n + txs.length > MAX_SPAN_BATCH_ELEMENT_COUNT) throw new LimitError("span batch over MAX_SPAN_BATCH_ELEMENT_COUNT", "split it into several span batches");
  const legacy = txs.filter((t) => t.type === 0);
  return concatBytes([
    // prefix
    encodeUvarint(first.timestamp - cfg.genesisTimestamp),
    encodeUvarint(last.epochNum),
    sb.parentCheck,
    sb.l1OriginCheck,
    // payload
    encodeUvarint(n),
    encodeBitlist(sb.originBits),
    ...sb.blocks.map((b) => encodeUvarint(b.transactions.length)),
    // txs
    encodeBitlist(txs.map((t) => t.contractCreation)),
    encodeBitlist(txs.map((t) => t.yParity)),
    ...txs.flatMap((t) => [t.r, t.s]),
    ...txs.filter((t) => t.to !== null).map((t) => t.to!),
    ...txs.map((t) => t.txData),
    ...txs.map((t) => encodeUvarint(t.nonce)),
    ...txs.map((t) => encodeUvarint(t.gas)),
    encodeBitlist(legacy.map((t) => t.protectedBit === true)),
  ]);
}

export function decodeSpanBatch(content: Uint8Array, cfg: SpanBatchCodecConfig): SpanBatch {
  const r = new Reader(content);
  const relTimestamp = r.uvarintNumber("rel_timestamp");
  const l1OriginNum = r.uvarintNumber("l1_origin_num");
  const parentCheck = r.take(20, "parent_check");
  const l1OriginCheck = r.take(20, "l1_origin_check");
  const blockCount = r.uvarintNumber("block_count", MAX_SPAN_BATCH_ELEMENT_COUNT);
  if (blockCount === 0) throw new DecodeError("block_count is 0", "empty span batches are invalid; the batch is dropped");
  const originBits = decodeBitlist(r, blockCount, "origin_bits");
  const counts: number[] = [];
  let total = 0;
  for (let i = 0; i < blockCount; i++) {
    const c = r.uvarintNumber("block_tx_count", MAX_SPAN_BATCH_ELEMENT_COUNT);
    total += c;
    if (total > MAX_SPAN_BATCH_ELEMENT_COUNT) throw new LimitError("span batch transactions over MAX_SPAN_BATCH_ELEMENT_COUNT", "the batch is dropped");
    counts.push(c);
  }
  // Every transaction needs at least 64 signature bytes: refuse counts the data cannot back
  // before allocating per-transaction arrays.
  if (total * 64 > r.remaining) throw new DecodeError(`${total} transactions declared, too few bytes left`, "the batch is truncated; it is dropped");
  const creation = decodeBitlist(r, total, "contract_creation_bits");
  const yParity = decodeBitlist(r, total, "y_parity_bits");
  const sigs: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < total; i++) sigs.push([r.take(32, "tx_sigs r"), r.take(32, "tx_sigs s")]);
  const tos: (Uint8Array | null)[] = [];
  for (let i = 0; i < total; i++) tos.push(creation[i] ? null : r.take(20, "tx_tos"));
  const datas: { type: number; fields: RlpItem[] }[] = [];
  for (let i = 0; i < total; i++) {
    const b0 = r.buf[r.pos];
    if (b0 === undefined) throw new DecodeError("tx_datas truncated", "the batch is dropped");
    let type = 0;
    if (b0 < 0xc0) {
      type = r.u8("tx type");
      if (type !== 1 && type !== 2) throw new DecodeError(`tx_datas type ${type} is not 1 or 2`, "the batch is dropped");
    }
    const fields = asList(rlpReadNext(r), "tx_data", type === 0 ? 3 : type === 1 ? 4 : 5);
    datas.push({ type, fields });
  }
  const nonces: bigint[] = [];
  for (let i = 0; i < total; i++) nonces.push(r.uvarint("tx_nonces"));
  const gases: bigint[] = [];
  for (let i = 0; i < total; i++) gases.push(r.uvarint("tx_gases"));
  const legacyCount = datas.filter((d) => d.type === 0).length;
  const protectedBits = decodeBitlist(r, legacyCount, "protected_bits");
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after span batch`, "the batch is dropped");

  const raws: Uint8Array[] = [];
  let li = 0;
  for (let i = 0; i < total; i++) {
    const d = datas[i]!;
    const to = tos[i] ?? new Uint8Array(0);
    const [sr, ss] = sigs[i]!;
    const r = trimInt(sr), s = trimInt(ss);
    const nonce = uintBytes(nonces[i]!);
    const gas = uintBytes(gases[i]!);
    const fb = (k: number, what: string) => {
      const b = asBytes(d.fields[k], what);
      bytesToUint(b, what); // integers must be canonical
      return b;
    };
    if (d.type === 0) {
      // Legacy: v = chainId * 2 + 35 + y_parity when EIP-155 protected, else 27 + y_parity.
      const v = protectedBits[li++] ? cfg.l2ChainId * 2n + 35n + (yParity[i] ? 1n : 0n) : 27n + (yParity[i] ? 1n : 0n);
      raws.push(rlpEncode([nonce, fb(1, "gasPrice"), gas, to, fb(0, "value"), asBytes(d.fields[2], "data"), uintBytes(v), r, s]));
    } else {
      const yp = uintBytes(yParity[i] ? 1 : 0);
      const chainId = uintBytes(cfg.l2ChainId);
      const fees = d.type === 1 ? [fb(1, "gasPrice")] : [fb(1, "max_priority_fee_per_gas"), fb(2, "max_fee_per_gas")];
      const data = asBytes(d.fields[d.type === 1 ? 2 : 3], "data");
      const accessList = checkAccessList(d.fields[d.type === 1 ? 3 : 4]);
      raws.push(concatBytes([Uint8Array.of(d.type), rlpEncode([chainId, nonce, ...fees, gas, to, fb(0, "value"), data, accessList, yp, r, s])]));
    }
  }

  // Block timestamps follow from rel_timestamp and the block time; L1 origins from origin_bits,
  // counting back from l1_origin_num (the span end's origin).
  const changes = originBits.filter(Boolean).length;
  let epoch = l1OriginNum - changes;
  if (epoch < 0) throw new DecodeError("origin_bits count more changes than l1_origin_num allows", "the batch is dropped");
  const blocks: SpanBatchElement[] = [];
  let k = 0;
  for (let i = 0; i < blockCount; i++) {
    if (originBits[i]) epoch += 1;
    blocks.push({ epochNum: epoch, timestamp: cfg.genesisTimestamp + relTimestamp + i * cfg.blockTime, transactions: raws.slice(k, k + counts[i]!) });
    k += counts[i]!;
  }
  return { parentCheck, l1OriginCheck, originBits, blocks };
}

// Span batches (specs/protocol/delta/span-batches.md), batch_version 1:
//   prefix  = rel_timestamp (uvarint) ++ l1_origin_num (uvarint) ++ parent_check (20) ++ l1_origin_check (20)
//   payload = block_count (uvarint) ++ origin_bits (bitlist) ++ block_tx_counts (uvarints) ++ txs
//   txs     = contract_creation_bits ++ y_parity_bits ++ tx_sigs ++ tx_tos ++ tx_datas
//             ++ tx_nonces ++ tx_gases ++ protected_bits
import { Signature, Transaction, getAddress } from "ethers";
import { concatBytes, decodeBitlist, encodeBitlist, encodeUvarint, fromHex, Reader, toHex } from "./bytes.js";
import { DecodeError, LimitError } from "./errors.js";
import { MAX_SPAN_BATCH_ELEMENT_COUNT } from "./params.js";
import { asBytes, asList, bytesToUint, rlpEncode, rlpReadNext, uintBytes, type RlpItem } from "./rlp.js";

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

function pad32(hex: string): Uint8Array {
  const b = fromHex(hex);
  if (b.length > 32) throw new DecodeError("signature value over 32 bytes", "corrupt transaction");
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

function accessListItem(al: readonly { address: string; storageKeys: readonly string[] }[]): RlpItem {
  return al.map((e) => [fromHex(e.address), e.storageKeys.map(fromHex)]);
}

function splitTx(raw: Uint8Array, chainId: bigint): SpanTx {
  let tx: Transaction;
  try {
    tx = Transaction.from(toHex(raw));
  } catch (e) {
    throw new DecodeError(`transaction does not parse: ${(e as Error).message.slice(0, 80)}`, "only signed legacy, EIP-2930 and EIP-1559 transactions fit a span batch");
  }
  const sig = tx.signature;
  if (!sig) throw new DecodeError("unsigned transaction", "sign transactions before batching them");
  const type = tx.type ?? 0;
  if (type !== 0 && type !== 1 && type !== 2) throw new DecodeError(`transaction type ${type} cannot be span-batched`, "span batches carry types 0, 1 and 2");
  if (type !== 0 || tx.chainId !== 0n) {
    if (tx.chainId !== chainId) throw new DecodeError(`transaction chain id ${tx.chainId} is not the L2's ${chainId}`, "sign for the L2 chain id");
  }
  const value = uintBytes(tx.value);
  const data = fromHex(tx.data);
  let txData: Uint8Array;
  if (type === 0) txData = rlpEncode([value, uintBytes(tx.gasPrice ?? 0n), data]);
  else if (type === 1) txData = concatBytes([Uint8Array.of(1), rlpEncode([value, uintBytes(tx.gasPrice ?? 0n), data, accessListItem(tx.accessList ?? [])])]);
  else
    txData = concatBytes([
      Uint8Array.of(2),
      rlpEncode([value, uintBytes(tx.maxPriorityFeePerGas ?? 0n), uintBytes(tx.maxFeePerGas ?? 0n), data, accessListItem(tx.accessList ?? [])]),
    ]);
  return {
    type,
    contractCreation: tx.to === null,
    yParity: sig.yParity === 1,
    r: pad32(sig.r),
    s: pad32(sig.s),
    to: tx.to === null ? null : fromHex(tx.to),
    txData,
    nonce: BigInt(tx.nonce),
    gas: tx.gasLimit,
    protectedBit: type === 0 ? tx.chainId !== 0n : null,
  };
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

function toAccessList(item: RlpItem): { address: string; storageKeys: string[] }[] {
  return asList(item, "access_list").map((e) => {
    const [a, keys] = asList(e, "access list entry", 2);
    const addr = asBytes(a, "access list address");
    if (addr.length !== 20) throw new DecodeError("access list address is not 20 bytes", "corrupt transaction");
    return {
      address: getAddress(toHex(addr)),
      storageKeys: asList(keys, "storage keys").map((k) => {
        const kb = asBytes(k, "storage key");
        if (kb.length !== 32) throw new DecodeError("storage key is not 32 bytes", "corrupt transaction");
        return toHex(kb);
      }),
    };
  });
}

const u = (item: RlpItem | undefined, what: string) => bytesToUint(asBytes(item, what), what);

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
    const to = tos[i] === null ? null : getAddress(toHex(tos[i]!));
    let chainId = cfg.l2ChainId;
    let v: number;
    if (d.type === 0) {
      const prot = protectedBits[li++]!;
      if (!prot) chainId = 0n;
      v = prot ? Number(cfg.l2ChainId * 2n + 35n) + (yParity[i] ? 1 : 0) : 27 + (yParity[i] ? 1 : 0);
    } else v = 27 + (yParity[i] ? 1 : 0);
    const [sr, ss] = sigs[i]!;
    let tx: Transaction;
    try {
      tx = new Transaction();
      tx.type = d.type;
      tx.chainId = chainId;
      tx.nonce = Number(nonces[i]!);
      tx.gasLimit = gases[i]!;
      tx.to = to;
      tx.value = u(d.fields[0], "value");
      if (d.type === 0 || d.type === 1) {
        tx.gasPrice = u(d.fields[1], "gasPrice");
        tx.data = toHex(asBytes(d.fields[2], "data"));
        if (d.type === 1) tx.accessList = toAccessList(d.fields[3]!);
      } else {
        tx.maxPriorityFeePerGas = u(d.fields[1], "max_priority_fee_per_gas");
        tx.maxFeePerGas = u(d.fields[2], "max_fee_per_gas");
        tx.data = toHex(asBytes(d.fields[3], "data"));
        tx.accessList = toAccessList(d.fields[4]!);
      }
      tx.signature = Signature.from({ r: toHex(sr), s: toHex(ss), v });
      raws.push(fromHex(tx.serialized));
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError(`span batch transaction ${i} cannot be rebuilt: ${(e as Error).message.slice(0, 80)}`, "the batch is dropped");
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

// Span batches (specs/protocol/delta/span-batches.md, isthmus/derivation.md "Span Batch
// Updates"), batch_version 1:
//   prefix  = rel_timestamp (uvarint) ++ l1_origin_num (uvarint) ++ parent_check (20) ++ l1_origin_check (20)
//   payload = block_count (uvarint) ++ origin_bits (bitlist) ++ block_tx_counts (uvarints) ++ txs
//   txs     = contract_creation_bits ++ y_parity_bits ++ tx_sigs ++ tx_tos ++ tx_datas
//             ++ tx_nonces ++ tx_gases ++ protected_bits
// Every uvarint is a uint64: rel_timestamp, l1_origin_num, nonces and gas limits are bigints here,
// so a value above 2^53 decodes and re-encodes exactly.
import { concatBytes, decodeBitlist, encodeBitlist, encodeUvarint, Reader } from "./bytes.js";
import { DecodingError, EncodingError } from "./errors.js";
import { asBytes, asList, bytesToUint, type RlpItem, rlpDecode, rlpEncode, rlpReadNext, uintBytes } from "./rlp.js";
import { type Fork, MAX_SPAN_BATCH_ELEMENT_COUNT } from "./rollup-config.js";

/** What encoding and decoding a span batch needs from the rollup config. */
export interface SpanBatchCodecConfig {
  genesisTimestamp: number;
  blockTime: number;
  l2ChainId: bigint;
}

export interface SpanBatchElement {
  epochNum: bigint;
  timestamp: bigint;
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

/**
 * Called by the decoder after each field it reads, with the field's spec name, its byte range in
 * the span batch content and a description of its value: what the annotated hex dump is built
 * from, so the dump and the decoder cannot disagree.
 */
export type FieldTrace = (field: string, start: number, end: number, value: () => string) => void;

// --- transaction types ------------------------------------------------------------------------

/**
 * One typed (EIP-2718) transaction type as span batches carry it. The signed transaction is
 *   type ++ rlp([chain_id, nonce, ...fees, gas, to, value, data, access_list, ...extras, y_parity, r, s])
 * and its tx_data column entry is
 *   type ++ rlp([value, ...fees, data, access_list, ...extras])
 * (the nonce, gas, to and signature go to their own columns; the chain id is the rollup's).
 */
export interface SpanBatchTxType {
  type: number;
  name: string;
  /** Fee fields, in signed-transaction order. */
  fees: readonly string[];
  /** Fields after the access list. */
  extras: readonly string[];
  /** The fork from which span batches may carry the type (the batch is dropped before it). */
  fork?: Fork;
  /** Whether an empty `to` (contract creation) is allowed. */
  allowsCreation: boolean;
}

/**
 * The typed transactions a span batch can carry: adding a type is adding one entry. Legacy
 * transactions (type 0, no type byte) have their own layout below.
 */
export const SPAN_BATCH_TX_TYPES: readonly SpanBatchTxType[] = [
  { type: 1, name: "EIP-2930 access list", fees: ["gas_price"], extras: [], allowsCreation: true },
  { type: 2, name: "EIP-1559 dynamic fee", fees: ["max_priority_fee_per_gas", "max_fee_per_gas"], extras: [], allowsCreation: true },
  { type: 4, name: "EIP-7702 set code", fees: ["max_priority_fee_per_gas", "max_fee_per_gas"], extras: ["authorization_list"], fork: "isthmus", allowsCreation: false },
];

const TYPED = new Map(SPAN_BATCH_TX_TYPES.map((t) => [t.type, t]));

/** The table entry of a typed transaction type, or undefined for legacy and unknown types. */
export function spanBatchTxType(type: number): SpanBatchTxType | undefined {
  return TYPED.get(type);
}

/** The EIP-2718 type of a signed transaction (0 for legacy, whose first byte is an RLP list). */
export function transactionType(raw: Uint8Array): number {
  return raw.length > 0 && raw[0]! < 0xc0 ? raw[0]! : 0;
}

/** The transactions of `blocks` whose type span batches may carry only from a fork on. */
export function forkGatedTransactions(txs: readonly Uint8Array[]): { type: number; fork: Fork }[] {
  const out: { type: number; fork: Fork }[] = [];
  for (const t of txs) {
    const fork = TYPED.get(transactionType(t))?.fork;
    if (fork) out.push({ type: transactionType(t), fork });
  }
  return out;
}

interface SpanTx {
  type: number;
  yParity: boolean;
  r: Uint8Array;
  s: Uint8Array;
  to: Uint8Array | null;
  txData: Uint8Array;
  nonce: bigint;
  gas: bigint;
  /** EIP-155 protection, legacy transactions only. */
  protectedBit: boolean | null;
}

/** Builds a span batch from consecutive singular-batch-like blocks. */
export function spanBatchFromBlocks(
  blocks: readonly { parentHash: Uint8Array; epochNum: number; epochHash: Uint8Array; timestamp: number; transactions: Uint8Array[] }[],
  parentEpochNum: number,
): SpanBatch {
  if (blocks.length === 0) throw new EncodingError("span-batch/empty");
  const originBits: boolean[] = [];
  let prev = parentEpochNum;
  for (const b of blocks) {
    if (b.epochNum !== prev && b.epochNum !== prev + 1) throw new EncodingError("span-batch/origin-jump", { from: prev, to: b.epochNum });
    originBits.push(b.epochNum !== prev);
    prev = b.epochNum;
  }
  const last = blocks[blocks.length - 1]!;
  return {
    parentCheck: blocks[0]!.parentHash.slice(0, 20),
    l1OriginCheck: last.epochHash.slice(0, 20),
    originBits,
    blocks: blocks.map((b) => ({ epochNum: BigInt(b.epochNum), timestamp: BigInt(b.timestamp), transactions: b.transactions })),
  };
}

function pad32(b: Uint8Array, field: string): Uint8Array {
  if (b.length > 32) throw new EncodingError("span-batch/bad-tx-field", { field, reason: "over 32 bytes" });
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

type Side = typeof EncodingError | typeof DecodingError;

/** Checks an access list's shape (20-byte addresses, 32-byte keys) and returns it as an RLP item. */
function checkAccessList(item: RlpItem | undefined, E: Side): RlpItem {
  for (const e of asList(item, "access_list")) {
    const [a, keys] = asList(e, "access list entry", 2);
    if (asBytes(a, "access list address").length !== 20) throw new E("span-batch/bad-tx-field", { field: "access_list", reason: "address is not 20 bytes" });
    for (const k of asList(keys, "storage keys")) if (asBytes(k, "storage key").length !== 32) throw new E("span-batch/bad-tx-field", { field: "access_list", reason: "storage key is not 32 bytes" });
  }
  return item!;
}

/** Checks an EIP-7702 authorization list's shape: [chain_id, address, nonce, y_parity, r, s] tuples. */
function checkAuthorizationList(item: RlpItem | undefined, E: Side): RlpItem {
  for (const a of asList(item, "authorization_list")) {
    const f = asList(a, "authorization", 6);
    if (asBytes(f[1], "authorization address").length !== 20) throw new E("span-batch/bad-tx-field", { field: "authorization_list", reason: "address is not 20 bytes" });
    for (const k of [0, 2, 3, 4, 5]) bytesToUint(asBytes(f[k], "authorization field"), "authorization field");
  }
  return item!;
}

const EXTRA_CHECKS: Record<string, (item: RlpItem | undefined, E: Side) => RlpItem> = { authorization_list: checkAuthorizationList };

/**
 * Splits a signed EIP-2718 transaction into the span batch's per-field columns. Parsed with the
 * lab's RLP reader rather than a wallet library: derivation speed is bounded by this step.
 */
function splitTx(raw: Uint8Array, chainId: bigint): SpanTx {
  if (raw.length === 0) throw new EncodingError("span-batch/empty-tx");
  const type = transactionType(raw);
  if (type === 0) return splitLegacy(raw, chainId);
  const t = TYPED.get(type);
  if (!t) throw new EncodingError("span-batch/unsupported-tx-type", { type });
  const n = t.fees.length;
  const f = asList(rlpDecode(raw.subarray(1)), `type ${type} transaction`, 10 + n + t.extras.length);
  const int = (i: number, what: string) => bytesToUint(asBytes(f[i], what), what);
  const signedChainId = int(0, "chain_id");
  if (signedChainId !== chainId) throw new EncodingError("span-batch/wrong-chain-id", { chainId: signedChainId, expected: chainId });
  const fees = f.slice(2, 2 + n).map((x, i) => asBytes(x, t.fees[i]!));
  const to = asBytes(f[3 + n], "to");
  const value = asBytes(f[4 + n], "value");
  const data = asBytes(f[5 + n], "data");
  const accessList = checkAccessList(f[6 + n], EncodingError);
  const extras = t.extras.map((name, i) => (EXTRA_CHECKS[name] ?? ((x) => x!))(f[7 + n + i], EncodingError));
  const k = 7 + n + t.extras.length;
  const yp = int(k, "y_parity");
  if (yp > 1n) throw new EncodingError("span-batch/bad-tx-field", { field: "y_parity", reason: "above 1" });
  return {
    type,
    yParity: yp === 1n,
    r: pad32(asBytes(f[k + 1], "r"), "r"),
    s: pad32(asBytes(f[k + 2], "s"), "s"),
    to: checkTo(to, t.allowsCreation),
    txData: concatBytes([Uint8Array.of(type), rlpEncode([value, ...fees, data, accessList, ...extras])]),
    nonce: int(1, "nonce"),
    gas: int(2 + n, "gas"),
    protectedBit: null,
  };
}

function checkTo(to: Uint8Array, allowsCreation: boolean): Uint8Array | null {
  if (to.length === 0 && allowsCreation) return null;
  if (to.length !== 20) throw new EncodingError("span-batch/bad-tx-field", { field: "to", reason: allowsCreation ? "neither empty nor 20 bytes" : "not 20 bytes" });
  return to;
}

/** Legacy: rlp([nonce, gas_price, gas, to, value, data, v, r, s]); tx_data = rlp([value, gas_price, data]). */
function splitLegacy(raw: Uint8Array, chainId: bigint): SpanTx {
  const f = asList(rlpDecode(raw), "legacy transaction", 9);
  const int = (i: number, what: string) => bytesToUint(asBytes(f[i], what), what);
  const v = int(6, "v");
  let yParity: boolean;
  let protectedBit: boolean;
  if (v === 27n || v === 28n) {
    protectedBit = false;
    yParity = v === 28n;
  } else {
    protectedBit = true;
    if ((v - 35n) / 2n !== chainId) throw new EncodingError("span-batch/wrong-chain-id", { chainId: (v - 35n) / 2n, expected: chainId });
    yParity = (v - 35n) % 2n === 1n;
  }
  return {
    type: 0,
    yParity,
    r: pad32(asBytes(f[7], "r"), "r"),
    s: pad32(asBytes(f[8], "s"), "s"),
    to: checkTo(asBytes(f[3], "to"), true),
    txData: rlpEncode([asBytes(f[4], "value"), asBytes(f[1], "gas_price"), asBytes(f[5], "data")]),
    nonce: int(0, "nonce"),
    gas: int(2, "gas"),
    protectedBit,
  };
}

// --- encoding ---------------------------------------------------------------------------------

/** splitTx, with a signed transaction that does not parse refused as an encoding error. */
function splitSigned(raw: Uint8Array, chainId: bigint): SpanTx {
  try {
    return splitTx(raw, chainId);
  } catch (e) {
    if (e instanceof DecodingError) throw new EncodingError("span-batch/bad-tx-field", { field: "transaction", reason: e.code }, e);
    throw e;
  }
}

export function encodeSpanBatch(sb: SpanBatch, cfg: SpanBatchCodecConfig): Uint8Array {
  const n = sb.blocks.length;
  if (n === 0) throw new EncodingError("span-batch/empty");
  const first = sb.blocks[0]!;
  const last = sb.blocks[n - 1]!;
  const txs = sb.blocks.flatMap((b) => b.transactions.map((t) => splitSigned(t, cfg.l2ChainId)));
  if (n + txs.length > MAX_SPAN_BATCH_ELEMENT_COUNT) throw new EncodingError("span-batch/too-many-elements", { count: n + txs.length, max: MAX_SPAN_BATCH_ELEMENT_COUNT });
  const legacy = txs.filter((t) => t.type === 0);
  return concatBytes([
    // prefix
    encodeUvarint(first.timestamp - BigInt(cfg.genesisTimestamp), "rel_timestamp"),
    encodeUvarint(last.epochNum, "l1_origin_num"),
    sb.parentCheck,
    sb.l1OriginCheck,
    // payload
    encodeUvarint(n),
    encodeBitlist(sb.originBits),
    ...sb.blocks.map((b) => encodeUvarint(b.transactions.length)),
    // txs
    encodeBitlist(txs.map((t) => t.to === null)),
    encodeBitlist(txs.map((t) => t.yParity)),
    ...txs.flatMap((t) => [t.r, t.s]),
    ...txs.filter((t) => t.to !== null).map((t) => t.to!),
    ...txs.map((t) => t.txData),
    ...txs.map((t) => encodeUvarint(t.nonce, "tx_nonces")),
    ...txs.map((t) => encodeUvarint(t.gas, "tx_gases")),
    encodeBitlist(legacy.map((t) => t.protectedBit === true)),
  ]);
}

// --- decoding ---------------------------------------------------------------------------------

interface TxDataEntry {
  type: number;
  fields: RlpItem[];
}

/** Reads one tx_datas entry: an optional type byte of the table, then the RLP list of its fields. */
function readTxData(r: Reader): TxDataEntry {
  const b0 = r.buf[r.pos];
  if (b0 === undefined) throw new DecodingError("bytes/truncated", { field: "tx_datas", need: 1, left: 0 });
  if (b0 >= 0xc0) return { type: 0, fields: asList(rlpReadNext(r), "tx_data", 3) };
  // EIP-2718 types are 0x00..0x7f; 0x80..0xbf starts an RLP string, which no tx_data is.
  if (b0 > 0x7f) throw new DecodingError("rlp/expected-list", { field: "tx_data" });
  const type = r.u8("tx type");
  const t = TYPED.get(type);
  if (!t) throw new DecodingError("span-batch/unsupported-tx-type", { type });
  return { type, fields: asList(rlpReadNext(r), "tx_data", 3 + t.fees.length + t.extras.length) };
}

/** A canonical RLP integer field of a tx_data entry, returned as the bytes it is. */
function intField(d: TxDataEntry, k: number, what: string): Uint8Array {
  const b = asBytes(d.fields[k], what);
  bytesToUint(b, what);
  return b;
}

/** Rebuilds the signed EIP-2718 transaction from its columns. */
function joinTx(d: TxDataEntry, to: Uint8Array | null, sig: [Uint8Array, Uint8Array], yParity: boolean, nonce: bigint, gas: bigint, protectedBit: boolean, chainId: bigint): Uint8Array {
  const r = trimInt(sig[0]);
  const s = trimInt(sig[1]);
  const toB = to ?? new Uint8Array(0);
  if (d.type === 0) {
    // v = chain_id * 2 + 35 + y_parity when EIP-155 protected, else 27 + y_parity.
    const v = protectedBit ? chainId * 2n + 35n + (yParity ? 1n : 0n) : 27n + (yParity ? 1n : 0n);
    return rlpEncode([uintBytes(nonce), intField(d, 1, "gas_price"), uintBytes(gas), toB, intField(d, 0, "value"), asBytes(d.fields[2], "data"), uintBytes(v), r, s]);
  }
  const t = TYPED.get(d.type)!;
  if (to === null && !t.allowsCreation) throw new DecodingError("span-batch/bad-tx-field", { field: "to", reason: `type ${d.type} cannot create a contract` });
  const n = t.fees.length;
  const fees = t.fees.map((name, i) => intField(d, 1 + i, name));
  const data = asBytes(d.fields[1 + n], "data");
  const accessList = checkAccessList(d.fields[2 + n], DecodingError);
  const extras = t.extras.map((name, i) => (EXTRA_CHECKS[name] ?? ((x) => x!))(d.fields[3 + n + i], DecodingError));
  const signed = [uintBytes(chainId), uintBytes(nonce), ...fees, uintBytes(gas), toB, intField(d, 0, "value"), data, accessList, ...extras, uintBytes(yParity ? 1 : 0), r, s];
  return concatBytes([Uint8Array.of(d.type), rlpEncode(signed)]);
}

/**
 * Decodes span batch content (after the batch_version byte). `trace`, when given, hears of every
 * field as it is read (see FieldTrace).
 */
export function decodeSpanBatch(content: Uint8Array, cfg: SpanBatchCodecConfig, trace?: FieldTrace): SpanBatch {
  const r = new Reader(content);
  let start = 0;
  const mark = (field: string, value: () => string) => {
    trace?.(field, start, r.pos, value);
    start = r.pos;
  };
  const relTimestamp = r.uvarint("rel_timestamp");
  mark("rel_timestamp (uvarint)", () => `${relTimestamp} s since L2 genesis`);
  const l1OriginNum = r.uvarint("l1_origin_num");
  mark("l1_origin_num (uvarint)", () => String(l1OriginNum));
  const parentCheck = r.take(20, "parent_check");
  mark("parent_check", () => "first 20 bytes of the parent's hash");
  const l1OriginCheck = r.take(20, "l1_origin_check");
  mark("l1_origin_check", () => "first 20 bytes of the last L1 origin's hash");
  const blockCount = r.uvarintNumber("block_count", MAX_SPAN_BATCH_ELEMENT_COUNT);
  if (blockCount === 0) throw new DecodingError("span-batch/empty");
  mark("block_count (uvarint)", () => String(blockCount));
  const originBits = decodeBitlist(r, blockCount, "origin_bits");
  mark("origin_bits", () => originBits.map((b) => (b ? "1" : "0")).join(""));
  const counts: number[] = [];
  let total = 0;
  for (let i = 0; i < blockCount; i++) {
    const c = r.uvarintNumber("block_tx_count", MAX_SPAN_BATCH_ELEMENT_COUNT);
    total += c;
    if (total > MAX_SPAN_BATCH_ELEMENT_COUNT) throw new DecodingError("span-batch/too-many-elements", { count: total, max: MAX_SPAN_BATCH_ELEMENT_COUNT });
    counts.push(c);
  }
  mark("block_tx_counts (uvarints)", () => counts.join(", "));
  // Every transaction needs at least 64 signature bytes: refuse counts the data cannot back
  // before allocating per-transaction arrays.
  if (total * 64 > r.remaining) throw new DecodingError("span-batch/too-few-bytes", { txs: total, left: r.remaining });
  const creation = decodeBitlist(r, total, "contract_creation_bits");
  mark("contract_creation_bits", () => `${creation.filter(Boolean).length} of ${total} create contracts`);
  const yParity = decodeBitlist(r, total, "y_parity_bits");
  mark("y_parity_bits", () => `${yParity.filter(Boolean).length} of ${total} odd`);
  const sigs: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < total; i++) sigs.push([r.take(32, "tx_sigs r"), r.take(32, "tx_sigs s")]);
  mark("tx_sigs", () => `${total} × (r 32 bytes, s 32 bytes)`);
  const tos: (Uint8Array | null)[] = [];
  for (let i = 0; i < total; i++) tos.push(creation[i] ? null : r.take(20, "tx_tos"));
  mark("tx_tos", () => `${tos.filter((t) => t !== null).length} × 20-byte address`);
  const datas: TxDataEntry[] = [];
  for (let i = 0; i < total; i++) datas.push(readTxData(r));
  const legacyCount = datas.filter((d) => d.type === 0).length;
  mark("tx_datas", () => `${total} entries (value, fees, calldata, access list${SPAN_BATCH_TX_TYPES.some((t) => t.extras.length) ? ", extras" : ""}); ${txTypeSummary(datas)}`);
  const nonces: bigint[] = [];
  for (let i = 0; i < total; i++) nonces.push(r.uvarint("tx_nonces"));
  mark("tx_nonces (uvarints)", () => `${total} nonces`);
  const gases: bigint[] = [];
  for (let i = 0; i < total; i++) gases.push(r.uvarint("tx_gases"));
  mark("tx_gases (uvarints)", () => `${total} gas limits`);
  const protectedBits = decodeBitlist(r, legacyCount, "protected_bits");
  mark("protected_bits", () => `${protectedBits.filter(Boolean).length} of ${legacyCount} legacy txs EIP-155 protected`);
  if (r.remaining !== 0) throw new DecodingError("span-batch/trailing-bytes", { count: r.remaining });

  const raws: Uint8Array[] = [];
  let li = 0;
  for (let i = 0; i < total; i++) {
    const d = datas[i]!;
    const prot = d.type === 0 ? protectedBits[li++]! : false;
    raws.push(joinTx(d, tos[i]!, sigs[i]!, yParity[i]!, nonces[i]!, gases[i]!, prot, cfg.l2ChainId));
  }

  // Block timestamps follow from rel_timestamp and the block time; L1 origins from origin_bits,
  // counting back from l1_origin_num (the span end's origin).
  const changes = BigInt(originBits.filter(Boolean).length);
  if (changes > l1OriginNum) throw new DecodingError("span-batch/origin-underflow", { changes, l1OriginNum });
  let epoch = l1OriginNum - changes;
  const base = BigInt(cfg.genesisTimestamp) + relTimestamp;
  const blocks: SpanBatchElement[] = [];
  let k = 0;
  for (let i = 0; i < blockCount; i++) {
    if (originBits[i]) epoch += 1n;
    blocks.push({ epochNum: epoch, timestamp: base + BigInt(i * cfg.blockTime), transactions: raws.slice(k, k + counts[i]!) });
    k += counts[i]!;
  }
  return { parentCheck, l1OriginCheck, originBits, blocks };
}

function txTypeSummary(datas: readonly TxDataEntry[]): string {
  const byType = new Map<number, number>();
  for (const d of datas) byType.set(d.type, (byType.get(d.type) ?? 0) + 1);
  return (
    [...byType]
      .sort((a, b) => a[0] - b[0])
      .map(([t, c]) => `${c} ${t === 0 ? "legacy" : `type ${t}`}`)
      .join(", ") || "none"
  );
}

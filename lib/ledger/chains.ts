// The rollup on real chains: two in-process Hardhat networks from hardhat.config.ts, `l1` and
// `l2` (chainType "op", chain id 901), opened with manual mining and a fixed genesis date so that
// a second, fresh L2 started from the same genesis can re-execute the derived blocks and must
// arrive at the same block hashes and state roots.
import { type BrowserProvider, type Eip1193Provider, Transaction, Wallet } from "ethers";
import { hardhatRuntime, inProcessProvider } from "../chain/connect.js";
import { devPrivateKey } from "../chain/keys.js";
import type { BatcherTx } from "./batcher.js";
import type { BlobSource, L1BlockData, L1BlockRef, L1Tx, L2BlockRef } from "./block-refs.js";
import { fromHex, toHex } from "./bytes.js";
import type { PayloadAttributes } from "./derivation/attributes.js";
import type { Engine } from "./derivation/pipeline.js";
import { PayloadRefusedError } from "./errors.js";
import { OP_MAINNET_SCALARS } from "./fees.js";
import { kzg } from "./kzg-eip4844.js";

export interface ChainHandle {
  name: "l1" | "l2";
  provider: BrowserProvider;
  chainId: bigint;
  // biome-ignore lint/suspicious/noExplicitAny: JSON-RPC results are untyped JSON; each caller reads the fields its method returns.
  send(method: string, params?: unknown[]): Promise<any>;
  wallet(i: number): Wallet;
  /**
   * While on, every block automining makes (a sent transaction, a bare evm_mine) is stamped one
   * second after the latest, plus any evm_increaseTime since: without it Hardhat stamps blocks
   * from the wall clock, and the L1 blocks' hashes, which L2 blocks commit as their origins,
   * would change from run to run.
   */
  pinClock(on: boolean): void;
  close(): Promise<void>;
}

/**
 * Opens a fresh instance of the `l1` or `l2` network with manual mining, FIFO mempool order
 * (block contents are exactly what was sent, in order) and a genesis at `genesisDate`.
 */
export async function openChain(network: "l1" | "l2", genesisDate: Date): Promise<ChainHandle> {
  const conn = await (await hardhatRuntime()).network.create({
    network,
    override: { initialDate: genesisDate, mining: { auto: false, interval: 0, mempool: { order: "fifo" } } } as never,
  });
  const clock = new PinnedClock(conn.provider as unknown as Eip1193Provider);
  const eip1193 = clock.provider;
  const provider = inProcessProvider(eip1193);
  const chainId = (await provider.getNetwork()).chainId;
  return {
    name: network,
    provider,
    chainId,
    send: (method, params = []) => eip1193.request({ method, params }),
    wallet: (i) => new Wallet(devPrivateKey(i), provider),
    pinClock: (on) => {
      clock.pinned = on;
    },
    close: async () => {
      provider.destroy();
      await conn.close();
    },
  };
}

const SENDS = new Set(["eth_sendRawTransaction", "eth_sendTransaction"]);

/** An EIP-1193 provider whose automined blocks, while pinned, take their timestamps from the chain, not the wall clock. */
class PinnedClock {
  pinned = false;
  private increase = 0;
  private queue: Promise<unknown> = Promise.resolve();
  readonly provider: Eip1193Provider;

  constructor(private readonly inner: Eip1193Provider) {
    this.provider = { request: (args) => this.request(args as { method: string; params?: unknown[] }) };
  }

  private request(args: { method: string; params?: unknown[] }): Promise<unknown> {
    if (!this.pinned) return this.inner.request(args);
    if (args.method === "evm_increaseTime") {
      this.increase += Number(args.params?.[0] ?? 0);
      return Promise.resolve(String(this.increase));
    }
    const mines = SENDS.has(args.method) || (args.method === "evm_mine" && !args.params?.length);
    if (!mines) return this.inner.request(args);
    // one at a time: the timestamp read, set and used by the same block
    const run = this.queue.then(async () => {
      const latest = (await this.inner.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as { timestamp: string };
      const timestamp = Number(latest.timestamp) + 1 + this.increase;
      this.increase = 0;
      if (args.method === "evm_mine") return this.inner.request({ method: "evm_mine", params: [timestamp] });
      await this.inner.request({ method: "evm_setNextBlockTimestamp", params: [timestamp] });
      return this.inner.request(args);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The L1Block predeploy, which the L1 attributes deposit updates at the start of every L2 block. */
export const L1_BLOCK_PREDEPLOY = "0x4200000000000000000000000000000000000015";

// JSON-RPC's invalid params (-32602) and the server-error range (-32000 to -32099, where EIP-1474
// puts "transaction rejected"): what a node answers for a transaction it will not include.
const isTransactionRefusal = (code: unknown): code is number => code === -32602 || (typeof code === "number" && code <= -32000 && code >= -32099);

const word = (v: bigint) => `0x${v.toString(16).padStart(64, "0")}`;

/**
 * Executes payload attributes on a Hardhat L2: the block holds exactly the given transactions.
 * Hardhat accepts no deposit transactions, so the effect of the L1 attributes deposit (Ecotone's
 * setL1BlockValuesEcotone) is applied to the L1Block predeploy's storage directly: origin number,
 * timestamp, base fee, hash, sequence number, fee scalars and blob base fee. Both the sequencer's
 * chain and the derived chain do this identically, so the L1 fee the L2 charges is real.
 */
export class HardhatEngine implements Engine {
  constructor(
    private readonly chain: ChainHandle,
    readonly scalars = OP_MAINNET_SCALARS,
  ) {}

  private async setL1Attributes(a: PayloadAttributes): Promise<void> {
    const o = a.l1origin;
    if (o.baseFee === undefined) return;
    const set = (slot: number, v: bigint) => this.chain.send("hardhat_setStorageAt", [L1_BLOCK_PREDEPLOY, `0x${slot.toString(16)}`, word(v)]);
    // Slot layout of L1Block: 0 = number | timestamp << 64, 1 = basefee, 2 = hash,
    // 3 = sequenceNumber | blobBaseFeeScalar << 64 | baseFeeScalar << 96, 7 = blobBaseFee.
    await set(0, BigInt(o.number) | (BigInt(o.timestamp) << 64n));
    await set(1, o.baseFee);
    await set(2, BigInt(o.hash));
    await set(3, BigInt(a.sequenceNumber) | (this.scalars.blobBaseFeeScalar << 64n) | (this.scalars.baseFeeScalar << 96n));
    await set(7, o.blobBaseFee ?? 1n);
  }

  /**
   * Sends one payload transaction. The node's JSON-RPC refusal (invalid params, or a server error
   * such as a bad nonce or an unfunded sender) makes the payload invalid, a PayloadRefusedError;
   * any other failure propagates as it is.
   */
  private async sendTransaction(t: Uint8Array, index: number): Promise<void> {
    try {
      await this.chain.send("eth_sendRawTransaction", [toHex(t)]);
    } catch (e) {
      const rpcCode = (e as { code?: unknown }).code;
      if (!isTransactionRefusal(rpcCode)) throw e;
      throw new PayloadRefusedError("engine/transaction-refused", { index, rpcCode }, e);
    }
  }

  async execute(a: PayloadAttributes): Promise<L2BlockRef> {
    const snapshot = await this.chain.send("evm_snapshot");
    try {
      await this.setL1Attributes(a);
      for (const [index, t] of a.transactions.entries()) await this.sendTransaction(t, index);
      await this.chain.send("evm_mine", [a.timestamp]);
      const b = await this.chain.send("eth_getBlockByNumber", ["latest", false]);
      if (b.transactions.length !== a.transactions.length) {
        throw new PayloadRefusedError("engine/transactions-refused", { included: b.transactions.length, expected: a.transactions.length });
      }
      return {
        number: Number(b.number),
        hash: b.hash,
        parentHash: b.parentHash,
        timestamp: Number(b.timestamp),
        l1origin: { number: a.l1origin.number, hash: a.l1origin.hash },
        sequenceNumber: a.sequenceNumber,
      };
    } catch (e) {
      await this.chain.send("evm_revert", [snapshot]);
      throw e;
    }
  }
}

export async function l2BlockRef(chain: ChainHandle, n: number, l1origin: L1BlockRef): Promise<L2BlockRef> {
  const b = await chain.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, false]);
  return { number: n, hash: b.hash, parentHash: b.parentHash, timestamp: Number(b.timestamp), l1origin: { number: l1origin.number, hash: l1origin.hash }, sequenceNumber: 0 };
}

/** EIP-4844's fake_exponential: the blob base fee from a block's excess blob gas. */
export function blobBaseFee(excessBlobGas: bigint, updateFraction = BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE): bigint {
  let i = 1n;
  let output = 0n;
  let acc = updateFraction; // factor (1) × denominator
  while (acc > 0n) {
    output += acc;
    acc = (acc * excessBlobGas) / (updateFraction * i);
    i += 1n;
  }
  return output / updateFraction;
}
export const BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE = 5_007_716n;

/** The header fields of a JSON-RPC block that derivation reads (quantities as hex strings). */
interface RpcBlock {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  baseFeePerGas?: string;
  excessBlobGas?: string;
}

/** The fields of a JSON-RPC transaction that make up its signed envelope. */
interface RpcTransaction {
  type: string;
  chainId?: string;
  nonce: string;
  to?: string | null;
  input?: string;
  value?: string;
  gas: string;
  gasPrice?: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
  accessList?: { address: string; storageKeys: string[] }[];
  maxFeePerBlobGas?: string;
  blobVersionedHashes?: string[];
  r: string;
  s: string;
  v?: string;
  yParity?: string;
}

function headerRef(b: RpcBlock): L1BlockRef {
  return {
    number: Number(b.number),
    hash: b.hash,
    parentHash: b.parentHash,
    timestamp: Number(b.timestamp),
    baseFee: BigInt(b.baseFeePerGas ?? 0),
    blobBaseFee: blobBaseFee(BigInt(b.excessBlobGas ?? 0)),
  };
}

export async function l1BlockRef(chain: ChainHandle, n: number | "latest"): Promise<L1BlockRef> {
  return headerRef(await chain.send("eth_getBlockByNumber", [n === "latest" ? n : `0x${n.toString(16)}`, false]));
}

/**
 * A transaction of a JSON-RPC block as the signed EIP-2718 envelope the block holds, rebuilt from
 * its fields and signature (a blob transaction without its sidecar). The node's `from` is not
 * used: L1 retrieval recovers the sender from the signature itself.
 */
function signedEnvelope(t: RpcTransaction): L1Tx {
  const type = Number(t.type);
  const tx = Transaction.from({
    type,
    chainId: t.chainId === undefined ? undefined : BigInt(t.chainId),
    nonce: Number(t.nonce),
    to: t.to ?? null,
    data: t.input ?? "0x",
    value: BigInt(t.value ?? 0),
    gasLimit: BigInt(t.gas),
    ...(type === 0 || type === 1 ? { gasPrice: BigInt(t.gasPrice ?? 0) } : { maxFeePerGas: BigInt(t.maxFeePerGas ?? 0), maxPriorityFeePerGas: BigInt(t.maxPriorityFeePerGas ?? 0) }),
    ...(type >= 1 ? { accessList: t.accessList ?? [] } : {}),
    ...(type === 3 ? { maxFeePerBlobGas: BigInt(t.maxFeePerBlobGas ?? 0), blobVersionedHashes: t.blobVersionedHashes ?? [] } : {}),
    signature: { r: t.r, s: t.s, v: type === 0 ? Number(t.v) : 27 + Number(t.yParity ?? t.v) },
  });
  return { raw: fromHex(tx.serialized) };
}

/** An L1 block with its transactions as L1 retrieval sees them: signed envelopes. */
export async function l1BlockData(chain: ChainHandle, n: number): Promise<L1BlockData> {
  const b = await chain.send("eth_getBlockByNumber", [`0x${n.toString(16)}`, true]);
  return {
    ...headerRef(b),
    transactions: (b.transactions as RpcTransaction[]).map(signedEnvelope),
  };
}

/** The blobs the batcher posted, by versioned hash: the lab's stand-in for a beacon node's blob sidecars. */
export class BlobStore implements BlobSource {
  private readonly blobs = new Map<string, Uint8Array>();
  put(vh: string, blob: Uint8Array): void {
    this.blobs.set(vh.toLowerCase(), blob);
  }
  getBlob(vh: string): Uint8Array | undefined {
    return this.blobs.get(vh.toLowerCase());
  }
}

export interface PostedTx {
  hash: string;
  da: "calldata" | "blobs";
  blobs: number;
  bytes: number;
}

/** Sends batcher transactions from the batcher key to the batch inbox: calldata, or type-3 with real KZG. */
export class L1Poster {
  private nonce: number | undefined;

  constructor(
    private readonly l1: ChainHandle,
    private readonly batcher: Wallet,
    private readonly inbox: string,
    readonly blobStore: BlobStore,
  ) {}

  /**
   * Hardhat's simulated L1 takes a blob transaction only with automine on and an empty mempool,
   * so each type-3 transaction is mined at once into its own L1 block at `blobBlockTimestamp()`;
   * `onBlobBlock` learns of each such block.
   */
  blobBlockTimestamp: () => number = () => Math.floor(Date.now() / 1000);
  onBlobBlock: () => Promise<void> = async () => {};

  async post(txs: readonly BatcherTx[]): Promise<PostedTx[]> {
    this.nonce ??= await this.l1.provider.getTransactionCount(this.batcher.address, "pending");
    const out: PostedTx[] = [];
    const fees = { maxFeePerGas: 50_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
    for (const t of txs) {
      let signed: string;
      if (t.da === "calldata") {
        // Gas: Prague's calldata floor (10 per token, 4 tokens per non-zero byte) covers the standard cost.
        let tokens = 0;
        for (const b of t.data) tokens += b === 0 ? 1 : 4;
        const tx = Transaction.from({ type: 2, chainId: this.l1.chainId, nonce: this.nonce++, to: this.inbox, data: toHex(t.data), gasLimit: BigInt(21_000 + 10 * tokens + 1_000), ...fees });
        signed = await this.batcher.signTransaction(tx);
        out.push({ hash: "", da: "calldata", blobs: 0, bytes: t.data.length });
      } else {
        const k = await kzg();
        const tx = Transaction.from({ type: 3, chainId: this.l1.chainId, nonce: this.nonce++, to: this.inbox, data: "0x", gasLimit: 21_000n, maxFeePerBlobGas: 10_000_000_000n, ...fees });
        tx.kzg = {
          blobToKzgCommitment: (b: string | Uint8Array) => k.blobToKZGCommitment(typeof b === "string" ? b : toHex(b)),
          computeBlobKzgProof: (b: string | Uint8Array, c: string | Uint8Array) => k.computeBlobKZGProof(typeof b === "string" ? b : toHex(b), typeof c === "string" ? c : toHex(c)),
        } as never;
        tx.blobs = t.blobs.map((b) => toHex(b));
        for (const [i, vh] of (tx.blobVersionedHashes ?? []).entries()) this.blobStore.put(vh, t.blobs[i]!);
        signed = await this.batcher.signTransaction(tx);
        out.push({ hash: "", da: "blobs", blobs: t.blobs.length, bytes: t.datas.reduce((a, d) => a + d.length, 0) });
      }
      if (t.da === "calldata") {
        out[out.length - 1]!.hash = await this.l1.send("eth_sendRawTransaction", [signed]);
        continue;
      }
      await this.l1.send("evm_setNextBlockTimestamp", [this.blobBlockTimestamp()]);
      await this.l1.send("evm_setAutomine", [true]);
      try {
        out[out.length - 1]!.hash = await this.l1.send("eth_sendRawTransaction", [signed]);
      } finally {
        await this.l1.send("evm_setAutomine", [false]);
      }
      await this.onBlobBlock();
    }
    return out;
  }
}

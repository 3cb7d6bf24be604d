// Conformance of the lab's ledger with the OP Stack specification and op-node where the lab used
// to depart: 64-bit span batch fields, channel ids used again before Holocene, senders recovered
// from signatures, Isthmus's set-code transactions in span batches, Jovian's activation block,
// the span-batch transaction table, hex dumps from the decoder, and errors classed by consequence.
import { expect } from "chai";
import { Transaction, Wallet } from "ethers";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import { spanBatchLayout } from "../../../lib/ledger/annotate.js";
import { type Batch, encodeBatch, encodeChannelPayload } from "../../../lib/ledger/batch.js";
import type { L1BlockData, L1Tx } from "../../../lib/ledger/block-refs.js";
import { concatBytes, fromHex, toHex } from "../../../lib/ledger/bytes.js";
import { channelToFrames, compressChannel } from "../../../lib/ledger/channel.js";
import type { PayloadAttributes } from "../../../lib/ledger/derivation/attributes.js";
import { readBatches } from "../../../lib/ledger/derivation/channel-reader.js";
import { DropLog } from "../../../lib/ledger/derivation/drops.js";
import { FrameQueue } from "../../../lib/ledger/derivation/frame-queue.js";
import { newRetrievalStats, parseL1Tx, retrieveBatcherData } from "../../../lib/ledger/derivation/l1-retrieval.js";
import { DerivationPipeline } from "../../../lib/ledger/derivation/pipeline.js";
import { HashEngine } from "../../../lib/ledger/engine.js";
import { consequenceOf, DecodingError, EncodingError, LedgerError, PayloadRefusedError, ResetError } from "../../../lib/ledger/errors.js";
import { encodeBatcherTxData } from "../../../lib/ledger/frame.js";
import { rlpEncode, uintBytes } from "../../../lib/ledger/rlp.js";
import { CHANNEL_BANK_FRAME_OVERHEAD, CHANNEL_VERSION_BROTLI, FRAME_V0_OVERHEAD_SIZE, isForkActivationBlock } from "../../../lib/ledger/rollup-config.js";
import { deriveAll, l1Ref, MemoryL1, simulate } from "../../../lib/ledger/sim.js";
import { decodeSpanBatch, encodeSpanBatch, SPAN_BATCH_TX_TYPES, type SpanBatch, spanBatchFromBlocks, spanBatchTxType } from "../../../lib/ledger/span-batch.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";
import { preHoloceneConfig, resigned, scenario, signedTx, testConfig, txData } from "./helpers.js";

const codec = { genesisTimestamp: 1_700_000_000, blockTime: 2, l2ChainId: 901n };
const senders = devPrivateKeys().slice(0, 6);

/** A signed EIP-7702 set-code transaction for the L2 chain. */
function setCodeTx(nonce: number): Uint8Array {
  const w = new Wallet(senders[5]!);
  const auth = w.authorizeSync({ address: `0x${"ab".repeat(20)}`, nonce: BigInt(nonce + 1), chainId: codec.l2ChainId });
  const tx = Transaction.from({
    type: 4,
    chainId: codec.l2ChainId,
    nonce,
    to: `0x${"cd".repeat(20)}`,
    data: "0x1234",
    gasLimit: 100_000n,
    maxFeePerGas: 10n,
    maxPriorityFeePerGas: 1n,
    authorizationList: [auth],
  });
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  return fromHex(tx.serialized);
}

/** A type-2 transaction whose nonce and gas do not fit a JS number (the signature is a stand-in). */
function hugeNonceTx(nonce: bigint, gas: bigint): Uint8Array {
  const fields = [
    uintBytes(codec.l2ChainId),
    uintBytes(nonce),
    uintBytes(1n),
    uintBytes(2n),
    uintBytes(gas),
    new Uint8Array(20).fill(7),
    uintBytes(5n),
    Uint8Array.of(1, 2),
    [],
    uintBytes(1n),
    new Uint8Array(32).fill(3),
    new Uint8Array(32).fill(4),
  ];
  return concatBytes([Uint8Array.of(2), rlpEncode(fields)]);
}

function relayout(base: readonly L1BlockData[], groups: L1Tx[][]): L1BlockData[] {
  const l1 = new MemoryL1(base[0]!.timestamp);
  l1.blocks.length = 0;
  for (const b of base) l1.blocks.push({ ...b, transactions: [] });
  for (const g of groups) l1.mine(g);
  l1.mine([]);
  return l1.blocks;
}

describe("ledger conformance", () => {
  describe("64-bit span batch fields", () => {
    it("decodes and re-encodes rel_timestamp, l1_origin_num, nonces and gas above 2^53 exactly", () => {
      const l1OriginNum = (1n << 60n) + 5n;
      const start = BigInt(codec.genesisTimestamp) + (1n << 55n);
      const sb: SpanBatch = {
        parentCheck: new Uint8Array(20).fill(1),
        l1OriginCheck: new Uint8Array(20).fill(2),
        originBits: [false, true],
        blocks: [
          { epochNum: l1OriginNum - 1n, timestamp: start, transactions: [hugeNonceTx((1n << 62n) + 1n, (1n << 54n) + 3n)] },
          { epochNum: l1OriginNum, timestamp: start + 2n, transactions: [] },
        ],
      };
      const bytes = encodeSpanBatch(sb, codec);
      const back = decodeSpanBatch(bytes, codec);
      expect(back.blocks.map((b) => [b.epochNum, b.timestamp])).to.deep.equal([
        [l1OriginNum - 1n, start],
        [l1OriginNum, start + 2n],
      ]);
      expect(toHex(back.blocks[0]!.transactions[0]!)).to.equal(toHex(sb.blocks[0]!.transactions[0]!));
      expect(toHex(encodeSpanBatch(back, codec))).to.equal(toHex(bytes));
    });

    it("refuses to encode a field beyond uint64, with its name", () => {
      const sb: SpanBatch = {
        parentCheck: new Uint8Array(20),
        l1OriginCheck: new Uint8Array(20),
        originBits: [false],
        blocks: [{ epochNum: 1n << 64n, timestamp: BigInt(codec.genesisTimestamp), transactions: [] }],
      };
      expectCode(() => encodeSpanBatch(sb, codec), LedgerError, "uvarint/out-of-range", { field: "l1_origin_num", value: 1n << 64n });
    });
  });

  describe("span batch transaction types", () => {
    it("are one table: legacy aside, types 1, 2 and Isthmus's 4", () => {
      expect(SPAN_BATCH_TX_TYPES.map((t) => [t.type, t.fork ?? null])).to.deep.equal([
        [1, null],
        [2, null],
        [4, "isthmus"],
      ]);
      expect(spanBatchTxType(3)).to.equal(undefined);
      const blob = concatBytes([Uint8Array.of(3), rlpEncode([])]);
      expectCode(
        () => encodeSpanBatch(spanBatchFromBlocks([{ parentHash: new Uint8Array(32), epochNum: 1, epochHash: new Uint8Array(32), timestamp: codec.genesisTimestamp, transactions: [blob] }], 1), codec),
        LedgerError,
        "span-batch/unsupported-tx-type",
        { type: 3 },
      );
    });

    it("round-trips EIP-7702 set-code transactions as the Isthmus span-batch layout lays them out", () => {
      const w = new Workload({ seed: 4, chainId: codec.l2ChainId, senderKeys: senders });
      const mixed = [
        ...w
          .setup()
          .slice(0, 3)
          .map((t) => t.raw),
        setCodeTx(0),
        setCodeTx(1),
      ];
      const sb = spanBatchFromBlocks([{ parentHash: new Uint8Array(32).fill(9), epochNum: 7, epochHash: new Uint8Array(32).fill(8), timestamp: codec.genesisTimestamp + 2, transactions: mixed }], 7);
      const bytes = encodeSpanBatch(sb, codec);
      const back = decodeSpanBatch(bytes, codec);
      expect(back.blocks[0]!.transactions.map(toHex)).to.deep.equal(mixed.map(toHex));
      expect(toHex(encodeSpanBatch(back, codec))).to.equal(toHex(bytes));
      // tx_data of a set-code transaction: 0x04 ++ rlp([value, max_priority_fee_per_gas, max_fee_per_gas, data, access_list, authorization_list]).
      const t = Transaction.from(toHex(mixed[3]!));
      const auth = t.authorizationList![0]!;
      const authTuple = [
        uintBytes(auth.chainId),
        fromHex(auth.address),
        uintBytes(auth.nonce),
        uintBytes(auth.signature.yParity),
        uintBytes(BigInt(auth.signature.r)),
        uintBytes(BigInt(auth.signature.s)),
      ];
      const txData = concatBytes([Uint8Array.of(4), rlpEncode([uintBytes(0n), uintBytes(1n), uintBytes(10n), fromHex("0x1234"), [], [authTuple]])]);
      expect(toHex(bytes)).to.contain(toHex(txData).slice(2));
    });

    it("drop a span batch holding a set-code transaction before Isthmus, and derive it after", async () => {
      const w = new Workload({ seed: 12, chainId: codec.l2ChainId, senderKeys: senders });
      const setup = w.setup().map((t) => t.raw);
      const run = async (isthmusTime: number | null) => {
        const cfg = testConfig({ isthmusTime, jovianTime: null });
        const sim = await simulate({
          cfg,
          batcher: { batchType: 1, compression: "zlib", da: "calldata" },
          l2Blocks: 6,
          seed: 3,
          txsForBlock: (i) => (i === 0 ? setup : i === 2 ? [setCodeTx(0)] : []),
        });
        return { sim, p: await deriveAll(cfg, sim.genesis, sim.l1.blocks, sim.l1) };
      };
      const before = await run(null);
      expect(before.p.stats.batchesDropped["transaction type before its fork"]).to.equal(1);
      expect(before.p.safeChain.length).to.equal(1);
      const after = await run(0);
      expect(after.p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(after.sim.sequencer.blocks.map((b) => b.ref.hash));
    });
  });

  describe("Jovian activation block", () => {
    const cfg = testConfig({ jovianTime: codec.genesisTimestamp + 8 }); // L2 block 4
    const w = new Workload({ seed: 13, chainId: codec.l2ChainId, senderKeys: senders });
    const setup = w.setup().map((t) => t.raw);

    it("is the first block at or after jovianTime", () => {
      expect([6, 8, 10].map((d) => isForkActivationBlock(cfg, "jovian", codec.genesisTimestamp + d))).to.deep.equal([false, true, false]);
    });

    it("carries no sequenced transactions, and a batch that gives it some is dropped", async () => {
      const honest = await simulate({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata" }, l2Blocks: 6, seed: 4, txsForBlock: (i) => (i === 0 ? setup : w.take(1).map((t) => t.raw)) });
      expect(honest.sequencer.blocks[3]!.batch.transactions.length).to.equal(0);
      const p = await deriveAll(cfg, honest.genesis, honest.l1.blocks, honest.l1);
      expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(honest.sequencer.blocks.map((b) => b.ref.hash));
      // A sequencer unaware of Jovian fills the activation block.
      const unaware = await simulate({
        cfg: { ...cfg, jovianTime: null },
        batcher: { batchType: 0, compression: "zlib", da: "calldata" },
        l2Blocks: 6,
        seed: 4,
        txsForBlock: (i) => (i === 0 ? setup : w.take(1).map((t) => t.raw)),
      });
      const q = await deriveAll(cfg, unaware.genesis, unaware.l1.blocks, unaware.l1);
      expect(q.stats.batchesDropped["transactions in the Jovian activation block"]).to.equal(1);
      expect(q.safeChain.length - 1).to.equal(3);
    });
  });

  describe("channel ids before Holocene", () => {
    it("may be used again once their channel has been read", async () => {
      const cfg = preHoloceneConfig();
      const run = await scenario({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata" }, l2Blocks: 6, txsPerBlock: 1 });
      const batches: Batch[] = run.sequencer.blocks.map((b) => ({ type: 0, batch: b.batch }));
      const id = new Uint8Array(16).fill(0x42);
      const post = (part: Batch[]) => channelToFrames(id, compressChannel(encodeChannelPayload(part, cfg), "zlib"), 100_000).map((f) => signedTx(encodeBatcherTxData([f]), cfg.batchInboxAddress));
      const blocks = relayout(run.l1.blocks, [post(batches.slice(0, 3)), post(batches.slice(3))]);
      const p = await deriveAll(cfg, run.genesis, blocks, run.l1);
      expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(run.sequencer.blocks.map((b) => b.ref.hash));
      expect(p.channels.stats.channelsReady).to.equal(2);
    });
  });

  describe("L1 retrieval", () => {
    it("recovers each sender from the signature and accepts only the batcher's transactions", async () => {
      const run = await scenario({ batcher: { batchType: 1, compression: "brotli", da: "calldata" }, l2Blocks: 6, txsPerBlock: 2 });
      const intruder = new Wallet(`0x${"aa".repeat(32)}`);
      const batcherTx = run.l1.blocks.flatMap((b) => b.transactions)[0]!;
      expect(parseL1Tx(batcherTx).from).to.equal(new Wallet(devPrivateKeys()[19]!).address);
      // The same data signed by another key; the batcher's signature with s altered (it recovers
      // to some other address); bytes that are no transaction at all.
      const forged = resigned(batcherTx, { signer: intruder });
      const tampered = { raw: Uint8Array.from(batcherTx.raw) };
      tampered.raw[tampered.raw.length - 2]! ^= 0xff;
      const garbage = { raw: Uint8Array.of(2, 0xc0) };
      const p = await deriveAll(run.cfg, run.genesis, relayout(run.l1.blocks, [[forged], [tampered, garbage]]), run.l1);
      expect(p.retrieval).to.include({ batcherTxs: 0, wrongSender: 2, unrecoverable: 1 });
      expect(p.safeChain.length).to.equal(1);
      expect(txData(forged)).to.deep.equal(txData(batcherTx));
    });
  });

  describe("names and dumps", () => {
    it("keeps the frame's 23 wire bytes and the bank's 200 bookkeeping bytes apart", () => {
      expect(FRAME_V0_OVERHEAD_SIZE).to.equal(16 + 2 + 4 + 1);
      expect(encodeBatcherTxData([{ channelId: new Uint8Array(16), frameNumber: 0, data: new Uint8Array(5), isLast: true }]).length).to.equal(1 + FRAME_V0_OVERHEAD_SIZE + 5);
      expect(CHANNEL_BANK_FRAME_OVERHEAD).to.equal(200);
    });

    it("dumps a span batch from the decoder's own field trace, byte for byte and in order", () => {
      const w = new Workload({ seed: 5, chainId: codec.l2ChainId, senderKeys: senders });
      const sb = spanBatchFromBlocks(
        [
          {
            parentHash: new Uint8Array(32),
            epochNum: 3,
            epochHash: new Uint8Array(32),
            timestamp: codec.genesisTimestamp + 4,
            transactions: [
              ...w
                .setup()
                .slice(0, 2)
                .map((t) => t.raw),
              setCodeTx(0),
            ],
          },
        ],
        2,
      );
      const bytes = encodeBatch({ type: 1, batch: sb }, codec);
      const segs = spanBatchLayout(bytes);
      let at = 0;
      for (const s of segs) {
        expect(s.offset, s.field).to.equal(at);
        at += s.length;
      }
      expect(at).to.equal(bytes.length);
      expect(segs.map((s) => s.field.split(" ")[0])).to.deep.equal([
        "batch_version",
        "rel_timestamp",
        "l1_origin_num",
        "parent_check",
        "l1_origin_check",
        "block_count",
        "origin_bits",
        "block_tx_counts",
        "contract_creation_bits",
        "y_parity_bits",
        "tx_sigs",
        "tx_tos",
        "tx_datas",
        "tx_nonces",
        "tx_gases",
        "protected_bits",
      ]);
      expect(segs.find((s) => s.field === "tx_datas")!.value).to.contain("1 type 4");
    });
  });

  describe("errors", () => {
    it("refuse an L1 block that does not extend the chain read so far as a reset, before any state changes", async () => {
      const run = await scenario({ batcher: { batchType: 1, compression: "zlib", da: "calldata" }, l2Blocks: 4, txsPerBlock: 1 });
      const p = await deriveAll(run.cfg, run.genesis, run.l1.blocks.slice(0, 2), run.l1);
      const fork = { ...run.l1.blocks[2]!, parentHash: `0x${"ee".repeat(32)}` };
      const thrown = await expectCodeAsync(p.addL1Block(fork), ResetError, "l1/reorg", { number: fork.number, parentHash: fork.parentHash });
      expect(consequenceOf(thrown)).to.equal("reset");
      expect(p.stats.l1Blocks).to.equal(1);
      await p.addL1Block(run.l1.blocks[2]!); // the canonical block is still taken
      expect(p.stats.l1Blocks).to.equal(2);
    });

    it("are recorded where derivation drops: stage, L1 block, channel and the ledger code", async () => {
      const cfg = testConfig();
      const run = await scenario({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata" }, l2Blocks: 4, txsPerBlock: 1 });
      const batches: Batch[] = run.sequencer.blocks.map((b) => ({ type: 0, batch: b.batch }));
      const id = new Uint8Array(16).fill(0x5a);
      // A channel whose zlib stream is cut after its header (it decompresses to nothing), and a
      // batcher transaction whose only frame lacks its is_last byte.
      const good = compressChannel(encodeChannelPayload(batches, cfg), "zlib");
      const corrupt = Uint8Array.from(good);
      corrupt.fill(0xff, 2, 12);
      const frames = channelToFrames(id, corrupt, 100_000);
      const broken = encodeBatcherTxData(channelToFrames(new Uint8Array(16).fill(1), good, 100_000));
      const blocks = relayout(run.l1.blocks, [frames.map((f) => signedTx(encodeBatcherTxData([f]), cfg.batchInboxAddress)), [signedTx(broken.subarray(0, broken.length - 1), cfg.batchInboxAddress)]]);
      const p = await deriveAll(cfg, run.genesis, blocks, run.l1);
      const corruptAt = blocks.length - 3;
      expect(p.drops.recent).to.deep.include({
        stage: "channel-reader",
        reason: "channel/corrupt",
        l1Block: corruptAt,
        channel: "5a".repeat(16),
        fields: { algorithm: "zlib", reason: "Z_DATA_ERROR" },
      });
      expect(p.drops.recent.find((d) => d.stage === "frame-queue")).to.deep.equal({
        stage: "frame-queue",
        reason: "bytes/truncated",
        l1Block: corruptAt + 1,
        fields: { field: "is_last", need: 1, left: 0 },
      });
      expect(p.drops.counts).to.deep.equal({ "channel/corrupt": 1, "bytes/truncated": 1 });
      expect(p.drops.total).to.equal(p.reader.channelsUndecodable + p.frameQueue.stats.txDataRejected);
    });

    it("propagate what derivation has no drop class for, from every stage that catches", async () => {
      // A defect (an exception of no ledger class) raised inside each parser a stage guards.
      class Defect extends Error {}
      const crashing = (first: number) =>
        new (class extends Uint8Array {
          override subarray(): Uint8Array {
            throw new Defect();
          }
        })([first, 1, 2, 3]);
      const origin = { number: 1, hash: `0x${"11".repeat(32)}`, parentHash: `0x${"00".repeat(32)}`, timestamp: 0 };
      const queue = new FrameQueue(testConfig(), { origin, nextData: () => crashing(0) });
      expect(() => queue.nextFrame()).to.throw(Defect);
      const stats = { channelsUndecodable: 0, batchesDecoded: 0, batchesUndecodable: 0 };
      expect(() => readBatches({ id: "00".repeat(16), data: crashing(CHANNEL_VERSION_BROTLI), inclusion: origin }, codec, stats, new DropLog())).to.throw(Defect);
      const unreadable: L1Tx = {
        get raw(): Uint8Array {
          throw new Defect();
        },
      };
      const block = { ...origin, transactions: [unreadable] };
      expect(() => retrieveBatcherData(block, testConfig(), undefined, newRetrievalStats(), new DropLog())).to.throw(Defect);
      expect(stats.channelsUndecodable, "nothing counted as dropped").to.equal(0);

      // The engine: a refused payload becomes deposit-only and is recorded; a failing engine stops derivation.
      const cfg = testConfig();
      const run = await scenario({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata" }, l2Blocks: 4, txsPerBlock: 1 });
      const engine = (fail: () => never) => {
        const inner = new HashEngine(run.genesis);
        return { execute: async (a: PayloadAttributes) => (a.transactions.length > 0 ? fail() : inner.execute(a)) };
      };
      const refusing = new DerivationPipeline(
        cfg,
        engine(() => {
          throw new PayloadRefusedError("engine/transaction-refused", { index: 0, rpcCode: -32000 });
        }),
        run.genesis,
        [l1Ref(run.l1.blocks[0]!)],
        { blobs: run.l1 },
      );
      for (const b of run.l1.blocks.slice(1)) await refusing.addL1Block(b);
      expect(refusing.stats.depositOnlyFallbacks).to.be.greaterThan(0);
      expect(refusing.drops.counts["engine/transaction-refused"]).to.equal(refusing.stats.depositOnlyFallbacks);
      expect(refusing.safeChain.slice(1).every((b) => refusing.derivedTransactions.get(b.number)!.length === 0)).to.equal(true);
      const failing = new DerivationPipeline(
        cfg,
        engine(() => {
          throw new Defect();
        }),
        run.genesis,
        [l1Ref(run.l1.blocks[0]!)],
        { blobs: run.l1 },
      );
      let thrown: unknown;
      for (const b of run.l1.blocks.slice(1)) await failing.addL1Block(b).catch((e) => (thrown ??= e));
      expect(thrown).to.be.instanceOf(Defect);
    });

    it("refuse to span-batch a transaction that does not parse, as an encoding error", () => {
      const e = expectCode(
        () =>
          encodeSpanBatch(
            spanBatchFromBlocks([{ parentHash: new Uint8Array(32), epochNum: 1, epochHash: new Uint8Array(32), timestamp: codec.genesisTimestamp, transactions: [Uint8Array.of(2, 0x81)] }], 1),
            codec,
          ),
        LedgerError,
        "span-batch/bad-tx-field",
        { field: "transaction" },
      );
      expect(e).to.be.instanceOf(EncodingError);
    });

    it("class decoding errors as drops and encoding errors as fatal, with codes and fields", () => {
      const d = expectCode(() => decodeSpanBatch(new Uint8Array(3), codec), LedgerError, "bytes/truncated", { field: "parent_check", need: 20 });
      expect(d).to.be.instanceOf(DecodingError);
      expect(consequenceOf(d)).to.equal("drop");
      const e = expectCode(() => spanBatchFromBlocks([], 0), LedgerError, "span-batch/empty");
      expect(e).to.be.instanceOf(EncodingError);
      expect(consequenceOf(e)).to.equal("fatal");
      expect(consequenceOf(new Error("anything else"))).to.equal("fatal");
    });
  });
});

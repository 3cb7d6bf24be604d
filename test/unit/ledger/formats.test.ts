import { expect } from "chai";
import { Transaction, Wallet } from "ethers";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import { decodeBatch, encodeBatch, encodeChannelPayload, readChannelBatches, type SingularBatch } from "../../../lib/ledger/batch.js";
import { decodeBitlist, encodeBitlist, encodeUvarint, fromHex, Reader, toHex } from "../../../lib/ledger/bytes.js";
import { channelCompression, channelToFrames, compressChannel, decompressChannel, framesToChannel } from "../../../lib/ledger/channel.js";
import { LedgerError } from "../../../lib/ledger/errors.js";
import { encodeBatcherTxData, encodeFrame, type Frame, parseBatcherTxData, readFrame } from "../../../lib/ledger/frame.js";
import { rlpDecode, rlpEncode } from "../../../lib/ledger/rlp.js";
import { decodeSpanBatch, encodeSpanBatch, spanBatchFromBlocks } from "../../../lib/ledger/span-batch.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { expectCode } from "../expect-code.js";

const codec = { genesisTimestamp: 1_700_000_000, blockTime: 2, l2ChainId: 901n };
const id = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

describe("ledger byte formats", () => {
  describe("frame", () => {
    it("lays out channel_id, frame_number u16, frame_data_length u32, frame_data, is_last", () => {
      const f: Frame = { channelId: id, frameNumber: 0x0102, data: Uint8Array.of(0xaa, 0xbb, 0xcc), isLast: true };
      const enc = encodeFrame(f);
      expect(toHex(enc)).to.equal("0x" + "0102030405060708090a0b0c0d0e0f10" + "0102" + "00000003" + "aabbcc" + "01");
      const back = readFrame(new Reader(enc));
      expect(back.frameNumber).to.equal(0x0102);
      expect(toHex(back.channelId)).to.equal(toHex(id));
      expect(back.isLast).to.equal(true);
    });
    it("round-trips batcher transaction data with several frames", () => {
      const frames = [0, 1, 2].map((n) => ({ channelId: id, frameNumber: n, data: new Uint8Array(n * 10).fill(n), isLast: n === 2 }));
      const data = encodeBatcherTxData(frames);
      expect(data[0]).to.equal(0);
      const back = parseBatcherTxData(data);
      expect(back.map((f) => [f.frameNumber, f.data.length, f.isLast])).to.deep.equal([
        [0, 0, false],
        [1, 10, false],
        [2, 20, true],
      ]);
    });
    it("rejects the whole transaction on a wrong version byte, a bad is_last, truncation or an oversized frame", () => {
      const good = encodeBatcherTxData([{ channelId: id, frameNumber: 0, data: Uint8Array.of(1, 2), isLast: true }]);
      const wrongVersion = Uint8Array.from(good);
      wrongVersion[0] = 1;
      expectCode(() => parseBatcherTxData(wrongVersion), LedgerError, "batcher-tx/unknown-version", { version: 1 });
      const badLast = Uint8Array.from(good);
      badLast[badLast.length - 1] = 2;
      expectCode(() => parseBatcherTxData(badLast), LedgerError, "frame/bad-is-last", { value: 2 });
      expectCode(() => parseBatcherTxData(good.subarray(0, good.length - 1)), LedgerError, "bytes/truncated", { field: "is_last" });
      const oversized = Uint8Array.from(good);
      new DataView(oversized.buffer).setUint32(1 + 18, 1_000_001);
      expectCode(() => parseBatcherTxData(oversized), LedgerError, "frame/too-large", { length: 1_000_001, max: 1_000_000 });
    });
  });

  describe("rlp, uvarint, bitlist", () => {
    it("matches known RLP encodings and refuses non-canonical ones", () => {
      expect(toHex(rlpEncode(new TextEncoder().encode("dog")))).to.equal("0x83646f67");
      expect(toHex(rlpEncode([]))).to.equal("0xc0");
      expect(toHex(rlpEncode(Uint8Array.of(0x0f)))).to.equal("0x0f");
      expect(toHex(rlpEncode(new Uint8Array(56)))).to.match(/^0xb838/);
      expectCode(() => rlpDecode(Uint8Array.of(0x81, 0x05)), LedgerError, "rlp/non-canonical");
      expectCode(() => rlpDecode(Uint8Array.of(0x83, 1)), LedgerError, "rlp/truncated", { length: 3, left: 1 });
    });
    it("encodes protobuf uvarints", () => {
      expect(toHex(encodeUvarint(300))).to.equal("0xac02");
      expect(new Reader(encodeUvarint(2n ** 63n)).uvarint("x")).to.equal(2n ** 63n);
    });
    it("encodes standard bitlists big-endian, left-padded, and refuses stray padding bits", () => {
      const bits = [true, false, false, false, false, false, false, false, true]; // bits 0 and 8
      expect(toHex(encodeBitlist(bits))).to.equal("0x0101");
      expect(decodeBitlist(new Reader(fromHex("0x0101")), 9, "b")).to.deep.equal(bits);
      expectCode(() => decodeBitlist(new Reader(fromHex("0x0201")), 9, "b"), LedgerError, "bitlist/padding-set", { field: "b", count: 9 });
    });
  });

  describe("batches", () => {
    const w = new Workload({ seed: 7, chainId: 901n, senderKeys: devPrivateKeys().slice(0, 6) });
    const setup = w.setup();
    const txs = [...setup, ...w.take(120)];
    const blocks: SingularBatch[] = Array.from({ length: 12 }, (_, i) => ({
      parentHash: fromHex(`0x${(i + 1).toString(16).padStart(2, "0").repeat(32)}`),
      epochNum: 100 + Math.floor((i + 3) / 6),
      epochHash: fromHex(`0x${"ee".repeat(32)}`),
      timestamp: codec.genesisTimestamp + 2 * (i + 1),
      transactions: txs.slice(i * 11, i * 11 + 11).map((t) => t.raw),
    }));

    it("covers every transaction kind of the workload", () => {
      const kinds = new Set(txs.map((t) => t.kind));
      for (const k of ["deploy", "eip1559-transfer", "legacy-transfer", "erc20-transfer", "erc20-approve-2930", "inference-receipt", "attribution-payout"]) {
        expect(kinds.has(k as never), k).to.equal(true);
      }
    });
    it("round-trips a singular batch (version 0)", () => {
      const enc = encodeBatch({ type: 0, batch: blocks[3]! }, codec);
      expect(enc[0]).to.equal(0);
      const back = decodeBatch(enc, codec);
      expect(back.type).to.equal(0);
      expect(back.batch).to.deep.equal(blocks[3]);
    });
    it("round-trips a span batch (version 1) with exact transaction bytes", () => {
      const sb = spanBatchFromBlocks(blocks, 100);
      expect(sb.originBits.filter(Boolean).length).to.equal(2); // epochs 100 -> 101 -> 102
      const enc = encodeSpanBatch(sb, codec);
      const back = decodeSpanBatch(enc, codec);
      expect(back.blocks.map((b) => [b.epochNum, b.timestamp])).to.deep.equal(blocks.map((b) => [BigInt(b.epochNum), BigInt(b.timestamp)]));
      for (const [i, b] of back.blocks.entries()) expect(b.transactions.map(toHex)).to.deep.equal(blocks[i]!.transactions.map(toHex));
      expect(toHex(back.parentCheck)).to.equal(toHex(blocks[0]!.parentHash.subarray(0, 20)));
      expect(toHex(encodeSpanBatch(back, codec))).to.equal(toHex(enc));
    });
    it("keeps the span batch prefix layout: rel_timestamp, l1_origin_num, parent_check, l1_origin_check", () => {
      const sb = spanBatchFromBlocks(blocks.slice(0, 2), 100);
      const enc = encodeSpanBatch(sb, codec);
      const r = new Reader(enc);
      expect(r.uvarint("rel")).to.equal(2n);
      expect(r.uvarint("origin")).to.equal(100n);
      expect(toHex(r.take(20, "p"))).to.equal(toHex(blocks[0]!.parentHash.subarray(0, 20)));
      expect(toHex(r.take(20, "o"))).to.equal(`0x${"ee".repeat(20)}`);
      expect(r.uvarint("block_count")).to.equal(2n);
    });
    it("restores unprotected legacy transactions through protected_bits", () => {
      const wallet = new Wallet(devPrivateKeys()[3]!);
      const tx = Transaction.from({ type: 0, nonce: 5, gasPrice: 10n, gasLimit: 21000n, to: wallet.address, value: 1n, chainId: 0n });
      tx.signature = wallet.signingKey.sign(tx.unsignedHash);
      const raw = fromHex(tx.serialized);
      const sb = spanBatchFromBlocks([{ ...blocks[0]!, transactions: [raw, blocks[0]!.transactions[1]!] }], 100);
      const back = decodeSpanBatch(encodeSpanBatch(sb, codec), codec);
      expect(toHex(back.blocks[0]!.transactions[0]!)).to.equal(toHex(raw));
    });
    it("makes span batches smaller than singular batches for the same blocks", () => {
      const singular = encodeChannelPayload(
        blocks.map((b) => ({ type: 0 as const, batch: b })),
        codec,
      );
      const span = encodeChannelPayload([{ type: 1, batch: spanBatchFromBlocks(blocks, 100) }], codec);
      expect(span.length).to.be.lessThan(singular.length);
      expect(compressChannel(span, "brotli").length).to.be.lessThan(compressChannel(singular, "brotli").length);
    });
    it("rejects unknown batch versions and empty span batches", () => {
      expectCode(() => decodeBatch(Uint8Array.of(2, 0xc0), codec), LedgerError, "batch/unknown-version", { version: 2 });
      const empty = Uint8Array.of(...encodeUvarint(2), ...encodeUvarint(1), ...new Uint8Array(40), 0);
      expectCode(() => decodeSpanBatch(empty, codec), LedgerError, "span-batch/empty");
    });

    it("round-trips channels with zlib and with brotli behind the 0x01 byte", () => {
      const payload = encodeChannelPayload(
        blocks.map((b) => ({ type: 0 as const, batch: b })),
        codec,
      );
      for (const algo of ["zlib", "brotli"] as const) {
        const c = compressChannel(payload, algo);
        expect(channelCompression(c)).to.equal(algo);
        if (algo === "brotli") expect(c[0]).to.equal(1);
        else expect(c[0]! & 0x0f).to.equal(8);
        const back = decompressChannel(c);
        expect(toHex(back)).to.equal(toHex(payload));
        const batches = [...readChannelBatches(back, codec)];
        expect(batches.length).to.equal(12);
        const frames = channelToFrames(id, c, 1000);
        expect(frames.every((f, i) => f.frameNumber === i && f.isLast === (i === frames.length - 1))).to.equal(true);
        expect(frames.every((f) => encodeFrame(f).length <= 1000)).to.equal(true);
        expect(toHex(framesToChannel(frames))).to.equal(toHex(c));
      }
      expectCode(() => channelCompression(Uint8Array.of(0x02)), LedgerError, "channel/unknown-compression", { byte: 2 });
    });
  });
});

// The op-node and kona test cases given as concrete bytes or frame sequences, ported under their
// upstream names (describe = upstream file, it = upstream test and case): frame parsing
// (frame_test.go), channel frame validity (channel_test.go), channel bank (channel_bank_test.go,
// kona's channel_bank.rs), frame queue pruning (frame_queue_test.go, kona's frame_queue.rs),
// channel assembler (channel_assembler_test.go, kona's channel_assembler.rs), span batch limits (span_batch_test.go) and the
// blob encoding (op-service/eth/blob_test.go).
import { expect } from "chai";
import { BYTES_PER_BLOB, decodeBlob, encodeBlob, MAX_BLOB_DATA_SIZE } from "../../../lib/ledger/blob-eip4844.js";
import type { L1BlockRef } from "../../../lib/ledger/block-refs.js";
import { concatBytes, encodeUvarint, Reader } from "../../../lib/ledger/bytes.js";
import { blobBaseFee } from "../../../lib/ledger/chains.js";
import { Channel, ChannelAssembler, ChannelBank, type FrameProvider } from "../../../lib/ledger/derivation/channel-bank.js";
import { FrameQueue, pruneFrameQueue } from "../../../lib/ledger/derivation/frame-queue.js";
import { EOF, NOT_ENOUGH_DATA, type StageSignal } from "../../../lib/ledger/derivation/stage.js";
import { LedgerError } from "../../../lib/ledger/errors.js";
import { channelIdHex, encodeBatcherTxData, encodeFrame, type Frame, parseBatcherTxData, readFrame } from "../../../lib/ledger/frame.js";
import { rlpEncode } from "../../../lib/ledger/rlp.js";
import { CHANNEL_TIMEOUT_GRANITE, MAX_FRAME_LEN } from "../../../lib/ledger/rollup-config.js";
import { decodeSpanBatch } from "../../../lib/ledger/span-batch.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";
import { preHoloceneConfig, testConfig } from "./helpers.js";

const ref = (number: number): L1BlockRef => ({ number, hash: `0x${"11".repeat(32)}`, parentHash: `0x${"22".repeat(32)}`, timestamp: 1_700_000_000 + number * 12 });

/** op-node's channel id from a string: its bytes, zero-padded to 16. */
function strChannelId(s: string): Uint8Array {
  const id = new Uint8Array(16);
  id.set(new TextEncoder().encode(s).subarray(0, 16));
  return id;
}

/** op-node's testFrame format, "<channel>:<frame number>:<content>[!]", "!" marking the last frame. */
function testFrame(tf: string): Frame {
  const [id, n, content] = tf.split(":") as [string, string, string];
  const isLast = content.endsWith("!");
  return { channelId: strChannelId(id), frameNumber: Number(n), data: new TextEncoder().encode(isLast ? content.slice(0, -1) : content), isLast };
}

const show = (f: Frame) => `${new TextDecoder().decode(f.channelId).replace(/\0+$/, "")}:${f.frameNumber}:${new TextDecoder().decode(f.data)}${f.isLast ? "!" : ""}`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** op-node's fakeChannelBankInput: hands out queued frames at a settable origin. */
class FakeFrames implements FrameProvider {
  private frames: Frame[] = [];
  constructor(public origin: L1BlockRef = ref(0)) {}
  add(...tfs: (string | Frame)[]): void {
    this.frames.push(...tfs.map((f) => (typeof f === "string" ? testFrame(f) : f)));
  }
  nextFrame(): Frame | StageSignal {
    return this.frames.shift() ?? EOF;
  }
}

function randomFrame(r: ReturnType<typeof rng>, dataLen?: number): Frame {
  const len = dataLen ?? r.int(2_000);
  return {
    channelId: Uint8Array.from({ length: 16 }, () => r.int(256)),
    frameNumber: r.int(0x10000),
    data: Uint8Array.from({ length: len }, () => r.int(256)),
    isLast: r.next() < 0.5,
  };
}

describe("op-node frame_test.go", () => {
  const r = rng(7).fork("frames");

  it("TestFrameMarshaling", () => {
    for (let i = 0; i < 16; i++) {
      const f = randomFrame(r);
      expect(readFrame(new Reader(encodeFrame(f)))).to.deep.equal(f);
    }
  });

  it("TestFrameUnmarshalNoData", () => {
    expectCode(() => readFrame(new Reader(new Uint8Array(0))), LedgerError, "bytes/truncated", { field: "channel_id" });
  });

  describe("TestFrameUnmarshalTruncated", () => {
    const cases: [string, (d: Uint8Array) => Uint8Array, boolean, string][] = [
      ["truncate-channel_id-half", (d) => d.subarray(0, 8), false, "channel_id"],
      ["truncate-frame_number-full", (d) => d.subarray(0, 16), false, "frame_number"],
      ["truncate-frame_number-half", (d) => d.subarray(0, 17), false, "frame_number"],
      ["truncate-frame_data_length-full", (d) => d.subarray(0, 18), false, "frame_data_length"],
      ["truncate-frame_data_length-half", (d) => d.subarray(0, 20), true, "frame_data_length"],
      ["truncate-frame_data-full", (d) => d.subarray(0, 22), true, "frame_data"],
      ["truncate-frame_data-last-byte", (d) => d.subarray(0, d.length - 2), true, "frame_data"],
      ["truncate-is_last", (d) => d.subarray(0, d.length - 1), true, "is_last"],
    ];
    for (const [desc, truncate, genData, field] of cases) {
      it(desc, () => {
        const f = randomFrame(r, genData ? 1 + r.int(2_000) : 0);
        expectCode(() => readFrame(new Reader(truncate(encodeFrame(f)))), LedgerError, "bytes/truncated", { field });
      });
    }
  });

  it("TestFrameUnmarshalInvalidIsLast", () => {
    const data = encodeFrame(randomFrame(r, 16));
    data[data.length - 1] = 2;
    expectCode(() => readFrame(new Reader(data)), LedgerError, "frame/bad-is-last", { value: 2 });
  });

  it("TestParseFramesNoData", () => {
    expectCode(() => parseBatcherTxData(new Uint8Array(0)), LedgerError, "batcher-tx/empty");
  });

  it("TestParseFramesInvalidVer", () => {
    expectCode(() => parseBatcherTxData(Uint8Array.of(42)), LedgerError, "batcher-tx/unknown-version", { version: 42 });
  });

  it("TestParseFramesOnlyVersion", () => {
    expectCode(() => parseBatcherTxData(Uint8Array.of(0)), LedgerError, "batcher-tx/no-frames");
  });

  it("TestParseFrames", () => {
    const frames = Array.from({ length: 1 + r.int(16) }, () => randomFrame(r));
    expect(parseBatcherTxData(encodeBatcherTxData(frames))).to.deep.equal(frames);
  });

  it("TestParseFramesTruncated", () => {
    const frames = Array.from({ length: 1 + r.int(16) }, () => randomFrame(r));
    const data = encodeBatcherTxData(frames);
    expectCode(() => parseBatcherTxData(data.subarray(0, data.length - 2)), LedgerError, "bytes/truncated");
  });

  it("refuses a frame_data_length over MAX_FRAME_LEN (frame.go)", () => {
    const data = encodeFrame(randomFrame(r, 4));
    new DataView(data.buffer).setUint32(18, MAX_FRAME_LEN + 1);
    expectCode(() => readFrame(new Reader(data)), LedgerError, "frame/too-large", { length: MAX_FRAME_LEN + 1, max: MAX_FRAME_LEN });
  });
});

describe("op-node channel_test.go", () => {
  describe("TestFrameValidity", () => {
    const id = new Uint8Array(16);
    id[0] = 0xff;
    const other = new Uint8Array(16);
    other[0] = 0xee;
    const fr = (frameNumber: number, isLast: boolean, data: string, channelId = id): Frame => ({ channelId, frameNumber, isLast, data: new TextEncoder().encode(data) });
    const cases: [string, Frame[], boolean[], number[]][] = [
      ["wrong channel", [fr(0, false, "", other)], [true], [0]],
      ["double close", [fr(2, true, "four"), fr(1, true, "")], [false, true], [204, 204]],
      ["duplicate frame", [fr(2, false, "four"), fr(2, false, "seven__")], [false, true], [204, 204]],
      ["duplicate closing frames", [fr(2, true, "four"), fr(2, true, "seven__")], [false, true], [204, 204]],
      ["frame past closing", [fr(2, true, "four"), fr(10, false, "seven__")], [false, true], [204, 204]],
      ["prune after close frame", [fr(10, false, "seven__"), fr(2, true, "four")], [false, false], [207, 204]],
      ["multiple valid frames", [fr(10, false, "seven__"), fr(2, false, "four")], [false, false], [207, 411]],
    ];
    for (const [name, frames, shouldErr, sizes] of cases) {
      it(name, () => {
        const ch = new Channel(channelIdHex(id), ref(0), false);
        frames.forEach((f, i) => {
          expect(ch.addFrame(f, ref(0)) !== undefined, `frame ${i} refused`).to.equal(shouldErr[i]);
          expect(ch.size, `size after frame ${i}`).to.equal(sizes[i]);
        });
      });
    }
  });
});

describe("op-node channel_bank_test.go", () => {
  /** Steps the bank as op-node's test does: each call gives NotEnoughData, a channel, or EOF. */
  const step = (cb: ChannelBank) => {
    const out = cb.nextRawChannel();
    return out === NOT_ENOUGH_DATA ? "NotEnoughData" : out === EOF ? "EOF" : text(out.data);
  };

  it("TestChannelBankSimple", () => {
    const input = new FakeFrames();
    input.add("a:0:first", "a:2:third!");
    input.add("a:1:second");
    const cb = new ChannelBank({ channelTimeout: 10, canyonTime: null }, input);
    expect([step(cb), step(cb), step(cb), step(cb), step(cb)]).to.deep.equal(["NotEnoughData", "NotEnoughData", "NotEnoughData", "firstsecondthird", "EOF"]);
  });

  it("TestChannelBankInterleavedPreCanyon", () => {
    const input = new FakeFrames();
    input.add("a:0:first", "b:2:trois!");
    input.add("b:1:deux", "a:2:third!");
    input.add("b:0:premiere");
    input.add("a:1:second");
    const cb = new ChannelBank({ channelTimeout: 10, canyonTime: null }, input);
    const got = Array.from({ length: 9 }, () => step(cb));
    // Channel b completes first, but before Canyon only the channel opened first may be read.
    expect(got).to.deep.equal([...Array(6).fill("NotEnoughData"), "firstsecondthird", "premieredeuxtrois", "EOF"]);
  });

  it("TestChannelBankInterleaved", () => {
    const input = new FakeFrames();
    input.add("a:0:first", "b:2:trois!");
    input.add("b:1:deux", "a:2:third!");
    input.add("b:0:premiere");
    input.add("a:1:second");
    const cb = new ChannelBank({ channelTimeout: 10, canyonTime: 0 }, input);
    const got = Array.from({ length: 9 }, () => step(cb));
    // Canyon: b is read as soon as it is ready, before a:1 is taken in.
    expect(got).to.deep.equal([...Array(5).fill("NotEnoughData"), "premieredeuxtrois", "NotEnoughData", "firstsecondthird", "EOF"]);
  });

  it("TestChannelBankDuplicates", () => {
    const input = new FakeFrames();
    input.add("a:0:first", "a:2:third!");
    input.add("a:0:altfirst", "a:2:altthird!");
    input.add("a:1:second");
    const cb = new ChannelBank({ channelTimeout: 10, canyonTime: null }, input);
    const got = Array.from({ length: 7 }, () => step(cb));
    expect(got).to.deep.equal([...Array(5).fill("NotEnoughData"), "firstsecondthird", "EOF"]);
    expect(cb.stats.framesIgnored).to.equal(2);
  });
});

describe("op-node frame_queue_test.go", () => {
  describe("TestPruneFrameQueue", () => {
    const cases: [string, string[], string[]][] = [
      ["empty", [], []],
      ["one", ["a:2:"], ["a:2:"]],
      ["one-last", ["a:2:!"], ["a:2:!"]],
      ["last-new", ["a:2:!", "b:0:"], ["a:2:!", "b:0:"]],
      ["last-ooo", ["a:2:!", "b:1:"], ["a:2:!"]],
      ["middle-lastooo", ["b:1:", "a:2:!"], ["b:1:"]],
      ["middle-first", ["b:1:", "a:0:"], ["a:0:"]],
      ["last-first", ["b:1:!", "a:0:"], ["b:1:!", "a:0:"]],
      ["last-ooo (same channel)", ["b:1:!", "b:2:"], ["b:1:!"]],
      ["ooo", ["b:1:", "b:3:"], ["b:1:"]],
      ["other-ooo", ["b:1:", "c:3:"], ["b:1:"]],
      ["other-ooo-last", ["b:1:", "c:3:", "b:2:!"], ["b:1:", "b:2:!"]],
      ["ooo-resubmit", ["b:1:", "b:3:!", "b:2:", "b:3:!"], ["b:1:", "b:2:", "b:3:!"]],
      ["first-discards-multiple", ["c:0:", "c:1:", "c:2:", "d:0:", "c:3:!"], ["d:0:"]],
      ["complex", ["b:1:", "b:2:!", "a:0:", "c:1:!", "a:1:", "a:2:!", "c:0:", "c:1:", "d:0:", "c:2:!", "e:0:"], ["b:1:", "b:2:!", "a:0:", "a:1:", "a:2:!", "e:0:"]],
    ];
    for (const [desc, frames, expected] of cases) {
      it(desc, () => {
        expect(pruneFrameQueue(frames.map(testFrame)).map(show)).to.deep.equal(expected);
      });
    }
  });

  describe("TestFrameQueue_NextFrame", () => {
    const inFrames = ["b:1:", "b:2:!", "a:0:", "c:1:!", "a:1:", "a:2:!", "c:0:", "c:1:", "d:0:", "c:2:!", "e:0:"];
    for (const holocene of [false, true]) {
      it(holocene ? "holocene" : "pre-holocene", () => {
        const datas = [encodeBatcherTxData(inFrames.map(testFrame))];
        const source = { origin: ref(0), nextData: () => datas.shift() ?? EOF };
        const fq = new FrameQueue(holocene ? testConfig() : preHoloceneConfig(), source);
        const got: string[] = [];
        for (let i = 0; i <= inFrames.length; i++) {
          const f = fq.nextFrame();
          if (f === EOF) break;
          if (f !== NOT_ENOUGH_DATA) got.push(show(f));
        }
        expect(got).to.deep.equal(holocene ? ["b:1:", "b:2:!", "a:0:", "a:1:", "a:2:!", "e:0:"] : inFrames);
      });
    }
  });
});

describe("op-node channel_assembler_test.go", () => {
  describe("TestChannelStage_NextData", () => {
    const cases: { desc: string; frames: string[][]; expData: string[]; expChId: string[]; maxSize?: number }[] = [
      { desc: "simple", frames: [["a:0:first!"]], expData: ["first"], expChId: [""] },
      { desc: "simple-two", frames: [["a:0:first", "a:1:second!"]], expData: ["firstsecond"], expChId: [""] },
      { desc: "drop-other", frames: [["a:0:first", "b:1:foo"], ["a:1:second", "c:1:bar!"], ["a:2:third!"]], expData: ["", "", "firstsecondthird"], expChId: ["a", "a", ""] },
      { desc: "drop-non-first", frames: [["a:1:foo"]], expData: [""], expChId: [""] },
      { desc: "first-discards", frames: [["b:0:foo"], ["a:0:first!"]], expData: ["", "first"], expChId: ["b", ""] },
      { desc: "already-closed", frames: [["a:0:foo"], ["a:1:bar!", "a:2:baz!"]], expData: ["", "foobar"], expChId: ["a", ""] },
      { desc: "max-size", frames: [["a:0:0123456789!"]], expData: ["0123456789"], expChId: [""], maxSize: 200 + 10 },
      { desc: "oversized", frames: [["a:0:0123456789x!"]], expData: [""], expChId: [""], maxSize: 200 + 10 },
    ];
    for (const tc of cases) {
      it(tc.desc, () => {
        const input = new FakeFrames();
        const cs = new ChannelAssembler({ channelTimeout: CHANNEL_TIMEOUT_GRANITE }, input, tc.maxSize);
        tc.frames.forEach((fs, i) => {
          input.add(...fs);
          const out = cs.nextRawChannel();
          expect(out === EOF || out === NOT_ENOUGH_DATA ? "" : text(out.data), `call ${i}`).to.equal(tc.expData[i]);
          const id = tc.expChId[i]!;
          expect(cs.stagingChannel, `staging after call ${i}`).to.equal(id === "" ? undefined : channelIdHex(strChannelId(id)));
        });
        expect(cs.nextRawChannel()).to.equal(EOF);
      });
    }
  });

  it("TestChannelStage_NextData_Timeout", () => {
    const input = new FakeFrames(ref(0));
    const cs = new ChannelAssembler({ channelTimeout: CHANNEL_TIMEOUT_GRANITE }, input);
    input.add("a:0:foo");
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(channelIdHex(strChannelId("a")));
    input.origin = ref(CHANNEL_TIMEOUT_GRANITE); // close to the timeout
    input.add("a:1:bar");
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(channelIdHex(strChannelId("a")));
    input.origin = ref(CHANNEL_TIMEOUT_GRANITE + 1); // past it
    input.add("a:2:baz!");
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(undefined);
  });
});

describe("op-node span_batch_test.go", () => {
  const codec = { genesisTimestamp: 0, blockTime: 2, l2ChainId: 10n };
  const prefix = concatBytes([encodeUvarint(0), encodeUvarint(0), new Uint8Array(20), new Uint8Array(20)]);
  const MAX_UINT64 = (1n << 64n) - 1n;

  it("TestSpanBatchMaxBlockCount", () => {
    expectCode(() => decodeSpanBatch(concatBytes([prefix, encodeUvarint(MAX_UINT64)]), codec), LedgerError, "uvarint/over-limit", { field: "block_count", value: MAX_UINT64 });
  });

  it("TestSpanBatchMaxBlockTxCount", () => {
    expectCode(() => decodeSpanBatch(concatBytes([prefix, encodeUvarint(1), Uint8Array.of(0), encodeUvarint(MAX_UINT64)]), codec), LedgerError, "uvarint/over-limit", { field: "block_tx_count" });
  });

  it("TestSpanBatchMaxOriginBitsLength", () => {
    // A block count the remaining bytes cannot back: the origin bits are truncated.
    expectCode(() => decodeSpanBatch(concatBytes([prefix, encodeUvarint(9_999_999)]), codec), LedgerError, "bytes/truncated", { field: "origin_bits" });
  });

  it("TestSpanBatchReadTxDataInvalid", () => {
    // tx_datas entry that is an RLP string, not a list.
    const oneTx = concatBytes([
      prefix,
      encodeUvarint(1),
      Uint8Array.of(0),
      encodeUvarint(1),
      Uint8Array.of(0),
      Uint8Array.of(0),
      new Uint8Array(64),
      new Uint8Array(20),
      rlpEncode(new TextEncoder().encode("dummy")),
    ]);
    expectCode(() => decodeSpanBatch(oneTx, codec), LedgerError, "rlp/expected-list", { field: "tx_data" });
  });
});

describe("op-service eth/blob_test.go", () => {
  const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const blobFrom = (prefix: string) => {
    const b = new Uint8Array(BYTES_PER_BLOB);
    b.set(bytes(prefix));
    return b;
  };

  it("TestBlobEncodeDecode", () => {
    for (const c of ["this is a test of blob encoding/decoding", "short", "\x00", "\x00\x01\x00", "\x00".repeat(27), "\x00".repeat(26), "\x00".repeat(25), ""]) {
      expect(decodeBlob(encodeBlob(bytes(c)))).to.deep.equal(bytes(c));
    }
  });

  it("TestSmallBlobEncoding", () => {
    for (const [len, last] of [
      [128, 127],
      [10, 9],
      [27 + 31 * 3, 27 + 31 * 3 - 1],
    ] as const) {
      const data = new Uint8Array(len);
      data[last] = 0xff;
      expect(decodeBlob(encodeBlob(data))).to.deep.equal(data);
    }
  });

  it("TestBigBlobEncoding", () => {
    const r = rng(99);
    const big = Uint8Array.from({ length: MAX_BLOB_DATA_SIZE }, () => r.int(256));
    expect(decodeBlob(encodeBlob(big))).to.deep.equal(big);
    for (let i = 1; i < 256; i++) expect(decodeBlob(encodeBlob(big.subarray(i)))).to.deep.equal(big.subarray(i));
  });

  it("TestInvalidBlobDecoding", () => {
    const b = encodeBlob(bytes("this is a test of invalid blob decoding"));
    b[32] = 0b1000_0000;
    expectCode(() => decodeBlob(b), LedgerError, "blob/bad-field-element", { index: 1 });
    b[32] = 0b0100_0000;
    expectCode(() => decodeBlob(b), LedgerError, "blob/bad-field-element", { index: 1 });
    b[32] = 0;
    b[1] = 0x01; // VersionOffset
    expectCode(() => decodeBlob(b), LedgerError, "blob/unknown-version", { version: 1 });
    b[1] = 0;
    b[2] = 0xff;
    expectCode(() => decodeBlob(b), LedgerError, "blob/length-over-max");
  });

  it("TestTooLongDataEncoding", () => {
    expectCode(() => encodeBlob(new Uint8Array(BYTES_PER_BLOB)), LedgerError, "blob/too-large", { length: BYTES_PER_BLOB, max: MAX_BLOB_DATA_SIZE });
  });

  it("TestDecodeTestVectors", () => {
    const ff = (n: number) => "\xff".repeat(n);
    const ok: [string, string][] = [
      ["", ""],
      ["\x00\x00\x00\x00\x01", "\x00"],
      ["\x00\x00\x01\xFB\xFC", "\x00".repeat(130_044)],
      ["\x00\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff"],
      [`\x00\x00\x00\x00\x1b${ff(27)}`, ff(27)],
      [`\x3f\x00\x00\x00\x20${ff(27)}\x30${ff(4)}`, ff(32)],
    ];
    for (const [input, output] of ok) expect(decodeBlob(blobFrom(input))).to.deep.equal(bytes(output));
    expectCode(() => decodeBlob(blobFrom("\x00\x00\x01\xFB\xFD")), LedgerError, "blob/length-over-max", { length: 130_045 });
  });

  it("TestEncodeTestVectors", () => {
    const ff = (n: number) => "\xff".repeat(n);
    const cases: [string, string][] = [
      ["", ""],
      ["\x00".repeat(MAX_BLOB_DATA_SIZE), "\x00\x00\x01\xfb\xfc"],
      [ff(27), `\x00\x00\x00\x00\x1b${ff(27)}`],
      [ff(28), `\x3f\x00\x00\x00\x1c${ff(27)}\x30`],
    ];
    for (const [input, output] of cases) expect(encodeBlob(bytes(input))).to.deep.equal(blobFrom(output));
    expectCode(() => encodeBlob(new Uint8Array(MAX_BLOB_DATA_SIZE + 1)), LedgerError, "blob/too-large");
  });

  it("TestExtraneousData", () => {
    expectCode(() => decodeBlob(blobFrom("\x30\x00\x00\x00\x00")), LedgerError, "blob/trailing-data");
    expectCode(() => decodeBlob(blobFrom("\x01\x00\x00\x00\x00")), LedgerError, "blob/trailing-data");
    const b = new Uint8Array(BYTES_PER_BLOB);
    let i = 5;
    for (; i < 128; i++) {
      b[i - 1] = 0;
      b[i] = 0x01;
      expectCode(() => decodeBlob(b), LedgerError, "blob/trailing-data");
    }
    for (; i < BYTES_PER_BLOB; i += 7) {
      b[i - 1] = 0;
      b[i] = 1;
      expectCode(() => decodeBlob(b), LedgerError, "blob/trailing-data");
    }
  });

  it("TestCalcBlobFeeCancun", () => {
    expect(blobBaseFee(20n * 3_338_477n, 3_338_477n)).to.equal(485_165_195n);
  });

  it("TestCalcBlobFeeAcrossForksWithFixedExcess (Cancun, Prague)", () => {
    expect(blobBaseFee(40_000_000n, 3_338_477n)).to.equal(159_773n);
    expect(blobBaseFee(40_000_000n)).to.equal(2_944n);
  });
});

/** kona's frame! test macro: a frame of channel [id; 16]. */
const konaFrame = (id: number, frameNumber: number, data: Uint8Array, isLast: boolean): Frame => ({ channelId: new Uint8Array(16).fill(id), frameNumber, data, isLast });
const dd50 = new Uint8Array(50).fill(0xdd);

describe("kona derive stages/frame_queue.rs", () => {
  /** Runs the frame queue over one transaction of `data` and collects what it hands out. */
  const drain = (data: Uint8Array, holocene: boolean) => {
    const datas = [data];
    const fq = new FrameQueue(holocene ? testConfig() : preHoloceneConfig(), { origin: ref(0), nextData: () => datas.shift() ?? EOF });
    const out: (Frame | "NotEnoughData")[] = [];
    for (let f = fq.nextFrame(); f !== EOF; f = fq.nextFrame()) out.push(f === NOT_ENOUGH_DATA ? "NotEnoughData" : f);
    return out;
  };

  it("test_frame_queue_empty_bytes", () => expect(drain(Uint8Array.of(0x00), false)).to.deep.equal(["NotEnoughData"]));
  it("test_frame_queue_wrong_derivation_version", () => expect(drain(Uint8Array.of(0x01), false)).to.deep.equal(["NotEnoughData"]));
  it("test_frame_queue_frame_too_short", () => expect(drain(Uint8Array.of(0x00, 0x01), false)).to.deep.equal(["NotEnoughData"]));

  const cases: [string, boolean, Frame[], number[]][] = [
    ["test_frame_queue_single_frame", false, [konaFrame(0xff, 0, dd50, true)], [0]],
    ["test_frame_queue_multiple_frames", false, [konaFrame(0xff, 0, dd50, false), konaFrame(0xff, 1, dd50, false), konaFrame(0xff, 2, dd50, true)], [0, 1, 2]],
    ["test_holocene_valid_frames", true, [konaFrame(0xff, 0, dd50, false), konaFrame(0xff, 1, dd50, false), konaFrame(0xff, 2, dd50, true)], [0, 1, 2]],
    ["test_holocene_single_frame", true, [konaFrame(0xff, 1, dd50, true)], [0]],
    [
      "test_holocene_unordered_frames",
      true,
      [
        konaFrame(0xee, 0, dd50, false),
        konaFrame(0xee, 1, dd50, false),
        konaFrame(0xee, 2, dd50, true),
        konaFrame(0xee, 3, dd50, false),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [0, 1, 2, 4, 5],
    ],
    ["test_holocene_non_sequential_frames", true, [konaFrame(0xee, 0, dd50, false), konaFrame(0xee, 1, dd50, false), konaFrame(0xee, 3, dd50, true), konaFrame(0xee, 4, dd50, false)], [0, 1]],
    [
      "test_holocene_unclosed_channel",
      true,
      [
        konaFrame(0xee, 0, dd50, false),
        konaFrame(0xee, 1, dd50, false),
        konaFrame(0xee, 2, dd50, false),
        konaFrame(0xee, 3, dd50, false),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [4, 5],
    ],
    [
      "test_holocene_unstarted_channel",
      true,
      [
        konaFrame(0xdd, 0, dd50, false),
        konaFrame(0xdd, 1, dd50, false),
        konaFrame(0xdd, 2, dd50, false),
        konaFrame(0xdd, 3, dd50, true),
        konaFrame(0xee, 1, dd50, false),
        konaFrame(0xee, 2, dd50, true),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [0, 1, 2, 3, 6, 7],
    ],
    [
      "test_holocene_unclosed_channel_with_invalid_start",
      true,
      [
        konaFrame(0xee, 0, dd50, false),
        konaFrame(0xee, 1, dd50, false),
        konaFrame(0xee, 2, dd50, false),
        konaFrame(0xee, 3, dd50, false),
        konaFrame(0xff, 1, dd50, false),
        konaFrame(0xff, 2, dd50, true),
      ],
      [0, 1, 2, 3],
    ],
    [
      "test_holocene_replace_channel",
      true,
      [
        konaFrame(0xdd, 0, dd50, false),
        konaFrame(0xdd, 1, dd50, true),
        konaFrame(0xee, 0, dd50, false),
        konaFrame(0xee, 1, dd50, false),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [0, 1, 4, 5],
    ],
    [
      "test_holocene_interleaved_invalid_channel",
      true,
      [
        konaFrame(0x01, 0, dd50, false),
        konaFrame(0x02, 0, dd50, false),
        konaFrame(0x01, 1, dd50, true),
        konaFrame(0x02, 1, dd50, false),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [4, 5],
    ],
    [
      "test_holocene_interleaved_valid_channel",
      true,
      [
        konaFrame(0x01, 0, dd50, false),
        konaFrame(0x02, 0, dd50, false),
        konaFrame(0x01, 1, dd50, true),
        konaFrame(0x02, 1, dd50, true),
        konaFrame(0xff, 0, dd50, false),
        konaFrame(0xff, 1, dd50, true),
      ],
      [1, 3, 4, 5],
    ],
  ];
  for (const [name, holocene, frames, expected] of cases) {
    it(name, () => {
      expect(drain(encodeBatcherTxData(frames), holocene)).to.deep.equal(expected.map((i) => frames[i]!));
    });
  }
});

describe("kona derive stages/channel/channel_bank.rs", () => {
  const seven = new TextEncoder().encode("seven__");
  const sevenThrice = "736576656e5f5f736576656e5f5f736576656e5f5f";

  for (const [name, canyonTime] of [
    ["test_read_channel_canyon_not_active", null],
    ["test_read_channel_active", 0],
  ] as const) {
    it(name, () => {
      const input = new FakeFrames();
      for (const n of [0, 1, 2]) input.add(konaFrame(0xff, n, seven, n === 2));
      const cb = new ChannelBank({ channelTimeout: CHANNEL_TIMEOUT_GRANITE, canyonTime }, input);
      let out = cb.nextRawChannel();
      while (out === NOT_ENOUGH_DATA) out = cb.nextRawChannel();
      expect(out === EOF ? "EOF" : Buffer.from(out.data).toString("hex")).to.equal(sevenThrice);
    });
  }

  it("test_ingest_invalid_frame", () => {
    const cb = new ChannelBank({ channelTimeout: CHANNEL_TIMEOUT_GRANITE, canyonTime: 0 }, new FakeFrames());
    const frame = konaFrame(0xff, 0, new Uint8Array(0), false);
    cb.ingestFrame(frame);
    expect(cb.queue.length).to.equal(1);
    expect(cb.stats.framesIgnored).to.equal(0);
    cb.ingestFrame(frame); // the same frame again: refused, the size unchanged
    expect(cb.queue.length).to.equal(1);
    expect(cb.stats.framesIgnored).to.equal(1);
  });

  it("test_read_empty_channel_bank", () => {
    const input = new FakeFrames();
    input.add(konaFrame(0xff, 0, dd50, true));
    const cb = new ChannelBank({ channelTimeout: CHANNEL_TIMEOUT_GRANITE, canyonTime: 0 }, input);
    expect(cb.queue.length).to.equal(0);
    expect(cb.nextRawChannel()).to.equal(NOT_ENOUGH_DATA); // nothing to read: the frame is taken in
    expect(cb.queue.length).to.equal(1);
  });

  it("test_channel_timeout", () => {
    const input = new FakeFrames(ref(0));
    input.add(konaFrame(0xff, 0, dd50, false), konaFrame(0xff, 1, dd50, true));
    const cb = new ChannelBank({ channelTimeout: CHANNEL_TIMEOUT_GRANITE, canyonTime: 0 }, input);
    expect(cb.nextRawChannel()).to.equal(NOT_ENOUGH_DATA); // first frame in
    input.origin = ref(CHANNEL_TIMEOUT_GRANITE + 1);
    expect(cb.queue.length).to.equal(1);
    expect(cb.nextRawChannel()).to.equal(NOT_ENOUGH_DATA); // the timed-out channel is removed
    expect(cb.queue.length).to.equal(0);
    expect(cb.stats.channelsTimedOut).to.equal(1);
  });
});

describe("kona derive stages/channel/channel_assembler.rs", () => {
  const assembler = (input: FakeFrames, maxSize?: number) => new ChannelAssembler({ channelTimeout: CHANNEL_TIMEOUT_GRANITE }, input, maxSize);

  it("test_assembler_timed_out", () => {
    const input = new FakeFrames(ref(0));
    const cs = assembler(input);
    input.add(konaFrame(0xff, 0, dd50, false));
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(channelIdHex(new Uint8Array(16).fill(0xff)));
    input.origin = ref(CHANNEL_TIMEOUT_GRANITE + 1);
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(undefined);
    expect(cs.stats.channelsTimedOut).to.equal(1);
  });

  it("test_assembler_non_starting_frame", () => {
    const input = new FakeFrames();
    input.add(konaFrame(0xff, 1, dd50, true));
    const cs = assembler(input);
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(undefined);
  });

  it("test_assembler_already_built", () => {
    const input = new FakeFrames();
    const cs = assembler(input);
    input.add(konaFrame(0xff, 0, dd50, false));
    expect(cs.nextRawChannel()).to.equal(EOF);
    input.add({ ...konaFrame(0xff, 1, dd50, true), channelId: new Uint8Array(16) }); // another channel's id
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(channelIdHex(new Uint8Array(16).fill(0xff)));
    input.add(konaFrame(0xff, 1, dd50, true));
    const out = cs.nextRawChannel();
    expect(out !== EOF && out !== NOT_ENOUGH_DATA && out.data.length).to.equal(100);
    expect(cs.stagingChannel).to.equal(undefined);
  });

  it("test_assembler_size_limit_exceeded_bedrock", () => {
    const input = new FakeFrames();
    const cs = assembler(input, 10_000_000); // MAX_RLP_BYTES_PER_CHANNEL before Fjord
    input.add(konaFrame(0xff, 0, dd50, false), konaFrame(0xff, 1, new Uint8Array(10_000_000), true));
    expect(cs.nextRawChannel()).to.equal(EOF);
    expect(cs.stagingChannel).to.equal(undefined);
    expect(cs.stats.channelsOversized).to.equal(1);
  });
});

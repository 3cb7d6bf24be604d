// Property-based fuzzing of derivation: batcher transactions from a real run are mutated (bit
// flips, truncation, garbage, duplication, reordering, wrong version bytes, forged senders,
// rewritten frame headers), signed again by the batcher (or by an intruder), and fed to a fresh
// pipeline. Derivation must never throw (every error a stage catches is classed, and only a ledger
// drop is absorbed), each drop must be recorded with its reason, and what it derives must still be
// a well-formed chain.
import { expect } from "chai";
import { Wallet } from "ethers";
import fc from "fast-check";
import type { BlobSource, L1BlockData, L1Tx } from "../../../lib/ledger/block-refs.js";
import { parseL1Tx } from "../../../lib/ledger/derivation/l1-retrieval.js";
import { isLedgerErrorCode } from "../../../lib/ledger/errors.js";
import { deriveAll, MemoryL1 } from "../../../lib/ledger/sim.js";
import { preHoloceneConfig, resigned, scenario } from "./helpers.js";

// Each mutated transaction is signed again and its sender recovered (about 2.5 ms of secp256k1
// arithmetic); LEDGER_FUZZ_RUNS=10000 gives a deeper run.
const RUNS = Number(process.env.LEDGER_FUZZ_RUNS ?? 2_500);

type Mutation =
  | { kind: "flip"; tx: number; pos: number; bit: number }
  | { kind: "truncate"; tx: number; keep: number }
  | { kind: "garbage"; at: number; bytes: Uint8Array }
  | { kind: "duplicate"; tx: number }
  | { kind: "swap"; a: number; b: number }
  | { kind: "version"; tx: number; v: number }
  | { kind: "sender"; tx: number }
  | { kind: "length"; tx: number; value: number }
  | { kind: "drop"; tx: number }
  | { kind: "blob"; tx: number; pos: number; xor: number };

const nat = fc.nat({ max: 1 << 20 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), tx: nat, pos: nat, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), tx: nat, keep: nat }),
  fc.record({ kind: fc.constant("garbage" as const), at: nat, bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), tx: nat }),
  fc.record({ kind: fc.constant("swap" as const), a: nat, b: nat }),
  fc.record({ kind: fc.constant("version" as const), tx: nat, v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("sender" as const), tx: nat }),
  fc.record({ kind: fc.constant("length" as const), tx: nat, value: fc.nat() }),
  fc.record({ kind: fc.constant("drop" as const), tx: nat }),
  fc.record({ kind: fc.constant("blob" as const), tx: nat, pos: fc.nat({ max: 131_071 }), xor: fc.integer({ min: 1, max: 255 }) }),
);

/**
 * A batcher transaction being mutated: its data, blob hashes and signer, signed again only when
 * something changed (an unchanged one keeps its original bytes).
 */
interface Draft {
  original: L1Tx;
  data: Uint8Array;
  blobVersionedHashes: string[];
  signer?: Wallet;
  changed: boolean;
}

const INTRUDER = new Wallet(`0x${"de".repeat(32)}`);

function draft(t: L1Tx): Draft {
  const p = parseL1Tx(t);
  return { original: t, data: p.data, blobVersionedHashes: p.blobVersionedHashes, changed: false };
}

function materialize(d: Draft): L1Tx {
  return d.changed ? resigned(d.original, { data: d.data, signer: d.signer }) : d.original;
}

/** Applies a mutation; blob mutations write tampered copies into `blobs` under the original versioned hash. */
function apply(txs: Draft[], m: Mutation, blobs: Map<string, Uint8Array>, source: BlobSource): Draft[] {
  const out = txs.map((t) => ({ ...t }));
  if (out.length === 0) return out;
  const pick = (i: number) => i % out.length;
  const setData = (t: Draft, data: Uint8Array) => {
    t.data = data;
    t.changed = true;
  };
  switch (m.kind) {
    case "flip": {
      const t = out[pick(m.tx)]!;
      if (t.data.length === 0) break;
      const d = Uint8Array.from(t.data);
      d[m.pos % d.length]! ^= 1 << m.bit;
      setData(t, d);
      break;
    }
    case "truncate": {
      const t = out[pick(m.tx)]!;
      setData(t, t.data.subarray(0, m.keep % (t.data.length + 1)));
      break;
    }
    case "garbage":
      out.splice(m.at % (out.length + 1), 0, { ...out[0]!, data: m.bytes, changed: true });
      break;
    case "duplicate":
      out.splice(pick(m.tx), 0, { ...out[pick(m.tx)]! });
      break;
    case "swap": {
      const a = pick(m.a),
        b = pick(m.b);
      [out[a], out[b]] = [out[b]!, out[a]!];
      break;
    }
    case "version": {
      const t = out[pick(m.tx)]!;
      if (t.data.length > 0) {
        const d = Uint8Array.from(t.data);
        d[0] = m.v;
        setData(t, d);
      }
      break;
    }
    case "sender": {
      const t = out[pick(m.tx)]!;
      t.signer = INTRUDER;
      t.changed = true;
      break;
    }
    case "length": {
      // frame_data_length of the first frame sits after version (1) + channel_id (16) + frame_number (2)
      const t = out[pick(m.tx)]!;
      if (t.data.length >= 23) {
        const d = Uint8Array.from(t.data);
        new DataView(d.buffer).setUint32(19, m.value >>> 0);
        setData(t, d);
      }
      break;
    }
    case "drop":
      out.splice(pick(m.tx), 1);
      break;
    case "blob": {
      const t = out[pick(m.tx)]!;
      const vh = t.blobVersionedHashes[0];
      if (!vh) break;
      const blob = Uint8Array.from(blobs.get(vh) ?? source.getBlob(vh)!);
      blob[m.pos]! ^= m.xor;
      blobs.set(vh, blob);
      break;
    }
  }
  return out;
}

describe("derivation fuzz (fast-check)", () => {
  it(`never throws and derives a well-formed chain on ${RUNS} mutated inputs`, async function () {
    this.timeout(300_000);
    // Three small bases: singular/zlib and span/brotli as calldata with several frames per
    // channel, and span/zlib in blobs (whose contents the "blob" mutation tampers with).
    const bases = await Promise.all([
      scenario({ batcher: { batchType: 0, compression: "zlib", da: "calldata", maxChannelInputBytes: 700, maxCalldataFrameSize: 300 }, l2Blocks: 6, txsPerBlock: 1, seed: 5 }),
      scenario({ batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 900, maxCalldataFrameSize: 300 }, l2Blocks: 6, txsPerBlock: 1, seed: 6 }),
      scenario({ batcher: { batchType: 1, compression: "zlib", da: "blobs", maxChannelInputBytes: 900 }, l2Blocks: 6, txsPerBlock: 1, seed: 7 }),
    ]);
    for (const run of bases) {
      const clean = await deriveAll(run.cfg, run.genesis, run.l1.blocks, run.l1);
      expect(clean.safeChain.length).to.equal(run.sequencer.blocks.length + 1);
    }
    const { holoceneTime, isthmusTime, jovianTime } = preHoloceneConfig();
    const preHolocene = { holoceneTime, isthmusTime, jovianTime };
    let mutatedInputs = 0;
    let derivedSome = 0;
    let rejectedSome = 0;
    let badBlobs = 0;
    const reasons = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 2 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat({ max: 3 }), fc.boolean(), async (which, muts, spread, holocene) => {
        const run = bases[which]!;
        const cfg = holocene ? run.cfg : { ...run.cfg, ...preHolocene };
        const tampered = new Map<string, Uint8Array>();
        const blobs: BlobSource = { getBlob: (vh) => tampered.get(vh) ?? run.l1.getBlob(vh) };
        let drafts = run.l1.blocks.flatMap((b) => b.transactions).map(draft);
        for (const m of muts) drafts = apply(drafts, m, tampered, run.l1);
        const txs = drafts.map(materialize);
        mutatedInputs++;
        const l1 = new MemoryL1(run.l1.blocks[0]!.timestamp);
        l1.blocks.length = 0;
        const base = run.l1.blocks.slice(0, -2).map((b) => ({ ...b, transactions: [] as L1Tx[] }));
        l1.blocks.push(...base);
        // spread 0: all in one block; otherwise round-robin over `spread` blocks.
        const groups: L1Tx[][] = Array.from({ length: spread + 1 }, () => []);
        for (const [i, t] of txs.entries()) groups[i % groups.length]!.push(t);
        for (const g of groups) l1.mine(g);
        // Every error a stage catches is classed and only a ledger drop is absorbed, so an
        // exception of any other class (a parser's defect) escapes and fails the property
        // ("propagates what it has no drop class for" in derivation.test.ts shows it would).
        const p = await deriveAll(cfg, run.genesis, l1.blocks as L1BlockData[], blobs);
        const chain = p.safeChain;
        if (chain.length > 1) derivedSome++;
        // Each caught decoding error is in the drop log under its ledger code, as many as the
        // stages counted; every other drop names the rule that refused the input.
        const decodingDrops = Object.entries(p.drops.counts).filter(([reason]) => isLedgerErrorCode(reason));
        const decodingCount = p.frameQueue.stats.txDataRejected + p.reader.channelsUndecodable + p.reader.batchesUndecodable + p.retrieval.unrecoverable + p.retrieval.blobsBadEncoding;
        if (decodingDrops.reduce((n, [, count]) => n + count, 0) !== decodingCount) return false;
        for (const [reason] of decodingDrops) reasons.add(reason);
        if (p.drops.recent.some((d) => d.stage === "channel-reader" && d.channel === undefined)) return false;
        if (p.drops.total > 0) rejectedSome++;
        if (p.retrieval.blobsBadEncoding > 0) badBlobs++;
        for (let i = 1; i < chain.length; i++) {
          const prev = chain[i - 1]!,
            cur = chain[i]!;
          if (cur.parentHash !== prev.hash) return false;
          if (cur.timestamp !== prev.timestamp + run.cfg.blockTime) return false;
          if (cur.l1origin.number < prev.l1origin.number || cur.l1origin.number > prev.l1origin.number + 1) return false;
        }
        return chain.length <= run.sequencer.blocks.length + 1;
      }),
      { numRuns: RUNS, seed: 20261124 },
    );
    expect(mutatedInputs).to.be.at.least(RUNS);
    // The drops name their reasons: malformed frames, channels, batches and blobs all occur.
    for (const code of ["batcher-tx/unknown-version", "channel/corrupt"]) expect([...reasons], code).to.include(code);
    // Which blob check a tampered blob trips first follows op-node's order in ToData; one of them does.
    expect(
      [...reasons].filter((r) => r.startsWith("blob/")),
      "a blob decoding drop",
    ).to.not.be.empty;
    // The mutations exercise both paths: some inputs still derive blocks, most trip a rule.
    expect(derivedSome).to.be.greaterThan(RUNS / 20);
    expect(rejectedSome).to.be.greaterThan(RUNS / 2);
    expect(badBlobs).to.be.greaterThan(RUNS / 100);
  });
});

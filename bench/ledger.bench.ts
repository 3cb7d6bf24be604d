/**
 * Ledger layer throughput: the batcher (batches -> channel -> compression -> frames -> blobs) and
 * the derivation pipeline (blobs -> frames -> channels -> decompression -> batches -> checked L2
 * blocks), in L2 transactions per second, each also as a ratio to Node's own zlib / brotli
 * throughput on the same bytes (the compressor alone is the ceiling). Plus compression ratios.
 * Execution is the pure HashEngine here: these are the rollup's own costs, not the EVM's.
 */
import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync, constants as zc } from "node:zlib";
import { printTable } from "../lib/bench/bench-tables.js";
import { devPrivateKeys, devWallet } from "../lib/chain/keys.js";
import { Batcher, type BatcherTx } from "../lib/ledger/batcher.js";
import { compressChannel } from "../lib/ledger/channel.js";
import { type BlockLike, channelPayload, measureChannel } from "../lib/ledger/channel-measurements.js";
import { runRollup } from "../lib/ledger/rollup.js";
import { defaultRollupConfig } from "../lib/ledger/rollup-config.js";
import { BATCHER_ACCOUNT, deriveAll, simulate } from "../lib/ledger/sim.js";
import { Workload } from "../lib/ledger/workload.js";
import { rng } from "../lib/random.js";

const quick = process.argv.includes("--quick");
const blocksN = quick ? 120 : 400;
const txsPerBlock = 16;
// The simulated L1's batcher transactions are signed by dev account BATCHER_ACCOUNT; derivation
// recovers that sender and accepts only it.
const cfg = defaultRollupConfig({ genesisTimestamp: 1_767_225_600, batcherAddress: devWallet(BATCHER_ACCOUNT).address });

const w = new Workload({ seed: 42, chainId: cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 16) });
const setup = w.setup().map((t) => t.raw);
const txsByBlock = Array.from({ length: blocksN }, (_, i) => (i === 0 ? setup : w.take(txsPerBlock).map((t) => t.raw)));
const l2Txs = txsByBlock.reduce((a, t) => a + t.length, 0);

function best(fn: () => void, repeats = quick ? 2 : 4): number {
  let min = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min / 1000;
}
async function bestAsync(fn: () => Promise<unknown>, repeats = quick ? 2 : 3): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  return min / 1000;
}

const rows: Record<string, string | number>[] = [];
const ratioRows: Record<string, string | number>[] = [];
for (const batchType of [0, 1] as const) {
  for (const compression of ["zlib", "brotli"] as const) {
    const label = `${batchType === 0 ? "singular" : "span"} ${compression}`;
    const opts = { batchType, compression, da: "blobs" as const, maxChannelInputBytes: 400_000 };
    // Sequenced blocks (with HashEngine) to feed the batcher; the batcher alone is timed.
    const run = await simulate({ cfg, batcher: opts, l2Blocks: blocksN, seed: 7, txsForBlock: (i) => txsByBlock[i]! });
    const seq = run.sequencer.blocks;
    const batcherS = best(() => {
      const b = new Batcher(cfg, opts, rng(7).fork("ids"));
      const out: BatcherTx[] = [];
      for (const blk of seq) out.push(...b.addBlock(blk));
      out.push(...b.flush());
    });
    // The same channels' uncompressed payloads, through Node's compressor alone.
    const blocks: BlockLike[] = seq.map((b) => ({ batch: b.batch, parentEpoch: b.ref.sequenceNumber === 0 ? b.batch.epochNum - 1 : b.batch.epochNum }));
    const payloads: Uint8Array[] = [];
    for (const c of run.batcher.channels) payloads.push(channelPayload(blocks.slice(c.firstBlock - 1, c.lastBlock), batchType === 0 ? "singular" : "span", cfg));
    const compressS = best(() => {
      for (const p of payloads) {
        if (compression === "zlib") deflateSync(p, { level: 9 });
        else brotliCompressSync(p, { params: { [zc.BROTLI_PARAM_QUALITY]: 10, [zc.BROTLI_PARAM_LGWIN]: 24, [zc.BROTLI_PARAM_SIZE_HINT]: p.length } });
      }
    });
    const compressed = payloads.map((p) => compressChannel(p, compression));
    const decompressS = best(() => {
      for (const c of compressed) {
        if (compression === "zlib") inflateSync(c);
        else brotliDecompressSync(c.subarray(1));
      }
    });
    const deriveS = await bestAsync(() => deriveAll(cfg, run.genesis, run.l1.blocks, run.l1));
    const check = await deriveAll(cfg, run.genesis, run.l1.blocks, run.l1);
    if (check.safeChain.length !== seq.length + 1) throw new Error(`${label}: derivation incomplete`);
    rows.push({
      format: label,
      "L2 txs": l2Txs,
      "batcher tx/s": l2Txs / batcherS,
      "node compressor alone tx/s": l2Txs / compressS,
      "batcher ÷ compressor": compressS / batcherS,
      "derivation tx/s": l2Txs / deriveS,
      "node decompressor alone tx/s": l2Txs / decompressS,
      "derivation ÷ decompressor": decompressS / deriveS,
    });
    const m = measureChannel(blocks, batchType === 0 ? "singular" : "span", compression, cfg);
    ratioRows.push({ format: label, "channel tx bytes": m.txBytes, "compressed / raw txs": m.ratioVsTxs, "compressed / rlp": m.ratio, "encoding overhead": m.encodingOverhead });
  }
}
printTable(`Batcher and derivation throughput (${l2Txs} L2 txs, blobs, 400 kB channels; ratios: our throughput over Node's zlib/brotli alone on the same channel bytes)`, rows);
printTable("Compression of a full channel", ratioRows);

// On real chains: sequencing on the Hardhat L2 (EVM execution included) and derivation with
// re-execution on a fresh L2, both over the same blobs; the in-memory derivation above is the yardstick.
const chainRun = await runRollup({ seed: 42, l2Blocks: quick ? 30 : 100, txsPerBlock, batcher: { batchType: 1, compression: "brotli", da: "blobs", maxChannelInputBytes: 400_000 } });
const chainTxs = chainRun.generated.length;
const spanBrotli = rows.find((r) => r.format === "span brotli")!;
printTable("On Hardhat chains (span, brotli, blobs with KZG)", [
  {
    stage: "sequencer + batcher + L1 posting",
    "L2 txs": chainTxs,
    "tx/s": chainTxs / chainRun.timings.sequenceS,
    "÷ in-memory batcher": chainTxs / chainRun.timings.sequenceS / (spanBrotli["batcher tx/s"] as number),
  },
  {
    stage: "derivation + re-execution on a fresh L2",
    "L2 txs": chainTxs,
    "tx/s": chainTxs / chainRun.timings.deriveS,
    "÷ in-memory derivation": chainTxs / chainRun.timings.deriveS / (spanBrotli["derivation tx/s"] as number),
  },
]);
await chainRun.close();
const byFormat = Object.fromEntries(ratioRows.map((r) => [r.format, r["compressed / raw txs"] as number]));
printTable("Targets", [
  { target: "brotli full channel ratio in 0.33–0.40", value: byFormat["span brotli"]! },
  { target: "brotli smaller than zlib by 5–15 % (span)", value: 1 - byFormat["span brotli"]! / byFormat["span zlib"]! },
  { target: "brotli smaller than zlib by 5–15 % (singular)", value: 1 - byFormat["singular brotli"]! / byFormat["singular zlib"]! },
  { target: "span / singular < 1 (brotli)", value: byFormat["span brotli"]! / byFormat["singular brotli"]! },
]);

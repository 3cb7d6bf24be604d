/**
 * The platform the layers stand on: TensorFlow.js matmul rate per backend (the yardstick the
 * intelligence and attribution benchmarks divide by) and the in-process chain's settlement rate.
 * Ratios are of numbers measured in this same run.
 */
import * as tf from "@tensorflow/tfjs";
import { id } from "ethers";
import { matmulGflops, printTable } from "../lib/bench/bench-tables.js";
import { connect, deployOrReuse } from "../lib/chain/index.js";
import { selectBackend } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");

const rows: Record<string, string | number>[] = [];
let cpuRate = 0;
for (const backend of ["cpu", "wasm"] as const) {
  await selectBackend({ override: backend });
  const sizes = backend === "cpu" ? [256] : [256, 512, 1024];
  for (const n of sizes) {
    const gflops = await matmulGflops(tf, n, quick ? 2 : 5);
    if (backend === "cpu") cpuRate = gflops;
    rows.push({ backend, "matrix size": n, "GFLOP/s": gflops, "× cpu 256²": gflops / cpuRate });
  }
}
printTable("TensorFlow.js large-matmul rate per backend", rows);

const chain = await connect();
const registry = await deployOrReuse(chain, "ResultsRegistry");
const count = quick ? 20 : 200;
let nonce = await chain.provider.getTransactionCount(chain.signer.address);
const started = performance.now();
for (let i = 0; i < count; i++) {
  const tx = await registry.settle(id(`bench-${Date.now()}-${i}`), id("bench"), id(`r${i}`), ["x"], [BigInt(i)], { nonce: nonce++ });
  await tx.wait();
}
const perSecond = count / ((performance.now() - started) / 1000);
printTable("Settlement on the in-process Hardhat chain", [{ transactions: count, "settlements/s": perSecond, "ms each": 1000 / perSecond }]);
await chain.close();

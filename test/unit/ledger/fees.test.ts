import { expect } from "chai";
import { Interface, Transaction } from "ethers";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import { fromHex, toHex } from "../../../lib/ledger/bytes.js";
import { openChain } from "../../../lib/ledger/chains.js";
import { LedgerError } from "../../../lib/ledger/errors.js";
import { batchL1Gas, calldataTxGas, fjordL1Cost, flzCompress, flzDecompress, GAS_PER_BLOB, OP_MAINNET_SCALARS, operatorFee, operatorFeeFork } from "../../../lib/ledger/fees.js";
import { runRollup } from "../../../lib/ledger/rollup.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { expectCode } from "../expect-code.js";
import { testConfig } from "./helpers.js";

const GAS_PRICE_ORACLE = "0x420000000000000000000000000000000000000F";

describe("fees", function () {
  this.timeout(120_000);
  const w = new Workload({ seed: 9, chainId: 901n, senderKeys: devPrivateKeys().slice(0, 6) });
  const txs = [...w.setup(), ...w.take(60)];

  it("prices calldata with EIP-7623's floor and blobs at 131,072 gas each", () => {
    expect(calldataTxGas(new Uint8Array(100))).to.equal(21_000 + 10 * 100);
    expect(calldataTxGas(new Uint8Array(100).fill(1))).to.equal(21_000 + 10 * 400);
    const g = batchL1Gas([new Uint8Array(10), new Uint8Array(10), new Uint8Array(10)], "blobs", 2);
    expect(g).to.deep.equal({ l1Txs: 2, executionGas: 42_000, blobs: 3, blobGas: 3 * GAS_PER_BLOB });
  });

  it("FastLZ round-trips every workload transaction", () => {
    for (const t of txs) expect(toHex(flzDecompress(flzCompress(t.raw)))).to.equal(toHex(t.raw));
    const zeros = new Uint8Array(1000);
    expect(flzCompress(zeros).length).to.be.lessThan(40);
  });

  it("agrees with the L2's GasPriceOracle.getL1GasUsed byte for byte", async () => {
    const l2 = await openChain("l2", new Date("2026-01-01T00:00:00Z"));
    try {
      const gpo = new Interface(["function getL1GasUsed(bytes) view returns (uint256)"]);
      for (const t of txs.slice(0, 25)) {
        const unsigned = fromHex(Transaction.from(toHex(t.raw)).unsignedSerialized);
        const onchain = BigInt(await l2.send("eth_call", [{ to: GAS_PRICE_ORACLE, data: gpo.encodeFunctionData("getL1GasUsed", [toHex(unsigned)]) }, "latest"]));
        // The oracle adds 68 bytes for the signature that the unsigned transaction lacks.
        const size = BigInt(flzCompress(unsigned).length + 68);
        const est = -42_585_600n + 836_500n * size;
        expect(onchain, t.kind).to.equal(((est > 100_000_000n ? est : 100_000_000n) * 16n) / 1_000_000n);
      }
    } finally {
      await l2.close();
    }
  });

  it("charges the operator fee by Isthmus's formula, then Jovian's, and none before Isthmus", () => {
    const p = { operatorFeeScalar: 1_500_000n, operatorFeeConstant: 7n };
    expect(operatorFee(100_000n, p, "pre-isthmus")).to.equal(0n);
    expect(operatorFee(100_000n, p, "isthmus")).to.equal((100_000n * 1_500_000n) / 1_000_000n + 7n);
    expect(operatorFee(100_000n, p, "jovian")).to.equal(100_000n * 1_500_000n * 100n + 7n);
    const cfg = testConfig({ isthmusTime: 1_000, jovianTime: 2_000 });
    expect([999, 1_000, 1_999, 2_000].map((t) => operatorFeeFork(cfg, t))).to.deep.equal(["pre-isthmus", "isthmus", "isthmus", "jovian"]);
    expectCode(() => operatorFee(1n, { operatorFeeScalar: 1n << 32n, operatorFeeConstant: 0n }, "isthmus"), LedgerError, "fees/operator-fee-params", { field: "operatorFeeScalar" });
  });

  it("agrees with the L2's GasPriceOracle.getOperatorFee (Isthmus) once L1Block holds the parameters", async () => {
    const l2 = await openChain("l2", new Date("2026-01-01T00:00:00Z"));
    try {
      const p = { operatorFeeScalar: 123_456_789n, operatorFeeConstant: 424_242n };
      // L1Block slot 8 packs operatorFeeConstant (uint64, offset 0) and operatorFeeScalar (uint32, offset 8).
      const word = `0x${(p.operatorFeeConstant | (p.operatorFeeScalar << 64n)).toString(16).padStart(64, "0")}`;
      await l2.send("hardhat_setStorageAt", ["0x4200000000000000000000000000000000000015", "0x8", word]);
      const gpo = new Interface(["function getOperatorFee(uint256) view returns (uint256)"]);
      for (const gas of [0n, 21_000n, 1_234_567n]) {
        const onchain = BigInt(await l2.send("eth_call", [{ to: GAS_PRICE_ORACLE, data: gpo.encodeFunctionData("getOperatorFee", [gas]) }, "latest"]));
        expect(onchain, String(gas)).to.equal(operatorFee(gas, p, "isthmus"));
      }
    } finally {
      await l2.close();
    }
  });

  it("predicts the L1 fee the L2 charges in every receipt that reports one", async () => {
    const run = await runRollup({ seed: 8, l2Blocks: 6, txsPerBlock: 6, derive: false, batcher: { batchType: 1, compression: "brotli", da: "calldata" } });
    try {
      let compared = 0;
      for (const t of run.generated) {
        const r = await run.l2.send("eth_getTransactionReceipt", [t.hash]);
        if (r.l1Fee === undefined) continue; // Hardhat omits the L1 fee fields on legacy receipts
        const mine = fjordL1Cost(t.raw, { l1BaseFee: BigInt(r.l1GasPrice), l1BlobBaseFee: BigInt(r.l1BlobBaseFee), ...OP_MAINNET_SCALARS });
        expect(mine.l1GasUsed, t.kind).to.equal(BigInt(r.l1GasUsed));
        expect(mine.l1Fee, t.kind).to.equal(BigInt(r.l1Fee));
        expect(mine.l1Fee > 0n).to.equal(true);
        compared++;
      }
      expect(compared).to.be.greaterThan(run.generated.length * 0.8);
    } finally {
      await run.close();
    }
  });
});

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { connect, devWallet, type LabChain, verifySettlement } from "../../../lib/chain/index.js";
import { describeVerification, resolveRunDir } from "../../../lib/cli/commands/verify.js";
import { LabError } from "../../../lib/errors.js";
import { settle } from "../../../lib/notebook/settle.js";
import { record } from "../../../lib/results.js";
import { startHardhatNode } from "../../helpers/hardhat-node.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

/** Settles a one-value run on `chain` into a fresh folder, with a manifest like ./lab run writes. */
async function settledRun(chain: LabChain): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "lab-verify-"));
  const saved = { ...process.env };
  Object.assign(process.env, { LAB_RUN_DIR: dir, LAB_RUN_ID: `verify-${Math.random()}`, LAB_NOTEBOOK: "verify-test" });
  try {
    record("value", 1);
    const s = await settle({ value: 1 }, { chain });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ resultsSha256: s.resultsSha256, settlement: { txHash: s.txHash } }));
    return dir;
  } finally {
    for (const key of ["LAB_RUN_DIR", "LAB_RUN_ID", "LAB_NOTEBOOK"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

describe("./lab verify: what a check proves", function () {
  this.timeout(180_000);

  it("names the signer, the manifest, and that a development key guards only against accidents", async () => {
    const chain = await connect();
    const dir = await settledRun(chain);
    const v = await verifySettlement(dir, { chain });
    expect(v.signer).to.equal(devWallet(0).address);
    expect(v.developmentKey).to.equal(true);
    expect(v.manifest).to.equal("matches");
    expect(v.onChain).to.equal("matches");
    const lines = describeVerification(v).join("\n");
    expect(lines).to.include(v.signer).and.include("and in manifest.json").and.include("not against someone holding the key");
    const offline = describeVerification(await verifySettlement(dir));
    expect(offline[offline.length - 1]).to.match(/on chain: not checked: the in-process chain ended/);
  });

  it("refuses a manifest that names another hash", async () => {
    const chain = await connect();
    const dir = await settledRun(chain);
    const path = join(dir, "manifest.json");
    writeFileSync(path, readFileSync(path, "utf8").replace(/"resultsSha256":"[0-9a-f]/, '"resultsSha256":"x'));
    await expectCodeAsync(verifySettlement(dir), LabError, "verify/manifest-differs", { runDir: dir });
  });

  it("says that no such run exists for an unknown run id", () => {
    expectCode(() => resolveRunDir("20990101T000000Z-00-tour-beef"), LabError, "verify/no-such-run", { run: "20990101T000000Z-00-tour-beef" });
  });

  it("refuses a folder of the runs folder that is no run (export/, openlora/), naming it", () => {
    const saved = process.env.LAB_RUNS_DIR;
    const runs = mkdtempSync(join(tmpdir(), "lab-verify-runs-"));
    mkdirSync(join(runs, "export"));
    process.env.LAB_RUNS_DIR = runs;
    try {
      expectCode(() => resolveRunDir("export/"), LabError, "verify/not-a-run", { run: "export/" });
    } finally {
      if (saved === undefined) delete process.env.LAB_RUNS_DIR;
      else process.env.LAB_RUNS_DIR = saved;
    }
  });

  it("reports a restarted chain as no longer holding the settlement, not as tampering", async () => {
    let node = await startHardhatNode();
    const port = Number(new URL(node.url).port);
    const chain = await connect({ rpcUrl: node.url });
    const dir = await settledRun(chain);
    expect((await verifySettlement(dir)).onChain).to.equal("matches");
    await chain.close();
    await node.stop();
    const down = await verifySettlement(dir);
    expect(down.onChain).to.match(/^skipped: .* cannot be asked/);
    node = await startHardhatNode(port);
    try {
      // The fresh chain even has a registry at the same address (same deployer, same nonce), without the run.
      const fresh = await connect({ rpcUrl: node.url });
      await settledRun(fresh);
      await fresh.close();
      const v = await verifySettlement(dir);
      expect(v.onChain).to.match(/^skipped: .*no longer holds block \d+ the run settled in/);
      expect(describeVerification(v).join("\n")).to.include("only the signed transaction was checked");
    } finally {
      await node.stop();
    }
  });

  it("tells an own key from a development one", () => {
    expect(
      describeVerification({
        settlement: { runId: "r", notebook: "n", resultsSha256: "h", txHash: "t", chain: { chainId: "1" }, registry: "0x", blockNumber: 1 } as never,
        transactionMatches: true,
        manifest: "absent",
        signer: Wallet.createRandom().address,
        developmentKey: false,
        onChain: "matches",
      }).join("\n"),
    )
      .to.include("only the holder of that signer's key")
      .and.include("no manifest.json");
  });
});

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { connect, type LabChain, verifySettlement } from "../../../lib/chain/index.js";
import { fromRoot } from "../../../lib/files.js";
import { settle } from "../../../lib/notebook/settle.js";
import { record } from "../../../lib/results.js";
import { runAll } from "../../../lib/runner/run-notebooks.js";
import { type HardhatNode, rpc, startHardhatNode } from "../../helpers/hardhat-node.js";

async function settleOnce(chain: LabChain, value: number): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, { LAB_RUN_DIR: mkdtempSync(join(tmpdir(), "lab-nonce-")), LAB_RUN_ID: `nonce-${value}-${Math.random()}`, LAB_NOTEBOOK: "nonce-test" });
  try {
    record("value", value);
    const s = await settle({ value: value }, { chain });
    expect((await verifySettlement(process.env.LAB_RUN_DIR!, { chain })).onChain).to.equal("matches");
    return s.txHash;
  } finally {
    for (const key of ["LAB_RUN_DIR", "LAB_RUN_ID", "LAB_NOTEBOOK"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

// A real `hardhat node` (what `./lab chain` starts), fresh per test: the first settlement on it
// deploys the registry and settles right after, the case a cached nonce count used to break.
describe("nonces on a real hardhat node", function () {
  this.timeout(240_000);
  let node: HardhatNode;
  beforeEach(async () => {
    node = await startHardhatNode();
  });
  afterEach(async () => {
    await node?.stop();
  });

  it("deploys then settles, and settles again, with automining", async () => {
    const chain = await connect({ rpcUrl: node.url });
    expect(chain.local).to.equal(true);
    const first = await settleOnce(chain, 1);
    const second = await settleOnce(chain, 2);
    expect(first).to.not.equal(second);
    await chain.close();
  });

  it("sends back-to-back transactions and settles twice with interval mining", async () => {
    await rpc(node.url, "evm_setAutomine", [false]);
    await rpc(node.url, "evm_setIntervalMining", [400]);
    try {
      const chain = await connect({ rpcUrl: node.url });
      const start = await chain.provider.getTransactionCount(chain.signer.address, "latest");
      const to = chain.wallet(5).address;
      const sent = [await chain.signer.sendTransaction({ to, value: 1n }), await chain.signer.sendTransaction({ to, value: 2n })];
      expect(sent.map((t) => t.nonce)).to.deep.equal([start, start + 1]);
      for (const t of sent) expect((await t.wait())!.status).to.equal(1);
      await settleOnce(chain, 3);
      await settleOnce(chain, 4);
      await chain.close();
    } finally {
      await rpc(node.url, "evm_setIntervalMining", [0]);
      await rpc(node.url, "evm_setAutomine", [true]);
    }
  });

  it("settles two notebooks in a row through ./lab run", async () => {
    const saved = { rpc: process.env.LAB_RPC_URL, dir: process.env.LAB_NOTEBOOKS_DIR };
    process.env.LAB_NOTEBOOKS_DIR = fromRoot("test", "fixtures", "notebooks");
    process.env.LAB_RPC_URL = node.url;
    try {
      const runsDir = join(mkdtempSync(join(tmpdir(), "lab-runs-")), "runs");
      const outcomes = await runAll({ names: ["ok", "ok"], quick: true, sets: {}, cellTimeoutS: 120, runsDir }, () => {});
      for (const o of outcomes) expect(o.ok, o.error).to.equal(true);
      for (const o of outcomes) expect((await verifySettlement(o.runDir!)).onChain).to.equal("matches");
    } finally {
      if (saved.rpc === undefined) delete process.env.LAB_RPC_URL;
      else process.env.LAB_RPC_URL = saved.rpc;
      if (saved.dir === undefined) delete process.env.LAB_NOTEBOOKS_DIR;
      else process.env.LAB_NOTEBOOKS_DIR = saved.dir;
    }
  });
});

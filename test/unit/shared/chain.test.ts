import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import {
  ChainIdMismatchError,
  connect,
  DevKeyRefusedError,
  devPrivateKey,
  type LabChain,
  MissingKeyError,
  ResultsTamperedError,
  RpcUnreachableError,
  SettlementError,
  verifySettlement,
} from "../../../lib/chain/index.js";
import { settle } from "../../../lib/notebook/settle.js";
import { record } from "../../../lib/results.js";
import { rpcEndpoint } from "../../helpers/rpc-endpoint.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

function withRun<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "lab-run-"));
  const saved = { dir: process.env.LAB_RUN_DIR, id: process.env.LAB_RUN_ID, nb: process.env.LAB_NOTEBOOK };
  Object.assign(process.env, { LAB_RUN_DIR: dir, LAB_RUN_ID: `test-${Date.now()}-${Math.random()}`, LAB_NOTEBOOK: "chain-test" });
  return fn(dir).finally(() => {
    for (const [key, value] of [
      ["LAB_RUN_DIR", saved.dir],
      ["LAB_RUN_ID", saved.id],
      ["LAB_NOTEBOOK", saved.nb],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}

describe("chain: connect, settle, verify", () => {
  let chain: LabChain;
  before(async () => {
    chain = await connect();
  });

  it("connects to the in-process Hardhat network as a local development chain", async () => {
    expect(chain.kind).to.equal("in-process");
    expect(chain.chainId).to.equal(31337n);
    expect(chain.local).to.equal(true);
    expect(await chain.provider.getBalance(chain.signer.address)).to.be.greaterThan(0n);
  });

  it("settles a run and verifies it back, against the transaction and the registry", async () => {
    await withRun(async (dir) => {
      record("accuracy", 0.91);
      const s = await settle({ accuracy: 0.91, loss: -1.25 }, { chain });
      expect(s.resultsSha256).to.match(/^[0-9a-f]{64}$/);
      const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
      expect(results.values.keyFigures).to.deep.equal({ accuracy: 0.91, loss: -1.25 });
      const v = await verifySettlement(dir, { chain });
      expect(v.onChain).to.equal("matches");
      const offline = await verifySettlement(dir);
      expect(offline.onChain).to.match(/^skipped/);
      // The registry emitted the event with the scaled figures.
      const receipt = await chain.provider.getTransactionReceipt(s.txHash);
      expect(receipt!.logs).to.have.length(1);
      expect(() => record("late", 1)).to.not.throw();
    });
  });

  it("catches a results.json changed after settlement, and a second settlement of the same run", async () => {
    await withRun(async (dir) => {
      record("accuracy", 0.5);
      await settle({ accuracy: 0.5 }, { chain });
      await expectCodeAsync(settle({ accuracy: 0.5 }, { chain }), SettlementError, "settle/already-settled", { runId: process.env.LAB_RUN_ID });
      const path = join(dir, "results.json");
      writeFileSync(path, readFileSync(path, "utf8").replace("0.5", "0.9"));
      const settled = JSON.parse(readFileSync(join(dir, "settlement.json"), "utf8")).resultsSha256;
      await expectCodeAsync(verifySettlement(dir, { chain }), ResultsTamperedError, "verify/results-changed", { runDir: dir, settled });
    });
  });

  it("refuses non-finite key figures before sending anything", async () => {
    await withRun(async () => {
      await expectCodeAsync(settle({ loss: Number.NaN }, { chain }), SettlementError, "settle/non-finite-figure", { figure: "loss", value: "NaN" });
    });
  });

  describe("over JSON-RPC", () => {
    let fake: { url: string; server: Server };
    before(async () => {
      fake = await rpcEndpoint("public");
    });
    after(() => fake.server.close());

    it("names the fix when the endpoint does not answer", async () => {
      await expectCodeAsync(connect({ rpcUrl: "http://127.0.0.1:1", timeoutMs: 1000 }), RpcUnreachableError, "chain/unreachable", { url: "http://127.0.0.1:1" });
    });

    it("refuses an unexpected chain id", async () => {
      await expectCodeAsync(connect({ rpcUrl: fake.url, expectedChainId: 31337 }), ChainIdMismatchError, "chain/id-mismatch", { url: fake.url, chainId: 1n, expected: 31337n });
    });

    it("refuses Hardhat's development keys on a chain that is not a local development chain", async () => {
      await expectCodeAsync(connect({ rpcUrl: fake.url, privateKey: devPrivateKey(3) }), DevKeyRefusedError, "chain/dev-key-refused", { url: fake.url, chainId: 1n });
      await expectCodeAsync(connect({ rpcUrl: fake.url }), MissingKeyError, "chain/missing-key", { url: fake.url, chainId: 1n });
      const own = Wallet.createRandom().privateKey;
      const c = await connect({ rpcUrl: fake.url, privateKey: own });
      expect(c.local).to.equal(false);
      expectCode(() => c.wallet(1), DevKeyRefusedError, "chain/dev-account-refused");
      await c.close();
    });
  });
});

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { id, makeError, Wallet } from "ethers";
import { ABI_TYPES_FILE, abiTypesSource, contractArtifactFiles } from "../../../lib/chain/abi-types.js";
import type { FunctionArguments, FunctionResult, LabContract } from "../../../lib/chain/contract-types.js";
import { ContractArtifactMissingError, connect, contractAddress, contractAt, deployOrReuse, encodeCall, revertedWith } from "../../../lib/chain/index.js";
import { expectCode } from "../expect-code.js";

describe("typed contract facades from the ABIs", () => {
  it("the generated ABI types are the artifacts' ABIs, one member per compiled contract", () => {
    // Stale types (contracts compiled without ./lab setup) would type-check calls the chain refuses.
    expect(readFileSync(ABI_TYPES_FILE, "utf8") === abiTypesSource(), "lib/chain/contract-abis.generated.ts is stale: run ./lab setup to rewrite it").to.equal(true);
    const names = [...contractArtifactFiles().keys()];
    expect(names).to.include.members(["ResultsRegistry", "DatanetRegistry", "InferenceReceipts", "L2OutputOracle", "EigenDACertVerifier"]);
    for (const name of names) expect(readFileSync(ABI_TYPES_FILE, "utf8")).to.contain(`readonly ${JSON.stringify(name)}: [`);
  });

  it("a misspelt function, a missing argument or an argument of the wrong type fails type-checking", () => {
    // Each `@ts-expect-error` line must fail to type-check, or the type-check reports the directive as unused; never called.
    const refused = (registry: LabContract<"ResultsRegistry">, datanets: LabContract<"DatanetRegistry">) => {
      // @ts-expect-error a function the ABI does not have
      void registry.settel(id("r"), id("n"), id("x"), [], []);
      // @ts-expect-error one argument short (settle takes runId, notebookId, resultsHash, names, values)
      void registry.settle(id("r"), id("n"), id("x"), []);
      // @ts-expect-error a boolean where the ABI has a uint256 sample index
      void datanets.verifySample(id("d"), true, Wallet.createRandom().address, id("s"), []);
      // @ts-expect-error encodeCall checks the function name against the ABI too
      encodeCall(registry, "settel", []);
      const args: FunctionArguments<"ResultsRegistry", "runOf"> = [Wallet.createRandom().address, id("r")];
      // a struct result carries its fields by name, typed by the ABI
      const resultsHash = (run: FunctionResult<"ResultsRegistry", "runOf">): string => run.resultsSha256;
      return { args, resultsHash };
    };
    expect(refused).to.be.a("function");
  });

  it("reads a revert's custom error by the ABI, and rethrows what is not a revert", () => {
    const distributor = contractAt("RewardDistributor", Wallet.createRandom().address);
    const data = distributor.interface.encodeErrorResult("AlreadyClaimed", [3n, Wallet.createRandom().address]);
    const reverted = makeError("execution reverted", "CALL_EXCEPTION", { action: "call", data, reason: null, transaction: { to: null, data: "0x" }, invocation: null, revert: null });
    expect(revertedWith(distributor, reverted)?.name).to.equal("AlreadyClaimed");
    const bare = makeError("execution reverted", "CALL_EXCEPTION", { action: "call", data: "0x", reason: null, transaction: { to: null, data: "0x" }, invocation: null, revert: null });
    expect(revertedWith(distributor, bare)).to.equal(undefined);
    // an endpoint that does not answer is a failure to ask, never a refused claim
    const down = makeError("connect ECONNREFUSED 127.0.0.1:9", "NETWORK_ERROR", { event: "request" });
    expect(() => revertedWith(distributor, down)).to.throw(down.message);
  });

  it("refuses to write types from a folder without artifacts", () => {
    expectCode(() => abiTypesSource(mkdtempSync(join(tmpdir(), "no-artifacts-"))), ContractArtifactMissingError, "chain/artifact-missing");
  });

  it("a facade calls the contract by its ABI: deploy, send, read a struct by field name", async () => {
    const chain = await connect();
    try {
      const registry = await deployOrReuse(chain, "ResultsRegistry");
      const [runId, notebookId, results] = [id(`facade-${Date.now()}`), id("facade-test"), id("results")];
      await (await registry.settle(runId, notebookId, results, ["accuracy"], [900_000n])).wait();
      const run = await registry.runOf(chain.signer.address, runId);
      expect(run.resultsSha256).to.equal(results);
      expect(run.notebookId).to.equal(notebookId);
      // encodeCall is the calldata ethers sends for the same call
      const again = contractAt("ResultsRegistry", contractAddress(registry));
      const call = again.interface.parseTransaction({ data: encodeCall(registry, "runOf", [chain.signer.address, runId]) });
      expect([call?.name, call?.args[1]]).to.deep.equal(["runOf", runId]);
    } finally {
      await chain.close();
    }
  });
});

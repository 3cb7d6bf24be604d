// Stakes and slashing on the loop's L2: contributors stake on proven samples, evidence opens cases,
// a challenge is decided, an unanswered case is slashed once the window has passed.
import { expect } from "chai";
import { getAddress, keccak256, toUtf8Bytes, type Wallet } from "ethers";
import { buildDatanet, exampleDatanetPlan } from "../../../lib/intelligence/datanets.js";
import { LoopError } from "../../../lib/loop/errors.js";
import { L2Ledger } from "../../../lib/loop/l2.js";
import { challengeCase, decideCase, fileEvidence, labelAudit, slashExpired, stakeCase, stakeContributors } from "../../../lib/loop/stakes.js";
import { DEFAULT_STAKE_TERMS, deployLoopContracts, registerDatanets } from "../../../lib/loop/steps.js";
import { expectCode } from "../expect-code.js";

describe("the loop's stakes and slashing", function () {
  this.timeout(180_000);
  const datanet = buildDatanet(exampleDatanetPlan("fmnist-low-contrast", { shift: "low-contrast", scale: 0.01 }));

  it("audits labels: the label flipper's differ from the reference, an honest contributor's do not; a stranger is refused", () => {
    const flipper = datanet.contributors.find((c) => c.kind === "label-flip")!;
    const honest = datanet.contributors.find((c) => c.kind === "iid")!;
    expect(labelAudit(datanet, flipper.address).fraction).to.be.greaterThan(0.5);
    expect(labelAudit(datanet, honest.address)).to.include({ mislabeled: 0 });
    expect(labelAudit(datanet, honest.address).samples).to.equal(honest.samples);
    expectCode(() => labelAudit(datanet, "0x000000000000000000000000000000000000dEaD"), LoopError, "loop/not-a-contributor", { datanet: datanet.name });
  });

  it("stakes, files two cases, dismisses the challenged one and slashes the unanswered one after its window", async () => {
    const l2 = await L2Ledger.open({ seed: 6, batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 6_000 } });
    try {
      const operator = l2.wallet(0);
      const byAddress = new Map<string, Wallet>();
      for (let i = 0; i < 20; i++) byAddress.set(l2.wallet(i).address, l2.wallet(i));
      const walletOf = (a: string) => byAddress.get(getAddress(a))!;
      const { contracts: c } = await deployLoopContracts(l2, operator);
      await registerDatanets(l2, c, [datanet], walletOf);
      await stakeContributors(l2, c, datanet, walletOf, DEFAULT_STAKE_TERMS.minStake);
      const flipper = getAddress(datanet.contributors.find((k) => k.kind === "label-flip")!.address);
      const honest = getAddress(datanet.contributors.find((k) => k.kind === "iid")!.address);
      const evidence = keccak256(toUtf8Bytes("self-influence scores"));
      const { caseIds } = await fileEvidence(l2, c, operator, datanet.id, [flipper, honest], evidence);
      expect(caseIds).to.deep.equal([0n, 1n]);
      await challengeCase(l2, c, walletOf(honest), 1n, keccak256(toUtf8Bytes("my labels")));
      await decideCase(l2, c, operator, 1n, false, keccak256(toUtf8Bytes("audit")));
      const open = await stakeCase(c, 0n);
      expect(open.status).to.equal("Open");
      await l2.passTime(Number(open.deadline));
      await slashExpired(l2, c, l2.wallet(12), [0n]);
      const [slashed, dismissed] = [await stakeCase(c, 0n), await stakeCase(c, 1n)];
      expect(slashed).to.include({ status: "Slashed", slashed: DEFAULT_STAKE_TERMS.minStake, evidenceHash: evidence });
      expect(dismissed).to.include({ status: "Dismissed", decisionHash: keccak256(toUtf8Bytes("audit")) });
      const toReporter = (DEFAULT_STAKE_TERMS.minStake * BigInt(DEFAULT_STAKE_TERMS.reporterShareBps)) / 10_000n;
      expect(await c.distributor.getFunction("rewardPool")()).to.equal(DEFAULT_STAKE_TERMS.minStake - toReporter);
      expect(await c.stakes.getFunction("owed")(operator.address)).to.equal(toReporter);
      expect(await c.stakes.getFunction("stakeOf")(datanet.id, honest)).to.equal(DEFAULT_STAKE_TERMS.minStake);
    } finally {
      await l2.close();
    }
  });
});

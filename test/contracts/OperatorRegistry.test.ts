import { expect } from "chai";
import { type Contract, Wallet } from "ethers";
import { network } from "hardhat";
import { contractAt } from "../../lib/chain/contracts.js";
import { devPrivateKey } from "../../lib/chain/keys.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS } from "../../lib/da/blob-params.js";
import { blsKeyPair, signMessage } from "../../lib/da/bls.js";
import { g1FromAffine, g1ToAffine, g2ToAffine, initBn254, mcl } from "../../lib/da/bn254.js";
import { encodeCert, hashBatchHeaderV2 } from "../../lib/da/certificate.js";
import { Disperser } from "../../lib/da/disperser.js";
import { CERT_STATUS, checkCert, operatorAccount, pubkeyRegistration } from "../../lib/da/l1.js";
import { makeOperators, type Operator } from "../../lib/da/operators.js";
import { insecureSrs } from "../../lib/da/srs.js";
import { rng } from "../../lib/random.js";

const QUORUMS = [0, 1];

describe("OperatorRegistry: keys with a proof of possession", function () {
  this.timeout(300_000);

  async function setup() {
    await initBn254();
    const { ethers } = await network.create();
    const [manager, stranger] = await ethers.getSigners();
    const operators = makeOperators({ count: 4, quorums: QUORUMS, rng: rng(11) });
    // Both registries share the registration ABI; the typed facade of OperatorRegistry serves for both.
    const register = async (registry: Contract, op: Operator) => {
      const r = await pubkeyRegistration(contractAt("OperatorRegistry", await registry.getAddress(), manager), op.key, operatorAccount(op.id));
      const stakes = QUORUMS.map((q) => op.stakes.get(q)!);
      await (await registry.registerOperator(operatorAccount(op.id), r.pubkey, r.pubkeyG2, r.possessionSignature, QUORUMS, stakes)).wait();
    };
    const checked = (await ethers.deployContract("OperatorRegistry", [manager!.address])) as unknown as Contract;
    const unchecked = (await ethers.deployContract("UncheckedOperatorRegistry", [manager!.address])) as unknown as Contract;
    for (const op of operators) {
      await register(checked, op);
      await register(unchecked, op);
    }
    const verifierOver = async (registry: Contract) => {
      const verifier = await ethers.deployContract("EigenDACertVerifier", [
        await registry.getAddress(),
        [[LAB_BLOB_PARAMS.maxNumOperators, LAB_BLOB_PARAMS.numChunks, LAB_BLOB_PARAMS.codingRate]],
        [DEFAULT_SECURITY_THRESHOLDS.confirmationThreshold, DEFAULT_SECURITY_THRESHOLDS.adversaryThreshold],
        Uint8Array.from(QUORUMS),
      ]);
      return contractAt("EigenDACertVerifier", await verifier.getAddress(), manager);
    };
    return { ethers, manager: manager!, stranger: stranger!, operators, checked, unchecked, verifierOver };
  }

  /** The rogue key: the attacker's own key minus every honest key, so the quorum's aggregate becomes the attacker's key alone. */
  function rogueKey(operators: readonly Operator[], attacker: ReturnType<typeof blsKeyPair>) {
    let g1 = attacker.pubkeyG1;
    let g2 = attacker.pubkeyG2;
    for (const op of operators) {
      g1 = mcl.sub(g1, op.key.pubkeyG1);
      g2 = mcl.sub(g2, op.key.pubkeyG2);
    }
    const a1 = g1ToAffine(g1);
    const a2 = g2ToAffine(g2);
    return { pubkey: { X: a1.x, Y: a1.y }, pubkeyG2: { X: a2.x, Y: a2.y } };
  }

  it("attack: a rogue key registered without a proof of possession lets one secret key forge a certificate no honest operator signed; the checked registry refuses the key with InvalidPossessionProof", async () => {
    const { ethers, stranger, operators, checked, unchecked, verifierOver } = await setup();
    const attacker = blsKeyPair(new Uint8Array(32).fill(66));
    const rogue = rogueKey(operators, attacker);

    // Without the check: the rogue key joins both quorums with a token stake.
    await (await unchecked.registerOperatorUnchecked(rogue.pubkey, QUORUMS, [1n, 1n])).wait();
    const apk = await unchecked.quorumApk(0);
    expect([apk.X, apk.Y]).to.deep.equal([g1ToAffine(attacker.pubkeyG1).x, g1ToAffine(attacker.pubkeyG1).y]);

    // A real dispersal gives a well-formed certificate; the attacker replaces its signature with its own alone.
    const disperser = new Disperser({
      srs: await insecureSrs(5, 256),
      operators,
      blobParams: new Map([[0, LAB_BLOB_PARAMS]]),
      thresholds: DEFAULT_SECURITY_THRESHOLDS,
      client: new Wallet(devPrivateKey(5)),
    });
    const d = await disperser.disperse(new TextEncoder().encode("a blob no honest operator signed"), { referenceBlockNumber: (await ethers.provider.getBlockNumber()) - 1 });
    // Signature and G2 key count once per signed quorum, as the verifier sums the quorums' aggregates.
    const forged = { ...d.cert };
    const aggregate = g1ToAffine(attacker.pubkeyG1);
    const signature = signMessage(attacker, hashBatchHeaderV2(d.cert.batchHeader));
    forged.nonSignerStakesAndSignature = {
      nonSignerQuorumBitmapIndices: [],
      nonSignerPubkeys: [],
      quorumApks: QUORUMS.map(() => aggregate),
      apkG2: g2ToAffine(QUORUMS.reduce((acc) => mcl.add(acc, attacker.pubkeyG2), new mcl.G2())),
      sigma: g1ToAffine(QUORUMS.reduce((acc) => mcl.add(acc, signature), new mcl.G1())),
      quorumApkIndices: QUORUMS.map(() => 0),
      totalStakeIndices: QUORUMS.map(() => 0),
      nonSignerStakeIndices: QUORUMS.map(() => []),
    };
    expect((await checkCert(await verifierOver(unchecked), encodeCert(forged))).status).to.equal(CERT_STATUS.SUCCESS);

    // With the check: the attacker cannot sign the registration message with the rogue key's secret (unknown to it).
    const h = await checked.pubkeyRegistrationMessageHash(stranger.address);
    const attempt = g1ToAffine(mcl.mul(g1FromAffine({ x: h.X as bigint, y: h.Y as bigint }), attacker.secretKey));
    await expect(checked.registerOperator(stranger.address, rogue.pubkey, rogue.pubkeyG2, { X: attempt.x, Y: attempt.y }, QUORUMS, [1n, 1n]))
      .to.be.revertedWithCustomError(checked, "InvalidPossessionProof")
      .withArgs(ethers.solidityPackedKeccak256(["uint256", "uint256"], [rogue.pubkey.X, rogue.pubkey.Y]));
    // and the honest quorum's aggregate is what the forged certificate would need to match: it does not
    expect((await checkCert(await verifierOver(checked), encodeCert(forged))).status).to.equal(CERT_STATUS.INVALID_CERT);
  });

  it("refuses a proof made for another operator account, a G2 key of another secret, the zero key, a key of another operator, repeated quorums, zero stakes and non-managers", async () => {
    const { ethers, manager, stranger, checked } = await setup();
    const key = blsKeyPair(new Uint8Array(32).fill(9));
    const other = blsKeyPair(new Uint8Array(32).fill(10));
    const alice = Wallet.createRandom().address;
    const forAlice = await pubkeyRegistration(contractAt("OperatorRegistry", await checked.getAddress(), manager), key, alice);
    const id = ethers.solidityPackedKeccak256(["uint256", "uint256"], [forAlice.pubkey.X, forAlice.pubkey.Y]);
    // the proof names alice: replayed for the manager's own account it fails
    await expect(checked.registerOperator(manager.address, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [5n]))
      .to.be.revertedWithCustomError(checked, "InvalidPossessionProof")
      .withArgs(id);
    const otherG2 = g2ToAffine(other.pubkeyG2);
    await expect(checked.registerOperator(alice, forAlice.pubkey, { X: otherG2.x, Y: otherG2.y }, forAlice.possessionSignature, [0], [5n])).to.be.revertedWithCustomError(
      checked,
      "InvalidPossessionProof",
    );
    await expect(checked.registerOperator(alice, { X: 0n, Y: 0n }, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [5n])).to.be.revertedWithCustomError(checked, "ZeroPubkey");
    await expect((checked.connect(stranger) as Contract).registerOperator(alice, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [5n]))
      .to.be.revertedWithCustomError(checked, "AccessControlUnauthorizedAccount")
      .withArgs(stranger.address, await checked.OPERATOR_MANAGER_ROLE());
    await expect(checked.registerOperator(alice, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0, 1], [5n])).to.be.revertedWithCustomError(checked, "LengthMismatch");
    await expect(checked.registerOperator(alice, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [0n])).to.be.revertedWithCustomError(checked, "ZeroStake");
    await expect(checked.registerOperator(alice, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [5n]))
      .to.emit(checked, "OperatorRegistered")
      .withArgs(id, forAlice.pubkey.X, forAlice.pubkey.Y, [0], [5n]);
    expect(await checked.operatorOf(id)).to.equal(alice);
    await expect(checked.registerOperator(alice, forAlice.pubkey, forAlice.pubkeyG2, forAlice.possessionSignature, [0], [5n]))
      .to.be.revertedWithCustomError(checked, "AlreadyRegistered")
      .withArgs(id, 0);
    // front-running a registration: the same key (and a valid proof) for another account is refused
    const forBob = await pubkeyRegistration(contractAt("OperatorRegistry", await checked.getAddress(), manager), key, stranger.address);
    await expect(checked.registerOperator(stranger.address, forBob.pubkey, forBob.pubkeyG2, forBob.possessionSignature, [1], [5n]))
      .to.be.revertedWithCustomError(checked, "KeyOfAnotherOperator")
      .withArgs(id, alice);
  });
});

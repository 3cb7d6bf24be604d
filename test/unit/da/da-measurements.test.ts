// The steps notebook 02 shows, as library functions: refusals kept by code and fields, the chunk
// layouts, tampered chunks, the operators taken offline, and retrieval at the edge of the threshold.
import { expect } from "chai";
import { Wallet } from "ethers";
import { devPrivateKey } from "../../../lib/chain/keys.js";
import { assignmentsForBlob } from "../../../lib/da/assignment.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS, MAINNET_BLOB_PARAMS } from "../../../lib/da/blob-params.js";
import { initBn254 } from "../../../lib/da/bn254.js";
import { blobLengthForPayload, decodePayload, encodePayload } from "../../../lib/da/codec.js";
import {
  chunkLayouts,
  chunkTamperCaught,
  gasCurve,
  gasForBatch,
  largestOperatorsHolding,
  payloadCorruptions,
  refusalOf,
  refusals,
  retrievalEdge,
  safetyChecks,
  withBehaviour,
} from "../../../lib/da/da-measurements.js";
import { Disperser } from "../../../lib/da/disperser.js";
import { bytesToFieldElements } from "../../../lib/da/field.js";
import { chunkProofs, commitBlob } from "../../../lib/da/kzg-bn254.js";
import { makeOperators, totalStake } from "../../../lib/da/operators.js";
import { encodeChunks } from "../../../lib/da/reed-solomon.js";
import { retrievePayload } from "../../../lib/da/retrieval.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { rng } from "../../../lib/random.js";

const payload = new TextEncoder().encode("OpenLedger batch ".repeat(200));

describe("DA measurements: notebook 02's steps", function () {
  this.timeout(120_000);

  it("keeps each refusal's code and fields, and lets anything that is not a LabError through", async () => {
    const encoded = encodePayload(payload);
    const refused = refusals(payloadCorruptions(encoded), (bytes) => decodePayload(bytes));
    expect(refused.map((r) => [r.input, r.code])).to.deep.equal([
      ["first byte 0x01", "da/payload-bad-header"],
      ["length past the data", "da/payload-length-past-data"],
      ["three words short", "da/payload-not-power-of-two"],
    ]);
    expect(refused[1]!.fields).to.deep.include({ claimed: encoded.length });
    expect(refusals([{ input: "as encoded", value: encoded }], (bytes) => decodePayload(bytes))).to.deep.equal([{ input: "as encoded" }]);
    expect(() => refusals([{ input: "a crash", value: 0 }], () => JSON.parse("{"))).to.throw(SyntaxError);
    expect(await refusalOf(async () => decodePayload(encoded))).to.equal(undefined);
    expect((await refusalOf(async () => decodePayload(encoded.subarray(0, 64))))?.code).to.equal("da/payload-length-past-data");
    let crashed: unknown;
    await refusalOf(async () => JSON.parse("{")).catch((e) => (crashed = e));
    expect(crashed).to.be.instanceOf(SyntaxError);
  });

  it("lays the same blob out under the lab's and mainnet's parameters", () => {
    const blobLength = blobLengthForPayload(payload.length);
    const [lab, mainnet] = chunkLayouts(blobLength, { lab: LAB_BLOB_PARAMS, mainnet: MAINNET_BLOB_PARAMS });
    expect(lab).to.deep.include({ params: "lab", blobLength, chunks: 64 });
    expect(lab!.domainSize).to.equal(lab!.chunkLength * 64);
    expect(lab!.domainSize).to.equal(blobLength * 8);
    expect(lab!.chunksNeeded).to.equal(Math.ceil(blobLength / lab!.chunkLength));
    expect(mainnet).to.deep.include({ params: "mainnet", chunks: 8192 });
    expect(mainnet!.chunksNeeded).to.equal(Math.ceil(blobLength / mainnet!.chunkLength));
  });

  it("checks the security inequality for each named parameter set, and fails one with too many operators", () => {
    const tooMany = { maxNumOperators: 60, numChunks: 64, codingRate: 8 };
    const rows = safetyChecks({ lab: LAB_BLOB_PARAMS, "too many": tooMany }, DEFAULT_SECURITY_THRESHOLDS);
    expect(rows[0]).to.deep.include({ params: "lab", ...LAB_BLOB_PARAMS, holds: true, lhs: 8 * (64 - 16) * 22, rhs: 6400 });
    expect(rows[1]).to.deep.include({ params: "too many", holds: false, lhs: 8 * 4 * 22 });
  });

  it("catches every one-bit change to a chunk by its proof", async () => {
    await initBn254();
    const srs = await insecureSrs(5, 512);
    const coefficients = bytesToFieldElements(encodePayload(payload));
    const { layout, chunks } = encodeChunks(coefficients, LAB_BLOB_PARAMS);
    const commitment = commitBlob(srs, coefficients);
    const proofs = chunkProofs(srs, coefficients, layout);
    const chunk = chunks[3]!;
    expect(chunkTamperCaught(srs, commitment.commitment, layout, chunk, proofs[3]!)).to.deep.equal({ tried: chunk.evaluations.length, caught: chunk.evaluations.length });
  });

  it("takes the largest operators until they hold more than the share, and puts them back to honest", async () => {
    await initBn254();
    const operators = makeOperators({ count: 12, quorums: [0, 1], rng: rng(21) });
    const total = Number(totalStake(operators, 0));
    const heavy = largestOperatorsHolding(operators, 0, 0.5);
    const stake = (o: (typeof operators)[number]) => Number(o.stakes.get(0));
    const held = heavy.reduce((a, o) => a + stake(o), 0);
    expect(held).to.be.greaterThan(0.5 * total);
    expect(held - stake(heavy[heavy.length - 1]!)).to.be.at.most(0.5 * total);
    const rest = operators.filter((o) => !heavy.includes(o));
    expect(Math.max(...rest.map(stake))).to.be.at.most(Math.min(...heavy.map(stake)));
    const during = await withBehaviour(heavy, "offline", () => operators.filter((o) => o.behaviour === "offline").length);
    expect(during).to.equal(heavy.length);
    expect(operators.every((o) => o.behaviour === "honest")).to.equal(true);
  });

  it("retrieves at the edge: refusals with too few chunks, then the blob rebuilt, every operator honest again", async () => {
    await initBn254();
    const srs = await insecureSrs(5, 512);
    const operators = makeOperators({ count: 12, quorums: [0, 1], rng: rng(21) });
    const disperser = new Disperser({ srs, operators, blobParams: new Map([[0, LAB_BLOB_PARAMS]]), thresholds: DEFAULT_SECURITY_THRESHOLDS, client: new Wallet(devPrivateKey(3)) });
    const { cert } = await disperser.disperse(payload, { referenceBlockNumber: 1 });
    const assignment = assignmentsForBlob(operators, LAB_BLOB_PARAMS, [0, 1]);
    const edge = retrievalEdge(operators, assignment, () => retrievePayload(srs, cert, operators, LAB_BLOB_PARAMS));
    expect(edge.payload).to.deep.equal(payload);
    const last = edge.attempts[edge.attempts.length - 1]!;
    expect(last.result).to.equal("rebuilt");
    expect(edge.attempts.length).to.be.greaterThan(1);
    expect(edge.attempts.slice(0, -1).every((a) => a.result === "da/too-few-chunks")).to.equal(true);
    expect(edge.attempts.map((a) => a.operatorsServing)).to.deep.equal(edge.attempts.map((_, i) => i + 1));
    expect(edge.attempts.map((a) => a.q0StakeOnline)).to.deep.equal([...edge.attempts.map((a) => a.q0StakeOnline)].sort((a, b) => a - b));
    expect(operators.every((o) => o.behaviour === "honest")).to.equal(true);
  });

  it("prices the repeated stream at each size it can fill", () => {
    const stream = new Uint8Array(4_000).map((_, i) => (i * 7) % 251);
    const cert = new Uint8Array(300).fill(1);
    const rows = gasCurve(stream, cert, 50_000, [2_000, 10_000, 50_000, 100_000]);
    expect(rows.map((r) => r.batchBytes)).to.deep.equal([2_000, 10_000, 50_000]);
    const repeated = new Uint8Array(10_000);
    for (let at = 0; at < 10_000; at += 4_000) repeated.set(stream.subarray(0, Math.min(4_000, 10_000 - at)), at);
    expect(rows[1]).to.deep.equal(gasForBatch(repeated, cert, 50_000));
  });
});

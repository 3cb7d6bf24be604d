/**
 * Data availability in the EigenDA mould: the disperser's encoding stages (payload codec, NTT
 * Reed–Solomon extension at coding rate 8, KZG commitment with length proof, one opening proof per
 * chunk) in MB of payload per second on one core, the operator's verification time per chunk, and
 * the L1 gas of checking a certificate. Beside each: kzg-wasm (c-kzg-4844) committing and proving
 * the same bytes as EIP-4844 blobs in the same run, the yardstick every ratio divides by. Then the
 * blob version's real parameters (8,192 chunks, coding rate 8): FK20's amortised proofs against
 * per-chunk proofs, the per-chunk figure timed on a sample of its MSMs and scaled to all of them
 * (the unit tests check the two give the same points).
 */
import { Wallet } from "ethers";
import { printTable } from "../lib/bench/bench-tables.js";
import { connect } from "../lib/chain/connect.js";
import { devPrivateKey } from "../lib/chain/keys.js";
import { altDATxData, genericCommitment } from "../lib/da/altda.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS, MAINNET_BLOB_PARAMS } from "../lib/da/blob-params.js";
import { initBn254, msmG1 } from "../lib/da/bn254.js";
import { encodeCert, encodeCertRlp } from "../lib/da/certificate.js";
import { encodePayload } from "../lib/da/codec.js";
import { encodeBlob } from "../lib/da/dispersal-blob.js";
import { Disperser } from "../lib/da/disperser.js";
import { bytesToFieldElements, Fr } from "../lib/da/field.js";
import { fk20ChunkProofs, fk20CommitmentAndProofs, fk20SrsTable } from "../lib/da/fk20.js";
import { chunkProofs, commitBlob, commitG1, commitLength, prepareLengthTables, verifyChunk } from "../lib/da/kzg-bn254.js";
import { checkCert, deployDAContracts } from "../lib/da/l1.js";
import { makeOperators } from "../lib/da/operators.js";
import { payloadToBlob } from "../lib/da/polynomial-form.js";
import { chunkCosetShift, encodeChunks, encodingLayout } from "../lib/da/reed-solomon.js";
import { insecureSrs } from "../lib/da/srs.js";
import { encodeBlobs } from "../lib/ledger/blob-eip4844.js";
import { toHex } from "../lib/ledger/bytes.js";
import { calldataTxGas } from "../lib/ledger/fees.js";
import { kzg } from "../lib/ledger/kzg-eip4844.js";
import { rng } from "../lib/random.js";

const quick = process.argv.includes("--quick");
const blobLength = quick ? 1024 : 4096;
const payloadBytes = (blobLength - 1) * 31;
const r = rng(42);
const payload = Uint8Array.from({ length: payloadBytes }, () => r.int(256));
const MB = payloadBytes / 1e6;

/** Best of `repeats` wall times in ms (one warm-up for cheap stages). */
function best(fn: () => unknown, repeats: number, warm = true): number {
  if (warm) fn();
  let min = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

await initBn254();
const srs = await insecureSrs(1, blobLength);
const k = await kzg();

// EIP-4844 on the same bytes: OP Stack blob encoding, commitment and proof per blob.
const blobs = encodeBlobs(payload).map((b) => toHex(b));
const kzgCommitMs = best(() => blobs.map((b) => k.blobToKZGCommitment(b)), quick ? 2 : 3);
const commitments = blobs.map((b) => k.blobToKZGCommitment(b));
const kzgProveMs = best(() => blobs.map((b, i) => k.computeBlobKZGProof(b, commitments[i]!)), quick ? 2 : 3);
const kzgProofs = blobs.map((b, i) => k.computeBlobKZGProof(b, commitments[i]!));
const kzgVerifyMs = best(() => blobs.map((b, i) => k.verifyBlobKZGProof(b, commitments[i]!, kzgProofs[i]!)), quick ? 2 : 3) / blobs.length;
const kzgTotalMs = kzgCommitMs + kzgProveMs;

// EigenDA's stages.
const codecMs = best(() => bytesToFieldElements(encodePayload(payload)), 5);
const coefficients = bytesToFieldElements(encodePayload(payload));
const nttMs = best(() => encodeChunks(coefficients, LAB_BLOB_PARAMS), quick ? 3 : 2);
const { layout, chunks } = encodeChunks(coefficients, LAB_BLOB_PARAMS);
const g1Ms = best(() => commitG1(srs, coefficients), 3);
const commitMs = best(() => commitBlob(srs, coefficients), quick ? 2 : 1);
const lengthMs = best(() => commitLength(srs, coefficients), 1, false);
const commitment = commitBlob(srs, coefficients);
const proofsMs = best(() => chunkProofs(srs, coefficients, layout), 1, false);
const proofs = chunkProofs(srs, coefficients, layout);
// The SRS tables, once per SRS and shape (EigenDA downloads them): the G1 FFTs and each position's fixed-base table.
const fk20TablesStarted = performance.now();
fk20SrsTable(srs, coefficients.length, layout.chunkLength);
const fk20TablesMs = performance.now() - fk20TablesStarted;
const fk20Ms = best(() => fk20CommitmentAndProofs(srs, coefficients, layout), 1, false);
// The G2 bases' fixed-base tables, once per SRS and blob length (as a disperser encoding many blobs keeps them).
const started = performance.now();
prepareLengthTables(srs, coefficients.length);
const lengthTablesMs = performance.now() - started;
const lengthFixedMs = best(() => commitLength(srs, coefficients), 1, false);
// encodeBlob itself, timed whole: codec, NTT, FK20 (proofs and the G1 commitment), G2 length commitment and proof (tables prepared).
const encodeBlobMs = best(() => encodeBlob(srs, payload, LAB_BLOB_PARAMS, undefined, "coefficient"), 1, false);
const verifyMs = best(() => chunks.slice(0, 16).map((c) => verifyChunk(srs, commitment.commitment, layout, c, proofs[c.index]!)), 2) / 16;

const stage = (name: string, ms: number) => ({ stage: name, ms: +ms.toFixed(1), "MB/s (1 core)": +(MB / (ms / 1000)).toFixed(3), "× kzg-wasm commit+proof time": +(ms / kzgTotalMs).toFixed(2) });
printTable(
  `EigenDA encoding of a ${payloadBytes.toLocaleString()}-byte payload (blob of ${blobLength} field elements, ${LAB_BLOB_PARAMS.numChunks} chunks of ${layout.chunkLength}), beside kzg-wasm on the same bytes as ${blobs.length} EIP-4844 blob(s)`,
  [
    stage("payload codec (encode + to field elements)", codecMs),
    stage("Reed–Solomon: NTT over 8x domain, cut into chunks", nttMs),
    stage("KZG G1 commitment (MSM)", g1Ms),
    stage("G2 length commitment + length proof (2 MSMs)", lengthMs),
    stage("the same, fixed-base tables prepared", lengthFixedMs),
    stage("G2 fixed-base tables (once per SRS and blob length)", lengthTablesMs),
    stage("blob commitment: G1 + G2 length commitment + length proof", commitMs),
    stage(`chunk proofs (${LAB_BLOB_PARAMS.numChunks}, from ${Math.ceil(blobLength / layout.chunkLength) - 1} shared MSMs)`, proofsMs),
    stage(`chunk proofs (${LAB_BLOB_PARAMS.numChunks}, FK20, SRS tables precomputed) and the G1 commitment from the same product`, fk20Ms),
    stage("FK20 SRS tables (once per SRS and blob shape)", fk20TablesMs),
    stage("all of the above, per-chunk proofs", codecMs + nttMs + commitMs + proofsMs),
    stage("codec + NTT + FK20 (proofs, G1 commitment) + G2 length commitment and proof (tables prepared): the stages' sum", codecMs + nttMs + fk20Ms + lengthFixedMs),
    stage("encodeBlob, timed whole (the same stages)", encodeBlobMs),
    stage("kzg-wasm: commitment per blob", kzgCommitMs),
    stage("kzg-wasm: blob proof per blob", kzgProveMs),
  ],
);

printTable("Verification", [
  { check: `EigenDA chunk proof (${layout.chunkLength} points, 2 Miller loops)`, "ms each": +verifyMs.toFixed(2), "× kzg-wasm blob-proof verification": +(verifyMs / kzgVerifyMs).toFixed(2) },
  { check: "kzg-wasm EIP-4844 blob proof", "ms each": +kzgVerifyMs.toFixed(2), "× kzg-wasm blob-proof verification": 1 },
]);

// The blob version's real parameters: 8,192 chunks at coding rate 8 for this blob.
{
  const params = MAINNET_BLOB_PARAMS;
  const blob = payloadToBlob(payload);
  const mainLayout = encodingLayout(blob.length, params);
  let t = performance.now();
  fk20SrsTable(srs, blob.length, mainLayout.chunkLength);
  const tableMs = performance.now() - t;
  t = performance.now();
  const fk = fk20ChunkProofs(srs, blob, mainLayout);
  const fkMs = performance.now() - t;
  // Per-chunk proofs (chunkProofs): T - 1 shared MSMs H_t of m - tL points, then one (T - 1)-point
  // MSM per chunk. Both are timed on a sample (every stride-th H_t, `sample` proofs) and scaled:
  // an MSM's time depends on its size, not on the values.
  const L = mainLayout.chunkLength;
  const rows = blob.length / L;
  const stride = quick ? 64 : 32;
  t = performance.now();
  for (let s = 1; s < rows; s += stride) msmG1(srs.g1, blob.slice(s * L));
  const sharedMs = (performance.now() - t) * stride;
  const sample = quick ? 16 : 64;
  const points = srs.g1.slice(0, rows - 1);
  t = performance.now();
  for (let j = 0; j < sample; j++) {
    const c = Fr.pow(chunkCosetShift(mainLayout, j), BigInt(L));
    const powers: bigint[] = [];
    for (let k = 0, v = 1n; k < rows - 1; k++, v = Fr.mul(v, c)) powers.push(v);
    msmG1(points, powers);
  }
  const perProofMs = (performance.now() - t) / sample;
  const perChunkMs = sharedMs + perProofMs * mainLayout.numChunks;
  if (fk.length !== mainLayout.numChunks) throw new Error("FK20 returned the wrong number of proofs");
  printTable(`All ${mainLayout.numChunks.toLocaleString()} chunk proofs of the same blob (${blob.length} field elements, chunks of ${L}): FK20 against per-chunk proofs`, [
    {
      method: `per-chunk: ${rows - 1} shared MSMs (1 in ${stride} timed), then one ${rows - 1}-point MSM per chunk (${sample} timed, scaled to ${mainLayout.numChunks})`,
      ms: Math.round(perChunkMs),
      "× FK20": +(perChunkMs / fkMs).toFixed(1),
    },
    { method: "FK20 (SRS tables precomputed)", ms: Math.round(fkMs), "× FK20": 1 },
    { method: "FK20 SRS tables (once per SRS and blob shape)", ms: Math.round(tableMs), "× FK20": +(tableMs / fkMs).toFixed(1) },
  ]);
}

// L1: a certificate from 12 operators (one non-signer), checked by EigenDACertVerifier on Hardhat.
const chain = await connect({ network: "default" });
const operators = makeOperators({ count: 12, quorums: [0, 1], rng: rng(7) });
const contracts = await deployDAContracts(chain.signer, { operators, quorums: [0, 1], blobParams: [LAB_BLOB_PARAMS], thresholds: DEFAULT_SECURITY_THRESHOLDS, quorumNumbersRequired: [0, 1] });
const small = await insecureSrs(1, 256);
const disperser = new Disperser({ srs: small, operators, blobParams: new Map([[0, LAB_BLOB_PARAMS]]), thresholds: DEFAULT_SECURITY_THRESHOLDS, client: new Wallet(devPrivateKey(3)) });
const rbn = (await chain.provider.getBlockNumber()) - 1;
const allSign = await disperser.disperse(payload.subarray(0, 4000), { referenceBlockNumber: rbn });
operators[0]!.behaviour = "offline";
const oneMissing = await disperser.disperse(payload.subarray(0, 4000), { referenceBlockNumber: rbn });
const gasAll = await checkCert(contracts.verifier, encodeCert(allSign.cert), true);
const gasOne = await checkCert(contracts.verifier, encodeCert(oneMissing.cert), true);
const certTx = altDATxData(genericCommitment(encodeCertRlp(allSign.cert)));
printTable("L1 gas", [
  { what: `checkDACert, all 12 operators signed (status ${gasAll.status})`, gas: Number(gasAll.gas) },
  { what: `checkDACert, one non-signer (status ${gasOne.status})`, gas: Number(gasOne.gas) },
  { what: `alt-DA commitment as calldata (RLP certificate, as eigenda-proxy serves it; ${certTx.length} bytes)`, gas: calldataTxGas(certTx) },
  { what: `the ${payloadBytes.toLocaleString()}-byte payload as calldata`, gas: calldataTxGas(payload) },
  { what: `the same as ${blobs.length} blob(s): blob gas`, gas: blobs.length * 131_072 },
]);
await chain.close();

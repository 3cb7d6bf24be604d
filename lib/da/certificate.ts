// EigenDA V2 certificate structures (EigenDATypesV2, EigenDACertTypes) and their hashes, as the
// certificate verifier recomputes them:
//
//   blobKey          = keccak256(abi.encode(keccak256(abi.encode(version, quorumNumbers, commitment)), paymentHeaderHash))
//   blobCertHash     = keccak256(abi.encode(blobKey, signature, relayKeys))
//   Merkle leaf      = keccak256(abi.encodePacked(blobCertHash)); root = batchRoot
//   batchHeaderHash  = keccak256(abi.encode(batchRoot, referenceBlockNumber))  (what operators sign)
//
// A certificate travels in two encodings, as EigenDA's coretypes.EigenDACertV3 serializes it: ABI
// for the verifier contract's checkDACert(bytes), and RLP (go-ethereum's, struct fields as lists in
// declaration order) in the alt-DA commitments eigenda-proxy serves. Both decoders are strict: bytes
// that do not re-encode to themselves (trailing bytes, dirty padding, non-canonical integers) are refused.
import { concat, getBytes, hexlify, keccak256, type Result, solidityPacked, zeroPadValue } from "ethers";
import { asBytes, asList, bytesToUint, type RlpItem, rlpDecode, rlpEncode, uintBytes } from "../ledger/rlp.js";
import { abi } from "./bls.js";
import { type G1Affine, type G2Affine, g1FromAffine, g1ToAffine, g2FromAffine, g2ToAffine } from "./bn254.js";
import { DAEncodingError } from "./errors.js";
import type { BlobCommitment } from "./kzg-bn254.js";

export interface BlobHeaderV2 {
  version: number;
  /** Quorum numbers, ascending, one byte each. */
  quorumNumbers: Uint8Array;
  commitment: BlobCommitment;
  paymentHeaderHash: string;
}

export interface BlobCertificate {
  blobHeader: BlobHeaderV2;
  /** The client's ECDSA signature over the blob key. */
  signature: string;
  relayKeys: number[];
}

export interface BatchHeaderV2 {
  batchRoot: string;
  referenceBlockNumber: number;
}

export interface BlobInclusionInfo {
  blobCertificate: BlobCertificate;
  blobIndex: number;
  /** Sibling hashes, 32 bytes each, leaf to root. */
  inclusionProof: string;
}

/**
 * EigenDATypesV1.NonSignerStakesAndSignature, all eight fields in their order. The four index
 * lists point into the registries' histories at the reference block (EigenLayer's
 * BLSSignatureChecker): one quorum-bitmap index per non-signer, one APK and one total-stake index
 * per signed quorum, and per signed quorum one stake index for each non-signer in that quorum.
 */
export interface NonSignerStakesAndSignature {
  nonSignerQuorumBitmapIndices: number[];
  nonSignerPubkeys: G1Affine[];
  /** The registry's aggregate G1 key of each signed quorum, in signedQuorumNumbers order. */
  quorumApks: G1Affine[];
  apkG2: G2Affine;
  sigma: G1Affine;
  quorumApkIndices: number[];
  totalStakeIndices: number[];
  nonSignerStakeIndices: number[][];
}

/** EigenDACertV3: everything checkDACert needs, and what derivation fetches the blob by. */
export interface EigenDACertV3 {
  batchHeader: BatchHeaderV2;
  blobInclusionInfo: BlobInclusionInfo;
  nonSignerStakesAndSignature: NonSignerStakesAndSignature;
  signedQuorumNumbers: Uint8Array;
}

const G1 = "tuple(uint256 X, uint256 Y)";
const G2 = "tuple(uint256[2] X, uint256[2] Y)";
const COMMITMENT = `tuple(${G1} commitment, ${G2} lengthCommitment, ${G2} lengthProof, uint32 length)`;
const BLOB_HEADER = `tuple(uint16 version, bytes quorumNumbers, ${COMMITMENT} commitment, bytes32 paymentHeaderHash)`;
const BLOB_CERT = `tuple(${BLOB_HEADER} blobHeader, bytes signature, uint32[] relayKeys)`;
const BATCH_HEADER = "tuple(bytes32 batchRoot, uint32 referenceBlockNumber)";
const INCLUSION = `tuple(${BLOB_CERT} blobCertificate, uint32 blobIndex, bytes inclusionProof)`;
const NON_SIGNER = `tuple(uint32[] nonSignerQuorumBitmapIndices, ${G1}[] nonSignerPubkeys, ${G1}[] quorumApks, ${G2} apkG2, ${G1} sigma, uint32[] quorumApkIndices, uint32[] totalStakeIndices, uint32[][] nonSignerStakeIndices)`;
export const CERT_V3_ABI = `tuple(${BATCH_HEADER} batchHeader, ${INCLUSION} blobInclusionInfo, ${NON_SIGNER} nonSignerStakesAndSignature, bytes signedQuorumNumbers)`;

const g1Tuple = (p: G1Affine) => [p.x, p.y];
const g2Tuple = (p: G2Affine) => [p.x, p.y];
const fromG1 = (t: Result): G1Affine => ({ x: BigInt(t[0]), y: BigInt(t[1]) });
const fromG2 = (t: Result): G2Affine => ({ x: [BigInt(t[0][0]), BigInt(t[0][1])], y: [BigInt(t[1][0]), BigInt(t[1][1])] });

function commitmentTuple(c: BlobCommitment) {
  return [g1Tuple(g1ToAffine(c.commitment)), g2Tuple(g2ToAffine(c.lengthCommitment)), g2Tuple(g2ToAffine(c.lengthProof)), c.length];
}

function blobHeaderTuple(h: BlobHeaderV2) {
  return [h.version, hexlify(h.quorumNumbers), commitmentTuple(h.commitment), h.paymentHeaderHash];
}

function blobCertTuple(c: BlobCertificate) {
  return [blobHeaderTuple(c.blobHeader), c.signature, c.relayKeys];
}

/** hashBlobHeaderV2: the blob key, the id a blob is dispersed and retrieved by. */
export function blobKey(h: BlobHeaderV2): string {
  const inner = keccak256(abi.encode(["uint16", "bytes", COMMITMENT], [h.version, hexlify(h.quorumNumbers), commitmentTuple(h.commitment)]));
  return keccak256(abi.encode(["bytes32", "bytes32"], [inner, h.paymentHeaderHash]));
}

export function hashBlobCertificate(c: BlobCertificate): string {
  return keccak256(abi.encode(["bytes32", "bytes", "uint32[]"], [blobKey(c.blobHeader), c.signature, c.relayKeys]));
}

export function hashBatchHeaderV2(h: BatchHeaderV2): string {
  return keccak256(abi.encode([BATCH_HEADER], [[h.batchRoot, h.referenceBlockNumber]]));
}

export function merkleLeaf(c: BlobCertificate): string {
  return keccak256(solidityPacked(["bytes32"], [hashBlobCertificate(c)]));
}

/** A keccak Merkle tree over leaves padded with zero hashes to a power of two; levels[0] are the leaves. */
export function merkleTree(leaves: readonly string[]): string[][] {
  let width = 1;
  while (width < leaves.length) width *= 2;
  const levels: string[][] = [leaves.concat(new Array(width - leaves.length).fill(zeroPadValue("0x", 32)))];
  while (levels[levels.length - 1]!.length > 1) {
    const prev = levels[levels.length - 1]!;
    const next: string[] = [];
    for (let i = 0; i < prev.length; i += 2) next.push(keccak256(concat([prev[i]!, prev[i + 1]!])));
    levels.push(next);
  }
  return levels;
}

export function merkleProof(levels: readonly string[][], index: number): string {
  const siblings: string[] = [];
  for (let l = 0, i = index; l < levels.length - 1; l++, i >>= 1) siblings.push(levels[l]![i ^ 1]!);
  return siblings.length === 0 ? "0x" : concat(siblings);
}

/** Merkle.verifyInclusionKeccak: even index hashes (node, sibling), odd (sibling, node). */
export function verifyInclusion(proof: string, root: string, leaf: string, index: number): boolean {
  const bytes = getBytes(proof);
  if (bytes.length % 32 !== 0) return false;
  let node = leaf;
  for (let at = 0, i = index; at < bytes.length; at += 32, i >>= 1) {
    const sibling = hexlify(bytes.subarray(at, at + 32));
    node = i % 2 === 0 ? keccak256(concat([node, sibling])) : keccak256(concat([sibling, node]));
  }
  return node === root;
}

/** The ABI encoding checkDACert(bytes) takes. */
export function encodeCert(cert: EigenDACertV3): Uint8Array {
  const n = cert.nonSignerStakesAndSignature;
  return getBytes(
    abi.encode(
      [CERT_V3_ABI],
      [
        [
          [cert.batchHeader.batchRoot, cert.batchHeader.referenceBlockNumber],
          [blobCertTuple(cert.blobInclusionInfo.blobCertificate), cert.blobInclusionInfo.blobIndex, cert.blobInclusionInfo.inclusionProof],
          [
            n.nonSignerQuorumBitmapIndices,
            n.nonSignerPubkeys.map(g1Tuple),
            n.quorumApks.map(g1Tuple),
            g2Tuple(n.apkG2),
            g1Tuple(n.sigma),
            n.quorumApkIndices,
            n.totalStakeIndices,
            n.nonSignerStakeIndices,
          ],
          hexlify(cert.signedQuorumNumbers),
        ],
      ],
    ),
  );
}

/** The ABI encoding, under the name that says which. */
export const encodeCertAbi = encodeCert;

function undecodable(encoding: "ABI" | "RLP", length: number, cause?: unknown, why = "not"): never {
  throw new DAEncodingError({
    code: "da/cert-undecodable",
    message: `${length} bytes are ${why} an ${encoding}-encoded EigenDACertV3 with points on BN254`,
    hint: "the alt-DA commitment is damaged, of another certificate version, or in the other encoding (the contract takes ABI, eigenda-proxy serves RLP)",
    fields: { length, encoding },
    cause,
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Decodes an ABI-encoded EigenDACertV3; bytes that do not re-encode to themselves are refused (da/cert-undecodable). */
export function decodeCert(bytes: Uint8Array): EigenDACertV3 {
  let cert: EigenDACertV3;
  try {
    const [bh, inc, ns, sq] = abi.decode([CERT_V3_ABI], bytes)[0] as Result;
    const [hdr, signature, relayKeys] = inc[0];
    const [version, quorumNumbers, comm, paymentHeaderHash] = hdr;
    const commitment: BlobCommitment = {
      commitment: g1FromAffine(fromG1(comm[0])),
      lengthCommitment: g2FromAffine(fromG2(comm[1])),
      lengthProof: g2FromAffine(fromG2(comm[2])),
      length: Number(comm[3]),
    };
    const nums = (r: Result): number[] => [...r].map(Number);
    cert = {
      batchHeader: { batchRoot: bh[0], referenceBlockNumber: Number(bh[1]) },
      blobInclusionInfo: {
        blobCertificate: { blobHeader: { version: Number(version), quorumNumbers: getBytes(quorumNumbers), commitment, paymentHeaderHash }, signature, relayKeys: relayKeys.map(Number) },
        blobIndex: Number(inc[1]),
        inclusionProof: inc[2],
      },
      nonSignerStakesAndSignature: {
        nonSignerQuorumBitmapIndices: nums(ns[0]),
        nonSignerPubkeys: ns[1].map(fromG1),
        quorumApks: ns[2].map(fromG1),
        apkG2: fromG2(ns[3]),
        sigma: fromG1(ns[4]),
        quorumApkIndices: nums(ns[5]),
        totalStakeIndices: nums(ns[6]),
        nonSignerStakeIndices: [...ns[7]].map(nums),
      },
      signedQuorumNumbers: getBytes(sq),
    };
  } catch (cause) {
    return undecodable("ABI", bytes.length, cause);
  }
  if (!sameBytes(encodeCert(cert), bytes)) undecodable("ABI", bytes.length, undefined, "not exactly (trailing or non-canonical bytes)");
  return cert;
}

/** decodeCert, under the name that says which encoding. */
export const decodeCertAbi = decodeCert;

// RLP: go-ethereum's encoding of the Go binding's structs. Integers (uint16, uint32, *big.Int)
// are minimal big-endian strings, [32]byte and []byte are strings, arrays and slices are lists.
const rUint = (v: number | bigint): Uint8Array => uintBytes(v);
const rG1 = (p: G1Affine): RlpItem => [rUint(p.x), rUint(p.y)];
const rG2 = (p: G2Affine): RlpItem => [
  [rUint(p.x[0]), rUint(p.x[1])],
  [rUint(p.y[0]), rUint(p.y[1])],
];
const rUints = (v: readonly number[]): RlpItem => v.map(rUint);

/** The RLP encoding eigenda-proxy writes into alt-DA commitments. */
export function encodeCertRlp(cert: EigenDACertV3): Uint8Array {
  const h = cert.blobInclusionInfo.blobCertificate.blobHeader;
  const c = h.commitment;
  const n = cert.nonSignerStakesAndSignature;
  return rlpEncode([
    [getBytes(cert.batchHeader.batchRoot), rUint(cert.batchHeader.referenceBlockNumber)],
    [
      [
        [rUint(h.version), h.quorumNumbers, [rG1(g1ToAffine(c.commitment)), rG2(g2ToAffine(c.lengthCommitment)), rG2(g2ToAffine(c.lengthProof)), rUint(c.length)], getBytes(h.paymentHeaderHash)],
        getBytes(cert.blobInclusionInfo.blobCertificate.signature),
        rUints(cert.blobInclusionInfo.blobCertificate.relayKeys),
      ],
      rUint(cert.blobInclusionInfo.blobIndex),
      getBytes(cert.blobInclusionInfo.inclusionProof),
    ],
    [
      rUints(n.nonSignerQuorumBitmapIndices),
      n.nonSignerPubkeys.map(rG1),
      n.quorumApks.map(rG1),
      rG2(n.apkG2),
      rG1(n.sigma),
      rUints(n.quorumApkIndices),
      rUints(n.totalStakeIndices),
      n.nonSignerStakeIndices.map(rUints),
    ],
    cert.signedQuorumNumbers,
  ]);
}

function uintOf(item: RlpItem | undefined, what: string, maxBytes: number): number {
  const b = asBytes(item, what);
  if (b.length > maxBytes) throw new DAEncodingError({ code: "da/cert-undecodable", message: `${what} is wider than ${maxBytes} bytes`, hint: "not an EigenDACertV3", fields: { field: what } });
  return Number(bytesToUint(b, what));
}

function fixedBytes(item: RlpItem | undefined, what: string, length: number): string {
  const b = asBytes(item, what);
  if (b.length !== length) throw new DAEncodingError({ code: "da/cert-undecodable", message: `${what} is ${b.length} bytes, not ${length}`, hint: "not an EigenDACertV3", fields: { field: what } });
  return hexlify(b);
}

const bigOf = (item: RlpItem | undefined, what: string): bigint => bytesToUint(asBytes(item, what), what);
const g1Of = (item: RlpItem | undefined, what: string): G1Affine => {
  const [x, y] = asList(item, what, 2);
  return { x: bigOf(x, `${what}.X`), y: bigOf(y, `${what}.Y`) };
};
const g2Of = (item: RlpItem | undefined, what: string): G2Affine => {
  const [x, y] = asList(item, what, 2);
  const [x0, x1] = asList(x, `${what}.X`, 2);
  const [y0, y1] = asList(y, `${what}.Y`, 2);
  return { x: [bigOf(x0, what), bigOf(x1, what)], y: [bigOf(y0, what), bigOf(y1, what)] };
};
const uintsOf = (item: RlpItem | undefined, what: string): number[] => asList(item, what).map((v) => uintOf(v, what, 4));

/** Decodes an RLP-encoded EigenDACertV3 (as rlp.DecodeBytes: exactly one value, canonical, nothing after it). */
export function decodeCertRlp(bytes: Uint8Array): EigenDACertV3 {
  try {
    const [bh, inc, ns, sq] = asList(rlpDecode(bytes), "cert", 4);
    const [root, rbn] = asList(bh, "batchHeader", 2);
    const [blobCert, blobIndex, proof] = asList(inc, "blobInclusionInfo", 3);
    const [hdr, signature, relayKeys] = asList(blobCert, "blobCertificate", 3);
    const [version, quorumNumbers, comm, payment] = asList(hdr, "blobHeader", 4);
    const [c, lc, lp, length] = asList(comm, "commitment", 4);
    const [bitmapIdx, nonSigners, apks, apkG2, sigma, apkIdx, totalIdx, stakeIdx] = asList(ns, "nonSignerStakesAndSignature", 8);
    return {
      batchHeader: { batchRoot: fixedBytes(root, "batchRoot", 32), referenceBlockNumber: uintOf(rbn, "referenceBlockNumber", 4) },
      blobInclusionInfo: {
        blobCertificate: {
          blobHeader: {
            version: uintOf(version, "version", 2),
            quorumNumbers: Uint8Array.from(asBytes(quorumNumbers, "quorumNumbers")),
            commitment: {
              commitment: g1FromAffine(g1Of(c, "commitment")),
              lengthCommitment: g2FromAffine(g2Of(lc, "lengthCommitment")),
              lengthProof: g2FromAffine(g2Of(lp, "lengthProof")),
              length: uintOf(length, "length", 4),
            },
            paymentHeaderHash: fixedBytes(payment, "paymentHeaderHash", 32),
          },
          signature: hexlify(asBytes(signature, "signature")),
          relayKeys: uintsOf(relayKeys, "relayKeys"),
        },
        blobIndex: uintOf(blobIndex, "blobIndex", 4),
        inclusionProof: hexlify(asBytes(proof, "inclusionProof")),
      },
      nonSignerStakesAndSignature: {
        nonSignerQuorumBitmapIndices: uintsOf(bitmapIdx, "nonSignerQuorumBitmapIndices"),
        nonSignerPubkeys: asList(nonSigners, "nonSignerPubkeys").map((p) => g1Of(p, "nonSignerPubkey")),
        quorumApks: asList(apks, "quorumApks").map((p) => g1Of(p, "quorumApk")),
        apkG2: g2Of(apkG2, "apkG2"),
        sigma: g1Of(sigma, "sigma"),
        quorumApkIndices: uintsOf(apkIdx, "quorumApkIndices"),
        totalStakeIndices: uintsOf(totalIdx, "totalStakeIndices"),
        nonSignerStakeIndices: asList(stakeIdx, "nonSignerStakeIndices").map((l) => uintsOf(l, "nonSignerStakeIndices")),
      },
      signedQuorumNumbers: Uint8Array.from(asBytes(sq, "signedQuorumNumbers")),
    };
  } catch (cause) {
    return undecodable("RLP", bytes.length, cause);
  }
}

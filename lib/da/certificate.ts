// EigenDA V2 certificate structures (EigenDATypesV2, EigenDACertTypes) and their hashes, as the
// certificate verifier recomputes them:
//
//   blobKey          = keccak256(abi.encode(keccak256(abi.encode(version, quorumNumbers, commitment)), paymentHeaderHash))
//   blobCertHash     = keccak256(abi.encode(blobKey, signature, relayKeys))
//   Merkle leaf      = keccak256(abi.encodePacked(blobCertHash)); root = batchRoot
//   batchHeaderHash  = keccak256(abi.encode(batchRoot, referenceBlockNumber))  (what operators sign)
//
// The certificate is ABI-encoded, so the verifier's checkDACert(bytes) decodes it directly.
import { concat, getBytes, hexlify, keccak256, type Result, solidityPacked, zeroPadValue } from "ethers";
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

export interface NonSignerStakesAndSignature {
  nonSignerPubkeys: G1Affine[];
  /** The registry's aggregate G1 key of each signed quorum, in signedQuorumNumbers order. */
  quorumApks: G1Affine[];
  apkG2: G2Affine;
  sigma: G1Affine;
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
const NON_SIGNER = `tuple(${G1}[] nonSignerPubkeys, ${G1}[] quorumApks, ${G2} apkG2, ${G1} sigma)`;
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

export function encodeCert(cert: EigenDACertV3): Uint8Array {
  const n = cert.nonSignerStakesAndSignature;
  return getBytes(
    abi.encode(
      [CERT_V3_ABI],
      [
        [
          [cert.batchHeader.batchRoot, cert.batchHeader.referenceBlockNumber],
          [blobCertTuple(cert.blobInclusionInfo.blobCertificate), cert.blobInclusionInfo.blobIndex, cert.blobInclusionInfo.inclusionProof],
          [n.nonSignerPubkeys.map(g1Tuple), n.quorumApks.map(g1Tuple), g2Tuple(n.apkG2), g1Tuple(n.sigma)],
          hexlify(cert.signedQuorumNumbers),
        ],
      ],
    ),
  );
}

/** Decodes an ABI-encoded EigenDACertV3; malformed bytes are refused with da/cert-undecodable. */
export function decodeCert(bytes: Uint8Array): EigenDACertV3 {
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
    return {
      batchHeader: { batchRoot: bh[0], referenceBlockNumber: Number(bh[1]) },
      blobInclusionInfo: {
        blobCertificate: { blobHeader: { version: Number(version), quorumNumbers: getBytes(quorumNumbers), commitment, paymentHeaderHash }, signature, relayKeys: relayKeys.map(Number) },
        blobIndex: Number(inc[1]),
        inclusionProof: inc[2],
      },
      nonSignerStakesAndSignature: { nonSignerPubkeys: ns[0].map(fromG1), quorumApks: ns[1].map(fromG1), apkG2: fromG2(ns[2]), sigma: fromG1(ns[3]) },
      signedQuorumNumbers: getBytes(sq),
    };
  } catch (cause) {
    throw new DAEncodingError({
      code: "da/cert-undecodable",
      message: `${bytes.length} bytes are not an ABI-encoded EigenDACertV3 with points on BN254`,
      hint: "the alt-DA commitment is damaged or of another certificate version",
      fields: { length: bytes.length },
      cause,
    });
  }
}

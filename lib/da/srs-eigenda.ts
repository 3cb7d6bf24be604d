// EigenDA's published SRS, as its files are laid out (resources/srs, tools/srs-utils): points of the
// Perpetual Powers of Tau ceremony (challenge_0085), gnark-compressed.
//
//   g1.point            [tau^i]_1, i = 0..: a prefix of any length (the published file: 2^19 points)
//   g2.point            [tau^i]_2, i = 0..  (the published file: 2^19 points)
//   g2.trailing.point   [tau^(2^28 - n + i)]_2, i < n: the last n points of the 2^28 setup
//   g2.point.powerOf2   [tau^(2^i)]_2, i = 0..27: 28 points
//
// and, hard-coded in EigenDA's verifiers, [tau^(2^28 - 2^i)]_1 for i = 0..27, the G1 side of the
// length proof against the 2^28 setup: e([tau^(2^28 - length)]_1, C2) = e(G1, lengthProof). Every
// file is checked against the sha256 list EigenDA publishes (srs-files-16777216.sha256).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { g1Generator, initBn254, mcl, pairingProductIsOne } from "./bn254.js";
import { DAConfigError, DAEncodingError, DAVerificationError } from "./errors.js";
import { decompressG1, decompressG2, EIGENDA_SRS_LOG_ORDER, pointCount, publishedG1ReversePowerOf2 } from "./srs.js";

/** EigenDA's published list (resources/srs/srs-files-16777216.sha256), "sha256  filename" per line. */
export const EIGENDA_SRS_SHA256_LIST = `8f18b9c04ed4bddcdb73001fb693703197328cecabdfa9025f647410b0c50d7f  g1.point
a6942684aa751b4ec7873e2edb4660ac5c4516adb3b310441802cc0d489f645a  g2.point
78fad17d74d28cecdb7f826fdd72dee08bdbe1e8ad66f2b24fcf2fc140176788  g2.trailing.point
4d5ed827f742e1270f22b4a39129bf1d25445821b15824e2eb3a709a16f64518  g2.point.powerOf2
`;

/** Parses a "sha256  filename" list into filename -> hex digest. */
export function parseSha256List(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

/** Checks a point file's sha256 against the published list (by its file name); returns the digest. */
export function checkSrsFileSha256(path: string, list = EIGENDA_SRS_SHA256_LIST): string {
  const name = basename(path);
  const expected = parseSha256List(list).get(name);
  if (!expected) {
    throw new DAConfigError({
      code: "da/srs-unlisted-file",
      message: `${name} is not in the published sha256 list`,
      hint: "name the files as EigenDA publishes them (g1.point, g2.point, g2.trailing.point, g2.point.powerOf2)",
      fields: { file: name },
    });
  }
  const actual = createHash("sha256").update(readFileSync(path)).digest("hex");
  if (actual !== expected) {
    throw new DAVerificationError({
      code: "da/srs-sha256-mismatch",
      message: `${name} has sha256 ${actual}, the published list says ${expected}`,
      hint: "download the file again (srs-utils download); a damaged SRS isolates this node from the network",
      fields: { file: name, expected, actual },
    });
  }
  return actual;
}

/** The first `count` points of a g1.point file (all of them when count is omitted): a prefix of any length. */
export async function readG1PointFile(path: string, count?: number): Promise<mcl.G1[]> {
  await initBn254();
  const bytes = readFileSync(path);
  const have = pointCount(bytes, 32, path);
  const n = count ?? have;
  if (n > have)
    throw new DAConfigError({
      code: "da/srs-too-short",
      message: `${path} holds ${have} G1 points; ${n} are needed`,
      hint: "use a longer prefix of the published g1.point",
      fields: { order: n, g1Points: have, g2Points: 0 },
    });
  return Array.from({ length: n }, (_, i) => decompressG1(bytes.subarray(32 * i, 32 * i + 32), path, i));
}

/** All points of a G2 point file (g2.point, g2.trailing.point or g2.point.powerOf2). */
export async function readG2PointFile(path: string, count?: number): Promise<mcl.G2[]> {
  await initBn254();
  const bytes = readFileSync(path);
  const have = pointCount(bytes, 64, path);
  const n = count ?? have;
  if (n > have)
    throw new DAConfigError({
      code: "da/srs-too-short",
      message: `${path} holds ${have} G2 points; ${n} are needed`,
      hint: "use a longer G2 point file",
      fields: { order: n, g1Points: 0, g2Points: have },
    });
  return Array.from({ length: n }, (_, i) => decompressG2(bytes.subarray(64 * i, 64 * i + 64), path, i));
}

/** g2.point.powerOf2: [tau^(2^i)]_2 for i = 0..27. */
export async function readG2PowerOf2File(path: string): Promise<mcl.G2[]> {
  const points = await readG2PointFile(path);
  if (points.length !== EIGENDA_SRS_LOG_ORDER) {
    throw new DAEncodingError({
      code: "da/srs-bad-file-size",
      message: `${path} holds ${points.length} points, not 28`,
      hint: "g2.point.powerOf2 holds [tau^(2^i)]_2 for i = 0..27",
      fields: { file: path, length: points.length * 64, pointBytes: 64 },
    });
  }
  return points;
}

/** [tau^(2^28 - 2^i)]_1 for i = 0..27, the G1 points EigenDA's length-proof check uses. */
export async function g1ReversePowerOf2(): Promise<mcl.G1[]> {
  await initBn254();
  return publishedG1ReversePowerOf2();
}

/**
 * VerifyLengthProof against the 2^28 setup: e([tau^(2^28 - length)]_1, lengthCommitment) =
 * e(G1, lengthProof), with the published [tau^(2^28 - 2^i)]_1. Pair it with the commitment
 * equivalence check e(C, G2) = e(G1, C2), or it proves nothing about the G1 commitment.
 */
export function verifyLengthProofAgainst2To28(g1Reverse: readonly mcl.G1[], lengthCommitment: mcl.G2, lengthProof: mcl.G2, length: number): boolean {
  if (!Number.isInteger(length) || length < 1 || (length & (length - 1)) !== 0) return false;
  const log = Math.log2(length);
  if (log > EIGENDA_SRS_LOG_ORDER - 1) return false;
  return pairingProductIsOne(g1Reverse[log]!, lengthCommitment, mcl.neg(g1Generator()), lengthProof);
}

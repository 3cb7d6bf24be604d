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
import { decompressG1, decompressG2 } from "./srs.js";

/** log2 of the ceremony's G2 size, the setup EigenDA's length proofs are taken against. */
export const EIGENDA_SRS_LOG_ORDER = 28;

/** EigenDA's published list (resources/srs/srs-files-16777216.sha256), "sha256  filename" per line. */
export const EIGENDA_SRS_SHA256_LIST = `8f18b9c04ed4bddcdb73001fb693703197328cecabdfa9025f647410b0c50d7f  g1.point
a6942684aa751b4ec7873e2edb4660ac5c4516adb3b310441802cc0d489f645a  g2.point
78fad17d74d28cecdb7f826fdd72dee08bdbe1e8ad66f2b24fcf2fc140176788  g2.trailing.point
4d5ed827f742e1270f22b4a39129bf1d25445821b15824e2eb3a709a16f64518  g2.point.powerOf2
`;

/** [tau^(2^28 - 2^i)]_1 for i = 0..27, gnark-compressed (EigenDA resources/srs G1ReversePowerOf2SRS). */
export const EIGENDA_G1_REVERSE_POWER_OF_2_HEX = [
  "d902537c5ac68b39468f8cfcc46b00da353024b618b0454e6847d2aee530e850",
  "c672cec11e3d0c0096d550635d28c4b51dd3c2deb407a5985f458f5a8610fe94",
  "c2ee739ae261af377f3c65362049fef9402013bd898351eb60e0d7429a56f880",
  "d9d7adde8d4e55e87312fcb7713fdd1e8713358347d7c8bc1ac21fa1ef1db34a",
  "8f89ac9e77846d29af1c58af31cfc3fe61c45ca14cf0a10f7aa71605b868c0e7",
  "e3adc6dbd3cb5c694b17bdb974860d07222f9ffd75655d8800702f455ddffc97",
  "cb36c6a5486f20baf22e4ca283ee475b70447c35e16b749d710caa4bc7bf2ac9",
  "86aa256a555695131099bc873d2d23dd0f31d6fa9e0117f2dc913565380f8536",
  "ac25b7bfc07913ee0aa062624b6c06f0218dcf1f03f232397761463d079be7fe",
  "a219ecf6ee97fe6b32ab434e3daff9ed6cbe8f467979ad1c6f39ee9dc660b212",
  "97840fcc4dd766fa0748bf2d50dd85242d4bb031fac39f8bb8f12d1146b0d443",
  "95b23343161483eed8834b7d595f5ac18b8c5dfe85d40538c83027a12b7e0ca6",
  "82e393213e64aef7726afb4ee823b58634087a47330ef6150c6e9e496a18cc5a",
  "e11a52ebf3628f51663a2fb41de1b755d28b764dde082521072531cf53bbb895",
  "c6318eb9dfa5f5627ceddde2f026af4e3ef79b7f1702f497b353437f57f188e4",
  "cfdc1c150ef291fa5eb1bdd2743815eebea02b4a89b3b0b1cc801269fb2502d6",
  "88723a42d3025fbb3beb27a75cf1266e37c59959a434ccabd04c332c888afc7c",
  "ebc857866d0cbb6ce20c2abd612cb99d1d2f4446e5330255c77f69bcfc56c8be",
  "ecc72a85bca27e6e6d9dcc73e15bd528b9bb1b4dc5b158e87d821571859820eb",
  "899e0d8eda7fcd5d0fcb7488574361663a7d05e920c11643101c1c996aad21b7",
  "87f814468e6e5b08526830fe3ce8fde7b5385f53e7654d3c061f5f602c5452b6",
  "a26d44f770db3207696477d61e7feedc3f0a83ea58f37b9ef914834fb32895b8",
  "90ec8f5ba15034bf2faa5b650606b7786e3c5c16201488c4411de3a40476874c",
  "ad10e224d82572833b2854c327a5db10a0b6c617c367e3aff58f5862aab90a41",
  "8ccb85c07ad9092316ea6f95161e0a64ed7cca863f23bc22300225bf456d094a",
  "d20165a1b364337df11a35fb687aa62382236938f8f740cb7059b656e1f4dd1c",
  "a9d669092e951729fcc2eaf05ff706cf372e04cbde166f48833337fa37b69537",
  "eb34e5696bcd208899dbd9d1e7604ec39cc594eeedae3eaf40ff8695ab25ca72",
] as const;

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

function pointsOf(bytes: Uint8Array, size: number, file: string): number {
  if (bytes.length % size !== 0) {
    throw new DAEncodingError({
      code: "da/srs-bad-file-size",
      message: `${file} is ${bytes.length} bytes, not a whole number of ${size}-byte points`,
      hint: "the file is truncated or not a point file",
      fields: { file, length: bytes.length, pointBytes: size },
    });
  }
  return bytes.length / size;
}

/** The first `count` points of a g1.point file (all of them when count is omitted): a prefix of any length. */
export async function readG1PointFile(path: string, count?: number): Promise<mcl.G1[]> {
  await initBn254();
  const bytes = readFileSync(path);
  const have = pointsOf(bytes, 32, path);
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
  const have = pointsOf(bytes, 64, path);
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
  return EIGENDA_G1_REVERSE_POWER_OF_2_HEX.map((h, i) => decompressG1(Buffer.from(h, "hex"), "G1ReversePowerOf2SRS", i));
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

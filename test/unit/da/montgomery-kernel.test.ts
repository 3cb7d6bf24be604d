import { expect } from "chai";
import { FP_MODULUS } from "../../../lib/da/bn254.js";
import { FR_MODULUS, Fr } from "../../../lib/da/field.js";
import { extendedNtt, intt, ntt } from "../../../lib/da/ntt.js";
import { ELEMENT_BYTES, MontgomeryKernel, montgomeryModuleBytes } from "../../../lib/da/wasm/montgomery.js";
import { signedLeb128, unsignedLeb128 } from "../../../lib/wasm-emitter.js";
import { referenceExtendedNtt, referenceIntt, referenceNtt } from "./ntt-reference.js";
import { randomFieldElements } from "./random-field.js";

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus) if (e & 1n) result = (result * b) % modulus;
  return result;
}

describe("the WebAssembly Montgomery kernel", () => {
  it("encodes LEB128 as the WebAssembly specification's examples", () => {
    expect(unsignedLeb128(0)).to.deep.equal([0]);
    expect(unsignedLeb128(127)).to.deep.equal([0x7f]);
    expect(unsignedLeb128(128)).to.deep.equal([0x80, 0x01]);
    expect(unsignedLeb128(624485)).to.deep.equal([0xe5, 0x8e, 0x26]);
    expect(signedLeb128(-1n)).to.deep.equal([0x7f]);
    expect(signedLeb128(63n)).to.deep.equal([0x3f]);
    expect(signedLeb128(64n)).to.deep.equal([0xc0, 0x00]);
    expect(signedLeb128(-123456n)).to.deep.equal([0xc0, 0xbb, 0x78]);
    expect(WebAssembly.validate(montgomeryModuleBytes(FR_MODULUS))).to.equal(true);
  });

  for (const [name, p] of [
    ["BN254's Fr", FR_MODULUS],
    ["BN254's Fp", FP_MODULUS],
  ] as const) {
    it(`multiplies, adds and subtracts modulo ${name} as bigints do, on 0, 1, p - 1 and random values`, () => {
      const k = new MontgomeryKernel(p);
      const rInverse = modPow(2n ** 256n, p - 2n, p);
      const values = [0n, 1n, 2n, p - 1n, p - 2n, (p - 1n) / 2n, (p + 1n) / 2n, 2n ** 253n % p, ...randomFieldElements(12, 5, p)];
      const [a, b, out] = [0, ELEMENT_BYTES, 2 * ELEMENT_BYTES];
      for (const x of values) {
        for (const y of values) {
          k.write(a, [x, y]);
          k.exports.mul(out, a, b);
          expect(k.read(out, 1)[0], `mont(${x}, ${y})`).to.equal((((x * y) % p) * rInverse) % p);
          k.exports.add(out, a, b);
          expect(k.read(out, 1)[0], `${x} + ${y}`).to.equal((x + y) % p);
          k.exports.sub(out, a, b);
          expect(k.read(out, 1)[0], `${x} - ${y}`).to.equal((((x - y) % p) + p) % p);
        }
        // Into and out of Montgomery form: mont(x 2^256, 1) = x.
        k.write(a, [k.toMontgomery(x), 1n]);
        k.exports.mul(out, a, b);
        expect(k.read(out, 1)[0]).to.equal(x);
      }
    });
  }

  it("computes the NTT, inverse NTT and zero-extended NTT as the bigint reference does", () => {
    for (const n of [1, 2, 4, 16, 256, 2048]) {
      const values = randomFieldElements(n, n);
      const evaluations = ntt(values);
      expect(evaluations, `ntt ${n}`).to.deep.equal(referenceNtt(values));
      expect(intt(values), `intt ${n}`).to.deep.equal(referenceIntt(values));
      expect(intt(evaluations), `intt(ntt) ${n}`).to.deep.equal(values);
    }
    for (const [m, domainSize] of [
      [1, 1],
      [1, 16],
      [8, 16],
      [64, 512],
      [512, 4096],
    ] as const) {
      const c = randomFieldElements(m, m * 7 + domainSize);
      expect(extendedNtt(c, domainSize), `${m} -> ${domainSize}`).to.deep.equal(referenceExtendedNtt(c, domainSize));
    }
  });

  it("reduces inputs outside [0, r) before transforming", () => {
    const values = [-1n, FR_MODULUS, FR_MODULUS + 5n, -(FR_MODULUS * 3n) - 2n];
    expect(ntt(values)).to.deep.equal(referenceNtt(values.map((v) => Fr.create(v))));
    expect(extendedNtt(values, 16)).to.deep.equal(
      referenceExtendedNtt(
        values.map((v) => Fr.create(v)),
        16,
      ),
    );
  });
});

// Arithmetic modulo a prime p < 2^254 in WebAssembly, and the radix-2 NTT butterflies on it.
//
// An element is eight little-endian 32-bit limbs (32 bytes) in the module's memory. Products are
// Montgomery products, mont(a, b) = a b 2^-256 mod p, by coarsely integrated operand scanning
// (Koç, Acar and Kaliski, "Analyzing and Comparing Montgomery Multiplication Algorithms", CIOS),
// each 32 x 32-bit product and its carries in one i64. p's top limb is below 2^31, so the two
// carry chains of each round fit in the eight limbs and no ninth one is kept (the "no-carry"
// variant); the result is below 2p and one conditional subtraction makes it canonical.
//
// The NTT keeps its data in plain form: its twiddles are stored as w 2^256 mod p, and
// mont(v, w 2^256) = v w. Data crosses between JavaScript and WebAssembly once per transform.
import { type ExportedFunction, encodeModule, FunctionBody, I32, I64, Op } from "../../wasm-emitter.js";

/** Bytes of one element: eight 32-bit limbs. */
export const ELEMENT_BYTES = 32;
const LIMBS = 8;
const MASK32 = 0xffffffffn;

export function limbsOf(value: bigint): bigint[] {
  return Array.from({ length: LIMBS }, (_, j) => (value >> BigInt(32 * j)) & MASK32);
}

/** -p^-1 mod 2^32, by Newton's iteration on the inverse mod 2^32 (p odd). */
function negInverseMod32(p: bigint): bigint {
  const p0 = p & MASK32;
  let inv = 1n;
  for (let i = 0; i < 5; i++) inv = (inv * (2n - p0 * inv)) & MASK32;
  return -inv & MASK32;
}

/** x <- x & 0xffffffff, carry <- x >> 32 for the i64 on the stack (its result in `low`). */
function splitInto(f: FunctionBody, scratch: number, low: number, carry: number): void {
  f.tee(scratch).i64(32n).emit(Op.i64ShrU).set(carry);
  f.get(scratch).i64(MASK32).emit(Op.i64And).set(low);
}

/**
 * Stores `t` (eight limbs below 2p) to `out` reduced below p: t - p where that does not borrow.
 * `d` are eight spare locals; `x` and `borrow` two more.
 */
function storeReduced(f: FunctionBody, out: number, t: number[], d: number[], x: number, borrow: number, pLimbs: bigint[]): void {
  f.i64(0n).set(borrow);
  for (let j = 0; j < LIMBS; j++) {
    f.get(t[j]!).i64(pLimbs[j]!).emit(Op.i64Sub).get(borrow).emit(Op.i64Sub).tee(x);
    f.i64(63n).emit(Op.i64ShrU).set(borrow);
    f.get(x).i64(MASK32).emit(Op.i64And).set(d[j]!);
  }
  for (let j = 0; j < LIMBS; j++) {
    // select(t_j, d_j, borrow): t itself when t < p.
    f.get(out)
      .get(t[j]!)
      .get(d[j]!)
      .get(borrow)
      .emit(Op.i32WrapI64, Op.select)
      .store32(4 * j);
  }
}

function locals(f: FunctionBody, count: number): number[] {
  return Array.from({ length: count }, () => f.local(I64));
}

/** mul(out, a, b): out = a b 2^-256 mod p (out may be a or b). */
export function montgomeryMul(p: bigint): FunctionBody {
  const pLimbs = limbsOf(p);
  const pInv = negInverseMod32(p);
  const f = new FunctionBody([I32, I32, I32]);
  const [out, a, b] = [0, 1, 2];
  const av = locals(f, LIMBS);
  const t = locals(f, LIMBS);
  const [bi, m, carryA, carryC, x, borrow] = locals(f, 6);
  for (let j = 0; j < LIMBS; j++)
    f.get(a)
      .load32(4 * j)
      .set(av[j]!);
  for (let i = 0; i < LIMBS; i++) {
    f.get(b)
      .load32(4 * i)
      .set(bi);
    // (A, t0) = t0 + a0 b_i
    f.get(t[0]!).get(av[0]!).get(bi).emit(Op.i64Mul, Op.i64Add);
    splitInto(f, x, t[0]!, carryA);
    // m = t0 (-p^-1) mod 2^32; C = (t0 + m p0) >> 32 (the low half is zero by the choice of m)
    f.get(t[0]!).i64(pInv).emit(Op.i64Mul).i64(MASK32).emit(Op.i64And).set(m);
    f.get(t[0]!).get(m).i64(pLimbs[0]!).emit(Op.i64Mul, Op.i64Add).i64(32n).emit(Op.i64ShrU).set(carryC);
    for (let j = 1; j < LIMBS; j++) {
      // (A, t_j) = t_j + a_j b_i + A
      f.get(t[j]!).get(av[j]!).get(bi).emit(Op.i64Mul, Op.i64Add).get(carryA).emit(Op.i64Add);
      splitInto(f, x, t[j]!, carryA);
      // (C, t_{j-1}) = t_j + m p_j + C
      f.get(t[j]!).get(m).i64(pLimbs[j]!).emit(Op.i64Mul, Op.i64Add).get(carryC).emit(Op.i64Add);
      splitInto(f, x, t[j - 1]!, carryC);
    }
    f.get(carryC)
      .get(carryA)
      .emit(Op.i64Add)
      .set(t[LIMBS - 1]!);
  }
  storeReduced(f, out, t, av, x, borrow, pLimbs);
  return f;
}

/** add(out, a, b): out = a + b mod p, inputs below p. */
export function modAdd(p: bigint): FunctionBody {
  const pLimbs = limbsOf(p);
  const f = new FunctionBody([I32, I32, I32]);
  const [out, a, b] = [0, 1, 2];
  const s = locals(f, LIMBS);
  const d = locals(f, LIMBS);
  const [carry, x, borrow] = locals(f, 3);
  for (let j = 0; j < LIMBS; j++) {
    f.get(a)
      .load32(4 * j)
      .get(b)
      .load32(4 * j)
      .emit(Op.i64Add);
    if (j > 0) f.get(carry).emit(Op.i64Add);
    splitInto(f, x, s[j]!, carry);
  }
  storeReduced(f, out, s, d, x, borrow, pLimbs);
  return f;
}

/** sub(out, a, b): out = a - b mod p, inputs below p. */
export function modSub(p: bigint): FunctionBody {
  const pLimbs = limbsOf(p);
  const f = new FunctionBody([I32, I32, I32]);
  const [out, a, b] = [0, 1, 2];
  const d = locals(f, LIMBS);
  const e = locals(f, LIMBS);
  const [borrow, carry, x] = locals(f, 3);
  for (let j = 0; j < LIMBS; j++) {
    f.get(a)
      .load32(4 * j)
      .get(b)
      .load32(4 * j)
      .emit(Op.i64Sub);
    if (j > 0) f.get(borrow).emit(Op.i64Sub);
    f.tee(x).i64(63n).emit(Op.i64ShrU).set(borrow);
    f.get(x).i64(MASK32).emit(Op.i64And).set(d[j]!);
  }
  // e = d + p, kept where a - b borrowed.
  for (let j = 0; j < LIMBS; j++) {
    f.get(d[j]!).i64(pLimbs[j]!).emit(Op.i64Add);
    if (j > 0) f.get(carry).emit(Op.i64Add);
    splitInto(f, x, e[j]!, carry);
  }
  for (let j = 0; j < LIMBS; j++)
    f.get(out)
      .get(e[j]!)
      .get(d[j]!)
      .get(borrow)
      .emit(Op.i32WrapI64, Op.select)
      .store32(4 * j);
  return f;
}

const MUL = 0;
const ADD = 1;
const SUB = 2;

/**
 * nttStages(a, n, twiddles, firstLen, scratch): the radix-2 stages from length firstLen up on the
 * n elements at a (bit-reversed order in, natural order out): (u, v) -> (u + w v, u - w v) with
 * w = twiddles[k n / len], the table holding n/2 entries in Montgomery form.
 */
function nttStages(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32]);
  const [a, n, twiddles, firstLen, scratch] = [0, 1, 2, 3, 4];
  const [len, half, twStep, start, k, u, v, w] = Array.from({ length: 8 }, () => f.local(I32));
  f.get(firstLen).set(len);
  f.block().loop(); // stages
  f.get(len).get(n).emit(Op.i32GtU).brIf(1);
  f.get(len).i32(1).emit(Op.i32ShrU).set(half);
  f.get(n).get(len).emit(Op.i32DivU).i32(ELEMENT_BYTES).emit(Op.i32Mul).set(twStep);
  f.i32(0).set(start);
  f.block().loop(); // blocks of `len`
  f.get(start).get(n).emit(Op.i32GeU).brIf(1);
  f.get(a).get(start).i32(ELEMENT_BYTES).emit(Op.i32Mul, Op.i32Add).set(u);
  f.get(u).get(half).i32(ELEMENT_BYTES).emit(Op.i32Mul, Op.i32Add).set(v);
  f.get(twiddles).set(w);
  f.i32(0).set(k);
  f.block().loop(); // butterflies
  f.get(k).get(half).emit(Op.i32GeU).brIf(1);
  f.get(scratch).get(v).get(w).call(MUL); // scratch = w v
  f.get(v).get(u).get(scratch).call(SUB); // v = u - w v (before u changes)
  f.get(u).get(u).get(scratch).call(ADD); // u = u + w v
  f.get(u).i32(ELEMENT_BYTES).emit(Op.i32Add).set(u);
  f.get(v).i32(ELEMENT_BYTES).emit(Op.i32Add).set(v);
  f.get(w).get(twStep).emit(Op.i32Add).set(w);
  f.get(k).i32(1).emit(Op.i32Add).set(k);
  f.br(0).end().end();
  f.get(start).get(len).emit(Op.i32Add).set(start);
  f.br(0).end().end();
  f.get(len).i32(1).emit(Op.i32Shl).set(len);
  f.br(0).end().end();
  return f;
}

/** scale(a, count, s): a[i] = mont(a[i], s) for count elements (s in Montgomery form scales by its plain value). */
function scale(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32]);
  const [a, count, s] = [0, 1, 2];
  const end = f.local(I32);
  f.get(a).get(count).i32(ELEMENT_BYTES).emit(Op.i32Mul, Op.i32Add).set(end);
  f.block().loop();
  f.get(a).get(end).emit(Op.i32GeU).brIf(1);
  f.get(a).get(a).get(s).call(MUL);
  f.get(a).i32(ELEMENT_BYTES).emit(Op.i32Add).set(a);
  f.br(0).end().end();
  return f;
}

/** The module's bytes for modulus p (odd, below 2^254 with its top limb below 2^31). */
export function montgomeryModuleBytes(p: bigint): Uint8Array {
  if (p % 2n === 0n || p >> 254n !== 0n) throw new RangeError("the Montgomery kernel takes an odd modulus below 2^254");
  const functions: ExportedFunction[] = [
    { name: "mul", body: montgomeryMul(p), results: [] },
    { name: "add", body: modAdd(p), results: [] },
    { name: "sub", body: modSub(p), results: [] },
    { name: "nttStages", body: nttStages(), results: [] },
    { name: "scale", body: scale(), results: [] },
  ];
  return encodeModule(functions, { pages: 1 });
}

interface KernelExports {
  memory: WebAssembly.Memory;
  mul(out: number, a: number, b: number): void;
  add(out: number, a: number, b: number): void;
  sub(out: number, a: number, b: number): void;
  nttStages(a: number, n: number, twiddles: number, firstLen: number, scratch: number): void;
  scale(a: number, count: number, s: number): void;
}

/** A compiled kernel for one modulus, with bulk copies of bigints in and out of its memory. */
export class MontgomeryKernel {
  readonly exports: KernelExports;
  /** 2^256 mod p: Montgomery form is x -> x 2^256 mod p. */
  private readonly montgomeryR: bigint;
  /** The memory as 64-bit words, renewed when it grows (element i of an array at byte offset o: words o/8 + 4i ..). */
  words: BigUint64Array;

  constructor(readonly modulus: bigint) {
    const module = new WebAssembly.Module(montgomeryModuleBytes(modulus));
    this.exports = new WebAssembly.Instance(module).exports as unknown as KernelExports;
    this.montgomeryR = (1n << 256n) % modulus;
    this.words = new BigUint64Array(this.exports.memory.buffer);
  }

  /** x 2^256 mod p for x in [0, p). */
  toMontgomery(x: bigint): bigint {
    return (x * this.montgomeryR) % this.modulus;
  }

  /** Grows memory to hold at least `bytes`. */
  reserve(bytes: number): void {
    const memory = this.exports.memory;
    const missing = bytes - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    if (this.words.buffer !== memory.buffer) this.words = new BigUint64Array(memory.buffer);
  }

  /** Writes values (each in [0, p)) as consecutive elements from byte offset `at`. */
  write(at: number, values: readonly bigint[]): void {
    const w = this.words;
    let i = at / 8;
    for (const v of values) {
      // BigUint64Array stores each value mod 2^64.
      w[i] = v;
      w[i + 1] = v >> 64n;
      w[i + 2] = v >> 128n;
      w[i + 3] = v >> 192n;
      i += 4;
    }
  }

  /** One element written at `at`. */
  writeOne(at: number, v: bigint): void {
    this.write(at, [v]);
  }

  /** `count` elements read from byte offset `at`. */
  read(at: number, count: number): bigint[] {
    const w = this.words;
    const out = new Array<bigint>(count);
    for (let k = 0, i = at / 8; k < count; k++, i += 4) out[k] = (w[i + 3]! << 192n) | (w[i + 2]! << 128n) | (w[i + 1]! << 64n) | w[i]!;
    return out;
  }

  /** Copies `count` elements from byte offset `from` to `to` (ranges may overlap). */
  copy(to: number, from: number, count: number): void {
    this.words.copyWithin(to / 8, from / 8, from / 8 + 4 * count);
  }
}

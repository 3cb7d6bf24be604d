// Batched affine additions of BN254 G1 and G2 points in WebAssembly, on mcl's own heap.
//
// mcl keeps a point as Jacobian (x, y, z), over Fp for G1 and over Fp2 = Fp[i]/(i^2 + 1) for G2,
// each Fp element in 48 bytes holding eight little-endian 32-bit limbs in Montgomery form with
// R = 2^256 (the form wasm/montgomery.ts computes in), so this module imports mcl's memory and works
// on its points in place. An affine addition costs one field inversion; k of them share one by
// Montgomery's trick (prefix products, one inversion, a backward pass), about six multiplications
// each, where a mixed Jacobian addition in mcl costs eleven. Pippenger's bucket accumulation is made of such
// additions (no two of a batch into the same bucket); the caller keeps every point affine (z = 1)
// and leaves the cases x1 = x2 (doubling, or a sum at infinity) to mcl.
import { type ExportedFunction, encodeModule, FunctionBody, I32, Op } from "../../wasm-emitter.js";
import { modAdd, modSub, montgomeryMul } from "./montgomery.js";

/** Bytes of one Fp element in mcl's layout (MCLBN_FP_UNIT_SIZE 6), and of one Fp2 element. */
export const FP_BYTES = 48;
export const FP2_BYTES = 2 * FP_BYTES;
/** A pair record: bucket pointer, point pointer, negate flag (i32 each). */
export const PAIR_BYTES = 12;

const [MUL, ADD, SUB, COPY, FP2_MUL, FP2_ADD, FP2_SUB, FP_INV, FP2_INV, FP2_COPY, FP_MUL_S, FP_INV_S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/** One coordinate field's operations, by function index, all with the same signatures. */
interface CoordinateField {
  /** Bytes of one element (a point is x, y, z of these). */
  bytes: number;
  /** (out, a, b, scratch) */
  mul: number;
  /** (out, a, b) */
  add: number;
  sub: number;
  /** (out, a, scratch, zero) */
  inv: number;
  /** (out, a) */
  copy: number;
}

const G1_FIELD: CoordinateField = { bytes: FP_BYTES, mul: FP_MUL_S, add: ADD, sub: SUB, inv: FP_INV_S, copy: COPY };
const G2_FIELD: CoordinateField = { bytes: 2 * FP_BYTES, mul: FP2_MUL, add: FP2_ADD, sub: FP2_SUB, inv: FP2_INV, copy: FP2_COPY };

// The scratch area's slots (FP2_BYTES each), at the pointer passed to batchAdd.
const S_ACC = 0;
const S_INV = 1;
const S_D = 2;
const S_T = 3;
const S_LAMBDA = 4;
const S_DY = 5;
const S_X3 = 6;
const S_TMP = 7;
/** Zero (written by the caller). */
export const S_ZERO = 8;
/** Scratch of fp2Mul (four Fp elements) and fp2Inv (three). */
const S_MUL = 9;
const S_INVERT = 11;
/** One, (1, 0) in Montgomery form (written by the caller). */
export const S_ONE = 13;
/** Slots the scratch area needs. */
export const SCRATCH_SLOTS = 14;

/** copy(out, a): one Fp element (its eight limbs). */
function copyFp(): FunctionBody {
  const f = new FunctionBody([I32, I32]);
  for (let j = 0; j < 4; j++)
    f.get(0)
      .get(1)
      .load64(8 * j)
      .store64(8 * j);
  return f;
}

/** fp2Copy(out, a). */
function fp2Copy(): FunctionBody {
  const f = new FunctionBody([I32, I32]);
  f.get(0).get(1).call(COPY);
  f.get(0).i32(FP_BYTES).emit(Op.i32Add).get(1).i32(FP_BYTES).emit(Op.i32Add).call(COPY);
  return f;
}

/** fpMulS(out, a, b, s) and fpInvS(out, a, s, zero): Fp's mul and inverse with the Fp2 signatures. */
function fpWithScratch(fn: number, args: number): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  for (let i = 0; i < args; i++) f.get(i);
  f.call(fn);
  return f;
}

/** fp2Mul(out, a, b, s): Karatsuba over Fp[i]/(i^2 + 1); out may alias a or b; s holds four Fp. */
function fp2Mul(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [out, a, b, s] = [0, 1, 2, 3];
  const at = (p: number, offset: number) => f.get(p).i32(offset).emit(Op.i32Add);
  const call3 = (fn: number, o: [number, number], x: [number, number], y: [number, number]) => {
    at(...o);
    at(...x);
    at(...y);
    f.call(fn);
  };
  call3(MUL, [s, 0], [a, 0], [b, 0]); // t0 = a0 b0
  call3(MUL, [s, 48], [a, 48], [b, 48]); // t1 = a1 b1
  call3(ADD, [s, 96], [a, 0], [a, 48]); // a0 + a1
  call3(ADD, [s, 144], [b, 0], [b, 48]); // b0 + b1
  call3(MUL, [s, 96], [s, 96], [s, 144]); // t2 = (a0 + a1)(b0 + b1)
  call3(SUB, [out, 0], [s, 0], [s, 48]); // out0 = t0 - t1
  call3(SUB, [s, 96], [s, 96], [s, 0]);
  call3(SUB, [out, 48], [s, 96], [s, 48]); // out1 = t2 - t0 - t1
  return f;
}

/** fp2Add / fp2Sub(out, a, b): component-wise. */
function fp2Componentwise(fn: number): FunctionBody {
  const f = new FunctionBody([I32, I32, I32]);
  f.get(0).get(1).get(2).call(fn);
  for (const p of [0, 1, 2]) f.get(p).i32(FP_BYTES).emit(Op.i32Add);
  f.call(fn);
  return f;
}

/** fpInv(out, a): a^(p - 2) by square-and-multiply along p - 2's bits (out must not alias a; a nonzero). */
function fpInv(p: bigint): FunctionBody {
  const f = new FunctionBody([I32, I32]);
  const [out, a] = [0, 1];
  const bits = (p - 2n).toString(2);
  f.get(out).get(a).call(COPY);
  for (const bit of bits.slice(1)) {
    f.get(out).get(out).get(out).call(MUL);
    if (bit === "1") f.get(out).get(out).get(a).call(MUL);
  }
  return f;
}

/** Pushes the address `local + offset`. */
function address(f: FunctionBody, local: number, offset: number): void {
  f.get(local);
  if (offset !== 0) f.i32(offset).emit(Op.i32Add);
}

/** fp2Inv(out, a, s, zero): conj(a) / (a0^2 + a1^2); s holds three Fp; out must not alias a. */
function fp2Inv(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [out, a, s, zero] = [0, 1, 2, 3];
  const call = (fn: number, ...args: [number, number][]) => {
    for (const [local, offset] of args) address(f, local, offset);
    f.call(fn);
  };
  call(MUL, [s, 0], [a, 0], [a, 0]); // a0^2
  call(MUL, [s, 48], [a, 48], [a, 48]); // a1^2
  call(ADD, [s, 0], [s, 0], [s, 48]); // the norm
  call(FP_INV, [s, 96], [s, 0]); // 1 / norm
  call(MUL, [out, 0], [a, 0], [s, 96]); // a0 / norm
  call(MUL, [s, 48], [a, 48], [s, 96]);
  call(SUB, [out, 48], [zero, 0], [s, 48]); // -a1 / norm
  return f;
}

/**
 * batchAdd(pairs, count, prefix, s): for each record (bucket, point, negate), bucket <- bucket +
 * (negate ? -point : point), both affine with distinct x, over the coordinate field F. prefix
 * holds count elements of F; s the scratch slots, S_ONE holding 1 and S_ZERO zero. No bucket twice
 * in one call.
 */
function batchAdd(F: CoordinateField): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [pairs, count, prefix, s] = [0, 1, 2, 3];
  const [k, rec, bucket, point, negate, pre] = Array.from({ length: 6 }, () => f.local(I32));
  const slot = (n: number): [number, number] => [s, n * FP2_BYTES];
  const call = (fn: number, ...args: [number, number][]) => {
    for (const [local, offset] of args) address(f, local, offset);
    f.call(fn);
  };
  const mul = (out: [number, number], a: [number, number], b: [number, number]) => call(F.mul, out, a, b, slot(S_MUL));
  const x = (p: number): [number, number] => [p, 0];
  const y = (p: number): [number, number] => [p, F.bytes];
  const readRecord = () => {
    f.get(pairs).get(k).i32(PAIR_BYTES).emit(Op.i32Mul, Op.i32Add).set(rec);
    f.get(rec).loadI32(0).set(bucket);
    f.get(rec).loadI32(4).set(point);
    f.get(rec).loadI32(8).set(negate);
    f.get(prefix).get(k).i32(F.bytes).emit(Op.i32Mul, Op.i32Add).set(pre);
  };
  // Pass 1: prefix[k] = d_0 ... d_(k-1), d = x2 - x1; S_ACC ends as the product of all.
  call(F.copy, slot(S_ACC), slot(S_ONE));
  f.i32(0).set(k);
  f.block().loop();
  f.get(k).get(count).emit(Op.i32GeU).brIf(1);
  readRecord();
  call(F.copy, [pre, 0], slot(S_ACC));
  call(F.sub, slot(S_D), x(point), x(bucket));
  mul(slot(S_ACC), slot(S_ACC), slot(S_D));
  f.get(k).i32(1).emit(Op.i32Add).set(k);
  f.br(0).end().end();
  // One inversion for the batch.
  call(F.inv, slot(S_INV), slot(S_ACC), slot(S_INVERT), slot(S_ZERO));
  // Pass 2, backwards: 1 / d_k = inv prefix[k], then inv <- inv d_k.
  f.block().loop();
  f.get(k).eqz32().brIf(1);
  f.get(k).i32(1).emit(Op.i32Sub).set(k);
  readRecord();
  call(F.sub, slot(S_D), x(point), x(bucket));
  mul(slot(S_T), slot(S_INV), [pre, 0]);
  mul(slot(S_INV), slot(S_INV), slot(S_D));
  // dy = y2 - y1, or -y2 - y1 when the point is subtracted.
  f.get(negate).emit(Op.if, 0x40);
  call(F.add, slot(S_DY), y(point), y(bucket));
  call(F.sub, slot(S_DY), slot(S_ZERO), slot(S_DY));
  f.emit(Op.else);
  call(F.sub, slot(S_DY), y(point), y(bucket));
  f.end();
  mul(slot(S_LAMBDA), slot(S_DY), slot(S_T)); // lambda = dy / dx
  mul(slot(S_X3), slot(S_LAMBDA), slot(S_LAMBDA));
  call(F.sub, slot(S_X3), slot(S_X3), x(bucket));
  call(F.sub, slot(S_X3), slot(S_X3), x(point)); // x3 = lambda^2 - x1 - x2
  call(F.sub, slot(S_TMP), x(bucket), slot(S_X3));
  mul(slot(S_TMP), slot(S_LAMBDA), slot(S_TMP));
  call(F.sub, y(bucket), slot(S_TMP), y(bucket)); // y3 = lambda (x1 - x3) - y1
  call(F.copy, x(bucket), slot(S_X3));
  f.br(0).end().end();
  return f;
}

/** The module's bytes for BN254's base field p (mcl's memory imported as env.memory). */
export function affineBatchModuleBytes(p: bigint): Uint8Array {
  const functions: ExportedFunction[] = [
    { name: "mul", body: montgomeryMul(p), results: [] },
    { name: "add", body: modAdd(p), results: [] },
    { name: "sub", body: modSub(p), results: [] },
    { name: "copy", body: copyFp(), results: [] },
    { name: "fp2Mul", body: fp2Mul(), results: [] },
    { name: "fp2Add", body: fp2Componentwise(ADD), results: [] },
    { name: "fp2Sub", body: fp2Componentwise(SUB), results: [] },
    { name: "fpInv", body: fpInv(p), results: [] },
    { name: "fp2Inv", body: fp2Inv(), results: [] },
    { name: "fp2Copy", body: fp2Copy(), results: [] },
    { name: "fpMulS", body: fpWithScratch(MUL, 3), results: [] },
    { name: "fpInvS", body: fpWithScratch(FP_INV, 2), results: [] },
    { name: "g1BatchAdd", body: batchAdd(G1_FIELD), results: [] },
    { name: "g2BatchAdd", body: batchAdd(G2_FIELD), results: [] },
  ];
  if (functions[FP_INV_S]!.name !== "fpInvS") throw new Error("function indices out of order");
  return encodeModule(functions, { imported: true });
}

export interface AffineBatchExports {
  g1BatchAdd(pairs: number, count: number, prefix: number, scratch: number): void;
  g2BatchAdd(pairs: number, count: number, prefix: number, scratch: number): void;
  fp2Mul(out: number, a: number, b: number, scratch: number): void;
  fp2Inv(out: number, a: number, scratch: number, zero: number): void;
}

/** Instantiates the module on `memory` (mcl's heap). */
export function affineBatchKernel(p: bigint, memory: WebAssembly.Memory): AffineBatchExports {
  const module = new WebAssembly.Module(affineBatchModuleBytes(p));
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as AffineBatchExports;
}

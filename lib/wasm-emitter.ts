// A small WebAssembly binary emitter (the WebAssembly Core Specification, "Binary Format"): LEB128
// integers, the type, function, memory, export and code sections, and the handful of instructions
// the lab's kernels use (the BN254 field kernels in lib/da/wasm, the batched matrix product in
// lib/tf). A module is built from TypeScript at load time, so the kernels need no assembler and no
// .wasm file to keep in step with its source.

/** Unsigned LEB128 (5.2.2 "Integers"). */
export function unsignedLeb128(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a bigint (i32.const and i64.const immediates). */
export function signedLeb128(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const signBitClear = (byte & 0x40) === 0;
    if ((v === 0n && signBitClear) || (v === -1n && !signBitClear)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
/** SIMD's 128-bit vector (the fixed-width SIMD proposal, now in the core specification). */
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof I64 | typeof F32 | typeof V128;

/** The opcodes used here (5.4 "Instructions"). */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i64Load32U: 0x35,
  i64Store: 0x37,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivU: 0x6e,
  i32ShrU: 0x76,
  i32Shl: 0x74,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
} as const;

/** The empty block type (a block, loop or if that takes and leaves nothing). */
const BLOCK_VOID = 0x40;

/** One function's body: its locals after the parameters, and its instructions as bytes. */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly locals: ValueType[] = [];

  constructor(readonly params: readonly ValueType[]) {}

  /** A new local of `type`; returns its index. */
  local(type: ValueType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  emit(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  get(index: number): this {
    return this.emit(Op.localGet, ...unsignedLeb128(index));
  }

  set(index: number): this {
    return this.emit(Op.localSet, ...unsignedLeb128(index));
  }

  tee(index: number): this {
    return this.emit(Op.localTee, ...unsignedLeb128(index));
  }

  i32(value: number): this {
    return this.emit(Op.i32Const, ...signedLeb128(BigInt(value | 0)));
  }

  i64(value: bigint): this {
    return this.emit(Op.i64Const, ...signedLeb128(BigInt.asIntN(64, value)));
  }

  /** i64.load32_u at the address on the stack plus `offset` bytes (4-byte aligned). */
  load32(offset: number): this {
    return this.emit(Op.i64Load32U, 2, ...unsignedLeb128(offset));
  }

  /** i32.load at the address on the stack plus `offset` bytes (4-byte aligned). */
  loadI32(offset: number): this {
    return this.emit(Op.i32Load, 2, ...unsignedLeb128(offset));
  }

  /** i64.load at the address on the stack plus `offset` bytes (the alignment hint says 4 bytes). */
  load64(offset: number): this {
    return this.emit(Op.i64Load, 2, ...unsignedLeb128(offset));
  }

  store64(offset: number): this {
    return this.emit(Op.i64Store, 2, ...unsignedLeb128(offset));
  }

  /** i64.store32 of the value on the stack to the address below it plus `offset` bytes. */
  store32(offset: number): this {
    return this.emit(Op.i64Store32, 2, ...unsignedLeb128(offset));
  }

  call(functionIndex: number): this {
    return this.emit(Op.call, ...unsignedLeb128(functionIndex));
  }

  /** i32.eqz. */
  eqz32(): this {
    return this.emit(Op.i32Eqz);
  }

  block(): this {
    return this.emit(Op.block, BLOCK_VOID);
  }

  loop(): this {
    return this.emit(Op.loop, BLOCK_VOID);
  }

  end(): this {
    return this.emit(Op.end);
  }

  /** br_if to the enclosing label `depth` levels out. */
  brIf(depth: number): this {
    return this.emit(Op.brIf, ...unsignedLeb128(depth));
  }

  br(depth: number): this {
    return this.emit(Op.br, ...unsignedLeb128(depth));
  }

  /** The code section's entry: size, locals (run-length grouped), instructions, end. */
  encode(): number[] {
    const groups: [number, ValueType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...unsignedLeb128(groups.length), ...groups.flatMap(([count, type]) => [...unsignedLeb128(count), type]), ...this.code, Op.end];
    return [...unsignedLeb128(body.length), ...body];
  }
}

export interface ExportedFunction {
  name: string;
  body: FunctionBody;
  /** Result types (none or one). */
  results: readonly ValueType[];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb128(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb128(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb128(bytes.length), ...bytes];
}

/**
 * The module's memory: its own (exported as "memory"), or one imported as env.memory (another
 * module's heap; a shared one must declare a maximum, and wasm32's 65,536 pages admit any).
 */
export type ModuleMemory = { pages: number } | { imported: true; shared?: boolean };

/** An imported memory's limits: at least 0 pages; shared ones up to 65,536 (4 GiB). */
function importedLimits(shared: boolean): number[] {
  return shared ? [0x03, ...unsignedLeb128(0), ...unsignedLeb128(65536)] : [0x00, ...unsignedLeb128(0)];
}

/**
 * A module of `functions` (function i has index i, in the order given), all exported by name, and
 * one memory: `{ pages }` of its own, growable, exported as "memory", or `{ imported }` from
 * env.memory (`shared` when that memory is a SharedArrayBuffer's).
 */
export function encodeModule(functions: readonly ExportedFunction[], memory: ModuleMemory): Uint8Array {
  const own = "pages" in memory;
  const types = functions.map((f) => [0x60, ...vector(f.body.params.map((p) => [p])), ...vector(f.results.map((r) => [r]))]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...section(1, vector(types)),
    ...(own ? [] : section(2, vector([[...name("env"), ...name("memory"), 0x02, ...importedLimits(memory.shared ?? false)]]))),
    ...section(3, vector(functions.map((_, i) => unsignedLeb128(i)))),
    ...(own ? section(5, vector([[0x00, ...unsignedLeb128(memory.pages)]])) : []),
    ...section(7, vector([...functions.map((f, i) => [...name(f.name), 0x00, ...unsignedLeb128(i)]), ...(own ? [[...name("memory"), 0x02, 0x00]] : [])])),
    ...section(10, vector(functions.map((f) => f.body.encode()))),
  ];
  return Uint8Array.from(bytes);
}

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot } from "./cache.js";
import { CanonicalJsonError, canonicalJson } from "./canonical-json.js";
import { LabError } from "./errors.js";
import { fromRoot, readJson, sha256File, sha256Hex, writeJsonAtomic } from "./files.js";

/**
 * A cache for expensive, deterministic steps (an LDS ground truth: dozens of retrainings), keyed
 * by their code and their inputs: the sha256 of every lib/ source file the step's module imports,
 * directly or not, and of package-lock.json, with the canonical JSON of the inputs. Change a line
 * of the code or one input and the key changes; nothing is ever invalidated by hand.
 *
 * LAB_STEP_CACHE chooses the mode: `use` (the default) reads an entry when there is one and writes
 * it when there is not; `bypass` computes every step and leaves the cache as it is, but compares
 * each fresh value with the entry it would have read, so a stale or non-deterministic entry shows
 * as a difference. `./lab reproduce` bypasses it unless told `--use-cache`.
 */

export type StepCacheMode = "use" | "bypass";

export const STEP_CACHE_MODES: readonly StepCacheMode[] = ["use", "bypass"];

/** The mode the experiment code runs in, from LAB_STEP_CACHE; anything else is refused. */
export function stepCacheMode(env: NodeJS.ProcessEnv = process.env): StepCacheMode {
  const mode = env.LAB_STEP_CACHE ?? "use";
  if (!(STEP_CACHE_MODES as readonly string[]).includes(mode)) {
    throw new LabError({
      code: "cache/bad-mode",
      message: `LAB_STEP_CACHE=${JSON.stringify(mode)} is not a step-cache mode`,
      hint: `set LAB_STEP_CACHE to one of: ${STEP_CACHE_MODES.join(", ")} (or leave it unset for "use")`,
      fields: { setting: "LAB_STEP_CACHE", value: mode, allowed: [...STEP_CACHE_MODES] },
    });
  }
  return mode as StepCacheMode;
}

/** The step cache's folder: steps/ under the lab's cache root (lib/cache.ts). */
export function stepCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), "steps");
}

// --- canonical JSON of the inputs ------------------------------------------------------------

/** The inputs' canonical JSON (RFC 8785, lib/canonical-json.ts); a value it refuses is a bad step input. */
function inputsJson(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
    const { path, got } = e.fields;
    throw new LabError({
      code: "cache/bad-input",
      message: `step input ${path} is ${got}, which has no canonical JSON`,
      hint: "pass finite numbers, strings, booleans, null, arrays, typed arrays and plain objects as step inputs",
      fields: { path, got },
      cause: e,
    });
  }
}

// --- the code a step runs ----------------------------------------------------------------------

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

/**
 * The TypeScript source of a module under lib/: the module itself when it runs from source
 * (tsx), its lib/ counterpart when it runs from the build (dist/lib/x.js is lib/x.ts).
 */
export function sourceOf(moduleUrlOrPath: string): string {
  const path = moduleUrlOrPath.startsWith("file:") ? fileURLToPath(moduleUrlOrPath) : resolve(moduleUrlOrPath);
  const fromDist = relative(fromRoot("dist"), path);
  const candidate = !fromDist.startsWith("..") ? fromRoot(fromDist) : path;
  const ts = candidate.replace(/\.js$/, ".ts");
  if (existsSync(ts)) return ts;
  if (existsSync(candidate)) return candidate;
  throw new LabError({
    code: "cache/missing-source",
    message: `the source of ${moduleUrlOrPath} is not in this checkout (looked for ${relative(fromRoot(), ts)})`,
    hint: "run the step from a checkout of the lab, where lib/ holds the sources the cache key is made of",
    fields: { module: moduleUrlOrPath, looked: relative(fromRoot(), ts) },
  });
}

/** Every source file a module imports, directly or through others (relative imports only), itself included. */
export function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const pending = [sourceOf(entry)];
  while (pending.length) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]);
      const ts = target.replace(/\.js$/, ".ts");
      if (existsSync(ts)) pending.push(ts);
      else if (existsSync(target)) pending.push(target);
    }
  }
  return [...seen].sort();
}

const codeHashes = new Map<string, Record<string, string>>();

/**
 * The code identity of a step run by `moduleUrl`: sha256 of each source file in its import
 * closure (repository-relative paths) and of package-lock.json, for the packages it uses.
 * Computed once per process and module.
 */
export function codeIdentity(moduleUrl: string): Record<string, string> {
  const known = codeHashes.get(moduleUrl);
  if (known) return known;
  const identity: Record<string, string> = {};
  for (const file of importClosure(moduleUrl)) identity[relative(fromRoot(), file)] = sha256File(file);
  const lock = fromRoot("package-lock.json");
  if (existsSync(lock)) identity["package-lock.json"] = sha256File(lock);
  codeHashes.set(moduleUrl, identity);
  return identity;
}

// --- values on disk ----------------------------------------------------------------------------

type TypedArrayName = "Float64Array" | "Float32Array" | "Int32Array" | "Uint32Array" | "Uint8Array" | "Int8Array" | "Int16Array" | "Uint16Array";
const TYPED: Record<TypedArrayName, new (buffer: ArrayBuffer) => ArrayBufferView> = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
  Int8Array,
  Int16Array,
  Uint16Array,
};

/** A value as JSON with typed arrays kept bit for bit (their bytes in base64), so a read-back is exact. */
export function encodeValue(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && value.constructor.name in TYPED) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $typed: value.constructor.name, base64: bytes.toString("base64") };
  }
  if (typeof value === "number" && !Number.isFinite(value)) return { $number: String(value) };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeValue(v)]));
  return value;
}

export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.$typed === "string" && typeof o.base64 === "string" && o.$typed in TYPED) {
      const bytes = Buffer.from(o.base64, "base64");
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      return new TYPED[o.$typed as TypedArrayName](buffer);
    }
    if (typeof o.$number === "string" && Object.keys(o).length === 1) return Number(o.$number);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decodeValue(v)]));
  }
  return value;
}

interface Entry {
  step: string;
  key: string;
  code: Record<string, string>;
  inputs: unknown;
  createdAt: string;
  value: unknown;
}

// --- the cache ---------------------------------------------------------------------------------

export interface StepSpec {
  /** The step's name, e.g. "logreg-fmnist/lds-ground-truth": its folder in the cache. */
  step: string;
  /** import.meta.url of the module that runs the step: its import closure is the step's code. */
  module: string;
  /** Everything the step's result depends on besides its code (seed, sizes, hyperparameters). */
  inputs: unknown;
}

/** What happened to the steps of this process, for the report of a run. */
export interface StepCacheStats {
  mode: StepCacheMode;
  dir: string;
  /** Steps computed (in bypass mode: all of them). */
  computed: number;
  /** Steps read back from the cache. */
  read: number;
  /** Bypassed steps whose fresh value equals the entry on disk. */
  matched: number;
  /** Bypassed steps whose fresh value differs from the entry on disk: the step name and key. */
  differed: { step: string; key: string }[];
}

let stats: StepCacheStats | undefined;

function currentStats(): StepCacheStats {
  stats ??= { mode: stepCacheMode(), dir: stepCacheDir(), computed: 0, read: 0, matched: 0, differed: [] };
  return stats;
}

/** The counts since the last reset (a reproduction resets them before each experiment). */
export function stepCacheStats(): StepCacheStats {
  const s = currentStats();
  return { ...s, differed: [...s.differed] };
}

/** Starts counting afresh and re-reads LAB_STEP_CACHE and LAB_CACHE_DIR. */
export function resetStepCacheStats(): void {
  stats = undefined;
  currentStats();
}

/** The key of a step: sha256 of the canonical JSON of its name, code identity and inputs. */
export function stepKey(spec: StepSpec): string {
  return sha256Hex(inputsJson({ step: spec.step, code: codeIdentity(spec.module), inputs: spec.inputs }));
}

function entryPath(dir: string, step: string, key: string): string {
  return join(dir, ...step.split("/"), `${key}.json`);
}

function readEntry(path: string): Entry | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readJson<Entry>(path);
  } catch {
    return undefined; // a torn entry cannot exist (atomic writes), but an edited one may: recompute it
  }
}

/**
 * The result of `compute` for this step: read from the cache when an entry for its code and inputs
 * exists (mode `use`), else computed and written. In mode `bypass` it is always computed and
 * compared with the entry, if any, which is left as it was.
 */
export async function cachedStep<T>(spec: StepSpec, compute: () => Promise<T> | T): Promise<T> {
  if (!/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/.test(spec.step)) {
    throw new LabError({
      code: "cache/bad-step-name",
      message: `"${spec.step}" is not a step name`,
      hint: 'name steps with lowercase letters, digits, . _ - and "/" between parts, e.g. "logreg-fmnist/lds-ground-truth"',
      fields: { step: spec.step },
    });
  }
  const s = currentStats();
  const key = stepKey(spec);
  const path = entryPath(s.dir, spec.step, key);
  const entry = readEntry(path);
  if (s.mode === "use" && entry) {
    s.read++;
    return decodeValue(entry.value) as T;
  }
  const value = await compute();
  s.computed++;
  const encoded = encodeValue(value);
  if (s.mode === "bypass") {
    if (entry) {
      if (JSON.stringify(entry.value) === JSON.stringify(encoded)) s.matched++;
      else s.differed.push({ step: spec.step, key });
    }
    return value;
  }
  writeJsonAtomic(path, { step: spec.step, key, code: codeIdentity(spec.module), inputs: JSON.parse(inputsJson(spec.inputs)), createdAt: new Date().toISOString(), value: encoded } satisfies Entry);
  return value;
}

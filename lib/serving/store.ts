import { existsSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LabError } from "../errors.js";
import { sha256Hex, writeDirAtomic } from "../files.js";
import { type LoraConfig, loraScaling, matchTargetModules } from "../intelligence/lora/index.js";
import { loraAKey, loraBKey, toPeftKey } from "../intelligence/models/peft-keys.js";
import type { LinearModule, WeightMap } from "../intelligence/models/types.js";
import { toPeftConfig } from "../intelligence/peft/index.js";
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader } from "../intelligence/peft/safetensors.js";
import { rng } from "../random.js";
import { readTensorMap } from "../tf/index.js";
import { type ServableLimits, servableLoraConfig } from "./adapter-config.js";
import { adapterExists, OpenLoraError, unknownAdapter } from "./errors.js";

/**
 * The adapter store: the bottom tier of OpenLoRA's cache. Adapters stay on disk as PEFT folders
 * (adapter_config.json + adapter_model.safetensors, the Model Factory's output or generated
 * ones) and are registered by id. Registration checks the adapter completely, so that nothing a
 * request can meet at run time was left unchecked: the config's types and features
 * (adapter-config.ts), its rank against the slots' largest, the base model it was made for
 * (hash), its layers and shapes against the base, and that every tensor is finite. Reading an
 * adapter (disk → host) checks that the file still has the bytes it was registered with.
 */

/** What the store checks adapters against: the base model's content hash and linear layers. */
export interface BaseModelInfo {
  /** sha256 of the base's model.safetensors (the checkpoint hash). */
  sha256: string;
  modules: LinearModule[];
}

/** The hash a checkpoint of these weights would have: sha256 of their safetensors encoding. */
export async function weightsSha256(weights: WeightMap): Promise<string> {
  return sha256Hex(encodeSafetensors(await readTensorMap(weights), { format: "pt" }));
}

/** Metadata key, in the safetensors header, naming the base model hash the adapter was made on. */
export const BASE_HASH_METADATA = "base_model_sha256";

export interface AdapterRecord {
  id: string;
  dir: string;
  /** sha256 of adapter_model.safetensors at registration. */
  sha256: string;
  baseSha256: string;
  config: LoraConfig;
  modules: LinearModule[];
  /** Bytes of the tensors (what the host tier will hold). */
  tensorBytes: number;
  /** Unix seconds of registration (the `created` of GET /v1/models). */
  created: number;
}

/** One adapted layer in host memory: A [r, in] and B [out, r], row-major float32. */
export interface HostModule {
  name: string;
  inFeatures: number;
  outFeatures: number;
  a: Float32Array;
  b: Float32Array;
}

/** An adapter in host memory (the middle tier). */
export interface HostAdapter {
  id: string;
  sha256: string;
  baseSha256: string;
  config: LoraConfig;
  r: number;
  /** α/r (or α/√r with rsLoRA): the factor of the B·A term. */
  scaling: number;
  modules: HostModule[];
  bytes: number;
}

const ADAPTER_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Refuses an id that is not 1-128 letters, digits and . _ : / -, starting with a letter or digit. */
export function checkAdapterId(id: string): void {
  if (!ADAPTER_ID.test(id) || id.split("/").some((part) => part === "." || part === ".."))
    throw new OpenLoraError({
      code: "adapter/bad-id",
      fields: { adapter: id },
      message: `adapter id ${JSON.stringify(id)} is not a valid name`,
      hint: "use 1-128 letters, digits and . _ : / -, starting with a letter or digit, with no . or .. segment",
    });
}

export class AdapterStore {
  private readonly records = new Map<string, AdapterRecord>();
  readonly limits: ServableLimits;

  constructor(
    readonly base: BaseModelInfo,
    limits: Partial<ServableLimits> = {},
  ) {
    this.limits = { maxRank: limits.maxRank ?? Number.MAX_SAFE_INTEGER };
  }

  /**
   * Registers the PEFT folder `dir` as adapter `id`. The base model hash comes from, in order:
   * `opts.baseSha256`, the safetensors metadata `base_model_sha256`, or the Model Factory's
   * result.json beside the adapter folder (`base_model_sha256`).
   */
  register(id: string, dir: string, opts: { baseSha256?: string } = {}): AdapterRecord {
    checkAdapterId(id);
    if (this.records.has(id)) throw adapterExists(id, `unload it first (DELETE /v1/models/${id}) or choose another id`);
    const record = inspectAdapter(id, dir, this.base, this.limits, opts.baseSha256);
    this.records.set(id, record);
    return record;
  }

  unregister(id: string): AdapterRecord {
    const r = this.get(id);
    this.records.delete(id);
    return r;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  get(id: string): AdapterRecord {
    const r = this.records.get(id);
    if (!r) throw unknownAdapter(id, this.records.size);
    return r;
  }

  list(): AdapterRecord[] {
    return [...this.records.values()];
  }

  /** Disk → host, synchronously (a cold start on the request path). */
  read(id: string): HostAdapter {
    const record = this.get(id);
    return decodeHostAdapter(record, readTensorFile(record));
  }

  /** Disk → host without blocking the event loop (prefetch of queued requests' adapters). */
  async readAsync(id: string): Promise<HostAdapter> {
    const record = this.get(id);
    const bytes = await readFile(join(record.dir, "adapter_model.safetensors")).catch((cause) => {
      throw fileGone(record, cause);
    });
    return decodeHostAdapter(record, bytes);
  }
}

function fileGone(record: AdapterRecord, cause: unknown): OpenLoraError {
  return new OpenLoraError({
    code: "adapter/file-missing",
    status: 410,
    fields: { adapter: record.id, dir: record.dir },
    message: `adapter "${record.id}": ${record.dir}/adapter_model.safetensors can no longer be read`,
    hint: "restore the file or unload the adapter",
    cause,
  });
}

function readTensorFile(record: AdapterRecord): Uint8Array {
  try {
    return readFileSync(join(record.dir, "adapter_model.safetensors"));
  } catch (cause) {
    throw fileGone(record, cause);
  }
}

function corrupt(id: string, dir: string, cause: unknown): OpenLoraError {
  const what = cause instanceof Error ? cause.message : String(cause);
  return new OpenLoraError({
    code: "adapter/corrupt",
    status: 422,
    fields: { adapter: id, dir },
    message: `adapter "${id}" at ${dir}: ${what}`,
    hint: "re-export the adapter (saveAdapter, ./lab factory, or PEFT's save_pretrained)",
    cause,
  });
}

function findBaseSha256(dir: string, metadata: Record<string, string>, given?: string): string | undefined {
  if (given) return given;
  if (metadata[BASE_HASH_METADATA]) return metadata[BASE_HASH_METADATA];
  const result = join(dirname(dir), "result.json");
  if (existsSync(result)) {
    const parsed = JSON.parse(readFileSync(result, "utf8")) as { base_model_sha256?: string };
    return parsed.base_model_sha256;
  }
  return undefined;
}

/** Reads the adapter whole and refuses what this base model and these slots cannot serve. */
export function inspectAdapter(id: string, dir: string, base: BaseModelInfo, limits: ServableLimits, givenBaseSha256?: string): AdapterRecord {
  const cfgPath = join(dir, "adapter_config.json");
  const stPath = join(dir, "adapter_model.safetensors");
  for (const p of [cfgPath, stPath]) {
    if (!existsSync(p) || !statSync(p).isFile()) {
      throw new OpenLoraError({
        code: "adapter/not-found",
        status: 404,
        fields: { adapter: id, path: p },
        message: `adapter "${id}": ${p} does not exist`,
        hint: "point at a PEFT adapter folder (adapter_config.json and adapter_model.safetensors)",
      });
    }
  }
  let raw: unknown;
  let bytes: Uint8Array;
  let header: ReturnType<typeof readSafetensorsHeader>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, "utf8"));
    bytes = readFileSync(stPath);
    header = readSafetensorsHeader(bytes);
  } catch (cause) {
    throw corrupt(id, dir, cause);
  }
  const config = servableLoraConfig(id, raw, limits);
  const baseSha256 = findBaseSha256(dir, header.metadata, givenBaseSha256);
  if (!baseSha256) {
    throw new OpenLoraError({
      code: "adapter/base-unknown",
      status: 422,
      fields: { adapter: id, dir },
      message: `adapter "${id}" does not say which base model it was trained on`,
      hint: `pass its base model hash at registration, or write "${BASE_HASH_METADATA}" into the safetensors metadata (the Model Factory records it in result.json)`,
    });
  }
  if (baseSha256 !== base.sha256) {
    throw new OpenLoraError({
      code: "adapter/base-mismatch",
      status: 422,
      fields: { adapter: id, adapterBase: baseSha256, servedBase: base.sha256 },
      message: `adapter "${id}" was trained on base model ${baseSha256.slice(0, 12)}…, this server runs ${base.sha256.slice(0, 12)}…`,
      hint: "serve it on the base model it was trained on, or retrain it on this one",
    });
  }
  const modules = matchTargetModules(base.modules, config.targetModules);
  const expected = new Map<string, number[]>();
  for (const m of modules) {
    expected.set(toPeftKey(loraAKey(m.name)), [config.r, m.inFeatures]);
    expected.set(toPeftKey(loraBKey(m.name)), [m.outFeatures, config.r]);
  }
  const names = Object.keys(header.header);
  const problems: string[] = [];
  if (modules.length === 0) problems.push(`target_modules ${JSON.stringify(config.targetModules)} match no layer`);
  for (const [name, shape] of expected) {
    const e = header.header[name];
    if (!e) problems.push(`${name} is missing`);
    else if (e.shape.join(",") !== shape.join(",")) problems.push(`${name} has shape [${e.shape}], the base needs [${shape}]`);
    else if (e.dtype !== "F32") problems.push(`${name} has dtype ${e.dtype}, F32 is read`);
  }
  for (const name of names) if (!expected.has(name)) problems.push(`${name} belongs to no layer of the base`);
  if (problems.length) {
    throw new OpenLoraError({
      code: "adapter/shape-mismatch",
      status: 422,
      fields: { adapter: id, problems: problems.slice(0, 8) },
      message: `adapter "${id}" does not fit the base model: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ""}`,
      hint: "load the adapter onto the architecture it was trained for",
    });
  }
  checkFinite(id, dir, bytes, [...expected.keys()]);
  const tensorBytes = bytes.byteLength - header.dataStart;
  return { id, dir, sha256: sha256Hex(bytes), baseSha256, config, modules, tensorBytes, created: Math.floor(Date.now() / 1000) };
}

/** Refuses an adapter with a NaN or infinite entry: it would poison every token it touches. */
function checkFinite(id: string, dir: string, bytes: Uint8Array, names: string[]): void {
  let tensors: ReturnType<typeof decodeSafetensors>["tensors"];
  try {
    tensors = decodeSafetensors(bytes).tensors;
  } catch (cause) {
    throw corrupt(id, dir, cause);
  }
  for (const name of names) {
    const data = tensors[name].data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]))
        throw new OpenLoraError({
          code: "adapter/non-finite",
          status: 422,
          fields: { adapter: id, tensor: name, index: i },
          message: `adapter "${id}": ${name}[${i}] is ${data[i]}`,
          hint: "retrain or re-export the adapter: a NaN or infinite weight makes every output it touches NaN",
        });
    }
  }
}

function decodeHostAdapter(record: AdapterRecord, bytes: Uint8Array): HostAdapter {
  const sha256 = sha256Hex(bytes);
  if (sha256 !== record.sha256) {
    throw new OpenLoraError({
      code: "adapter/changed",
      status: 409,
      fields: { adapter: record.id, registered: record.sha256, now: sha256 },
      message: `adapter "${record.id}": adapter_model.safetensors changed since it was registered`,
      hint: "unload and load the adapter again to serve the new file",
    });
  }
  let tensors: ReturnType<typeof decodeSafetensors>["tensors"];
  try {
    tensors = decodeSafetensors(bytes).tensors;
  } catch (cause) {
    throw corrupt(record.id, record.dir, cause);
  }
  const modules: HostModule[] = record.modules.map((m) => ({
    name: m.name,
    inFeatures: m.inFeatures,
    outFeatures: m.outFeatures,
    a: tensors[toPeftKey(loraAKey(m.name))].data,
    b: tensors[toPeftKey(loraBKey(m.name))].data,
  }));
  const bytesHeld = modules.reduce((s, m) => s + m.a.byteLength + m.b.byteLength, 0);
  return { id: record.id, sha256, baseSha256: record.baseSha256, config: record.config, r: record.config.r, scaling: loraScaling(record.config), modules, bytes: bytesHeld };
}

export interface GeneratedAdapterSpec {
  r: number;
  alpha?: number;
  targetModules: string[];
  seed: number;
  /** Standard deviation of B (A is Kaiming-uniform, as PEFT initialises it). */
  bStd?: number;
}

/**
 * Writes a PEFT adapter with seeded random A and B (B non-zero, so it changes the output, as a
 * trained adapter does) for scale tests, its base model hash in the safetensors metadata.
 */
export function writeGeneratedAdapter(dir: string, base: BaseModelInfo, spec: GeneratedAdapterSpec): string {
  const modules = matchTargetModules(base.modules, spec.targetModules);
  if (modules.length === 0)
    throw new LabError({
      code: "adapter/no-targets",
      message: `target modules ${JSON.stringify(spec.targetModules)} match no layer of the base`,
      hint: "use names like q_proj, v_proj, fc_in",
      fields: { targets: spec.targetModules },
    });
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const m of modules) {
    const r = rng(spec.seed).fork(`generated:${m.name}`);
    const a = new Float32Array(spec.r * m.inFeatures);
    const bound = 1 / Math.sqrt(m.inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = (2 * r.next() - 1) * bound;
    const b = new Float32Array(m.outFeatures * spec.r);
    for (let i = 0; i < b.length; i++) b[i] = r.normal() * (spec.bStd ?? 0.05);
    tensors[toPeftKey(loraAKey(m.name))] = { shape: [spec.r, m.inFeatures], data: a };
    tensors[toPeftKey(loraBKey(m.name))] = { shape: [m.outFeatures, spec.r], data: b };
  }
  const bytes = encodeSafetensors(tensors, { format: "pt", [BASE_HASH_METADATA]: base.sha256 });
  const config: LoraConfig = {
    r: spec.r,
    loraAlpha: spec.alpha ?? 2 * spec.r,
    loraDropout: 0,
    targetModules: spec.targetModules,
    useRslora: false,
    useDora: false,
    initLoraWeights: "kaiming",
    bias: "none",
  };
  writeDirAtomic(dir, {
    "adapter_config.json": `${JSON.stringify(toPeftConfig(config, `sha256:${base.sha256}`, "CAUSAL_LM"), null, 2)}\n`,
    "adapter_model.safetensors": bytes,
  });
  return sha256Hex(bytes);
}

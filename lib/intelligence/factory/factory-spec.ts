import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { canonicalJson } from "../../canonical-json.js";
import { closest, suggestion } from "../../did-you-mean.js";
import { sha256Hex } from "../../files.js";
import type { OverrideField } from "../../overrides.js";
import { SpecError } from "../errors.js";
import { BASE_MODELS } from "../models/zoo.js";
import { DATANET_CATALOG } from "./catalog.js";

/**
 * A Model Factory spec: what to fine-tune, on which datanets, how, and what to keep. Written
 * in YAML or JSON with snake_case keys (as PEFT and Hugging Face configs are); every field is
 * checked before anything runs, and a refusal names the field and the fix.
 */
export interface FactorySpec {
  name: string;
  base_model: { name: string; pretrain: "quick" | "full"; seed: number; sha256: string | null };
  data: { datanets: string[]; scale: number; validation_fraction: number };
  method: "lora" | "full" | "head";
  lora: {
    r: number;
    alpha: number;
    dropout: number;
    target_modules: string[];
    use_rslora: boolean;
    use_dora: boolean;
    init: "kaiming" | "gaussian";
  };
  optimizer: { name: "adam" | "adamw" | "sgd"; lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; lr_ratio_b: number };
  schedule: { kind: "constant" | "linear" | "cosine"; warmup_steps: number };
  training: { steps: number | null; epochs: number | null; batch_size: number; micro_batch_size: number | null };
  seed: number;
  checkpoints: { every: number; keep: number };
  evaluation: { every: number; test_limit: number };
  output: { dir: string | null };
}

type Kind = "string" | "number" | "integer" | "boolean" | "string[]" | "object";
interface Field {
  kind: Kind;
  default?: unknown;
  nullable?: boolean;
  oneOf?: readonly string[];
  min?: number;
  max?: number;
  exclusiveMin?: number;
  pattern?: RegExp;
  fields?: Record<string, Field>;
  doc: string;
}

const SCHEMA: Record<string, Field> = {
  name: { kind: "string", pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, doc: "run name: letters, digits, . _ - (up to 80)" },
  base_model: {
    kind: "object",
    doc: "the base model",
    fields: {
      name: { kind: "string", oneOf: Object.keys(BASE_MODELS), doc: "a base model the lab can build" },
      pretrain: { kind: "string", oneOf: ["quick", "full"], default: "quick", doc: "pretraining budget of the base checkpoint" },
      seed: { kind: "integer", min: 0, default: 1, doc: "pretraining seed" },
      sha256: { kind: "string", nullable: true, default: null, pattern: /^(0x)?[0-9a-f]{64}$/, doc: "expected content hash of model.safetensors (64 lowercase hex)" },
    },
  },
  data: {
    kind: "object",
    doc: "training data",
    fields: {
      datanets: { kind: "string[]", doc: "datanet names" },
      scale: { kind: "number", exclusiveMin: 0, max: 1, default: 1, doc: "fraction of each contributor's samples to build" },
      validation_fraction: { kind: "number", min: 0, max: 0.5, default: 0.1, doc: "share of the datanet held out for validation" },
    },
  },
  method: { kind: "string", oneOf: ["lora", "full", "head"], default: "lora", doc: "lora, full fine-tuning, or the last layer only" },
  lora: {
    kind: "object",
    default: {},
    doc: "LoRA settings (PEFT LoraConfig names)",
    fields: {
      // A rank above the layers' widths adds nothing (the update's rank is at most min(in, out)); 256 covers any base here.
      r: { kind: "integer", min: 1, max: 256, default: 8, doc: "rank" },
      alpha: { kind: "number", exclusiveMin: 0, default: 16, doc: "lora_alpha" },
      dropout: { kind: "number", min: 0, max: 0.9, default: 0, doc: "lora_dropout" },
      target_modules: { kind: "string[]", default: [], doc: "module names or suffixes" },
      use_rslora: { kind: "boolean", default: false, doc: "scale by alpha/sqrt(r)" },
      use_dora: { kind: "boolean", default: false, doc: "weight-decomposed LoRA" },
      init: { kind: "string", oneOf: ["kaiming", "gaussian"], default: "kaiming", doc: "init of A" },
    },
  },
  optimizer: {
    kind: "object",
    default: {},
    doc: "optimizer",
    fields: {
      name: { kind: "string", oneOf: ["adam", "adamw", "sgd"], default: "adamw", doc: "optimizer" },
      lr: { kind: "number", exclusiveMin: 0, default: 1e-3, doc: "learning rate" },
      beta1: { kind: "number", min: 0, max: 0.999999, default: 0.9, doc: "Adam beta1" },
      beta2: { kind: "number", min: 0, max: 0.999999, default: 0.999, doc: "Adam beta2" },
      eps: { kind: "number", exclusiveMin: 0, default: 1e-8, doc: "Adam epsilon" },
      weight_decay: { kind: "number", min: 0, default: 0, doc: "decoupled weight decay" },
      lr_ratio_b: { kind: "number", exclusiveMin: 0, default: 1, doc: "LoRA+: learning-rate ratio of B to A (16 in the LoRA+ paper)" },
    },
  },
  schedule: {
    kind: "object",
    default: {},
    doc: "learning-rate schedule",
    fields: {
      kind: { kind: "string", oneOf: ["constant", "linear", "cosine"], default: "cosine", doc: "schedule" },
      warmup_steps: { kind: "integer", min: 0, default: 0, doc: "linear warm-up steps" },
    },
  },
  training: {
    kind: "object",
    doc: "length of training",
    fields: {
      // Bounds that refuse a typo (1e12 steps) before the base model loads, far above any run here (300 steps).
      steps: { kind: "integer", min: 1, max: 1_000_000, nullable: true, default: null, doc: "optimisation steps" },
      epochs: { kind: "number", exclusiveMin: 0, max: 1000, nullable: true, default: null, doc: "passes over the training split" },
      batch_size: { kind: "integer", min: 1, max: 8192, default: 64, doc: "examples per step" },
      micro_batch_size: {
        kind: "integer",
        min: 1,
        max: 8192,
        nullable: true,
        default: null,
        doc: "examples one forward and backward pass holds: a larger batch accumulates gradients over micro-batches of this size (the same update); null: the backend's default (wasm: 2048 tokens)",
      },
    },
  },
  seed: { kind: "integer", min: 0, max: 2 ** 32 - 1, default: 0, doc: "seed of LoRA init, batch order and dropout" },
  checkpoints: {
    kind: "object",
    default: {},
    doc: "checkpoints kept for attribution",
    fields: {
      every: { kind: "integer", min: 1, default: 50, doc: "steps between checkpoints" },
      keep: { kind: "integer", min: 1, max: 1000, default: 5, doc: "how many of the latest checkpoints to keep" },
    },
  },
  evaluation: {
    kind: "object",
    default: {},
    doc: "evaluation",
    fields: {
      every: { kind: "integer", min: 1, default: 50, doc: "steps between evaluations" },
      test_limit: { kind: "integer", min: 1, default: 2000, doc: "test examples evaluated" },
    },
  },
  output: {
    kind: "object",
    default: {},
    doc: "where results go",
    fields: {
      dir: { kind: "string", nullable: true, default: null, doc: "output folder (default .lab/cache/factory/NAME)" },
    },
  },
};

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `${typeof v} ${JSON.stringify(v)}`;
}

function checkObject(raw: unknown, schema: Record<string, Field>, path: string): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new SpecError(path || "(root)", `expected a mapping, got ${typeName(raw)}`, `write ${path || "the spec"} as key: value pairs`, {
      code: "spec/not-a-mapping",
      fields: { got: typeName(raw) },
    });
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(key in schema)) {
      const at = path ? `${path}.${key}` : key;
      throw new SpecError(at, `unknown field${suggestion(key, Object.keys(schema))}`, `remove it; allowed here: ${Object.keys(schema).join(", ")}`, {
        code: "spec/unknown-field",
        fields: { allowed: Object.keys(schema), suggestion: closest(key, Object.keys(schema)) },
      });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) out[key] = checkField(obj[key], field, path ? `${path}.${key}` : key);
  return out;
}

function checkField(value: unknown, f: Field, path: string): unknown {
  if (value === undefined) {
    if (f.default === undefined) throw new SpecError(path, "is required", `add ${path}: ${f.doc}`, { code: "spec/missing-field" });
    value = structuredClone(f.default);
  }
  if (value === null) {
    if (f.nullable) return null;
    throw new SpecError(path, "must not be null", `give ${path} a value: ${f.doc}`, { code: "spec/null-field" });
  }
  switch (f.kind) {
    case "object":
      return checkObject(value, f.fields!, path);
    case "string":
      if (typeof value !== "string")
        throw new SpecError(path, `expected a string, got ${typeName(value)}`, `write ${path} as text: ${f.doc}`, { code: "spec/wrong-type", fields: { expected: "string", got: typeName(value) } });
      if (f.oneOf && !f.oneOf.includes(value))
        throw new SpecError(path, `"${value}" is not one of ${f.oneOf.join(", ")}${suggestion(value, [...f.oneOf])}`, `set ${path} to one of: ${f.oneOf.join(", ")}`, {
          code: "spec/not-one-of",
          fields: { value, allowed: f.oneOf, suggestion: closest(value, [...f.oneOf]) },
        });
      if (f.pattern && !f.pattern.test(value)) throw new SpecError(path, `"${value}" is not valid`, `${path} must be ${f.doc}`, { code: "spec/bad-format", fields: { value } });
      return value;
    case "boolean":
      if (typeof value !== "boolean")
        throw new SpecError(path, `expected true or false, got ${typeName(value)}`, `write ${path}: true or ${path}: false`, {
          code: "spec/wrong-type",
          fields: { expected: "boolean", got: typeName(value) },
        });
      return value;
    case "number":
    case "integer": {
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new SpecError(path, `expected a number, got ${typeName(value)}`, `write ${path} as a number (unquoted): ${f.doc}`, {
          code: "spec/wrong-type",
          fields: { expected: "number", got: typeName(value) },
        });
      if (f.kind === "integer" && !Number.isInteger(value))
        throw new SpecError(path, `expected a whole number, got ${value}`, `round ${path} to an integer`, { code: "spec/wrong-type", fields: { expected: "integer", got: typeName(value) } });
      if (f.min !== undefined && value < f.min)
        throw new SpecError(path, `${value} is below the minimum ${f.min}`, `set ${path} >= ${f.min}`, { code: "spec/out-of-range", fields: { value, min: f.min } });
      if (f.max !== undefined && value > f.max)
        throw new SpecError(path, `${value} is above the maximum ${f.max}`, `set ${path} <= ${f.max}`, { code: "spec/out-of-range", fields: { value, max: f.max } });
      if (f.exclusiveMin !== undefined && value <= f.exclusiveMin)
        throw new SpecError(path, `${value} must be greater than ${f.exclusiveMin}`, `set ${path} > ${f.exclusiveMin}`, { code: "spec/out-of-range", fields: { value, exclusiveMin: f.exclusiveMin } });
      return value;
    }
    case "string[]":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
        throw new SpecError(path, `expected a list of strings, got ${typeName(value)}`, `write ${path} as a list, e.g. [${f.doc.split(" ")[0]}]`, {
          code: "spec/wrong-type",
          fields: { expected: "string[]", got: typeName(value) },
        });
      return value;
  }
}

/** Validates a parsed spec field by field; returns it with defaults filled in. */
export function validateSpec(raw: unknown): FactorySpec {
  const spec = checkObject(raw, SCHEMA, "") as unknown as FactorySpec;
  // cross-field rules, still before anything runs
  if ((spec.training.steps === null) === (spec.training.epochs === null)) {
    throw new SpecError("training", "needs exactly one of steps and epochs", "set training.steps (an integer) or training.epochs, not both", {
      code: "spec/steps-or-epochs",
      fields: { steps: spec.training.steps, epochs: spec.training.epochs },
    });
  }
  if (spec.data.datanets.length === 0) throw new SpecError("data.datanets", "is empty", `list at least one datanet: ${Object.keys(DATANET_CATALOG).join(", ")}`, { code: "spec/empty-list" });
  spec.data.datanets.forEach((name, i) => {
    const entry = DATANET_CATALOG[name];
    if (!entry)
      throw new SpecError(`data.datanets[${i}]`, `no datanet named "${name}"${suggestion(name, Object.keys(DATANET_CATALOG))}`, `use one of: ${Object.keys(DATANET_CATALOG).join(", ")}`, {
        code: "spec/unknown-datanet",
        fields: { name, known: Object.keys(DATANET_CATALOG), suggestion: closest(name, Object.keys(DATANET_CATALOG)) },
      });
    const kind = BASE_MODELS[spec.base_model.name].kind;
    if (entry.modality !== (kind === "mlp" ? "image" : "text")) {
      throw new SpecError(
        `data.datanets[${i}]`,
        `datanet "${name}" holds ${entry.modality} data, but base model ${spec.base_model.name} takes ${kind === "mlp" ? "images" : "text"}`,
        `pick a ${kind === "mlp" ? "image" : "text"} datanet: ${Object.entries(DATANET_CATALOG)
          .filter(([, e]) => e.modality === (kind === "mlp" ? "image" : "text"))
          .map(([n]) => n)
          .join(", ")}`,
        { code: "spec/datanet-modality-mismatch", fields: { name, modality: entry.modality, baseModel: spec.base_model.name } },
      );
    }
  });
  if (spec.base_model.sha256) spec.base_model.sha256 = spec.base_model.sha256.replace(/^0x/, "");
  if (spec.method === "lora" && spec.lora.target_modules.length === 0)
    throw new SpecError("lora.target_modules", "is empty", "name the layers to adapt, e.g. [fc1, fc2] (MLP) or [q_proj, v_proj] (transformer)", { code: "spec/empty-list" });
  if (spec.optimizer.lr_ratio_b !== 1 && spec.method !== "lora")
    throw new SpecError("optimizer.lr_ratio_b", `applies to LoRA only, but method is "${spec.method}"`, "remove optimizer.lr_ratio_b or set method: lora", {
      code: "spec/lora-only-field",
      fields: { method: spec.method },
    });
  return spec;
}

/** Reads a spec file (.yaml, .yml or .json) and validates it. */
export function loadSpec(path: string): FactorySpec {
  if (!existsSync(path)) throw new SpecError("(file)", `${path} does not exist`, "pass the path of a spec, e.g. experiments/factory/fmnist-lora.yaml", { code: "spec/file-missing", fields: { path } });
  const text = readFileSync(path, "utf8");
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SpecError("(file)", `${path} does not parse: ${(error as Error).message.split("\n")[0]}`, "fix the YAML/JSON syntax at the line given", {
      code: "spec/unparseable",
      fields: { path, reason: (error as Error).message.split("\n")[0] },
    });
  }
  return validateSpecFile(raw);
}

/** Validates a spec as its file holds it: `kind: factory` first, then every field. */
export function validateSpecFile(raw: unknown): FactorySpec {
  return validateSpec(withoutKind(raw));
}

/** The kind a Factory spec file declares (`kind: factory`), checked and set aside: what is trained, and so the spec hash, does not depend on it. */
function withoutKind(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const { kind, ...rest } = raw as Record<string, unknown>;
  if (kind !== FACTORY_SPEC_KIND) {
    throw new SpecError(
      "kind",
      kind === undefined ? "is required" : `is ${typeName(kind)}, not "${FACTORY_SPEC_KIND}"`,
      `begin a Factory spec with kind: ${FACTORY_SPEC_KIND}${kind === "experiment" ? " (an experiment spec runs with ./lab reproduce)" : ""}`,
      {
        code: kind === undefined ? "spec/missing-field" : "spec/wrong-kind",
        fields: { expected: FACTORY_SPEC_KIND, got: kind === undefined ? null : String(kind) },
      },
    );
  }
  return rest;
}

/** The `kind:` of a Factory spec file. */
export const FACTORY_SPEC_KIND = "factory";

/** sha256 of the spec's canonical JSON (RFC 8785), without where its outputs go: the spec hash on chain. */
export function specHash(spec: FactorySpec): string {
  const { output, ...rest } = spec; // where results go does not change what is trained
  void output;
  return sha256Hex(canonicalJson(rest));
}

/** Field documentation, for the notebook and `./lab factory --help`. */
export function specFields(): Array<{ field: string; type: string; default: string; doc: string }> {
  const rows: Array<{ field: string; type: string; default: string; doc: string }> = [];
  const walk = (s: Record<string, Field>, prefix: string) => {
    for (const [k, f] of Object.entries(s)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (f.kind === "object") walk(f.fields!, p);
      else
        rows.push({ field: p, type: f.oneOf ? f.oneOf.join(" | ") : f.kind + (f.nullable ? " | null" : ""), default: f.default === undefined ? "(required)" : JSON.stringify(f.default), doc: f.doc });
    }
  };
  walk(SCHEMA, "");
  return rows;
}

/** The fields `./lab factory --set` may override, by dotted path ("training.steps"), with their types. */
export function specOverrideFields(): OverrideField[] {
  const out: OverrideField[] = [];
  const walk = (s: Record<string, Field>, prefix: string) => {
    for (const [k, f] of Object.entries(s)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (f.kind === "object") walk(f.fields!, key);
      else out.push({ key, type: f.kind as Exclude<Kind, "object">, nullable: f.nullable, oneOf: f.oneOf, default: f.default });
    }
  };
  walk(SCHEMA, "");
  return out;
}

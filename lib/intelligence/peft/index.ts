import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex, writeDirAtomic } from "../../files.js";
import { readTensorMap } from "../../tf/index.js";
import { AdapterFormatError } from "../errors.js";
import { type LoraAdapter, type LoraConfig, matchTargetModules } from "../lora/index.js";
import { doraMagnitudeKey, loraAKey, loraBKey, loraKeys, toPeftKey } from "../models/peft-keys.js";
import type { Model, ModelTask, WeightMap } from "../models/types.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "./safetensors.js";

export * from "./safetensors.js";

/** adapter_config.json as PEFT's LoraConfig.save_pretrained writes it (the fields it reads back). */
export interface PeftAdapterConfig {
  peft_type: "LORA";
  task_type: string | null;
  base_model_name_or_path: string;
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  bias: "none" | "all" | "lora_only";
  use_rslora: boolean;
  use_dora: boolean;
  init_lora_weights: boolean | "gaussian";
  fan_in_fan_out: boolean;
  modules_to_save: string[] | null;
  inference_mode: boolean;
  layers_to_transform: number[] | null;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  revision: string | null;
}

export function peftTaskType(task: ModelTask): string | null {
  return task === "causal-lm" ? "CAUSAL_LM" : null;
}

export function toPeftConfig(config: LoraConfig, baseModelNameOrPath: string, taskType: string | null): PeftAdapterConfig {
  return {
    peft_type: "LORA",
    task_type: taskType,
    base_model_name_or_path: baseModelNameOrPath,
    r: config.r,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    target_modules: [...config.targetModules].sort(),
    bias: config.bias,
    use_rslora: config.useRslora,
    use_dora: config.useDora,
    init_lora_weights: config.initLoraWeights === "gaussian" ? "gaussian" : true,
    fan_in_fan_out: false,
    modules_to_save: null,
    inference_mode: true,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

export function fromPeftConfig(c: PeftAdapterConfig): LoraConfig {
  if (c.peft_type !== "LORA")
    throw new AdapterFormatError({
      code: "peft/not-lora",
      message: `adapter_config.json has peft_type ${JSON.stringify(c.peft_type)}`,
      hint: 'load a LoRA adapter (peft_type "LORA")',
      fields: { peftType: String(c.peft_type) },
    });
  if (c.bias !== "none")
    throw new AdapterFormatError({
      code: "peft/unsupported-bias",
      message: `adapter bias "${c.bias}" is not supported`,
      hint: 'train with bias="none"',
      fields: { bias: c.bias },
    });
  if (c.fan_in_fan_out)
    throw new AdapterFormatError({
      code: "peft/fan-in-fan-out",
      message: "fan_in_fan_out adapters (GPT-2 Conv1D layout) are not supported",
      hint: "export with fan_in_fan_out=false",
      fields: { fanInFanOut: true },
    });
  return {
    r: c.r,
    loraAlpha: c.lora_alpha,
    loraDropout: c.lora_dropout ?? 0,
    targetModules: c.target_modules,
    useRslora: !!c.use_rslora,
    useDora: !!c.use_dora,
    initLoraWeights: c.init_lora_weights === "gaussian" ? "gaussian" : "kaiming",
    bias: "none",
  };
}

/** PEFT-named tensors of an adapter, read back from the device: base_model.model.MODULE.lora_A.weight etc. */
export async function adapterStateDict(adapter: LoraAdapter | WeightMap): Promise<Record<string, SafeTensor>> {
  const tensors = "tensors" in adapter && "config" in adapter ? (adapter as LoraAdapter).tensors : (adapter as WeightMap);
  const out: Record<string, SafeTensor> = {};
  for (const [k, a] of Object.entries(await readTensorMap(tensors))) out[toPeftKey(k)] = a;
  return out;
}

export async function encodeAdapter(adapter: LoraAdapter): Promise<Uint8Array> {
  return encodeSafetensors(await adapterStateDict(adapter), { format: "pt" });
}

export interface SavedAdapter {
  dir: string;
  /** sha256 of adapter_model.safetensors: the adapter hash recorded on chain. */
  sha256: string;
  config: PeftAdapterConfig;
}

/** Writes adapter_config.json and adapter_model.safetensors (atomically: temp folder + rename). */
export async function saveAdapter(
  dir: string,
  adapter: LoraAdapter,
  opts: { baseModelNameOrPath: string; taskType: string | null; extraFiles?: Record<string, string | Uint8Array> },
): Promise<SavedAdapter> {
  const config = toPeftConfig(adapter.config, opts.baseModelNameOrPath, opts.taskType);
  const bytes = await encodeAdapter(adapter);
  writeDirAtomic(dir, {
    "adapter_config.json": `${JSON.stringify(config, null, 2)}\n`,
    "adapter_model.safetensors": bytes,
    ...(opts.extraFiles ?? {}),
  });
  return { dir, sha256: sha256Hex(bytes), config };
}

/** Reads a PEFT adapter folder back, checking every tensor's name and shape against the model. */
export function loadAdapter(model: Model, dir: string): LoraAdapter & { peftConfig: PeftAdapterConfig; sha256: string } {
  const cfgPath = join(dir, "adapter_config.json");
  const stPath = join(dir, "adapter_model.safetensors");
  for (const p of [cfgPath, stPath])
    if (!existsSync(p))
      throw new AdapterFormatError({
        code: "peft/missing-file",
        message: `${p} is missing`,
        hint: "point at a folder written by saveAdapter or PEFT's save_pretrained",
        fields: { path: p },
      });
  const peftConfig = JSON.parse(readFileSync(cfgPath, "utf8")) as PeftAdapterConfig;
  const config = fromPeftConfig(peftConfig);
  const bytes = readFileSync(stPath);
  const { tensors } = decodeSafetensors(bytes);
  const modules = matchTargetModules(model.linearModules, config.targetModules);
  const out: WeightMap = {};
  const tf = model.tf;
  for (const m of modules) {
    const shapes: Record<string, number[]> = {
      [loraAKey(m.name)]: [config.r, m.inFeatures],
      [loraBKey(m.name)]: [m.outFeatures, config.r],
      [doraMagnitudeKey(m.name)]: [m.outFeatures],
    };
    for (const key of loraKeys(m.name, config.useDora)) {
      const t = tensors[toPeftKey(key)];
      if (!t)
        throw new AdapterFormatError({
          code: "peft/missing-tensor",
          message: `adapter_model.safetensors lacks ${toPeftKey(key)}`,
          hint: "the adapter was trained for another model or target_modules; check base_model_name_or_path",
          fields: { tensor: toPeftKey(key) },
        });
      if (t.shape.join(",") !== shapes[key].join(","))
        throw new AdapterFormatError({
          code: "peft/shape-mismatch",
          message: `${toPeftKey(key)} has shape [${t.shape}], the model needs [${shapes[key]}]`,
          hint: "load the adapter onto the base model it was trained on",
          fields: { tensor: toPeftKey(key), shape: t.shape, expected: shapes[key] },
        });
      out[key] = tf.tensor(t.data, t.shape, "float32");
    }
  }
  return { config, modules, tensors: out, peftConfig, sha256: sha256Hex(bytes) };
}

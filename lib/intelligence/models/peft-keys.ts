/**
 * The names of weight tensors, as PyTorch's state dicts and PEFT's adapter files spell them: the
 * one place the key format is built and parsed.
 *
 *   MODULE.weight, MODULE.bias                 a linear layer's own weights
 *   MODULE.lora_A.weight [r, in]               LoRA's down projection
 *   MODULE.lora_B.weight [out, r]              LoRA's up projection
 *   MODULE.lora_magnitude_vector [out]         DoRA's magnitude
 *
 * In adapter_model.safetensors every key carries PEFT's prefix, base_model.model. (PeftModel
 * wraps the model as base_model, LoraModel wraps it as model).
 */

/** What a tensor is to its module. */
export type TensorRole = "weight" | "bias" | "lora_A" | "lora_B" | "lora_magnitude";

/** The prefix of every tensor key in a PEFT adapter file. */
export const PEFT_PREFIX = "base_model.model.";

const SUFFIX: Record<TensorRole, string> = {
  lora_A: "lora_A.weight",
  lora_B: "lora_B.weight",
  lora_magnitude: "lora_magnitude_vector",
  weight: "weight",
  bias: "bias",
};
/** Longest suffix first, so "q.lora_A.weight" parses as lora_A of q, not weight of "q.lora_A". */
const PARSE_ORDER: readonly TensorRole[] = ["lora_A", "lora_B", "lora_magnitude", "weight", "bias"];

/** The key of the module's tensor with this role. */
export function tensorKey(module: string, role: TensorRole): string {
  return `${module}.${SUFFIX[role]}`;
}

export const weightKey = (module: string): string => tensorKey(module, "weight");
export const biasKey = (module: string): string => tensorKey(module, "bias");
export const loraAKey = (module: string): string => tensorKey(module, "lora_A");
export const loraBKey = (module: string): string => tensorKey(module, "lora_B");
export const doraMagnitudeKey = (module: string): string => tensorKey(module, "lora_magnitude");

/** An adapter's tensors for one module: A and B, and DoRA's magnitude when `dora`. */
export function loraKeys(module: string, dora: boolean): string[] {
  return dora ? [loraAKey(module), loraBKey(module), doraMagnitudeKey(module)] : [loraAKey(module), loraBKey(module)];
}

/** A key split into module and role; undefined for a key of no known role. Takes keys with or without PEFT's prefix. */
export function parseTensorKey(key: string): { module: string; role: TensorRole } | undefined {
  const bare = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
  for (const role of PARSE_ORDER) {
    const suffix = `.${SUFFIX[role]}`;
    if (bare.length > suffix.length && bare.endsWith(suffix)) return { module: bare.slice(0, -suffix.length), role };
  }
  return undefined;
}

/** The role of a key's tensor (undefined when it has none of the known roles). */
export function roleOf(key: string): TensorRole | undefined {
  return parseTensorKey(key)?.role;
}

/** Whether the key names one of LoRA's or DoRA's adapter tensors (not the base model's). */
export function isAdapterKey(key: string): boolean {
  const role = roleOf(key);
  return role === "lora_A" || role === "lora_B" || role === "lora_magnitude";
}

/** The key as PEFT's adapter file spells it (prefixed). */
export function toPeftKey(key: string): string {
  return PEFT_PREFIX + key;
}

/** The key without PEFT's prefix; undefined when it does not carry the prefix. */
export function fromPeftKey(key: string): string | undefined {
  return key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : undefined;
}

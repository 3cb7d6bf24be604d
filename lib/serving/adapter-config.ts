import type { LoraConfig } from "../intelligence/lora/index.js";
import { OpenLoraError } from "./errors.js";

/**
 * adapter_config.json checked field by field before it is used: PEFT writes it, but the server
 * loads whatever folder a client names, so every field OpenLoRA reads has its type checked here
 * (a string rank or a text lora_alpha would otherwise reach the arithmetic as NaN), and every
 * PEFT feature the batched product cannot serve is refused by name. Defaults are PEFT's
 * LoraConfig defaults.
 */
export interface ServableLimits {
  /** Largest rank the backend slots hold (--max-rank). */
  maxRank: number;
}

function badConfig(id: string, field: string, problem: string): OpenLoraError {
  return new OpenLoraError({
    code: "adapter/bad-config",
    status: 422,
    fields: { adapter: id, field },
    message: `adapter "${id}": adapter_config.json field "${field}" ${problem}`,
    hint: "fix adapter_config.json (PEFT's LoraConfig.save_pretrained writes every field with its type)",
  });
}

function unsupported(id: string, feature: string, why: string): OpenLoraError {
  return new OpenLoraError({
    code: "adapter/unsupported",
    status: 422,
    fields: { adapter: id, feature },
    message: `adapter "${id}" uses ${feature}: ${why}`,
    hint: "export the adapter without it (plain LoRA: one rank, bias none, no modules_to_save)",
  });
}

const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** The LoRA settings of a parsed adapter_config.json, or the first field that cannot be served. */
export function servableLoraConfig(id: string, raw: unknown, limits: ServableLimits): LoraConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw badConfig(id, "(root)", "is not a JSON object");
  const c = raw as Record<string, unknown>;
  if (c.peft_type !== "LORA") throw badConfig(id, "peft_type", `is ${JSON.stringify(c.peft_type)}, not "LORA"`);
  const r = c.r ?? 8;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1) throw badConfig(id, "r", `must be a positive integer, got ${JSON.stringify(r)}`);
  if (r > limits.maxRank)
    throw new OpenLoraError({
      code: "adapter/rank-too-large",
      status: 422,
      fields: { adapter: id, r, maxRank: limits.maxRank },
      message: `adapter "${id}" has rank ${r}; the slots hold rank ${limits.maxRank} at most`,
      hint: `start the server with a larger --max-rank (at least ${r})`,
    });
  const alpha = c.lora_alpha ?? 8;
  if (typeof alpha !== "number" || !Number.isFinite(alpha) || alpha <= 0) throw badConfig(id, "lora_alpha", `must be a positive number, got ${JSON.stringify(alpha)}`);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw badConfig(id, "lora_dropout", `must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  const targets = typeof c.target_modules === "string" ? [c.target_modules] : c.target_modules;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === "string" && t.length > 0))
    throw badConfig(id, "target_modules", `must be a non-empty list of module names, got ${JSON.stringify(c.target_modules)}`);
  for (const flag of ["use_rslora", "use_dora", "fan_in_fan_out", "inference_mode"])
    if (c[flag] !== undefined && c[flag] !== null && typeof c[flag] !== "boolean") throw badConfig(id, flag, `must be true or false, got ${JSON.stringify(c[flag])}`);
  if (c.use_dora === true) throw unsupported(id, "use_dora", "DoRA's per-row rescaling depends on the merged weight and cannot share a batched base matmul");
  if (c.fan_in_fan_out === true) throw unsupported(id, "fan_in_fan_out", "the Conv1D layout is not the base's nn.Linear layout");
  if ((c.bias ?? "none") !== "none") throw unsupported(id, "bias", `bias ${JSON.stringify(c.bias)} trains base biases the other adapters share`);
  if (!isEmpty(c.rank_pattern)) throw unsupported(id, "rank_pattern", "one rank per adapter is served");
  if (!isEmpty(c.alpha_pattern)) throw unsupported(id, "alpha_pattern", "one scaling per adapter is served");
  if (!isEmpty(c.modules_to_save)) throw unsupported(id, "modules_to_save", "full copies of base modules cannot share the base");
  if (!isEmpty(c.layers_to_transform)) throw unsupported(id, "layers_to_transform", "the target modules are matched on every layer");
  const init = c.init_lora_weights;
  return {
    r,
    loraAlpha: alpha,
    loraDropout: dropout,
    targetModules: targets as string[],
    useRslora: c.use_rslora === true,
    useDora: false,
    initLoraWeights: init === "gaussian" ? "gaussian" : "kaiming",
    bias: "none",
  };
}

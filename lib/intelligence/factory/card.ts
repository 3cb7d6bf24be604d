import type { Datanet } from "../datanets.js";
import type { TokenizerRecord } from "../models/bpe-tokenizer.js";
import type { BaseModelRecipe } from "../models/zoo.js";
import type { FactoryMetrics } from "./factory-metrics.js";
import type { FactorySpec } from "./factory-spec.js";

/** A model card in markdown, after the Hugging Face model card layout (details, data, training, evaluation). */
export function modelCard(a: {
  spec: FactorySpec;
  result: Record<string, unknown>;
  metrics: FactoryMetrics;
  datanets: Datanet[];
  baseRecipe: BaseModelRecipe;
  baseMeta: Record<string, unknown>;
}): string {
  const { spec, result, metrics, datanets } = a;
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const lines = [
    `# ${spec.name}`,
    "",
    `A ${spec.method === "lora" ? `LoRA adapter (r=${spec.lora.r}, alpha=${spec.lora.alpha}${spec.lora.use_rslora ? ", rsLoRA" : ""}${spec.lora.use_dora ? ", DoRA" : ""}) on ${spec.lora.target_modules.join(", ")}` : spec.method === "full" ? "fully fine-tuned model" : "fine-tuned output layer"} for the base model **${spec.base_model.name}**, trained by the Model Factory.`,
    "",
    "## Model details",
    "",
    `- Base model: ${spec.base_model.name}: ${a.baseRecipe.description}; pretrain mode ${spec.base_model.pretrain}, seed ${spec.base_model.seed}`,
    `- Base model sha256: \`${result.base_model_sha256}\``,
    ...tokenizerLine(a.baseRecipe, a.baseMeta),
    `- ${spec.method === "lora" ? "Adapter (adapter_model.safetensors)" : "Weights"} sha256: \`${result.adapter_sha256}\``,
    `- Spec sha256: \`${result.spec_sha256}\`; metrics sha256: \`${result.metrics_sha256}\``,
    `- Trainable parameters: ${metrics.trainable_params.toLocaleString("en-US")} of ${metrics.total_params.toLocaleString("en-US")} (${pct(metrics.trainable_fraction)})`,
    spec.method === "lora" ? "- Format: Hugging Face PEFT (adapter_config.json + adapter_model.safetensors)" : "- Format: safetensors",
    "",
    "## Training data",
    "",
    ...datanets.flatMap((d) => [
      `- Datanet **${d.name}** (id \`${d.id}\`, Merkle root \`${d.manifest.merkleRoot}\`), ${d.n} samples from ${d.contributors.length} contributors:`,
      ...d.contributors.map((c) => `  - ${c.name} \`${c.address}\`: ${c.samples} samples (${c.kind})`),
    ]),
    `- Validation: ${pct(spec.data.validation_fraction)} of each datanet; data scale ${spec.data.scale}`,
    "",
    "## Training procedure",
    "",
    `- Optimizer ${spec.optimizer.name}, lr ${spec.optimizer.lr}${spec.optimizer.lr_ratio_b !== 1 ? ` (LoRA+: B at ×${spec.optimizer.lr_ratio_b})` : ""}, weight decay ${spec.optimizer.weight_decay}; schedule ${spec.schedule.kind}, warm-up ${spec.schedule.warmup_steps} steps`,
    `- ${metrics.steps} steps of ${metrics.batch_size} examples, seed ${spec.seed}; ${metrics.seconds.toFixed(1)} s on backend ${metrics.backend} (${metrics.examples_per_second.toFixed(0)} examples/s)`,
    `- Checkpoints every ${spec.checkpoints.every} steps, last ${spec.checkpoints.keep} kept (for attribution)`,
    "",
    "## Evaluation",
    "",
    "| | loss | accuracy |",
    "|---|---|---|",
    `| base model, test | ${metrics.base.test_loss.toFixed(4)} | ${pct(metrics.base.test_accuracy)} |`,
    `| fine-tuned, test | ${metrics.final.test_loss.toFixed(4)} | ${pct(metrics.final.test_accuracy)} |`,
    `| fine-tuned, validation | ${metrics.final.validation_loss.toFixed(4)} | ${pct(metrics.final.validation_accuracy)} |`,
    "",
    "## Limitations",
    "",
    "Trained on small contributed data that includes duplicated and label-corrupted contributions (by design, for attribution experiments); the validation split shares that noise.",
    "",
  ];
  return lines.join("\n");
}

/** The base model's tokenizer: a saved one by kind, vocabulary size and sha256; the character vocabulary otherwise. */
function tokenizerLine(recipe: BaseModelRecipe, meta: Record<string, unknown>): string[] {
  const saved = meta.tokenizer as TokenizerRecord | undefined;
  if (saved) return [`- Tokenizer: ${saved.kind}, ${saved.vocab_size} tokens, saved as ${saved.file} beside the base weights (sha256 \`${saved.sha256}\`)`];
  return recipe.kind === "gpt" ? ["- Tokenizer: character-level, the sorted characters of fortunes-min"] : [];
}

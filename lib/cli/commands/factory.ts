import { loadSpec, specFields, specOverrideFields, validateSpec } from "../../intelligence/factory/index.js";
import { runFactory } from "../../notebook/factory.js";
import { applyOverrides, typeOverrides } from "../../overrides.js";
import { defineCommand } from "../command.js";

function fieldTable(): string {
  const rows = specFields().map((f) => `  ${f.field.padEnd(28)} ${f.type.padEnd(34)} default ${f.default.padEnd(12)} ${f.doc}`);
  return `spec fields (each also a --set key):\n${rows.join("\n")}`;
}

export default defineCommand({
  name: "factory",
  usage: "SPEC.yaml [--set field=value ...] [--register]",
  description:
    "Validates a Model Factory spec field by field, fine-tunes, and writes the adapter (PEFT files), kept\n" +
    "checkpoints, metrics and model card. Ctrl-C stops after the current step and keeps the state: the\n" +
    "same command resumes. --set overrides a spec field by its dotted path, typed by the spec's schema.",
  options: {
    set: { type: "string", multiple: true, value: "field=value", doc: "override a spec field, e.g. training.steps=100" },
    register: { type: "boolean", doc: "record the datanets and the model on chain (in-process, or LAB_RPC_URL)" },
  },
  positionals: { name: "SPEC", min: 1, max: 1 },
  examples: [
    "./lab factory experiments/factory/fmnist-lora.yaml",
    "./lab factory experiments/factory/fmnist-lora.yaml --set training.steps=100 --set lora.r=4",
    "./lab factory experiments/factory/fmnist-lora.yaml --register",
  ],
  details: fieldTable,
  async run({ values, positionals }) {
    const overrides = typeOverrides(values.set, specOverrideFields(), positionals[0]);
    const spec = validateSpec(applyOverrides(loadSpec(positionals[0]), overrides));
    const controller = new AbortController();
    const onSigint = () => {
      console.error("\nstopping after this step (the run can be resumed) ...");
      controller.abort();
    };
    process.once("SIGINT", onSigint);
    try {
      const result = await runFactory(spec, { signal: controller.signal });
      if (values.register) {
        const { connect } = await import("../../chain/index.js");
        const { registerFactoryResult } = await import("../../intelligence/factory/chain.js");
        const chain = await connect();
        const reg = await registerFactoryResult(chain, result);
        console.log(`registered model ${reg.modelId} (tx ${reg.txHash}) with datanets ${reg.datanetIds.join(", ")}`);
        await chain.close();
      }
      return 0;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
});

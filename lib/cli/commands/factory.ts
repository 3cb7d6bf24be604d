import { LabError } from "../../errors.js";
import { specFields } from "../../intelligence/factory/index.js";
import { runFactory } from "../../notebook/factory.js";

/**
 * ./lab factory SPEC [--register]: validates the spec, fine-tunes, writes the adapter, kept
 * checkpoints, metrics and model card; with --register records datanets and the model on the
 * in-process chain (or LAB_RPC_URL). Ctrl-C stops after the current step and keeps the state:
 * the same command resumes.
 */
export default async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.length === 0) {
    console.log("usage: ./lab factory SPEC.yaml [--register]\n\nspec fields:");
    for (const f of specFields()) console.log(`  ${f.field.padEnd(28)} ${f.type.padEnd(34)} default ${f.default.padEnd(12)} ${f.doc}`);
    return args.length === 0 ? 2 : 0;
  }
  const path = args.find((a) => !a.startsWith("--"));
  if (!path) {
    throw new LabError({ code: "cli/missing-argument", message: "no spec file given", hint: "pass a spec, e.g. ./lab factory experiments/factory/fmnist-lora.yaml", fields: { command: "factory", argument: "SPEC" } });
  }
  const controller = new AbortController();
  const onSigint = () => { console.error("\nstopping after this step (the run can be resumed) ..."); controller.abort(); };
  process.once("SIGINT", onSigint);
  try {
    const result = await runFactory(path, { signal: controller.signal });
    if (args.includes("--register")) {
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
}

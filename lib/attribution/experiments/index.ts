/**
 * The attribution experiments behind experiments/attribution/*.yaml, one file each, declared in a
 * typed registry (params with types and ranges, metrics with their meaning and source):
 *
 * context.ts               what they share: log, gradient store, timers, TRAK's ridge, the Factory MLP
 * logreg-fmnist.ts         the convex benchmark: logistic regression, every influence method
 * mlp-fmnist.ts            the non-convex benchmark: the Factory's MLP
 * lora-datanets.ts         DataInf on LoRA adapters: datanet identification, DataInf vs LiSSA
 * factory-contributors.ts  a real Model Factory run: flipped labels, the contributors ranked
 * lm-datanets-data.ts      the language model's text datanets, windows and test points
 * lm-datanets.ts           the language model: gradients beside exact match, LDS, removal
 * lm-scorer-table.ts       its gradient methods and span scorers as one table
 * registry.ts              the experiments by name; specs checked against them
 */
export * from "./context.js";
export * from "./factory-contributors.js";
export * from "./lm-datanets.js";
export * from "./lm-datanets-data.js";
export * from "./lm-scorer-table.js";
export * from "./logreg-fmnist.js";
export * from "./lora-datanets.js";
export * from "./mlp-fmnist.js";
export * from "./registry.js";

export * from "./counterfactual.js";
export * from "./datanet-id.js";
export * from "./lds.js";
export * from "./lds-harness.js";
export * from "./loo.js";
export * from "./mislabel.js";
export * from "./ngram.js";
export * from "./stats.js";

export * from "./stats.js";
export * from "./lds.js";
export * from "./loo.js";
export * from "./mislabel.js";
export * from "./datanet-id.js";
export * from "./counterfactual.js";
export * from "./ngram.js";

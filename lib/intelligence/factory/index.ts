export * from "./catalog.js";
export * from "./chain.js";
export * from "./checkpoints.js";
export * from "./factory-data.js";
export * from "./factory-spec.js";
export * from "./fine-tune.js";
export * from "./outputs.js";
export * from "./state.js";

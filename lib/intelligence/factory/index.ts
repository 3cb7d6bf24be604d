export * from "./catalog.js";
export * from "./chain.js";
export * from "./checkpoints.js";
export * from "./data.js";
export * from "./outputs.js";
export * from "./run.js";
export * from "./spec.js";
export * from "./state.js";

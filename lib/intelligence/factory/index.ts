export * from "./spec.js";
export * from "./catalog.js";
export * from "./run.js";
export * from "./data.js";
export * from "./checkpoints.js";
export * from "./state.js";
export * from "./outputs.js";
export * from "./chain.js";

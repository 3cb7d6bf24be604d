export * from "./spec.js";
export * from "./catalog.js";
export * from "./run.js";
export * from "./live.js";
export * from "./chain.js";

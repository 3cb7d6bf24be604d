export * from "./types.js";
export * from "./ops.js";
export * from "./mlp.js";
export * from "./gpt.js";
export * from "./checkpoint.js";
export * from "./zoo.js";

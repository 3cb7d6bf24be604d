export * from "./bpe-tokenizer.js";
export * from "./checkpoint.js";
export * from "./gpt.js";
export * from "./mlp.js";
export * from "./ops.js";
export * from "./peft-keys.js";
export * from "./types.js";
export * from "./zoo.js";

export * from "./dataset-files.js";
export * from "./fashion-mnist.js";
export * from "./fortune-sets.js";
export * from "./text-corpus.js";

export * from "./fashion-mnist.js";
export * from "./files.js";
export * from "./text.js";

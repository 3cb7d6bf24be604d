export * from "./files.js";
export * from "./fashion-mnist.js";
export * from "./text.js";

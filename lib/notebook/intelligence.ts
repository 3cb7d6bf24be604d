/**
 * The Intelligence layer as a notebook imports it: every export of lib/intelligence, with
 * runFactory drawing its progress (a bar and live curves, lib/notebook/factory.ts) where the
 * layer's own runFactory only reports it through callbacks.
 */
export * from "../intelligence/index.js";
export { runFactory } from "./factory.js";

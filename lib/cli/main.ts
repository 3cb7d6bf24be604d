import { describeError } from "../errors.js";
import { runCli } from "./dispatch.js";

/**
 * The CLI's entry point (`./lab` runs it after set-up); the commands are in ./registry.ts. It
 * exits explicitly: a Dawn instance (the webgpu backend) keeps Node's event loop alive.
 */
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exit(code);
  },
  (error) => {
    console.error(describeError(error));
    process.exit(1);
  },
);

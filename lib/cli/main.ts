import { describeError } from "../errors.js";
import { runCli } from "./dispatch.js";

/** The CLI's entry point (`./lab` runs it after set-up); the commands are in ./registry.ts. */
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(describeError(error));
    process.exitCode = 1;
  },
);

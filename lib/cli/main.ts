import { describeError } from "../errors.js";
import { runCli } from "./dispatch.js";

/**
 * Exits once stdout and stderr have taken everything written to them: on Linux a pipe (`./lab test
 * | tee`) is written asynchronously, and process.exit would drop what is still queued, the closing
 * `N passed, N failed` line of a long report included.
 */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let open = 2;
  const flushed = () => {
    if (--open === 0) process.exit(code);
  };
  process.stdout.write("", flushed);
  process.stderr.write("", flushed);
}

/**
 * The CLI's entry point (`./lab` runs it after set-up); the commands are in ./registry.ts. It
 * exits explicitly: a Dawn instance (the webgpu backend) keeps Node's event loop alive.
 */
runCli(process.argv.slice(2)).then(exitWhenFlushed, (error) => {
  console.error(describeError(error));
  exitWhenFlushed(1);
});

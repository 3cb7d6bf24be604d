import { describeError } from "../errors.js";
import { main } from "./check.js";

// The bundled script's entry: a live Dawn instance keeps Node's event loop alive, so exit explicitly.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(describeError(error));
    process.exit(1);
  },
);

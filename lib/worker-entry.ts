/**
 * A pool worker (lib/worker-pool.ts): imports the job's module once, then runs each job it is
 * sent and posts the result, or the error, with the job's index (and the lines the job logs as
 * it runs). A job that needs TensorFlow.js initialises it the lab's way on its first run (initTf,
 * quiet), once per worker. In a pool that lends idle workers, the groups of jobs a job shares and
 * the jobs lent to this worker go through lib/worker-lending.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { WorkerLending } from "./worker-lending.js";
import { type FromWorker, installJobSharing, type JobContext, type JobRef, type LendingToWorker, loadJob, sendError, type ToWorker } from "./worker-pool.js";

const port = parentPort;
if (!port) throw new Error("worker-entry runs only as a worker of lib/worker-pool.ts");
const { lending: lends, ...ref } = workerData as JobRef & { lending?: boolean };
const job = loadJob<unknown, unknown>(ref);
job.catch(() => undefined); // a missing job is answered to the first message, as that job's refusal
const lending = lends ? new WorkerLending(port) : undefined;
if (lending) installJobSharing(lending);

port.on("message", async (m: ToWorker | LendingToWorker) => {
  if ("lending" in m) {
    lending?.receive(m);
    return;
  }
  const { index, spec } = m;
  try {
    const context: JobContext = { log: (line) => port.postMessage({ index, log: line } satisfies FromWorker) };
    port.postMessage({ index, ok: true, result: await (await job)(spec, index, context) } satisfies FromWorker);
  } catch (e) {
    // a throw, or a result that cannot be cloned: the job's failure, answered by its index
    port.postMessage({ index, ok: false, error: sendError(e) } satisfies FromWorker);
  }
});

/**
 * Independent jobs on every core: a small pool of node:worker_threads. A job is named, not sent:
 * the module that exports it (a file URL or path), the export's name, and a structured-clone-able
 * spec; the job is `async (spec, index) => result`. Each worker imports the module once and runs
 * jobs one at a time; the results come back in index order, so a caller sees the same array
 * whatever the worker count. Jobs seed themselves from their spec (its index at most), never from
 * which worker runs them or when.
 *
 * LAB_WORKERS sets the count (default: the cores available). One worker runs the jobs in this
 * process with no thread at all, one after another: the reference the threaded runs must equal.
 *
 * Failures are classed as the driver classes them: a LabError thrown by a job is a refusal of its
 * input (deterministic, so never retried) and reaches the caller with its code and fields; any
 * other throw, or a worker that exits or crashes mid-job, is retried once on a fresh worker, and a
 * second failure stops the run with `workers/job-failed` naming the job. Results are only gathered,
 * never written, so a stopped run leaves nothing half-written behind it.
 *
 * A pool whose jobs run pools of their own (a reproduction's lanes, each a whole experiment) can
 * lend its idle workers (`lendIdleWorkers`): a worker that finds no job left takes jobs of the
 * groups the running jobs share (lib/worker-lending.ts), so the last long job does not run alone
 * on one core. A shared group's results are gathered by its owner in index order, as above.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread, type ResourceLimits, type Transferable, Worker } from "node:worker_threads";
import { type ErrorFields, LabError } from "./errors.js";
import type { OnProgress } from "./progress.js";

/** A job by name: the module exporting it (import.meta.url of the caller, or a path) and the export. */
export interface JobRef {
  module: string;
  name: string;
  /**
   * The job itself, for runs in this process: importing `module` again by URL can load a second
   * copy of it and of everything it imports (under a TypeScript loader the URL differs from the
   * static import's), with module state and classes of its own.
   */
  local?: Job<never, unknown>;
}

/**
 * What a job is: any async function of its spec and index whose result can be structured-cloned.
 * Its context carries lines it logs as it runs to the pool's `onLog`, from a worker as from this
 * process, so a long job shows progress where it runs.
 */
export type Job<S, R> = (spec: S, index: number, context: JobContext) => R | Promise<R>;

/** What the pool lends a running job. */
export interface JobContext {
  /** Passes a line to the pool's onLog (dropped when the pool has none). */
  log(line: string): void;
}

export interface PoolOptions {
  /** Workers to use (default: workerCount(), from LAB_WORKERS). */
  workers?: number;
  /** Called as jobs finish: done rises to the number of jobs. */
  onProgress?: OnProgress;
  /** The stage name passed to onProgress. */
  stage?: string;
  /** Called with each line a job logs through its context, and the job's index. */
  onLog?: (line: string, index: number) => void;
  /**
   * Lend a worker that finds no job left to the jobs still running: the jobs they run of their own
   * (runJobs in the job with no worker count given) are shared with it. For jobs that are whole
   * runs with independent jobs inside (a reproduction's experiments).
   */
  lendIdleWorkers?: boolean;
  /** What a job is called where its failure is reported (an experiment's name), beside its index. */
  jobName?: (index: number) => string;
}

/** The pool's refusals and stops. */
export class WorkerPoolError extends LabError {}

/** The worker count from LAB_WORKERS: a whole number from 1 to the cores available (default: the cores). */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  const cores = availableParallelism();
  const raw = env.LAB_WORKERS;
  if (raw === undefined || raw === "") return cores;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new WorkerPoolError({
      code: "workers/bad-count",
      message: `LAB_WORKERS=${JSON.stringify(raw)} is not a whole number of workers ≥ 1`,
      hint: `set LAB_WORKERS to a number from 1 (no threads) to ${cores} (the cores available), or leave it unset for ${cores}`,
      fields: { setting: "LAB_WORKERS", value: raw, cores },
    });
  }
  if (n > cores) {
    throw new WorkerPoolError({
      code: "workers/above-cores",
      message: `LAB_WORKERS=${n} asks for more workers than the ${cores} cores available: they would only take turns`,
      hint: `set LAB_WORKERS to at most ${cores}, or leave it unset`,
      fields: { setting: "LAB_WORKERS", value: n, cores },
    });
  }
  return n;
}

/**
 * The workers a run of `options` uses: options.workers, else workerCount(); inside a worker, 1 by
 * default, so a job that runs jobs of its own (a TRAK member's gradient shards) runs them itself
 * rather than starting a pool per worker.
 */
export function poolWorkers(options: PoolOptions = {}): number {
  return options.workers ?? (isMainThread ? workerCount() : 1);
}

/** A module reference as a URL import() accepts in this process and in a worker. */
function moduleUrl(module: string): string {
  return /^[a-z]+:/.test(module) ? module : pathToFileURL(module).href;
}

/** The exported job, or a refusal naming what is missing. */
export async function loadJob<S, R>(ref: JobRef): Promise<Job<S, R>> {
  const mod = (await import(moduleUrl(ref.module))) as Record<string, unknown>;
  const job = mod[ref.name];
  if (typeof job !== "function") {
    throw new WorkerPoolError({
      code: "workers/no-such-job",
      message: `${ref.module} exports no function ${ref.name}`,
      hint: "name a function the module exports (export async function NAME(spec, index))",
      fields: { module: ref.module, job: ref.name },
    });
  }
  return job as Job<S, R>;
}

/** A job's error as it crosses a thread: a LabError keeps its class name, code, fields and fix. */
export interface SentError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  fields?: ErrorFields;
  hint?: string;
}

/**
 * A LabError, also one built by a second copy of lib/errors.ts (a module graph loaded both as
 * CommonJS and as ESM, as a test runner may): recognised by its code, fields and fix.
 */
function labErrorOf(e: unknown): LabError | undefined {
  if (e instanceof LabError) return e;
  const o = e as Partial<LabError> | undefined;
  if (e instanceof Error && typeof o?.code === "string" && typeof o.hint === "string" && typeof o.fields === "object") return receivedLabError(sendError(e) as SentError & { code: string });
  return undefined;
}

export function sendError(e: unknown): SentError {
  const lab = e as Partial<LabError>;
  if (e instanceof Error && typeof lab.code === "string" && typeof lab.hint === "string")
    return { name: e.name, message: e.message, stack: e.stack, code: lab.code, fields: lab.fields, hint: lab.hint };
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: "Error", message: String(e) };
}

/** A LabError thrown in a worker, rebuilt here with its code, fields, fix and class name. */
export function receivedLabError(sent: SentError & { code: string }): LabError {
  const e = new LabError({ code: sent.code, message: sent.message, hint: sent.hint ?? "", fields: sent.fields });
  e.name = sent.name;
  if (sent.stack) e.stack = sent.stack;
  return e;
}

function receivedError(sent: SentError): Error {
  const e = new Error(sent.message);
  e.name = sent.name;
  if (sent.stack) e.stack = sent.stack;
  return e;
}

/** The stop after a job's second failure. */
function jobFailed(ref: JobRef, index: number, total: number, cause: Error, name?: string): WorkerPoolError {
  return new WorkerPoolError({
    code: "workers/job-failed",
    message: `job ${index} of ${total}${name === undefined ? "" : ` (${name})`} (${ref.name} in ${ref.module}) failed twice, the second time on a fresh worker: ${cause.message}`,
    hint: "run it alone with LAB_WORKERS=1 to see the failure in this process; a worker that ran out of memory needs fewer workers (LAB_WORKERS) or smaller jobs",
    fields: { job: ref.name, module: ref.module, index, total, cause: cause.message, ...(name === undefined ? {} : { name }) },
    cause,
  });
}

/** The worker's entry file beside this module: worker-entry.ts under tsx, worker-entry.js in dist/. */
function workerEntry(): URL {
  return new URL(`./worker-entry${extname(new URL(import.meta.url).pathname)}`, import.meta.url);
}

/** V8 heap sizes: a process's own, refused in a worker's flags (a worker's heap is set by resourceLimits). */
const PROCESS_HEAP_FLAG = /^--max-(old-space|semi-space|young-generation)-size\b/;

/** The worker's node flags: this process's (less its heap sizes), with tsx's loader added when the entry is TypeScript. */
function workerExecArgv(entry: URL): string[] {
  const argv = process.execArgv.filter((a) => !PROCESS_HEAP_FLAG.test(a));
  const hasTsx = argv.some((a, i) => /^--(import|loader)[= ]?tsx/.test(a) || ((a === "--import" || a === "--loader") && argv[i + 1]?.startsWith("tsx")));
  if (entry.pathname.endsWith(".ts") && !hasTsx) argv.push("--import", "tsx");
  return argv;
}

/** Messages between the pool and a worker. */
export type ToWorker = { index: number; spec: unknown };
export type FromWorker = { index: number; ok: true; result: unknown } | { index: number; ok: false; error: SentError } | { index: number; log: string };

/** A job's outcome as it crosses a thread. */
export type SentOutcome = { ok: true; result: unknown } | { ok: false; error: SentError };

/**
 * Messages of lending (lib/worker-lending.ts). A job that shares a group of jobs opens it with
 * every spec, claims its jobs one at a time (the pool answers the next index, or -1 when none is
 * left) and closes it when gathered; the pool lends the group's other jobs to idle workers and
 * returns their outcomes and lines to the owner.
 */
export type LendingToWorker =
  | { lending: "lend"; module: string; name: string; index: number; spec: unknown }
  | { lending: "claimed"; group: number; index: number }
  | { lending: "returned"; group: number; index: number; outcome: SentOutcome }
  | { lending: "log"; group: number; index: number; line: string };
export type LendingFromWorker =
  | { lending: "open"; group: number; module: string; name: string; specs: unknown[] }
  | { lending: "claim"; group: number }
  | { lending: "close"; group: number }
  | { lending: "returned"; outcome: SentOutcome }
  | { lending: "log"; line: string };

/** What runJobs hands a group of jobs to in a lent-out worker: lib/worker-lending.ts, installed by the worker's entry. */
export interface JobSharing {
  /** True while a shared or lent job runs here: the jobs it runs of its own stay in it. */
  readonly busy: boolean;
  run<S, R>(ref: JobRef, specs: readonly S[], options: PoolOptions): Promise<R[]>;
}

const JOB_SHARING = Symbol.for("openledger-lab.job-sharing");

/** Makes `sharing` take this thread's groups of jobs (once per worker, by its entry). */
export function installJobSharing(sharing: JobSharing): void {
  (globalThis as { [JOB_SHARING]?: JobSharing })[JOB_SHARING] = sharing;
}

/** This thread's job sharing, where its pool lends idle workers (a symbol on globalThis: one per thread, whichever copy of this module asks). */
function jobSharing(): JobSharing | undefined {
  return (globalThis as { [JOB_SHARING]?: JobSharing })[JOB_SHARING];
}

/**
 * Runs `specs.length` jobs of `ref` and answers their results in index order. Each job gets its
 * spec and index; the same specs give the same array for any worker count.
 */
export async function runJobs<S, R>(ref: JobRef, specs: readonly S[], options: PoolOptions = {}): Promise<R[]> {
  const workers = Math.min(poolWorkers(options), specs.length);
  if (specs.length === 0) return [];
  const sharing = options.workers === undefined ? jobSharing() : undefined;
  if (sharing && !sharing.busy && specs.length > 1) return sharing.run<S, R>(ref, specs, options);
  return workers <= 1 ? runInProcess<S, R>(ref, specs, options) : runOnThreads<S, R>(ref, specs, workers, options);
}

/** One worker: the jobs in this process, one after another, with the same retry rule. */
async function runInProcess<S, R>(ref: JobRef, specs: readonly S[], options: PoolOptions): Promise<R[]> {
  const job = ref.local ? (ref.local as unknown as Job<S, R>) : await loadJob<S, R>(ref);
  const results: R[] = [];
  for (const [index, spec] of specs.entries()) {
    results.push(await runHere(ref, job, spec, index, specs.length, options));
    options.onProgress?.(index + 1, specs.length, options.stage);
  }
  return results;
}

/**
 * Runs one job in this thread with the pool's rule: a LabError is its input's refusal and passes
 * through; any other failure is retried once (`tries` 1: the first try failed elsewhere), and a
 * second failure stops the run with `workers/job-failed`.
 */
export async function runHere<S, R>(ref: JobRef, job: Job<S, R>, spec: S, index: number, total: number, options: PoolOptions, tries = 2): Promise<R> {
  const context: JobContext = { log: (line) => options.onLog?.(line, index) };
  for (let attempt = 1; ; attempt++) {
    try {
      return await job(spec, index, context);
    } catch (e) {
      const refusal = labErrorOf(e);
      if (refusal) throw refusal;
      if (attempt >= tries) throw jobFailed(ref, index, total, e instanceof Error ? e : new Error(String(e)), options.jobName?.(index));
    }
  }
}

/** A group of jobs a running job shares, as the pool keeps it: who gathers it, and the next index to hand out. */
interface SharedGroup {
  owner: Worker;
  group: number;
  module: string;
  name: string;
  specs: unknown[];
  next: number;
}

/**
 * Several workers: each takes the next job when it is free; a failed job goes once to a fresh
 * worker. With `lendIdleWorkers`, a worker with no job left waits for the groups the running jobs
 * share and runs their jobs on loan, until every job of the pool is done.
 */
function runOnThreads<S, R>(ref: JobRef, specs: readonly S[], count: number, options: PoolOptions): Promise<R[]> {
  const entry = workerEntry();
  const execArgv = workerExecArgv(entry);
  const results = new Array<R>(specs.length);
  const failures = new Map<number, number>();
  const live = new Set<Worker>();
  const groups = new Map<string, SharedGroup>();
  const idle = new Set<Worker>();
  const onLoan = new Map<Worker, { key: string; index: number }>();
  let next = 0;
  let done = 0;
  let stopped = false;

  return new Promise<R[]>((resolve, reject) => {
    const stop = (error: Error) => {
      if (stopped) return;
      stopped = true;
      for (const w of live) void w.terminate();
      reject(error);
    };
    const finish = () => {
      stopped = true;
      for (const w of live) void w.terminate();
      resolve(results);
    };
    const takeJob = (): number | undefined => (next < specs.length ? next++ : undefined);
    const groupKey = (owner: Worker, group: number) => `${owner.threadId}/${group}`;

    /** Hands the idle workers the shared jobs not yet taken, first group first. */
    const lend = () => {
      for (const worker of idle) {
        const group = [...groups.entries()].find(([, g]) => g.next < g.specs.length);
        if (!group) return;
        const [key, g] = group;
        const index = g.next++;
        idle.delete(worker);
        onLoan.set(worker, { key, index });
        worker.postMessage({ lending: "lend", module: g.module, name: g.name, index, spec: g.specs[index] } satisfies LendingToWorker);
      }
    };
    /** A lent job's outcome, back to its group's owner (dropped where the group has closed). */
    const giveBack = (worker: Worker, outcome: SentOutcome) => {
      const loan = onLoan.get(worker);
      onLoan.delete(worker);
      const g = loan && groups.get(loan.key);
      if (loan && g) g.owner.postMessage({ lending: "returned", group: g.group, index: loan.index, outcome } satisfies LendingToWorker);
    };
    /** A running job's groups: opened, claimed from, closed. */
    const onLending = (worker: Worker, m: LendingFromWorker) => {
      if (m.lending === "open") {
        groups.set(groupKey(worker, m.group), { owner: worker, group: m.group, module: m.module, name: m.name, specs: m.specs, next: 0 });
        lend();
      } else if (m.lending === "claim") {
        const g = groups.get(groupKey(worker, m.group));
        const index = g && g.next < g.specs.length ? g.next++ : -1;
        worker.postMessage({ lending: "claimed", group: m.group, index } satisfies LendingToWorker);
      } else if (m.lending === "close") groups.delete(groupKey(worker, m.group));
      else if (m.lending === "returned") {
        giveBack(worker, m.outcome);
        idle.add(worker);
        lend();
      } else {
        const loan = onLoan.get(worker);
        const g = loan && groups.get(loan.key);
        if (loan && g) g.owner.postMessage({ lending: "log", group: g.group, index: loan.index, line: m.line } satisfies LendingToWorker);
      }
    };

    /** A worker that runs `first` (a retried job), then takes the next jobs in order. */
    const start = (first?: number) => {
      const worker = new Worker(entry, {
        execArgv,
        workerData: { module: moduleUrl(ref.module), name: ref.name, lending: options.lendIdleWorkers === true },
        env: { ...process.env, LAB_THREADS: "1" },
        stderr: false,
        stdout: false,
      });
      live.add(worker);
      let current: number | undefined;
      let settled = false;
      const give = (job = takeJob()) => {
        current = job;
        if (current !== undefined) {
          worker.postMessage({ index: current, spec: specs[current] } satisfies ToWorker);
          return;
        }
        if (options.lendIdleWorkers && done < specs.length) {
          idle.add(worker);
          return lend();
        }
        settled = true;
        live.delete(worker);
        void worker.terminate();
      };
      // the job in flight failed (a throw, a crash or an exit): retry it once on a fresh worker
      const lost = (cause: Error) => {
        if (settled || stopped) return;
        settled = true;
        live.delete(worker);
        void worker.terminate();
        for (const [key, g] of groups) if (g.owner === worker) groups.delete(key);
        if (current === undefined) {
          // a lent worker: its loan goes back to the owner as failed once, who runs it again itself
          idle.delete(worker);
          if (onLoan.has(worker)) giveBack(worker, { ok: false, error: sendError(cause) });
          return;
        }
        const failed = (failures.get(current) ?? 0) + 1;
        failures.set(current, failed);
        if (failed > 1) return stop(jobFailed(ref, current, specs.length, cause, options.jobName?.(current)));
        start(current);
      };
      worker.on("message", (m: FromWorker | LendingFromWorker) => {
        if (stopped) return;
        if ("lending" in m) return onLending(worker, m);
        if (m.index !== current) return;
        if ("log" in m) options.onLog?.(m.log, m.index);
        else if (m.ok) {
          results[m.index] = m.result as R;
          done++;
          options.onProgress?.(done, specs.length, options.stage);
          if (done === specs.length) return finish();
          give();
        } else if (m.error.code !== undefined) {
          stop(receivedLabError(m.error as SentError & { code: string }));
        } else lost(receivedError(m.error));
      });
      worker.on("error", (e) => lost(e));
      worker.on("exit", (code) => lost(new Error(`the worker exited with code ${code} during the job`)));
      give(first ?? takeJob());
    };
    for (let i = 0; i < count; i++) start();
  });
}

/**
 * One long-lived worker for a job module that keeps state between calls (a decode engine and its
 * caches live in it): calls are answered in the order they were made, each with its result or its
 * error (a LabError keeps its code, fields and fix). The worker holds the process open only while
 * a call is pending. A worker that exits or crashes fails the calls in flight and every later one
 * with `workers/worker-lost`: its state is gone, so the owner starts a new one.
 */
export class JobWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private calls = 0;
  private lost?: Error;

  constructor(
    readonly ref: JobRef,
    options: { env?: NodeJS.ProcessEnv; resourceLimits?: ResourceLimits } = {},
  ) {
    const entry = workerEntry();
    this.worker = new Worker(entry, {
      execArgv: workerExecArgv(entry),
      workerData: { module: moduleUrl(ref.module), name: ref.name },
      env: { ...(options.env ?? process.env) },
      resourceLimits: options.resourceLimits,
    });
    this.worker.unref();
    this.worker.on("message", (m: FromWorker) => {
      const call = this.pending.get(m.index);
      if (!call || "log" in m) return;
      this.settled(m.index);
      if (m.ok) call.resolve(m.result);
      else call.reject(m.error.code !== undefined ? receivedLabError(m.error as SentError & { code: string }) : receivedError(m.error));
    });
    const lose = (cause: Error) => {
      this.lost ??= new WorkerPoolError({
        code: "workers/worker-lost",
        message: `the worker of ${ref.name} (${ref.module}) stopped: ${cause.message}`,
        hint: "its state is gone: start a new worker (a worker that ran out of memory needs smaller calls)",
        fields: { job: ref.name, module: ref.module, cause: cause.message },
        cause,
      });
      for (const [index, call] of this.pending) {
        this.settled(index);
        call.reject(this.lost);
      }
    };
    this.worker.on("error", lose);
    this.worker.on("exit", (code) => lose(new Error(`exit code ${code}`)));
  }

  /** True once the worker has stopped: every call is refused. */
  get stopped(): boolean {
    return this.lost !== undefined;
  }

  /** Why the worker stopped (`workers/worker-lost`), once it has. */
  get failure(): Error | undefined {
    return this.lost;
  }

  /** Runs the job on `spec` in the worker; answers in call order. */
  call<S, R>(spec: S, transfer: Transferable[] = []): Promise<R> {
    if (this.lost) return Promise.reject(this.lost);
    const index = this.calls++;
    return new Promise<R>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(index, { resolve: resolve as (r: unknown) => void, reject });
      this.worker.postMessage({ index, spec } satisfies ToWorker, transfer as never);
    });
  }

  private settled(index: number): void {
    this.pending.delete(index);
    if (this.pending.size === 0) this.worker.unref();
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

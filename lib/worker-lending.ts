/**
 * The worker's side of lending (lib/worker-pool.ts, `lendIdleWorkers`). In a worker of a lending
 * pool, a job's own runJobs shares its group of jobs: the group is opened with every spec, the job
 * claims the group's jobs one at a time and runs them itself, and the pool lends the jobs it has
 * not claimed to workers that have none left; their outcomes come back here. The results are
 * gathered in index order, each job seeded by its spec and index as anywhere else, so they are the
 * ones of one worker. The same worker also runs jobs lent to it once its own are done.
 *
 * Failures follow the pool's rule: a LabError is a refusal and stops the group; any other
 * failure of a lent job (its worker crashed, or it threw) is retried once here, by the owner.
 */
import type { MessagePort } from "node:worker_threads";
import {
  type FromWorker,
  type Job,
  type JobRef,
  type JobSharing,
  type LendingFromWorker,
  type LendingToWorker,
  loadJob,
  type PoolOptions,
  receivedLabError,
  runHere,
  type SentError,
  type SentOutcome,
  sendError,
} from "./worker-pool.js";

/** An outcome to wait for: resolved when it arrives, whichever comes first, the arrival or the wait. */
class Pending<T> {
  private value?: T;
  private waiter?: (value: T) => void;
  put(value: T): void {
    if (this.waiter) this.waiter(value);
    else this.value = value;
  }
  take(): Promise<T> {
    return this.value !== undefined ? Promise.resolve(this.value) : new Promise<T>((resolve) => (this.waiter = resolve));
  }
}

/** A group this worker shares: the lent jobs' outcomes, by index, and where their lines go. */
interface OwnGroup {
  returned: Map<number, Pending<SentOutcome>>;
  onLog?: PoolOptions["onLog"];
}

export class WorkerLending implements JobSharing {
  private depth = 0;
  private groupCount = 0;
  private readonly groups = new Map<number, OwnGroup>();
  private readonly claims = new Map<number, Pending<number>>();
  private readonly jobs = new Map<string, Promise<Job<unknown, unknown>>>();

  constructor(private readonly port: MessagePort) {}

  get busy(): boolean {
    return this.depth > 0;
  }

  /** Shares `specs` with the pool's idle workers and runs the ones it claims; answers every result in index order. */
  async run<S, R>(ref: JobRef, specs: readonly S[], options: PoolOptions): Promise<R[]> {
    const job = ref.local ? (ref.local as unknown as Job<S, R>) : await loadJob<S, R>(ref);
    const group = ++this.groupCount;
    const own: OwnGroup = { returned: new Map(), onLog: options.onLog };
    this.groups.set(group, own);
    this.post({ lending: "open", group, module: ref.module, name: ref.name, specs: [...specs] });
    const results = new Array<R>(specs.length);
    const ranHere = new Set<number>();
    let done = 0;
    const finished = () => options.onProgress?.(++done, specs.length, options.stage);
    try {
      for (let index = await this.claim(group); index >= 0; index = await this.claim(group)) {
        results[index] = await this.inside(() => runHere(ref, job, specs[index], index, specs.length, options));
        ranHere.add(index);
        finished();
      }
      for (let index = 0; index < specs.length; index++) {
        if (ranHere.has(index)) continue;
        const outcome = await this.returned(own, index).take();
        if (outcome.ok) results[index] = outcome.result as R;
        else if (outcome.error.code !== undefined) throw receivedLabError(outcome.error as SentError & { code: string });
        else results[index] = await this.inside(() => runHere(ref, job, specs[index], index, specs.length, options, 1));
        finished();
      }
      return results;
    } finally {
      this.groups.delete(group);
      this.post({ lending: "close", group });
    }
  }

  /** Takes a message of lending from the pool. */
  receive(m: LendingToWorker): void {
    if (m.lending === "lend") void this.runLent(m);
    else if (m.lending === "claimed") {
      this.claims.get(m.group)?.put(m.index);
      this.claims.delete(m.group);
    } else {
      const own = this.groups.get(m.group);
      if (!own) return; // a group already gathered or given up: nothing waits for it
      if (m.lending === "returned") this.returned(own, m.index).put(m.outcome);
      else own.onLog?.(m.line, m.index);
    }
  }

  /** Runs a job lent to this worker and returns its outcome (its lines go to its owner as it runs). */
  private async runLent({ module, name, index, spec }: Extract<LendingToWorker, { lending: "lend" }>): Promise<void> {
    let outcome: SentOutcome;
    try {
      const job = await this.job(module, name);
      const result = await this.inside(async () => job(spec, index, { log: (line) => this.post({ lending: "log", line }) }));
      outcome = { ok: true, result };
    } catch (e) {
      outcome = { ok: false, error: sendError(e) };
    }
    try {
      this.post({ lending: "returned", outcome });
    } catch (e) {
      this.post({ lending: "returned", outcome: { ok: false, error: sendError(e) } }); // a result that cannot be cloned
    }
  }

  private job(module: string, name: string): Promise<Job<unknown, unknown>> {
    const key = `${module}#${name}`;
    const job = this.jobs.get(key) ?? loadJob({ module, name });
    this.jobs.set(key, job);
    return job;
  }

  private claim(group: number): Promise<number> {
    const claim = new Pending<number>();
    this.claims.set(group, claim);
    this.post({ lending: "claim", group });
    return claim.take();
  }

  private returned(own: OwnGroup, index: number): Pending<SentOutcome> {
    const pending = own.returned.get(index) ?? new Pending<SentOutcome>();
    own.returned.set(index, pending);
    return pending;
  }

  /** Runs `work` as a shared or lent job: the groups it would open of its own run in it instead. */
  private async inside<T>(work: () => Promise<T>): Promise<T> {
    this.depth++;
    try {
      return await work();
    } finally {
      this.depth--;
    }
  }

  private post(m: LendingFromWorker | FromWorker): void {
    this.port.postMessage(m);
  }
}

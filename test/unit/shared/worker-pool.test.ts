import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { JobWorker, runJobs, WorkerPoolError, workerCount } from "../../../lib/worker-pool.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const JOBS = new URL("./fixtures/pool-jobs.ts", import.meta.url).href;

describe("worker pool (lib/worker-pool.ts)", function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "lab-pool-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the same results in index order for 1 worker (in process) and 2 worker threads", async () => {
    const specs = Array.from({ length: 7 }, (_, i) => ({ n: 20_000 + 5_000 * (i % 3) }));
    const progress: number[] = [];
    const one = await runJobs<{ n: number }, { index: number; sum: number; thread: number }>({ module: JOBS, name: "seededSum" }, specs, { workers: 1 });
    const two = await runJobs<{ n: number }, { index: number; sum: number; thread: number }>({ module: JOBS, name: "seededSum" }, specs, { workers: 2, onProgress: (done) => progress.push(done) });
    expect(two.map((r) => [r.index, r.sum])).to.deep.equal(one.map((r) => [r.index, r.sum]));
    expect(one.map((r) => r.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(one.map((r) => r.thread))).to.deep.equal(new Set([0]), "one worker runs in this (main) thread");
    expect(new Set(two.map((r) => r.thread)).has(0)).to.equal(false, "two workers run on threads");
    expect(progress).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
  });

  for (const workers of [1, 2]) {
    it(`passes every line a job logs to onLog with the job's index, in the job's own order (${workers} worker${workers > 1 ? "s" : ""})`, async () => {
      const logged: Array<[number, string]> = [];
      const results = await runJobs({ module: JOBS, name: "logLines" }, [{ lines: 3 }, { lines: 2 }, { lines: 0 }], { workers, onLog: (line, index) => logged.push([index, line]) });
      expect(results).to.deep.equal([0, 1, 2]);
      for (const index of [0, 1]) {
        expect(logged.filter(([i]) => i === index).map(([, line]) => line)).to.deep.equal(Array.from({ length: 3 - index }, (_, i) => `job ${index} line ${i}`));
      }
      expect(logged).to.have.length(5);
    });
  }

  it("retries a job whose worker exits mid-job once, on a fresh worker", async () => {
    const log = join(dir, "attempts");
    const specs = Array.from({ length: 4 }, () => ({ log, dies: 2, once: true }));
    expect(await runJobs({ module: JOBS, name: "exitMidJob" }, specs, { workers: 2 })).to.deep.equal([0, 10, 20, 30]);
    const lines = readFileSync(log, "utf8").split("\n");
    const attempts = lines.filter((l) => l.startsWith("2 "));
    expect(attempts).to.have.length(2);
    const threadOf = (line: string) => Number(line.split(" ").at(-1));
    const upToFailure = lines.slice(0, lines.indexOf(attempts[0]) + 1);
    expect(upToFailure.map(threadOf), "the retry runs on a worker started for it").not.to.include(threadOf(attempts[1]));
  });

  it("stops with workers/job-failed naming the job when its worker dies twice", async () => {
    const log = join(dir, "attempts");
    const specs = Array.from({ length: 4 }, () => ({ log, dies: 1 }));
    const e = await expectCodeAsync(runJobs({ module: JOBS, name: "exitMidJob" }, specs, { workers: 2 }), WorkerPoolError, "workers/job-failed", { job: "exitMidJob", index: 1, total: 4 });
    expect(String(e.fields.cause)).to.match(/exited with code 3/);
    expect(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("1 ")),
    ).to.have.length(2, "tried once, retried once");
  });

  for (const workers of [1, 2]) {
    it(`stops with workers/job-failed naming a job that throws (${workers} worker${workers > 1 ? "s" : ""})`, async () => {
      const specs = Array.from({ length: 5 }, () => ({ fails: 3 }));
      const e = await expectCodeAsync(runJobs({ module: JOBS, name: "throwOn" }, specs, { workers }), WorkerPoolError, "workers/job-failed", {
        job: "throwOn",
        index: 3,
        total: 5,
        cause: "job 3 broke",
      });
      expect(e.fields.module).to.equal(JOBS);
    });

    it(`passes a job's LabError through with its code and fields, unretried (${workers} worker${workers > 1 ? "s" : ""})`, async () => {
      const specs = Array.from({ length: 3 }, () => ({ refuses: 1 }));
      await expectCodeAsync(runJobs({ module: JOBS, name: "refuseOn" }, specs, { workers }), LabError, "test/refused", { index: 1 });
    });
  }

  it("JobWorker answers calls in order with the state kept between them; a worker that exits fails the call in flight and every later one with workers/worker-lost", async () => {
    const worker = new JobWorker({ module: JOBS, name: "keepTally" });
    try {
      const totals = await Promise.all([1, 2, 3].map((add) => worker.call<{ add: number }, number>({ add })));
      expect(totals).to.deep.equal([1, 3, 6]);
      expect(worker.stopped).to.equal(false);
      await expectCodeAsync(worker.call({ add: 0, exit: true }), WorkerPoolError, "workers/worker-lost", { job: "keepTally" });
      expect(worker.stopped).to.equal(true);
      expect(worker.failure).to.be.instanceOf(WorkerPoolError);
      await expectCodeAsync(worker.call({ add: 1 }), WorkerPoolError, "workers/worker-lost", { job: "keepTally" });
    } finally {
      await worker.terminate();
    }
  });

  it("inside a worker the pool defaults to one worker: a job that runs jobs of its own runs them itself, with the numbers of the main thread", async () => {
    const nested = await runJobs<{ n: number }, { workers: number; sums: number[] }>({ module: JOBS, name: "nestedJobs" }, [{ n: 1000 }, { n: 2000 }], { workers: 2 });
    expect(nested.map((r) => r.workers)).to.deep.equal([1, 1]);
    const here = await runJobs<{ n: number }, { sum: number }>({ module: JOBS, name: "seededSum" }, [{ n: 1000 }, { n: 1000 }], { workers: 1 });
    expect(nested[0].sums).to.deep.equal(here.map((r) => r.sum));
  });

  it("refuses a job the module does not export", async () => {
    await expectCodeAsync(runJobs({ module: JOBS, name: "noSuchJob" }, [{}], { workers: 1 }), WorkerPoolError, "workers/no-such-job", { job: "noSuchJob" });
    await expectCodeAsync(runJobs({ module: JOBS, name: "noSuchJob" }, [{}, {}], { workers: 2 }), LabError, "workers/no-such-job", { job: "noSuchJob" });
  });

  it("reads LAB_WORKERS: the cores by default, refusing a count that is not a whole number ≥ 1 or above the cores", () => {
    const cores = workerCount({});
    expect(cores).to.be.at.least(1);
    expect(workerCount({ LAB_WORKERS: "1" })).to.equal(1);
    expectCode(() => workerCount({ LAB_WORKERS: "0" }), WorkerPoolError, "workers/bad-count", { value: "0" });
    expectCode(() => workerCount({ LAB_WORKERS: "two" }), WorkerPoolError, "workers/bad-count", { value: "two" });
    expectCode(() => workerCount({ LAB_WORKERS: String(cores + 1) }), WorkerPoolError, "workers/above-cores", { value: cores + 1, cores });
  });
});

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
    const e = await expectCodeAsync(runJobs({ module: JOBS, name: "exitMidJob" }, specs, { workers: 2, jobName: (i) => `spec ${i}` }), WorkerPoolError, "workers/job-failed", {
      job: "exitMidJob",
      index: 1,
      total: 4,
      name: "spec 1",
    });
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
      const e = await expectCodeAsync(runJobs({ module: JOBS, name: "throwOn" }, specs, { workers, jobName: (i) => `spec ${i}` }), WorkerPoolError, "workers/job-failed", {
        job: "throwOn",
        index: 3,
        total: 5,
        cause: "job 3 broke",
        name: "spec 3",
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

  describe("lending idle workers (lendIdleWorkers)", () => {
    type Sum = { sum: number; thread: number };
    const group = (name: string, count: number, spec: unknown) => ({ name, count, spec });

    it("lends a worker with no job left to the group a running job shares: the group's results are one worker's, some run on the lent worker", async () => {
      const log = join(dir, "meet");
      const inner = { log, n: 20_000, meet: true };
      const [shared, none] = await runJobs<unknown, Sum[]>({ module: JOBS, name: "innerGroup" }, [group("meetOnTwoThreads", 6, inner), group("quick", 0, {})], {
        workers: 2,
        lendIdleWorkers: true,
      });
      const one = await runJobs<{ n: number }, { sum: number }>(
        { module: JOBS, name: "seededSum" },
        Array.from({ length: 6 }, () => ({ n: 20_000 })),
        { workers: 1 },
      );
      expect(shared.map((r) => r.sum)).to.deep.equal(one.map((r) => r.sum));
      expect(new Set(shared.map((r) => r.thread)).size).to.equal(2, "the owner's thread and the lent worker's");
      expect(none).to.deep.equal([]);
    });

    it("lends nothing unless asked: a running job's group stays on its own thread", async () => {
      const inner = { log: join(dir, "alone"), n: 1000, meet: false };
      const [shared] = await runJobs<unknown, Sum[]>({ module: JOBS, name: "innerGroup" }, [group("meetOnTwoThreads", 6, inner), group("quick", 0, {})], { workers: 2 });
      expect(new Set(shared.map((r) => r.thread)).size).to.equal(1);
    });

    it("passes a shared job's LabError through to the pool's caller, wherever the job ran", async () => {
      const specs = [group("refuseOn", 4, { refuses: 2 }), group("quick", 0, {})];
      await expectCodeAsync(runJobs({ module: JOBS, name: "innerGroup" }, specs, { workers: 2, lendIdleWorkers: true }), LabError, "test/refused", { index: 2 });
    });

    it("gives a lent job whose worker dies back to its owner, who runs it again, and stops with workers/job-failed naming a shared job that throws twice", async () => {
      const log = join(dir, "attempts");
      const [results] = await runJobs<unknown, number[]>({ module: JOBS, name: "innerGroup" }, [group("exitWhenLent", 4, { log }), group("quick", 0, {})], {
        workers: 2,
        lendIdleWorkers: true,
      });
      expect(results).to.deep.equal([0, 10, 20, 30]);
      const attempts = readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" ").map(Number));
      const threads = [...new Set(attempts.map(([, thread]) => thread))];
      expect(threads).to.have.length(2, "the owner's and the lent worker's");
      const lent = attempts.filter(([, thread]) => thread === threads.find((t) => attempts.filter(([, u]) => u === t).length === 1));
      expect(lent, "one job ran on the lent worker, which died").to.have.length(1);
      expect(
        attempts.filter(([index]) => index === lent[0][0]),
        "the lent job, tried on loan and again by its owner",
      ).to.have.length(2);
      const specs = [group("throwOn", 4, { fails: 1 }), group("quick", 0, {})];
      await expectCodeAsync(runJobs({ module: JOBS, name: "innerGroup" }, specs, { workers: 2, lendIdleWorkers: true }), LabError, "workers/job-failed", { job: "throwOn", index: 1, total: 4 });
    });
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

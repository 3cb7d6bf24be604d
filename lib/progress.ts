/**
 * How long work reports its progress: layers take an optional `onProgress(done, total, stage?)`
 * and never draw (lib/notebook/progress.ts draws). `done` rises to `total`; the last call has
 * `done === total`. A callback only observes: passing one never changes what is computed.
 */
export type OnProgress = (done: number, total: number, stage?: string) => void;

/**
 * One turn of the event loop, so that a progress line drawn between synchronous stages reaches
 * the notebook while the work goes on (a resolved promise alone would not let I/O run).
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A stage of work as `stagedProgress` counts it: its name and its units (0: the stage does nothing and is not reported). */
export interface ProgressStage {
  name: string;
  units: number;
}

/** The count of work in stages, reported through one `OnProgress`: see `stagedProgress`. */
export interface StagedProgress {
  /** The units of all stages: the `total` every report carries. */
  total: number;
  /** Reports the units of the stages before stage `i` as done, naming it; then one turn of the event loop. */
  start(i: number): Promise<void>;
  /**
   * The `OnProgress` a stage's own parts report to (worker jobs finished, say): its `done` parts
   * count from the stage's first unit, named "stage: what" after the part's own stage name, or
   * else "stage: done of total noun".
   */
  within(i: number, noun: string): OnProgress | undefined;
  /**
   * The `OnProgress` of a one-unit stage's steps (a training run's, say): they only name the
   * stage's progress, "stage: done of total noun", and the count stays where the stage started.
   */
  steps(i: number, noun: string): OnProgress | undefined;
  /** Reports the total, with no stage. */
  end(): void;
}

/**
 * Work in stages of known sizes as one count that rises to the units of all stages: a stage that
 * is one piece of work counts 1 (its steps may still show beside the count), a stage of n
 * re-trainings counts n and reports each as it finishes, so one progress line moves through the
 * long stages too. Without `onProgress` nothing is reported.
 */
export function stagedProgress(onProgress: OnProgress | undefined, stages: readonly ProgressStage[]): StagedProgress {
  const total = stages.reduce((sum, s) => sum + s.units, 0);
  const before = (i: number) => stages.slice(0, i).reduce((sum, s) => sum + s.units, 0);
  return {
    total,
    async start(i) {
      if (!onProgress || stages[i].units === 0) return;
      onProgress(before(i), total, stages[i].name);
      await nextTurn();
    },
    within(i, noun) {
      if (!onProgress) return undefined;
      const first = before(i);
      return (done, parts, what) => onProgress(first + done, total, `${stages[i].name}: ${what ?? `${done} of ${parts} ${noun}`}`);
    },
    steps(i, noun) {
      if (!onProgress) return undefined;
      const first = before(i);
      return (done, parts) => onProgress(first, total, `${stages[i].name}: ${done} of ${parts} ${noun}`);
    },
    end() {
      onProgress?.(total, total);
    },
  };
}

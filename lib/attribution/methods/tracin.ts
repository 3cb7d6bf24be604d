/**
 * TracIn-CP (Pruthi et al. 2020): Σ_c η_c ∇ℓ(z_t; θ_c)·∇ℓ(zᵢ; θ_c) over the kept checkpoints θ_c,
 * each weighted by the learning rate η_c in force when it was saved.
 */

import { AttributionError } from "../errors.js";
import { taskGradients } from "../gradients.js";
import type { ProjectionSpec } from "../projection.js";
import { type AttributionTask, type Attributor, pairScores, rowDots, type Scores, verifyTask } from "./attributor.js";

/** The checkpoints TracIn-CP sums over; refused before any gradient is computed when there are none. */
function keptCheckpoints(task: AttributionTask): NonNullable<AttributionTask["checkpoints"]> {
  const cps = task.checkpoints ?? [];
  if (cps.length === 0)
    throw new AttributionError({
      code: "method/no-checkpoints",
      message: "TracIn-CP needs kept checkpoints, none given",
      hint: "train with checkpointEvery set (the Model Factory keeps them) and pass task.checkpoints",
      fields: { method: "tracin-cp" },
    });
  return cps;
}

export class TracInCP implements Attributor {
  readonly name = "tracin-cp";
  constructor(readonly opts: { projection?: ProjectionSpec } = {}) {}
  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const cps = keptCheckpoints(task);
    const total = new Float64Array(task.test.n * task.train.n);
    for (const cp of cps) {
      const G = await taskGradients(task, cp.params, task.train, { projection: this.opts.projection });
      const V = await taskGradients(task, cp.params, task.test, { projection: this.opts.projection });
      const s = pairScores(this.name, V.data, V.n, G.data, G.n, G.dim);
      for (let i = 0; i < total.length; i++) total[i] += cp.lr * s.data[i];
    }
    return { method: this.name, nTest: task.test.n, nTrain: task.train.n, data: total };
  }
  /** Σ_c η_c ‖∇ℓ(zᵢ; θ_c)‖² (Pruthi et al.'s self-influence for mislabel detection). */
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const cps = keptCheckpoints(task);
    const total = new Float64Array(task.train.n);
    for (const cp of cps) {
      const G = await taskGradients(task, cp.params, task.train, { projection: this.opts.projection });
      const sq = rowDots(G.data, G.data, G.n, G.dim);
      for (let i = 0; i < total.length; i++) total[i] += cp.lr * sq[i];
    }
    return total;
  }
}

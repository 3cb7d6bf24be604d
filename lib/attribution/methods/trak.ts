/**
 * TRAK (Park et al., ICML 2023). For each model m of an ensemble: features φᵢ = Pₘᵀ ∇_θ f(zᵢ; θₘ),
 * f the margin log(p/(1−p)) of the correct class, Pₘ a seeded Johnson–Lindenstrauss projection;
 * Q = diag(1 − p(zᵢ)) the one-minus-correct-class-probability weights. Then
 *
 *   τ(z_t)ᵢ = φ(z_t)ᵀ (ΦᵀΦ + n·l2·max(1, p/k)·I)⁻¹ φᵢ Qᵢ   (averaged over the M models),
 *
 * the one-step Newton estimate of the linearised model's response to removing zᵢ.
 */
import { taskGradients } from "../gradients.js";
import { cholesky, choleskySolve, matmulAtB } from "../linalg.js";
import type { ProjectionKind } from "../projection.js";
import { headSignal } from "../model.js";
import { AttributionError } from "../errors.js";
import { verifyTask, type AttributionTask, type Attributor, type Scores } from "./types.js";

export class TRAK implements Attributor {
  readonly name: string;
  constructor(readonly opts: { projectionDim: number; kind?: ProjectionKind; seed?: number }) {
    this.name = "trak";
  }
  attribute(task: AttributionTask): Scores {
    verifyTask(task);
    const members = task.ensemble ?? [{ params: task.params }];
    if (members.length === 0) throw new AttributionError({
      code: "method/empty-ensemble",
      message: "TRAK ensemble is empty",
      hint: "pass task.ensemble with at least one trained model",
      fields: { method: "trak" },
    });
    const nT = task.test.n;
    const nTr = task.train.n;
    const total = new Float64Array(nT * nTr);
    const k = this.opts.projectionDim;
    const seed = this.opts.seed ?? task.seed ?? 0;
    members.forEach((m, mi) => {
      const projection = { kind: this.opts.kind ?? "rademacher", dim: k, seed: seed * 1000 + mi } as const;
      const Phi = taskGradients(task, m.params, task.train, { target: "margin", projection });
      const Psi = taskGradients(task, m.params, task.test, { target: "margin", projection });
      const K = task.model.numClasses;
      const probs = headSignal(task.model.logits(m.params, task.train.x, nTr), task.train.y, nTr, K, "loss").probs;
      const gram = matmulAtB(Phi.data, Phi.data, nTr, k, k);
      // Damping: the training objective's own l2 term, n·l2·I in parameter space, seen through the
      // projection (PᵀP ≈ (p/k)·I for k < p; for k ≥ p its p non-zero eigenvalues are ≈ 1).
      // Without it ΦᵀΦ is singular whenever the features span fewer than k directions (softmax
      // margins: every class block sums to zero).
      const ridge = nTr * task.l2 * Math.max(1, task.model.numParams / k);
      for (let i = 0; i < k; i++) gram[i * k + i] += ridge > 0 ? ridge : 1e-12;
      const L = cholesky(gram, k);
      for (let t = 0; t < nT; t++) {
        const x = choleskySolve(L, k, Psi.data.subarray(t * k, (t + 1) * k));
        for (let i = 0; i < nTr; i++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += x[j] * Phi.data[i * k + j];
          total[t * nTr + i] += (s * (1 - probs[i * K + task.train.y[i]])) / members.length;
        }
      }
    });
    return { method: `${this.name}-${members.length}`, nTest: nT, nTrain: nTr, data: total };
  }
}

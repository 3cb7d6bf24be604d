/**
 * DataInf's identification task, with datanets as the groups: for each test point drawn from
 * datanet D, training examples from D should score above the rest. Reported: the ROC AUC of the
 * scores for "same datanet", and the recall of the paper — the fraction of same-datanet examples
 * among the top-s scored, s = the number of training examples of that datanet — each averaged
 * over test points.
 */
import type { Scores } from "../methods/attributor.js";
import { mean, rocAuc } from "./stats.js";

export function datanetIdentification(scores: Scores, trainDatanet: Int32Array, testDatanet: Int32Array): { auc: number; recall: number; perTestAuc: Float64Array } {
  const perTestAuc = new Float64Array(scores.nTest);
  const recalls = new Float64Array(scores.nTest);
  for (let t = 0; t < scores.nTest; t++) {
    const row = scores.data.subarray(t * scores.nTrain, (t + 1) * scores.nTrain);
    const same = Uint8Array.from(trainDatanet, (d) => (d === testDatanet[t] ? 1 : 0));
    perTestAuc[t] = rocAuc(row, same);
    const s = same.reduce((a, b) => a + b, 0);
    const top = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a])
      .slice(0, s);
    recalls[t] = s > 0 ? top.filter((i) => same[i]).length / s : NaN;
  }
  return { auc: mean(perTestAuc), recall: mean(recalls), perTestAuc };
}

/**
 * Which datanet each test point is taken for: the one whose training examples score highest on
 * average. `counts[d][e]` is how many test points of datanet d are taken for datanet e (d = e:
 * identified); the rows show which datanets a weak one is confused with.
 */
export function identificationConfusion(scores: Scores, trainDatanet: Int32Array, testDatanet: Int32Array, datanets: number): number[][] {
  const counts = Array.from({ length: datanets }, () => new Array<number>(datanets).fill(0));
  const size = new Float64Array(datanets);
  for (const d of trainDatanet) size[d]++;
  for (let t = 0; t < scores.nTest; t++) {
    const sums = new Float64Array(datanets);
    for (let i = 0; i < scores.nTrain; i++) sums[trainDatanet[i]] += scores.data[t * scores.nTrain + i];
    let best = 0;
    for (let e = 1; e < datanets; e++) if (sums[e] / size[e] > sums[best] / size[best]) best = e;
    counts[testDatanet[t]][best]++;
  }
  return counts;
}

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

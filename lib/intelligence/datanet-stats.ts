import * as aq from "arquero";
import type { Datanet } from "./datanets.js";

/**
 * A datanet seen per contributor, as tables (arquero): one row per sample, then grouped by
 * contributor (samples, labels that differ from the true ones) and by contributor and class (the
 * class mix as contributed). What a notebook shows about who contributed what.
 */

/** One row per sample: its contributor (index and name), the label as contributed and whether it differs from the true label. */
export function datanetSampleTable(datanet: Datanet) {
  return aq.table({
    contributorIndex: Int32Array.from(datanet.contributorOf),
    contributor: Array.from(datanet.contributorOf, (c) => datanet.contributors[c].name),
    label: Array.from(datanet.y),
    wrong: Array.from(datanet.y, (y, i) => (y !== datanet.yTrue[i] ? 1 : 0)),
  });
}

/** Per contributor, in the datanet's order: name, address, kind, samples committed, and labels that differ from the true ones. */
export function contributorSummary(datanet: Datanet): { contributor: string; address: string; kind: string; samples: number; "wrong labels": number }[] {
  const perContributor = datanetSampleTable(datanet)
    .groupby("contributorIndex")
    .rollup({ wrong: aq.op.sum("wrong") });
  const index = perContributor.array("contributorIndex");
  const wrongLabels = perContributor.array("wrong");
  const wrong = new Map(Array.from(index, (ci, row) => [Number(ci), Number(wrongLabels[row])] as const));
  return datanet.contributors.map((c, ci) => ({ contributor: c.name, address: c.address, kind: c.kind, samples: c.samples, "wrong labels": wrong.get(ci) ?? 0 }));
}

/** The class mix as contributed: samples per contributor (rows, the datanet's order) and class (columns, 0 … numClasses − 1). */
export function classMixByContributor(datanet: Datanet): number[][] {
  const counts = datanetSampleTable(datanet).groupby("contributorIndex", "label").count({ as: "samples" });
  const [contributor, label, samples] = [counts.array("contributorIndex"), counts.array("label"), counts.array("samples")];
  const mix = datanet.contributors.map(() => new Array<number>(datanet.numClasses).fill(0));
  for (let row = 0; row < counts.numRows(); row++) mix[Number(contributor[row])][Number(label[row])] = Number(samples[row]);
  return mix;
}

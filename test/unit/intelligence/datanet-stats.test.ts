import { expect } from "chai";
import { DATANET_CATALOG } from "../../../lib/intelligence/factory/catalog.js";
import { classMixByContributor, contributorSummary, datanetSampleTable } from "../../../lib/intelligence/index.js";

describe("datanet statistics per contributor (lib/intelligence/datanet-stats.ts)", () => {
  const datanet = DATANET_CATALOG["fmnist-low-contrast"].build(0.05);

  it("counts each contributor's samples per class and its wrong labels, as a scan of the samples does", () => {
    const mix = classMixByContributor(datanet);
    const summary = contributorSummary(datanet);
    expect(summary.map((r) => r.contributor)).to.deep.equal(datanet.contributors.map((c) => c.name));
    datanet.contributors.forEach((c, ci) => {
      const mine = Array.from({ length: datanet.n }, (_, i) => i).filter((i) => datanet.contributorOf[i] === ci);
      const counts = new Array(datanet.numClasses).fill(0);
      for (const i of mine) counts[datanet.y[i]]++;
      expect(mix[ci], c.name).to.deep.equal(counts);
      expect(summary[ci]["wrong labels"], c.name).to.equal(mine.filter((i) => datanet.y[i] !== datanet.yTrue[i]).length);
      expect(summary[ci]).to.include({ address: c.address, kind: c.kind, samples: c.samples });
    });
  });

  it("finds the label-flipper's wrong labels and no one else's", () => {
    const wrong = contributorSummary(datanet).filter((r) => r["wrong labels"] > 0);
    expect(wrong.map((r) => r.kind)).to.deep.equal(["label-flip"]);
    expect(datanetSampleTable(datanet).numRows()).to.equal(datanet.n);
  });
});

import { expect } from "chai";
import { hasCode } from "../../../lib/errors.js";
import { checkedLayout, figureMarkup } from "../../../lib/notebook/plot.js";

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("plot: titles the way plotly.js 3 reads them", () => {
  const line = [{ type: "scatter", x: [1, 2], y: [3, 4] }];
  const titled = { title: { text: "T" }, xaxis: { title: { text: "step" } }, yaxis: { title: { text: "loss" }, type: "log" } };

  it("passes a fully titled layout through, keeping axis options and adding automargin", () => {
    const out = checkedLayout(line, titled);
    expect(out.title).to.deep.equal({ text: "T" });
    expect(out.yaxis).to.deep.equal({ automargin: true, title: { text: "loss" }, type: "log" });
    expect(figureMarkup(line, titled)).to.include('"title":{"text":"step"}');
  });

  it("refuses string titles, which plotly 3 ignores, naming the { text } form", () => {
    const e = refusal(() => checkedLayout(line, { ...titled, title: "T" }));
    expect(hasCode(e, "plot/string-title") && e.fields.where).to.equal("layout.title");
    const axis = refusal(() => checkedLayout(line, { ...titled, xaxis: { title: "step" } }));
    expect(hasCode(axis, "plot/string-title") && axis.fields.where).to.equal("layout.xaxis.title");
  });

  it("refuses a figure without a title or without axis titles", () => {
    expect(
      hasCode(
        refusal(() => checkedLayout(line, { xaxis: titled.xaxis, yaxis: titled.yaxis })),
        "plot/no-title",
      ),
    ).to.equal(true);
    const noX = refusal(() => checkedLayout(line, { title: titled.title, yaxis: titled.yaxis }));
    expect(hasCode(noX, "plot/no-axis-title") && noX.fields.axis).to.equal("xaxis");
    expect(
      hasCode(
        refusal(() => checkedLayout(line, { ...titled, yaxis: { title: { text: " " } } })),
        "plot/no-axis-title",
      ),
    ).to.equal(true);
  });

  it("asks titles of every axis the traces use, and none of hidden axes or axis-less traces", () => {
    const twin = [...line, { type: "scatter", x: [1], y: [1], yaxis: "y2" }];
    const e = refusal(() => checkedLayout(twin, titled));
    expect(hasCode(e, "plot/no-axis-title") && e.fields.axis).to.equal("yaxis2");
    expect(() => checkedLayout(twin, { ...titled, yaxis2: { title: { text: "accuracy" }, overlaying: "y" } })).to.not.throw();
    expect(() => checkedLayout([{ type: "heatmap", z: [[1]] }], { title: { text: "image" }, xaxis: { visible: false }, yaxis: { visible: false } })).to.not.throw();
    expect(() => checkedLayout([{ type: "pie", values: [1, 2] }], { title: { text: "shares" } })).to.not.throw();
  });
});

import { expect } from "chai";
import { checkedLayout, figureMarkup, PlotError } from "../../../lib/notebook/plot.js";
import { expectCode } from "../expect-code.js";

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
    expectCode(() => checkedLayout(line, { ...titled, title: "T" }), PlotError, "plot/string-title", { where: "layout.title" });
    expectCode(() => checkedLayout(line, { ...titled, xaxis: { title: "step" } }), PlotError, "plot/string-title", { where: "layout.xaxis.title" });
  });

  it("refuses a figure without a title or without axis titles", () => {
    expectCode(() => checkedLayout(line, { xaxis: titled.xaxis, yaxis: titled.yaxis }), PlotError, "plot/no-title");
    expectCode(() => checkedLayout(line, { title: titled.title, yaxis: titled.yaxis }), PlotError, "plot/no-axis-title", { axis: "xaxis" });
    expectCode(() => checkedLayout(line, { ...titled, yaxis: { title: { text: " " } } }), PlotError, "plot/no-axis-title");
  });

  it("asks titles of every axis the traces use, and none of hidden axes or axis-less traces", () => {
    const twin = [...line, { type: "scatter", x: [1], y: [1], yaxis: "y2" }];
    expectCode(() => checkedLayout(twin, titled), PlotError, "plot/no-axis-title", { axis: "yaxis2" });
    expect(() => checkedLayout(twin, { ...titled, yaxis2: { title: { text: "accuracy" }, overlaying: "y" } })).to.not.throw();
    expect(() => checkedLayout([{ type: "heatmap", z: [[1]] }], { title: { text: "image" }, xaxis: { visible: false }, yaxis: { visible: false } })).to.not.throw();
    expect(() => checkedLayout([{ type: "pie", values: [1, 2] }], { title: { text: "shares" } })).to.not.throw();
  });
});

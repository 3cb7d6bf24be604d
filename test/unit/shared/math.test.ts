import { expect } from "chai";
import { typesetMath } from "../../../lib/runner/math.js";

describe("typesetMath (TeX in exported reports)", () => {
  const markdown = (inner: string) => `<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput">${inner}</div>`;

  it("typesets inline and display TeX in markdown cells as MathML, unescaping HTML entities first", () => {
    const out = typesetMath(markdown("<p>if $x_i &lt; y$ then</p>\n$$\\frac{1}{n}\\sum_i g_i$$"));
    expect(out).to.include("<mo>&lt;</mo>").and.include('display="block"').and.include("<mfrac>");
    expect(out).to.not.match(/\$x_i|\$\$/);
  });

  it("leaves code, prices and everything outside markdown cells alone", () => {
    const html = `${markdown("<p><code>$HOME</code> costs $5 and $10.</p><pre>$a$</pre>")}<div class="jp-OutputArea"><pre>$y$</pre></div>`;
    expect(typesetMath(html)).to.equal(html);
  });
});

import katex from "katex";

/**
 * Typesets the TeX of markdown cells in an exported report as MathML, which browsers draw with no
 * script, stylesheet or font: the report stays self-contained and readable offline. (The live
 * notebook typesets the same TeX with the notebook server's own MathJax.)
 */
const MARKDOWN_DIV = /<div class="[^"]*\bjp-RenderedMarkdown\b[^"]*"[^>]*>/g;
const SKIP = /(<(pre|code|script|style)\b[\s\S]*?<\/\2>)/i;
const DISPLAY = /\$\$([\s\S]+?)\$\$/g;
const INLINE = /(^|[^\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)/g;

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

function typeset(tex: string, displayMode: boolean): string {
  return katex.renderToString(unescapeHtml(tex), { output: "mathml", displayMode, throwOnError: false });
}

/** The index just past the </div> that closes the div opened at `start`. */
function closingDivEnd(html: string, start: number): number {
  const tags = /<(\/?)div\b[^>]*>/g;
  tags.lastIndex = start;
  let depth = 0;
  for (let m = tags.exec(html); m; m = tags.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return m.index + m[0].length;
  }
  return html.length;
}

function typesetText(fragment: string): string {
  return fragment
    .split(SKIP)
    .map((part, i) => {
      // split() with two groups yields [text, skipped element, its tag name, text, …]: only text is typeset.
      if (i % 3 !== 0) return i % 3 === 1 ? part : "";
      return part.replace(DISPLAY, (_, tex: string) => typeset(tex, true)).replace(INLINE, (_, before: string, tex: string) => before + typeset(tex, false));
    })
    .join("");
}

export function typesetMath(html: string): string {
  let out = "";
  let cursor = 0;
  for (const m of html.matchAll(MARKDOWN_DIV)) {
    if (m.index! < cursor) continue;
    const end = closingDivEnd(html, m.index!);
    out += html.slice(cursor, m.index!) + typesetText(html.slice(m.index!, end));
    cursor = end;
  }
  return out + html.slice(cursor);
}

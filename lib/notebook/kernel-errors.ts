/**
 * Errors as a reader of a live notebook should see them: the message, then the cell and line that
 * raised it, then the library's frames that led there; the kernel's own frames (tslab's executor,
 * Node's internals), which say nothing about the reader's code, are left out and counted.
 * tslab runs each cell as code named `evalmachine.<anonymous>`, so a frame there is the cell.
 */

type CallSite = NodeJS.CallSite;

function isCell(frame: CallSite): boolean {
  return (frame.getFileName() ?? "").startsWith("evalmachine.");
}

function isKernel(frame: CallSite): boolean {
  const file = frame.getFileName() ?? "";
  return file === "" || file.startsWith("node:") || file.includes("/node_modules/tslab/");
}

/** V8's stack text for `error`, cell first and the kernel's frames left out (Error.prepareStackTrace's form). */
export function cellFirstStack(error: Error, frames: CallSite[]): string {
  const head = Error.prototype.toString.call(error);
  const cell = frames.find(isCell);
  const lines = cell ? [`    in your cell, line ${cell.getLineNumber()}${cell.getFunctionName() ? `, in ${cell.getFunctionName()}` : ""}`] : [];
  for (const frame of frames) if (!isCell(frame) && !isKernel(frame)) lines.push(`    at ${frame.toString()}`);
  const dropped = frames.filter((f) => !isCell(f) && isKernel(f)).length;
  if (dropped) lines.push(`    (${dropped} frame${dropped === 1 ? "" : "s"} of the kernel left out)`);
  return [head, ...lines].join("\n");
}

/** Makes every stack trace of this process cell-first (the lab's kernel calls it at start). */
export function installCellFirstStacks(): void {
  Error.prepareStackTrace = cellFirstStack;
}

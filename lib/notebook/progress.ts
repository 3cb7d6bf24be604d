import cliProgress from "cli-progress";
import type { OnProgress } from "../progress.js";
import { kernelDisplay } from "./display.js";

export interface Progress {
  tick(n?: number, info?: string): void;
  done(info?: string): void;
}

const NOTEBOOK_REFRESH_MS = 250;

/**
 * Shows progress of long work: a live line updated in place in a notebook (one display entry,
 * rewritten), a bar in a terminal, and a line every 10% when the output is not a terminal.
 */
export function progress(label: string, total: number): Progress {
  const kernel = kernelDisplay();
  const started = Date.now();
  let count = 0;
  let lastInfo = "";
  const line = () => {
    const elapsed = (Date.now() - started) / 1000;
    const pct = total > 0 ? Math.min(100, (100 * count) / total) : 100;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const eta = rate > 0 ? (total - count) / rate : 0;
    const filled = Math.round(pct / 5);
    return `${label} [${"#".repeat(filled)}${".".repeat(20 - filled)}] ${count}/${total} (${pct.toFixed(0)}%) ${elapsed.toFixed(1)}s elapsed${count > 0 && count < total ? `, ~${eta.toFixed(0)}s left` : ""}${lastInfo ? ` | ${lastInfo}` : ""}`;
  };

  if (kernel) {
    const entry = kernel.newDisplay();
    const draw = trailingThrottle(() => entry.text(line()), NOTEBOOK_REFRESH_MS);
    draw(true);
    return {
      tick(n = 1, info) {
        count += n;
        if (info !== undefined) lastInfo = info;
        draw(count >= total);
      },
      done(info) {
        count = total;
        if (info !== undefined) lastInfo = info;
        draw(true);
      },
    };
  }

  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% | {duration_formatted} elapsed, ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: "" });
    return {
      tick(n = 1, info) {
        count += n;
        bar.update(count, { info: info ?? lastInfo });
        if (info !== undefined) lastInfo = info;
      },
      done(info) {
        bar.update(total, { info: info ?? lastInfo });
        bar.stop();
      },
    };
  }

  let lastDecile = -1;
  return {
    tick(n = 1, info) {
      count += n;
      if (info !== undefined) lastInfo = info;
      const decile = total > 0 ? Math.floor((10 * count) / total) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        console.error(line());
      }
    },
    done(info) {
      count = total;
      if (info !== undefined) lastInfo = info;
      console.error(line());
    },
  };
}

/**
 * `write` at most once per `intervalMs`, and never losing the newest state: a call inside the interval
 * is drawn when the interval ends (one timer at a time, not keeping the process alive), so a stage
 * named just after a draw still shows while the work it names runs. `force` draws now.
 */
export function trailingThrottle(write: () => void, intervalMs: number): (force: boolean) => void {
  let lastDraw = 0;
  let trailing: ReturnType<typeof setTimeout> | undefined;
  const drawNow = () => {
    if (trailing) clearTimeout(trailing);
    trailing = undefined;
    lastDraw = Date.now();
    write();
  };
  return (force) => {
    const wait = intervalMs - (Date.now() - lastDraw);
    if (force || wait <= 0) return drawNow();
    // a redraw from the timer runs outside the cell: if the display is gone by then, that one
    // redraw is dropped rather than thrown where nothing can catch it (it would end the kernel)
    trailing ??= setTimeout(() => {
      try {
        drawNow();
      } catch {}
    }, wait);
    trailing.unref?.();
  };
}

/**
 * A layer's `onProgress(done, total, stage)` drawn as one `progress` line: the line starts at the
 * first call (when the total is known), shows the stage beside the count, and ends at the first
 * call that reaches `total` (a later report of the total, with or without a stage, changes nothing).
 */
export function progressCallback(label: string): OnProgress {
  let line: Progress | undefined;
  let shown = 0;
  let ended = false;
  return (done, total, stage) => {
    if (ended) return;
    line ??= progress(label, total);
    if (done >= total) {
      ended = true;
      line.done(stage);
      return;
    }
    line.tick(Math.max(0, done - shown), stage);
    shown = Math.max(shown, done);
  };
}

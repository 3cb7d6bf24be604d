import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { LabError } from "../errors.js";

/**
 * Headless Chromium for what the lab reads as a reader would: reports opened, checked and printed
 * to PDF. Debian's `chromium` package (set-up installs it as root); LAB_CHROMIUM names another
 * binary. Pages are opened offline: every request other than the page's own file is blocked and
 * recorded, so a caller can assert that none was attempted.
 */

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | undefined {
  return [process.env.LAB_CHROMIUM, ...CHROMIUM_PATHS].find((p): p is string => !!p && existsSync(p));
}

export class BrowserError extends LabError {}

/** Starts headless Chromium with no network of its own (no background fetches, no GPU). */
export async function launchChromium(executablePath = findChromium()): Promise<Browser> {
  if (!executablePath) {
    throw new BrowserError({
      code: "browser/not-installed",
      message: `Chromium is not installed (looked for LAB_CHROMIUM and ${CHROMIUM_PATHS.join(", ")})`,
      hint: "as root, ./lab export and ./lab test install Debian's chromium during set-up; otherwise run: sudo apt-get install -y chromium",
      fields: { looked: CHROMIUM_PATHS },
    });
  }
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"] });
}

export interface OfflinePage {
  page: Page;
  context: BrowserContext;
  /** Every request the page attempted beyond its own file (each was blocked). */
  requests: string[];
  /** Errors the page's scripts threw. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** A4's printable width (210 mm less 10 mm margins each side) in CSS pixels, at 96 per inch: the width ./lab export prints at. */
export const PRINT_VIEWPORT = { width: Math.floor((190 / 25.4) * 96), height: 1100 };

/** The margins ./lab export prints with (PRINT_VIEWPORT's width is A4's less these). */
export const PRINT_MARGIN = { top: "12mm", bottom: "12mm", left: "10mm", right: "10mm" };

/**
 * Opens a local HTML file in a fresh offline context with every other request blocked and
 * recorded; `media` "print" lays the page out with its print styles, as a PDF is printed.
 */
export async function openOffline(browser: Browser, htmlPath: string, viewport = { width: 1280, height: 900 }, media: "screen" | "print" = "screen"): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport, offline: true });
  const page = await context.newPage();
  await page.emulateMedia({ media });
  const own = pathToFileURL(htmlPath).href;
  const requests: string[] = [];
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url === own) return route.continue();
    requests.push(url);
    return route.abort("blockedbyclient");
  });
  try {
    // A report carries plotly.js inline (about 4.6 MB of script): on a busy machine it parses slowly.
    await page.goto(own, { waitUntil: "load", timeout: 120_000 });
  } catch (error) {
    await context.close();
    throw error;
  }
  return { page, context, requests, pageErrors, close: () => context.close() };
}

/** Page-side test that every plotly figure of a lab report has drawn its SVG. */
export const ALL_FIGURES_DRAWN = `[...document.querySelectorAll('[id^="lab-plot-"]')].every((d) => d.querySelector(".main-svg"))`;

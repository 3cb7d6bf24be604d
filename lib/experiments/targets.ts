import type { ErrorFields } from "../errors.js";
import { ExperimentSpecError } from "./errors.js";

/** A goal written as "<op> number": ">= 0.75", "<= 0.1", "> 0" or "< 1". */
export interface Target {
  op: ">=" | "<=" | ">" | "<";
  threshold: number;
}

export type TargetStatus = "met" | "MISSED" | "";

const TARGET = /^\s*(>=|<=|>|<)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

/** Parses a target, refusing anything else with `experiment/bad-target`; `where` adds file and field. */
export function parseTarget(text: string, where: ErrorFields = {}): Target {
  const m = TARGET.exec(text);
  if (!m) {
    throw new ExperimentSpecError({
      code: "experiment/bad-target",
      message: `target "${text}" is not "<op> number"${where.field ? ` (${where.file}: ${where.field})` : ""}`,
      hint: 'write targets as ">= 0.75", "<= 0.1", "> 0" or "< 1"',
      fields: { ...where, target: text },
    });
  }
  return { op: m[1] as Target["op"], threshold: Number(m[2]) };
}

/** Whether `value` meets `target`: "met", "MISSED", or "" when there is no target. */
export function targetStatus(target: string | undefined, value: number): TargetStatus {
  if (!target) return "";
  const { op, threshold } = parseTarget(target);
  const ok = op === ">=" ? value >= threshold : op === "<=" ? value <= threshold : op === ">" ? value > threshold : value < threshold;
  return ok ? "met" : "MISSED";
}

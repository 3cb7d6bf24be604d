import { LabError } from "../errors.js";

/**
 * An experiment spec (experiments/<layer>/NAME.yaml) that cannot be used: not found, not
 * parsable, or a field that is unknown, missing or of the wrong type. `fields.file` names the
 * spec and `fields.field` the path inside it ("claims[2].tolerance"), so a refusal points at
 * the line to change, and it comes before any experiment runs.
 */
export class ExperimentSpecError extends LabError {}

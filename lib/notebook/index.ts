export { inNotebook, runContext, type RunContext } from "../run-context.js";
export { escapeHtml, html, markdown } from "./display.js";
export { coerceParameter, injectedCellSource, parseParameterCell, ParameterError, type ParameterSpec, type ParameterType, type ParameterValue } from "./params.js";
export { checkedLayout, figureMarkup, plot, plotlyBundleScript, PlotError, type Layout, type Trace } from "./plot.js";
export { progress, type Progress } from "./progress.js";
export { rng, type Rng } from "../random.js";
export { readResults, record, RESULTS_FILE, type ResultsFile } from "../results.js";
export { table, tableHtml, textTable, toRows, type Row, type TableOptions } from "./table.js";

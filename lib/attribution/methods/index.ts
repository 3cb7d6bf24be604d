export * from "./types.js";
export { GradDot } from "./grad-dot.js";
export { TracInCP } from "./tracin.js";
export { ExactInfluence, CGInfluence, LiSSAInfluence, largestEigenvalue } from "./influence.js";
export { DataInf, DATAINF_LAMBDA_FACTOR, datainfLambda, datainfInverseHvp, layerExactInverseHvp, layerLissaInverseHvp, layerwiseInfluence } from "./datainf.js";
export { TRAK } from "./trak.js";

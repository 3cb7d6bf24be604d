export * from "./types.js";
export { GradDot } from "./grad-dot.js";
export { TracInCP } from "./tracin.js";
export { ExactInfluence, CGInfluence, LiSSAInfluence, largestEigenvalue } from "./influence.js";
export { DataInf, DATAINF_LAMBDA_FACTOR, datainfGroups, datainfLambda, datainfInverseHvp, datainfSelfInfluence, layerExactInverseHvp, layerLissaInverseHvp, layerwiseInfluence, type DatainfGrouping } from "./datainf.js";
export { TRAK, outToLoss, type TrakOptions } from "./trak.js";

// The signals a pulled derivation stage answers with when it has nothing to hand out, as op-node's
// io.EOF and NotEnoughData: EOF means the stage before is out of data for the current L1 origin
// (derivation moves to the next L1 block); NOT_ENOUGH_DATA means the stage did a step of work and
// should be called again.
export const EOF: unique symbol = Symbol("EOF");
export const NOT_ENOUGH_DATA: unique symbol = Symbol("NOT_ENOUGH_DATA");
export type StageSignal = typeof EOF | typeof NOT_ENOUGH_DATA;

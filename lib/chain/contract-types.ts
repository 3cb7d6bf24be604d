/**
 * Typed contract facades derived from the ABIs. `LabContract<"DatanetRegistry">` is an ethers
 * contract whose methods are exactly the ABI's functions, with Solidity's types mapped as ethers
 * v6 takes and returns them (uintN → bigint, address → string, struct → named fields, T[] → array):
 * a misspelt function, a missing argument or a wrong type fails type-checking instead of reverting
 * at run time. The ABIs come from lib/chain/contract-abis.generated.ts, written from Hardhat's
 * artifacts by `./lab setup` (lib/chain/abi-types.ts), so a contract's change flows through.
 * Types only: the functions that build facades (contractAt, deployOrReuse, ...) are in contracts.ts.
 */
import type { AddressLike, BaseContract, BaseContractMethod, BigNumberish, BytesLike, ContractTransactionResponse } from "ethers";
import type { ContractAbis } from "./contract-abis.generated.js";

/** A contract of this project, by its artifact name. */
export type ContractName = keyof ContractAbis;

interface AbiParameter {
  readonly type: string;
  readonly name?: string;
  readonly components?: readonly AbiParameter[];
}
interface AbiFunction {
  readonly type: "function";
  readonly name: string;
  readonly inputs: readonly AbiParameter[];
  readonly outputs: readonly AbiParameter[];
  readonly stateMutability: "pure" | "view" | "nonpayable" | "payable";
}
interface AbiConstructor {
  readonly type: "constructor";
  readonly inputs: readonly AbiParameter[];
}

type ScalarIn<T extends string> = T extends `uint${string}` | `int${string}`
  ? BigNumberish
  : T extends "address"
    ? AddressLike
    : T extends "bool"
      ? boolean
      : T extends "string"
        ? string
        : T extends `bytes${string}`
          ? BytesLike
          : unknown;
type ScalarOut<T extends string> = T extends `uint${string}` | `int${string}` ? bigint : T extends "address" | "string" | `bytes${string}` ? string : T extends "bool" ? boolean : unknown;

/** A struct argument: an object with the components' names, or their values in order (ethers takes both). */
type StructIn<Cs extends readonly AbiParameter[]> = { [C in Cs[number] as C["name"] & string]: ValueIn<C> } | ArgumentsOf<Cs>;
/** A struct result: ethers' Result, positional and named at once. */
type StructOut<Cs extends readonly AbiParameter[]> = { readonly [I in keyof Cs]: Cs[I] extends AbiParameter ? ValueOut<Cs[I]> : never } & {
  readonly [C in Cs[number] as C["name"] & string]: ValueOut<C>;
};

/** A Solidity value as an argument. */
export type ValueIn<P extends AbiParameter> = P["type"] extends `${infer Element}[]`
  ? readonly ValueIn<Omit<P, "type"> & { type: Element }>[]
  : P["type"] extends `${infer Element}[${string}]`
    ? readonly ValueIn<Omit<P, "type"> & { type: Element }>[]
    : P["type"] extends "tuple"
      ? StructIn<NonNullable<P["components"]>>
      : ScalarIn<P["type"]>;

/** A Solidity value as ethers returns it. */
export type ValueOut<P extends AbiParameter> = P["type"] extends `${infer Element}[]`
  ? readonly ValueOut<Omit<P, "type"> & { type: Element }>[]
  : P["type"] extends `${infer Element}[${string}]`
    ? readonly ValueOut<Omit<P, "type"> & { type: Element }>[]
    : P["type"] extends "tuple"
      ? StructOut<NonNullable<P["components"]>>
      : ScalarOut<P["type"]>;

type ArgumentsOf<Ps extends readonly AbiParameter[]> = Extract<{ -readonly [I in keyof Ps]: Ps[I] extends AbiParameter ? ValueIn<Ps[I]> : never }, unknown[]>;
/** One output: the value itself; several: a Result, positional and named; none: nothing. */
type ReturnOf<Ps extends readonly AbiParameter[]> = Ps extends readonly [] ? undefined : Ps extends readonly [infer Only extends AbiParameter] ? ValueOut<Only> : StructOut<Ps>;

type FunctionsOf<N extends ContractName> = Extract<ContractAbis[N][number], AbiFunction>;
/** The functions of contract N, by name. */
export type FunctionName<N extends ContractName> = FunctionsOf<N>["name"];
type FunctionNamed<N extends ContractName, F extends FunctionName<N>> = Extract<FunctionsOf<N>, { name: F }>;
/** The arguments of function F of contract N, in order. */
export type FunctionArguments<N extends ContractName, F extends FunctionName<N>> = ArgumentsOf<FunctionNamed<N, F>["inputs"]>;
/** What function F of contract N returns to a call. */
export type FunctionResult<N extends ContractName, F extends FunctionName<N>> = ReturnOf<FunctionNamed<N, F>["outputs"]>;
/** The constructor's arguments of contract N (none when it has no constructor). */
export type ConstructorArguments<N extends ContractName> = [Extract<ContractAbis[N][number], AbiConstructor>] extends [never]
  ? []
  : ArgumentsOf<Extract<ContractAbis[N][number], AbiConstructor>["inputs"]>;

type Method<Fn extends AbiFunction> = Fn["stateMutability"] extends "view" | "pure"
  ? BaseContractMethod<ArgumentsOf<Fn["inputs"]>, ReturnOf<Fn["outputs"]>, ReturnOf<Fn["outputs"]>>
  : BaseContractMethod<ArgumentsOf<Fn["inputs"]>, ReturnOf<Fn["outputs"]>, ContractTransactionResponse>;

/** Marks which contract a facade is (a type only: nothing at run time carries it). */
export declare const CONTRACT_NAME: unique symbol;

/** Contract N on some chain: ethers' BaseContract plus one typed method per ABI function. */
export type LabContract<N extends ContractName> = BaseContract & { readonly [F in FunctionsOf<N> as F["name"]]: Method<F> } & { readonly [CONTRACT_NAME]: N };

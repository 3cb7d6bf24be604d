// The payment metadata a blob header carries by hash (EigenDA core.PaymentMetadata.Hash):
//
//   paymentHeaderHash = keccak256(abi.encode((string accountID, int64 timestamp, uint256 cumulativePayment)))
//
// accountID is the account's address as EIP-55 checksummed hex text (go-ethereum's Address.Hex),
// ABI-encoded as a string inside a one-element tuple; EigenDA's TestPaymentHash pins the result.
import { getAddress, keccak256 } from "ethers";
import { abi } from "./bls.js";

export interface PaymentMetadata {
  /** The paying account's address. */
  accountId: string;
  /** Nanoseconds since the epoch in EigenDA; any int64 the disperser and client agree on. */
  timestamp: bigint;
  /** Wei paid so far by on-demand payments; 0 for a reservation. */
  cumulativePayment: bigint;
}

export function paymentMetadataHash(p: PaymentMetadata): string {
  return keccak256(abi.encode(["tuple(string accountID, int64 timestamp, uint256 cumulativePayment)"], [[getAddress(p.accountId), p.timestamp, p.cumulativePayment]]));
}

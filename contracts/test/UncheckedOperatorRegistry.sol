// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BN254} from "../da/BN254.sol";
import {OperatorRegistry} from "../da/OperatorRegistry.sol";

/// @notice The registry without its proof-of-possession check, for showing the rogue-key attack
///         that the check stops. Test only.
contract UncheckedOperatorRegistry is OperatorRegistry {
    constructor(address manager) OperatorRegistry(manager) {}

    /// @notice Registers a key with no proof of possession (the hole the real registry closes).
    function registerOperatorUnchecked(BN254.G1Point calldata pubkey, uint8[] calldata quorums, uint96[] calldata stakes)
        external
        onlyRole(OPERATOR_MANAGER_ROLE)
    {
        _addOperator(msg.sender, pubkey, quorums, stakes);
    }
}

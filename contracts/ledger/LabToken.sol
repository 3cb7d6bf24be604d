// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 for the L2 workload: the deployer hands out balances so that many accounts
/// can send ordinary token transfers, the most common L2 transaction after ETH transfers.
contract LabToken is ERC20 {
    constructor(address[] memory holders, uint256 amountEach) ERC20("OpenLedger Lab Token", "OLAB") {
        for (uint256 i = 0; i < holders.length; i++) {
            _mint(holders[i], amountEach);
        }
    }
}

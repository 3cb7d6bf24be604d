// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A mintable ERC-20 for testing the RewardDistributor's token path.
contract RewardTestToken is ERC20 {
    constructor() ERC20("Reward Test Token", "RTT") {}

    /// @notice Mints `amount` to `to` (test token: anyone may mint).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// A deliberately hostile payee: low-level calls, a busy receive() and bubbled revert data are the point.
/* solhint-disable avoid-low-level-calls, no-complex-fallback, no-inline-assembly, gas-custom-errors */

/// @notice A payee that, when paid, calls back into the paying contract with prepared calldata
///         (a reentrancy attempt) and records what happened; or refuses payment outright. Test only.
contract HostileReceiver {
    enum Mode {
        Accept,
        Reenter,
        Refuse
    }

    /// @notice What the next payment triggers.
    Mode public mode;
    /// @notice The contract re-entered.
    address public target;
    /// @notice The calldata of the re-entry.
    bytes public reentryCall;
    /// @notice How many re-entries were tried.
    uint256 public reentryAttempts;
    /// @notice Whether the last re-entry succeeded.
    bool public lastReentrySucceeded;
    /// @notice The revert data of the last re-entry.
    bytes public lastReentryError;

    /// @notice Sets what happens on the next payment.
    function arm(Mode mode_, address target_, bytes calldata reentryCall_) external {
        mode = mode_;
        target = target_;
        reentryCall = reentryCall_;
    }

    /// @notice Calls `target` with `data` and `value` as this contract (to claim, withdraw, register...).
    function act(address target_, bytes calldata data, uint256 value) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target_.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    /// @notice On payment: accept, re-enter the target, or refuse.
    receive() external payable {
        if (mode == Mode.Refuse) revert("HostileReceiver: refused");
        if (mode == Mode.Reenter) {
            reentryAttempts += 1;
            (bool ok, bytes memory err) = target.call(reentryCall);
            lastReentrySucceeded = ok;
            lastReentryError = err;
        }
    }
}

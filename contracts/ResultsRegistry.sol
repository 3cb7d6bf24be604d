// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ResultsRegistry
/// @notice Records each notebook run: which notebook, which run, the sha256 of its results.json
///         and a few key figures, so that anyone can later check a run folder against the chain.
///         Runs are kept per settling account: a run id names a run only together with the account
///         that settled it, so nobody can take another account's run id first.
contract ResultsRegistry {
    struct Run {
        bytes32 notebookId;
        bytes32 resultsSha256;
        address recorder;
        uint64 recordedAt;
    }

    mapping(address recorder => mapping(bytes32 runId => Run)) private _runs;

    /// @notice A run settled by its recorder, with its results hash and key figures.
    event RunSettled(
        bytes32 indexed runId,
        bytes32 indexed notebookId,
        bytes32 resultsSha256,
        address indexed recorder,
        string[] figureNames,
        int256[] figureValues
    );

    error RunAlreadySettled(address recorder, bytes32 runId);
    error EmptyResultsHash();
    error FigureLengthMismatch(uint256 names, uint256 values);

    /// @notice Settles run `runId` of the caller.
    /// @dev Permissionless by design: each account settles into its own namespace.
    /// @param figureValues fixed-point values scaled by 1e6 (the lab's FIGURE_SCALE).
    function settle(
        bytes32 runId,
        bytes32 notebookId,
        bytes32 resultsSha256,
        string[] calldata figureNames,
        int256[] calldata figureValues
    ) external {
        if (resultsSha256 == bytes32(0)) revert EmptyResultsHash();
        if (figureNames.length != figureValues.length) {
            revert FigureLengthMismatch(figureNames.length, figureValues.length);
        }
        if (_runs[msg.sender][runId].recordedAt != 0) revert RunAlreadySettled(msg.sender, runId);
        _runs[msg.sender][runId] = Run(notebookId, resultsSha256, msg.sender, uint64(block.timestamp));
        emit RunSettled(runId, notebookId, resultsSha256, msg.sender, figureNames, figureValues);
    }

    /// @notice The run `runId` as `recorder` settled it (recordedAt = 0: none).
    function runOf(address recorder, bytes32 runId) external view returns (Run memory) {
        return _runs[recorder][runId];
    }
}

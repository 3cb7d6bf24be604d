// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice L2OutputOracle as described in the OP Stack's proposals spec: the proposer commits an
/// output root for every `submissionInterval` L2 blocks; during `finalizationPeriodSeconds`
/// the challenger may delete a wrong output (and every later one); after that window an
/// output is final and withdrawals may be proven against it.
contract L2OutputOracle {
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// @notice L2 blocks between two proposals.
    uint256 public immutable submissionInterval;
    /// @notice Seconds between L2 blocks.
    uint256 public immutable l2BlockTime;
    /// @notice The L2 block the first proposal counts from.
    uint256 public immutable startingBlockNumber;
    /// @notice The timestamp of the starting L2 block.
    uint256 public immutable startingTimestamp;
    /// @notice Seconds during which an output may be deleted.
    uint256 public immutable finalizationPeriodSeconds;
    /// @notice The only account that proposes outputs.
    address public immutable proposer;
    /// @notice The only account that deletes outputs.
    address public immutable challenger;

    OutputProposal[] internal l2Outputs;

    /// @notice An output root proposed for an L2 block.
    event OutputProposed(bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp);
    /// @notice Outputs from an index on deleted by the challenger.
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    error NotProposer();
    error NotChallenger();
    error WrongBlockNumber(uint256 expected, uint256 got);
    error L2BlockInFuture(uint256 l2Timestamp, uint256 l1Timestamp);
    error EmptyOutputRoot();
    error L1BlockHashMismatch(uint256 l1BlockNumber);
    error OutputFinalized(uint256 l2OutputIndex);
    error NoOutput(uint256 l2OutputIndex);
    error ZeroInterval();

    constructor(
        uint256 _submissionInterval,
        uint256 _l2BlockTime,
        uint256 _startingBlockNumber,
        uint256 _startingTimestamp,
        address _proposer,
        address _challenger,
        uint256 _finalizationPeriodSeconds
    ) {
        if (_submissionInterval == 0 || _l2BlockTime == 0) revert ZeroInterval();
        submissionInterval = _submissionInterval;
        l2BlockTime = _l2BlockTime;
        startingBlockNumber = _startingBlockNumber;
        startingTimestamp = _startingTimestamp;
        proposer = _proposer;
        challenger = _challenger;
        finalizationPeriodSeconds = _finalizationPeriodSeconds;
    }

    /// @notice Proposes the output root of the next L2 block at the submission interval (proposer only).
    function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber) external payable {
        if (msg.sender != proposer) revert NotProposer();
        if (_l2BlockNumber != nextBlockNumber()) revert WrongBlockNumber(nextBlockNumber(), _l2BlockNumber);
        if (computeL2Timestamp(_l2BlockNumber) >= block.timestamp) revert L2BlockInFuture(computeL2Timestamp(_l2BlockNumber), block.timestamp);
        if (_outputRoot == bytes32(0)) revert EmptyOutputRoot();
        // Binds the proposal to the L1 chain the proposer saw, so a reorg invalidates it.
        if (_l1BlockHash != bytes32(0) && blockhash(_l1BlockNumber) != _l1BlockHash) revert L1BlockHashMismatch(_l1BlockNumber);
        emit OutputProposed(_outputRoot, nextOutputIndex(), _l2BlockNumber, block.timestamp);
        l2Outputs.push(OutputProposal(_outputRoot, uint128(block.timestamp), uint128(_l2BlockNumber)));
    }

    /// @notice Deletes the output at `_l2OutputIndex` and all later ones, if not yet finalized.
    function deleteL2Outputs(uint256 _l2OutputIndex) external {
        if (msg.sender != challenger) revert NotChallenger();
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        if (block.timestamp - l2Outputs[_l2OutputIndex].timestamp >= finalizationPeriodSeconds) revert OutputFinalized(_l2OutputIndex);
        uint256 prev = l2Outputs.length;
        while (l2Outputs.length > _l2OutputIndex) l2Outputs.pop();
        emit OutputsDeleted(prev, _l2OutputIndex);
    }

    /// @notice Whether an output's finalization period has passed.
    function isFinalized(uint256 _l2OutputIndex) external view returns (bool) {
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        return block.timestamp - l2Outputs[_l2OutputIndex].timestamp >= finalizationPeriodSeconds;
    }

    /// @notice The output at an index.
    function getL2Output(uint256 _l2OutputIndex) external view returns (OutputProposal memory) {
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        return l2Outputs[_l2OutputIndex];
    }

    /// @notice The index the next output gets.
    function nextOutputIndex() public view returns (uint256) {
        return l2Outputs.length;
    }

    /// @notice The index of the latest output.
    function latestOutputIndex() external view returns (uint256) {
        if (l2Outputs.length == 0) revert NoOutput(0);
        return l2Outputs.length - 1;
    }

    /// @notice The L2 block of the latest output (the starting block before any).
    function latestBlockNumber() public view returns (uint256) {
        return l2Outputs.length == 0 ? startingBlockNumber : l2Outputs[l2Outputs.length - 1].l2BlockNumber;
    }

    /// @notice The L2 block the next output must be for.
    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + submissionInterval;
    }

    /// @notice The timestamp of an L2 block.
    function computeL2Timestamp(uint256 _l2BlockNumber) public view returns (uint256) {
        return startingTimestamp + (_l2BlockNumber - startingBlockNumber) * l2BlockTime;
    }
}

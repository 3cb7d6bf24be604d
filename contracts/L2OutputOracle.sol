// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// L2OutputOracle as described in the OP Stack's proposals spec: the proposer commits an
/// output root for every `submissionInterval` L2 blocks; during `finalizationPeriodSeconds`
/// the challenger may delete a wrong output (and every later one); after that window an
/// output is final and withdrawals may be proven against it.
contract L2OutputOracle {
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    uint256 public immutable submissionInterval;
    uint256 public immutable l2BlockTime;
    uint256 public immutable startingBlockNumber;
    uint256 public immutable startingTimestamp;
    uint256 public immutable finalizationPeriodSeconds;
    address public immutable proposer;
    address public immutable challenger;

    OutputProposal[] internal l2Outputs;

    event OutputProposed(bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp);
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    error NotProposer();
    error NotChallenger();
    error WrongBlockNumber(uint256 expected, uint256 got);
    error L2BlockInFuture(uint256 l2Timestamp, uint256 l1Timestamp);
    error EmptyOutputRoot();
    error L1BlockHashMismatch(uint256 l1BlockNumber);
    error OutputFinalized(uint256 l2OutputIndex);
    error NoOutput(uint256 l2OutputIndex);

    constructor(
        uint256 _submissionInterval,
        uint256 _l2BlockTime,
        uint256 _startingBlockNumber,
        uint256 _startingTimestamp,
        address _proposer,
        address _challenger,
        uint256 _finalizationPeriodSeconds
    ) {
        require(_submissionInterval > 0 && _l2BlockTime > 0, "L2OutputOracle: zero interval");
        submissionInterval = _submissionInterval;
        l2BlockTime = _l2BlockTime;
        startingBlockNumber = _startingBlockNumber;
        startingTimestamp = _startingTimestamp;
        proposer = _proposer;
        challenger = _challenger;
        finalizationPeriodSeconds = _finalizationPeriodSeconds;
    }

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

    /// Deletes the output at `_l2OutputIndex` and all later ones, if not yet finalized.
    function deleteL2Outputs(uint256 _l2OutputIndex) external {
        if (msg.sender != challenger) revert NotChallenger();
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        if (block.timestamp - l2Outputs[_l2OutputIndex].timestamp >= finalizationPeriodSeconds) revert OutputFinalized(_l2OutputIndex);
        uint256 prev = l2Outputs.length;
        while (l2Outputs.length > _l2OutputIndex) l2Outputs.pop();
        emit OutputsDeleted(prev, _l2OutputIndex);
    }

    function isFinalized(uint256 _l2OutputIndex) external view returns (bool) {
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        return block.timestamp - l2Outputs[_l2OutputIndex].timestamp >= finalizationPeriodSeconds;
    }

    function getL2Output(uint256 _l2OutputIndex) external view returns (OutputProposal memory) {
        if (_l2OutputIndex >= l2Outputs.length) revert NoOutput(_l2OutputIndex);
        return l2Outputs[_l2OutputIndex];
    }

    function nextOutputIndex() public view returns (uint256) {
        return l2Outputs.length;
    }

    function latestOutputIndex() external view returns (uint256) {
        if (l2Outputs.length == 0) revert NoOutput(0);
        return l2Outputs.length - 1;
    }

    function latestBlockNumber() public view returns (uint256) {
        return l2Outputs.length == 0 ? startingBlockNumber : l2Outputs[l2Outputs.length - 1].l2BlockNumber;
    }

    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + submissionInterval;
    }

    function computeL2Timestamp(uint256 _l2BlockNumber) public view returns (uint256) {
        return startingTimestamp + (_l2BlockNumber - startingBlockNumber) * l2BlockTime;
    }
}

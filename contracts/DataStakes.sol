// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DatanetRegistry} from "./DatanetRegistry.sol";
import {RewardDistributor} from "./RewardDistributor.sol";

/// @title DataStakes
/// @notice Stakes behind data, and their slashing: the last steps of Proof of Attribution. A
///         contributor of a registered datanet stakes native currency on its samples. An attester
///         files evidence that the contributor's data is harmful (the hash of an attribution result,
///         e.g. the self-influence scores that flag flipped labels), which opens a challenge window.
///         Unchallenged, the stake is slashed once the window has passed: a share to the reporter,
///         the rest to the reward pool that pays the other contributors. Challenged, an adjudicator
///         decides, and the decision (with the hash of its reasons) is recorded.
contract DataStakes is AccessControl, ReentrancyGuard {
    /// @notice Held by accounts that may file evidence against a contributor.
    bytes32 public constant ATTESTER_ROLE = keccak256("ATTESTER_ROLE");
    /// @notice Held by accounts that decide challenged cases.
    bytes32 public constant ADJUDICATOR_ROLE = keccak256("ADJUDICATOR_ROLE");
    uint256 internal constant BPS = 10_000;

    enum Status {
        None,
        Open,
        Challenged,
        Slashed,
        Dismissed
    }

    struct Case {
        bytes32 datanetId;
        address contributor;
        address reporter;
        bytes32 evidenceHash;
        uint64 deadline;
        Status status;
        bytes32 challengeHash;
        bytes32 decisionHash;
        uint256 slashed;
    }

    /// @notice The registry whose Merkle roots prove a staker's samples.
    DatanetRegistry public immutable datanets;
    /// @notice Where slashed stakes go, less the reporter's share.
    RewardDistributor public immutable rewardPool;
    /// @notice The least a contributor stakes on a datanet.
    uint256 public immutable minStake;
    /// @notice Seconds a contributor has to challenge evidence filed against it.
    uint64 public immutable challengeWindow;
    /// @notice The reporter's share of a slashed stake, in basis points.
    uint16 public immutable reporterShareBps;

    /// @notice A contributor's stake on a datanet.
    mapping(bytes32 datanetId => mapping(address contributor => uint256)) public stakeOf;
    /// @notice When a contributor's unbonding stake may be withdrawn (0: not unbonding).
    mapping(bytes32 datanetId => mapping(address contributor => uint64)) public unbondingEnds;
    /// @notice The open (or challenged) case against a contributor's stake, as caseId + 1 (0: none).
    mapping(bytes32 datanetId => mapping(address contributor => uint256)) public pendingCase;
    /// @notice Reporters' shares of slashed stakes, not yet withdrawn.
    mapping(address reporter => uint256) public owed;
    /// @notice Sum of all stakes.
    uint256 public totalStaked;
    /// @notice Sum of `owed`.
    uint256 public totalOwed;
    Case[] private _cases;

    /// @notice A contributor added to its stake.
    event Staked(bytes32 indexed datanetId, address indexed contributor, uint256 amount, uint256 stake);
    /// @notice A contributor started unbonding; its stake is withdrawable from `endsAt`.
    event UnbondingStarted(bytes32 indexed datanetId, address indexed contributor, uint64 endsAt);
    /// @notice A contributor withdrew its unbonded stake.
    event StakeWithdrawn(bytes32 indexed datanetId, address indexed contributor, uint256 amount);
    /// @notice Evidence filed against a contributor's stake; the challenge window runs to `deadline`.
    event EvidenceFiled(uint256 indexed caseId, bytes32 indexed datanetId, address indexed contributor, address reporter, bytes32 evidenceHash, uint64 deadline);
    /// @notice The accused contributor contested a case.
    event Challenged(uint256 indexed caseId, bytes32 challengeHash);
    /// @notice A stake slashed: its split between reporter and reward pool.
    event Slashed(uint256 indexed caseId, uint256 amount, uint256 toReporter, uint256 toRewardPool);
    /// @notice The adjudicator's decision on a challenged case.
    event CaseDecided(uint256 indexed caseId, bool upheld, bytes32 decisionHash);
    /// @notice A reporter withdrew its shares of slashed stakes.
    event ReporterPaid(address indexed reporter, uint256 amount);

    error NotContributor(bytes32 datanetId, address account);
    error StakeTooSmall(uint256 sent, uint256 minimum);
    error NothingStaked(bytes32 datanetId, address contributor);
    error CasePending(bytes32 datanetId, address contributor, uint256 caseId);
    error NotUnbonding(bytes32 datanetId, address contributor);
    error StillUnbonding(uint64 endsAt);
    error EmptyEvidence();
    error UnknownCase(uint256 caseId);
    error NotAccused(uint256 caseId, address caller);
    error WrongStatus(uint256 caseId, Status status);
    error WindowClosed(uint256 caseId, uint64 deadline);
    error WindowNotExpired(uint256 caseId, uint64 deadline);
    error NothingOwed(address account);
    error NativeTransferFailed(address account, uint256 amount);
    error BadParameter(string name);

    /// @notice Deploys the stakes contract with its terms.
    /// @param admin may grant ATTESTER_ROLE and ADJUDICATOR_ROLE (and holds the adjudicator role).
    /// @param attesters accounts granted ATTESTER_ROLE at once (more later by the admin).
    constructor(
        address admin,
        DatanetRegistry datanets_,
        RewardDistributor rewardPool_,
        uint256 minStake_,
        uint64 challengeWindow_,
        uint16 reporterShareBps_,
        address[] memory attesters
    ) {
        if (admin == address(0) || address(datanets_) == address(0) || address(rewardPool_) == address(0)) revert BadParameter("address");
        if (minStake_ == 0) revert BadParameter("minStake");
        if (challengeWindow_ == 0) revert BadParameter("challengeWindow");
        if (reporterShareBps_ > BPS) revert BadParameter("reporterShareBps");
        datanets = datanets_;
        rewardPool = rewardPool_;
        minStake = minStake_;
        challengeWindow = challengeWindow_;
        reporterShareBps = reporterShareBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADJUDICATOR_ROLE, admin);
        for (uint256 i = 0; i < attesters.length; i++) _grantRole(ATTESTER_ROLE, attesters[i]);
    }

    /// @notice Stakes msg.value on the caller's samples in a datanet (at least `minStake` in all).
    ///         The caller proves one of its samples under the datanet's Merkle root, so only a real
    ///         contributor stakes, whatever contributor list the datanet's registration stated.
    /// @dev Permissionless by design for the datanet's contributors: the caller stakes its own money.
    function stake(bytes32 datanetId, uint256 sampleIndex, bytes32 sampleHash, bytes32[] calldata proof) external payable {
        if (!datanets.verifySample(datanetId, sampleIndex, msg.sender, sampleHash, proof)) revert NotContributor(datanetId, msg.sender);
        uint256 total = stakeOf[datanetId][msg.sender] + msg.value;
        if (total < minStake) revert StakeTooSmall(msg.value, minStake - stakeOf[datanetId][msg.sender]);
        stakeOf[datanetId][msg.sender] = total;
        totalStaked += msg.value;
        unbondingEnds[datanetId][msg.sender] = 0;
        emit Staked(datanetId, msg.sender, msg.value, total);
    }

    /// @notice Starts unbonding the caller's stake: withdrawable after one challenge window, and
    ///         still slashable until then, so evidence cannot be outrun.
    /// @dev Permissionless by design: it only concerns the caller's own stake.
    function startUnbonding(bytes32 datanetId) external {
        if (stakeOf[datanetId][msg.sender] == 0) revert NothingStaked(datanetId, msg.sender);
        uint64 endsAt = uint64(block.timestamp) + challengeWindow;
        unbondingEnds[datanetId][msg.sender] = endsAt;
        emit UnbondingStarted(datanetId, msg.sender, endsAt);
    }

    /// @notice Withdraws the caller's unbonded stake; refused while a case against it is pending.
    /// @dev Permissionless by design: it pays only the caller, only its own unbonded stake.
    function withdrawStake(bytes32 datanetId) external nonReentrant {
        uint64 endsAt = unbondingEnds[datanetId][msg.sender];
        if (endsAt == 0) revert NotUnbonding(datanetId, msg.sender);
        if (block.timestamp < endsAt) revert StillUnbonding(endsAt);
        uint256 pending = pendingCase[datanetId][msg.sender];
        if (pending != 0) revert CasePending(datanetId, msg.sender, pending - 1);
        uint256 amount = stakeOf[datanetId][msg.sender];
        stakeOf[datanetId][msg.sender] = 0;
        unbondingEnds[datanetId][msg.sender] = 0;
        totalStaked -= amount;
        emit StakeWithdrawn(datanetId, msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice Files evidence against a contributor's stake and opens the challenge window.
    /// @param evidenceHash the hash of the attribution result that shows the data harmful.
    function fileEvidence(bytes32 datanetId, address contributor, bytes32 evidenceHash) external onlyRole(ATTESTER_ROLE) returns (uint256 caseId) {
        if (evidenceHash == bytes32(0)) revert EmptyEvidence();
        if (stakeOf[datanetId][contributor] == 0) revert NothingStaked(datanetId, contributor);
        uint256 pending = pendingCase[datanetId][contributor];
        if (pending != 0) revert CasePending(datanetId, contributor, pending - 1);
        caseId = _cases.length;
        uint64 deadline = uint64(block.timestamp) + challengeWindow;
        _cases.push(Case(datanetId, contributor, msg.sender, evidenceHash, deadline, Status.Open, bytes32(0), bytes32(0), 0));
        pendingCase[datanetId][contributor] = caseId + 1;
        emit EvidenceFiled(caseId, datanetId, contributor, msg.sender, evidenceHash, deadline);
    }

    /// @notice The accused contributor contests a case inside its window, with the hash of its answer.
    /// @dev Restricted to the accused contributor (checked against the case, not a role).
    function challenge(uint256 caseId, bytes32 challengeHash) external {
        Case storage c = _case(caseId);
        if (msg.sender != c.contributor) revert NotAccused(caseId, msg.sender);
        if (c.status != Status.Open) revert WrongStatus(caseId, c.status);
        if (block.timestamp > c.deadline) revert WindowClosed(caseId, c.deadline);
        c.status = Status.Challenged;
        c.challengeHash = challengeHash;
        emit Challenged(caseId, challengeHash);
    }

    /// @notice Slashes the stake of an unchallenged case whose window has passed.
    /// @dev Permissionless by design: the outcome is fixed by the expired window, and the funds go
    ///      only to the reporter and the reward pool.
    function slash(uint256 caseId) external nonReentrant {
        Case storage c = _case(caseId);
        if (c.status != Status.Open) revert WrongStatus(caseId, c.status);
        if (block.timestamp <= c.deadline) revert WindowNotExpired(caseId, c.deadline);
        _slash(caseId, c);
    }

    /// @notice Decides a challenged case: upheld, the stake is slashed; dismissed, it stays.
    /// @param decisionHash the hash of the decision's reasons, recorded with it.
    function decide(uint256 caseId, bool upheld, bytes32 decisionHash) external onlyRole(ADJUDICATOR_ROLE) nonReentrant {
        Case storage c = _case(caseId);
        if (c.status != Status.Challenged) revert WrongStatus(caseId, c.status);
        c.decisionHash = decisionHash;
        emit CaseDecided(caseId, upheld, decisionHash);
        if (upheld) {
            _slash(caseId, c);
        } else {
            c.status = Status.Dismissed;
            pendingCase[c.datanetId][c.contributor] = 0;
        }
    }

    /// @notice Pays the caller its reporter shares.
    /// @dev Permissionless by design: it pays only what is owed to the caller.
    function withdrawReward() external nonReentrant {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        totalOwed -= amount;
        emit ReporterPaid(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice The case `caseId`.
    function caseOf(uint256 caseId) external view returns (Case memory) {
        return _case(caseId);
    }

    /// @notice Number of cases filed.
    function caseCount() external view returns (uint256) {
        return _cases.length;
    }

    function _case(uint256 caseId) private view returns (Case storage) {
        if (caseId >= _cases.length) revert UnknownCase(caseId);
        return _cases[caseId];
    }

    /// @dev Effects first; the reward pool (a known contract) is the only call out.
    function _slash(uint256 caseId, Case storage c) private {
        uint256 amount = stakeOf[c.datanetId][c.contributor];
        uint256 toReporter = (amount * reporterShareBps) / BPS;
        stakeOf[c.datanetId][c.contributor] = 0;
        unbondingEnds[c.datanetId][c.contributor] = 0;
        pendingCase[c.datanetId][c.contributor] = 0;
        totalStaked -= amount;
        c.status = Status.Slashed;
        c.slashed = amount;
        owed[c.reporter] += toReporter;
        totalOwed += toReporter;
        emit Slashed(caseId, amount, toReporter, amount - toReporter);
        if (amount - toReporter != 0) rewardPool.fundRewardPool{value: amount - toReporter}();
    }

    function _pay(address account, uint256 amount) private {
        (bool ok,) = payable(account).call{value: amount}("");
        if (!ok) revert NativeTransferFailed(account, amount);
    }
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The adaptive worker layout ("--workers auto"): a policy that watches a
 * device's own counters, each worker's busy time and each virtqueue's
 * requests, and moves virtqueues between a fixed pool of workers: onto one
 * worker while they are mostly idle (one worker batches their kicks), and
 * apart when a worker serving several busy virtqueues saturates.  It only
 * decides; the caller moves the virtqueues with the same attach as every
 * other layout (VHOST_ATTACH_VRING_WORKER or the netlink VQ_ATTACH), which
 * moves a ring between requests, never losing or doubling one.
 * Documentation/design.rst ("The adaptive layout") says why it lives here
 * rather than in the module.
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace vhost {

/* One look at a device, cumulative counters as netlink reports them. */
struct LayoutSample {
	/* Seconds on a monotonic clock. */
	double at = 0;
	/* Busy nanoseconds of each worker of the pool, by worker id. */
	std::map<uint32_t, uint64_t> busyNs;
	/* Requests each virtqueue has completed, by index. */
	std::vector<uint64_t> requests;
	/*
	 * The worker serving each virtqueue, as the kernel says; empty when
	 * unknown.  Someone else may move virtqueues too (an administrator's
	 * netlink VQ_ATTACH): the policy starts from where they are.
	 */
	std::vector<uint32_t> serving;
};

struct LayoutMove {
	unsigned int vq = 0;
	uint32_t worker = 0;

	bool operator==(const LayoutMove &) const = default;
};

struct AutoLayoutPolicy {
	/*
	 * A worker busier than this (a fraction of one CPU) that serves two
	 * or more busy virtqueues gives one away.  Not only a saturated one:
	 * two rings on one worker wait for each other, and a worker half busy
	 * with two queues at depth 1 already serves a third of what two
	 * workers do (make bench, 2026-12-05: 13.2k against 39.5k IOPS).
	 */
	double spreadAbove = 0.50;
	/*
	 * When every busy worker together is busy less than this, their
	 * virtqueues go back onto one.  Under half of spreadAbove, so that
	 * what one consolidation gathers does not spread again.
	 */
	double consolidateBelow = 0.20;
	/* Consecutive samples a condition must hold before a move. */
	unsigned int patience = 2;
};

class AutoLayout
{
public:
	/*
	 * @pool: the workers the policy may use, the first the home of every
	 * virtqueue at the start; @serving: the worker of each virtqueue now.
	 */
	AutoLayout(std::vector<uint32_t> pool, std::vector<uint32_t> serving,
		   AutoLayoutPolicy policy = {});

	/*
	 * Take a sample and return the moves to make now: at most one
	 * virtqueue when spreading (to an idle worker, or one busy less than
	 * half the spread threshold), every virtqueue not on it when
	 * gathering (onto the busiest worker).  The layout it keeps assumes
	 * the caller makes them; a move that failed is reported with
	 * moveFailed().
	 */
	std::vector<LayoutMove> decide(const LayoutSample &sample);

	/* The caller could not move @m.vq: it stays where it was. */
	void moveFailed(const LayoutMove &m, uint32_t stayed);

	/*
	 * Forget the last sample and the conditions counted: after a pause
	 * (the rings stopped, the backend detached) the next interval would
	 * span it.
	 */
	void restart() noexcept;

	const std::vector<uint32_t> &serving() const noexcept { return serving_; }
	/* Moves decided so far. */
	unsigned int moves() const noexcept { return moves_; }

private:
	std::vector<uint32_t> pool_;
	std::vector<uint32_t> serving_;
	AutoLayoutPolicy policy_;
	std::optional<LayoutSample> last_;
	unsigned int spreadFor_ = 0;
	unsigned int consolidateFor_ = 0;
	unsigned int moves_ = 0;
};

} // namespace vhost

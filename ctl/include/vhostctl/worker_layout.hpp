// SPDX-License-Identifier: GPL-2.0
/*
 * How the virtqueues of a vhost-blk device are spread over its workers, and
 * the busy-poll timeout of its rings: what run, bench and serve set up on
 * the devices they own.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vhostctl/kernel_transport.hpp"

namespace vhost {

struct WorkerLayout {
	enum Kind {
		Single, /* the default worker serves every virtqueue */
		PerVq,  /* a new worker per virtqueue */
		Count,  /* @count new workers, virtqueues round robin */
		Auto,   /* a pool of one worker per virtqueue, all on the
			 * first at the start; AutoLayout moves them */
	};
	Kind kind = Single;
	unsigned int count = 0;

	/* The most workers a Count layout asks for. */
	static constexpr unsigned int maxCount = 1024;

	/* "single", "per-vq", "auto" or the count. */
	std::string text() const;
	/* The text back; nothing when it names no layout. */
	static std::optional<WorkerLayout> parse(std::string_view text);

	bool operator==(const WorkerLayout &) const = default;
};

/*
 * Create the workers of @layout on @dev (owned) and attach virtqueues
 * 0..@queues-1 to them; returns the worker serving each.  @pool, when
 * given, receives every worker the layout may use (for Auto, the pool its
 * policy moves virtqueues within: the default worker first).
 */
std::vector<unsigned int> applyLayout(BlkTransport &dev, unsigned int queues,
				      const WorkerLayout &layout,
				      std::vector<unsigned int> *pool = nullptr);

/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of @us on virtqueues 0..@queues-1. */
void setBusyPoll(BlkTransport &dev, unsigned int queues, unsigned int us);

/* "0:1 1:2": the worker of each virtqueue, for a log line. */
std::string formatBindings(const std::vector<unsigned int> &workers);

} // namespace vhost

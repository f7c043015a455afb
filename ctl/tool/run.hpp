// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl run: own /dev/vhost-blk with the library's BlkDriver, lay its
 * virtqueues out over workers, and run random I/O from one thread per
 * queue; then print IOPS, throughput and latency percentiles.
 */
#pragma once

#include <string>

#include "cli.hpp"
#include "workload.hpp"

namespace vhostctl::run {

struct RunOptions {
	std::string backend;
	WorkloadArgs work;
};

/* UsageError on bad input, HelpRequested for -h. */
RunOptions parseOptions(const Args &args);

} // namespace vhostctl::run

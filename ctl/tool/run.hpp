// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl run: own /dev/vhost-blk with the library's BlkDriver, lay its
 * virtqueues out over workers, and run random I/O from one thread per
 * queue; then print IOPS, throughput and latency percentiles.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/worker_layout.hpp"
#include "workload.hpp"

namespace vhostctl::run {

using vhost::WorkerLayout;

struct RunOptions {
	std::string backend;
	std::string device = vhost::BlkDevice::defaultPath;
	unsigned int queues = 1;
	WorkerLayout workers;
	double duration = 10;
	Rw rw = Rw::RandRead;
	uint32_t bs = 4096;
	unsigned int iodepth = 32;
	std::optional<vhost::WorkerMode> workerMode;
};

/* UsageError on bad input. */
RunOptions parseOptions(const Args &args);
/* "4096", "4k", "1M": bytes, a multiple of 512 up to 4 MiB. */
uint32_t parseBlockSize(std::string_view text, std::string_view command = "run");
/* "single", "per-vq" or a number of workers. */
WorkerLayout parseLayout(std::string_view text, std::string_view command = "run");
/* Ring entries for @iodepth requests of three descriptors each. */
unsigned int queueSizeFor(unsigned int iodepth);

} // namespace vhostctl::run

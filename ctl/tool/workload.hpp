// SPDX-License-Identifier: GPL-2.0
/*
 * The I/O engine of vhostctl run and vhostctl bench: random requests from
 * one thread per queue of a virtio::BlkDriver, whatever its transport, with
 * an optional warm-up that is not measured, latency histograms and a
 * progress callback.  SIGINT and SIGTERM end it early, as a deadline would.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "latency.hpp"
#include "vhostctl/blk_driver.hpp"
#include "vhostctl/unique_fd.hpp"

namespace vhostctl::run {

enum class Rw { RandRead, RandWrite, Mixed };

std::string_view rwName(Rw rw);

struct Workload {
	Rw rw = Rw::RandRead;
	uint32_t bs = 4096;
	unsigned int iodepth = 32;
	/* Seconds measured, after @warmup seconds that are not. */
	double duration = 10;
	double warmup = 0;
	/* Microseconds a queue thread polls the used ring before sleeping. */
	unsigned int pollUs = 0;
};

struct Stats {
	uint64_t ios = 0;
	uint64_t bytes = 0;
	uint64_t errors = 0;
	std::string firstError;
	LatencyHistogram latency;
	/* Seconds measured: the duration, or less when a signal came. */
	double elapsed = 0;
};

/* Called about once a second while measuring: seconds so far, requests done. */
using Progress = std::function<void(double elapsed, uint64_t ios)>;

/*
 * Run @w on every queue of @drv over the first @blocks blocks of the
 * device, then wait for every request.  A failed request counts in
 * Stats::errors; a stalled queue or a malformed-ring report throws
 * vhost::Error.
 */
Stats runWorkload(virtio::BlkDriver &drv, const Workload &w, uint64_t blocks,
		  const Progress &progress = {});

/* Error(EIO) naming the first failed request, if any failed. */
void requireNoErrors(const Stats &st);

/* A backend opened for @rw: read-only unless the workload writes. */
struct Backend {
	vhost::UniqueFd fd;
	uint64_t size = 0;
};
Backend openBackend(const std::string &path, Rw rw);

/* The driver a workload needs: ring size, slots and buffers for @w. */
virtio::BlkDriverConfig driverConfig(const Workload &w, unsigned int queues);

} // namespace vhostctl::run

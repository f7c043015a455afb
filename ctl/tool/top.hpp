// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl top: a refreshing view of workers and virtqueues with rates per
 * second, computed from two samples of the netlink counters.
 */
#pragma once

#include <optional>
#include <vector>

#include "cli.hpp"
#include "output.hpp"
#include "vhostctl/netlink.hpp"

namespace vhostctl::top {

struct TopOptions {
	double interval = 1.0;
	/* Frames to print before exiting; forever if unset. */
	std::optional<unsigned int> iterations;
	std::optional<uint32_t> dev;
};

/* UsageError on bad input. */
TopOptions parseOptions(const Args &args);

struct Sample {
	std::vector<nl::WorkerInfo> workers;
	std::vector<nl::VqInfo> vqs;
};

struct WorkerRate {
	nl::WorkerInfo worker;
	double worksPerS = 0;
	double busyPct = 0;
	double wakeupsPerS = 0;
};

struct VqRate {
	nl::VqInfo vq;
	double requestsPerS = 0;
	double bytesPerS = 0;
	double kicksPerS = 0;
	/* The service times of the requests returned in the interval. */
	nl::Histogram service;
};

/*
 * Rates of each worker (virtqueue) of @cur against the same one in @prev,
 * over @seconds; one that was not in @prev counts from zero.
 */
std::vector<WorkerRate> workerRates(const Sample &prev, const Sample &cur, double seconds);
/* Only virtqueues that are active or moved requests. */
std::vector<VqRate> vqRates(const Sample &prev, const Sample &cur, double seconds);

Table workerTable(const std::vector<WorkerRate> &rates);
Table vqTable(const std::vector<VqRate> &rates);

} // namespace vhostctl::top

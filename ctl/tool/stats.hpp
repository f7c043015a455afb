// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl stats: every counter and histogram the module reports, as
 * metric families: the OpenMetrics text format (for node_exporter's
 * textfile collector, or any Prometheus scraper), or JSON.
 */
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "output.hpp"
#include "vhostctl/netlink.hpp"

namespace vhostctl::stats {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct MetricSample {
	std::string suffix; /* "_total", "_bucket", "" */
	Labels labels;
	std::variant<uint64_t, double> value;
};

struct Family {
	std::string name;
	std::string type; /* counter, gauge, histogram, info */
	std::string unit; /* "" or the suffix of the name: seconds, bytes */
	std::string help;
	std::vector<MetricSample> samples;
};

/* The families of what the module reports, in a fixed order. */
std::vector<Family> families(const std::vector<nl::DevInfo> &devs,
			     const std::vector<nl::WorkerInfo> &workers,
			     const std::vector<nl::VqInfo> &vqs);

/* The OpenMetrics text exposition of @fams, "# EOF" last. */
std::string openMetrics(const std::vector<Family> &fams);
/* [{"name", "type", "unit", "help", "samples": [{"name", "labels", "value"}]}] */
Json familiesJson(const std::vector<Family> &fams);

} // namespace vhostctl::stats

// SPDX-License-Identifier: GPL-2.0
/*
 * The latency histograms of the virtqueues (VHOST_BLK_A_VQ_HIST), for
 * people and programs: quantile fields of a record, a bar chart, JSON.
 */
#pragma once

#include <ostream>

#include "output.hpp"
#include "vhostctl/netlink.hpp"

namespace vhostctl {

/*
 * p50_us, p99_us, max_us of @h (null when it counted nothing).  @max is
 * the histogram's own maximum, or, for a difference of two samples (top),
 * the top of its highest bucket.
 */
void addLatency(Record &r, const nl::Histogram &h, bool fromBuckets = false);

/* One histogram as JSON: kind, op, count, sum_ns, max_ns, p50_ns, p99_ns, buckets. */
Json histJson(const nl::Histogram &h);

/*
 * One histogram as a bar chart of @width columns: a title line, then a
 * line per bucket from the first to the last that counted anything.
 */
void printHistChart(std::ostream &out, const nl::Histogram &h, unsigned int width = 50);

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * LatencyHistogram: request latencies in nanoseconds, in log-linear buckets
 * (32 per power of two, so a percentile is within about 3% of the truth)
 * whatever the number of requests.
 */
#pragma once

#include <cstdint>
#include <vector>

namespace vhostctl {

class LatencyHistogram
{
public:
	LatencyHistogram();

	void record(uint64_t ns);
	void merge(const LatencyHistogram &other);

	uint64_t count() const noexcept { return count_; }
	uint64_t min() const noexcept { return count_ ? min_ : 0; }
	uint64_t max() const noexcept { return max_; }
	/* The latency @pct percent of the requests did not exceed (0 if none). */
	uint64_t percentile(double pct) const;

	/* The bucket of @ns, and the value a bucket stands for (its middle). */
	static std::size_t bucket(uint64_t ns) noexcept;
	static uint64_t bucketValue(std::size_t bucket) noexcept;

private:
	std::vector<uint64_t> buckets_;
	uint64_t count_ = 0;
	uint64_t min_ = UINT64_MAX;
	uint64_t max_ = 0;
};

} // namespace vhostctl

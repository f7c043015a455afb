// SPDX-License-Identifier: GPL-2.0
#include "latency.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace vhostctl {

namespace {

constexpr unsigned int subBits = 5;
constexpr uint64_t subBuckets = 1ULL << subBits;
/* Values below subBuckets have a bucket each; then 32 per power of two up to 2^63. */
constexpr std::size_t numBuckets = (64 - subBits + 1) * subBuckets;

} // namespace

LatencyHistogram::LatencyHistogram() : buckets_(numBuckets, 0) {}

std::size_t LatencyHistogram::bucket(uint64_t ns) noexcept
{
	if (ns < subBuckets)
		return ns;
	unsigned int e = static_cast<unsigned int>(std::bit_width(ns)) - 1;
	uint64_t mantissa = (ns >> (e - subBits)) & (subBuckets - 1);

	return (e - subBits + 1) * subBuckets + mantissa;
}

uint64_t LatencyHistogram::bucketValue(std::size_t b) noexcept
{
	if (b < subBuckets)
		return b;
	unsigned int e = static_cast<unsigned int>(b / subBuckets) + subBits - 1;
	uint64_t mantissa = b % subBuckets;
	uint64_t width = 1ULL << (e - subBits);

	return (1ULL << e) + mantissa * width + width / 2;
}

void LatencyHistogram::record(uint64_t ns)
{
	buckets_[bucket(ns)]++;
	count_++;
	min_ = std::min(min_, ns);
	max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
	for (std::size_t i = 0; i < buckets_.size(); i++)
		buckets_[i] += other.buckets_[i];
	count_ += other.count_;
	min_ = std::min(min_, other.min_);
	max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::percentile(double pct) const
{
	if (!count_)
		return 0;
	auto target = static_cast<uint64_t>(std::ceil(pct / 100.0 * static_cast<double>(count_)));
	target = std::clamp<uint64_t>(target, 1, count_);

	uint64_t seen = 0;
	for (std::size_t i = 0; i < buckets_.size(); i++) {
		seen += buckets_[i];
		if (seen >= target)
			return std::clamp(bucketValue(i), min(), max_);
	}
	return max_;
}

} // namespace vhostctl

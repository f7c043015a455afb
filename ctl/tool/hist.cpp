// SPDX-License-Identifier: GPL-2.0
#include "hist.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vhostctl {

namespace {

/* The top of the highest bucket that counted anything, bounded by the maximum. */
std::optional<uint64_t> topOfBuckets(const nl::Histogram &h)
{
	return nl::quantileNs(h, 1.0);
}

void addUs(Record &r, std::string_view key, std::optional<uint64_t> ns)
{
	if (ns)
		r.real(key, static_cast<double>(*ns) / 1e3, 1);
	else
		r.field(key, nullptr, "-", true);
}

/* "[2.05ms, 4.10ms)", "< 1.00us", ">= 1.05s": bucket @i's range. */
std::string bucketLabel(std::size_t i)
{
	auto upper = nl::bucketUpperNs(i);

	if (i == 0)
		return fmt::format("< {}", formatDuration(*upper));
	auto lower = *nl::bucketUpperNs(i - 1);
	if (!upper)
		return fmt::format(">= {}", formatDuration(lower));
	return fmt::format("[{}, {})", formatDuration(lower), formatDuration(*upper));
}

} // namespace

void addLatency(Record &r, const nl::Histogram &h, bool fromBuckets)
{
	addUs(r, "p50_us", nl::quantileNs(h, 0.5));
	addUs(r, "p99_us", nl::quantileNs(h, 0.99));
	addUs(r, "max_us",
	      fromBuckets ? topOfBuckets(h) : (h.count() ? std::optional(h.maxNs) : std::nullopt));
}

Json histJson(const nl::Histogram &h)
{
	Json j = Json::object();
	Json buckets = Json::array();

	j["kind"] = nl::histKindName(h.kind);
	j["op"] = nl::opName(h.op);
	j["count"] = h.count();
	j["sum_ns"] = h.sumNs;
	j["max_ns"] = h.maxNs;
	auto p50 = nl::quantileNs(h, 0.5), p99 = nl::quantileNs(h, 0.99);
	j["p50_ns"] = p50 ? Json(*p50) : Json(nullptr);
	j["p99_ns"] = p99 ? Json(*p99) : Json(nullptr);
	for (std::size_t i = 0; i < nl::histBuckets; i++) {
		auto upper = nl::bucketUpperNs(i);
		Json b = Json::object();
		/* The bucket holds what took less than le_ns; null: no bound. */
		b["le_ns"] = upper ? Json(*upper) : Json(nullptr);
		b["count"] = h.buckets[i];
		buckets.push_back(std::move(b));
	}
	j["buckets"] = std::move(buckets);
	return j;
}

void printHistChart(std::ostream &out, const nl::Histogram &h, unsigned int width)
{
	uint64_t n = h.count();
	auto p50 = nl::quantileNs(h, 0.5), p99 = nl::quantileNs(h, 0.99);

	out << fmt::format("{} {}: {} requests", nl::histKindName(h.kind), nl::opName(h.op), n);
	if (n)
		out << fmt::format(", mean {}, p50 {}, p99 {}, max {}", formatDuration(h.sumNs / n),
				   formatDuration(*p50), formatDuration(*p99),
				   formatDuration(h.maxNs));
	out << '\n';
	if (!n)
		return;

	auto first = std::find_if(h.buckets.begin(), h.buckets.end(), [](uint64_t b) { return b; });
	auto last =
		std::find_if(h.buckets.rbegin(), h.buckets.rend(), [](uint64_t b) { return b; });
	std::size_t lo = first - h.buckets.begin(), hi = h.buckets.rend() - last - 1;
	uint64_t peak = *std::max_element(h.buckets.begin(), h.buckets.end());
	std::size_t labelWidth = 0;

	for (std::size_t i = lo; i <= hi; i++)
		labelWidth = std::max(labelWidth, bucketLabel(i).size());
	for (std::size_t i = lo; i <= hi; i++) {
		/* Any count at all shows as one mark at least. */
		auto marks = static_cast<std::size_t>((h.buckets[i] * width + peak - 1) / peak);
		out << fmt::format("  {:>{}} |{:<{}}| {} ({:.1f}%)\n", bucketLabel(i), labelWidth,
				   std::string(marks, '#'), width, h.buckets[i],
				   100.0 * static_cast<double>(h.buckets[i]) /
					   static_cast<double>(n));
	}
}

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
#include <catch2/catch_test_macros.hpp>

#include <sstream>

#include "cli.hpp"
#include "latency.hpp"
#include "output.hpp"

using vhostctl::Table;

TEST_CASE("One emitter: the text labels are the JSON keys", "[output]")
{
	Table t;
	t.add().u64("id", 1).str("name", "a").hex("mask", 255).optU64("opt", std::nullopt);
	t.add().u64("id", 100).str("name", "longer").hex("mask", 1).optU64("opt", 7);

	std::ostringstream text;
	t.printText(text);
	CHECK(text.str() == " id  name    mask  opt\n"
			    "  1  a       0xff    -\n"
			    "100  longer   0x1    7\n");

	vhostctl::Options opts;
	opts.json = true;
	std::ostringstream json;
	t.print(json, opts);
	CHECK(json.str() == "[{\"id\":1,\"name\":\"a\",\"mask\":255,\"opt\":null},"
			    "{\"id\":100,\"name\":\"longer\",\"mask\":1,\"opt\":7}]\n");
}

TEST_CASE("An empty table prints nothing, or an empty JSON array", "[output]")
{
	Table t;
	std::ostringstream text, json;
	vhostctl::Options opts;

	t.print(text, opts);
	CHECK(text.str().empty());
	opts.json = true;
	t.print(json, opts);
	CHECK(json.str() == "[]\n");
}

TEST_CASE("Index lists print as ranges", "[output]")
{
	CHECK(vhostctl::formatRanges({}) == "");
	CHECK(vhostctl::formatRanges({3}) == "3");
	CHECK(vhostctl::formatRanges({0, 1, 2, 3}) == "0-3");
	CHECK(vhostctl::formatRanges({8, 0, 1, 10, 11, 3}) == "0-1,3,8,10-11");
	CHECK(vhostctl::formatRanges({2, 2, 3}) == "2-3");
}

TEST_CASE("Sizes print for humans", "[output]")
{
	CHECK(vhostctl::formatBytes(0) == "0B");
	CHECK(vhostctl::formatBytes(512) == "512B");
	CHECK(vhostctl::formatBytes(1536) == "1.5KiB");
	CHECK(vhostctl::formatBytes(64ULL << 20) == "64MiB");
	CHECK(vhostctl::formatBytes(1ULL << 40) == "1.0TiB");
}

TEST_CASE("The latency histogram finds percentiles within 3%", "[latency]")
{
	vhostctl::LatencyHistogram h;

	CHECK(h.percentile(50) == 0);
	for (uint64_t us = 1; us <= 1000; us++)
		h.record(us * 1000);
	CHECK(h.count() == 1000);
	CHECK(h.min() == 1000);
	CHECK(h.max() == 1000000);
	auto near = [](uint64_t got, uint64_t want) {
		return got >= want * 97 / 100 && got <= want * 103 / 100;
	};
	CHECK(near(h.percentile(50), 500000));
	CHECK(near(h.percentile(99), 990000));
	CHECK(h.percentile(100) <= h.max());
	CHECK(h.percentile(0) >= h.min());

	vhostctl::LatencyHistogram other;
	other.record(5);
	h.merge(other);
	CHECK(h.count() == 1001);
	CHECK(h.min() == 5);
}

TEST_CASE("Histogram buckets are exact for small values and monotonic", "[latency]")
{
	using H = vhostctl::LatencyHistogram;
	for (uint64_t v = 0; v < 32; v++)
		CHECK(H::bucketValue(H::bucket(v)) == v);
	std::size_t prev = 0;
	for (uint64_t v = 1; v < (1ULL << 40); v = v * 3 / 2 + 1) {
		std::size_t b = H::bucket(v);
		CHECK(b >= prev);
		uint64_t mid = H::bucketValue(b);
		CHECK(mid >= v - v / 32);
		CHECK(mid <= v + v / 32);
		prev = b;
	}
	CHECK(H::bucket(UINT64_MAX) < (64 - 5 + 1) * 32);
}

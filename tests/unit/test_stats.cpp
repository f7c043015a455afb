// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl stats, vq hist, vq show's latency and monitor's lines, on
 * canned netlink state: the OpenMetrics text is compared with
 * tests/unit/golden/stats.openmetrics (VHOSTCTL_UPDATE_GOLDEN=1 rewrites
 * it) and checked against the format's rules.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <linux/vhost_blk.h>
#include <nlohmann/json.hpp>

#include "fake_state.hpp"
#include "monitor.hpp"
#include "test_util.hpp"
#include "top.hpp"

using Catch::Matchers::ContainsSubstring;
using nlohmann::json;
using test::FakeState;
using test::tool;

namespace {

std::vector<std::string> lines(const std::string &text)
{
	return textLines(text);
}

} // namespace

TEST_CASE("stats --format=openmetrics keeps its golden text", "[stats][golden]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"stats", "--format=openmetrics"});
	REQUIRE(r.status == 0);
	auto path = std::filesystem::path(GOLDEN_DIR) / "stats.openmetrics";

	if (std::getenv("VHOSTCTL_UPDATE_GOLDEN"))
		std::ofstream(path) << r.out;
	std::ifstream in(path);
	REQUIRE(in);
	std::stringstream golden;
	golden << in.rdbuf();
	CHECK(r.out == golden.str());
	/* The default format is the same. */
	CHECK(tool(s, {"stats"}).out == r.out);
}

TEST_CASE("The OpenMetrics text keeps the format's rules", "[stats]")
{
	FakeState s = FakeState::sample();
	auto out = lines(tool(s, {"stats"}).out);
	REQUIRE(!out.empty());
	CHECK(out.back() == "# EOF");

	/* A family's metadata before its samples, each family once, contiguous. */
	std::map<std::string, std::string> types;
	std::string family;
	uint64_t cumulative = 0;
	bool sawInf = false;
	for (std::size_t i = 0; i + 1 < out.size(); i++) {
		const std::string &l = out[i];
		if (l.rfind("# TYPE ", 0) == 0) {
			std::istringstream w(l.substr(7));
			std::string type;
			w >> family >> type;
			CHECK(types.emplace(family, type).second);
			continue;
		}
		if (l[0] == '#')
			continue;
		INFO(l);
		REQUIRE(l.rfind(family, 0) == 0);
		std::string suffix = l.substr(family.size(), l.find('{') - family.size());
		if (types[family] == "counter")
			CHECK(suffix == "_total");
		if (types[family] == "histogram") {
			REQUIRE((suffix == "_bucket" || suffix == "_count" || suffix == "_sum"));
			uint64_t v = std::stoull(l.substr(l.rfind(' ') + 1));
			if (suffix == "_bucket") {
				/* Cumulative; the last one +Inf. */
				CHECK(v >= cumulative);
				cumulative = v;
				sawInf = l.find("le=\"+Inf\"") != std::string::npos;
			} else if (suffix == "_count") {
				CHECK(sawInf);
				CHECK(v == cumulative);
				cumulative = 0;
			}
		}
	}
	/* Every family of the sample has its samples: a worker's, a vq's, a histogram's. */
	std::string text = tool(s, {"stats"}).out;
	CHECK_THAT(text, ContainsSubstring(
				 "vhost_blk_worker_works_total{dev=\"1\",worker=\"2\"} 2000\n"));
	CHECK_THAT(text,
		   ContainsSubstring(
			   "vhost_blk_worker_busy_seconds_total{dev=\"1\",worker=\"1\"} 0.002\n"));
	CHECK_THAT(text, ContainsSubstring("vhost_blk_vq_service_seconds_bucket{dev=\"1\",vq=\"0\","
					   "op=\"read\",le=\"6.4e-05\"} 90\n"));
	CHECK_THAT(text, ContainsSubstring("vhost_blk_vq_service_seconds_sum{dev=\"1\",vq=\"0\",op="
					   "\"read\"} 0.009\n"));
	CHECK(types["vhost_blk_vq_service_seconds"] == "histogram");
	CHECK(types["vhost_blk_vq_requests"] == "counter");
	CHECK(types["vhost_blk_dev"] == "info");
}

TEST_CASE("stats labels escape what OpenMetrics needs escaped", "[stats]")
{
	FakeState s = FakeState::sample();
	s.devs[0].backend = "/tmp/a \"b\"\\c\nd";
	CHECK_THAT(tool(s, {"stats"}).out, ContainsSubstring(R"(backend="/tmp/a \"b\"\\c\nd")"));
	CHECK(tool(s, {"stats", "--format", "xml"}).status == 2);
}

TEST_CASE("vq show has the service latency of every request type", "[vq][hist]")
{
	FakeState s = FakeState::sample();
	auto j = json::parse(tool(s, {"-j", "vq", "show"}).out);
	REQUIRE(j.size() == 3);
	/* 100 reads: 10 in [16, 32) us, 80 in [32, 64) us, 10 in [512, 1024) us. */
	CHECK(j[0]["p50_us"] == 64.0);
	CHECK(j[0]["p99_us"] == 900.0);
	CHECK(j[0]["max_us"] == 900.0);
	CHECK(j[1]["p50_us"].is_null());
}

TEST_CASE("vq hist draws each histogram, or prints it as JSON", "[vq][hist]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"vq", "hist", "1", "0"});
	REQUIRE(r.status == 0);
	auto out = lines(r.out);
	CHECK(out[0] == "dev 1 vq 0 queue read: 100 requests, mean 1.50us, p50 1.90us, p99 1.90us, "
			"max 1.90us");
	CHECK_THAT(r.out, ContainsSubstring("service read: 100 requests, mean 90.0us, p50 64.0us"));
	/* The fullest bucket has the whole bar; the others in proportion. */
	CHECK_THAT(r.out,
		   ContainsSubstring("[32.0us, 64.0us) |" + std::string(50, '#') + "| 80 (80.0%)"));
	CHECK_THAT(r.out, ContainsSubstring("[16.0us, 32.0us) |" + std::string(7, '#') +
					    std::string(43, ' ') + "| 10 (10.0%)"));
	/* Empty buckets between the first and the last are drawn, not outside them. */
	CHECK_THAT(r.out,
		   ContainsSubstring("[64.0us, 128us) |" + std::string(50, ' ') + "| 0 (0.0%)"));
	CHECK_THAT(r.out, !ContainsSubstring("[8.00us, 16.0us)"));

	auto j = json::parse(tool(s, {"-j", "vq", "hist", "1", "0", "kind", "service"}).out);
	REQUIRE(j.size() == 1);
	CHECK(j[0]["kind"] == "service");
	CHECK(j[0]["count"] == 100);
	CHECK(j[0]["buckets"].size() == VHOST_BLK_HIST_BUCKETS);
	CHECK(j[0]["buckets"][6]["le_ns"] == 64000);
	CHECK(j[0]["buckets"][6]["count"] == 80);
	CHECK(j[0]["buckets"][21]["le_ns"].is_null());

	CHECK_THAT(tool(s, {"vq", "hist", "1", "1"}).out, ContainsSubstring("no request measured"));
	CHECK(tool(s, {"vq", "hist", "1", "9"}).status == 3);
	CHECK(tool(s, {"vq", "hist", "1", "0", "op", "trim"}).status == 2);
}

TEST_CASE("monitor prints one line per event, text or JSON", "[monitor]")
{
	using vhostctl::monitor::eventJson;
	using vhostctl::monitor::eventText;
	nl::Event e;
	e.name = "vq-stopped";
	e.devId = 3;
	e.vq = 0;
	e.reason = "avail head 65 past the ring's 64";
	CHECK(eventText(e) == "dev 3: vq-stopped vq 0: avail head 65 past the ring's 64");
	CHECK(eventJson(e).dump() ==
	      R"({"event":"vq-stopped","dev_id":3,"vq":0,"reason":"avail head 65 past the ring's 64"})");

	nl::Event io;
	io.name = "io-error";
	io.devId = 3;
	io.vq = 1;
	io.ioErrno = EIO;
	io.ioOp = VHOST_BLK_OP_READ;
	io.ioErrors = 7;
	CHECK(eventText(io) == "dev 3: io-error vq 1 read: Input/output error (7 so far)");

	nl::Event detached;
	detached.name = "backend-set";
	detached.devId = 4;
	CHECK(eventText(detached) == "dev 4: backend-set none");
	CHECK(eventJson(detached).dump() == R"({"event":"backend-set","dev_id":4,"backend":null})");
}

TEST_CASE("top's latency is that of the requests returned in its interval", "[top][hist]")
{
	using namespace vhostctl::top;
	FakeState s = FakeState::sample();
	Sample prev{s.workerList, s.vqList};
	/* 50 more reads of vq 0, all in [2, 4) ms. */
	for (auto &h : s.vqList[0].hists) {
		if (h.kind == nl::HistKind::service) {
			h.buckets[12] += 50;
			h.sumNs += 50 * 3'000'000;
			h.maxNs = 3'500'000;
		}
	}
	Sample cur{s.workerList, s.vqList};
	auto rates = vqRates(prev, cur, 1.0);
	REQUIRE(rates.size() == 2);
	CHECK(rates[0].service.count() == 50);
	auto j = vqTable(rates).json();
	/* Not the 100 earlier ones: every quantile of the interval is 2-4 ms. */
	CHECK(j[0]["p50_us"] == 3500.0);
	/* The top of the highest bucket, bounded by the maximum since the open. */
	CHECK(j[0]["max_us"] == 3500.0);
	CHECK(j[0]["p99_us"] == 3500.0);
	CHECK(j[1]["p50_us"].is_null());
}

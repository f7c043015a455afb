// SPDX-License-Identifier: GPL-2.0
/*
 * The vhostctl grammar, help, errors and exit statuses, and its output in
 * text and JSON, against canned netlink state.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "fake_state.hpp"
#include "run.hpp"
#include "top.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using test::FakeState;
using test::tool;

namespace {

std::size_t lines(const std::string &s)
{
	return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

/* A failure prints one line on stderr, nothing on stdout. */
void checkFailure(const test::Run &r, int status, const std::string &what)
{
	CHECK(r.status == status);
	CHECK(r.out.empty());
	CHECK(lines(r.err) == 1);
	CHECK_THAT(r.err, StartsWith("vhostctl: "));
	CHECK_THAT(r.err, ContainsSubstring(what));
}

std::vector<std::string> keys(const nlohmann::json &o)
{
	std::vector<std::string> k;
	for (auto it = o.begin(); it != o.end(); ++it)
		k.push_back(it.key());
	std::sort(k.begin(), k.end());
	return k;
}

std::vector<std::string> sorted(std::vector<std::string> v)
{
	std::sort(v.begin(), v.end());
	return v;
}

} // namespace

TEST_CASE("show is the default command and list its alias", "[cli]")
{
	FakeState s = FakeState::sample();
	auto a = tool(s, {"worker"});
	auto b = tool(s, {"worker", "show"});
	auto c = tool(s, {"worker", "list"});

	CHECK(a.status == 0);
	CHECK(a.err.empty());
	CHECK(a.out == b.out);
	CHECK(a.out == c.out);
	CHECK(lines(a.out) == 5); /* header and four workers */
}

TEST_CASE("help works at every level", "[cli]")
{
	FakeState s;
	for (auto args : std::vector<std::vector<std::string>>{{"help"},
							       {"-h"},
							       {"--help"},
							       {"dev", "help"},
							       {"vq", "attach", "help"},
							       {"worker", "show", "help"},
							       {"run", "--help"},
							       {"top", "help"}}) {
		auto r = tool(s, args);
		INFO(args.front());
		CHECK(r.status == 0);
		CHECK(r.err.empty());
		CHECK_THAT(r.out, ContainsSubstring("vhostctl"));
	}
	auto all = tool(s, {"help"});
	for (auto object : {"dev", "worker", "vq", "features", "top", "run"})
		CHECK_THAT(all.out, ContainsSubstring(std::string("vhostctl ") + object));
	CHECK_THAT(all.out, ContainsSubstring("vhostctl vq attach DEV VQ WORKER"));
	auto vq = tool(s, {"vq", "help"});
	CHECK_THAT(vq.out, ContainsSubstring("vq attach"));
	CHECK_THAT(vq.out, !ContainsSubstring("worker show"));
}

TEST_CASE("--version prints the project's version", "[cli]")
{
	FakeState s;
	auto r = tool(s, {"-V"});

	CHECK(r.status == 0);
	CHECK(r.out == "vhostctl " + std::string(vhostctl::version()) + "\n");
	CHECK_FALSE(vhostctl::version().empty());
	CHECK(tool(s, {"--version"}).out == r.out);
}

TEST_CASE("Bad input is one line on stderr and exit status 2", "[cli]")
{
	FakeState s = FakeState::sample();

	checkFailure(tool(s, {}), 2, "no object");
	checkFailure(tool(s, {"bogus"}), 2, "unknown object 'bogus'");
	checkFailure(tool(s, {"worker", "bogus"}), 2, "unknown command 'bogus' for 'worker'");
	checkFailure(tool(s, {"-x", "dev"}), 2, "-x");
	checkFailure(tool(s, {"worker", "show", "dev"}), 2, "'dev' needs a device id");
	checkFailure(tool(s, {"worker", "show", "dev", "x1"}), 2, "'x1' is not a valid device id");
	checkFailure(tool(s, {"worker", "show", "dev", "-1"}), 2, "not a valid device id");
	checkFailure(tool(s, {"worker", "show", "dev", "4294967296"}), 2, "not a valid");
	checkFailure(tool(s, {"worker", "show", "extra"}), 2, "unexpected argument 'extra'");
	checkFailure(tool(s, {"worker", "show", "-j"}), 2, "options go before the object");
	checkFailure(tool(s, {"vq", "attach", "1", "2"}), 2, "DEV VQ WORKER");
	checkFailure(tool(s, {"vq", "attach", "1", "x", "2"}), 2, "virtqueue index");
	checkFailure(tool(s, {"features", "0xzz"}), 2, "feature mask");
	checkFailure(tool(s, {"run"}), 2, "--backend is required");
	checkFailure(tool(s, {"run", "--backend", "/x", "--workers", "many"}), 2,
		     "--workers takes single, per-vq or a number");
	checkFailure(tool(s, {"top", "--interval", "-1"}), 2, "top:");
	checkFailure(tool(s, {"top", "--bogus"}), 2, "top:");
	CHECK(s.attached.empty());
}

TEST_CASE("A device that does not exist is a runtime error", "[cli]")
{
	FakeState s = FakeState::sample();

	checkFailure(tool(s, {"worker", "show", "dev", "9"}), 1, "device 9");
	checkFailure(tool(s, {"vq", "show", "dev", "9"}), 1, "device 9");
	checkFailure(tool(s, {"dev", "show", "9"}), 1, "device 9");
	checkFailure(tool(s, {"features", "dev", "9"}), 1, "device 9");
	checkFailure(tool(s, {"top", "-n", "1", "dev", "9"}), 1, "device 9");
}

TEST_CASE("Without the module every netlink command fails in one line", "[cli]")
{
	for (auto args : std::vector<std::vector<std::string>>{{"dev"},
							       {"worker", "show"},
							       {"vq", "attach", "1", "0", "1"},
							       {"top", "-n", "1"}})
		checkFailure(test::toolNoModule(args), 1, "vhost_blk");
	/* Decoding a mask needs no kernel. */
	CHECK(test::toolNoModule({"features", "0x1"}).status == 0);
}

TEST_CASE("worker show filters by device", "[cli]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"-j", "worker", "show", "dev", "2"});

	REQUIRE(r.status == 0);
	auto j = nlohmann::json::parse(r.out);
	REQUIRE(j.size() == 1);
	CHECK(j[0]["dev_id"] == 2);
	CHECK(j[0]["tid"] == 601);
}

TEST_CASE("JSON keys are the netlink attribute names", "[cli][json]")
{
	FakeState s = FakeState::sample();

	auto dev = nlohmann::json::parse(tool(s, {"-j", "dev", "show"}).out);
	REQUIRE(dev.size() == 2);
	for (const auto &d : dev)
		CHECK(keys(d) == sorted({"id", "owner_pid", "owner_tid", "owner_uid", "backend",
					 "backend_size", "features", "num_vqs", "num_workers",
					 "worker_mode"}));
	CHECK(dev[0]["backend"] == "/tmp/disk.img");
	CHECK(dev[0]["backend_size"] == 64 << 20);
	CHECK(dev[0]["features"] == 0x130000000ULL);
	CHECK(dev[0]["worker_mode"] == "task");
	/* A device without owner or backend keeps its keys, with null values. */
	CHECK(dev[1]["owner_pid"].is_null());
	CHECK(dev[1]["backend"].is_null());

	auto workers = nlohmann::json::parse(tool(s, {"--json", "worker"}).out);
	REQUIRE(workers.size() == 4);
	for (const auto &w : workers)
		CHECK(keys(w) ==
		      sorted({"dev_id", "id", "tid", "vqs", "works", "busy_ns", "wakeups"}));
	CHECK(workers[1]["vqs"] == nlohmann::json::array({0}));
	CHECK(workers[0]["vqs"] == nlohmann::json::array());
	CHECK(workers[2]["busy_ns"] == 4000000);

	auto vqs = nlohmann::json::parse(tool(s, {"-j", "vq"}).out);
	REQUIRE(vqs.size() == 3);
	for (const auto &v : vqs)
		CHECK(keys(v) ==
		      sorted({"dev_id", "index", "worker_id", "num", "active", "kicks", "requests",
			      "bytes", "in_flight", "errors", "busyloop_us"}));
	CHECK(vqs[0]["worker_id"] == 1);
	CHECK(vqs[0]["in_flight"] == 2);
	CHECK(vqs[2]["worker_id"].is_null());
	CHECK(vqs[2]["active"] == 0);
}

TEST_CASE("-p pretty-prints the same JSON", "[cli][json]")
{
	FakeState s = FakeState::sample();
	auto flat = tool(s, {"-j", "vq"});
	auto pretty = tool(s, {"-j", "-p", "vq"});

	CHECK(lines(flat.out) == 1);
	CHECK(lines(pretty.out) > 10);
	CHECK(nlohmann::json::parse(flat.out) == nlohmann::json::parse(pretty.out));
	/* Without -j there is no JSON to make pretty. */
	CHECK(tool(s, {"-p", "vq"}).out == tool(s, {"vq"}).out);
}

TEST_CASE("Text tables are aligned and labelled with the JSON keys", "[cli][text]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"worker", "show", "dev", "1"});

	CHECK(r.out == "dev_id  id  tid  vqs  works  busy_ns  wakeups\n"
		       "     1   0  501  -        1      100        1\n"
		       "     1   1  502  0     1000  2000000       10\n"
		       "     1   2  503  1     2000  4000000       20\n");

	auto dev = tool(s, {"dev"});
	CHECK_THAT(dev.out, StartsWith("id  owner_pid  owner_tid  owner_uid  backend"));
	CHECK_THAT(dev.out, ContainsSubstring("64MiB"));
	CHECK_THAT(dev.out, ContainsSubstring("0x130000000"));

	auto vq = tool(s, {"vq", "show", "active"});
	CHECK(lines(vq.out) == 3);
}

TEST_CASE("vq attach sends the admin command", "[cli]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"vq", "attach", "1", "0", "2"});

	CHECK(r.status == 0);
	CHECK(r.out.empty());
	REQUIRE(s.attached.size() == 1);
	CHECK(s.attached[0] == std::make_tuple(1u, 0u, 2u));

	s.attachErrno = EPERM;
	checkFailure(tool(s, {"vq", "attach", "1", "0", "2"}), 1, "Operation not permitted");
}

TEST_CASE("features decodes a mask or each device's acked features", "[cli]")
{
	FakeState s = FakeState::sample();
	auto mask = tool(s, {"features", "0x130000000"});

	CHECK(mask.status == 0);
	CHECK_THAT(mask.out, ContainsSubstring("EVENT_IDX VERSION_1"));
	CHECK(tool(s, {"features", "show", "0x130000000"}).out == mask.out);

	auto j = nlohmann::json::parse(tool(s, {"-j", "features", "dev", "1"}).out);
	REQUIRE(j.size() == 1);
	CHECK(j[0]["dev_id"] == 1);
	CHECK(j[0]["names"] == nlohmann::json::array({"INDIRECT_DESC", "EVENT_IDX", "VERSION_1"}));

	auto all = nlohmann::json::parse(tool(s, {"-j", "features"}).out);
	CHECK(all.size() == 2);
}

TEST_CASE("top prints frames of rates and exits after --iterations", "[cli][top]")
{
	FakeState s = FakeState::sample();
	auto r = tool(s, {"-j", "top", "--interval", "0.01", "--iterations", "2"});

	REQUIRE(r.status == 0);
	std::istringstream in(r.out);
	std::string line;
	int frames = 0;
	while (std::getline(in, line)) {
		auto f = nlohmann::json::parse(line);
		CHECK(f["workers"].size() == 4);
		CHECK(f["vqs"].size() == 2); /* the active ones */
		CHECK(keys(f["workers"][0]) == sorted({"dev_id", "id", "tid", "vqs", "works_per_s",
						       "busy_pct", "wakeups_per_s"}));
		CHECK(keys(f["vqs"][0]) == sorted({"dev_id", "index", "worker_id", "requests_per_s",
						   "mb_per_s", "kicks_per_s", "in_flight"}));
		frames++;
	}
	CHECK(frames == 2);

	auto text = tool(s, {"top", "-d", "0.01", "-n", "1", "dev", "1"});
	CHECK(text.status == 0);
	CHECK_THAT(text.out, ContainsSubstring("works_per_s"));
	CHECK_THAT(text.out, ContainsSubstring("requests_per_s"));
}

TEST_CASE("top computes rates between two samples", "[top]")
{
	using namespace vhostctl::top;
	Sample a, b;
	a.workers = {{1, 1, 10, {0}, 100, 1000000000, 10}};
	b.workers = {{1, 1, 10, {0}, 300, 1500000000, 30}, {1, 2, 11, {1}, 50, 0, 5}};
	a.vqs = {{1, 0, 1u, 128, true, 0, 1000, 4000000, 1, 0}};
	b.vqs = {{1, 0, 1u, 128, true, 0, 3000, 12000000, 1, 0},
		 {1, 1, 2u, 128, false, 0, 0, 0, 0, 0}};

	auto w = workerRates(a, b, 2.0);
	REQUIRE(w.size() == 2);
	CHECK(w[0].worksPerS == 100.0);
	CHECK(w[0].busyPct == 25.0);
	CHECK(w[0].wakeupsPerS == 10.0);
	CHECK(w[1].worksPerS == 25.0); /* new: from zero */

	auto v = vqRates(a, b, 2.0);
	REQUIRE(v.size() == 1); /* the inactive, idle vq is left out */
	CHECK(v[0].requestsPerS == 1000.0);
	CHECK(v[0].bytesPerS == 4000000.0);

	/* A counter that went back (a new device with the same id) restarts. */
	auto reset = workerRates(b, a, 1.0);
	CHECK(reset[0].worksPerS == 100.0);
	CHECK(workerRates(a, b, 0)[0].worksPerS == 0);
}

TEST_CASE("run options: defaults and parsing", "[cli][run]")
{
	using namespace vhostctl::run;
	RunOptions o = parseOptions({"--backend", "/dev/nullb0"});

	CHECK(o.backend == "/dev/nullb0");
	CHECK(o.device == "/dev/vhost-blk");
	CHECK(o.queues == 1);
	CHECK(o.workers.kind == WorkerLayout::Single);
	CHECK(o.duration == 10.0);
	CHECK(o.rw == Rw::RandRead);
	CHECK(o.bs == 4096);
	CHECK(o.iodepth == 32);
	CHECK_FALSE(o.workerMode);

	o = parseOptions({"--backend", "/f", "--queues", "4", "--workers", "per-vq", "--duration",
			  "2.5", "--rw", "rw", "--bs", "64k", "--iodepth", "8", "--worker-mode",
			  "kthread"});
	CHECK(o.queues == 4);
	CHECK(o.workers.kind == WorkerLayout::PerVq);
	CHECK(o.duration == 2.5);
	CHECK(o.rw == Rw::Mixed);
	CHECK(o.bs == 65536);
	CHECK(o.iodepth == 8);
	CHECK(o.workerMode == vhost::WorkerMode::Kthread);

	CHECK(parseLayout("3").kind == WorkerLayout::Count);
	CHECK(parseLayout("3").count == 3);
	CHECK(parseLayout("3").text() == "3");
	CHECK_THROWS_AS(parseLayout("0"), vhostctl::UsageError);
	CHECK(parseBlockSize("512") == 512);
	CHECK(parseBlockSize("4K") == 4096);
	CHECK(parseBlockSize("1m") == 1 << 20);
	CHECK_THROWS_AS(parseBlockSize("1000"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseBlockSize("8M"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseBlockSize("k"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--rw", "read"}), vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--iodepth", "0"}), vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "extra"}), vhostctl::UsageError);

	CHECK(queueSizeFor(1) == 8);
	CHECK(queueSizeFor(32) == 128);
	CHECK(queueSizeFor(1024) == 4096);
}

TEST_CASE("run without /dev/vhost-blk fails in one line", "[cli][run]")
{
	FakeState s;
	auto r = tool(s, {"run", "--backend", "/dev/null", "--device", "/nonexistent/vhost-blk",
			  "--duration", "0.1"});

	/* /dev/null is a character device: refused before the device is opened. */
	checkFailure(r, 1, "not a block device or regular file");
	r = tool(s, {"run", "--backend", "/nonexistent/disk"});
	checkFailure(r, 1, "open backend /nonexistent/disk: No such file or directory");
}

TEST_CASE("bench needs exactly one target and fails in one line", "[cli][bench]")
{
	FakeState s;

	checkFailure(tool(s, {"bench"}), 2, "a target is needed");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--vhost-user", "/s"}), 2, "excludes");
	checkFailure(tool(s, {"bench", "--vhost-user", "/s", "--workers", "per-vq"}), 2,
		     "excludes");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--rw", "seqread"}), 2, "bench:");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--bs", "100"}), 2,
		     "bench: block size 100 is not a multiple of 512");
	checkFailure(tool(s, {"bench", "--vhost-user", "/nonexistent/sock", "--duration", "0.1"}),
		     1, "/nonexistent/sock");
	checkFailure(tool(s, {"bench", "--backend", "/nonexistent/disk"}), 1,
		     "open backend /nonexistent/disk: No such file or directory");
	/* Busy-polling is the kernel's; the vhost-user protocol has no such message. */
	checkFailure(tool(s, {"bench", "--vhost-user", "/s", "--busy-poll", "50"}), 2, "excludes");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--busy-poll", "-1"}), 2, "bench:");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--poll", "2000000"}), 2, "bench:");
	checkFailure(tool(s, {"serve", "--socket", "/s", "--backend", "/f", "--busy-poll", "x"}), 2,
		     "serve:");
}

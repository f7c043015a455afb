// SPDX-License-Identifier: GPL-2.0
/*
 * The vhostctl grammar, help, completion, errors and exit statuses, and its
 * output in text and JSON, against canned netlink state.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fake_state.hpp"
#include "run.hpp"
#include "serve.hpp"
#include "test_util.hpp"
#include "top.hpp"
#include "vhostctl/nl_client.hpp"
#include "vhostctl/signal_fd.hpp"

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

std::vector<std::string> words(const std::string &out)
{
	return textLines(out);
}

bool has(const std::vector<std::string> &v, const std::string &s)
{
	return std::find(v.begin(), v.end(), s) != v.end();
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

TEST_CASE("help: every object, then each command's keywords or options", "[cli][help]")
{
	FakeState s;

	/* Everything: every object's commands, with their synopsis. */
	for (auto args : std::vector<std::vector<std::string>>{{"help"}, {"-h"}, {"--help"}}) {
		auto all = tool(s, args);
		INFO(args.front());
		CHECK(all.status == 0);
		CHECK(all.err.empty());
		CHECK_THAT(all.out, StartsWith("Usage: vhostctl [ OPTIONS ] OBJECT"));
		for (auto line :
		     {"vhostctl dev show [ [ dev ] ID ]",
		      "vhostctl dev resize [ dev ] ID [ size SIZE ]",
		      "vhostctl worker show [ dev ID ]", "vhostctl vq show [ dev ID ] [ active ]",
		      "vhostctl vq attach [ dev ] ID [ vq ] INDEX [ worker ] ID",
		      "vhostctl features show [ [ mask ] MASK ] [ dev ID ]",
		      "vhostctl top [ OPTIONS ]", "vhostctl run --backend PATH [ OPTIONS ]",
		      "vhostctl bench [ OPTIONS ]", "vhostctl serve --backend PATH [ OPTIONS ]"})
			CHECK_THAT(all.out, ContainsSubstring(line));
	}

	/* An object: its commands, and each keyword with its help. */
	auto vq = tool(s, {"vq", "help"});
	CHECK(vq.status == 0);
	CHECK_THAT(vq.out, StartsWith("vhostctl vq: virtqueues of each device"));
	CHECK_THAT(vq.out, ContainsSubstring("active"));
	CHECK_THAT(vq.out, ContainsSubstring("only those that serve requests"));
	CHECK_THAT(vq.out, ContainsSubstring("the worker of that device to serve it"));
	CHECK_THAT(vq.out, !ContainsSubstring("worker show"));

	/* A keyword command: -h or --help. */
	auto attach = tool(s, {"vq", "attach", "-h"});
	CHECK(attach.status == 0);
	CHECK_THAT(attach.out, ContainsSubstring("its virtqueue"));
	CHECK_THAT(attach.out, !ContainsSubstring("only those that serve requests"));

	/* A command with options: CLI11's help, every option with its text. */
	auto run = tool(s, {"run", "--help"});
	CHECK(run.status == 0);
	CHECK(run.err.empty());
	for (auto text : {"--backend", "block device or file to serve", "--iodepth",
			  "requests in flight per queue", "--worker-mode", "task or kthread",
			  "--ring", "split (default) or packed"})
		CHECK_THAT(run.out, ContainsSubstring(text));
	auto runHelp = tool(s, {"run", "help"});
	CHECK_THAT(runHelp.out, ContainsSubstring("requests in flight per queue"));
	auto serve = tool(s, {"serve", "-h"});
	for (auto text : {"--socket-mode", "--allow-group", "--config", "--fd", "--size-check",
			  "--packed", "offer packed virtqueues"})
		CHECK_THAT(serve.out, ContainsSubstring(text));
	auto top = tool(s, {"top", "help"});
	CHECK_THAT(top.out, ContainsSubstring("seconds between frames"));
}

TEST_CASE("help is a word only where a command is expected", "[cli][help]")
{
	FakeState s = FakeState::sample();

	/* Where a value or a keyword goes, "help" is just a word. */
	checkFailure(tool(s, {"dev", "show", "help"}), 2, "not a valid device id");
	checkFailure(tool(s, {"worker", "show", "help"}), 2, "unexpected argument 'help'");
	checkFailure(tool(s, {"vq", "attach", "1", "help", "2"}), 2, "virtqueue index");
	TempDir dir;
	auto r = tool(s, {"run", "--backend", "help", "--device", "/nonexistent/vhost-blk"});
	checkFailure(r, 3, "open backend help");
	CHECK(s.attached.empty());
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
	checkFailure(tool(s, {"worker", "show", "dev"}), 2, "'dev' needs its ID");
	checkFailure(tool(s, {"worker", "show", "dev", "x1"}), 2, "'x1' is not a valid device id");
	checkFailure(tool(s, {"worker", "show", "dev", "-1"}), 2, "not a valid device id");
	checkFailure(tool(s, {"worker", "show", "dev", "4294967296"}), 2, "not a valid");
	checkFailure(tool(s, {"worker", "show", "extra"}), 2, "unexpected argument 'extra'");
	checkFailure(tool(s, {"worker", "show", "-j"}), 2, "options go before the object");
	checkFailure(tool(s, {"worker", "show", "dev", "1", "dev", "2"}), 2, "'dev' given twice");
	checkFailure(tool(s, {"vq", "attach", "1", "2"}), 2, "'worker ID' is missing");
	checkFailure(tool(s, {"vq", "attach", "dev", "1", "vq", "2"}), 2, "'worker ID' is missing");
	checkFailure(tool(s, {"vq", "attach", "1", "x", "2"}), 2, "virtqueue index");
	checkFailure(tool(s, {"features", "0xzz"}), 2, "feature mask");
	checkFailure(tool(s, {"features", "0x1", "dev", "1"}), 2, "not both");
	checkFailure(tool(s, {"run"}), 2, "--backend is required");
	checkFailure(tool(s, {"run", "--backend", "/x", "--workers", "many"}), 2,
		     "--workers takes single, per-vq, auto or a number");
	checkFailure(tool(s, {"run", "--backend", "/x", "--rw", "read"}), 2,
		     "--rw takes randread, randwrite or randrw");
	checkFailure(tool(s, {"run", "--backend", "/x", "--ring", "ring"}), 2,
		     "run: --ring takes split or packed, not 'ring'");
	checkFailure(tool(s, {"bench", "--vhost-user", "/x", "--ring", "Packed"}), 2,
		     "bench: --ring takes split or packed, not 'Packed'");
	checkFailure(tool(s, {"top", "--interval", "-1"}), 2, "top:");
	checkFailure(tool(s, {"top", "--bogus"}), 2, "top:");
	checkFailure(tool(s, {"dev", "resize"}), 2, "'dev ID' is missing");
	checkFailure(tool(s, {"dev", "resize", "1", "size", "lots"}), 2, "not a valid size");
	CHECK(s.attached.empty());
}

TEST_CASE("vq attach: the keyword form and its positional alias", "[cli]")
{
	FakeState s = FakeState::sample();

	CHECK(tool(s, {"vq", "attach", "dev", "1", "vq", "0", "worker", "2"}).status == 0);
	CHECK(tool(s, {"vq", "attach", "worker", "2", "dev", "1", "vq", "1"}).status == 0);
	CHECK(tool(s, {"vq", "attach", "1", "0", "1"}).status == 0);
	CHECK(tool(s, {"vq", "attach", "1", "vq", "1", "worker", "1"}).status == 0);
	REQUIRE(s.attached.size() == 4);
	CHECK(s.attached[0] == std::make_tuple(1u, 0u, 2u));
	CHECK(s.attached[1] == std::make_tuple(1u, 1u, 2u));
	CHECK(s.attached[2] == std::make_tuple(1u, 0u, 1u));
	CHECK(s.attached[3] == std::make_tuple(1u, 1u, 1u));
}

TEST_CASE("Exit statuses say what failed", "[cli]")
{
	FakeState s = FakeState::sample();

	/* No such device: 3. */
	checkFailure(tool(s, {"worker", "show", "dev", "9"}), 3, "device 9");
	checkFailure(tool(s, {"vq", "show", "dev", "9"}), 3, "device 9");
	checkFailure(tool(s, {"dev", "show", "9"}), 3, "device 9");
	checkFailure(tool(s, {"features", "dev", "9"}), 3, "device 9");
	checkFailure(tool(s, {"top", "-n", "1", "dev", "9"}), 3, "device 9");
	checkFailure(tool(s, {"dev", "resize", "9"}), 3, "device 9");
	/* Permission: 5. */
	s.attachErrno = EPERM;
	checkFailure(tool(s, {"vq", "attach", "1", "0", "2"}), 5, "Operation not permitted");
	s.attachErrno = EACCES;
	checkFailure(tool(s, {"vq", "attach", "1", "0", "2"}), 5, "Permission denied");
	/* Anything else: 1. */
	s.attachErrno = EINVAL;
	checkFailure(tool(s, {"vq", "attach", "1", "0", "2"}), 1, "Invalid argument");
	/* A device that vhostctl serve does not own cannot be resized by it. */
	checkFailure(tool(s, {"dev", "resize", "2"}), 1, "is not vhostctl serve");

	CHECK(vhostctl::exitStatus(ENOENT) == vhostctl::exitNotFound);
	CHECK(vhostctl::exitStatus(EIO) == vhostctl::exitIo);
	CHECK(vhostctl::exitStatus(ETIMEDOUT) == vhostctl::exitIo);
	CHECK(vhostctl::exitStatus(EPERM) == vhostctl::exitPermission);
	CHECK(vhostctl::exitStatus(EBUSY) == vhostctl::exitFailure);
}

TEST_CASE("Without the module every netlink command fails in one line, status 3", "[cli]")
{
	try {
		nl::Client probe;
		SKIP("the vhost_blk netlink family is registered here");
	} catch (const vhost::Error &) {
		/* As on the host that builds the project: no module. */
	}
	for (auto args : std::vector<std::vector<std::string>>{{"dev"},
							       {"worker", "show"},
							       {"vq", "attach", "1", "0", "1"},
							       {"top", "-n", "1"}}) {
		std::ostringstream out, err;
		vhostctl::Context ctx(out, err, vhostctl::connectNetlink);
		int status = vhostctl::main(ctx, args);
		/* The library's own words, through the tool's one line. */
		checkFailure({status, out.str(), err.str()}, 3, "is the vhost_blk module loaded?");
	}
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
	CHECK(workers[1]["vqs"] == nlohmann::json::array({0}));
	CHECK(workers[0]["vqs"] == nlohmann::json::array());
	CHECK(workers[2]["busy_ns"] == 4000000);

	auto vqs = nlohmann::json::parse(tool(s, {"-j", "vq"}).out);
	REQUIRE(vqs.size() == 3);
	CHECK(vqs[0]["worker_id"] == 1);
	CHECK(vqs[0]["in_flight"] == 2);
	CHECK(vqs[2]["worker_id"].is_null());
	/* Booleans are JSON booleans. */
	CHECK(vqs[0]["active"] == true);
	CHECK(vqs[2]["active"] == false);
}

TEST_CASE("dev show ID: one device in detail, workers and vqs nested", "[cli][json]")
{
	TempDir dir;
	test::RuntimeDir runtime(dir.path);
	FakeState s = FakeState::sample();
	/* Device 1's owner is this process, as if it were vhostctl serve. */
	s.devs[0].ownerPid = static_cast<uint32_t>(::getpid());
	std::ofstream(dir.path / fmt::format("serve.{}.json", ::getpid()))
		<< nlohmann::json{{"pid", ::getpid()},
				  {"socket", "/run/vhostctl/vm1.sock"},
				  {"serial", "serve-said"},
				  {"read_only", true},
				  {"backend", "/tmp/disk.img"},
				  {"limits", {{"capacity", 65536}, {"seg_max", 64}}}}
			   .dump();

	auto r = tool(s, {"-j", "dev", "show", "1"});
	REQUIRE(r.status == 0);
	auto d = nlohmann::json::parse(r.out);
	REQUIRE(d.is_object());
	CHECK(d["id"] == 1);
	CHECK(d["owner_comm"] == test::processName());
	/* What the module reports wins; the socket is serve's alone to know. */
	CHECK(d["serial"] == "disk-1");
	CHECK(d["read_only"] == false);
	CHECK(d["socket"] == "/run/vhostctl/vm1.sock");
	CHECK(d["limits"]["capacity"] == 131072);
	CHECK(d["limits"]["seg_max"] == 126);
	CHECK(d["limits"]["max_write_zeroes_seg"] == 1);
	REQUIRE(d["workers"].size() == 3);
	CHECK(d["workers"][1]["vqs"] == nlohmann::json::array({0}));
	REQUIRE(d["vqs"].size() == 2);
	CHECK(d["vqs"][1]["worker_id"] == 2);
	/* The same with the keyword. */
	CHECK(tool(s, {"-j", "dev", "show", "dev", "1"}).out == r.out);

	/* A module before the limits: serve's record says them. */
	FakeState old = s;
	old.devs[0].capacity.reset();
	old.devs[0].readOnly.reset();
	old.devs[0].serial.reset();
	auto o = nlohmann::json::parse(tool(old, {"-j", "dev", "show", "1"}).out);
	CHECK(o["serial"] == "serve-said");
	CHECK(o["read_only"] == true);
	CHECK(o["limits"]["capacity"] == 65536);

	/* Not served by vhostctl serve, nor reported by the module: null. */
	auto other = nlohmann::json::parse(tool(s, {"-j", "dev", "show", "2"}).out);
	CHECK(other["socket"].is_null());
	CHECK(other["serial"].is_null());
	CHECK(other["owner_comm"].is_null());
	CHECK(other["workers"].size() == 1);

	/* For people: a field a line, then the two tables. */
	auto text = tool(s, {"dev", "show", "1"});
	CHECK_THAT(text.out, StartsWith("id "));
	CHECK_THAT(text.out, ContainsSubstring("\nsocket        /run/vhostctl/vm1.sock\n"));
	CHECK_THAT(text.out, ContainsSubstring("\nworkers:\ndev_id  id  tid"));
	CHECK_THAT(text.out, ContainsSubstring("\nvqs:\ndev_id  index"));
}

TEST_CASE("dev resize waits for the capacity the module serves", "[cli][resize]")
{
	TempDir dir;
	test::RuntimeDir runtime(dir.path);
	FakeState s = FakeState::sample();
	std::string img = (dir.path / "disk.img").string();
	std::ofstream(img).put('\0');
	std::filesystem::resize_file(img, 64 << 20);
	/*
	 * Device 1's owner is this process, as if it were vhostctl serve; its
	 * record still says the old size, the module already serves the new.
	 */
	s.devs[0].ownerPid = static_cast<uint32_t>(::getpid());
	s.devs[0].capacity = (64 << 20) / 512;
	std::ofstream(dir.path / fmt::format("serve.{}.json", ::getpid())) << nlohmann::json{
		{"pid", ::getpid()},
		{"backend", img},
		{"limits", {{"capacity", (32 << 20) / 512}}}}.dump();

	/* dev resize signals the owner: this process, which takes the signal. */
	vhost::SignalFd hup({SIGHUP});
	auto r = tool(s, {"-j", "dev", "resize", "1"});
	REQUIRE(r.status == 0);
	CHECK(nlohmann::json::parse(r.out)["capacity"] == (64 << 20) / 512);
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
	CHECK_THAT(vq.out, ContainsSubstring(" yes "));
}

TEST_CASE("features decodes a mask or each device's acked features", "[cli]")
{
	FakeState s = FakeState::sample();
	auto mask = tool(s, {"features", "0x130000000"});

	CHECK(mask.status == 0);
	CHECK_THAT(mask.out, ContainsSubstring("EVENT_IDX VERSION_1"));
	CHECK(tool(s, {"features", "show", "0x130000000"}).out == mask.out);
	CHECK(tool(s, {"features", "mask", "0x130000000"}).out == mask.out);

	auto j = nlohmann::json::parse(tool(s, {"-j", "features", "dev", "1"}).out);
	REQUIRE(j.size() == 1);
	CHECK(j[0]["dev_id"] == 1);
	CHECK(j[0]["names"] == nlohmann::json::array({"INDIRECT_DESC", "EVENT_IDX", "VERSION_1"}));

	auto all = nlohmann::json::parse(tool(s, {"-j", "features"}).out);
	CHECK(all.size() == 2);
}

TEST_CASE("completion offers the words that may come next", "[cli][complete]")
{
	FakeState s = FakeState::sample();
	auto complete = [&](std::vector<std::string> args) {
		args.insert(args.begin(), "__complete");
		auto r = tool(s, args);
		REQUIRE(r.status == 0);
		return words(r.out);
	};

	auto objects = complete({});
	for (auto o : {"dev", "worker", "vq", "features", "top", "run", "bench", "serve", "help"})
		CHECK(has(objects, o));
	CHECK(has(complete({"-j"}), "vq"));
	auto vq = complete({"vq"});
	CHECK(has(vq, "show"));
	CHECK(has(vq, "attach"));
	CHECK(has(vq, "help"));
	CHECK(complete({"vq", "attach"}) == std::vector<std::string>{"dev", "vq", "worker"});
	CHECK(complete({"vq", "attach", "dev", "1"}) == std::vector<std::string>{"vq", "worker"});
	/* A device id: those the caller may see. */
	CHECK(complete({"vq", "attach", "dev"}) == std::vector<std::string>{"1", "2"});
	CHECK(complete({"vq", "show", "active"}) == std::vector<std::string>{"dev"});
	auto run = complete({"run"});
	CHECK(has(run, "--backend"));
	CHECK(has(run, "--iodepth"));
	CHECK_FALSE(has(complete({"run", "--backend", "/f"}), "--backend"));
	/* After an option that takes a value, the shell completes files. */
	CHECK(complete({"serve", "--backend"}).empty());
	CHECK(complete({"bogus"}).empty());
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
	const WorkloadArgs &a = o.work;

	CHECK(o.backend == "/dev/nullb0");
	CHECK(a.device == "/dev/vhost-blk");
	CHECK(a.queues == 1);
	CHECK(a.workers.kind == vhost::WorkerLayout::Single);
	CHECK(a.w.duration == 10.0);
	CHECK(a.w.warmup == 0);
	CHECK(a.w.rw == Rw::RandRead);
	CHECK(a.w.bs == 4096);
	CHECK(a.w.iodepth == 32);
	CHECK(a.w.rateIops == 0);
	CHECK(a.w.ring == virtio::RingType::Split);
	CHECK(driverConfig(a.w, 1).ring == virtio::RingType::Split);
	CHECK_FALSE(a.workerMode);

	o = parseOptions({"--backend", "/f", "--queues", "4", "--workers", "per-vq", "--duration",
			  "2.5", "--rw", "randrw", "--bs", "64k", "--iodepth", "8", "--worker-mode",
			  "kthread", "--rate", "2000"});
	CHECK(o.work.queues == 4);
	CHECK(o.work.workers.kind == vhost::WorkerLayout::PerVq);
	CHECK(o.work.w.duration == 2.5);
	CHECK(o.work.w.rw == Rw::Mixed);
	CHECK(o.work.w.bs == 65536);
	CHECK(o.work.w.iodepth == 8);
	CHECK(o.work.w.rateIops == 2000);
	CHECK(o.work.workerMode == vhost::WorkerMode::Kthread);
	o = parseOptions({"--backend", "/f", "--ring", "packed", "--iodepth", "8"});
	CHECK(o.work.w.ring == virtio::RingType::Packed);
	/* The same ring size as split, so that the two compare. */
	auto cfg = driverConfig(o.work.w, 1);
	CHECK(cfg.ring == virtio::RingType::Packed);
	CHECK(cfg.queueSize == 32);
	/* fio's names, and "rw" as an alias of randrw. */
	CHECK(parseOptions({"--backend", "/f", "--rw", "rw"}).work.w.rw == Rw::Mixed);
	CHECK(rwName(Rw::Mixed) == "randrw");

	CHECK(parseLayout("3", "run").kind == vhost::WorkerLayout::Count);
	CHECK(parseLayout("auto", "run").kind == vhost::WorkerLayout::Auto);
	CHECK_THROWS_AS(parseLayout("0", "run"), vhostctl::UsageError);
	CHECK(parseBlockSize("512", "run") == 512);
	CHECK(parseBlockSize("4K", "run") == 4096);
	CHECK(parseBlockSize("1m", "run") == 1 << 20);
	CHECK_THROWS_AS(parseBlockSize("1000", "run"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseBlockSize("8M", "run"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseBlockSize("k", "run"), vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--iodepth", "0"}), vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "extra"}), vhostctl::UsageError);
	CHECK(vhostctl::parseSize("96M", "size") == 96ULL << 20);
	CHECK(vhostctl::parseSize("2G", "size") == 2ULL << 30);
	CHECK_THROWS_AS(vhostctl::parseSize("2X", "size"), vhostctl::UsageError);

	CHECK(queueSizeFor(1) == 8);
	CHECK(queueSizeFor(32) == 128);
	CHECK(queueSizeFor(1024) == 4096);
}

TEST_CASE("run refuses a workload whose guest memory would not fit", "[cli][run]")
{
	FakeState s;
	TempDir dir;
	std::string img = (dir.path / "disk.img").string();
	std::ofstream(img).put('\0');
	std::filesystem::resize_file(img, 1 << 20);

	/* 1024 queues x 1024 requests x 4 MiB: 4 TiB. */
	auto r = tool(s, {"run", "--backend", img, "--queues", "1024", "--iodepth", "1024", "--bs",
			  "4M", "--device", "/nonexistent/vhost-blk"});
	checkFailure(r, 2, "run: 1024 queues x 1024 requests x 4194304 bytes need 4.0TiB");
	checkFailure(tool(s, {"bench", "--vhost-user", "/nonexistent/sock", "--queues", "1024",
			      "--iodepth", "1024", "--bs", "4M"}),
		     2, "bench: 1024 queues x 1024 requests");
}

TEST_CASE("run fails in one line, naming what is missing", "[cli][run]")
{
	FakeState s;
	TempDir dir;
	std::string img = (dir.path / "disk.img").string();
	std::ofstream(img).put('\0');
	std::filesystem::resize_file(img, 1 << 20);

	/* A real backend: the device node is what is missing, and the message says so. */
	auto r = tool(s, {"run", "--backend", img, "--device", "/nonexistent/vhost-blk",
			  "--duration", "0.1"});
	checkFailure(r, 3, "open /nonexistent/vhost-blk: No such file or directory");
	/* A character device is not a backend, and is refused before the device is opened. */
	r = tool(s, {"run", "--backend", "/dev/null", "--device", "/nonexistent/vhost-blk"});
	checkFailure(r, 1, "not a block device or regular file");
	r = tool(s, {"run", "--backend", "/nonexistent/disk"});
	checkFailure(r, 3, "open backend /nonexistent/disk: No such file or directory");
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
		     3, "/nonexistent/sock");
	checkFailure(tool(s, {"bench", "--backend", "/nonexistent/disk"}), 3,
		     "open backend /nonexistent/disk: No such file or directory");
	/* Busy-polling is the kernel's; the vhost-user protocol has no such message. */
	checkFailure(tool(s, {"bench", "--vhost-user", "/s", "--busy-poll", "50"}), 2, "excludes");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--busy-poll", "-1"}), 2, "bench:");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--poll", "2000000"}), 2, "bench:");
	checkFailure(tool(s, {"bench", "--backend", "/f", "--rate", "0"}), 2, "bench:");
	checkFailure(tool(s, {"bench", "--vhost-user", "/s", "--rate", "fast"}), 2, "bench:");
}

TEST_CASE("serve options: on the command line and from a config file", "[cli][serve]")
{
	using namespace vhostctl::serve;
	TempDir dir;

	ServeOptions o = parseOptions({"--socket", "/run/x.sock", "--backend", "/f"});
	CHECK(o.socket == "/run/x.sock");
	CHECK(o.queues == 1);
	CHECK(o.permissions.mode == 0600);
	CHECK_FALSE(o.permissions.group);
	CHECK_FALSE(o.permissionsGiven);
	CHECK(o.access.users.front() == 0);
	CHECK(o.sizeCheck == 1);
	/* Packed rings only when asked for: a reconnect cannot recover them. */
	CHECK_FALSE(o.packed);
	CHECK(parseOptions({"--socket", "/s", "--backend", "/f", "--packed"}).packed);

	auto conf = dir.path / "vm1.conf";
	std::ofstream(conf) << "# vhostctl serve of vm1\n"
			       "backend = /srv/vm1.img\n"
			       "queues = 4\n"
			       "workers = per-vq\n"
			       "busy-poll = 20\n"
			       "serial = \"vm1-disk\"\n"
			       "socket-mode = 0660\n"
			       "socket-group = 0\n"
			       "allow-user = [\"0\", \"4242\"]\n"
			       "read-only = true\n"
			       "packed = true\n";
	CHECK(parseOptions({"--socket", "/s", "--backend", "/f", "--workers", "auto"})
		      .workers.kind == vhost::WorkerLayout::Auto);
	o = parseOptions({"--config", conf.string()});
	CHECK(o.backend == "/srv/vm1.img");
	CHECK(o.queues == 4);
	CHECK(o.workers.kind == vhost::WorkerLayout::PerVq);
	CHECK(o.busyPoll == 20);
	CHECK(o.serial == "vm1-disk");
	CHECK(o.permissions.mode == 0660);
	CHECK(o.permissions.group == 0u);
	CHECK(o.permissionsGiven);
	CHECK(std::count(o.access.users.begin(), o.access.users.end(), 4242u) == 1);
	CHECK(std::count(o.access.groups.begin(), o.access.groups.end(), 0u) == 1);
	CHECK(o.readOnly);
	CHECK(o.packed);
	/* The command line wins over the file. */
	CHECK(parseOptions({"--config", conf.string(), "--queues", "2"}).queues == 2);

	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--socket-mode", "0999"}),
			vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--socket-group", "no-such-group-xyz"}),
			vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--backend", "/f", "--serial", std::string(21, 's')}),
			vhostctl::UsageError);
	CHECK_THROWS_AS(parseOptions({"--config", (dir.path / "none.conf").string()}),
			vhostctl::UsageError);
	FakeState s;
	checkFailure(tool(s, {"serve", "--socket", "/s", "--backend", "/f", "--busy-poll", "x"}), 2,
		     "serve:");
	checkFailure(tool(s, {"serve", "--backend", "/f"}), 2, "a socket is needed");
}

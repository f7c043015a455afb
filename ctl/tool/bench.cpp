// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl bench: one measurement of one target with the library's
 * userspace virtio-blk driver.  The target is /dev/vhost-blk with a worker
 * layout, or any vhost-user-blk backend (qemu-storage-daemon, say) by its
 * socket: only the control plane differs, the driver and the workload are
 * the same.  Prints IOPS, MB/s, latency percentiles and, for vhost-blk,
 * how busy its workers were.
 */
#include <array>
#include <chrono>
#include <cstring>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "output.hpp"
#include "run.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/blk_driver.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/vhost_user.hpp"
#include "workload.hpp"

namespace vhostctl::bench {

namespace {

using run::Rw;

struct BenchOptions {
	/* /dev/vhost-blk: the backend and the layout; or a vhost-user socket. */
	std::string backend;
	std::string device = vhost::BlkDevice::defaultPath;
	run::WorkerLayout workers;
	std::optional<vhost::WorkerMode> workerMode;
	std::string vhostUser;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every vq, if set. */
	std::optional<unsigned int> busyPoll;
	unsigned int queues = 1;
	run::Workload workload;
	bool progress = false;
};

BenchOptions parseOptions(const Args &args)
{
	BenchOptions o;
	std::string workers = "single", rw = "randread", bs = "4k", mode;
	CLI::App app("vhostctl bench");

	o.workload.duration = 10;
	o.workload.warmup = 2;
	app.set_help_flag();
	auto *backend =
		app.add_option("--backend", o.backend, "block device or file for /dev/vhost-blk");
	auto *user = app.add_option("--vhost-user", o.vhostUser, "a vhost-user-blk socket");
	backend->excludes(user);
	auto *layout = app.add_option("--workers", workers, "single, per-vq or a number");
	auto *wmode = app.add_option("--worker-mode", mode, "task or kthread")
			      ->check(CLI::IsMember({"task", "kthread"}));
	auto *dev = app.add_option("--device", o.device, "the vhost-blk device node");
	auto *poll = app.add_option("--busy-poll", o.busyPoll,
				    "microseconds a worker polls an empty ring (default 0)")
			     ->check(CLI::Range(0u, 1000000u));
	for (auto *opt : {layout, wmode, dev, poll})
		opt->excludes(user);
	app.add_option("--queues", o.queues, "virtqueues, one submitting thread each")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--rw", rw, "randread, randwrite or randrw")
		->check(CLI::IsMember({"randread", "randwrite", "randrw", "rw"}));
	app.add_option("--bs", bs, "bytes per request (4k, 64k, 1M)");
	app.add_option("--iodepth", o.workload.iodepth, "requests in flight per queue")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--duration", o.workload.duration, "seconds measured")
		->check(CLI::Range(0.001, 1e6));
	app.add_option("--warmup", o.workload.warmup, "seconds of I/O before measuring")
		->check(CLI::Range(0.0, 3600.0));
	app.add_option("--poll", o.workload.pollUs,
		       "microseconds a queue thread polls for completions before sleeping")
		->check(CLI::Range(0u, 1000000u));
	app.add_flag("--progress", o.progress, "a progress line on stderr (default: if a tty)");

	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::ParseError &e) {
		throw UsageError(fmt::format("bench: {}", e.what()));
	}
	if (o.backend.empty() == o.vhostUser.empty())
		throw UsageError(
			"bench: a target is needed: --backend PATH or --vhost-user SOCKET");
	o.workers = run::parseLayout(workers, "bench");
	o.workload.bs = run::parseBlockSize(bs, "bench");
	o.workload.rw = rw == "randread"    ? Rw::RandRead
			: rw == "randwrite" ? Rw::RandWrite
					    : Rw::Mixed;
	if (mode == "task")
		o.workerMode = vhost::WorkerMode::Task;
	else if (mode == "kthread")
		o.workerMode = vhost::WorkerMode::Kthread;
	o.progress = o.progress || ::isatty(STDERR_FILENO);
	return o;
}

/* The capacity in bytes from a vhost-user-blk backend's config space. */
uint64_t userCapacity(vhost::user::Frontend &fe)
{
	return virtio::blk::decodeConfig(fe.getConfig(sizeof(uint64_t))).capacity *
	       virtio::blk::sectorSize;
}

/* Busy time of the workers of the device this process owns, from netlink. */
std::optional<uint64_t> workersBusyNs(Context &ctx)
{
	try {
		auto self = static_cast<uint32_t>(::getpid());

		for (const auto &d : ctx.state().devices()) {
			if (d.ownerPid != self)
				continue;
			uint64_t ns = 0;
			for (const auto &w : ctx.state().workers(d.id))
				ns += w.busyNs;
			return ns;
		}
	} catch (const std::exception &) {
		/* No netlink family (an older module, say): no worker figures. */
	}
	return std::nullopt;
}

void printResult(Context &ctx, const BenchOptions &o, const run::Stats &st,
		 std::optional<double> busyPct)
{
	auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
	const run::Workload &w = o.workload;
	bool kernel = o.vhostUser.empty();
	Record r;

	r.str("target", kernel ? "vhost-blk" : "vhost-user")
		.str("path", kernel ? o.backend : o.vhostUser)
		.str("layout", kernel ? o.workers.text() : "")
		.str("rw", w.rw == Rw::Mixed ? "randrw" : run::rwName(w.rw))
		.u64("bs", w.bs)
		.u64("iodepth", w.iodepth)
		.u64("queues", o.queues)
		.u64("poll_us", w.pollUs);
	if (kernel)
		r.u64("busy_poll_us", o.busyPoll.value_or(0));
	else
		r.field("busy_poll_us", nullptr, "-", true);
	r.real("duration_s", st.elapsed, 1)
		.u64("ios", st.ios)
		.real("iops", static_cast<double>(st.ios) / st.elapsed, 0)
		.real("mb_per_s", static_cast<double>(st.bytes) / st.elapsed / 1e6, 1)
		.real("p50_us", us(st.latency.percentile(50)), 1)
		.real("p99_us", us(st.latency.percentile(99)), 1)
		.real("p999_us", us(st.latency.percentile(99.9)), 1);
	if (busyPct)
		r.real("worker_busy_pct", *busyPct, 1);
	else
		r.field("worker_busy_pct", nullptr, "-", true);
	r.u64("errors", st.errors);
	printRecord(ctx.out, r, ctx.opts);
}

/* bench { --backend PATH [ --workers L ] | --vhost-user SOCKET } [ workload ] */
int benchCommand(Context &ctx, const Args &args)
{
	BenchOptions o = parseOptions(args);
	virtio::BlkDriverConfig cfg = run::driverConfig(o.workload, o.queues);
	std::unique_ptr<virtio::BlkDriver> drv;
	run::Backend backend;
	uint64_t size = 0;

	cfg.workerMode = o.workerMode;
	if (o.vhostUser.empty()) {
		backend = run::openBackend(o.backend, o.workload.rw);
		size = backend.size;
		drv = std::make_unique<virtio::BlkDriver>(vhost::BlkDevice::open(o.device), cfg);
		vhost::applyLayout(drv->kernel(), o.queues, o.workers);
		if (o.busyPoll)
			vhost::setBusyPoll(drv->kernel(), o.queues, *o.busyPoll);
		drv->attachBackend(backend.fd.get());
	} else {
		auto fe = vhost::user::Frontend::connect(o.vhostUser, o.queues);
		size = userCapacity(*fe);
		drv = std::make_unique<virtio::BlkDriver>(std::move(fe), cfg);
	}
	uint64_t blocks = size / o.workload.bs;
	if (!blocks)
		throw vhost::Error(EINVAL,
				   fmt::format("{}: {} bytes, less than one block of {}",
					       o.vhostUser.empty() ? o.backend : o.vhostUser, size,
					       o.workload.bs));

	run::Progress progress;
	if (o.progress) {
		progress = [&](double elapsed, uint64_t ios) {
			ctx.err << fmt::format("\r{:6.1f} s {:>12.0f} IOPS", elapsed,
					       static_cast<double>(ios) / elapsed)
				<< std::flush;
		};
	}
	auto busyBefore = o.vhostUser.empty() ? workersBusyNs(ctx) : std::nullopt;
	auto t0 = std::chrono::steady_clock::now();
	run::Stats st = run::runWorkload(*drv, o.workload, blocks, progress);
	double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	auto busyAfter = busyBefore ? workersBusyNs(ctx) : std::nullopt;
	if (o.progress)
		ctx.err << "\n";

	std::optional<double> busyPct;
	if (busyBefore && busyAfter)
		busyPct = static_cast<double>(*busyAfter - *busyBefore) / 1e9 / wall * 100;
	printResult(ctx, o, st, busyPct);
	run::requireNoErrors(st);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"", "", benchCommand,
	 "{ --backend PATH [ --workers single|per-vq|N ] [ --worker-mode M ] [ --busy-poll US ]\n"
	 "          | --vhost-user SOCKET } [ --queues N ] [ --rw randread|randwrite|randrw ]\n"
	 "          [ --bs SIZE ] [ --iodepth N ] [ --duration S ] [ --warmup S ] [ --poll US ]\n"
	 "          [ --progress ]",
	 "measure /dev/vhost-blk or a vhost-user-blk backend: IOPS, MB/s, latency"},
}};

} // namespace

} // namespace vhostctl::bench

namespace vhostctl {

constinit const Object benchObject = {
	"bench",
	bench::commands,
	"measure /dev/vhost-blk or a vhost-user-blk backend with the same driver and workload",
	true,
};

} // namespace vhostctl

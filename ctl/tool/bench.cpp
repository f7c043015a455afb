// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl bench: one measurement of one target with the library's
 * userspace virtio-blk driver.  The target is /dev/vhost-blk with a worker
 * layout, or any vhost-user-blk backend (qemu-storage-daemon, say) by its
 * socket: only the control plane differs, the driver and the workload are
 * the same, and so is the record printed, which run prints as well.
 */
#include <array>
#include <chrono>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/vhost_user.hpp"
#include "workload.hpp"

namespace vhostctl::bench {

namespace {

struct BenchOptions {
	/* /dev/vhost-blk: the backend; or a vhost-user socket. */
	std::string backend;
	std::string vhostUser;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every vq, if set. */
	std::optional<unsigned int> busyPoll;
	run::WorkloadArgs work;
	bool progress = false;
};

std::unique_ptr<CLI::App> makeApp(BenchOptions &o)
{
	auto app = std::make_unique<CLI::App>("vhostctl bench");

	o.work.w.warmup = 2;
	auto *backend =
		app->add_option("--backend", o.backend, "block device or file for /dev/vhost-blk")
			->type_name("PATH");
	auto *user = app->add_option("--vhost-user", o.vhostUser,
				     "the socket of a vhost-user-blk backend instead")
			     ->type_name("SOCKET");
	backend->excludes(user);
	run::addWorkloadOptions(*app, o.work);
	auto *poll = app->add_option("--busy-poll", o.busyPoll,
				     "microseconds a worker polls an empty ring (default 0)")
			     ->type_name("US")
			     ->check(CLI::Range(0u, 1000000u));
	/* What only /dev/vhost-blk has. */
	for (auto *opt : {app->get_option("--workers"), app->get_option("--worker-mode"),
			  app->get_option("--device"), poll})
		opt->excludes(user);
	app->add_option("--warmup", o.work.w.warmup, "seconds of I/O before measuring (default 2)")
		->type_name("S")
		->check(CLI::Range(0.0, 3600.0));
	app->add_option("--poll", o.work.w.pollUs,
			"microseconds a queue thread polls for completions before sleeping")
		->type_name("US")
		->check(CLI::Range(0u, 1000000u));
	app->add_flag("--progress", o.progress, "a progress line on stderr (default: if a tty)");
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static BenchOptions unused;
	return makeApp(unused);
}

BenchOptions parseOptions(const Args &args)
{
	BenchOptions o;

	vhostctl::parseOptions(*makeApp(o), args, "bench");
	if (o.backend.empty() == o.vhostUser.empty())
		throw UsageError(
			"bench: a target is needed: --backend PATH or --vhost-user SOCKET");
	run::finishWorkloadOptions(o.work, "bench");
	o.progress = o.progress || ::isatty(STDERR_FILENO);
	return o;
}

/* bench { --backend PATH [ --workers L ] | --vhost-user SOCKET } [ OPTIONS ] */
int benchCommand(Context &ctx, const Args &args)
{
	BenchOptions o = parseOptions(args);
	const run::WorkloadArgs &a = o.work;
	run::Progress progress;

	if (o.progress) {
		progress = [&](double elapsed, uint64_t ios) {
			ctx.err << fmt::format("\r{:6.1f} s {:>12.0f} IOPS", elapsed,
					       static_cast<double>(ios) / elapsed)
				<< std::flush;
		};
	}
	auto done = [&](int rc) {
		if (o.progress)
			ctx.err << "\n";
		return rc;
	};
	if (o.vhostUser.empty()) {
		run::KernelTarget t = run::startKernel(a, o.backend, o.busyPoll, "bench");
		run::RunInfo info{"vhost-blk", o.backend, a.workers.text(),      t.workerIds,
				  a.w,         a.queues,  o.busyPoll.value_or(0)};
		if (a.workers.kind == vhost::WorkerLayout::Auto)
			info.autoPool = t.pool;
		return done(run::measure(ctx, *t.drv, info, t.backend.size / a.w.bs, progress));
	}

	virtio::BlkDriverConfig cfg = run::driverConfig(a.w, a.queues);
	run::checkMemory(cfg, "bench");
	auto fe = vhost::user::Frontend::connect(o.vhostUser, a.queues);
	uint64_t size = virtio::blk::decodeConfig(fe->getConfig(sizeof(uint64_t))).capacity *
			virtio::blk::sectorSize;
	if (size < a.w.bs)
		throw vhost::Error(EINVAL, fmt::format("{}: {} bytes, less than one block of {}",
						       o.vhostUser, size, a.w.bs));
	auto drv = run::startDriver(
		cfg, [&] { return std::make_unique<virtio::BlkDriver>(std::move(fe), cfg); });
	run::RunInfo info{"vhost-user", o.vhostUser, std::nullopt, std::nullopt,
			  a.w,          a.queues,    std::nullopt};
	return done(run::measure(ctx, *drv, info, size / a.w.bs, progress));
}

constexpr std::array<Command, 1> commands = {{
	{"",
	 "",
	 benchCommand,
	 "measure /dev/vhost-blk (--backend) or a vhost-user-blk backend (--vhost-user): IOPS, "
	 "MB/s, latency",
	 {},
	 helpApp},
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

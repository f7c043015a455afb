// SPDX-License-Identifier: GPL-2.0
#include "run.hpp"

#include <array>

#include <CLI/CLI.hpp>

namespace vhostctl::run {

namespace {

std::unique_ptr<CLI::App> makeApp(RunOptions &o)
{
	auto app = std::make_unique<CLI::App>("vhostctl run");

	app->add_option("--backend", o.backend, "block device or file to serve")
		->type_name("PATH")
		->required();
	addWorkloadOptions(*app, o.work);
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static RunOptions unused;
	return makeApp(unused);
}

/* run --backend PATH [ OPTIONS ] */
int runCommand(Context &ctx, const Args &args)
{
	RunOptions o = parseOptions(args);
	const WorkloadArgs &a = o.work;

	/* The device: owner, features, memory, rings, workers, backend. */
	KernelTarget t = startKernel(a, o.backend, std::nullopt, "run");
	RunInfo info{"vhost-blk", o.backend, a.workers.text(), t.workerIds, a.w, a.queues, 0};
	if (a.workers.kind == vhost::WorkerLayout::Auto)
		info.autoPool = t.pool;

	/* I/O until the deadline or a signal, then every request back. */
	int rc = measure(ctx, *t.drv, info, t.backend.size / a.w.bs);
	t.drv->detachBackend();
	return rc;
}

constexpr std::array<Command, 1> commands = {{
	{"",
	 "",
	 runCommand,
	 "own /dev/vhost-blk, run I/O, print IOPS, MB/s and latency",
	 {},
	 helpApp},
}};

} // namespace

RunOptions parseOptions(const Args &args)
{
	RunOptions o;

	vhostctl::parseOptions(*makeApp(o), args, "run");
	finishWorkloadOptions(o.work, "run");
	return o;
}

} // namespace vhostctl::run

namespace vhostctl {

constinit const Object runObject = {
	"run",
	run::commands,
	"own /dev/vhost-blk with the library's driver and run random I/O; print IOPS, "
	"MB/s and latency",
	true,
};

} // namespace vhostctl

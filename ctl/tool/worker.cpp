// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl worker: the threads that serve the virtqueues of each device.
 */
#include <array>

#include "cli.hpp"
#include "records.hpp"

namespace vhostctl {

void addWorker(Table &t, const nl::WorkerInfo &w)
{
	t.add().u64("dev_id", w.devId)
		.u64("id", w.id)
		.u64("tid", w.tid)
		.indices("vqs", w.vqs)
		.u64("works", w.works)
		.u64("busy_ns", w.busyNs)
		.u64("wakeups", w.wakeups);
}

namespace {

constexpr std::array<Keyword, 1> showKeywords = {{
	{"dev", "ID", "only the workers of this device"},
}};

/* worker show [ dev ID ] */
int show(Context &ctx, const Args &args)
{
	auto dev = parseKeywords(args, showKeywords, "worker show").u32("dev", "device id");

	if (dev)
		requireDevice(ctx, *dev);
	Table t;
	for (const auto &w : ctx.state().workers(dev))
		addWorker(t, w);
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"show", "list", show, "list workers: thread id, virtqueues, counters", showKeywords},
}};

} // namespace

constinit const Object workerObject = {
	"worker",
	commands,
	"worker threads (VHOST_NEW_WORKER), each serving some virtqueues of its device",
	false,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl worker: the threads that serve the virtqueues of each device.
 */
#include <array>

#include "cli.hpp"
#include "output.hpp"

namespace vhostctl {

namespace {

/* worker show [ dev ID ] */
int show(Context &ctx, const Args &args)
{
	ShowArgs a = parseShowArgs(args, "worker show");

	if (a.dev)
		requireDevice(ctx, *a.dev);
	Table t;
	for (const auto &w : ctx.state().workers(a.dev)) {
		t.add().u64("dev_id", w.devId)
			.u64("id", w.id)
			.u64("tid", w.tid)
			.indices("vqs", w.vqs)
			.u64("works", w.works)
			.u64("busy_ns", w.busyNs)
			.u64("wakeups", w.wakeups);
	}
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"show", "list", show, "[ dev ID ]", "list workers: thread id, virtqueues, counters"},
}};

} // namespace

constinit const Object workerObject = {
	"worker",
	commands,
	"worker threads (VHOST_NEW_WORKER), each serving some virtqueues of its device",
	false,
};

} // namespace vhostctl

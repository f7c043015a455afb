// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl vq: virtqueues, the worker each is bound to, and the admin's
 * re-balance (VHOST_BLK_CMD_VQ_ATTACH).
 */
#include <array>

#include <fmt/format.h>

#include "cli.hpp"
#include "output.hpp"

namespace vhostctl {

namespace {

constexpr std::array<std::string_view, 1> showFlags = {"active"};

/* vq show [ dev ID ] [ active ] */
int show(Context &ctx, const Args &args)
{
	ShowArgs a = parseShowArgs(args, "vq show", showFlags);
	bool activeOnly = !a.flags.empty();

	if (a.dev)
		requireDevice(ctx, *a.dev);
	Table t;
	for (const auto &v : ctx.state().vqs(a.dev)) {
		if (activeOnly && !v.active)
			continue;
		std::optional<uint64_t> worker;
		if (v.workerId)
			worker = *v.workerId;
		t.add().u64("dev_id", v.devId)
			.u64("index", v.index)
			.optU64("worker_id", worker)
			.u64("num", v.num)
			.field("active", v.active ? 1 : 0, v.active ? "1" : "0", true)
			.u64("kicks", v.kicks)
			.u64("requests", v.requests)
			.u64("bytes", v.bytes)
			.u64("in_flight", v.inFlight)
			.u64("errors", v.errors)
			.u64("busyloop_us", v.busyloopUs);
	}
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

/* vq attach DEV VQ WORKER */
int attach(Context &ctx, const Args &args)
{
	if (args.size() != 3)
		throw UsageError(fmt::format("vq attach takes DEV VQ WORKER, not {} argument{}",
					     args.size(), args.size() == 1 ? "" : "s"));
	uint32_t dev = parseU32(args[0], "device id");
	uint32_t vq = parseU32(args[1], "virtqueue index");
	uint32_t worker = parseU32(args[2], "worker id");

	ctx.state().attachVq(dev, vq, worker);
	return exitOk;
}

constexpr std::array<Command, 2> commands = {{
	{"show", "list", show, "[ dev ID ] [ active ]",
	 "list virtqueues: worker, ring size, counters"},
	{"attach", "", attach, "DEV VQ WORKER",
	 "serve virtqueue VQ of device DEV from worker WORKER (root)"},
}};

} // namespace

constinit const Object vqObject = {
	"vq",
	commands,
	"virtqueues of each device and the worker serving each",
	false,
};

} // namespace vhostctl

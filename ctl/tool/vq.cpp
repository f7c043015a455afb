// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl vq: virtqueues, the worker each is bound to, and the admin's
 * re-balance (VHOST_BLK_CMD_VQ_ATTACH).
 */
#include <array>

#include "cli.hpp"
#include "records.hpp"

namespace vhostctl {

void addVq(Table &t, const nl::VqInfo &v)
{
	std::optional<uint64_t> worker;

	if (v.workerId)
		worker = *v.workerId;
	t.add().u64("dev_id", v.devId)
		.u64("index", v.index)
		.optU64("worker_id", worker)
		.u64("num", v.num)
		.boolean("active", v.active)
		.u64("kicks", v.kicks)
		.u64("requests", v.requests)
		.u64("bytes", v.bytes)
		.u64("in_flight", v.inFlight)
		.u64("errors", v.errors)
		.u64("busyloop_us", v.busyloopUs)
		.boolean("broken", v.broken)
		.u64("offloaded", v.offloaded);
}

namespace {

constexpr std::array<Keyword, 2> showKeywords = {{
	{"dev", "ID", "only the virtqueues of this device"},
	{"active", "", "only those that serve requests"},
}};

/* vq show [ dev ID ] [ active ] */
int show(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, showKeywords, "vq show");
	auto dev = a.u32("dev", "device id");

	if (dev)
		requireDevice(ctx, *dev);
	Table t;
	for (const auto &v : ctx.state().vqs(dev)) {
		if (!a.has("active") || v.active)
			addVq(t, v);
	}
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Keyword, 3> attachKeywords = {{
	{"dev", "ID", "the device", true, true},
	{"vq", "INDEX", "its virtqueue", true, true},
	{"worker", "ID", "the worker of that device to serve it", true, true},
}};

/* vq attach [dev] ID [vq] INDEX [worker] ID */
int attach(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, attachKeywords, "vq attach");

	ctx.state().attachVq(*a.u32("dev", "device id"), *a.u32("vq", "virtqueue index"),
			     *a.u32("worker", "worker id"));
	return exitOk;
}

constexpr std::array<Command, 2> commands = {{
	{"show", "list", show, "list virtqueues: worker, ring size, counters", showKeywords},
	{"attach", "", attach,
	 "serve a virtqueue from another worker of its device (CAP_NET_ADMIN); the "
	 "positional form 'vq attach ID INDEX ID' is the same",
	 attachKeywords},
}};

} // namespace

constinit const Object vqObject = {
	"vq",
	commands,
	"virtqueues of each device and the worker serving each",
	false,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl vq: virtqueues, the worker each is bound to, and the admin's
 * re-balance (VHOST_BLK_CMD_VQ_ATTACH).
 */
#include <array>

#include <fmt/format.h>

#include "cli.hpp"
#include "hist.hpp"
#include "records.hpp"
#include "vhostctl/error.hpp"

namespace vhostctl {

void addVq(Table &t, const nl::VqInfo &v)
{
	std::optional<uint64_t> worker;

	if (v.workerId)
		worker = *v.workerId;
	Record &r = t.add();

	r.u64("dev_id", v.devId)
		.u64("index", v.index)
		.optU64("worker_id", worker)
		.u64("num", v.num)
		.str("ring", v.packed ? "packed" : "split")
		.boolean("active", v.active)
		.u64("kicks", v.kicks)
		.u64("requests", v.requests)
		.u64("bytes", v.bytes)
		.u64("in_flight", v.inFlight)
		.u64("errors", v.errors)
		.u64("busyloop_us", v.busyloopUs)
		.boolean("broken", v.broken)
		.u64("offloaded", v.offloaded)
		.u64("io_errors", v.ioErrors);
	/* Service latency, every request type together. */
	addLatency(r, v.total(nl::HistKind::service));
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

constexpr std::array<Keyword, 4> histKeywords = {{
	{"dev", "ID", "the device", true, true},
	{"vq", "INDEX", "its virtqueue", true, true},
	{"kind", "queue|service", "only this histogram (default: both)"},
	{"op", "read|write|flush|discard|other", "only this request type"},
}};

/* vq hist [dev] ID [vq] INDEX [ kind KIND ] [ op OP ] */
int hist(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, histKeywords, "vq hist");
	uint32_t dev = *a.u32("dev", "device id"), index = *a.u32("vq", "virtqueue index");
	auto kind = a.get("kind"), op = a.get("op");

	if (kind && *kind != "queue" && *kind != "service")
		throw UsageError(fmt::format("vq hist: kind {}: not queue or service", *kind));
	if (op) {
		uint32_t i = 0;
		while (i < nl::numOps && nl::opName(i) != *op)
			i++;
		if (i == nl::numOps)
			throw UsageError(fmt::format("vq hist: op {}: no such request type", *op));
	}
	requireDevice(ctx, dev);
	std::optional<nl::VqInfo> vq;
	for (auto &v : ctx.state().vqs(dev)) {
		if (v.index == index)
			vq = std::move(v);
	}
	if (!vq)
		throw vhost::Error(ENOENT,
				   fmt::format("device {} has no virtqueue {}", dev, index));

	Json all = Json::array();
	bool first = true;
	for (const auto &h : vq->hists) {
		if ((kind && nl::histKindName(h.kind) != *kind) || (op && nl::opName(h.op) != *op))
			continue;
		if (ctx.opts.json) {
			Json j = Json::object();
			j["dev_id"] = dev;
			j["index"] = index;
			Json hj = histJson(h);
			for (auto &[key, value] : hj.items())
				j[key] = value;
			all.push_back(std::move(j));
			continue;
		}
		if (!first)
			ctx.out << '\n';
		first = false;
		ctx.out << fmt::format("dev {} vq {} ", dev, index);
		printHistChart(ctx.out, h);
	}
	if (ctx.opts.json)
		printJson(ctx.out, all, ctx.opts);
	else if (first)
		ctx.out << fmt::format("dev {} vq {}: no request measured\n", dev, index);
	return exitOk;
}

constexpr std::array<Command, 3> commands = {{
	{"show", "list", show,
	 "list virtqueues: worker, ring size, counters, service latency (p50, p99, max)",
	 showKeywords},
	{"hist", "", hist, "a virtqueue's latency histograms, as bar charts", histKeywords},
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

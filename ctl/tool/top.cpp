// SPDX-License-Identifier: GPL-2.0
#include "top.hpp"

#include <array>
#include <chrono>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "hist.hpp"
#include "vhostctl/error.hpp"

namespace vhostctl::top {

namespace {

/* Counters only grow; one that went back was reset: count from zero. */
double rate(uint64_t before, uint64_t now, double seconds)
{
	if (seconds <= 0)
		return 0;
	return static_cast<double>(now >= before ? now - before : now) / seconds;
}

Sample takeSample(Context &ctx, const TopOptions &o)
{
	return Sample{ctx.state().workers(o.dev), ctx.state().vqs(o.dev)};
}

void printFrame(Context &ctx, const Sample &prev, const Sample &cur, double seconds,
		unsigned int frame)
{
	Table workers = workerTable(workerRates(prev, cur, seconds));
	Table vqs = vqTable(vqRates(prev, cur, seconds));

	if (ctx.opts.json) {
		Json j = Json::object();
		j["interval_s"] = seconds;
		j["workers"] = workers.json();
		j["vqs"] = vqs.json();
		printJson(ctx.out, j, ctx.opts);
		ctx.out.flush();
		return;
	}
	if (ctx.tty)
		ctx.out << "\033[H\033[J";
	else if (frame > 1)
		ctx.out << '\n';
	ctx.out << fmt::format("vhostctl top: {} workers, {} active vqs, rates over {:.2f} s\n\n",
			       workers.size(), vqs.size(), seconds);
	workers.printText(ctx.out);
	if (!vqs.empty()) {
		ctx.out << '\n';
		vqs.printText(ctx.out);
	}
	ctx.out.flush();
}

/* top [ --interval S ] [ --iterations N ] [ dev ID ] */
int run(Context &ctx, const Args &args)
{
	TopOptions o = parseOptions(args);

	if (o.dev)
		requireDevice(ctx, *o.dev);
	auto interval = std::chrono::duration<double>(o.interval);
	Sample prev = takeSample(ctx, o);
	auto t0 = std::chrono::steady_clock::now();

	for (unsigned int frame = 1; !o.iterations || frame <= *o.iterations; frame++) {
		std::this_thread::sleep_for(interval);
		Sample cur = takeSample(ctx, o);
		auto t1 = std::chrono::steady_clock::now();

		printFrame(ctx, prev, cur, std::chrono::duration<double>(t1 - t0).count(), frame);
		prev = std::move(cur);
		t0 = t1;
	}
	return exitOk;
}

std::unique_ptr<CLI::App> helpApp();

constexpr std::array<Command, 1> commands = {{
	{"", "", run, "refresh rates of workers and active vqs every S seconds", {}, helpApp},
}};

} // namespace

namespace {

constexpr std::array<Keyword, 1> filterKeywords = {{
	{"dev", "ID", "only the workers and virtqueues of this device"},
}};

std::unique_ptr<CLI::App> makeApp(TopOptions &o, std::vector<std::string> &filter)
{
	auto app = std::make_unique<CLI::App>("vhostctl top");

	app->add_option("-d,--interval", o.interval, "seconds between frames (default 1)")
		->type_name("S")
		->check(CLI::Range(0.01, 3600.0));
	app->add_option("-n,--iterations", o.iterations, "frames to print, then exit")
		->type_name("N")
		->check(CLI::Range(1u, 1000000u));
	app->add_option("filter", filter, "dev ID: only that device")->type_name("dev ID");
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static TopOptions unused;
	static std::vector<std::string> filter;
	return makeApp(unused, filter);
}

} // namespace

TopOptions parseOptions(const Args &args)
{
	TopOptions o;
	std::vector<std::string> filter;

	vhostctl::parseOptions(*makeApp(o, filter), args, "top");
	o.dev = parseKeywords(filter, filterKeywords, "top").u32("dev", "device id");
	return o;
}

std::vector<WorkerRate> workerRates(const Sample &prev, const Sample &cur, double seconds)
{
	std::vector<WorkerRate> out;

	for (const auto &w : cur.workers) {
		nl::WorkerInfo before;
		for (const auto &p : prev.workers) {
			if (p.devId == w.devId && p.id == w.id)
				before = p;
		}
		WorkerRate r;
		r.worker = w;
		r.worksPerS = rate(before.works, w.works, seconds);
		r.wakeupsPerS = rate(before.wakeups, w.wakeups, seconds);
		r.busyPct = rate(before.busyNs, w.busyNs, seconds) / 1e9 * 100;
		out.push_back(r);
	}
	return out;
}

std::vector<VqRate> vqRates(const Sample &prev, const Sample &cur, double seconds)
{
	std::vector<VqRate> out;

	for (const auto &v : cur.vqs) {
		nl::VqInfo before;
		for (const auto &p : prev.vqs) {
			if (p.devId == v.devId && p.index == v.index)
				before = p;
		}
		VqRate r;
		r.vq = v;
		r.requestsPerS = rate(before.requests, v.requests, seconds);
		r.bytesPerS = rate(before.bytes, v.bytes, seconds);
		r.kicksPerS = rate(before.kicks, v.kicks, seconds);
		r.service =
			v.total(nl::HistKind::service).since(before.total(nl::HistKind::service));
		if (v.active || r.requestsPerS > 0)
			out.push_back(r);
	}
	return out;
}

Table workerTable(const std::vector<WorkerRate> &rates)
{
	Table t;

	for (const auto &r : rates) {
		t.add().u64("dev_id", r.worker.devId)
			.u64("id", r.worker.id)
			.u64("tid", r.worker.tid)
			.indices("vqs", r.worker.vqs)
			.real("works_per_s", r.worksPerS, 0)
			.real("busy_pct", r.busyPct, 1)
			.real("wakeups_per_s", r.wakeupsPerS, 0);
	}
	return t;
}

Table vqTable(const std::vector<VqRate> &rates)
{
	Table t;

	for (const auto &r : rates) {
		std::optional<uint64_t> worker;
		if (r.vq.workerId)
			worker = *r.vq.workerId;
		Record &rec = t.add();
		rec.u64("dev_id", r.vq.devId)
			.u64("index", r.vq.index)
			.optU64("worker_id", worker)
			.real("requests_per_s", r.requestsPerS, 0)
			.real("mb_per_s", r.bytesPerS / 1e6, 1)
			.real("kicks_per_s", r.kicksPerS, 0)
			.u64("in_flight", r.vq.inFlight);
		/* Over the interval: max is the top of its highest bucket. */
		addLatency(rec, r.service, true);
	}
	return t;
}

} // namespace vhostctl::top

namespace vhostctl {

constinit const Object topObject = {
	"top",
	top::commands,
	"a live view of workers and virtqueues with rates per second, like top",
	true,
};

} // namespace vhostctl

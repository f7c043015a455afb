// SPDX-License-Identifier: GPL-2.0
#include "run.hpp"

#include <array>
#include <cerrno>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "output.hpp"
#include "vhostctl/blk_driver.hpp"
#include "vhostctl/error.hpp"

namespace vhostctl::run {

namespace {

constexpr uint32_t maxBlockSize = 4U << 20;

void printSummary(Context &ctx, const RunOptions &o, const std::vector<unsigned int> &workers,
		  const Stats &total)
{
	double elapsed = total.elapsed;
	auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
	Record r;

	r.str("rw", rwName(o.rw))
		.u64("bs", o.bs)
		.u64("iodepth", o.iodepth)
		.u64("queues", o.queues)
		.str("workers", o.workers.text())
		.indices("worker_ids", std::vector<uint32_t>(workers.begin(), workers.end()))
		.real("duration_s", elapsed, 1)
		.u64("ios", total.ios)
		.real("iops", static_cast<double>(total.ios) / elapsed, 0)
		.real("mb_per_s", static_cast<double>(total.bytes) / elapsed / 1e6, 1)
		.real("lat_p50_us", us(total.latency.percentile(50)), 1)
		.real("lat_p99_us", us(total.latency.percentile(99)), 1)
		.real("lat_max_us", us(total.latency.max()), 1)
		.u64("errors", total.errors);
	printRecord(ctx.out, r, ctx.opts);
}

/* run --backend PATH [ --queues N ] [ --workers single|per-vq|N ] ... */
int runCommand(Context &ctx, const Args &args)
{
	RunOptions o = parseOptions(args);

	/* 1. The backend, read-only unless the run writes. */
	Workload w{o.rw, o.bs, o.iodepth, o.duration, 0};
	Backend backend = openBackend(o.backend, o.rw);
	uint64_t blocks = backend.size / o.bs;
	if (!blocks)
		throw vhost::Error(EINVAL,
				   fmt::format("backend {}: {} bytes, less than one block of {}",
					       o.backend, backend.size, o.bs));

	/* 2. The device: owner, features, memory, rings, workers, backend. */
	virtio::BlkDriverConfig cfg = driverConfig(w, o.queues);
	cfg.workerMode = o.workerMode;
	virtio::BlkDriver drv(vhost::BlkDevice::open(o.device), cfg);
	std::vector<unsigned int> workers = vhost::applyLayout(drv.kernel(), o.queues, o.workers);
	drv.attachBackend(backend.fd.get());

	/* 3. I/O until the deadline or a signal, then every request back. */
	Stats total = runWorkload(drv, w, blocks);
	drv.detachBackend();

	/* 4. The summary; failed requests fail the run. */
	printSummary(ctx, o, workers, total);
	requireNoErrors(total);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"", "", runCommand,
	 "--backend PATH [ --queues N ] [ --workers single|per-vq|N ]\n"
	 "          [ --duration S ] [ --rw randread|randwrite|rw ] [ --bs SIZE ]\n"
	 "          [ --iodepth N ] [ --worker-mode task|kthread ] [ --device PATH ]",
	 "own /dev/vhost-blk, run I/O, print IOPS, MB/s and latency"},
}};

} // namespace

uint32_t parseBlockSize(std::string_view text, std::string_view command)
{
	uint64_t mult = 1;
	std::string_view digits = text;

	if (!digits.empty()) {
		switch (digits.back()) {
		case 'k':
		case 'K':
			mult = 1024;
			break;
		case 'm':
		case 'M':
			mult = 1024 * 1024;
			break;
		}
		if (mult != 1)
			digits.remove_suffix(1);
	}
	uint64_t n = 0;
	try {
		n = parseU64(digits, "block size");
	} catch (const UsageError &) {
		throw UsageError(
			fmt::format("{}: '{}' is not a block size (e.g. 4k)", command, text));
	}
	uint64_t bytes = n * mult;
	if (!bytes || bytes % virtio::blk::sectorSize || bytes > maxBlockSize)
		throw UsageError(
			fmt::format("{}: block size {} is not a multiple of 512 from 512 to 4M",
				    command, text));
	return static_cast<uint32_t>(bytes);
}

WorkerLayout parseLayout(std::string_view text, std::string_view command)
{
	if (auto layout = WorkerLayout::parse(text))
		return *layout;
	throw UsageError(fmt::format("{}: --workers takes single, per-vq or a number of workers "
				     "from 1 to {}, not '{}'",
				     command, WorkerLayout::maxCount, text));
}

unsigned int queueSizeFor(unsigned int iodepth)
{
	return driverConfig({Rw::RandRead, 4096, iodepth, 1, 0}, 1).queueSize;
}

RunOptions parseOptions(const Args &args)
{
	RunOptions o;
	std::string workers = "single", rw = "randread", bs = "4k", mode;
	CLI::App app("vhostctl run");

	app.set_help_flag();
	app.add_option("--backend", o.backend, "block device or file to serve")->required();
	app.add_option("--queues", o.queues, "virtqueues, one I/O thread each")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--workers", workers, "single, per-vq or a number of workers");
	app.add_option("--duration", o.duration, "seconds of I/O")->check(CLI::Range(0.001, 1e6));
	app.add_option("--rw", rw, "randread, randwrite or rw")
		->check(CLI::IsMember({"randread", "randwrite", "rw"}));
	app.add_option("--bs", bs, "bytes per request (4k, 64k, 1M)");
	app.add_option("--iodepth", o.iodepth, "requests in flight per queue")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--worker-mode", mode, "task or kthread")
		->check(CLI::IsMember({"task", "kthread"}));
	app.add_option("--device", o.device, "the vhost-blk device node");

	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::ParseError &e) {
		throw UsageError(fmt::format("run: {}", e.what()));
	}
	o.workers = parseLayout(workers);
	o.bs = parseBlockSize(bs);
	o.rw = rw == "randread" ? Rw::RandRead : rw == "randwrite" ? Rw::RandWrite : Rw::Mixed;
	if (mode == "task")
		o.workerMode = vhost::WorkerMode::Task;
	else if (mode == "kthread")
		o.workerMode = vhost::WorkerMode::Kthread;
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

// SPDX-License-Identifier: GPL-2.0
#include "run.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <linux/fs.h>
#include <random>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "latency.hpp"
#include "output.hpp"
#include "vhostctl/blk_driver.hpp"
#include "vhostctl/error.hpp"

namespace vhostctl::run {

namespace {

using Clock = std::chrono::steady_clock;

/* A queue whose requests make no progress for this long has failed. */
constexpr auto stallTimeout = std::chrono::seconds(30);
constexpr auto pollInterval = std::chrono::milliseconds(100);
constexpr uint32_t maxBlockSize = 4U << 20;

/* SIGINT and SIGTERM end the run early, with a summary. */
std::atomic<bool> interrupted{false};

extern "C" void onSignal(int)
{
	interrupted.store(true);
}

class SignalGuard
{
public:
	SignalGuard()
	{
		struct sigaction sa = {};

		sa.sa_handler = onSignal;
		sigemptyset(&sa.sa_mask);
		interrupted.store(false);
		::sigaction(SIGINT, &sa, &oldInt_);
		::sigaction(SIGTERM, &sa, &oldTerm_);
	}
	SignalGuard(const SignalGuard &) = delete;
	SignalGuard &operator=(const SignalGuard &) = delete;
	~SignalGuard()
	{
		::sigaction(SIGINT, &oldInt_, nullptr);
		::sigaction(SIGTERM, &oldTerm_, nullptr);
	}

private:
	struct sigaction oldInt_ = {};
	struct sigaction oldTerm_ = {};
};

struct QueueStats {
	uint64_t ios = 0;
	uint64_t bytes = 0;
	uint64_t errors = 0;
	std::string firstError;
	LatencyHistogram latency;
};

uint64_t backendSize(int fd, const std::string &path)
{
	struct stat st = {};

	if (::fstat(fd, &st) < 0)
		vhost::throwErrno(fmt::format("stat {}", path));
	if (S_ISREG(st.st_mode))
		return static_cast<uint64_t>(st.st_size);
	if (S_ISBLK(st.st_mode)) {
		uint64_t size = 0;

		if (::ioctl(fd, BLKGETSIZE64, &size) < 0)
			vhost::throwErrno(fmt::format("BLKGETSIZE64 {}", path));
		return size;
	}
	throw vhost::Error(EINVAL,
			   fmt::format("backend {}: not a block device or regular file", path));
}

/* The I/O loop of one queue, until the deadline and every request returned. */
void queueLoop(virtio::BlkQueue &q, const RunOptions &o, uint64_t blocks,
	       Clock::time_point deadline, const std::atomic<bool> &stop, QueueStats &st)
{
	using virtio::blk::Type;
	std::mt19937_64 rng(0x9e3779b97f4a7c15ULL * (q.index() + 1));
	std::vector<Clock::time_point> started(q.depth());
	const uint64_t sectorsPerBlock = o.bs / virtio::blk::sectorSize;

	for (unsigned int s = 0; s < q.depth(); s++)
		std::memset(q.data(s).data(), 0xa5 ^ static_cast<int>(s & 0xff), o.bs);

	auto pick = [&]() {
		switch (o.rw) {
		case Rw::RandRead:
			return Type::In;
		case Rw::RandWrite:
			return Type::Out;
		case Rw::Mixed:
			break;
		}
		return (rng() & 1) ? Type::Out : Type::In;
	};
	auto complete = [&](const virtio::BlkCompletion &c) {
		auto now = Clock::now();
		uint32_t wantLen = c.type == Type::In ? o.bs + 1 : 1;

		st.latency.record(static_cast<uint64_t>(
			std::chrono::duration_cast<std::chrono::nanoseconds>(now - started[c.slot])
				.count()));
		st.ios++;
		if (c.status == virtio::blk::StatusOk && c.len == wantLen) {
			st.bytes += o.bs;
			return;
		}
		if (!st.errors++)
			st.firstError = fmt::format(
				"vq {} {} sector {}: status {}, used length {} (want {})",
				q.index(), virtio::blk::typeName(c.type), c.sector,
				virtio::blk::statusName(c.status), c.len, wantLen);
	};

	auto lastProgress = Clock::now();
	for (;;) {
		auto now = Clock::now();
		bool submitting = now < deadline && !stop.load() && !interrupted.load();

		if (submitting) {
			while (q.inFlight() < q.depth()) {
				Type type = pick();
				auto slot = q.submit(
					{type, (rng() % blocks) * sectorsPerBlock, o.bs, 0});

				if (!slot)
					break;
				started[*slot] = now;
			}
			q.notify();
		}
		if (!q.inFlight()) {
			if (!submitting)
				break;
			continue;
		}
		std::size_t reaped = q.reap(complete);
		if (q.takeRingErrors())
			throw vhost::Error(
				EIO, fmt::format("vq {}: the device reported a malformed ring",
						 q.index()));
		if (reaped) {
			lastProgress = Clock::now();
			continue;
		}
		if (Clock::now() - lastProgress > stallTimeout)
			throw vhost::Error(
				ETIMEDOUT,
				fmt::format("vq {}: {} requests in flight, none completed for {} s",
					    q.index(), q.inFlight(), stallTimeout.count()));
		q.wait(pollInterval);
	}
}

/* Run every queue's loop in a thread of its own; their stats, summed. */
QueueStats runQueues(virtio::BlkDriver &drv, const RunOptions &o, uint64_t blocks)
{
	SignalGuard signals;
	std::atomic<bool> stop{false};
	std::vector<QueueStats> stats(o.queues);
	std::vector<std::exception_ptr> failures(o.queues);
	auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
					       std::chrono::duration<double>(o.duration));
	{
		std::vector<std::jthread> threads;
		for (unsigned int q = 0; q < o.queues; q++) {
			threads.emplace_back([&, q] {
				try {
					queueLoop(drv.queue(q), o, blocks, deadline, stop,
						  stats[q]);
				} catch (...) {
					failures[q] = std::current_exception();
					stop.store(true);
				}
			});
		}
	}
	for (auto &f : failures) {
		if (f)
			std::rethrow_exception(f);
	}

	QueueStats total;
	for (const auto &s : stats) {
		total.ios += s.ios;
		total.bytes += s.bytes;
		total.errors += s.errors;
		if (total.firstError.empty())
			total.firstError = s.firstError;
		total.latency.merge(s.latency);
	}
	return total;
}

void printSummary(Context &ctx, const RunOptions &o, const std::vector<unsigned int> &workers,
		  const QueueStats &total, double elapsed)
{
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
	if (ctx.opts.json) {
		printJson(ctx.out, r.json(), ctx.opts);
	} else {
		Table t;
		t.add() = r;
		t.printText(ctx.out);
	}
}

/* run --backend PATH [ --queues N ] [ --workers single|per-vq|N ] ... */
int runCommand(Context &ctx, const Args &args)
{
	RunOptions o = parseOptions(args);

	/* 1. The backend, read-only unless the run writes. */
	int flags = (o.rw == Rw::RandRead ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	vhost::UniqueFd backend(::open(o.backend.c_str(), flags));
	if (!backend)
		vhost::throwErrno(fmt::format("open backend {}", o.backend));
	uint64_t size = backendSize(backend.get(), o.backend);
	uint64_t blocks = size / o.bs;
	if (!blocks)
		throw vhost::Error(EINVAL,
				   fmt::format("backend {}: {} bytes, less than one block of {}",
					       o.backend, size, o.bs));

	/* 2. The device: owner, features, memory, rings, workers, backend. */
	virtio::BlkDriverConfig cfg;
	cfg.queues = o.queues;
	cfg.queueSize = queueSizeFor(o.iodepth);
	cfg.depth = o.iodepth;
	cfg.maxData = o.bs;
	cfg.workerMode = o.workerMode;
	virtio::BlkDriver drv(vhost::BlkDevice::open(o.device), cfg);
	std::vector<unsigned int> workers = applyLayout(drv.device(), o.queues, o.workers);
	drv.attachBackend(backend.get());

	/* 3. I/O until the deadline or a signal, then every request back. */
	auto start = Clock::now();
	QueueStats total = runQueues(drv, o, blocks);
	double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
	drv.detachBackend();

	/* 4. The summary; failed requests fail the run. */
	printSummary(ctx, o, workers, total, elapsed);
	if (total.errors)
		throw vhost::Error(EIO, fmt::format("{} of {} requests failed; the first: {}",
						    total.errors, total.ios, total.firstError));
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

std::string WorkerLayout::text() const
{
	switch (kind) {
	case Single:
		return "single";
	case PerVq:
		return "per-vq";
	case Count:
		break;
	}
	return fmt::format("{}", count);
}

std::string_view rwName(Rw rw)
{
	switch (rw) {
	case Rw::RandRead:
		return "randread";
	case Rw::RandWrite:
		return "randwrite";
	case Rw::Mixed:
		break;
	}
	return "rw";
}

uint32_t parseBlockSize(std::string_view text)
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
		throw UsageError(fmt::format("run: '{}' is not a block size (e.g. 4k)", text));
	}
	uint64_t bytes = n * mult;
	if (!bytes || bytes % virtio::blk::sectorSize || bytes > maxBlockSize)
		throw UsageError(fmt::format(
			"run: block size {} is not a multiple of 512 from 512 to 4M", text));
	return static_cast<uint32_t>(bytes);
}

WorkerLayout parseLayout(std::string_view text)
{
	if (text == "single")
		return {WorkerLayout::Single, 0};
	if (text == "per-vq")
		return {WorkerLayout::PerVq, 0};
	uint32_t n = 0;
	try {
		n = parseU32(text, "worker count");
	} catch (const UsageError &) {
		throw UsageError(fmt::format(
			"run: --workers takes single, per-vq or a number of workers, not '{}'",
			text));
	}
	if (!n || n > 1024)
		throw UsageError(fmt::format("run: --workers {}: from 1 to 1024 workers", text));
	return {WorkerLayout::Count, n};
}

unsigned int queueSizeFor(unsigned int iodepth)
{
	return std::max(8U, std::bit_ceil(iodepth * 3));
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

std::vector<unsigned int> applyLayout(vhost::Device &dev, unsigned int queues,
				      const WorkerLayout &layout)
{
	std::vector<unsigned int> serving(queues, 0);
	std::vector<unsigned int> ids;

	switch (layout.kind) {
	case WorkerLayout::Single:
		for (unsigned int q = 0; q < queues; q++)
			serving[q] = dev.getVringWorker(q);
		return serving;
	case WorkerLayout::PerVq:
		for (unsigned int q = 0; q < queues; q++)
			ids.push_back(dev.newWorker());
		break;
	case WorkerLayout::Count:
		for (unsigned int i = 0; i < layout.count; i++)
			ids.push_back(dev.newWorker());
		break;
	}
	for (unsigned int q = 0; q < queues; q++) {
		serving[q] = ids[q % ids.size()];
		dev.attachVringWorker(q, serving[q]);
	}
	return serving;
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

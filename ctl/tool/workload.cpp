// SPDX-License-Identifier: GPL-2.0
#include "workload.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "vhostctl/auto_layout.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/signal_fd.hpp"
#include "vhostctl/system.hpp"

namespace vhostctl::run {

namespace {

using Clock = std::chrono::steady_clock;

/* A queue whose requests make no progress for this long has failed. */
constexpr auto stallTimeout = std::chrono::seconds(30);
constexpr auto pollInterval = std::chrono::milliseconds(100);
constexpr auto progressInterval = std::chrono::seconds(1);
/* How far behind its schedule a paced queue may fall and still catch up. */
constexpr auto maxLag = std::chrono::milliseconds(100);

/* What the queue threads share with the thread that waits for them. */
struct Shared {
	Clock::time_point measureFrom;
	Clock::time_point deadline;
	unsigned int queues = 1;
	/* A queue failed: the others stop too. */
	std::atomic<bool> stop{false};
	/* SIGINT or SIGTERM: end the run early, with a summary. */
	std::atomic<bool> interrupted{false};
};

struct QueueState {
	Stats stats;
	/* Requests completed while measuring, for the progress line. */
	std::atomic<uint64_t> done{0};
	std::exception_ptr failure;
};

/* The I/O loop of one queue, until the deadline and every request returned. */
void queueLoop(virtio::BlkQueue &q, const Workload &w, uint64_t blocks, Shared &sh, QueueState &qs)
{
	using virtio::blk::Type;
	Stats &st = qs.stats;
	std::mt19937_64 rng(0x9e3779b97f4a7c15ULL * (q.index() + 1));
	std::vector<Clock::time_point> started(q.depth());
	const uint64_t sectorsPerBlock = w.bs / virtio::blk::sectorSize;

	for (unsigned int s = 0; s < q.depth(); s++)
		std::memset(q.data(s).data(), 0xa5 ^ static_cast<int>(s & 0xff), w.bs);

	auto pick = [&]() {
		switch (w.rw) {
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
		uint32_t wantLen = c.type == Type::In ? w.bs + 1 : 1;
		bool ok = c.status == virtio::blk::StatusOk && c.len == wantLen;

		/* Requests of the warm-up count only when they fail. */
		if (started[c.slot] >= sh.measureFrom) {
			auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
				Clock::now() - started[c.slot]);
			st.latency.record(static_cast<uint64_t>(ns.count()));
			st.ios++;
			qs.done.store(st.ios, std::memory_order_relaxed);
			if (ok)
				st.bytes += w.bs;
		}
		if (ok)
			return;
		if (!st.errors++)
			st.firstError = fmt::format(
				"vq {} {} sector {}: status {}, used length {} (want {})",
				q.index(), virtio::blk::typeName(c.type), c.sector,
				virtio::blk::statusName(c.status), c.len, wantLen);
	};

	/*
	 * Paced: request n of this queue is due at the start plus n times
	 * the interval, so that a slow request is made up for by the next
	 * ones, as fio's --rate_iops does.  But not a long stall: a queue
	 * catches up by at most maxLag of its schedule (and its depth).
	 */
	const bool paced = w.rateIops > 0;
	const Clock::duration interval =
		paced ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
				static_cast<double>(sh.queues) / w.rateIops))
		      : Clock::duration::zero();
	const Clock::duration lag = std::max<Clock::duration>(interval * q.depth(), maxLag);
	auto due = Clock::now();
	auto lastProgress = due;
	for (;;) {
		auto now = Clock::now();
		bool submitting = now < sh.deadline && !sh.stop.load() && !sh.interrupted.load();

		if (submitting) {
			if (paced)
				due = std::max(due, now - lag);
			while (q.inFlight() < q.depth() && (!paced || due <= now)) {
				auto slot = q.submit(
					{pick(), (rng() % blocks) * sectorsPerBlock, w.bs, 0});

				if (!slot)
					break;
				started[*slot] = now;
				due += interval;
			}
			q.notify();
		}
		if (!q.inFlight()) {
			if (!submitting)
				break;
			if (paced)
				std::this_thread::sleep_until(std::min(due, sh.deadline));
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
		if (w.pollUs && q.poll(std::chrono::microseconds(w.pollUs)))
			continue;
		/* Paced with room for more: wake when the next one is due, too. */
		Clock::duration timeout = pollInterval;
		if (paced && submitting && q.inFlight() < q.depth())
			timeout = std::clamp(due - Clock::now(), Clock::duration::zero(), timeout);
		q.wait(timeout);
	}
}

} // namespace

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
	return "randrw";
}

std::optional<Rw> parseRw(std::string_view text)
{
	if (text == "randread")
		return Rw::RandRead;
	if (text == "randwrite")
		return Rw::RandWrite;
	if (text == "randrw" || text == "rw")
		return Rw::Mixed;
	return std::nullopt;
}

Stats runWorkload(virtio::BlkDriver &drv, const Workload &w, uint64_t blocks,
		  const Progress &progress, const Tick &tick)
{
	auto seconds = [](double s) {
		return std::chrono::duration_cast<Clock::duration>(
			std::chrono::duration<double>(s));
	};
	/* Blocked before the queue threads start, so that they inherit the mask. */
	vhost::SignalFd signals({SIGINT, SIGTERM});
	Shared sh;
	std::vector<QueueState> queues(drv.numQueues());
	auto start = Clock::now();

	sh.measureFrom = start + seconds(w.warmup);
	sh.deadline = sh.measureFrom + seconds(w.duration);
	sh.queues = drv.numQueues();
	/* The machine's CPU time when measuring starts and when it ends. */
	std::optional<vhost::CpuTime> cpuFrom, cpuTo;
	auto sampleCpu = [](std::optional<vhost::CpuTime> &at) {
		try {
			at = vhost::cpuTime();
		} catch (const vhost::Error &) {
			/* No /proc: no CPU figures. */
		}
	};
	/* A tick that failed: the queues stop, and it is thrown once they have. */
	std::exception_ptr tickFailure;
	{
		/* Before the threads, which count it down, so that it outlives them. */
		std::atomic<unsigned int> running{drv.numQueues()};
		std::vector<std::jthread> threads;

		for (unsigned int q = 0; q < drv.numQueues(); q++) {
			threads.emplace_back([&, q] {
				try {
					queueLoop(drv.queue(q), w, blocks, sh, queues[q]);
				} catch (...) {
					queues[q].failure = std::current_exception();
					sh.stop.store(true);
				}
				running--;
			});
		}
		auto next = sh.measureFrom + progressInterval;
		auto nextTick = start + tickInterval;
		bool measuring = false, measured = false;
		while (running.load()) {
			/* Wake at the window's edges, to sample the CPU time there. */
			auto edge = measuring ? sh.deadline : sh.measureFrom;
			auto timeout = pollInterval;
			if (tick && !measured && !tickFailure)
				timeout = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(
							     nextTick - Clock::now()),
						     std::chrono::milliseconds::zero(), timeout);
			if (!measured)
				timeout = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(
							     edge - Clock::now()),
						     std::chrono::milliseconds::zero(), timeout);
			struct pollfd pfd = {signals.fd(), POLLIN, 0};
			if (::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0 &&
			    signals.take())
				sh.interrupted.store(true);
			auto now = Clock::now();
			if (!measuring && now >= sh.measureFrom) {
				sampleCpu(cpuFrom);
				measuring = true;
			}
			if (measuring && !measured &&
			    (now >= sh.deadline || sh.interrupted.load() || sh.stop.load())) {
				sampleCpu(cpuTo);
				measured = true;
			}
			if (tick && now >= nextTick && !measured && !tickFailure) {
				try {
					tick();
				} catch (...) {
					tickFailure = std::current_exception();
					sh.stop.store(true);
				}
				nextTick += tickInterval;
				if (nextTick < now)
					nextTick = now + tickInterval;
			}
			if (!progress || now < next || sh.interrupted.load())
				continue;
			uint64_t done = 0;
			for (const auto &qs : queues)
				done += qs.done.load(std::memory_order_relaxed);
			progress(std::chrono::duration<double>(Clock::now() - sh.measureFrom)
					 .count(),
				 done);
			next += progressInterval;
		}
	}
	for (const auto &qs : queues) {
		if (qs.failure)
			std::rethrow_exception(qs.failure);
	}
	if (tickFailure)
		std::rethrow_exception(tickFailure);

	/* A signal during the warm-up measures nothing: elapsed stays above 0. */
	auto end = std::min(Clock::now(), sh.deadline);
	Stats total;
	total.elapsed = std::max(1e-6, std::chrono::duration<double>(end - sh.measureFrom).count());
	if (cpuFrom && cpuTo)
		total.cpuBusy = cpuTo->busy - cpuFrom->busy;
	for (const auto &qs : queues) {
		const Stats &s = qs.stats;

		total.ios += s.ios;
		total.bytes += s.bytes;
		total.errors += s.errors;
		if (total.firstError.empty())
			total.firstError = s.firstError;
		total.latency.merge(s.latency);
	}
	return total;
}

void requireNoErrors(const Stats &st)
{
	if (st.errors)
		throw vhost::Error(EIO, fmt::format("{} of {} requests failed; the first: {}",
						    st.errors, st.ios, st.firstError));
}

Backend openBackend(const std::string &path, Rw rw)
{
	Backend b;
	int flags = (rw == Rw::RandRead ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	b.fd = vhost::UniqueFd(::open(path.c_str(), flags));
	if (!b.fd)
		vhost::throwErrno("open backend {}", path);
	b.size = virtio::blk::probeGeometry(b.fd.get(), path).bytes;
	return b;
}

virtio::BlkDriverConfig driverConfig(const Workload &w, unsigned int queues)
{
	virtio::BlkDriverConfig cfg;

	cfg.queues = queues;
	cfg.ring = w.ring;
	/* Three descriptors a request. */
	cfg.queueSize = std::max(8U, std::bit_ceil(w.iodepth * 3));
	cfg.depth = w.iodepth;
	cfg.maxData = w.bs;
	return cfg;
}

void checkMemory(const virtio::BlkDriverConfig &cfg, std::string_view command)
{
	std::size_t need = virtio::BlkDriver::memorySize(cfg);
	uint64_t have = vhost::physicalMemory();

	if (need > have)
		throw UsageError(fmt::format(
			"{}: {} queues x {} requests x {} bytes need {} of guest memory, more than "
			"the {} of this machine",
			command, cfg.queues, cfg.depth, cfg.maxData, formatBytes(need),
			formatBytes(have)));
}

unsigned int queueSizeFor(unsigned int iodepth)
{
	return driverConfig({Rw::RandRead, 4096, iodepth, 1, 0}, 1).queueSize;
}

void addWorkloadOptions(CLI::App &app, WorkloadArgs &a)
{
	app.add_option("--queues", a.queues, "virtqueues, one submitting thread each (default 1)")
		->type_name("N")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--rw", a.rw, "randread (default), randwrite or randrw")->type_name("RW");
	app.add_option("--bs", a.bs, "bytes per request: 4k (default), 64k, 1M ...")
		->type_name("SIZE");
	app.add_option("--iodepth", a.w.iodepth, "requests in flight per queue (default 32)")
		->type_name("N")
		->check(CLI::Range(1u, 1024u));
	app.add_option("--duration", a.w.duration, "seconds measured (default 10)")
		->type_name("S")
		->check(CLI::Range(0.001, 1e6));
	app.add_option("--rate", a.w.rateIops,
		       "requests a second over all queues, paced (default: as fast as it goes)")
		->type_name("IOPS")
		->check(CLI::Range(1u, 100000000u));
	app.add_option("--ring", a.ring, "virtqueue layout: split (default) or packed")
		->type_name("RING");
	app.add_option("--workers", a.layout,
		       "worker layout of /dev/vhost-blk: single (default), per-vq, auto or a "
		       "number")
		->type_name("L");
	app.add_option("--worker-mode", a.mode, "task or kthread workers")
		->type_name("MODE")
		->check(CLI::IsMember({"task", "kthread"}));
	app.add_option("--device", a.device, "the vhost-blk device node (default /dev/vhost-blk)")
		->type_name("PATH");
}

void finishWorkloadOptions(WorkloadArgs &a, std::string_view command)
{
	auto rw = parseRw(a.rw);
	if (!rw)
		throw UsageError(fmt::format(
			"{}: --rw takes randread, randwrite or randrw, not '{}'", command, a.rw));
	a.w.rw = *rw;
	auto ring = virtio::parseRingType(a.ring);
	if (!ring)
		throw UsageError(
			fmt::format("{}: --ring takes split or packed, not '{}'", command, a.ring));
	a.w.ring = *ring;
	a.w.bs = parseBlockSize(a.bs, command);
	a.workers = parseLayout(a.layout, command);
	if (a.mode == "task")
		a.workerMode = vhost::WorkerMode::Task;
	else if (a.mode == "kthread")
		a.workerMode = vhost::WorkerMode::Kthread;
}

uint32_t parseBlockSize(std::string_view text, std::string_view command)
{
	constexpr uint64_t maxBlockSize = 4U << 20;
	uint64_t bytes = 0;

	try {
		bytes = parseSize(text, "block size");
	} catch (const UsageError &) {
		throw UsageError(
			fmt::format("{}: '{}' is not a block size (e.g. 4k)", command, text));
	}
	if (!bytes || bytes % virtio::blk::sectorSize || bytes > maxBlockSize)
		throw UsageError(
			fmt::format("{}: block size {} is not a multiple of 512 from 512 to 4M",
				    command, text));
	return static_cast<uint32_t>(bytes);
}

vhost::WorkerLayout parseLayout(std::string_view text, std::string_view command)
{
	if (auto layout = vhost::WorkerLayout::parse(text))
		return *layout;
	throw UsageError(fmt::format("{}: --workers takes single, per-vq, auto or a number of "
				     "workers from 1 to {}, not '{}'",
				     command, vhost::WorkerLayout::maxCount, text));
}

KernelTarget startKernel(const WorkloadArgs &a, const std::string &backendPath,
			 std::optional<unsigned int> busyPoll, std::string_view command)
{
	KernelTarget t;
	virtio::BlkDriverConfig cfg = driverConfig(a.w, a.queues);

	cfg.workerMode = a.workerMode;
	checkMemory(cfg, command);
	t.backend = openBackend(backendPath, a.w.rw);
	if (t.backend.size < a.w.bs)
		throw vhost::Error(EINVAL,
				   fmt::format("backend {}: {} bytes, less than one block of {}",
					       backendPath, t.backend.size, a.w.bs));
	t.drv = startDriver(cfg, [&] {
		return std::make_unique<virtio::BlkDriver>(vhost::BlkDevice::open(a.device), cfg);
	});
	t.workerIds = vhost::applyLayout(t.drv->kernel(), a.queues, a.workers, &t.pool);
	if (busyPoll)
		vhost::setBusyPoll(t.drv->kernel(), a.queues, *busyPoll);
	t.drv->attachBackend(t.backend.fd.get());
	return t;
}

std::unique_ptr<virtio::BlkDriver>
startDriver(const virtio::BlkDriverConfig &cfg,
	    const std::function<std::unique_ptr<virtio::BlkDriver>()> &bringUp)
{
	try {
		return bringUp();
	} catch (const vhost::Error &e) {
		if (cfg.ring != virtio::RingType::Packed || e.errnum() != EOPNOTSUPP)
			throw;
		throw vhost::Error(e.errnum(), fmt::format("--ring packed: {}", e.context()));
	}
}

std::optional<uint32_t> ownDevice(Context &ctx)
{
	auto self = static_cast<uint32_t>(::getpid());

	for (const auto &d : ctx.state().devices()) {
		if (d.ownerPid == self)
			return d.id;
	}
	return std::nullopt;
}

std::optional<vhost::LayoutSample> layoutSample(Context &ctx, unsigned int queues,
						std::optional<uint32_t> &devId)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!devId)
			devId = ownDevice(ctx);
		if (!devId)
			return std::nullopt;
		vhost::LayoutSample s;
		s.at = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
		for (const auto &w : ctx.state().workers(devId))
			s.busyNs[w.id] = w.busyNs;
		s.requests.assign(queues, 0);
		s.serving.assign(queues, 0);
		unsigned int seen = 0;
		for (const auto &v : ctx.state().vqs(devId)) {
			if (v.index >= queues)
				continue;
			s.requests[v.index] = v.requests;
			if (v.workerId) {
				s.serving[v.index] = *v.workerId;
				seen++;
			}
		}
		if (seen != queues)
			s.serving.clear();
		if (!s.busyNs.empty())
			return s;
		/* The device is gone (serve's next connection has another): look again. */
		devId.reset();
	}
	return std::nullopt;
}

namespace {

/*
 * --workers auto: every tick, the module's counters of the device (its
 * workers' busy time, its virtqueues' requests) go to the policy, and the
 * moves it decides are made with VHOST_ATTACH_VRING_WORKER.
 */
struct AutoDriver {
	Context &ctx;
	vhost::BlkTransport &dev;
	vhost::AutoLayout layout;

	AutoDriver(Context &c, vhost::BlkTransport &d, const std::vector<unsigned int> &pool,
		   const std::vector<unsigned int> &serving)
		: ctx(c), dev(d), layout(std::vector<uint32_t>(pool.begin(), pool.end()),
					 std::vector<uint32_t>(serving.begin(), serving.end()))
	{
		devId = ownDevice(ctx);
		if (!devId)
			throw vhost::Error(ENOENT, "--workers auto: the module does not list the "
						   "device (no netlink family?)");
	}

	std::optional<uint32_t> devId;

	void step()
	{
		auto s = layoutSample(ctx, static_cast<unsigned int>(layout.serving().size()),
				      devId);
		if (!s)
			return;
		for (const auto &m : layout.decide(*s))
			dev.attachVringWorker(m.vq, m.worker);
	}
};

/* Busy time of the workers of the device this process owns, from netlink. */
std::optional<uint64_t> workersBusyNs(Context &ctx)
{
	try {
		auto devId = ownDevice(ctx);

		if (!devId)
			return std::nullopt;
		uint64_t ns = 0;
		for (const auto &w : ctx.state().workers(devId))
			ns += w.busyNs;
		return ns;
	} catch (const std::exception &) {
		/* No netlink family (an older module, say): no worker figures. */
	}
	return std::nullopt;
}

} // namespace

Record resultRecord(const RunInfo &info, const Stats &st, std::optional<double> busyPct,
		    std::optional<unsigned int> layoutMoves)
{
	auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
	const Workload &w = info.w;
	Record r;

	r.str("target", info.target).str("path", info.path).optStr("layout", info.layout);
	if (info.workerIds)
		r.indices("worker_ids",
			  std::vector<uint32_t>(info.workerIds->begin(), info.workerIds->end()));
	else
		r.field("worker_ids", nullptr, "-");
	r.optU64("layout_moves",
		 layoutMoves ? std::optional<uint64_t>(*layoutMoves) : std::nullopt);
	r.str("ring", virtio::ringTypeName(w.ring))
		.str("rw", rwName(w.rw))
		.u64("bs", w.bs)
		.u64("iodepth", w.iodepth)
		.u64("queues", info.queues)
		.u64("poll_us", w.pollUs)
		.optU64("busy_poll_us", info.busyPollUs)
		.optU64("rate_iops",
			w.rateIops ? std::optional<uint64_t>(w.rateIops) : std::nullopt)
		.real("duration_s", st.elapsed, 1)
		.u64("ios", st.ios)
		.real("iops", static_cast<double>(st.ios) / st.elapsed, 0)
		.real("mb_per_s", static_cast<double>(st.bytes) / st.elapsed / 1e6, 1)
		.real("p50_us", us(st.latency.percentile(50)), 1)
		.real("p99_us", us(st.latency.percentile(99)), 1)
		.real("p999_us", us(st.latency.percentile(99.9)), 1)
		.real("max_us", us(st.latency.max()), 1);
	if (busyPct)
		r.real("worker_busy_pct", *busyPct, 1);
	else
		r.field("worker_busy_pct", nullptr, "-", true);
	if (st.cpuBusy && st.ios)
		r.real("cpu_us_per_io", *st.cpuBusy * 1e6 / static_cast<double>(st.ios), 2);
	else
		r.field("cpu_us_per_io", nullptr, "-", true);
	r.u64("errors", st.errors);
	return r;
}

int measure(Context &ctx, virtio::BlkDriver &drv, const RunInfo &info, uint64_t blocks,
	    const Progress &progress)
{
	bool kernel = info.target == "vhost-blk";
	auto busyBefore = kernel ? workersBusyNs(ctx) : std::nullopt;
	std::optional<AutoDriver> adaptive;
	Tick tick;
	if (kernel && info.autoPool && info.workerIds) {
		adaptive.emplace(ctx, drv.kernel(), *info.autoPool, *info.workerIds);
		tick = [&adaptive] { adaptive->step(); };
	}
	auto t0 = Clock::now();
	Stats st = runWorkload(drv, info.w, blocks, progress, tick);
	double wall = std::chrono::duration<double>(Clock::now() - t0).count();
	auto busyAfter = busyBefore ? workersBusyNs(ctx) : std::nullopt;

	std::optional<double> busyPct;
	if (busyBefore && busyAfter)
		busyPct = static_cast<double>(*busyAfter - *busyBefore) / 1e9 / wall * 100;
	RunInfo shown = info;
	std::optional<unsigned int> moves;
	if (adaptive) {
		/* Where the virtqueues are now, as the kernel says, and how often the policy moved
		 * one. */
		std::vector<unsigned int> serving;
		for (unsigned int q = 0; q < info.queues; q++)
			serving.push_back(drv.kernel().getVringWorker(q));
		shown.workerIds = serving;
		moves = adaptive->layout.moves();
	}
	printRecord(ctx.out, resultRecord(shown, st, busyPct, moves), ctx.opts);
	requireNoErrors(st);
	return exitOk;
}

} // namespace vhostctl::run

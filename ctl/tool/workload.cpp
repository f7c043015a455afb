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
#include <vector>

#include <fmt/format.h>

#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/signal_fd.hpp"

namespace vhostctl::run {

namespace {

using Clock = std::chrono::steady_clock;

/* A queue whose requests make no progress for this long has failed. */
constexpr auto stallTimeout = std::chrono::seconds(30);
constexpr auto pollInterval = std::chrono::milliseconds(100);
constexpr auto progressInterval = std::chrono::seconds(1);

/* What the queue threads share with the thread that waits for them. */
struct Shared {
	Clock::time_point measureFrom;
	Clock::time_point deadline;
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

	auto lastProgress = Clock::now();
	for (;;) {
		auto now = Clock::now();
		bool submitting = now < sh.deadline && !sh.stop.load() && !sh.interrupted.load();

		if (submitting) {
			while (q.inFlight() < q.depth()) {
				auto slot = q.submit(
					{pick(), (rng() % blocks) * sectorsPerBlock, w.bs, 0});

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
		if (w.pollUs && q.poll(std::chrono::microseconds(w.pollUs)))
			continue;
		q.wait(pollInterval);
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
	return "rw";
}

Stats runWorkload(virtio::BlkDriver &drv, const Workload &w, uint64_t blocks,
		  const Progress &progress)
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
	{
		std::vector<std::jthread> threads;
		std::atomic<unsigned int> running{drv.numQueues()};

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
		while (running.load()) {
			struct pollfd pfd = {signals.fd(), POLLIN, 0};
			if (::poll(&pfd, 1, static_cast<int>(pollInterval.count())) > 0 &&
			    signals.take())
				sh.interrupted.store(true);
			if (!progress || Clock::now() < next || sh.interrupted.load())
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

	/* A signal during the warm-up measures nothing: elapsed stays above 0. */
	auto end = std::min(Clock::now(), sh.deadline);
	Stats total;
	total.elapsed = std::max(1e-6, std::chrono::duration<double>(end - sh.measureFrom).count());
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
	/* Three descriptors a request. */
	cfg.queueSize = std::max(8U, std::bit_ceil(w.iodepth * 3));
	cfg.depth = w.iodepth;
	cfg.maxData = w.bs;
	return cfg;
}

} // namespace vhostctl::run

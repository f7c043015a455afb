// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::BlkDriver and the I/O engine of run and bench (runWorkload)
 * against an in-process virtio-blk device (fake_blk_device.hpp): data goes
 * through the rings both ways, a failed request is counted and named, a
 * malformed-ring report and a signal end a run, and constructing a driver
 * leaks nothing when an allocation fails.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>
#include <csignal>
#include <pthread.h>
#include <thread>

#include "alloc_hook.hpp"
#include "fake_blk_device.hpp"
#include "vhostctl/blk_driver.hpp"
#include "workload.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;
using test::FakeBlkDevice;
using test::FakeDisk;
using vhostctl::run::Rw;
using vhostctl::run::Workload;

namespace {

constexpr std::size_t diskBytes = 1 << 20;

virtio::BlkDriverConfig config(unsigned int queues = 2, unsigned int depth = 4)
{
	virtio::BlkDriverConfig cfg;
	cfg.queues = queues;
	cfg.queueSize = 16;
	cfg.depth = depth;
	cfg.maxData = 4096;
	return cfg;
}

std::unique_ptr<virtio::BlkDriver> driver(FakeDisk &disk, const virtio::BlkDriverConfig &cfg)
{
	auto drv = std::make_unique<virtio::BlkDriver>(std::make_unique<FakeBlkDevice>(disk), cfg);
	drv->attachBackend(0);
	return drv;
}

/* Submit one request on @q and wait for it. */
virtio::BlkCompletion roundTrip(virtio::BlkQueue &q, const virtio::BlkRequest &req)
{
	REQUIRE(q.submit(req));
	q.notify();
	std::optional<virtio::BlkCompletion> done;
	for (int i = 0; i < 100 && !done; i++) {
		q.wait(100ms);
		q.reap([&](const virtio::BlkCompletion &c) { done = c; });
	}
	REQUIRE(done);
	return *done;
}

} // namespace

TEST_CASE("BlkDriver: data goes through the rings both ways", "[blk-driver]")
{
	FakeDisk disk(diskBytes);
	auto drv = driver(disk, config());

	CHECK(drv->features() == FakeBlkDevice::offered);
	CHECK(drv->numQueues() == 2);
	for (unsigned int q = 0; q < 2; q++) {
		virtio::BlkQueue &queue = drv->queue(q);
		auto slot = queue.data(0);
		std::memset(slot.data(), 0x40 + static_cast<int>(q), 4096);
		auto w = roundTrip(queue, {virtio::blk::Type::Out, 8 * (q + 1), 4096, 7});
		CHECK(w.status == virtio::blk::StatusOk);
		CHECK(w.len == 1);
		CHECK(w.cookie == 7);
		CHECK(disk.data[512 * 8 * (q + 1)] == std::byte(0x40 + q));

		std::memset(slot.data(), 0, 4096);
		auto r = roundTrip(queue, {virtio::blk::Type::In, 8 * (q + 1), 4096, 8});
		CHECK(r.status == virtio::blk::StatusOk);
		CHECK(r.len == 4096 + 1);
		CHECK(r.sector == 8 * (q + 1));
		CHECK(queue.data(r.slot)[4095] == std::byte(0x40 + q));
	}
	CHECK(disk.requests == 4);
}

TEST_CASE("BlkDriver: a failed request comes back with its status", "[blk-driver]")
{
	FakeDisk disk(diskBytes);
	disk.badSectors = {33};
	auto drv = driver(disk, config(1));

	auto c = roundTrip(drv->queue(0), {virtio::blk::Type::In, 32, 4096, 0});
	CHECK(c.status == virtio::blk::StatusIoErr);
	CHECK(c.len == 1);
	/* More than a slot holds is the caller's mistake, refused. */
	CHECK_THROWS_AS(drv->queue(0).submit({virtio::blk::Type::In, 0, 8192, 0}),
			std::invalid_argument);
}

TEST_CASE("runWorkload: every queue runs, measures and writes", "[blk-driver][workload]")
{
	FakeDisk disk(diskBytes);
	auto drv = driver(disk, config(2, 4));
	Workload w{Rw::Mixed, 4096, 4, 0.3, 0.1, 0};

	auto st = vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
	CHECK(st.ios > 0);
	CHECK(st.errors == 0);
	CHECK(st.latency.count() == st.ios);
	CHECK(st.bytes == st.ios * 4096);
	CHECK(st.elapsed > 0.2);
	CHECK(st.elapsed < 1);
	/* The warm-up's requests ran but are not counted. */
	CHECK(disk.requests > st.ios);
	/* Both kinds, about half each. */
	CHECK(disk.reads > disk.requests / 4);
	CHECK(disk.writes > disk.requests / 4);
	CHECK_NOTHROW(vhostctl::run::requireNoErrors(st));

	/* Writes alone: their pattern lands on the disk. */
	FakeDisk fresh(diskBytes);
	auto wdrv = driver(fresh, config(1));
	Workload ww{Rw::RandWrite, 4096, 4, 0.1, 0, 0};
	auto wst = vhostctl::run::runWorkload(*wdrv, ww, diskBytes / 4096);
	CHECK(wst.ios == fresh.writes);
	CHECK(std::count(fresh.data.begin(), fresh.data.end(), std::byte{0xa5}) >= 4096);
}

TEST_CASE("runWorkload: --rate paces the requests and the CPU time is the window's",
	  "[blk-driver][workload]")
{
	FakeDisk disk(diskBytes);
	auto drv = driver(disk, config(2, 4));
	/* 200 a second over two queues: 100 each, one every 10 ms. */
	Workload w{Rw::RandRead, 4096, 4, 0.3, 0.1, 0, 200};

	auto st = vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
	/*
	 * A schedule is a ceiling, whatever the machine's speed: 0.4 s at
	 * 200 a second is 80, and the one due at each queue's start.
	 */
	CHECK(st.ios > 0);
	CHECK(disk.requests <= 80 + 2);
	CHECK(st.errors == 0);
	/*
	 * The machine's busy CPU time while measuring: never more than all
	 * its CPUs had (with a second for a late sample).
	 */
	REQUIRE(st.cpuBusy);
	CHECK(*st.cpuBusy >= 0);
	CHECK(*st.cpuBusy <= (st.elapsed + 1) * std::thread::hardware_concurrency());
}

TEST_CASE("runWorkload: failed requests are counted, the first one named", "[blk-driver][workload]")
{
	FakeDisk disk(diskBytes);
	for (uint64_t s = 0; s < diskBytes / 512; s += 16)
		disk.badSectors.insert(s);
	auto drv = driver(disk, config(1));
	Workload w{Rw::RandRead, 4096, 2, 0.2, 0, 0};

	auto st = vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
	CHECK(st.errors > 0);
	CHECK_THAT(st.firstError, ContainsSubstring("vq 0 IN sector"));
	CHECK_THAT(st.firstError, ContainsSubstring("status IOERR"));
	try {
		vhostctl::run::requireNoErrors(st);
		FAIL("no error");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == EIO);
		CHECK_THAT(e.what(), ContainsSubstring("requests failed"));
	}
}

TEST_CASE("runWorkload: a malformed-ring report ends the run", "[blk-driver][workload]")
{
	FakeDisk disk(diskBytes);
	auto drv = driver(disk, config(1));
	disk.malformed = true;
	Workload w{Rw::RandRead, 4096, 2, 5, 0, 0};

	auto t0 = std::chrono::steady_clock::now();
	CHECK_THROWS_WITH(vhostctl::run::runWorkload(*drv, w, diskBytes / 4096),
			  ContainsSubstring("the device reported a malformed ring"));
	CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

TEST_CASE("runWorkload: SIGINT ends the run early, with what was measured",
	  "[blk-driver][workload]")
{
	FakeDisk disk(diskBytes);
	auto drv = driver(disk, config(1));
	Workload w{Rw::RandRead, 4096, 2, 60, 0, 0};

	/*
	 * To the thread that runs the workload: the device's threads, started
	 * before it blocked the signal, would take a signal to the process.
	 */
	pthread_t runner = ::pthread_self();
	std::thread interrupt([runner] {
		std::this_thread::sleep_for(300ms);
		::pthread_kill(runner, SIGINT);
	});
	auto st = vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
	interrupt.join();
	CHECK(st.elapsed < 10);
	CHECK(st.ios > 0);
	CHECK(st.errors == 0);
}

TEST_CASE("BlkDriver: a construction that fails on an allocation leaks nothing",
	  "[blk-driver][alloc]")
{
	FakeDisk disk(diskBytes);
	bool built = false;

	/* Fail each allocation of the construction in turn. */
	for (std::size_t n = 0; n < 1000 && !built; n++) {
		test::alloc::arm(n);
		try {
			virtio::BlkDriver drv(std::make_unique<FakeBlkDevice>(disk), config(4, 2));
			test::alloc::disarm();
			built = true;
		} catch (const std::bad_alloc &) {
			test::alloc::disarm();
		}
		INFO("allocation " << n << " failed");
		REQUIRE(test::alloc::live() == 0);
	}
	CHECK(built);
}

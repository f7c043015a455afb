// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::BlkDriver and the I/O engine of run and bench (runWorkload)
 * against an in-process virtio-blk device (fake_blk_device.hpp): data goes
 * through the rings both ways, a failed request is counted and named, a
 * malformed-ring report and a signal end a run, and constructing a driver
 * leaks nothing when an allocation fails; packed rings the same, with and
 * without EVENT_IDX, against the device running on its own thread.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>
#include <csignal>
#include <pthread.h>
#include <random>
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

constexpr uint64_t packedBit = 1ULL << virtio::featureRingPacked;
constexpr uint64_t eventIdxBit = 1ULL << virtio::featureEventIdx;

/* Packed rings of 12 entries: not a power of two, 4 requests of 3 slots fill one. */
virtio::BlkDriverConfig packedConfig(unsigned int queues = 2, unsigned int depth = 4)
{
	virtio::BlkDriverConfig cfg = config(queues, depth);
	cfg.ring = virtio::RingType::Packed;
	cfg.queueSize = 12;
	return cfg;
}

/* @eventIdx: the device offers VIRTIO_RING_F_EVENT_IDX too, which the driver asks for. */
std::unique_ptr<virtio::BlkDriver> packedDriver(FakeDisk &disk, const virtio::BlkDriverConfig &cfg,
						bool eventIdx = false)
{
	auto drv = std::make_unique<virtio::BlkDriver>(
		std::make_unique<FakeBlkDevice>(disk, packedBit | (eventIdx ? eventIdxBit : 0)),
		cfg);
	drv->attachBackend(0);
	return drv;
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

TEST_CASE("BlkDriver: packed rings carry data both ways, lap after lap", "[blk-driver][packed]")
{
	FakeDisk disk(diskBytes);
	auto dev = std::make_unique<FakeBlkDevice>(disk, packedBit);
	FakeBlkDevice &fake = *dev;
	virtio::BlkDriver drv(std::move(dev), packedConfig());

	/* Index 0 and wrap counter 1 on both sides, for every ring. */
	CHECK(fake.getVringBase(0) == 0x80008000u);
	CHECK(fake.getVringBase(1) == 0x80008000u);
	drv.attachBackend(0);
	CHECK(drv.ring() == virtio::RingType::Packed);
	CHECK(drv.features() == (FakeBlkDevice::offered | packedBit));
	CHECK(fake.acked() == drv.features());
	for (unsigned int q = 0; q < 2; q++) {
		virtio::BlkQueue &queue = drv.queue(q);
		CHECK(queue.ring().type() == virtio::RingType::Packed);
		CHECK(queue.ring().size() == 12);
		/* 21 writes and reads of 3 slots each: 10 laps and a half of 12 slots. */
		unsigned int bad = 0;
		for (unsigned int i = 0; i < 21; i++) {
			uint64_t sector = 8 * (2 * i + q);
			auto slot = queue.data(0);
			std::memset(slot.data(), static_cast<int>(0x10 + i), 4096);
			auto w = roundTrip(queue, {virtio::blk::Type::Out, sector, 4096, i});
			bad += w.status != virtio::blk::StatusOk || w.len != 1 || w.cookie != i;
			std::memset(slot.data(), 0, 4096);
			auto r = roundTrip(queue, {virtio::blk::Type::In, sector, 4096, i});
			bad += r.status != virtio::blk::StatusOk || r.len != 4097;
			bad += queue.data(r.slot)[4095] != std::byte(0x10 + i);
		}
		CHECK(bad == 0);
		auto b = virtio::PackedVringBase::decode(queue.ring().vringBase());
		CHECK(b == virtio::PackedVringBase{6, true, 6, true});
		CHECK(fake.getVringBase(q) == b.encode());
	}
	CHECK(disk.requests == 84);
}

TEST_CASE("BlkDriver: a packed ring needs VIRTIO_F_RING_PACKED offered", "[blk-driver][packed]")
{
	FakeDisk disk(diskBytes);

	try {
		virtio::BlkDriver drv(std::make_unique<FakeBlkDevice>(disk), packedConfig());
		FAIL("a packed ring on a device that does not offer it");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == EOPNOTSUPP);
		CHECK_THAT(e.what(),
			   ContainsSubstring("fake-blk: packed virtqueues: the device does "
					     "not offer VIRTIO_F_RING_PACKED (bit 34"));
	}
	/* Offered, a split ring does not ack it. */
	virtio::BlkDriver split(std::make_unique<FakeBlkDevice>(disk, packedBit), config());
	CHECK(split.features() == FakeBlkDevice::offered);
	CHECK(split.queue(0).ring().type() == virtio::RingType::Split);

	/* A packed ring is virtio 1's: features asked for without VERSION_1 are refused. */
	auto legacy = packedConfig(1, 1);
	legacy.features = virtio::BlkDriverConfig::defaultFeatures & ~(1ULL << VIRTIO_F_VERSION_1);
	try {
		virtio::BlkDriver drv(std::make_unique<FakeBlkDevice>(disk, packedBit), legacy);
		FAIL("a packed ring without VIRTIO_F_VERSION_1");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == EINVAL);
		CHECK_THAT(e.what(), ContainsSubstring(fmt::format(
					     "packed virtqueues need VIRTIO_F_VERSION_1 (bit 32), "
					     "which the features asked for ({:#x}) leave out",
					     legacy.features)));
	}
	/* With it, or with the default features, they are fine; split rings need not. */
	legacy.features |= 1ULL << VIRTIO_F_VERSION_1;
	CHECK(virtio::BlkDriver::memorySize(legacy) > 0);
	legacy.features &= ~(1ULL << VIRTIO_F_VERSION_1);
	legacy.ring = virtio::RingType::Split;
	legacy.queueSize = 16;
	CHECK(virtio::BlkDriver::memorySize(legacy) > 0);

	/* Sizes: any from 1 to 32768 for packed, powers of two for split. */
	auto cfg = packedConfig(1, 1);
	cfg.queueSize = 100;
	CHECK(virtio::BlkDriver::memorySize(cfg) > 0);
	cfg.queueSize = 32769;
	CHECK_THROWS_AS(virtio::BlkDriver::memorySize(cfg), vhost::Error);
	cfg.ring = virtio::RingType::Split;
	cfg.queueSize = 100;
	CHECK_THROWS_AS(virtio::BlkDriver::memorySize(cfg), vhost::Error);
}

TEST_CASE("runWorkload: packed rings, every queue, with and without EVENT_IDX",
	  "[blk-driver][workload][packed]")
{
	auto eventIdx = GENERATE(false, true);
	FakeDisk disk(diskBytes);
	auto drv = packedDriver(disk, packedConfig(2, 4), eventIdx);
	CHECK(((drv->features() & eventIdxBit) != 0) == eventIdx);
	Workload w{Rw::Mixed, 4096, 4, 0.3, 0.1, 0};

	auto st = vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
	CHECK(st.ios > 0);
	CHECK(st.errors == 0);
	CHECK(st.bytes == st.ios * 4096);
	CHECK(disk.reads > disk.requests / 4);
	CHECK(disk.writes > disk.requests / 4);
	/* With EVENT_IDX the device called only where the driver's area asked. */
	CHECK(disk.calls > 0);
	CHECK((disk.callsSuppressed > 0) == eventIdx);
}

TEST_CASE("BlkDriver: a packed ring against a running device loses no kick or call, "
	  "with and without EVENT_IDX",
	  "[blk-driver][packed]")
{
	auto eventIdx = GENERATE(false, true);
	FakeDisk disk(diskBytes);
	/* 12 entries, 4 requests of 3 slots: a lap every 4 requests. */
	auto drv = packedDriver(disk, packedConfig(1, 4), eventIdx);
	virtio::BlkQueue &q = drv->queue(0);
	std::mt19937 rng(eventIdx ? 5 : 6);

	/*
	 * Batches of 1 to 4 requests, each waited for with the call armed.
	 * A lost kick or call shows as a wait that ends by its timeout: the
	 * device runs on its own thread and answers within milliseconds.
	 */
	unsigned int done = 0, bad = 0, slowWaits = 0;
	for (unsigned int round = 0; done < 3000 && !slowWaits; round++) {
		unsigned int n = 1 + static_cast<unsigned int>(rng() % 4);
		for (unsigned int i = 0; i < n; i++) {
			bool write = rng() % 2;
			uint64_t sector = 8 * (rng() % (diskBytes / 4096));
			auto type = write ? virtio::blk::Type::Out : virtio::blk::Type::In;
			bad += !q.submit({type, sector, 4096, round}).has_value();
		}
		q.notify();
		while (q.inFlight() && !slowWaits) {
			auto reaped = q.reap([&](const virtio::BlkCompletion &c) {
				bool in = c.type == virtio::blk::Type::In;
				bad += c.status != virtio::blk::StatusOk ||
				       c.len != (in ? 4097 : 1);
				bad += c.cookie != round;
				done++;
			});
			if (reaped)
				continue;
			auto t0 = std::chrono::steady_clock::now();
			q.wait(5s);
			slowWaits += std::chrono::steady_clock::now() - t0 > 2s;
		}
	}
	CHECK(slowWaits == 0);
	CHECK(bad == 0);
	CHECK(done >= 3000);
	CHECK(disk.requests == done);
	CHECK((disk.callsSuppressed > 0) == eventIdx);
	/* Both sides agree where the ring is: many laps of 12 slots. */
	auto b = virtio::PackedVringBase::decode(q.ring().vringBase());
	CHECK(b.availIdx == b.usedIdx);
	CHECK(q.ring().inFlight() == 0);
}

TEST_CASE("runWorkload: a packed ring's bad used id ends the run, naming the vq",
	  "[blk-driver][workload][packed]")
{
	FakeDisk disk(diskBytes);
	auto drv = packedDriver(disk, packedConfig(1, 2));
	disk.badUsedId = true;
	Workload w{Rw::RandRead, 4096, 2, 5, 0, 0};

	auto t0 = std::chrono::steady_clock::now();
	try {
		vhostctl::run::runWorkload(*drv, w, diskBytes / 4096);
		FAIL("the run went on");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == EPROTO);
		CHECK_THAT(e.what(),
			   ContainsSubstring("vq 0: packed ring of 12: used descriptor at "
					     "slot 0 (wrap 1): buffer id 12 is past the "
					     "ring"));
	}
	CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

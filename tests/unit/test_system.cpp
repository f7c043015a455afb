// SPDX-License-Identifier: GPL-2.0
/*
 * The library's small helpers: the little-endian codec, the config space
 * round trip, signals as a descriptor, unix socket addresses and peers.
 */
#include <catch2/catch_test_macros.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "fake_kernel_device.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/le.hpp"
#include "vhostctl/signal_fd.hpp"
#include "vhostctl/system.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/worker_layout.hpp"

namespace le = vhost::le;

TEST_CASE("The codec stores little endian at any alignment", "[system]")
{
	std::array<std::byte, 16> b{};

	le::store<uint32_t>(b.data() + 1, 0x11223344);
	CHECK(b[1] == std::byte{0x44});
	CHECK(b[4] == std::byte{0x11});
	CHECK(le::load<uint32_t>(b.data() + 1) == 0x11223344);
	le::store<uint64_t>(std::span(b), 8, 0x0102030405060708ULL);
	CHECK(b[8] == std::byte{0x08});
	CHECK(le::load<uint64_t>(std::span<const std::byte>(b), 8) == 0x0102030405060708ULL);
	CHECK_THROWS_AS(le::load<uint64_t>(std::span<const std::byte>(b), 9), std::out_of_range);
	CHECK_THROWS_AS(le::store<uint16_t>(std::span(b), 15, 1), std::out_of_range);
	CHECK(le::convert<uint16_t>(0x1234) == 0x1234); /* a little-endian host */
}

TEST_CASE("A config space decodes to what was encoded", "[system]")
{
	virtio::blk::ConfigParams p;
	p.geometry = {1ULL << 30, 4096, 4096, 0, 0};
	p.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_MQ) | (1ULL << VIRTIO_BLK_F_DISCARD);
	p.queues = 3;
	p.segMax = 77;
	auto bytes = virtio::blk::encodeConfig(p);
	auto c = virtio::blk::decodeConfig(bytes);

	CHECK(c.capacity == (1ULL << 30) / 512);
	CHECK(c.segMax == 77);
	CHECK(c.blkSize == 4096);
	CHECK(c.numQueues == 3);
	CHECK(c.maxDiscardSectors == p.maxDiscardSectors);
	CHECK(c.maxWriteZeroesSectors == 0); /* not offered */
	/* Only the bytes given: the capacity alone. */
	auto head = virtio::blk::decodeConfig(std::span(bytes).first(8));
	CHECK(head.capacity == c.capacity);
	CHECK(head.segMax == 0);
}

TEST_CASE("System facts", "[system]")
{
	CHECK(vhost::pageSize() == static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
	CHECK(vhost::physicalMemory() >= vhost::pageSize());
}

TEST_CASE("SignalFd turns a blocked signal into a readable descriptor", "[system]")
{
	{
		vhost::SignalFd sig({SIGUSR2});

		CHECK(sig.take() == 0);
		REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
		CHECK(sig.take() == SIGUSR2);
		CHECK(sig.take() == 0);
		/* One left pending is taken when the object goes, not delivered. */
		REQUIRE(::kill(::getpid(), SIGUSR2) == 0);
	}
	sigset_t mask;
	REQUIRE(::pthread_sigmask(SIG_BLOCK, nullptr, &mask) == 0);
	CHECK_FALSE(sigismember(&mask, SIGUSR2));
}

TEST_CASE("unix addresses and peer credentials", "[system]")
{
	CHECK(vhost::unixAddress("/run/x.sock").sun_family == AF_UNIX);
	try {
		vhost::unixAddress(std::string(200, 'x'));
		FAIL("no error");
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == ENAMETOOLONG);
	}
	CHECK_THROWS_AS(vhost::unixAddress(""), vhost::Error);

	int sv[2];
	REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	auto peer = vhost::peerCredentials(sv[0]);
	CHECK(peer.pid == ::getpid());
	CHECK(peer.uid == ::geteuid());
	CHECK(peer.gid == ::getegid());
	CHECK(peer.inGroup(::getegid()));
	for (gid_t g : peer.groups)
		CHECK(peer.inGroup(g));
	::close(sv[0]);
	::close(sv[1]);
}

TEST_CASE("Worker layouts: parsed, named and applied", "[layout]")
{
	using vhost::WorkerLayout;

	CHECK(WorkerLayout::parse("single") == WorkerLayout{WorkerLayout::Single, 0});
	CHECK(WorkerLayout::parse("per-vq") == WorkerLayout{WorkerLayout::PerVq, 0});
	CHECK(WorkerLayout::parse("3") == WorkerLayout{WorkerLayout::Count, 3});
	for (auto bad : {"", "0", "1025", "3x", "-1", "many"})
		CHECK_FALSE(WorkerLayout::parse(bad));
	CHECK(WorkerLayout::parse("1024")->text() == "1024");
	CHECK(WorkerLayout{WorkerLayout::PerVq, 0}.text() == "per-vq");

	test::FakeKernel k;
	auto dev = k.factory()();
	CHECK(vhost::applyLayout(*dev, 5, {WorkerLayout::Count, 2}) ==
	      std::vector<unsigned int>{1, 2, 1, 2, 1});
	CHECK(k.count("newWorker") == 2);
	CHECK(k.last("attachVringWorker", 4).a == 1);
	CHECK(vhost::applyLayout(*dev, 2, {}) == std::vector<unsigned int>{0, 0});
	CHECK(k.count("getVringWorker") == 2);
	CHECK(vhost::formatBindings({1, 2, 1}) == "0:1 1:2 2:1");
	vhost::setBusyPoll(*dev, 3, 50);
	CHECK(k.count("setVringBusyloopTimeout") == 3);
	CHECK(k.last("setVringBusyloopTimeout", 2).a == 50);
	CHECK_THROWS_AS(vhost::applyLayout(*dev, 2, {WorkerLayout::Count, 0}), vhost::Error);
}

TEST_CASE("cpuTime reads the machine's line of /proc/stat", "[system]")
{
	char path[] = "/tmp/vhostctl-stat-XXXXXX";
	vhost::UniqueFd fd(::mkstemp(path));
	REQUIRE(fd);
	std::string stat = "cpu  100 0 50 1000 30 5 5 10 40 0\n"
			   "cpu0 50 0 25 500 15 2 3 5 20 0\n"
			   "intr 12345\n";
	REQUIRE(::write(fd.get(), stat.data(), stat.size()) == static_cast<ssize_t>(stat.size()));
	auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));

	auto t = vhost::cpuTime(path);
	/* guest (40) is already in user: not counted twice. */
	CHECK(t.total == 1200 / hz);
	CHECK(t.busy == 170 / hz);

	/* No "cpu" line, or a short one: EINVAL naming the file. */
	for (std::string bad : {"cpu0 1 2 3 4 5 6 7 8\n", "cpu  1 2 3\n"}) {
		REQUIRE(::ftruncate(fd.get(), 0) == 0);
		REQUIRE(::pwrite(fd.get(), bad.data(), bad.size(), 0) ==
			static_cast<ssize_t>(bad.size()));
		try {
			vhost::cpuTime(path);
			FAIL("parsed " << bad);
		} catch (const vhost::Error &e) {
			CHECK(e.errnum() == EINVAL);
			CHECK(std::string(e.what()).find(path) != std::string::npos);
		}
	}
	::unlink(path);
	CHECK_THROWS_AS(vhost::cpuTime(path), vhost::Error);
	/* This machine's: busy within total. */
	auto now = vhost::cpuTime();
	CHECK(now.busy >= 0);
	CHECK(now.busy <= now.total);
}

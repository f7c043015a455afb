// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user-blk backend that bridges to /dev/vhost-blk, without a
 * kernel: the library's own Frontend (or raw messages, for what a well
 * behaved frontend never sends) on one end of a socketpair, the Backend in
 * a thread on the other, and a FakeKernel recording the ioctls it would
 * issue.
 */
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <linux/vhost.h>
#include <linux/virtio_blk.h>

#include "vhostctl/blk_config.hpp"

#include "bridge_util.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/vhost_user.hpp"
#include "vhostctl/vhost_user_backend.hpp"

using namespace std::chrono_literals;
using namespace vhost::user;
using namespace test::bridge;
using test::FakeKernel;
using vhost::Error;
using vhost::EventFd;
using vhost::UniqueFd;

TEST_CASE("features offered are the kernel's the bridge can honour, plus its own",
	  "[vhost-user-backend]")
{
	constexpr uint64_t packed = bit(VIRTIO_F_RING_PACKED),
			   iommu = bit(VIRTIO_F_ACCESS_PLATFORM),
			   wce = bit(VIRTIO_BLK_F_CONFIG_WCE), logAll = bit(26);
	uint64_t kernel = FakeKernel::vhostBlkFeatures | packed | iommu | wce | logAll;
	uint64_t f = offeredFeatures(kernel, false, true);

	CHECK((f & (iommu | wce)) == 0);
	/*
	 * Packed rings, when the kernel has them and serve was asked to
	 * (--packed): the bridge passes their state on, but a reconnect
	 * cannot recover them.
	 */
	CHECK(f & packed);
	CHECK_FALSE(offeredFeatures(FakeKernel::vhostBlkFeatures, false, true) & packed);
	CHECK_FALSE(offeredFeatures(kernel, false, false) & packed);
	CHECK(offeredFeatures(kernel, false, false) == (f & ~packed));
	/* Dirty logging, for migration: the bridge maps the log for the kernel. */
	CHECK(f & logAll);
	CHECK_FALSE(offeredFeatures(FakeKernel::vhostBlkFeatures, false, true) & logAll);
	CHECK(f & bit(featureProtocolFeatures));
	CHECK((f & FakeKernel::vhostBlkFeatures) == FakeKernel::vhostBlkFeatures);
	for (unsigned int b : {VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_TOPOLOGY})
		CHECK(f & bit(b));
	CHECK_FALSE(f & bit(VIRTIO_BLK_F_RO));
	CHECK_FALSE(f & bit(VIRTIO_BLK_F_SIZE_MAX));

	/* What the kernel does not implement is not offered. */
	uint64_t bare = FakeKernel::vhostBlkFeatures &
			~(bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK_FALSE(offeredFeatures(bare, false, false) &
		    (bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES)));

	/* Read-only: RO, and nothing that writes. */
	uint64_t ro = offeredFeatures(FakeKernel::vhostBlkFeatures, true, false);
	CHECK(ro & bit(VIRTIO_BLK_F_RO));
	CHECK_FALSE(ro & (bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES)));
}

TEST_CASE("SET_FEATURES reaches the kernel without bit 30 or the bridge's bits",
	  "[vhost-user-backend]")
{
	Bridge br;
	br.kernel.features |= bit(VIRTIO_F_ACCESS_PLATFORM);
	auto fe = br.frontend();

	CHECK(fe->protocolFeatures() ==
	      (Backend::protocolFeatures & Frontend::supportedProtocolFeatures));
	CHECK(fe->backendQueues() == 4);
	CHECK_FALSE(fe->features() & bit(VIRTIO_F_ACCESS_PLATFORM));
	fe->setOwner();
	uint64_t want = fe->features();
	/* The Frontend adds bit 30, as QEMU echoes it. */
	fe->setFeatures(want);
	auto call = br.kernel.last("setFeatures");
	CHECK_FALSE(call.a & bit(featureProtocolFeatures));
	CHECK_FALSE(call.a & bit(VIRTIO_BLK_F_BLK_SIZE));
	CHECK(call.a == (want & FakeKernel::vhostBlkFeatures));

	/* A bit never offered is refused, and the connection goes on. */
	CHECK(failsWith([&] { fe->setFeatures(want | bit(VIRTIO_F_ACCESS_PLATFORM)); }, EIO));
	CHECK(br.kernel.count("setFeatures") == 1);
	fe->setFeatures(want);
	CHECK(br.kernel.count("setFeatures") == 2);
	CHECK(br.log.str().find("not offered") != std::string::npos);
}

TEST_CASE("GET_CONFIG is built from the backend and echoes the size asked", "[vhost-user-backend]")
{
	Bridge br;
	br.opts.serial = "disk-7";
	auto fe = br.frontend();

	/* 60 bytes is what QEMU asks with DISCARD and WRITE_ZEROES. */
	auto cfg = fe->getConfig(60);
	REQUIRE(cfg.size() == 60);
	virtio_blk_config c = {};
	std::memcpy(&c, cfg.data(), cfg.size());
	CHECK(c.capacity == (64ULL << 20) / 512);
	CHECK(c.blk_size == 4096);
	CHECK(c.seg_max == 126);
	CHECK(c.num_queues == 4);
	CHECK(c.physical_block_exp == 0);
	CHECK(c.min_io_size == 1);
	CHECK(c.opt_io_size == 16);
	CHECK(c.max_discard_sectors > 0);
	CHECK(c.max_discard_seg >= 1);
	CHECK(c.discard_sector_alignment == 8);
	CHECK(c.max_write_zeroes_sectors > 0);
	CHECK(c.size_max == 0);
	CHECK(c.wce == 0);

	/* Any size and offset within the config space, exactly. */
	CHECK(fe->getConfig(8).size() == 8);
	auto tail = fe->getConfig(4, 20);
	REQUIRE(tail.size() == 4);
	CHECK(load<uint32_t>(tail.data()) == 4096);
	CHECK(fe->getConfig(256).size() == 256);

	/* The serial goes to the kernel right after SET_OWNER. */
	fe->setOwner();
	CHECK(br.kernel.ops() == std::vector<std::string>{"setOwner", "setSerial", "setLimits"});
	CHECK(br.kernel.last("setSerial").a == 6);
	/* The limits of that config space, for the kernel to enforce. */
	CHECK(br.kernel.last("setLimits").a == (64ULL << 20) / 512);
	CHECK(br.kernel.last("setLimits").b == 0);
}

TEST_CASE("GET_CONFIG without DISCARD leaves its limits zero", "[vhost-user-backend]")
{
	Bridge br;
	br.kernel.features &= ~(bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES));
	br.opts.readOnly = true;
	auto fe = br.frontend();

	CHECK(fe->features() & bit(VIRTIO_BLK_F_RO));
	auto cfg = fe->getConfig(60);
	virtio_blk_config c = {};
	std::memcpy(&c, cfg.data(), cfg.size());
	CHECK(c.max_discard_sectors == 0);
	CHECK(c.max_write_zeroes_sectors == 0);
	CHECK(c.capacity == (64ULL << 20) / 512);
}

TEST_CASE("memory and ring addresses are translated into the bridge's mappings",
	  "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);

	/* The kernel's table: the guest ranges, at addresses of this bridge's own mappings. */
	auto frontendTable = g.mem.regions();
	std::vector<vhost::MemRegion> table;
	{
		std::lock_guard lock(br.kernel.mutex);
		table = br.kernel.memTable;
	}
	REQUIRE(table.size() == 2);
	for (std::size_t i = 0; i < 2; i++) {
		CHECK(table[i].guestPhysAddr == frontendTable[i].guestPhysAddr);
		CHECK(table[i].size == frontendTable[i].size);
		CHECK(table[i].userAddr != frontendTable[i].userAddr);
	}

	/* Ring 1: its bridge addresses see what the frontend wrote at its own. */
	auto a = g.addr(1);
	uint64_t magic = 0x1122334455667788;
	std::memcpy(g.rings[1].host.data(), &magic, sizeof(magic));
	std::memcpy(g.rings[1].host.data() + 2048, &magic, 4);
	fe->setVringNum(1, ringSize);
	fe->setVringAddr(1, a);
	auto call = br.kernel.last("setVringAddr", 1);
	CHECK(call.a != a.desc);
	CHECK(call.b - call.a == a.avail - a.desc);
	CHECK(call.c - call.a == a.used - a.desc);
	CHECK(*reinterpret_cast<const uint64_t *>(call.a) == magic);
	CHECK(*reinterpret_cast<const uint32_t *>(call.c) == uint32_t(magic));
	/* The same holds in the second region. */
	uint64_t far = frontendTable[1].userAddr + 8192;
	std::memcpy(reinterpret_cast<void *>(far), &magic, sizeof(magic));
	fe->setVringNum(2, ringSize);
	fe->setVringAddr(2, {far, far + 256, far + 1024});
	CHECK(*reinterpret_cast<const uint64_t *>(br.kernel.last("setVringAddr", 2).a) == magic);

	/* An address outside every region is refused before the kernel sees it. */
	std::size_t before = br.kernel.count("setVringAddr");
	CHECK(failsWith([&] { fe->setVringAddr(3, {0x1000, 0x2000, 0x3000}); }, EIO));
	CHECK(br.kernel.count("setVringAddr") == before);
	CHECK(br.log.str().find("in no memory region") != std::string::npos);
}

TEST_CASE("a new memory table keeps unchanged mappings; a ring must stay in it",
	  "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);
	auto first = br.kernel.last("setVringAddr", 0);

	/* The same table again: same mappings, the rings are not touched. */
	br.kernel.clear();
	fe->setMemTable(g.mem.regions());
	CHECK(br.kernel.ops() == std::vector<std::string>{"setMemTable"});

	/* Memory at another file: hot-plug elsewhere; the ring is not in it any more. */
	virtio::Memory other(1 << 20, 1ULL << 34);
	CHECK(failsWith([&] { fe->setMemTable(other.regions()); }, EIO));
	CHECK(br.kernel.count("setMemTable") == 1);
	CHECK(br.kernel.count("setVringAddr") == 0);
	CHECK(first.a != 0);
}

TEST_CASE("bring-up attaches the backend once the rings are enabled, workers first",
	  "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);

	g.setUp(*fe, 0);
	CHECK(br.kernel.count("setBackend") == 0);
	fe->enableVring(0, true);
	auto ops = br.kernel.ops(false);
	auto at = std::find(ops.begin(), ops.end(), "setBackend");
	REQUIRE(at != ops.end());
	CHECK(*(at - 1) == "attachVringWorker");
	CHECK(br.kernel.last("setBackend").a == fakeBackendFd);
	CHECK(br.kernel.count("newWorker") == 4);

	/* Kick and call are the frontend's eventfds themselves. */
	g.kicks[0].signal();
	uint64_t v = 0;
	REQUIRE(::read(br.kernel.file("setVringKick", 0), &v, sizeof(v)) == sizeof(v));
	CHECK(v == 1);

	/*
	 * Ring 1 set up but not enabled: hidden from the kernel while the
	 * backend is attached again for ring 2.
	 */
	g.setUp(*fe, 1);
	br.kernel.clear();
	g.start(*fe, 2);
	ops = br.kernel.ops();
	auto pos = [&](const std::string &op) {
		return std::find(ops.begin(), ops.end(), op) - ops.begin();
	};
	CHECK(pos("detachBackend") < pos("setBackend"));
	CHECK(br.kernel.count("newWorker") == 0);
	auto addrs = br.kernel.snapshot();
	std::vector<uint64_t> ring1;
	for (const auto &c : addrs)
		if (c.op == "setVringAddr" && c.index == 1)
			ring1.push_back(c.a);
	REQUIRE(ring1.size() == 2);
	CHECK(ring1[0] == 0);
	CHECK(ring1[1] != 0);
	CHECK(br.log.str().find("serving vq 0,2") != std::string::npos);
}

TEST_CASE("SET_VRING_CALL is forwarded every time it comes", "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);

	EventFd masked;
	br.kernel.clear();
	fe->setVringCall(0, masked.fd());
	fe->setVringCall(0, g.calls[0].fd());
	fe->setVringCall(0, masked.fd());
	fe->setVringCall(0, -1);
	fe->setVringCall(0, g.calls[0].fd());
	CHECK(br.kernel.count("setVringCall") == 5);
	CHECK(br.kernel.last("setVringCall").index == 0);
	CHECK(br.kernel.snapshot()[3].a == uint64_t(-1));

	/* The kernel holds the frontend's own eventfd. */
	uint64_t one = 1, v = 0;
	REQUIRE(::write(br.kernel.file("setVringCall", 0), &one, sizeof(one)) == sizeof(one));
	CHECK(g.calls[0].wait(1000));
	CHECK(g.calls[0].consume() == 1);
	(void)v;
	/* The backend stays off the data path: nothing else happened. */
	CHECK(br.kernel.count("setBackend") == 0);
}

TEST_CASE("GET_VRING_BASE stops the ring and answers the kernel's index", "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	br.kernel.vringBase = 1234;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);

	CHECK(fe->getVringBase(0) == 1234);
	CHECK(br.kernel.last("getVringBase").index == 0);
	br.kernel.vringBase = 7;
	CHECK(fe->getVringBase(3) == 7);
}

TEST_CASE("a stopped ring is set up again and restarts (guest reboot)", "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	br.kernel.vringBase = 40;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);
	g.start(*fe, 1);
	REQUIRE(br.kernel.count("setBackend") == 2);

	/* Stop: QEMU disables, then takes the bases. */
	fe->enableVring(0, false);
	fe->enableVring(1, false);
	CHECK(fe->getVringBase(0) == 40);
	CHECK(fe->getVringBase(1) == 40);

	/* Start again, maybe with a new memory table: the backend is detached first. */
	br.kernel.clear();
	fe->setFeatures(fe->features() & FakeKernel::vhostBlkFeatures);
	fe->setMemTable(g.mem.regions());
	g.setUp(*fe, 0);
	fe->setVringBase(0, 40);
	fe->enableVring(0, true);
	g.setUp(*fe, 1);
	fe->enableVring(1, true);
	auto ops = br.kernel.ops();
	auto first = [&](const std::string &op) {
		return std::find(ops.begin(), ops.end(), op) - ops.begin();
	};
	CHECK(first("detachBackend") < first("setVringNum 0"));
	CHECK(br.kernel.last("setVringBase", 0).a == 40);
	CHECK(br.kernel.count("setBackend") == 2);
	CHECK(br.kernel.count("newWorker") == 0);
	CHECK(ops.back() != "detachBackend");

	/* Re-enabling a disabled ring restarts it on its kick. */
	br.kernel.clear();
	fe->enableVring(1, false);
	fe->enableVring(1, true);
	CHECK(br.kernel.ops() == std::vector<std::string>{"getVringBase 1", "setVringKick 1"});
}

TEST_CASE("disconnect closes the device; RESET_OWNER does as well", "[vhost-user-backend]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);
	CHECK(br.kernel.opened == 1);

	fe.reset(); /* GET_VRING_BASE on the started ring, then hang up */
	CHECK(br.join() == Backend::End::Disconnected);
	CHECK(br.kernel.closed == 1);
	auto ops = br.kernel.ops();
	CHECK(ops.back() == "close");
	CHECK(ops[ops.size() - 2] == "getVringBase 0");
}

TEST_CASE("RESET_OWNER closes the device, the next SET_OWNER opens another", "[vhost-user-backend]")
{
	Bridge br;
	br.start();
	int sock = br.peer.get();
	rawHandshake(sock);
	CHECK(br.kernel.opened == 1);

	sendRaw(sock, Request::ResetOwner, {});
	CHECK(ack(sock, Request::ResetOwner) == 0);
	CHECK(br.kernel.closed == 1);
	sendRaw(sock, Request::SetOwner, {});
	CHECK(ack(sock, Request::SetOwner) == 0);
	CHECK(br.kernel.opened == 2);
	CHECK(br.kernel.last("setOwner").dev == 2);
}

TEST_CASE("unsupported and malformed messages are refused, the connection goes on",
	  "[vhost-user-backend]")
{
	Bridge br;
	br.start();
	int sock = br.peer.get();

	/* Before SET_OWNER the device cannot be configured. */
	sendRaw(sock, Request::GetFeatures, {}, 0);
	recvReply(sock, Request::GetFeatures);
	sendRaw(sock, Request::SetProtocolFeatures, encodeU64(bit(protocolReplyAck)));
	CHECK(ack(sock, Request::SetProtocolFeatures) == 0);
	sendRaw(sock, Request::SetVringNum, encodeVringState({0, 8}));
	CHECK(ack(sock, Request::SetVringNum) == EPERM);
	sendRaw(sock, Request::SetOwner, {});
	CHECK(ack(sock, Request::SetOwner) == 0);

	/* Each refused with a non-zero ack. */
	sendRaw(sock, Request::SetConfig, encodeConfig(0, 4, 0));
	CHECK(ack(sock, Request::SetConfig) != 0);
	/* Without LOG_SHMFD there is no log this process could map. */
	sendRaw(sock, Request::SetLogBase, encodeLog({4096, 0}));
	CHECK(ack(sock, Request::SetLogBase) == EOPNOTSUPP);
	sendRaw(sock, Request::SetBackendReqFd, encodeU64(0));
	CHECK(ack(sock, Request::SetBackendReqFd) != 0);
	sendRaw(sock, static_cast<Request>(99), {});
	CHECK(ack(sock, static_cast<Request>(99)) != 0);
	sendRaw(sock, Request::SetProtocolFeatures, encodeU64(bit(protocolInflightShmfd)));
	CHECK(ack(sock, Request::SetProtocolFeatures) != 0);
	sendRaw(sock, Request::SetVringNum, encodeVringState({9, 8}));
	CHECK(ack(sock, Request::SetVringNum) == EINVAL);
	sendRaw(sock, Request::SetVringNum, {std::byte{1}});
	CHECK(ack(sock, Request::SetVringNum) == EPROTO);
	/* Polling without a kick eventfd cannot be mapped onto the kernel. */
	sendRaw(sock, Request::SetVringKick, encodeU64(0 | vringNoFd));
	CHECK(ack(sock, Request::SetVringKick) == EOPNOTSUPP);
	/* A kick without its descriptor. */
	sendRaw(sock, Request::SetVringKick, encodeU64(0));
	CHECK(ack(sock, Request::SetVringKick) == EINVAL);
	/* A kernel failure is passed on. */
	br.kernel.fail("setVringNum", EBUSY);
	sendRaw(sock, Request::SetVringNum, encodeVringState({0, 8}));
	CHECK(ack(sock, Request::SetVringNum) == EBUSY);
	/* Without NEED_REPLY a refusal is only logged. */
	sendRaw(sock, Request::SetConfig, encodeConfig(0, 4, 0), 0);

	/* Still answering. */
	sendRaw(sock, Request::GetQueueNum, {}, 0);
	CHECK(decodeU64(recvReply(sock, Request::GetQueueNum).payload) == 4);
	std::string log = br.log.str();
	CHECK(log.find("SET_CONFIG refused") != std::string::npos);
	CHECK(log.find("request 99 refused") != std::string::npos);
	CHECK(log.find("SET_VRING_NUM refused") != std::string::npos);
}

namespace {

/* A memfd of @bytes, as QEMU allocates the dirty log. */
UniqueFd logFile(std::size_t bytes)
{
	return memfd(bytes);
}

/* Negotiate LOG_SHMFD and REPLY_ACK by hand, and become owner. */
void logHandshake(int sock)
{
	sendRaw(sock, Request::SetProtocolFeatures,
		encodeU64(bit(protocolReplyAck) | bit(protocolLogShmfd)));
	REQUIRE(ack(sock, Request::SetProtocolFeatures) == 0);
	sendRaw(sock, Request::SetOwner, {});
	REQUIRE(ack(sock, Request::SetOwner) == 0);
}

} // namespace

TEST_CASE("SET_LOG_BASE maps QEMU's shared log and hands the mapping to the kernel",
	  "[vhost-user-backend][log]")
{
	Bridge br;
	br.kernel.features |= bit(VHOST_F_LOG_ALL);
	br.start();
	int sock = br.peer.get();
	logHandshake(sock);

	/* The log at an offset that is not a page boundary, as a frontend may put it. */
	UniqueFd log = logFile(4 * 4096);
	sendRaw(sock, Request::SetLogBase, encodeLog({8192, 4096 + 64}), 0, {log.get()});
	/* QEMU reads an empty reply, whatever REPLY_ACK says. */
	Message m = recvReply(sock, Request::SetLogBase);
	CHECK(m.payload.empty());
	auto call = br.kernel.last("setLogBase");
	REQUIRE(call.a != 0);
	/* A bit the kernel sets lands in the frontend's file at the offset it gave. */
	auto *bitmap = reinterpret_cast<volatile uint8_t *>(call.a);
	bitmap[0] = 0x5a;
	bitmap[8191] = 0xa5;
	uint8_t got[2] = {};
	REQUIRE(::pread(log.get(), &got[0], 1, 4096 + 64) == 1);
	REQUIRE(::pread(log.get(), &got[1], 1, 4096 + 64 + 8191) == 1);
	CHECK(got[0] == 0x5a);
	CHECK(got[1] == 0xa5);

	/* A log that grew: the kernel gets the new mapping. */
	UniqueFd bigger = logFile(4 * 4096);
	sendRaw(sock, Request::SetLogBase, encodeLog({4 * 4096, 0}), 0, {bigger.get()});
	CHECK(recvReply(sock, Request::SetLogBase).payload.empty());
	CHECK(br.kernel.count("setLogBase") == 2);
	CHECK(br.kernel.last("setLogBase").a != call.a);

	/* SET_LOG_FD: the eventfd goes to the kernel. */
	EventFd ev;
	sendRaw(sock, Request::SetLogFd, {}, flagNeedReply, {ev.fd()});
	CHECK(ack(sock, Request::SetLogFd) == 0);
	REQUIRE(br.kernel.file("setLogFd", 0) >= 0);
	ev.signal();
	uint64_t v = 0;
	REQUIRE(::read(br.kernel.file("setLogFd", 0), &v, sizeof(v)) == sizeof(v));
	CHECK(v == 1);
	CHECK(br.log.str().find("dirty log: 16384 bytes") != std::string::npos);
}

TEST_CASE("a log the bridge cannot map ends the connection: QEMU would take any reply as success",
	  "[vhost-user-backend][log]")
{
	Bridge br;
	br.start();
	int sock = br.peer.get();
	logHandshake(sock);
	UniqueFd log = logFile(4096);
	std::vector<std::byte> payload;
	std::vector<int> fds = {log.get()};
	const char *why = "";

	SECTION("past the end of the file")
	{
		payload = encodeLog({4096, 4096});
		why = "in a file of 4096 bytes";
	}
	SECTION("empty")
	{
		payload = encodeLog({0, 0});
		why = "a log of 0 bytes";
	}
	SECTION("larger than any guest")
	{
		payload = encodeLog({1ULL << 40, 0});
		why = "1 to 1073741824 bytes";
	}
	SECTION("without its descriptor")
	{
		payload = encodeLog({4096, 0});
		fds.clear();
		why = "0 descriptors instead of 1";
	}
	SECTION("not a file")
	{
		EventFd ev;
		payload = encodeLog({4096, 0});
		fds = {ev.fd()};
		sendRaw(sock, Request::SetLogBase, payload, 0, fds);
		CHECK(br.join() == Backend::End::Failed);
		CHECK(br.log.str().find("non-regular file") != std::string::npos);
		return;
	}
	SECTION("a payload of the wrong size")
	{
		payload = encodeU64(4096);
		why = "log";
	}
	sendRaw(sock, Request::SetLogBase, payload, 0, fds);
	CHECK(br.join() == Backend::End::Failed);
	CHECK(br.kernel.count("setLogBase") == 0);
	std::string text = br.log.str();
	INFO(text);
	CHECK(text.find("SET_LOG_BASE refused") != std::string::npos);
	CHECK(text.find(why) != std::string::npos);
	CHECK(text.find("waits for a reply") != std::string::npos);
}

TEST_CASE("logging turned on and off while a ring runs leaves it attached",
	  "[vhost-user-backend][log]")
{
	Bridge br;
	br.kernel.features |= bit(VHOST_F_LOG_ALL);
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.start(*fe, 0);
	REQUIRE(br.kernel.count("setBackend") == 1);
	auto before = br.kernel.last("setVringAddr", 0);

	/* What QEMU does when a migration starts: LOG_ALL, then each ring's log flag. */
	br.kernel.clear();
	fe->setFeatures((fe->features() & FakeKernel::vhostBlkFeatures) | bit(VHOST_F_LOG_ALL));
	CHECK(br.kernel.last("setFeatures").a & bit(VHOST_F_LOG_ALL));
	vhost::VringAddr a = g.addr(0);
	a.flags = 1U << VHOST_VRING_F_LOG;
	a.log = (1ULL << 30) + 2048;
	fe->setVringAddr(0, a);
	{
		std::lock_guard lock(br.kernel.mutex);
		const auto &k = br.kernel.vqs.at(0).addr;
		CHECK(k.flags == (1U << VHOST_VRING_F_LOG));
		/* The used ring's guest physical address, as the frontend gave it. */
		CHECK(k.log == (1ULL << 30) + 2048);
		CHECK(k.desc == before.a);
		CHECK(k.used == before.c);
	}
	/* At the end of the migration, off again. */
	a.flags = 0;
	fe->setVringAddr(0, a);
	auto ops = br.kernel.ops();
	CHECK(ops == std::vector<std::string>{"setFeatures", "setVringAddr 0", "setVringAddr 0"});

	/* A flag the kernel does not know is refused before it reaches it. */
	a.flags = 2;
	CHECK(failsWith([&] { fe->setVringAddr(0, a); }, EIO));
	CHECK(br.kernel.count("setVringAddr") == 2);

	/* A ring that really moves still detaches the backend first. */
	a = g.addr(0);
	a.used += 64;
	fe->setVringAddr(0, a);
	CHECK(br.kernel.count("detachBackend") == 1);
}

TEST_CASE("a request whose reply cannot be given ends the connection", "[vhost-user-backend]")
{
	SECTION("GET_INFLIGHT_FD, never offered")
	{
		Bridge br;
		br.start();
		sendRaw(br.peer.get(), Request::GetInflightFd, std::vector<std::byte>(24), 0);
		CHECK(br.join() == Backend::End::Failed);
		CHECK(failsWith([&] { recvMessage(br.peer.get(), "test", 1s); }, ECONNRESET));
		CHECK(br.log.str().find("GET_INFLIGHT_FD refused") != std::string::npos);
	}
	SECTION("GET_CONFIG past the config space")
	{
		Bridge br;
		br.start();
		sendRaw(br.peer.get(), Request::GetConfig, encodeConfig(250, 16, 0), 0);
		CHECK(br.join() == Backend::End::Failed);
	}
	SECTION("a reply sent as a request")
	{
		Bridge br;
		br.start();
		sendRaw(br.peer.get(), Request::GetFeatures, {}, flagReply);
		CHECK(br.join() == Backend::End::Failed);
	}
}

TEST_CASE("serveConnections serves one connection after another until stopped",
	  "[vhost-user-backend]")
{
	TempDir dir;
	std::string path = (dir.path / "blk.sock").string();
	FakeKernel kernel;
	LogCapture log;
	ServerOptions opts;
	opts.backend = defaultOptions(log);
	EventFd stop;
	auto listener = std::make_unique<vhost::UnixListener>(vhost::UnixListener::bind(path));
	unsigned int served = 0;
	std::thread server([&] {
		served = serveConnections(listener->fd(), stop.fd(), kernel.factory(), opts);
	});

	for (int i = 0; i < 2; i++) {
		Guest g;
		auto fe = Frontend::connect(path, 4, {.connectTimeout = 2000ms});
		bringUp(*fe, g);
		g.start(*fe, 0);
		fe->close();
	}
	/*
	 * A second server on the same path is refused; its probe is a
	 * connection that hangs up at once.
	 */
	CHECK(failsWith([&] { vhost::UnixListener::bind(path); }, EADDRINUSE));
	/* The last connection is open when the stop comes. */
	auto fe = Frontend::connect(path, 1, {.connectTimeout = 2000ms});
	fe->setOwner();
	stop.signal();
	server.join();
	CHECK(served == 4);
	CHECK(kernel.opened == 3);
	CHECK(kernel.closed == 3);
	CHECK(kernel.count("newWorker") == 2 * 4);
	CHECK(log.has("connection 2 closed by the frontend"));
	CHECK(log.has("connection 4 ended by a signal"));

	/* The listener removes its file; a stale one would be replaced. */
	listener.reset();
	CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a peer the access policy does not allow is hung up on", "[vhost-user-backend]")
{
	TempDir dir;
	std::string path = (dir.path / "blk.sock").string();
	FakeKernel kernel;
	LogCapture log;
	ServerOptions opts;
	opts.backend = defaultOptions(log);
	/* Some other user alone: not this process. */
	opts.access = {{::geteuid() + 4242}, {}};
	EventFd stop;
	auto listener = vhost::UnixListener::bind(path);
	unsigned int served = 0;
	std::thread server([&] {
		served = serveConnections(listener.fd(), stop.fd(), kernel.factory(), opts);
	});

	CHECK(failsWith([&] { Frontend::connect(path, 1, {.connectTimeout = 2000ms}); },
			ECONNRESET));
	for (int i = 0; i < 100 && !log.has("refused"); i++)
		std::this_thread::sleep_for(10ms);
	CHECK(log.has(fmt::format("uid {} gid {} refused: only uid {} may connect", ::geteuid(),
				  ::getegid(), ::geteuid() + 4242)));
	stop.signal();
	server.join();
	CHECK(served == 0);
	CHECK(kernel.opened == 0);

	/* One of the peer's groups will do. */
	opts.access.groups = {::getegid()};
	std::thread again([&] {
		served = serveConnections(listener.fd(), stop.fd(), kernel.factory(), opts);
	});
	stop.consume();
	auto fe = Frontend::connect(path, 1, {.connectTimeout = 2000ms});
	fe->setOwner();
	stop.signal();
	again.join();
	CHECK(served == 1);
}

TEST_CASE("a listener's file: its permissions before anyone connects, removed only if its own",
	  "[vhost-user-backend]")
{
	TempDir dir;
	std::string path = (dir.path / "blk.sock").string();
	struct stat st = {};

	{
		auto l = vhost::UnixListener::bind(path, {0640, ::getegid()});
		REQUIRE(::stat(path.c_str(), &st) == 0);
		CHECK((st.st_mode & 07777) == 0640);
		CHECK(st.st_gid == ::getegid());
		CHECK(l.bound());
		CHECK(l.path() == path);
	}
	CHECK_FALSE(std::filesystem::exists(path));

	/* The path taken over by another process's socket: left alone. */
	{
		auto l = vhost::UnixListener::bind(path);
		std::filesystem::rename(path, path + ".old");
		auto other = vhost::UnixListener::bind(path);
		auto moved = std::move(l);
		/* The moved-from listener removes nothing either. */
	}
	CHECK(std::filesystem::exists(path + ".old"));
	CHECK_FALSE(std::filesystem::exists(path));
	{
		auto l = vhost::UnixListener::bind(path);
		std::filesystem::remove(path);
		std::ofstream(path) << "not a socket";
	}
	CHECK(std::filesystem::exists(path));
	/* A file that is not a socket is not replaced. */
	CHECK(failsWith([&] { vhost::UnixListener::bind(path); }, EEXIST));
	std::filesystem::remove(path);

	/* A stale socket file (nobody listens) is. */
	UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	auto addr = vhost::unixAddress(path);
	REQUIRE(::bind(stale.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
	CHECK(vhost::UnixListener::bind(path).bound());
}

TEST_CASE("a socket's permissions never reach what a symbolic link points to",
	  "[vhost-user-backend]")
{
	TempDir dir;
	std::string path = (dir.path / "blk.sock").string();
	std::string target = (dir.path / "secret").string();
	struct stat st = {};

	std::ofstream(target) << "not a socket";
	REQUIRE(::chmod(target.c_str(), 0600) == 0);
	std::filesystem::create_symlink(target, path);
	/* A symbolic link where the socket should be: the file it names keeps its mode. */
	CHECK(failsWith([&] { vhost::applyPermissions(path, {0666, ::getegid()}); }, ENOTSOCK));
	REQUIRE(::stat(target.c_str(), &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);
	/* Nor does a file that is not a socket change. */
	CHECK(failsWith([&] { vhost::applyPermissions(target, {0666, std::nullopt}); }, ENOTSOCK));
	REQUIRE(::stat(target.c_str(), &st) == 0);
	CHECK((st.st_mode & 07777) == 0600);

	/* A socket's file does. */
	std::filesystem::remove(path);
	auto l = vhost::UnixListener::bind(path);
	vhost::applyPermissions(path, {0660, ::getegid()});
	REQUIRE(::lstat(path.c_str(), &st) == 0);
	CHECK((st.st_mode & 07777) == 0660);
	CHECK(st.st_gid == ::getegid());
}

TEST_CASE("an inherited listening socket is adopted, its file left to its maker",
	  "[vhost-user-backend]")
{
	TempDir dir;
	std::string path = (dir.path / "blk.sock").string();
	auto made = vhost::UnixListener::bind(path);
	{
		auto l = vhost::UnixListener::adopt(UniqueFd(::dup(made.fd())));
		CHECK(l.path() == path);
		CHECK_FALSE(l.bound());
		CHECK(::fcntl(l.fd(), F_GETFD) & FD_CLOEXEC);
	}
	CHECK(std::filesystem::exists(path));

	/* Not a listening unix stream socket. */
	auto [a, b] = socketPair();
	CHECK(failsWith([&] { vhost::UnixListener::adopt(std::move(a)); }, ENOTSOCK));
	UniqueFd dgram(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	CHECK(failsWith([&] { vhost::UnixListener::adopt(std::move(dgram)); }, ENOTSOCK));
	UniqueFd file(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	CHECK(failsWith([&] { vhost::UnixListener::adopt(std::move(file)); }, ENOTSOCK));
}

namespace {

/* A backend whose size the test sets, and a frontend with a backend channel. */
struct Resizable {
	std::atomic<uint64_t> bytes{64ULL << 20};
	Bridge br;
	int sock = -1;
	UniqueFd channel;

	explicit Resizable(bool withChannel = true,
			   std::chrono::milliseconds interval = std::chrono::milliseconds(0))
	{
		br.opts.probe = [this] {
			virtio::blk::Geometry g = br.opts.geometry;
			g.bytes = bytes.load();
			return g;
		};
		br.opts.checkInterval = interval;
		br.start();
		sock = br.peer.get();
		sendRaw(sock, Request::GetFeatures, {}, 0);
		recvReply(sock, Request::GetFeatures);
		sendRaw(sock, Request::GetProtocolFeatures, {}, 0);
		uint64_t offered = decodeU64(recvReply(sock, Request::GetProtocolFeatures).payload);
		REQUIRE(offered & bit(protocolBackendReq));
		uint64_t want = bit(protocolReplyAck) | bit(protocolConfig) |
				(withChannel ? bit(protocolBackendReq) : 0);
		sendRaw(sock, Request::SetProtocolFeatures, encodeU64(want));
		REQUIRE(ack(sock, Request::SetProtocolFeatures) == 0);
		if (withChannel) {
			auto [ours, theirs] = socketPair();
			sendRaw(sock, Request::SetBackendReqFd, encodeU64(0), flagNeedReply,
				{theirs.get()});
			REQUIRE(ack(sock, Request::SetBackendReqFd) == 0);
			channel = std::move(ours);
		}
		sendRaw(sock, Request::SetOwner, {});
		REQUIRE(ack(sock, Request::SetOwner) == 0);
	}
	uint64_t capacity()
	{
		sendRaw(sock, Request::GetConfig, encodeConfig(0, 8, 0), 0);
		auto c = decodeConfig(recvReply(sock, Request::GetConfig).payload);
		return virtio::blk::decodeConfig(c.data).capacity;
	}
};

} // namespace

TEST_CASE("the config space follows the backend's size, and the frontend is told",
	  "[vhost-user-backend][resize]")
{
	Resizable r;
	CHECK(r.capacity() == (64ULL << 20) / 512);

	/* Asked through the refresh descriptor (serve's SIGHUP). */
	r.bytes = 96ULL << 20;
	r.br.refresh.signal();
	Message m = recvMessage(r.channel.get(), "backend channel", 5s);
	CHECK(m.header.request == static_cast<uint32_t>(BackendRequest::ConfigChangeMsg));
	CHECK(m.header.flags == version); /* no NEED_REPLY: the frontend reads the config first */
	CHECK(m.payload.empty());
	CHECK(r.capacity() == (96ULL << 20) / 512);
	CHECK(r.br.kernel.last("setLimits").a == (96ULL << 20) / 512);
	CHECK(r.br.log.has("the backend grew from 67108864 to 100663296 bytes"));

	/* The same size again: nothing to tell. */
	r.br.refresh.signal();
	r.capacity();
	CHECK(r.br.kernel.count("setLimits") == 2);
}

TEST_CASE("a size the kernel refuses is not offered, and is tried again",
	  "[vhost-user-backend][resize]")
{
	Resizable r;
	REQUIRE(r.capacity() == (64ULL << 20) / 512);

	/* The kernel refuses the new capacity: the guest keeps the old one. */
	r.br.kernel.fail("setLimits", EINVAL);
	r.bytes = 96ULL << 20;
	r.br.refresh.signal();
	CHECK(r.capacity() == (64ULL << 20) / 512);
	CHECK(r.br.log.has("backend size: "));
	CHECK_FALSE(r.br.log.has("the backend grew"));
	CHECK(r.br.kernel.last("setLimits").a == (64ULL << 20) / 512);

	/* The next look tries again, and the frontend is told only then. */
	r.br.refresh.signal();
	Message m = recvMessage(r.channel.get(), "backend channel", 5s);
	CHECK(m.header.request == static_cast<uint32_t>(BackendRequest::ConfigChangeMsg));
	CHECK(r.capacity() == (96ULL << 20) / 512);
	CHECK(r.br.kernel.last("setLimits").a == (96ULL << 20) / 512);
}

TEST_CASE("the backend's size is checked every checkInterval", "[vhost-user-backend][resize]")
{
	Resizable r(true, 20ms);
	r.bytes = 128ULL << 20;
	Message m = recvMessage(r.channel.get(), "backend channel", 5s);
	CHECK(m.header.request == static_cast<uint32_t>(BackendRequest::ConfigChangeMsg));
	CHECK(r.capacity() == (128ULL << 20) / 512);
}

TEST_CASE("without a backend channel a resize is served but cannot be announced",
	  "[vhost-user-backend][resize]")
{
	Resizable r(false);
	r.bytes = 80ULL << 20;
	r.br.refresh.signal();
	CHECK(r.capacity() == (80ULL << 20) / 512);
	CHECK(r.br.log.has("gave no backend channel"));
	CHECK(r.br.kernel.last("setLimits").a == (80ULL << 20) / 512);

	/* A channel without BACKEND_REQ negotiated is refused. */
	EventFd e;
	sendRaw(r.sock, Request::SetBackendReqFd, encodeU64(0), flagNeedReply, {e.fd()});
	CHECK(ack(r.sock, Request::SetBackendReqFd) == EINVAL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user bridge against a hostile frontend: every size, index,
 * descriptor and address is checked before the kernel sees it, a memory
 * table is taken whole or not at all, and a failure to start the rings is
 * the failure of the message that asked for it.  The FakeKernel records a
 * violation whenever the kernel would serve a ring outside its memory
 * table or a table that is no longer mapped; a seeded fuzz run of the
 * message handler must leave none.
 */
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bridge_util.hpp"

using namespace test::bridge;
using test::FakeKernel;

namespace {

/* sendmsg() with any number of descriptors, past what sendMessage allows. */
void sendWithFds(int sock, Request req, const std::vector<std::byte> &payload,
		 const std::vector<int> &fds)
{
	Header h = {static_cast<uint32_t>(req), version | flagNeedReply,
		    static_cast<uint32_t>(payload.size())};
	auto hdr = encodeHeader(h);
	std::vector<std::byte> bytes(hdr.begin(), hdr.end());
	bytes.insert(bytes.end(), payload.begin(), payload.end());
	std::vector<char> control(CMSG_SPACE(fds.size() * sizeof(int)));
	struct iovec iov = {bytes.data(), bytes.size()};
	struct msghdr msg = {};

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.data();
	msg.msg_controllen = control.size();
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
	std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
	REQUIRE(::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

std::size_t openFds()
{
	std::size_t n = 0;
	for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator("/proc/self/fd"))
		n++;
	return n;
}

/* A bridge after the raw handshake (REPLY_ACK, owner). */
struct Raw {
	Bridge br;
	int sock = -1;

	Raw()
	{
		br.start();
		sock = br.peer.get();
		rawHandshake(sock);
	}
	uint64_t send(Request req, std::vector<std::byte> payload, std::vector<int> fds = {})
	{
		sendRaw(sock, req, std::move(payload), flagNeedReply, std::move(fds));
		return ack(sock, req);
	}
	uint64_t memTable(const std::vector<MemTableRegion> &regions, std::vector<int> fds)
	{
		return send(Request::SetMemTable, encodeMemTable(regions), std::move(fds));
	}
};

/* A started ring, its memory the Guest's, through the library's Frontend. */
struct Started {
	Bridge br;
	Guest g;
	std::unique_ptr<Frontend> fe = br.frontend();

	Started()
	{
		bringUp(*fe, g);
		g.start(*fe, 0);
		REQUIRE(br.kernel.count("setBackend") == 1);
	}
};

} // namespace

TEST_CASE("hostile SET_MEM_TABLE: counts, overlaps, empty and overflowing regions",
	  "[vhost-user-backend][hostile]")
{
	Raw r;
	auto a = memfd(1 << 20), b = memfd(1 << 20);
	MemTableRegion one = {1ULL << 30, 1 << 20, 0x7f0000000000, 0};
	MemTableRegion two = {2ULL << 30, 1 << 20, 0x7f0000100000, 0};

	/* Region and descriptor counts that do not match, both ways. */
	CHECK(r.memTable({one, two}, {a.get()}) == EINVAL);
	CHECK(r.memTable({one}, {a.get(), b.get()}) == EINVAL);
	CHECK(r.memTable({one}, {}) == EINVAL);
	/* Guest ranges that overlap. */
	MemTableRegion over = two;
	over.guestPhysAddr = one.guestPhysAddr + 4096;
	CHECK(r.memTable({one, over}, {a.get(), b.get()}) == EINVAL);
	/* An empty region. */
	MemTableRegion empty = one;
	empty.size = 0;
	CHECK(r.memTable({empty}, {a.get()}) == EINVAL);
	/* Regions that overflow: guest, frontend address, file offset. */
	for (auto overflow : {&MemTableRegion::guestPhysAddr, &MemTableRegion::userAddr,
			      &MemTableRegion::mmapOffset}) {
		MemTableRegion bad = one;
		bad.*overflow = UINT64_MAX - 4095;
		CHECK(r.memTable({bad}, {a.get()}) == EINVAL);
	}
	/* Past the end of its file. */
	MemTableRegion past = one;
	past.mmapOffset = 4096;
	CHECK(r.memTable({past}, {a.get()}) == EINVAL);
	/* A count beyond the eight a message holds. */
	auto nine = encodeMemTable(std::vector<MemTableRegion>(9, one));
	CHECK(r.send(Request::SetMemTable, nine, {a.get()}) == EPROTO);

	/* None of it reached the kernel; a good table still does. */
	CHECK(r.br.kernel.count("setMemTable") == 0);
	CHECK(r.memTable({one, two}, {a.get(), b.get()}) == 0);
	CHECK(r.br.kernel.count("setMemTable") == 1);
	r.br.kernel.check("end");
	CHECK(r.br.kernel.violations.empty());
}

TEST_CASE("hostile descriptors: more than eight, or on a message that takes none",
	  "[vhost-user-backend][hostile]")
{
	Raw r;
	std::vector<UniqueFd> many;
	std::vector<int> fds;
	for (int i = 0; i < 12; i++) {
		many.emplace_back(::eventfd(0, EFD_CLOEXEC));
		fds.push_back(many.back().get());
	}
	std::size_t before = openFds();

	/* Twelve descriptors: MSG_CTRUNC; refused, and the stream stays in step. */
	sendWithFds(r.sock, Request::SetVringCall, encodeU64(0), fds);
	CHECK(ack(r.sock, Request::SetVringCall) == EPROTO);
	/* One on a message that takes none. */
	CHECK(r.send(Request::SetVringNum, encodeVringState({0, 8}), {fds[0]}) == EINVAL);
	/* Two on a call, and none on a kick without the no-fd bit. */
	CHECK(r.send(Request::SetVringCall, encodeU64(0), {fds[0], fds[1]}) == EINVAL);
	CHECK(r.send(Request::SetVringKick, encodeU64(0)) == EINVAL);

	/* Nothing was kept: the bridge holds no descriptor it was sent. */
	CHECK(openFds() == before);
	CHECK(r.br.kernel.count("setVringCall") == 0);
	CHECK(r.br.kernel.count("setVringNum") == 0);
	sendRaw(r.sock, Request::GetQueueNum, {}, 0);
	CHECK(decodeU64(recvReply(r.sock, Request::GetQueueNum).payload) == 4);
}

TEST_CASE("hostile vq indices on every vring message", "[vhost-user-backend][hostile]")
{
	Raw r;
	EventFd e;

	for (uint32_t index : {4U, 5U, 255U, 256U, UINT32_MAX}) {
		INFO("vq " << index);
		CHECK(r.send(Request::SetVringNum, encodeVringState({index, 8})) == EINVAL);
		CHECK(r.send(Request::SetVringBase, encodeVringState({index, 0})) == EINVAL);
		CHECK(r.send(Request::SetVringEnable, encodeVringState({index, 1})) == EINVAL);
		CHECK(r.send(Request::SetVringAddr,
			     encodeVringAddr({index, 0, 0x1000, 0x2000, 0x3000, 0})) == EINVAL);
		/* KICK, CALL and ERR carry the index in 8 bits, and nothing above bit 8. */
		for (auto req :
		     {Request::SetVringKick, Request::SetVringCall, Request::SetVringErr})
			CHECK(r.send(req, encodeU64(index), {e.fd()}) == EINVAL);
	}
	CHECK(r.br.kernel.ops() == std::vector<std::string>{"setOwner", "setLimits"});

	/* GET_VRING_BASE waits for a reply that cannot be given: the connection ends. */
	sendRaw(r.sock, Request::GetVringBase, encodeVringState({4, 0}), 0);
	CHECK(r.br.join() == Backend::End::Failed);
	CHECK(r.br.kernel.count("getVringBase") == 0);
}

TEST_CASE("hostile ring sizes: NUM may not grow a ring past its memory",
	  "[vhost-user-backend][hostile]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);

	/* Ring 3 sits 12 KiB into the first region of 512 KiB. */
	fe->setVringNum(3, ringSize);
	fe->setVringAddr(3, g.addr(3));
	REQUIRE(br.kernel.last("setVringNum", 3).a == ringSize);
	/* 32768 entries would put its descriptors across the region's end. */
	CHECK(failsWith([&] { fe->setVringNum(3, 32768); }, EIO));
	CHECK(br.log.has("vq 3: a split ring of 32768 entries"));
	/* Not a power of two, or past virtio's largest ring. */
	CHECK(failsWith([&] { fe->setVringNum(3, 48); }, EIO));
	CHECK(failsWith([&] { fe->setVringNum(3, 65536); }, EIO));
	CHECK(failsWith([&] { fe->setVringNum(3, 0); }, EIO));
	CHECK(br.kernel.count("setVringNum") == 1);

	/* The ring starts at the size that fits; the kernel serves memory only. */
	fe->setVringBase(3, 0);
	fe->setVringCall(3, g.calls[3].fd());
	fe->setVringKick(3, g.kicks[3].fd());
	fe->enableVring(3, true);
	CHECK(br.kernel.count("setBackend") == 1);
	br.kernel.check("end");
	CHECK(br.kernel.violations == std::vector<std::string>{});

	/* ADDR first, then a NUM too large for it, on another ring. */
	uint64_t end = g.mem.regions()[1].userAddr + g.mem.regions()[1].size;
	fe->setVringAddr(2, {end - 4096, end - 2048, end - 1024});
	CHECK(failsWith([&] { fe->setVringNum(2, 256); }, EIO));
	fe->setVringNum(2, 32);
	CHECK(br.kernel.last("setVringNum", 2).a == 32);
}

TEST_CASE("a new memory table moves ring addresses into the new mappings",
	  "[vhost-user-backend][hostile]")
{
	Started s;
	auto first = s.br.kernel.last("setVringAddr", 0);

	/* The same guest layout, in another file: the bridge maps that one instead. */
	virtio::Memory other(1 << 20, 1ULL << 30, 2);
	uint64_t magic = 0x5a5a123456789abcULL;
	std::size_t ring0 = s.g.rings[0].userAddr() - reinterpret_cast<uintptr_t>(s.g.mem.base());
	std::memcpy(const_cast<std::byte *>(other.base()) + ring0, &magic, sizeof(magic));
	auto regions = s.g.mem.regions();
	for (auto &r : regions)
		r.fd = other.fd();

	s.br.kernel.clear();
	s.fe->setMemTable(regions);
	auto moved = s.br.kernel.last("setVringAddr", 0);
	CHECK(moved.a != first.a);
	CHECK(moved.b - moved.a == first.b - first.a);
	CHECK(moved.c - moved.a == first.c - first.a);
	/* The kernel's ring address reads the new file. */
	CHECK(*reinterpret_cast<const uint64_t *>(moved.a) == magic);
	CHECK(s.br.kernel.ops() == std::vector<std::string>{"setMemTable", "setVringAddr 0"});
	s.br.kernel.check("end");
	CHECK(s.br.kernel.violations == std::vector<std::string>{});
}

TEST_CASE("SET_MEM_TABLE is all or nothing", "[vhost-user-backend][hostile]")
{
	Started s;
	auto oldTable = [&] {
		std::lock_guard lock(s.br.kernel.mutex);
		return s.br.kernel.memTable;
	}();
	auto oldRing = s.br.kernel.last("setVringAddr", 0);
	virtio::Memory other(1 << 20, 1ULL << 30, 2);
	auto regions = s.g.mem.regions();
	for (auto &r : regions)
		r.fd = other.fd();

	SECTION("a ring address the kernel refuses puts the old table back")
	{
		s.br.kernel.fail("setVringAddr", ENOMEM);
		CHECK(failsWith([&] { s.fe->setMemTable(regions); }, EIO));
		std::lock_guard lock(s.br.kernel.mutex);
		REQUIRE(s.br.kernel.memTable.size() == oldTable.size());
		for (std::size_t i = 0; i < oldTable.size(); i++)
			CHECK(s.br.kernel.memTable[i].userAddr == oldTable[i].userAddr);
		CHECK(s.br.kernel.vqs[0].addr.desc == oldRing.a);
		s.br.kernel.checkLocked("after the rollback");
		CHECK(s.br.kernel.violations == std::vector<std::string>{});
	}
	SECTION("a rollback that fails keeps both tables mapped and ends the connection")
	{
		s.br.kernel.fail("setVringAddr", ENOMEM);
		s.br.kernel.fail("setMemTable", ENOMEM, 1);
		CHECK_THROWS_AS(s.fe->setMemTable(regions), Error);
		CHECK(s.br.join() == Backend::End::Failed);
		CHECK(s.br.log.has("could not be restored"));
		/* The kernel still points into mappings that are there. */
		s.br.kernel.check("after the failed rollback");
		CHECK(s.br.kernel.violations == std::vector<std::string>{});
	}
	SECTION("the connection goes on after a refused table")
	{
		s.br.kernel.fail("setVringAddr", ENOMEM);
		CHECK_THROWS_AS(s.fe->setMemTable(regions), Error);
		s.fe->setMemTable(regions);
		CHECK(*reinterpret_cast<const uint32_t *>(s.br.kernel.last("setVringAddr", 0).a) ==
		      0);
	}
}

TEST_CASE("a failure to start the rings is the failure of the message that asked",
	  "[vhost-user-backend][hostile]")
{
	Bridge br;
	Guest g;
	auto fe = br.frontend();
	bringUp(*fe, g);
	g.setUp(*fe, 0);

	br.kernel.fail("setBackend", ENOSPC);
	/* The enable is what starts the ring: it is refused. */
	CHECK(failsWith([&] { fe->enableVring(0, true); }, EIO));
	CHECK(br.log.has("SET_VRING_ENABLE refused"));
	CHECK_FALSE(br.kernel.attached);
	/* Messages that change no ring do not try again, and are not refused. */
	std::size_t tries = br.kernel.count("newWorker");
	EventFd masked;
	fe->setVringCall(0, masked.fd());
	fe->setVringCall(0, g.calls[0].fd());
	CHECK(fe->getConfig(8).size() == 8);
	CHECK(br.kernel.count("setBackend") == 0);
	CHECK_FALSE(br.log.has("SET_VRING_CALL refused"));
	/* The next change of the ring starts it. */
	fe->enableVring(0, false);
	fe->enableVring(0, true);
	CHECK(br.kernel.count("setBackend") == 1);
	CHECK(br.kernel.count("newWorker") == tries);
}

TEST_CASE("without a logger the library writes nowhere", "[vhost-user-backend]")
{
	std::ostringstream captured;
	auto *old = std::cerr.rdbuf(captured.rdbuf());
	{
		Bridge br;
		br.opts.log = nullptr;
		br.start();
		rawHandshake(br.peer.get());
		sendRaw(br.peer.get(), Request::SetConfig, encodeConfig(0, 4, 0));
		CHECK(ack(br.peer.get(), Request::SetConfig) == EPERM);
	}
	std::cerr.rdbuf(old);
	CHECK(captured.str().empty());
}

/*
 * The fuzz run: random messages, mostly well formed, some not, with random
 * kernel failures; after each one the kernel must serve only memory that
 * is mapped, and the bridge must answer every reply it owes or end the
 * connection.  Seeds are fixed, so that a failure replays.
 */
namespace {

struct Fuzzer {
	std::mt19937_64 rng;
	Guest g;
	std::vector<UniqueFd> files;
	std::vector<EventFd> events = std::vector<EventFd>(4);

	explicit Fuzzer(uint64_t seed) : rng(seed)
	{
		files.push_back(memfd(1 << 20));
		files.push_back(memfd(1 << 20));
	}
	uint64_t pick(uint64_t n) { return rng() % n; }
	bool chance(unsigned int percent) { return pick(100) < percent; }

	uint32_t index() { return static_cast<uint32_t>(chance(90) ? pick(4) : pick(300)); }
	uint32_t num()
	{
		static constexpr uint32_t nums[] = {1, 8, 64, 256, 4096, 32768, 0, 3, 65536};
		return nums[pick(std::size(nums))];
	}
	/* An address in the guest's memory (as the frontend sees it), or near or past it. */
	uint64_t addr()
	{
		auto regions = g.mem.regions();
		const auto &r = regions[pick(regions.size())];
		switch (pick(4)) {
		case 0:
			return r.userAddr + 4096 * pick(r.size / 4096);
		case 1:
			return r.userAddr + r.size - 64 * (1 + pick(64));
		case 2:
			return rng();
		default:
			return g.rings[pick(4)].userAddr();
		}
	}
	std::vector<MemTableRegion> table(std::vector<int> &fds)
	{
		auto regions = g.mem.regions();
		std::vector<MemTableRegion> out;
		for (const auto &r : regions) {
			MemTableRegion t = {r.guestPhysAddr, r.size, r.userAddr, r.fdOffset};
			if (chance(10))
				t.size += 4096 * pick(3);
			if (chance(5))
				t.guestPhysAddr = regions[0].guestPhysAddr;
			out.push_back(t);
			fds.push_back(chance(80) ? g.mem.fd() : files[pick(2)].get());
		}
		if (chance(10))
			fds.pop_back();
		return out;
	}
};

void fuzz(uint64_t seed, unsigned int messages)
{
	Fuzzer f(seed);
	auto br = std::make_unique<Bridge>();
	br->start();
	unsigned int connections = 1;
	bool fresh = true;

	for (unsigned int i = 0; i < messages; i++) {
		int sock = br->peer.get();
		/* A fresh connection, or now and then a fresh device on this one. */
		bool handshake = std::exchange(fresh, false);
		bool restart = !handshake && f.chance(2);
		if (handshake)
			rawHandshake(sock);
		if (restart) {
			sendRaw(sock, Request::ResetOwner, {});
			REQUIRE(ack(sock, Request::ResetOwner) == 0);
			sendRaw(sock, Request::SetOwner, {});
			REQUIRE(ack(sock, Request::SetOwner) == 0);
		}
		if (handshake || restart) {
			sendRaw(sock, Request::SetFeatures,
				encodeU64(FakeKernel::vhostBlkFeatures |
					  bit(featureProtocolFeatures)));
			REQUIRE(ack(sock, Request::SetFeatures) == 0);
		}
		if (f.chance(3))
			br->kernel.fail(f.chance(50) ? "setVringAddr" : "setBackend", EIO);

		Request req;
		std::vector<std::byte> payload;
		std::vector<int> fds;
		uint32_t q = f.index();
		switch (f.pick(10)) {
		case 0:
			req = Request::SetMemTable;
			payload = encodeMemTable(f.table(fds));
			break;
		case 1:
			req = Request::SetVringNum;
			payload = encodeVringState({q, f.num()});
			break;
		case 2:
			req = Request::SetVringAddr;
			payload = encodeVringAddr(
				{q, 0, f.addr(), f.addr(), f.addr(), 0}); /* desc, used, avail */
			break;
		case 3:
			req = Request::SetVringBase;
			payload = encodeVringState({q, static_cast<uint32_t>(f.pick(70000))});
			break;
		case 4:
			req = Request::SetVringKick;
			payload = encodeU64(q);
			fds.push_back(f.events[f.pick(4)].fd());
			break;
		case 5:
			req = Request::SetVringCall;
			payload = encodeU64(q);
			fds.push_back(f.events[f.pick(4)].fd());
			break;
		case 6:
			req = Request::SetVringEnable;
			payload = encodeVringState({q, static_cast<uint32_t>(f.pick(3))});
			break;
		case 7:
			req = Request::GetVringBase;
			payload = encodeVringState({static_cast<uint32_t>(f.pick(4)), 0});
			break;
		case 8: {
			/*
			 * Any request but SET_PROTOCOL_FEATURES (which could
			 * turn REPLY_ACK off), any payload.
			 */
			req = static_cast<Request>(f.pick(45));
			if (req == Request::SetProtocolFeatures)
				req = Request::SetConfig;
			payload.resize(f.pick(48));
			for (auto &b : payload)
				b = static_cast<std::byte>(f.rng());
			break;
		}
		default:
			req = Request::GetConfig;
			payload = encodeConfig(0, static_cast<uint32_t>(f.pick(60)), 0);
			break;
		}
		if (f.chance(3))
			fds.push_back(f.events[0].fd());
		sendRaw(sock, req, payload, flagNeedReply, fds);

		/* Every message is answered (an ack or its reply), or the connection ends. */
		Message m;
		bool ended = false;
		try {
			m = recvMessage(sock, "fuzz", 5s);
		} catch (const Error &e) {
			INFO("seed " << seed << " message " << i << ": " << requestName(req) << ", "
				     << payload.size() << " bytes, " << fds.size()
				     << " fds: " << e.what() << "\n"
				     << br->log.str());
			REQUIRE(e.errnum() == ECONNRESET);
			ended = true;
		}
		if (!ended)
			CHECK(m.header.request == static_cast<uint32_t>(req));
		br->kernel.check(fmt::format("seed {} message {}", seed, i));
		REQUIRE(br->kernel.violations == std::vector<std::string>{});
		if (ended) {
			br->join();
			br = std::make_unique<Bridge>();
			br->start();
			connections++;
			fresh = true;
		}
	}
	INFO("seed " << seed << ": " << connections << " connections");
	CHECK(connections < messages / 4);
}

} // namespace

TEST_CASE("fuzz: random messages never make the kernel serve unmapped memory",
	  "[vhost-user-backend][hostile][fuzz]")
{
	for (uint64_t seed : {1ULL, 2ULL, 3ULL, 0xdecafbadULL})
		fuzz(seed, 600);
}

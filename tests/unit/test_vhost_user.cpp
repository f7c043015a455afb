// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user frontend: the wire format byte by byte, and the frontend
 * against a fake backend on a socketpair (a thread answering messages).
 * test_vhost_user_qsd.cpp has it against a real qemu-storage-daemon.
 */
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <linux/virtio_blk.h>

#include "vhostctl/blk_request.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/split_queue.hpp"
#include "vhostctl/unique_fd.hpp"
#include "vhostctl/vhost_user.hpp"

#include "test_util.hpp"

using namespace std::chrono_literals;
using vhost::Error;
using vhost::UniqueFd;
using namespace vhost::user;

namespace {

constexpr uint64_t bit(unsigned int n)
{
	return 1ULL << n;
}

std::array<UniqueFd, 2> socketPair()
{
	int sv[2];

	REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

/* Does the error carry @err and a context starting with @prefix? */
bool failsWith(const std::function<void()> &fn, int err, const std::string &prefix)
{
	try {
		fn();
	} catch (const Error &e) {
		UNSCOPED_INFO(e.what());
		return e.errnum() == err && e.context().rfind(prefix, 0) == 0;
	}
	UNSCOPED_INFO("no error");
	return false;
}

/* A temporary directory, removed with what is in it. */

constexpr uint64_t virtioVersion1 = bit(32);
constexpr uint64_t protocolBit = bit(featureProtocolFeatures);

/*
 * A backend in a thread on one end of a socketpair: answers what has a
 * reply, acks NEED_REPLY, and records every message (descriptors
 * included) for the test to read after join().
 */
class FakeBackend
{
public:
	uint64_t features = virtioVersion1 | protocolBit | bit(29);
	uint64_t protocol = bit(protocolMq) | bit(protocolReplyAck) | bit(protocolConfig) |
			    bit(protocolLogShmfd) | bit(protocolConfigureMemSlots);
	uint64_t queueNum = 4;
	uint32_t lastAvail = 42;
	std::vector<std::byte> config = std::vector<std::byte>(60);
	/* Ack this request with nackValue instead of 0. */
	Request nack{};
	uint64_t nackValue = 1;
	/* Close the socket when this request comes, or never answer it. */
	Request hangUpOn{};
	Request silentOn{};
	/* Alter a reply before it goes. */
	std::function<void(Header &, std::vector<std::byte> &)> tamper;

	std::vector<Message> received;

	FakeBackend()
	{
		auto [a, b] = socketPair();
		mine_ = std::move(a);
		theirs_ = std::move(b);
	}
	~FakeBackend() { join(); }

	/* Start answering; the frontend's end of the socket. */
	UniqueFd start()
	{
		thread_ = std::thread([this] { run(); });
		return std::move(theirs_);
	}
	void join()
	{
		if (thread_.joinable())
			thread_.join();
	}
	std::vector<Request> requests() const
	{
		std::vector<Request> out;
		for (const auto &m : received)
			out.push_back(m.request());
		return out;
	}
	const Message &find(Request req, std::size_t nth = 0) const
	{
		for (const auto &m : received)
			if (m.request() == req && nth-- == 0)
				return m;
		FAIL("no " << requestName(req));
		throw std::logic_error("unreachable");
	}

private:
	void reply(const Message &m, std::vector<std::byte> payload)
	{
		Header h = {m.header.request, version | flagReply,
			    static_cast<uint32_t>(payload.size())};
		if (tamper)
			tamper(h, payload);
		sendMessage(mine_.get(), h, payload, {}, "fake backend", 5s);
	}
	void answer(const Message &m)
	{
		switch (m.request()) {
		case Request::GetFeatures:
			return reply(m, encodeU64(features));
		case Request::GetProtocolFeatures:
			return reply(m, encodeU64(protocol));
		case Request::GetQueueNum:
			return reply(m, encodeU64(queueNum));
		case Request::GetVringBase: {
			auto s = decodeVringState(m.payload);
			return reply(m, encodeVringState({s.index, lastAvail}));
		}
		case Request::GetConfig: {
			auto c = decodeConfig(m.payload);
			std::span<const std::byte> from(config);
			return reply(m, encodeConfig(c.offset, static_cast<uint32_t>(c.data.size()),
						     0, from.subspan(c.offset)));
		}
		default:
			if (m.header.flags & flagNeedReply)
				reply(m, encodeU64(m.request() == nack ? nackValue : 0));
		}
	}
	void run()
	{
		for (;;) {
			Message m;
			try {
				m = recvMessage(mine_.get(), "fake backend", 10s);
			} catch (const Error &) {
				return; /* the frontend closed */
			}
			Request req = m.request();
			received.push_back(std::move(m));
			if (req == hangUpOn) {
				mine_.reset();
				return;
			}
			if (req != silentOn)
				answer(received.back());
		}
	}

	UniqueFd mine_, theirs_;
	std::thread thread_;
};

} // namespace

TEST_CASE("vhost-user header: request, flags, size, native order", "[vhost-user]")
{
	CHECK(version == 0x1);
	CHECK(flagReply == 0x4);
	CHECK(flagNeedReply == 0x8);
	CHECK(static_cast<uint32_t>(Request::SetMemTable) == 5);
	CHECK(static_cast<uint32_t>(Request::GetVringBase) == 11);
	CHECK(static_cast<uint32_t>(Request::SetVringEnable) == 18);
	CHECK(static_cast<uint32_t>(Request::GetConfig) == 24);
	CHECK(requestName(Request::SetMemTable) == "SET_MEM_TABLE");
	CHECK(requestName(99) == "request 99");

	auto h = encodeHeader({.request = 24, .flags = version | flagNeedReply, .size = 72});
	const uint32_t words[3] = {24, 0x9, 72};
	CHECK(std::memcmp(h.data(), words, sizeof(words)) == 0);
	Header back = decodeHeader(h);
	CHECK(back.request == 24);
	CHECK(back.flags == 0x9);
	CHECK(back.size == 72);
}

TEST_CASE("vhost-user payloads have the spec's layout", "[vhost-user]")
{
	SECTION("u64 and vring state")
	{
		auto u = encodeU64(0x1122334455667788);
		REQUIRE(u.size() == 8);
		CHECK(load<uint64_t>(u.data()) == 0x1122334455667788);
		auto s = encodeVringState({3, 256});
		REQUIRE(s.size() == 8);
		CHECK(load<uint32_t>(s.data()) == 3);
		CHECK(load<uint32_t>(s.data() + 4) == 256);
		CHECK(decodeVringState(s).num == 256);
	}
	SECTION("vring address: index, flags, desc, used, avail, log")
	{
		auto a = encodeVringAddr({1, 0, 0x1000, 0x3000, 0x2000, 0});
		REQUIRE(a.size() == 40);
		CHECK(load<uint32_t>(a.data()) == 1);
		CHECK(load<uint64_t>(a.data() + 8) == 0x1000);
		CHECK(load<uint64_t>(a.data() + 16) == 0x3000);
		CHECK(load<uint64_t>(a.data() + 24) == 0x2000);
		CHECK(decodeVringAddr(a).avail == 0x2000);
	}
	SECTION("memory table: nregions, padding, {gpa, size, uaddr, offset}")
	{
		std::vector<MemTableRegion> regions = {{0x0, 0x1000, 0x7f0000, 0},
						       {0x1000, 0x2000, 0x7f1000, 0x1000}};
		auto t = encodeMemTable(regions);
		REQUIRE(t.size() == 8 + 2 * 32);
		CHECK(load<uint32_t>(t.data()) == 2);
		CHECK(load<uint64_t>(t.data() + 8 + 32) == 0x1000);
		CHECK(load<uint64_t>(t.data() + 8 + 32 + 16) == 0x7f1000);
		CHECK(load<uint64_t>(t.data() + 8 + 32 + 24) == 0x1000);
		auto back = decodeMemTable(t);
		REQUIRE(back.size() == 2);
		CHECK(back[1].size == 0x2000);
	}
	SECTION("config: offset, size, flags, bytes")
	{
		std::array<std::byte, 3> data = {std::byte{1}, std::byte{2}, std::byte{3}};
		auto c = encodeConfig(4, 3, 0, data);
		REQUIRE(c.size() == 15);
		CHECK(load<uint32_t>(c.data()) == 4);
		CHECK(load<uint32_t>(c.data() + 4) == 3);
		CHECK(c[14] == std::byte{3});
		CHECK(decodeConfig(c).data.size() == 3);
	}
	SECTION("decoders refuse the wrong size")
	{
		std::vector<std::byte> seven(7);
		CHECK(failsWith([&] { decodeU64(seven); }, EPROTO, "vhost-user"));
		CHECK(failsWith([&] { decodeVringState(seven); }, EPROTO, "vhost-user"));
		CHECK(failsWith([&] { decodeConfig(seven); }, EPROTO, "vhost-user"));
		auto t = encodeMemTable(std::vector<MemTableRegion>(2));
		t.pop_back();
		CHECK(failsWith([&] { decodeMemTable(t); }, EPROTO, "vhost-user"));
	}
}

TEST_CASE("vhost-user messages carry their descriptors", "[vhost-user]")
{
	auto [a, b] = socketPair();

	SECTION("bytes on the wire are header then payload")
	{
		auto payload = encodeU64(7);
		sendMessage(a.get(), {2, version, 8}, payload, {}, "send", 1s);
		std::array<std::byte, 20> raw{};
		REQUIRE(::read(b.get(), raw.data(), raw.size()) == 20);
		CHECK(load<uint32_t>(raw.data()) == 2);
		CHECK(load<uint32_t>(raw.data() + 4) == 1);
		CHECK(load<uint32_t>(raw.data() + 8) == 8);
		CHECK(load<uint64_t>(raw.data() + 12) == 7);

		const uint32_t reply[5] = {1, 0x5, 8, 0xabcd, 0};
		REQUIRE(::write(b.get(), reply, sizeof(reply)) == sizeof(reply));
		Message m = recvMessage(a.get(), "recv", 1s);
		CHECK(m.request() == Request::GetFeatures);
		CHECK(m.header.flags == 0x5);
		CHECK(decodeU64(m.payload) == 0xabcd);
		CHECK(m.fds.empty());
	}
	SECTION("descriptors arrive as new fds of the same files")
	{
		vhost::EventFd e1, e2;
		std::array<int, 2> fds = {e1.fd(), e2.fd()};
		sendMessage(a.get(), {12, version, 8}, encodeU64(0), fds, "send", 1s);
		sendMessage(a.get(), {3, version, 0}, {}, {}, "send", 1s);
		Message m = recvMessage(b.get(), "recv", 1s);
		REQUIRE(m.fds.size() == 2);
		CHECK(m.fds[0].get() != e1.fd());
		uint64_t one = 1;
		REQUIRE(::write(m.fds[1].get(), &one, sizeof(one)) == 8);
		CHECK(e2.consume() == 1);
		CHECK(e1.consume() == 0);
		/* The next message comes without the first one's descriptors. */
		Message next = recvMessage(b.get(), "recv", 1s);
		CHECK(next.request() == Request::SetOwner);
		CHECK(next.fds.empty());
	}
	SECTION("EOF, even mid-message, and silence are errors")
	{
		const uint32_t partial[2] = {1, 0x5};
		REQUIRE(::write(b.get(), partial, sizeof(partial)) == sizeof(partial));
		b.reset();
		CHECK(failsWith([&] { recvMessage(a.get(), "vhost-user X", 1s); }, ECONNRESET,
				"vhost-user X"));
	}
	SECTION("silence")
	{
		auto t0 = std::chrono::steady_clock::now();
		CHECK(failsWith([&] { recvMessage(a.get(), "vhost-user X", 50ms); }, ETIMEDOUT,
				"vhost-user X"));
		CHECK(std::chrono::steady_clock::now() - t0 < 2s);
	}
	SECTION("an oversized payload")
	{
		const uint32_t huge[3] = {1, 0x5, 1 << 20};
		REQUIRE(::write(b.get(), huge, sizeof(huge)) == sizeof(huge));
		CHECK(failsWith([&] { recvMessage(a.get(), "vhost-user X", 1s); }, EPROTO,
				"vhost-user X"));
	}
	SECTION("a closed peer is EPIPE, not SIGPIPE")
	{
		b.reset();
		CHECK(failsWith(
			[&] {
				sendMessage(a.get(), {3, version, 0}, {}, {}, "s", 1s);
			},
			EPIPE, "s"));
	}
}

TEST_CASE("Frontend handshakes and negotiates protocol features like QEMU", "[vhost-user]")
{
	FakeBackend be;
	be.config[0] = std::byte{0x80};
	{
		Frontend f(be.start(), "fake.sock", 2);

		CHECK(f.name() == "fake.sock");
		CHECK(f.hasProtocolFeatures());
		CHECK(f.offeredProtocolFeatures() == be.protocol);
		CHECK(f.protocolFeatures() ==
		      (bit(protocolMq) | bit(protocolReplyAck) | bit(protocolConfig)));
		CHECK(f.backendQueues() == 4);
		CHECK(f.backendFeatures() == be.features);
		CHECK(f.features() == (virtioVersion1 | bit(29)));
		f.setOwner();
		f.setFeatures(virtioVersion1);
		auto cfg = f.getConfig(8);
		REQUIRE(cfg.size() == 8);
		CHECK(cfg[0] == std::byte{0x80});
		CHECK(f.getConfig(4, 56).size() == 4);
		CHECK(failsWith([&] { f.getConfig(257); }, EINVAL, "vhost-user GET_CONFIG"));
		f.enableVring(1, true);
		CHECK(failsWith([&] { f.enableVring(2, true); }, EINVAL,
				"vhost-user SET_VRING_ENABLE"));
	}
	be.join();

	std::vector<Request> expect = {
		Request::GetFeatures,
		Request::GetProtocolFeatures,
		Request::SetProtocolFeatures,
		Request::GetQueueNum,
		Request::SetOwner,
		Request::SetFeatures,
		Request::GetConfig,
		Request::GetConfig,
		Request::SetVringEnable,
	};
	CHECK(be.requests() == expect);
	for (const auto &m : be.received)
		CHECK((m.header.flags & flagVersionMask) == version);
	/* SET_PROTOCOL_FEATURES goes before REPLY_ACK holds; GET_* have replies. */
	CHECK(be.find(Request::GetFeatures).header.flags == version);
	CHECK(be.find(Request::SetProtocolFeatures).header.flags == version);
	CHECK(decodeU64(be.find(Request::SetProtocolFeatures).payload) ==
	      (bit(protocolMq) | bit(protocolReplyAck) | bit(protocolConfig)));
	CHECK(be.find(Request::SetOwner).header.flags == (version | flagNeedReply));
	const Message &sf = be.find(Request::SetFeatures);
	CHECK(sf.header.flags == (version | flagNeedReply));
	CHECK(decodeU64(sf.payload) == (virtioVersion1 | protocolBit));
	auto cfg = decodeConfig(be.find(Request::GetConfig, 1).payload);
	CHECK(cfg.offset == 56);
	CHECK(cfg.data.size() == 4);
	auto en = decodeVringState(be.find(Request::SetVringEnable).payload);
	CHECK(en.index == 1);
	CHECK(en.num == 1);
}

TEST_CASE("Frontend with a backend without protocol features", "[vhost-user]")
{
	SECTION("one queue works, plainly")
	{
		FakeBackend be;
		be.features = virtioVersion1;
		{
			Frontend f(be.start(), "plain", 1);
			CHECK_FALSE(f.hasProtocolFeatures());
			CHECK(f.protocolFeatures() == 0);
			CHECK(f.backendQueues() == 1);
			f.setFeatures(virtioVersion1);
			f.enableVring(0, true); /* no message: enabled on start */
			CHECK(failsWith([&] { f.getConfig(8); }, ENOTSUP, "vhost-user GET_CONFIG"));
		}
		be.join();
		std::vector<Request> expect = {Request::GetFeatures, Request::SetFeatures};
		CHECK(be.requests() == expect);
		CHECK(be.find(Request::SetFeatures).header.flags == version);
		CHECK(decodeU64(be.find(Request::SetFeatures).payload) == virtioVersion1);
	}
	SECTION("more queues need MQ")
	{
		FakeBackend be;
		be.features = virtioVersion1;
		CHECK(failsWith([&] { Frontend f(be.start(), "plain", 2); }, EINVAL, "vhost-user"));
	}
	SECTION("protocol features without MQ")
	{
		FakeBackend be;
		be.protocol = bit(protocolReplyAck);
		CHECK(failsWith([&] { Frontend f(be.start(), "nomq", 2); }, EINVAL, "vhost-user"));
	}
}

TEST_CASE("Frontend refuses a backend with fewer queues than asked", "[vhost-user]")
{
	FakeBackend be;
	be.queueNum = 1;
	CHECK(failsWith([&] { Frontend f(be.start(), "few", 2); }, EINVAL,
			"vhost-user GET_QUEUE_NUM"));
}

TEST_CASE("A REPLY_ACK failure is an Error naming the message", "[vhost-user]")
{
	FakeBackend be;
	be.nack = Request::SetMemTable;
	{
		Frontend f(be.start(), "nack", 1);
		virtio::Memory mem(4096);
		CHECK(failsWith([&] { f.setMemTable(mem.regions()); }, EIO,
				"vhost-user SET_MEM_TABLE"));
		/* The connection is still in step. */
		f.setOwner();
		CHECK(f.connected());
	}
	be.join();
	CHECK(be.requests().back() == Request::SetOwner);
}

TEST_CASE("Frontend fails cleanly on EOF, silence and malformed replies", "[vhost-user]")
{
	SECTION("EOF during the handshake")
	{
		FakeBackend be;
		be.hangUpOn = Request::GetQueueNum;
		CHECK(failsWith([&] { Frontend f(be.start(), "eof", 1); }, ECONNRESET,
				"vhost-user GET_QUEUE_NUM"));
	}
	SECTION("EOF on a message acked with REPLY_ACK")
	{
		FakeBackend be;
		be.hangUpOn = Request::SetVringNum;
		Frontend f(be.start(), "eof", 1);
		CHECK(failsWith([&] { f.setVringNum(0, 128); }, ECONNRESET,
				"vhost-user SET_VRING_NUM vq 0 num 128"));
		be.join();
		/* Now the socket is dead: sending is EPIPE or out of step. */
		CHECK_THROWS_AS(f.setOwner(), Error);
	}
	SECTION("a backend that never answers")
	{
		FakeBackend be;
		be.silentOn = Request::GetVringBase;
		FrontendOptions opts;
		opts.replyTimeout = 200ms;
		Frontend f(be.start(), "silent", 1, opts);
		vhost::EventFd kick;
		f.setVringKick(0, kick.fd());
		auto t0 = std::chrono::steady_clock::now();
		CHECK(failsWith([&] { f.getVringBase(0); }, ETIMEDOUT,
				"vhost-user GET_VRING_BASE vq 0"));
		CHECK(std::chrono::steady_clock::now() - t0 < 2s);
		/* A late reply could be taken for another's: no more messages. */
		CHECK(failsWith([&] { f.setOwner(); }, ENOTCONN, "vhost-user SET_OWNER"));
		f.close();
		CHECK_FALSE(f.connected());
	}
	SECTION("a reply to another request")
	{
		FakeBackend be;
		be.tamper = [](Header &h, std::vector<std::byte> &) {
			if (h.request == static_cast<uint32_t>(Request::GetQueueNum))
				h.request = static_cast<uint32_t>(Request::GetFeatures);
		};
		CHECK(failsWith([&] { Frontend f(be.start(), "bad", 1); }, EPROTO,
				"vhost-user GET_QUEUE_NUM"));
	}
	SECTION("a reply without the REPLY flag")
	{
		FakeBackend be;
		be.tamper = [](Header &h, std::vector<std::byte> &) { h.flags = version; };
		CHECK(failsWith([&] { Frontend f(be.start(), "bad", 1); }, EPROTO,
				"vhost-user GET_FEATURES"));
	}
	SECTION("a reply of the wrong size")
	{
		FakeBackend be;
		be.tamper = [](Header &h, std::vector<std::byte> &p) {
			if (h.request == static_cast<uint32_t>(Request::GetProtocolFeatures)) {
				p.resize(4);
				h.size = 4;
			}
		};
		CHECK(failsWith([&] { Frontend f(be.start(), "bad", 1); }, EPROTO,
				"vhost-user GET_PROTOCOL_FEATURES"));
	}
	SECTION("a backend that starts late")
	{
		TempDir dir;
		std::string path = dir.path / "late.sock";
		std::thread backend([&] {
			try {
				std::this_thread::sleep_for(100ms);
				UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
				struct sockaddr_un a = {};
				a.sun_family = AF_UNIX;
				std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
				if (::bind(l.get(), reinterpret_cast<struct sockaddr *>(&a),
					   sizeof(a)) ||
				    ::listen(l.get(), 1))
					return;
				UniqueFd c(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
				recvMessage(c.get(), "late", 5s);
				sendMessage(c.get(), {1, version | flagReply, 8},
					    encodeU64(virtioVersion1), {}, "late", 5s);
				recvMessage(c.get(), "late", 5s); /* until EOF */
			} catch (const Error &) {
			}
		});
		FrontendOptions opts;
		opts.connectTimeout = 5s;
		try {
			auto f = Frontend::connect(path, 1, opts);
			CHECK(f->features() == virtioVersion1);
		} catch (const Error &e) {
			FAIL_CHECK(e.what());
		}
		backend.join();
	}
	SECTION("nobody listening")
	{
		FrontendOptions opts;
		opts.connectTimeout = 100ms;
		auto t0 = std::chrono::steady_clock::now();
		CHECK(failsWith([&] { Frontend::connect("/nonexistent/vhost-user.sock", 1, opts); },
				ENOENT, "connect to vhost-user backend"));
		CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
	}
}

TEST_CASE("Frontend hands over memory, rings and eventfds", "[vhost-user]")
{
	FakeBackend be;
	virtio::Memory mem(4 * 4096, 0x40000000, 2);
	vhost::EventFd kick, call, err;
	for (std::size_t i = 0; i < mem.size(); i++)
		static_cast<std::byte *>(mem.host(mem.gpaBase()))[i] = std::byte(i * 7 + 1);
	{
		Frontend f(be.start(), "fds", 2);
		f.setMemTable(mem.regions());
		f.setVringNum(1, 64);
		f.setVringAddr(1, {.desc = 0x1000, .avail = 0x2000, .used = 0x3000, .flags = 0});
		f.setVringBase(1, 5);
		f.setVringCall(1, call.fd());
		f.setVringErr(1, -1);
		f.setVringKick(1, kick.fd());
		f.setVringKick(0, err.fd());
		CHECK(f.getVringBase(0) == be.lastAvail);
		/* close() stops ring 1, which is still started, and only it. */
	}
	be.join();

	const Message &mt = be.find(Request::SetMemTable);
	auto regions = decodeMemTable(mt.payload);
	auto expect = mem.regions();
	REQUIRE(regions.size() == 2);
	REQUIRE(mt.fds.size() == 2);
	for (std::size_t i = 0; i < 2; i++) {
		CHECK(regions[i].guestPhysAddr == expect[i].guestPhysAddr);
		CHECK(regions[i].size == expect[i].size);
		CHECK(regions[i].userAddr == expect[i].userAddr);
		CHECK(regions[i].mmapOffset ==
		      expect[i].userAddr - reinterpret_cast<uintptr_t>(mem.base()));
		/* What the backend maps is the frontend's memory, at that offset. */
		void *p = ::mmap(nullptr, regions[i].size, PROT_READ, MAP_SHARED, mt.fds[i].get(),
				 static_cast<off_t>(regions[i].mmapOffset));
		REQUIRE(p != MAP_FAILED);
		CHECK(std::memcmp(p, reinterpret_cast<const void *>(regions[i].userAddr),
				  regions[i].size) == 0);
		::munmap(p, regions[i].size);
	}

	auto addr = decodeVringAddr(be.find(Request::SetVringAddr).payload);
	CHECK(addr.index == 1);
	CHECK(addr.desc == 0x1000);
	CHECK(addr.avail == 0x2000);
	CHECK(addr.used == 0x3000);
	CHECK(decodeVringState(be.find(Request::SetVringBase).payload).num == 5);

	const Message &errMsg = be.find(Request::SetVringErr);
	CHECK(decodeU64(errMsg.payload) == (1 | vringNoFd));
	CHECK(errMsg.fds.empty());
	const Message &kickMsg = be.find(Request::SetVringKick);
	CHECK(decodeU64(kickMsg.payload) == 1);
	REQUIRE(kickMsg.fds.size() == 1);
	uint64_t one = 1;
	REQUIRE(::write(kickMsg.fds[0].get(), &one, sizeof(one)) == 8);
	CHECK(kick.consume() == 1);
	const Message &callMsg = be.find(Request::SetVringCall);
	REQUIRE(callMsg.fds.size() == 1);
	REQUIRE(::write(callMsg.fds[0].get(), &one, sizeof(one)) == 8);
	CHECK(call.consume() == 1);

	/* GET_VRING_BASE vq 0 by hand, then vq 1 from close(). */
	auto tail = be.requests();
	REQUIRE(tail.size() >= 2);
	CHECK(tail.back() == Request::GetVringBase);
	CHECK(decodeVringState(be.find(Request::GetVringBase, 0).payload).index == 0);
	CHECK(decodeVringState(be.find(Request::GetVringBase, 1).payload).index == 1);
	CHECK(std::count(tail.begin(), tail.end(), Request::GetVringBase) == 2);
}

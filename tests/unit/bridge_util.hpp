// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user bridge under test: a Backend in a thread on one end of a
 * socketpair, a FakeKernel behind it, and on the other end the library's
 * Frontend or raw messages, for what a well-behaved frontend never sends.
 */
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include "fake_kernel_device.hpp"
#include "test_util.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/vhost_user.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace test::bridge {

using namespace std::chrono_literals;
using namespace vhost::user;
using vhost::Error;
using vhost::EventFd;
using vhost::UniqueFd;

constexpr uint64_t bit(unsigned int n)
{
	return 1ULL << n;
}

inline constexpr int fakeBackendFd = 77;
inline constexpr unsigned int ringSize = 8;

inline std::array<UniqueFd, 2> socketPair()
{
	int sv[2];

	REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

inline BackendOptions defaultOptions(LogCapture &log)
{
	BackendOptions o;

	o.backendFd = fakeBackendFd;
	o.geometry = {64ULL << 20, 4096, 4096, 4096, 65536};
	o.queues = 4;
	o.log = log.logger();
	o.workers = {vhost::WorkerLayout::PerVq, 0};
	o.ioTimeout = 5s;
	return o;
}

/* A Backend serving one end of a socketpair from a thread. */
struct Bridge {
	FakeKernel kernel;
	LogCapture log;
	BackendOptions opts = defaultOptions(log);
	EventFd stop;
	/* Backend::run()'s refreshFd. */
	EventFd refresh;
	UniqueFd peer;
	std::thread thread;
	std::optional<Backend::End> end;

	void start()
	{
		auto [mine, theirs] = socketPair();
		peer = std::move(theirs);
		thread = std::thread([this, sock = std::move(mine)]() mutable {
			Backend b(std::move(sock), kernel.factory(), opts);
			end = b.run(stop.fd(), refresh.fd());
		});
	}
	std::unique_ptr<Frontend> frontend(unsigned int queues = 4)
	{
		start();
		return std::make_unique<Frontend>(std::move(peer), "bridge", queues);
	}
	/* Wait for the backend to end of itself. */
	Backend::End join()
	{
		if (thread.joinable())
			thread.join();
		REQUIRE(end);
		return *end;
	}
	~Bridge()
	{
		stop.signal();
		if (thread.joinable())
			thread.join();
	}
};

/* Guest memory and one ring area per queue, as the frontend sees them. */
struct Guest {
	virtio::Memory mem{1 << 20, 1ULL << 30, 2};
	std::vector<virtio::Chunk> rings;
	std::vector<EventFd> kicks = std::vector<EventFd>(4);
	std::vector<EventFd> calls = std::vector<EventFd>(4);

	Guest()
	{
		for (int i = 0; i < 4; i++)
			rings.push_back(mem.alloc(4096, 4096));
	}
	vhost::VringAddr addr(unsigned int q) const
	{
		uint64_t base = rings[q].userAddr();
		return {base, base + 16 * ringSize, base + 2048};
	}
	void setUp(Frontend &fe, unsigned int q)
	{
		fe.setVringNum(q, ringSize);
		fe.setVringAddr(q, addr(q));
		fe.setVringBase(q, 0);
		fe.setVringCall(q, calls[q].fd());
		fe.setVringKick(q, kicks[q].fd());
	}
	void start(Frontend &fe, unsigned int q)
	{
		setUp(fe, q);
		fe.enableVring(q, true);
	}
};

/* A memfd of @size bytes. */
inline UniqueFd memfd(std::size_t size)
{
	UniqueFd fd(::memfd_create("bridge-test", MFD_CLOEXEC));
	REQUIRE(fd);
	REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
	return fd;
}

/* The usual bring-up: owner, features, memory. */
inline void bringUp(Frontend &fe, Guest &g)
{
	fe.setOwner();
	fe.setFeatures(fe.features() & FakeKernel::vhostBlkFeatures);
	fe.setMemTable(g.mem.regions());
}

/* Does @fn throw vhost::Error with @err? */
template <typename Fn>
bool failsWith(Fn fn, int err)
{
	try {
		fn();
	} catch (const Error &e) {
		UNSCOPED_INFO(e.what());
		return e.errnum() == err;
	}
	UNSCOPED_INFO("no error");
	return false;
}

/* Raw messages, for what the Frontend would never send. */
inline void sendRaw(int sock, Request req, std::vector<std::byte> payload,
		    uint32_t flags = flagNeedReply, std::vector<int> fds = {})
{
	Header h = {static_cast<uint32_t>(req), version | flags,
		    static_cast<uint32_t>(payload.size())};
	sendMessage(sock, h, payload, fds, "test", 5s);
}

inline Message recvReply(int sock, Request req)
{
	Message m = recvMessage(sock, "test", 5s);
	CHECK(m.header.request == static_cast<uint32_t>(req));
	CHECK(m.header.flags == (version | flagReply));
	return m;
}

inline uint64_t ack(int sock, Request req)
{
	return decodeU64(recvReply(sock, req).payload);
}

/* Negotiate REPLY_ACK and become owner by hand. */
inline void rawHandshake(int sock)
{
	sendRaw(sock, Request::GetFeatures, {}, 0);
	CHECK(decodeU64(recvReply(sock, Request::GetFeatures).payload) &
	      bit(featureProtocolFeatures));
	sendRaw(sock, Request::SetProtocolFeatures,
		encodeU64(bit(protocolReplyAck) | bit(protocolConfig)));
	REQUIRE(ack(sock, Request::SetProtocolFeatures) == 0);
	sendRaw(sock, Request::SetOwner, {});
	REQUIRE(ack(sock, Request::SetOwner) == 0);
}

} // namespace test::bridge

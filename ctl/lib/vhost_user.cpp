// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/vhost_user.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/le.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/unix_socket.hpp"

namespace vhost::user {

namespace {

using Clock = std::chrono::steady_clock;

struct RequestName {
	Request request;
	std::string_view name;
};

constexpr std::array<RequestName, 29> requestNames = {{
	{Request::GetFeatures, "GET_FEATURES"},
	{Request::SetFeatures, "SET_FEATURES"},
	{Request::SetOwner, "SET_OWNER"},
	{Request::ResetOwner, "RESET_OWNER"},
	{Request::SetMemTable, "SET_MEM_TABLE"},
	{Request::SetLogBase, "SET_LOG_BASE"},
	{Request::SetLogFd, "SET_LOG_FD"},
	{Request::SetVringNum, "SET_VRING_NUM"},
	{Request::SetVringAddr, "SET_VRING_ADDR"},
	{Request::SetVringBase, "SET_VRING_BASE"},
	{Request::GetVringBase, "GET_VRING_BASE"},
	{Request::SetVringKick, "SET_VRING_KICK"},
	{Request::SetVringCall, "SET_VRING_CALL"},
	{Request::SetVringErr, "SET_VRING_ERR"},
	{Request::GetProtocolFeatures, "GET_PROTOCOL_FEATURES"},
	{Request::SetProtocolFeatures, "SET_PROTOCOL_FEATURES"},
	{Request::GetQueueNum, "GET_QUEUE_NUM"},
	{Request::SetVringEnable, "SET_VRING_ENABLE"},
	{Request::SetBackendReqFd, "SET_BACKEND_REQ_FD"},
	{Request::GetConfig, "GET_CONFIG"},
	{Request::SetConfig, "SET_CONFIG"},
	{Request::GetInflightFd, "GET_INFLIGHT_FD"},
	{Request::SetInflightFd, "SET_INFLIGHT_FD"},
	{Request::ResetDevice, "RESET_DEVICE"},
	{Request::GetMaxMemSlots, "GET_MAX_MEM_SLOTS"},
	{Request::AddMemReg, "ADD_MEM_REG"},
	{Request::RemMemReg, "REM_MEM_REG"},
	{Request::SetStatus, "SET_STATUS"},
	{Request::GetStatus, "GET_STATUS"},
}};

/*
 * Payloads are in the host's byte order, which the codec's little endian is
 * on every host this project builds for.
 */
static_assert(std::endian::native == std::endian::little,
	      "vhost-user payloads are in the host's order; this code assumes little endian");

constexpr std::size_t vringAddrBytes = 40; /* u32 index, flags; u64 desc, used, avail, log */
constexpr std::size_t logBytes = 16;       /* u64 mmap_size, mmap_offset */
constexpr std::size_t regionBytes = 32;    /* u64 gpa, size, user address, mmap offset */
constexpr std::size_t memTableHeaderSize = 8;

template <typename T>
void put(std::vector<std::byte> &out, std::size_t at, T v)
{
	le::store<T>(out, at, v);
}

template <typename T>
T get(std::span<const std::byte> in, std::size_t at)
{
	return le::load<T>(in, at);
}

void expectSize(std::span<const std::byte> payload, std::size_t size, std::string_view what)
{
	if (payload.size() != size)
		throw Error(EPROTO, fmt::format("vhost-user {} payload of {} bytes, {} expected",
						what, payload.size(), size));
}

int remainingMs(Clock::time_point deadline)
{
	auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());

	return static_cast<int>(
		std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, INT32_MAX));
}

/* Wait for @events on @fd until @deadline; false on timeout. */
bool waitFor(int fd, short events, Clock::time_point deadline, std::string_view what)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
		int ret = ::poll(&pfd, 1, remainingMs(deadline));

		if (ret > 0)
			return true;
		if (ret == 0)
			return false;
		if (errno != EINTR)
			throwErrno("{}: poll", what);
	}
}

/*
 * Read exactly @buf.size() bytes, gathering descriptors into @m.fds; a
 * control message cut short (more descriptors than fit) sets @m.truncated.
 */
void recvExact(int sock, std::span<std::byte> buf, Message &m, Clock::time_point deadline,
	       std::string_view what, std::chrono::milliseconds timeout)
{
	std::size_t done = 0;

	while (done < buf.size()) {
		if (!waitFor(sock, POLLIN, deadline, what))
			throw Error(ETIMEDOUT, fmt::format("{}: no reply within {} ms", what,
							   timeout.count()));
		alignas(struct cmsghdr) std::array<char, CMSG_SPACE(maxFds * sizeof(int))>
			control{};
		struct iovec iov = {.iov_base = buf.data() + done, .iov_len = buf.size() - done};
		struct msghdr msg = {};

		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.data();
		msg.msg_controllen = control.size();
		ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			throwErrno("{}", what);
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (std::size_t i = 0; i < count; i++) {
				int fd;

				std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				m.fds.emplace_back(fd);
			}
		}
		/* The kernel closed what did not fit; the bytes are all there. */
		if (msg.msg_flags & MSG_CTRUNC)
			m.truncated = true;
		if (n == 0)
			throw Error(ECONNRESET,
				    done ? fmt::format("{}: connection closed after {} of {} bytes",
						       what, done, buf.size())
					 : fmt::format("{}: connection closed by the peer", what));
		done += static_cast<std::size_t>(n);
	}
}

} // namespace

std::string requestName(uint32_t request)
{
	for (const auto &r : requestNames)
		if (static_cast<uint32_t>(r.request) == request)
			return std::string(r.name);
	return fmt::format("request {}", request);
}

std::array<std::byte, headerSize> encodeHeader(const Header &header) noexcept
{
	std::array<std::byte, headerSize> out{};

	le::store(out.data(), header.request);
	le::store(out.data() + 4, header.flags);
	le::store(out.data() + 8, header.size);
	return out;
}

Header decodeHeader(std::span<const std::byte, headerSize> bytes) noexcept
{
	Header h;

	h.request = le::load<uint32_t>(bytes.data());
	h.flags = le::load<uint32_t>(bytes.data() + 4);
	h.size = le::load<uint32_t>(bytes.data() + 8);
	return h;
}

std::vector<std::byte> encodeU64(uint64_t value)
{
	std::vector<std::byte> out(sizeof(value));

	put(out, 0, value);
	return out;
}

uint64_t decodeU64(std::span<const std::byte> payload)
{
	expectSize(payload, sizeof(uint64_t), "u64");
	return get<uint64_t>(payload, 0);
}

std::vector<std::byte> encodeVringState(const VringState &state)
{
	std::vector<std::byte> out(8);

	put(out, 0, state.index);
	put(out, 4, state.num);
	return out;
}

VringState decodeVringState(std::span<const std::byte> payload)
{
	expectSize(payload, 8, "vring state");
	return VringState{get<uint32_t>(payload, 0), get<uint32_t>(payload, 4)};
}

std::vector<std::byte> encodeVringAddr(const VringAddrMsg &addr)
{
	std::vector<std::byte> out(vringAddrBytes);

	put(out, 0, addr.index);
	put(out, 4, addr.flags);
	put(out, 8, addr.desc);
	put(out, 16, addr.used);
	put(out, 24, addr.avail);
	put(out, 32, addr.log);
	return out;
}

VringAddrMsg decodeVringAddr(std::span<const std::byte> payload)
{
	expectSize(payload, vringAddrBytes, "vring address");
	return VringAddrMsg{get<uint32_t>(payload, 0),  get<uint32_t>(payload, 4),
			    get<uint64_t>(payload, 8),  get<uint64_t>(payload, 16),
			    get<uint64_t>(payload, 24), get<uint64_t>(payload, 32)};
}

std::vector<std::byte> encodeLog(const LogMsg &log)
{
	std::vector<std::byte> out(logBytes);

	put(out, 0, log.mmapSize);
	put(out, 8, log.mmapOffset);
	return out;
}

LogMsg decodeLog(std::span<const std::byte> payload)
{
	expectSize(payload, logBytes, "log");
	return LogMsg{get<uint64_t>(payload, 0), get<uint64_t>(payload, 8)};
}

std::vector<std::byte> encodeMemTable(std::span<const MemTableRegion> regions)
{
	std::vector<std::byte> out(memTableHeaderSize + regions.size() * regionBytes);

	put(out, 0, static_cast<uint32_t>(regions.size()));
	put(out, 4, uint32_t{0});
	for (std::size_t i = 0; i < regions.size(); i++) {
		const MemTableRegion &r = regions[i];
		std::size_t at = memTableHeaderSize + i * regionBytes;

		put(out, at, r.guestPhysAddr);
		put(out, at + 8, r.size);
		put(out, at + 16, r.userAddr);
		put(out, at + 24, r.mmapOffset);
	}
	return out;
}

std::vector<MemTableRegion> decodeMemTable(std::span<const std::byte> payload)
{
	if (payload.size() < memTableHeaderSize)
		expectSize(payload, memTableHeaderSize, "memory table");
	auto n = get<uint32_t>(payload, 0);
	if (n > maxMemRegions)
		throw Error(EPROTO, fmt::format("vhost-user memory table of {} regions", n));
	/* A sender may send the whole array of maxMemRegions, or just the used ones. */
	std::size_t need = memTableHeaderSize + n * regionBytes;
	if (payload.size() != need &&
	    payload.size() != memTableHeaderSize + maxMemRegions * regionBytes)
		expectSize(payload, need, "memory table");

	std::vector<MemTableRegion> out;
	for (std::size_t i = 0; i < n; i++) {
		std::size_t at = memTableHeaderSize + i * regionBytes;

		out.push_back({get<uint64_t>(payload, at), get<uint64_t>(payload, at + 8),
			       get<uint64_t>(payload, at + 16), get<uint64_t>(payload, at + 24)});
	}
	return out;
}

std::vector<std::byte> encodeConfig(uint32_t offset, uint32_t size, uint32_t flags,
				    std::span<const std::byte> data)
{
	std::vector<std::byte> out(configHeaderSize + size);

	put(out, 0, offset);
	put(out, 4, size);
	put(out, 8, flags);
	std::copy_n(data.begin(), std::min<std::size_t>(data.size(), size),
		    out.begin() + configHeaderSize);
	return out;
}

ConfigMsg decodeConfig(std::span<const std::byte> payload)
{
	if (payload.size() < configHeaderSize)
		expectSize(payload, configHeaderSize, "config");
	auto size = get<uint32_t>(payload, 4);
	if (size > maxConfigSize)
		throw Error(EPROTO, fmt::format("vhost-user config of {} bytes", size));
	expectSize(payload, configHeaderSize + size, "config");

	ConfigMsg c;
	c.offset = get<uint32_t>(payload, 0);
	c.flags = get<uint32_t>(payload, 8);
	c.data.assign(payload.begin() + configHeaderSize, payload.end());
	return c;
}

void sendMessage(int sock, const Header &header, std::span<const std::byte> payload,
		 std::span<const int> fds, std::string_view what, std::chrono::milliseconds timeout)
{
	if (fds.size() > maxFds)
		throw Error(EINVAL, fmt::format("{}: {} descriptors, at most {}", what, fds.size(),
						maxFds));
	if (payload.size() != header.size || payload.size() > maxPayload)
		throw Error(EINVAL, fmt::format("{}: payload of {} bytes, header says {}", what,
						payload.size(), header.size));

	auto deadline = Clock::now() + timeout;
	std::vector<std::byte> bytes(headerSize + payload.size());
	auto hdr = encodeHeader(header);
	std::copy(hdr.begin(), hdr.end(), bytes.begin());
	std::copy(payload.begin(), payload.end(), bytes.begin() + headerSize);

	std::size_t done = 0;
	while (done < bytes.size()) {
		if (!waitFor(sock, POLLOUT, deadline, what))
			throw Error(ETIMEDOUT, fmt::format("{}: backend took nothing for {} ms",
							   what, timeout.count()));
		alignas(struct cmsghdr) std::array<char, CMSG_SPACE(maxFds * sizeof(int))>
			control{};
		struct iovec iov = {.iov_base = bytes.data() + done,
				    .iov_len = bytes.size() - done};
		struct msghdr msg = {};

		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		/* The descriptors go with the first byte only. */
		if (done == 0 && !fds.empty()) {
			msg.msg_control = control.data();
			msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
			std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
		}
		ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			throwErrno("{}", what);
		}
		done += static_cast<std::size_t>(n);
	}
}

Message recvMessage(int sock, std::string_view what, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	std::array<std::byte, headerSize> hdr{};
	Message m;

	recvExact(sock, hdr, m, deadline, what, timeout);
	m.header = decodeHeader(hdr);
	if (m.header.size > maxPayload)
		throw Error(EPROTO,
			    fmt::format("{}: payload of {} bytes announced", what, m.header.size));
	m.payload.resize(m.header.size);
	recvExact(sock, m.payload, m, deadline, what, timeout);
	return m;
}

/* Frontend */

std::unique_ptr<Frontend> Frontend::connect(const std::string &socketPath, unsigned int queues,
					    const FrontendOptions &opts)
{
	struct sockaddr_un addr = unixAddress(socketPath);

	auto deadline = Clock::now() + opts.connectTimeout;
	for (;;) {
		/*
		 * Non-blocking, so that a full backlog is EAGAIN rather than a
		 * wait without end; every read and write below polls first.
		 */
		UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
		if (!sock)
			throwErrno("socket AF_UNIX");
		if (::connect(sock.get(), reinterpret_cast<const struct sockaddr *>(&addr),
			      sizeof(addr)) == 0)
			return std::make_unique<Frontend>(std::move(sock), socketPath, queues,
							  opts);
		int err = errno;
		/* Not there yet, or not listening yet: a backend still starting. */
		bool starting = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
		if (err != EINTR && (!starting || Clock::now() >= deadline))
			throw Error(err,
				    fmt::format("connect to vhost-user backend {}", socketPath));
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

Frontend::Frontend(UniqueFd sock, std::string name, unsigned int queues,
		   const FrontendOptions &opts)
	: sock_(std::move(sock)), name_(std::move(name)), queues_(queues), opts_(opts)
{
	if (!queues_ || queues_ > vringIndexMask + 1)
		throw Error(EINVAL, fmt::format("vhost-user {}: {} queues", name_, queues_));
	started_.assign(queues_, false);
	handshake();
}

Frontend::~Frontend()
{
	close();
}

std::string Frontend::context(Request req, std::string_view detail) const
{
	if (detail.empty())
		return fmt::format("vhost-user {}", requestName(req));
	return fmt::format("vhost-user {} {}", requestName(req), detail);
}

void Frontend::checkIndex(Request req, unsigned int index) const
{
	if (index >= queues_)
		throw Error(EINVAL,
			    context(req, fmt::format("vq {}: only {} queues", index, queues_)));
}

void Frontend::send(Request req, uint32_t flags, std::span<const std::byte> payload,
		    std::span<const int> fds, const std::string &what)
{
	if (!sock_)
		throw Error(ENOTCONN, what);
	if (broken_)
		throw Error(ENOTCONN, fmt::format("{}: connection unusable after an error", what));
	Header h = {static_cast<uint32_t>(req), version | flags,
		    static_cast<uint32_t>(payload.size())};
	try {
		sendMessage(sock_.get(), h, payload, fds, what, opts_.replyTimeout);
	} catch (...) {
		broken_ = true;
		throw;
	}
}

Message Frontend::receive(Request req, std::size_t size, const std::string &what)
{
	try {
		Message m = recvMessage(sock_.get(), what, opts_.replyTimeout);

		if (m.header.request != static_cast<uint32_t>(req))
			throw Error(EPROTO, fmt::format("{}: reply is {}", what,
							requestName(m.header.request)));
		if (!m.fds.empty() || m.truncated)
			throw Error(EPROTO, fmt::format("{}: a reply with descriptors", what));
		if (m.header.flags != (version | flagReply))
			throw Error(EPROTO,
				    fmt::format("{}: reply flags {:#x}", what, m.header.flags));
		if (m.payload.size() != size)
			throw Error(EPROTO, fmt::format("{}: reply of {} bytes, {} expected", what,
							m.payload.size(), size));
		return m;
	} catch (...) {
		broken_ = true;
		throw;
	}
}

void Frontend::request(Request req, std::span<const std::byte> payload, std::span<const int> fds,
		       std::string_view detail)
{
	std::string what = context(req, detail);
	bool ack = has(protocolReplyAck);

	send(req, ack ? flagNeedReply : 0, payload, fds, what);
	if (!ack)
		return;
	uint64_t status = decodeU64(receive(req, sizeof(uint64_t), what).payload);
	if (status)
		throw Error(EIO, fmt::format("{}: backend replied {:#x}", what, status));
}

std::vector<std::byte> Frontend::query(Request req, std::span<const std::byte> payload,
				       std::size_t replySize, std::string_view detail)
{
	std::string what = context(req, detail);

	send(req, 0, payload, {}, what);
	return receive(req, replySize, what).payload;
}

void Frontend::handshake()
{
	backendFeatures_ = decodeU64(query(Request::GetFeatures, {}, sizeof(uint64_t)));
	if (hasProtocolFeatures()) {
		offeredProtocol_ =
			decodeU64(query(Request::GetProtocolFeatures, {}, sizeof(uint64_t)));
		uint64_t ack =
			offeredProtocol_ & opts_.protocolFeatures & supportedProtocolFeatures;
		/* Not acked yet: SET_PROTOCOL_FEATURES itself goes without NEED_REPLY. */
		request(Request::SetProtocolFeatures, encodeU64(ack), {},
			fmt::format("{:#x}", ack));
		protocol_ = ack;
	}
	if (has(protocolMq)) {
		uint64_t n = decodeU64(query(Request::GetQueueNum, {}, sizeof(uint64_t)));
		backendQueues_ = static_cast<unsigned int>(std::min<uint64_t>(n, UINT32_MAX));
		if (backendQueues_ < queues_)
			throw Error(EINVAL, fmt::format("vhost-user GET_QUEUE_NUM on {}: backend "
							"serves {} queues, {} asked",
							name_, backendQueues_, queues_));
	} else if (queues_ > 1) {
		throw Error(EINVAL, fmt::format("vhost-user {}: backend has no MQ protocol "
						"feature, serves 1 queue, {} asked",
						name_, queues_));
	}
}

void Frontend::setOwner()
{
	request(Request::SetOwner, {}, {});
}

uint64_t Frontend::features()
{
	return backendFeatures_ & ~(1ULL << featureProtocolFeatures);
}

void Frontend::setFeatures(uint64_t features)
{
	if (hasProtocolFeatures())
		features |= 1ULL << featureProtocolFeatures;
	request(Request::SetFeatures, encodeU64(features), {}, fmt::format("{:#x}", features));
}

void Frontend::setMemTable(std::span<const MemRegion> regions)
{
	std::vector<MemTableRegion> table;
	std::vector<int> fds;

	if (regions.size() > maxMemRegions)
		throw Error(E2BIG, context(Request::SetMemTable,
					   fmt::format("{} regions, at most {}", regions.size(),
						       maxMemRegions)));
	for (const auto &r : regions) {
		if (r.fd < 0)
			throw Error(
				EINVAL,
				context(Request::SetMemTable,
					fmt::format("region at guest {:#x}: no descriptor to send",
						    r.guestPhysAddr)));
		table.push_back({r.guestPhysAddr, r.size, r.userAddr, r.fdOffset});
		fds.push_back(r.fd);
	}
	request(Request::SetMemTable, encodeMemTable(table), fds,
		fmt::format("{} regions", regions.size()));
}

void Frontend::setVringNum(unsigned int index, unsigned int num)
{
	checkIndex(Request::SetVringNum, index);
	request(Request::SetVringNum, encodeVringState({index, num}), {},
		fmt::format("vq {} num {}", index, num));
}

void Frontend::setVringAddr(unsigned int index, const VringAddr &addr)
{
	checkIndex(Request::SetVringAddr, index);
	VringAddrMsg a = {index, addr.flags, addr.desc, addr.used, addr.avail, addr.log};
	request(Request::SetVringAddr, encodeVringAddr(a), {}, fmt::format("vq {}", index));
}

void Frontend::setVringBase(unsigned int index, unsigned int base)
{
	checkIndex(Request::SetVringBase, index);
	request(Request::SetVringBase, encodeVringState({index, base}), {},
		fmt::format("vq {} base {}", index, base));
}

unsigned int Frontend::getVringBase(unsigned int index)
{
	checkIndex(Request::GetVringBase, index);
	std::string detail = fmt::format("vq {}", index);
	auto state = decodeVringState(query(Request::GetVringBase, encodeVringState({index, 0}),
					    sizeof(uint64_t), detail));
	started_[index] = false;
	if (state.index != index)
		throw Error(EPROTO,
			    fmt::format("{}: reply for vq {}",
					context(Request::GetVringBase, detail), state.index));
	return state.num;
}

void Frontend::setVringFile(Request req, unsigned int index, int fd)
{
	checkIndex(req, index);
	uint64_t arg = index;
	std::array<int, 1> fdArray = {fd};
	std::span<const int> fds;

	if (fd < 0)
		arg |= vringNoFd;
	else
		fds = fdArray;
	request(req, encodeU64(arg), fds,
		fd < 0 ? fmt::format("vq {} no fd", index) : fmt::format("vq {} fd {}", index, fd));
}

void Frontend::setVringKick(unsigned int index, int fd)
{
	setVringFile(Request::SetVringKick, index, fd);
	/* The backend starts the ring on its kick (or polls without one). */
	started_[index] = true;
}

void Frontend::setVringCall(unsigned int index, int fd)
{
	setVringFile(Request::SetVringCall, index, fd);
}

void Frontend::setVringErr(unsigned int index, int fd)
{
	setVringFile(Request::SetVringErr, index, fd);
}

void Frontend::enableVring(unsigned int index, bool enable)
{
	checkIndex(Request::SetVringEnable, index);
	/* Without protocol features a ring is enabled as soon as it starts. */
	if (!hasProtocolFeatures())
		return;
	request(Request::SetVringEnable, encodeVringState({index, enable ? 1U : 0U}), {},
		fmt::format("vq {} {}", index, enable ? "on" : "off"));
}

void Frontend::close() noexcept
{
	if (!sock_)
		return;
	for (unsigned int i = 0; i < queues_ && !broken_; i++) {
		if (!started_[i])
			continue;
		try {
			getVringBase(i);
		} catch (...) {
			/* The backend is gone or out of step: closing is all that is left. */
			break;
		}
	}
	sock_.reset();
}

std::vector<std::byte> Frontend::getConfig(uint32_t size, uint32_t offset)
{
	std::string detail = fmt::format("{} bytes at {}", size, offset);

	if (!has(protocolConfig))
		throw Error(ENOTSUP, fmt::format("{}: CONFIG protocol feature not negotiated",
						 context(Request::GetConfig, detail)));
	if (size > maxConfigSize)
		throw Error(EINVAL,
			    fmt::format("{}: at most {} bytes", context(Request::GetConfig, detail),
					maxConfigSize));
	auto reply = query(Request::GetConfig, encodeConfig(offset, size, 0),
			   configHeaderSize + size, detail);
	ConfigMsg c = decodeConfig(reply);
	if (c.offset != offset || c.data.size() != size)
		throw Error(EPROTO, fmt::format("{}: reply has {} bytes at {}",
						context(Request::GetConfig, detail), c.data.size(),
						c.offset));
	return std::move(c.data);
}

} // namespace vhost::user

// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::user::Frontend: virtio::Transport over the vhost-user protocol
 * (QEMU docs/interop/vhost-user.rst), the frontend's side, as QEMU plays it
 * towards a vhost-user-blk backend such as qemu-storage-daemon.  Messages go
 * over a unix stream socket, file descriptors (guest memory, eventfds) as
 * SCM_RIGHTS; the rings and buffers are in the shared memory.
 *
 * Below it, the wire format as plain functions: the 12-byte header
 * {u32 request, u32 flags, u32 size} and the payloads, in native byte
 * order, and one message sent or received with its descriptors within a
 * time limit.  A backend (or a test playing one) can use them as well.
 *
 * A Frontend is used by one thread at a time; it waits for every reply at
 * most FrontendOptions::replyTimeout, so a dead backend cannot hang it.
 * Every failure throws vhost::Error naming the message:
 * "vhost-user SET_MEM_TABLE 1 regions: backend replied 0x1: Input/output error".
 */
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vhostctl/device.hpp"
#include "vhostctl/transport.hpp"
#include "vhostctl/unique_fd.hpp"

namespace vhost::user {

/* Message codes, frontend to backend. */
enum class Request : uint32_t {
	GetFeatures = 1,
	SetFeatures = 2,
	SetOwner = 3,
	ResetOwner = 4,
	SetMemTable = 5,
	SetLogBase = 6,
	SetLogFd = 7,
	SetVringNum = 8,
	SetVringAddr = 9,
	SetVringBase = 10,
	GetVringBase = 11,
	SetVringKick = 12,
	SetVringCall = 13,
	SetVringErr = 14,
	GetProtocolFeatures = 15,
	SetProtocolFeatures = 16,
	GetQueueNum = 17,
	SetVringEnable = 18,
	SetBackendReqFd = 21,
	GetConfig = 24,
	SetConfig = 25,
	GetInflightFd = 31,
	SetInflightFd = 32,
	ResetDevice = 34,
	GetMaxMemSlots = 36,
	AddMemReg = 37,
	RemMemReg = 38,
	SetStatus = 39,
	GetStatus = 40,
};

/* Message codes, backend to frontend, on the channel of SET_BACKEND_REQ_FD. */
enum class BackendRequest : uint32_t {
	IotlbMsg = 1,
	ConfigChangeMsg = 2,
	VringHostNotifierMsg = 3,
};

/* "GET_FEATURES"; "request N" for a code without a name here. */
std::string requestName(uint32_t request);
inline std::string requestName(Request request)
{
	return requestName(static_cast<uint32_t>(request));
}

/* Header flags: the version in bits 0-1, then REPLY and NEED_REPLY. */
inline constexpr uint32_t flagVersionMask = 0x3;
inline constexpr uint32_t version = 0x1;
inline constexpr uint32_t flagReply = 0x4;
inline constexpr uint32_t flagNeedReply = 0x8;

/* Virtio feature bit 30: the backend speaks protocol features. */
inline constexpr unsigned int featureProtocolFeatures = 30;

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
inline constexpr unsigned int protocolMq = 0;
inline constexpr unsigned int protocolLogShmfd = 1;
inline constexpr unsigned int protocolReplyAck = 3;
inline constexpr unsigned int protocolBackendReq = 5;
inline constexpr unsigned int protocolConfig = 9;
inline constexpr unsigned int protocolInflightShmfd = 12;
inline constexpr unsigned int protocolConfigureMemSlots = 15;
inline constexpr unsigned int protocolStatus = 16;

/* KICK, CALL and ERR: the vq index in bits 0-7, bit 8 for "no fd". */
inline constexpr uint64_t vringIndexMask = 0xff;
inline constexpr uint64_t vringNoFd = 0x100;

inline constexpr std::size_t headerSize = 12;
/* Regions of one SET_MEM_TABLE, and descriptors of one message. */
inline constexpr std::size_t maxMemRegions = 8;
inline constexpr std::size_t maxFds = 8;
/* GET/SET_CONFIG: a 12-byte header {offset, size, flags}, then the bytes. */
inline constexpr std::size_t configHeaderSize = 12;
inline constexpr std::size_t maxConfigSize = 256;
/* The largest payload accepted; the largest defined one is under 300 bytes. */
inline constexpr std::size_t maxPayload = 4096;

struct Header {
	uint32_t request = 0;
	uint32_t flags = 0;
	uint32_t size = 0;
};

/* SET_MEM_TABLE: one region, and where it lies in the descriptor sent with it. */
struct MemTableRegion {
	uint64_t guestPhysAddr = 0;
	uint64_t size = 0;
	uint64_t userAddr = 0;
	uint64_t mmapOffset = 0;
};

struct VringState {
	uint32_t index = 0;
	uint32_t num = 0;
};

/* SET_VRING_ADDR: the frontend's user addresses of the ring's parts. */
struct VringAddrMsg {
	uint32_t index = 0;
	uint32_t flags = 0;
	uint64_t desc = 0;
	uint64_t used = 0;
	uint64_t avail = 0;
	uint64_t log = 0;
};

/* SET_LOG_BASE with LOG_SHMFD: the log is @mmapSize bytes of the fd sent, from @mmapOffset. */
struct LogMsg {
	uint64_t mmapSize = 0;
	uint64_t mmapOffset = 0;
};

struct ConfigMsg {
	uint32_t offset = 0;
	uint32_t flags = 0;
	std::vector<std::byte> data;
};

/* A message as received: its header, payload and descriptors. */
struct Message {
	Header header;
	std::vector<std::byte> payload;
	std::vector<UniqueFd> fds;
	/* More than maxFds descriptors came: the rest were dropped. */
	bool truncated = false;

	Request request() const noexcept { return static_cast<Request>(header.request); }
};

/*
 * Encoding.  A decoder throws vhost::Error(EPROTO) when the payload does
 * not have the size of what it decodes.
 */
std::array<std::byte, headerSize> encodeHeader(const Header &header) noexcept;
Header decodeHeader(std::span<const std::byte, headerSize> bytes) noexcept;
std::vector<std::byte> encodeU64(uint64_t value);
uint64_t decodeU64(std::span<const std::byte> payload);
std::vector<std::byte> encodeVringState(const VringState &state);
VringState decodeVringState(std::span<const std::byte> payload);
std::vector<std::byte> encodeVringAddr(const VringAddrMsg &addr);
VringAddrMsg decodeVringAddr(std::span<const std::byte> payload);
std::vector<std::byte> encodeLog(const LogMsg &log);
LogMsg decodeLog(std::span<const std::byte> payload);
/* {u32 nregions, u32 padding, regions}: as long as the regions given. */
std::vector<std::byte> encodeMemTable(std::span<const MemTableRegion> regions);
std::vector<MemTableRegion> decodeMemTable(std::span<const std::byte> payload);
/* GET_CONFIG asks with @size zero bytes after the header; a reply carries them. */
std::vector<std::byte> encodeConfig(uint32_t offset, uint32_t size, uint32_t flags,
				    std::span<const std::byte> data = {});
ConfigMsg decodeConfig(std::span<const std::byte> payload);

/*
 * Send one message on stream socket @sock: header, @payload and @fds (at
 * most maxFds) as SCM_RIGHTS.  Throws vhost::Error "@what: ..." on failure
 * or when the peer takes nothing for @timeout (ETIMEDOUT); never SIGPIPE.
 */
void sendMessage(int sock, const Header &header, std::span<const std::byte> payload,
		 std::span<const int> fds, std::string_view what,
		 std::chrono::milliseconds timeout);
/*
 * Receive one message, descriptors close-on-exec; more than maxFds
 * descriptors are dropped and the message marked truncated, but read
 * whole, so that the stream stays in step.  Throws vhost::Error "@what: ..."
 * when the peer closes the socket, even mid-message (ECONNRESET), sends
 * nothing for @timeout (ETIMEDOUT), or a payload beyond maxPayload (EPROTO).
 */
Message recvMessage(int sock, std::string_view what, std::chrono::milliseconds timeout);

struct FrontendOptions {
	/*
	 * Keep trying to connect while the socket is missing or refuses
	 * (a backend that is still starting), this long; 0: try once.
	 */
	std::chrono::milliseconds connectTimeout{0};
	/* The longest wait for the backend to take or answer one message. */
	std::chrono::milliseconds replyTimeout{10000};
	/* Protocol features to ack when offered (within Frontend::supportedProtocolFeatures). */
	uint64_t protocolFeatures =
		(1ULL << protocolMq) | (1ULL << protocolReplyAck) | (1ULL << protocolConfig);
};

class Frontend final : public virtio::Transport
{
public:
	/* What this frontend implements of the protocol features. */
	static constexpr uint64_t supportedProtocolFeatures =
		(1ULL << protocolMq) | (1ULL << protocolReplyAck) | (1ULL << protocolConfig);

	/*
	 * Connect to the backend listening on @socketPath and handshake for
	 * @queues virtqueues (see the constructor).  Throws vhost::Error.
	 */
	static std::unique_ptr<Frontend> connect(const std::string &socketPath, unsigned int queues,
						 const FrontendOptions &opts = {});

	/*
	 * Adopt connected socket @sock (@name names it in messages) and
	 * handshake as QEMU does: GET_FEATURES; GET/SET_PROTOCOL_FEATURES if
	 * bit 30 is offered; GET_QUEUE_NUM with MQ.  Throws vhost::Error,
	 * EINVAL when the backend serves fewer than @queues queues.
	 */
	Frontend(UniqueFd sock, std::string name, unsigned int queues,
		 const FrontendOptions &opts = {});
	/* close() */
	~Frontend() override;

	std::string name() const override { return name_; }
	void setOwner() override;
	/* The backend's features from the handshake, without bit 30. */
	uint64_t features() override;
	/* SET_FEATURES @features, with bit 30 added when it was offered. */
	void setFeatures(uint64_t features) override;
	/*
	 * SET_MEM_TABLE: each region with its fd, mapped from its fdOffset;
	 * EINVAL for a region without one.
	 */
	void setMemTable(std::span<const MemRegion> regions) override;
	void setVringNum(unsigned int index, unsigned int num) override;
	void setVringAddr(unsigned int index, const VringAddr &addr) override;
	void setVringBase(unsigned int index, unsigned int base) override;
	unsigned int getVringBase(unsigned int index) override;
	/* @fd -1: no descriptor (the "no fd" bit). */
	void setVringKick(unsigned int index, int fd) override;
	void setVringCall(unsigned int index, int fd) override;
	void setVringErr(unsigned int index, int fd) override;
	/* SET_VRING_ENABLE once protocol features are on; no-op without them. */
	void enableVring(unsigned int index, bool enable) override;
	/* GET_VRING_BASE on every ring still started, then close the socket. */
	void close() noexcept override;

	/*
	 * GET_CONFIG: @size bytes of the device's config space from @offset
	 * (virtio_blk_config for a block device).  ENOTSUP without CONFIG.
	 */
	std::vector<std::byte> getConfig(uint32_t size, uint32_t offset = 0);

	/* GET_FEATURES as offered, bit 30 included. */
	uint64_t backendFeatures() const noexcept { return backendFeatures_; }
	/* Was bit 30 offered, and so protocol features negotiated? */
	bool hasProtocolFeatures() const noexcept
	{
		return backendFeatures_ & (1ULL << featureProtocolFeatures);
	}
	uint64_t offeredProtocolFeatures() const noexcept { return offeredProtocol_; }
	/* Acked with SET_PROTOCOL_FEATURES. */
	uint64_t protocolFeatures() const noexcept { return protocol_; }
	/* GET_QUEUE_NUM with MQ, else 1. */
	unsigned int backendQueues() const noexcept { return backendQueues_; }
	unsigned int queues() const noexcept { return queues_; }
	bool connected() const noexcept { return sock_.isValid(); }

private:
	bool has(unsigned int protocolBit) const noexcept
	{
		return protocol_ & (1ULL << protocolBit);
	}
	std::string context(Request req, std::string_view detail) const;
	void checkIndex(Request req, unsigned int index) const;
	void send(Request req, uint32_t flags, std::span<const std::byte> payload,
		  std::span<const int> fds, const std::string &what);
	Message receive(Request req, std::size_t size, const std::string &what);
	/* A message without a reply: acked (REPLY_ACK) when negotiated. */
	void request(Request req, std::span<const std::byte> payload, std::span<const int> fds,
		     std::string_view detail = {});
	/* A message with a reply of exactly @replySize bytes. */
	std::vector<std::byte> query(Request req, std::span<const std::byte> payload,
				     std::size_t replySize, std::string_view detail = {});
	void setVringFile(Request req, unsigned int index, int fd);
	void handshake();

	UniqueFd sock_;
	std::string name_;
	unsigned int queues_;
	FrontendOptions opts_;
	/* A reply went missing or was malformed: the stream is out of step. */
	bool broken_ = false;
	uint64_t backendFeatures_ = 0;
	uint64_t offeredProtocol_ = 0;
	uint64_t protocol_ = 0;
	unsigned int backendQueues_ = 1;
	/* Rings given a kick (started) and not yet stopped by GET_VRING_BASE. */
	std::vector<bool> started_;
};

} // namespace vhost::user

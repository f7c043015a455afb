// SPDX-License-Identifier: GPL-2.0
/*
 * The "vhost_blk" generic netlink family's replies as plain structs, and
 * their parsing, apart from any socket: a parser takes one message (or a
 * buffer of them, as recv() returns it) and validates each attribute against
 * the family's policy.  Attributes this build does not know are skipped; a
 * missing required attribute, a wrong size or an unterminated string is
 * vhost::Error(EPROTO).
 */
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct nlmsghdr;

namespace nl {

/* VHOST_BLK_CMD_DEV_GET: one device. */
struct DevInfo {
	uint32_t id = 0;
	/* The owner's, absent while the device has none. */
	std::optional<uint32_t> ownerPid;
	std::optional<uint32_t> ownerTid;
	std::optional<uint32_t> ownerUid;
	/* Absent while no backend is attached. */
	std::optional<std::string> backend;
	std::optional<uint64_t> backendSize;
	uint64_t features = 0;
	uint32_t numVqs = 0;
	uint32_t numWorkers = 0;
	uint32_t workerMode = 0;
	/*
	 * The limits in force (VHOST_BLK_GET_LIMITS: what the VMM set, the
	 * defaults filled in) and the GET_ID serial without its NUL padding;
	 * absent from a module that predates them.
	 */
	std::optional<uint64_t> capacity;
	std::optional<bool> readOnly;
	std::optional<uint32_t> sizeMax;
	std::optional<uint32_t> segMax;
	std::optional<uint32_t> maxDiscardSectors;
	std::optional<uint32_t> maxDiscardSeg;
	std::optional<uint32_t> maxWriteZeroesSectors;
	std::optional<uint32_t> maxWriteZeroesSeg;
	std::optional<std::string> serial;
};

/* VHOST_BLK_CMD_WORKER_GET: one worker. */
struct WorkerInfo {
	uint32_t devId = 0;
	uint32_t id = 0;
	uint32_t tid = 0;
	std::vector<uint32_t> vqs;
	uint64_t works = 0;
	uint64_t busyNs = 0;
	uint64_t wakeups = 0;
};

/*
 * One latency histogram of a virtqueue (VHOST_BLK_A_VQ_HIST): log2 buckets
 * of microseconds, bucket 0 under 1 us, bucket i in [2^(i-1), 2^i) us, the
 * last 2^20 us and more.
 */
inline constexpr std::size_t histBuckets = 22;

enum class HistKind : uint32_t { queue = 0, service = 1 };

/* VHOST_BLK_OP_*: read, write, flush, discard (and write zeroes), other. */
inline constexpr uint32_t numOps = 5;

struct Histogram {
	HistKind kind = HistKind::service;
	uint32_t op = 0;
	std::array<uint64_t, histBuckets> buckets{};
	uint64_t sumNs = 0;
	uint64_t maxNs = 0;

	uint64_t count() const noexcept;
	/* What it counted since @before, the same histogram earlier (max: this one's). */
	Histogram since(const Histogram &before) const noexcept;
	/* Add @other's counts (and its max, if larger). */
	Histogram &operator+=(const Histogram &other) noexcept;
};

/* The exclusive upper bound of bucket @i in ns; nothing for the last. */
std::optional<uint64_t> bucketUpperNs(std::size_t i) noexcept;
/*
 * The @q quantile (0 < q <= 1) of @h in ns: the upper bound of the bucket
 * where it falls, never more than the maximum; nothing when @h is empty.
 */
std::optional<uint64_t> quantileNs(const Histogram &h, double q) noexcept;
/* "read", "write", "flush", "discard", "other"; "op-N" past them. */
std::string opName(uint32_t op);
/* "queue", "service". */
std::string histKindName(HistKind kind);

/* VHOST_BLK_CMD_VQ_GET: one virtqueue. */
struct VqInfo {
	uint32_t devId = 0;
	uint32_t index = 0;
	/* Absent when the virtqueue has no worker (its worker was killed). */
	std::optional<uint32_t> workerId;
	uint32_t num = 0;
	bool active = false;
	uint64_t kicks = 0;
	uint64_t requests = 0;
	uint64_t bytes = 0;
	uint32_t inFlight = 0;
	uint64_t errors = 0;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT; 0 from a module without it. */
	uint32_t busyloopUs = 0;
	/* Stopped by a malformed ring, until the ring is set up again. */
	bool broken = false;
	/* Requests run off the worker (flush, discard, write zeroes). */
	uint64_t offloaded = 0;
	/* Requests the backend failed; 0 from a module without the count. */
	uint64_t ioErrors = 0;
	/* A packed ring (VIRTIO_F_RING_PACKED); false from a module without them. */
	bool packed = false;
	/* The histograms that counted something, as the kernel sent them. */
	std::vector<Histogram> hists{};

	/* Every @kind histogram of the virtqueue, its types added. */
	Histogram total(HistKind kind) const noexcept;
};

/*
 * An event of the multicast group "monitor" (VHOST_BLK_CMD_*_NTF): its
 * name (the spec's, without "-ntf": "dev-created") and what it carries.
 */
struct Event {
	uint8_t cmd = 0;
	std::string name;
	uint32_t devId = 0;
	std::optional<uint32_t> ownerUid;
	std::optional<std::string> backend;
	std::optional<uint64_t> backendSize;
	std::optional<uint32_t> workerId;
	std::optional<uint32_t> tid;
	std::optional<uint32_t> vq;
	std::optional<std::string> reason;
	std::optional<uint32_t> ioErrno;
	std::optional<uint32_t> ioOp;
	std::optional<uint64_t> ioErrors;
};

/* The name of worker mode @mode (VHOST_BLK_WORKER_MODE_*): "task", "kthread". */
std::string workerModeName(uint32_t mode);

/*
 * Parse one reply message (netlink header, genetlink header, attributes).
 * Throws vhost::Error(EPROTO) naming the message and the attribute.
 */
DevInfo parseDev(const nlmsghdr *nlh);
WorkerInfo parseWorker(const nlmsghdr *nlh);
VqInfo parseVq(const nlmsghdr *nlh);
/* One event; Error(EPROTO) for a command that is no event. */
Event parseEvent(const nlmsghdr *nlh);

/* The text of an error message's extended ack (NLMSGERR_ATTR_MSG), if any. */
std::string extackMessage(const nlmsghdr *nlh);

/*
 * Feed the messages of a dump, buffer by buffer as they are received.  Each
 * data message goes to the callback; NLMSG_DONE ends the dump;
 * NLMSG_ERROR throws vhost::Error with the errno, "@what" and the kernel's
 * extended ack message, if any.  Messages with another sequence number are
 * ignored.  A message flagged NLM_F_DUMP_INTR (the objects changed while
 * the kernel dumped them) makes interrupted() true: the dump must be taken
 * again.
 */
class DumpParser
{
public:
	DumpParser(std::string what, uint32_t seq, std::function<void(const nlmsghdr *)> onMessage);

	/* Consume one received buffer; returns true once the dump is done. */
	bool feed(std::span<const std::byte> buffer);
	bool done() const noexcept { return done_; }
	bool interrupted() const noexcept { return interrupted_; }

private:
	std::string what_;
	uint32_t seq_;
	std::function<void(const nlmsghdr *)> onMessage_;
	bool done_ = false;
	bool interrupted_ = false;
};

/*
 * Take a dump with @once (which returns DumpParser::interrupted()) again
 * while it was interrupted, at most @tries times in all; Error(EAGAIN)
 * naming @what when every try was.
 */
void retryInterrupted(const std::function<bool()> &once, const std::string &what,
		      unsigned int tries = 5);

/* Error(EPROTONOSUPPORT) unless the kernel's family @version is the one this build speaks. */
void checkFamilyVersion(uint32_t version);

/* Parse a whole recorded dump (e.g. a test's buffers) into structs. */
std::vector<DevInfo> parseDevDump(std::span<const std::byte> buffer, uint32_t seq);
std::vector<WorkerInfo> parseWorkerDump(std::span<const std::byte> buffer, uint32_t seq);
std::vector<VqInfo> parseVqDump(std::span<const std::byte> buffer, uint32_t seq);

} // namespace nl

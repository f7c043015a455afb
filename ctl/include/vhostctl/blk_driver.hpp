// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::BlkDriver: a userspace virtio-blk driver for /dev/vhost-blk or any
 * vhost-user-blk backend.  It plays QEMU and the guest at once: owns the
 * device, negotiates features, maps the "guest memory", lays out one ring
 * per queue (split, or packed with VIRTIO_F_RING_PACKED) with its kick,
 * call and error eventfds, submits requests and reaps their completions.
 * Only bringing the device up differs between the two (virtio::Transport);
 * the data path is the same shared memory and eventfds.
 *
 * Each BlkQueue is used by one thread at a time; different queues may be
 * driven from different threads.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "vhostctl/blk_request.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/kernel_transport.hpp"
#include "vhostctl/memory.hpp"
#include "vhostctl/transport.hpp"
#include "vhostctl/virtqueue.hpp"

namespace virtio {

struct BlkDriverConfig {
	/* Virtqueues to bring up, 0 .. queues-1. */
	unsigned int queues = 1;
	/*
	 * The layout of every ring.  Packed needs VIRTIO_F_RING_PACKED
	 * offered, and acks it; split never acks it.
	 */
	RingType ring = RingType::Split;
	/* Ring entries per queue: a power of two (split), 1 to 32768 (packed). */
	unsigned int queueSize = 128;
	/* Request slots per queue: requests in flight at most. */
	unsigned int depth = 32;
	/* Data bytes a request may carry. */
	uint32_t maxData = 128 * 1024;
	/*
	 * Features to ask for; 0: defaultFeatures.  Only offered bits are
	 * acked; VIRTIO_F_RING_PACKED follows @ring, whatever this says.  A
	 * packed @ring needs VIRTIO_F_VERSION_1 among them.
	 */
	uint64_t features = 0;
	/*
	 * VHOST_SET_FORK_FROM_OWNER before VHOST_SET_OWNER, if set; only an
	 * in-kernel device (a vhost::BlkTransport) has it.
	 */
	std::optional<vhost::WorkerMode> workerMode;
	/* Guest physical address of the memory; split into this many regions. */
	uint64_t gpaBase = 1ULL << 30;
	unsigned int memRegions = 1;

	/* VERSION_1, EVENT_IDX, MQ, FLUSH, DISCARD, WRITE_ZEROES. */
	static const uint64_t defaultFeatures;
};

/* A submitted request. */
struct BlkRequest {
	blk::Type type = blk::Type::In;
	uint64_t sector = 0;
	/* Bytes of data, from the slot's buffer (at most maxData). */
	uint32_t len = 0;
	/* The caller's, returned with the completion. */
	uint64_t cookie = 0;
};

struct BlkCompletion {
	unsigned int slot = 0;
	uint8_t status = 0;
	/* The used element's length: bytes the device wrote, status included. */
	uint32_t len = 0;
	uint64_t cookie = 0;
	blk::Type type = blk::Type::In;
	uint64_t sector = 0;
};

class BlkDriver;

class BlkQueue final
{
public:
	unsigned int index() const noexcept { return index_; }
	unsigned int depth() const noexcept { return static_cast<unsigned int>(slots_.size()); }
	unsigned int inFlight() const noexcept { return inFlight_; }
	Virtqueue &ring() noexcept { return *ring_; }

	/* The data buffer of request slot @slot (maxData bytes, page aligned). */
	std::span<std::byte> data(unsigned int slot) const;

	/*
	 * Add a request to the ring, not yet visible to the device (see
	 * notify()).  Returns its slot, or nothing when every slot is busy.
	 * Throws std::invalid_argument when @req.len exceeds maxData.
	 */
	std::optional<unsigned int> submit(const BlkRequest &req);
	/* Publish what was submitted and kick the device if it asks for it. */
	void notify();

	/*
	 * Pop every completed request, calling @fn for each; returns how many.
	 * Throws vhost::Error(EPROTO) "vq N: ..." when the device wrote the
	 * ring wrong.
	 */
	std::size_t reap(const std::function<void(const BlkCompletion &)> &fn);
	/*
	 * Wait for the device's call, at most @timeout; returns false on
	 * timeout or signal.  Arms the call first, and returns at once when
	 * completions are already there.
	 */
	bool wait(std::chrono::nanoseconds timeout);
	/*
	 * Spin on the used ring for at most @budget, with the call left
	 * unarmed (the device need not signal); returns whether completions
	 * are there.  A polled driver, like virtio-blk's poll queues.
	 */
	bool poll(std::chrono::nanoseconds budget) const;
	/* Malformed-ring signals on the error eventfd since the last call. */
	uint64_t takeRingErrors();

private:
	friend class BlkDriver;
	struct Slot {
		Chunk header; /* header and status byte */
		Chunk data;
		bool busy = false;
		BlkRequest req;
	};

	BlkQueue(unsigned int index, Memory &mem, const BlkDriverConfig &cfg, bool eventIdx);

	unsigned int index_;
	Chunk ringArea_;
	std::unique_ptr<Virtqueue> ring_;
	std::vector<Slot> slots_;
	std::vector<unsigned int> freeSlots_;
	std::vector<int> headSlot_; /* chain head -> slot, -1 if none */
	unsigned int inFlight_ = 0;
	vhost::EventFd kick_;
	vhost::EventFd call_;
	vhost::EventFd err_;
};

class BlkDriver final
{
public:
	/*
	 * Bring @dev up: owner, features, memory table, and every queue's
	 * ring and eventfds; the backend comes with attachBackend().  Throws
	 * vhost::Error: EINVAL for a config it cannot use (a packed ring
	 * without VIRTIO_F_VERSION_1 in @cfg.features, say), EOPNOTSUPP for
	 * a packed ring the device does not offer.
	 */
	BlkDriver(vhost::BlkDevice dev, const BlkDriverConfig &cfg);
	/* The same through any transport, a vhost-user frontend for one. */
	BlkDriver(std::unique_ptr<Transport> transport, const BlkDriverConfig &cfg);
	BlkDriver(const BlkDriver &) = delete;
	BlkDriver &operator=(const BlkDriver &) = delete;
	/* Closes the device before unmapping the memory it may still write. */
	~BlkDriver();

	Transport &transport() noexcept { return *transport_; }
	/*
	 * The in-kernel device behind the driver, for its backend, worker
	 * and polling ioctls; throws vhost::Error(ENOTTY) for another
	 * transport.
	 */
	vhost::BlkTransport &kernel();
	const BlkDriverConfig &config() const noexcept { return cfg_; }
	/* The features acked: asked for and offered. */
	uint64_t features() const noexcept { return features_; }
	RingType ring() const noexcept { return cfg_.ring; }
	unsigned int numQueues() const noexcept
	{
		return static_cast<unsigned int>(queues_.size());
	}
	BlkQueue &queue(unsigned int index) { return *queues_.at(index); }

	void attachBackend(int fd) { kernel().setBackend(fd); }
	void detachBackend() { kernel().detachBackend(); }

	/* Guest memory needed by @cfg, in bytes. */
	static std::size_t memorySize(const BlkDriverConfig &cfg);

private:
	BlkDriverConfig cfg_;
	uint64_t features_ = 0;
	/* Destroyed in reverse: the device first, the memory last. */
	Memory mem_;
	std::vector<std::unique_ptr<BlkQueue>> queues_;
	std::unique_ptr<Transport> transport_;
};

} // namespace virtio

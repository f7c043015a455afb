// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::Virtqueue: the driver side of a virtqueue, whatever its layout.
 * Two layouts implement it: virtio::SplitQueue (virtio 1.2, section 2.7:
 * descriptor table, available and used rings) and virtio::PackedQueue
 * (section 2.8, VIRTIO_F_RING_PACKED: one descriptor ring both sides write,
 * and two event suppression areas).  virtio::BlkDriver lays out one or the
 * other, as the negotiated features say, and the request layer above it
 * sees only this interface.
 *
 * The driver adds buffers (chains of elements, device-readable first),
 * publishes them, kicks the device when it asks for it, and pops the
 * buffers the device used, each by the id add() gave it.  A Virtqueue is
 * used by one thread at a time; the device is another party, reached
 * through shared memory only.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vhostctl/device.hpp"

namespace virtio {

/* The largest ring the spec allows, split or packed. */
inline constexpr unsigned int maxQueueSize = 32768;

/* Feature bits of the ring itself. */
inline constexpr unsigned int featureIndirectDesc = 28; /* VIRTIO_RING_F_INDIRECT_DESC */
inline constexpr unsigned int featureEventIdx = 29;     /* VIRTIO_RING_F_EVENT_IDX */
inline constexpr unsigned int featureRingPacked = 34;   /* VIRTIO_F_RING_PACKED */

/* Descriptor flags, the same bits in both layouts. */
inline constexpr uint16_t descFNext = 1;
inline constexpr uint16_t descFWrite = 2;
inline constexpr uint16_t descFIndirect = 4;

/* The two layouts of a virtqueue. */
enum class RingType { Split, Packed };

/* "split" or "packed". */
std::string_view ringTypeName(RingType type) noexcept;
/* The name back; nothing if it names neither. */
std::optional<RingType> parseRingType(std::string_view name) noexcept;

/*
 * VIRTIO_RING_F_EVENT_IDX: does moving an index from @oldIdx to @newIdx
 * cross @eventIdx, the index the other side asked to be notified at?
 */
constexpr bool needEvent(uint16_t eventIdx, uint16_t newIdx, uint16_t oldIdx) noexcept
{
	return static_cast<uint16_t>(newIdx - eventIdx - 1) <
	       static_cast<uint16_t>(newIdx - oldIdx);
}

/* One buffer of a descriptor chain, at a guest physical address. */
struct Buffer {
	uint64_t gpa = 0;
	uint32_t len = 0;
	bool deviceWritable = false;
};

/*
 * A buffer the device used: the id add() returned for it (the head
 * descriptor of a split ring, the buffer id of a packed one) and the bytes
 * the device wrote into it.
 */
struct UsedElem {
	uint16_t head = 0;
	uint32_t len = 0;
};

class Virtqueue
{
public:
	Virtqueue() = default;
	Virtqueue(const Virtqueue &) = delete;
	Virtqueue &operator=(const Virtqueue &) = delete;
	virtual ~Virtqueue() = default;

	virtual RingType type() const noexcept = 0;
	/* Entries (descriptors) of the ring. */
	virtual unsigned int size() const noexcept = 0;
	virtual bool eventIdx() const noexcept = 0;
	/*
	 * User addresses of the three parts, for VHOST_SET_VRING_ADDR: split,
	 * the descriptor table, available and used rings; packed, the
	 * descriptor ring, the driver and the device event suppression areas.
	 */
	virtual vhost::VringAddr addresses() const noexcept = 0;
	/*
	 * VHOST_SET_VRING_BASE for the ring as it is now: split, the next
	 * avail index; packed, last_avail_idx | avail_wrap << 15 |
	 * (last_used_idx | used_wrap << 15) << 16, when nothing is in flight.
	 */
	virtual unsigned int vringBase() const noexcept = 0;

	/* Descriptors free for add(). */
	virtual unsigned int freeDescriptors() const noexcept = 0;
	/* Buffers added and not yet used by the device. */
	virtual unsigned int inFlight() const noexcept = 0;

	/*
	 * Put @chain (device-readable buffers first) in the ring, not yet
	 * visible to the device.  Returns its id (below size()), or nothing
	 * when too few descriptors are free.  std::invalid_argument for an
	 * empty chain.
	 */
	virtual std::optional<uint16_t> add(std::span<const Buffer> chain) = 0;
	/*
	 * Make the added buffers visible to the device.  Returns whether the
	 * device asked to be kicked for them.
	 */
	virtual bool publish() = 0;

	/* Did the device use buffers not yet popped? */
	virtual bool hasUsed() const noexcept = 0;
	/*
	 * The next buffer the device used, its descriptors free again.
	 * Throws vhost::Error(EPROTO) naming what the device wrote wrong (an
	 * id past the ring or not in flight, a length past the buffer's
	 * writable bytes); the ring is then unusable.
	 */
	virtual std::optional<UsedElem> popUsed() = 0;

	/*
	 * Ask for a call when the device uses the next buffer.  Returns true
	 * when buffers were used meanwhile: pop them before waiting.
	 */
	virtual bool enableCalls() = 0;
	/* Ask for no calls (a hint: the device may call anyway). */
	virtual void disableCalls() = 0;
};

} // namespace virtio

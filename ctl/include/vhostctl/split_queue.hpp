// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::SplitQueue: the driver side of a split virtqueue (virtio 1.2,
 * section 2.7): descriptor table, available ring (with used_event) and used
 * ring (with avail_event), all little endian.  The driver adds descriptor
 * chains, publishes them, and pops the chains the device returned.
 *
 * The layout and the 16-bit index arithmetic are plain functions, usable
 * without a device.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vhostctl/device.hpp"
#include "vhostctl/virtqueue.hpp"

namespace virtio {

/* virtq_avail.flags and virtq_used.flags. */
inline constexpr uint16_t availFNoInterrupt = 1;
inline constexpr uint16_t usedFNoNotify = 1;

/*
 * Where the parts of a ring of @num entries lie, in bytes from the start of
 * the descriptor table: the table (16 bytes an entry), the available ring
 * (flags, idx, ring[num], used_event) right after it, and the used ring
 * (flags, idx, ring[num] of {id, len}, avail_event) at the next multiple of
 * @usedAlign: 4 for virtio 1.x, a page for a legacy contiguous ring.
 */
struct RingLayout {
	unsigned int num = 0;
	std::size_t descOffset = 0;
	std::size_t descSize = 0;
	std::size_t availOffset = 0;
	std::size_t availSize = 0;
	std::size_t usedEventOffset = 0;
	std::size_t usedOffset = 0;
	std::size_t usedSize = 0;
	std::size_t availEventOffset = 0;
	std::size_t totalSize = 0;

	/* Throws std::invalid_argument unless @num is a power of two <= 32768. */
	static RingLayout compute(unsigned int num, std::size_t usedAlign = 4);
};

/* The ring slot of free-running index @idx. */
constexpr unsigned int ringSlot(uint16_t idx, unsigned int num) noexcept
{
	return idx & (num - 1);
}

/* How many entries lie between two free-running indices, across wrap-around. */
constexpr uint16_t ringDistance(uint16_t newer, uint16_t older) noexcept
{
	return static_cast<uint16_t>(newer - older);
}

class SplitQueue final : public Virtqueue
{
public:
	/*
	 * Lay out a ring of @num entries at the start of @area, which must
	 * hold RingLayout::compute(@num).totalSize zeroed bytes, 16-byte
	 * aligned.  @eventIdx: VIRTIO_RING_F_EVENT_IDX was negotiated.
	 */
	SplitQueue(std::span<std::byte> area, unsigned int num, bool eventIdx);

	RingType type() const noexcept override { return RingType::Split; }
	unsigned int size() const noexcept override { return layout_.num; }
	const RingLayout &layout() const noexcept { return layout_; }
	bool eventIdx() const noexcept override { return eventIdx_; }
	/* User addresses of the parts, for VHOST_SET_VRING_ADDR. */
	vhost::VringAddr addresses() const noexcept override;
	/* The next avail index, published or not. */
	unsigned int vringBase() const noexcept override { return availIdx_; }

	unsigned int freeDescriptors() const noexcept override
	{
		return static_cast<unsigned int>(free_.size());
	}
	/* Chains added and not yet returned by the device. */
	unsigned int inFlight() const noexcept override { return inFlight_; }
	/* The next avail index (counting unpublished chains), the next used one. */
	uint16_t availIdx() const noexcept { return availIdx_; }
	uint16_t lastUsedIdx() const noexcept { return lastUsed_; }

	/*
	 * Put @chain (device-readable buffers first) in the descriptor table
	 * and the available ring, not yet visible to the device.  Returns
	 * its head, or nothing when too few descriptors are free.
	 */
	std::optional<uint16_t> add(std::span<const Buffer> chain) override;

	/*
	 * Make the added chains visible (store avail->idx).  Returns whether
	 * the device asked to be kicked: its avail_event was crossed, or,
	 * without EVENT_IDX, it did not set VRING_USED_F_NO_NOTIFY.
	 */
	bool publish() override;

	/* Did the device return chains not yet popped? */
	bool hasUsed() const noexcept override;
	/*
	 * The next chain the device returned, its descriptors freed.  Throws
	 * vhost::Error(EPROTO) when the device returns a head that is not in
	 * flight.
	 */
	std::optional<UsedElem> popUsed() override;

	/*
	 * Ask for a call when the device returns the next chain (used_event
	 * with EVENT_IDX, else clear VRING_AVAIL_F_NO_INTERRUPT).  Returns
	 * true when chains were returned meanwhile: pop them before waiting.
	 */
	bool enableCalls() override;
	/* Ask for no calls (VRING_AVAIL_F_NO_INTERRUPT; a hint only). */
	void disableCalls() override;

private:
	uint16_t *availFlags() const;
	uint16_t *availIdxPtr() const;
	uint16_t *availRing() const;
	uint16_t *usedEvent() const;
	uint16_t *usedFlags() const;
	uint16_t *usedIdxPtr() const;
	std::byte *usedRing() const;
	uint16_t *availEvent() const;

	std::byte *base_;
	RingLayout layout_;
	bool eventIdx_;
	uint16_t availIdx_ = 0;  /* next avail entry to fill */
	uint16_t published_ = 0; /* avail->idx as last stored */
	uint16_t lastUsed_ = 0;  /* next used entry to read */
	unsigned int inFlight_ = 0;
	std::vector<uint16_t> free_;     /* free descriptors, a stack */
	std::vector<uint16_t> next_;     /* our copy of each chain's links */
	std::vector<uint16_t> chainLen_; /* by head; 0 when not in flight */
};

} // namespace virtio

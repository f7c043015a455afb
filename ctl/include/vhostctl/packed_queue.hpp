// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::PackedQueue: the driver side of a packed virtqueue (virtio 1.2,
 * section 2.8; VIRTIO_F_RING_PACKED).  One descriptor ring, written by both
 * sides: the driver makes a buffer available by writing its descriptors
 * (le64 addr, le32 len, le16 id, le16 flags) at its next slots, the first
 * descriptor's flags last; the device overwrites one descriptor per buffer
 * it used, at its own used position, in the order it completes them, and
 * skips as many slots as the buffer took.  Which lap a descriptor belongs
 * to is told by the AVAIL (bit 7) and USED (bit 15) flags against each
 * side's wrap counter, which starts at 1.  Two 4-byte event suppression
 * areas (le16 off_wrap, le16 flags) say whether the driver wants calls (the
 * driver area) and the device kicks (the device area): ENABLE, DISABLE, or
 * with VIRTIO_RING_F_EVENT_IDX, DESC, at one slot of one lap.
 *
 * Everything the device writes is checked before it is believed: the
 * buffer id of a used descriptor (below the ring size, in flight) and its
 * length (within the buffer's device-writable bytes).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vhostctl/virtqueue.hpp"

namespace virtio {

/* Flags of a packed descriptor, besides NEXT, WRITE and INDIRECT. */
inline constexpr uint16_t descFAvail = 1 << 7;
inline constexpr uint16_t descFUsed = 1 << 15;

/* The flags of an event suppression area. */
inline constexpr uint16_t eventFlagsEnable = 0;
inline constexpr uint16_t eventFlagsDisable = 1;
inline constexpr uint16_t eventFlagsDesc = 2; /* only with VIRTIO_RING_F_EVENT_IDX */

/*
 * Where the parts of a packed ring of @num entries lie, in bytes from the
 * start of the descriptor ring (16-byte aligned): the ring (16 bytes a
 * descriptor), then the driver's and the device's event suppression areas
 * (4 bytes each, 4-byte aligned).
 */
struct PackedLayout {
	unsigned int num = 0;
	std::size_t descOffset = 0;
	std::size_t descSize = 0;
	std::size_t driverEventOffset = 0;
	std::size_t deviceEventOffset = 0;
	std::size_t totalSize = 0;

	/* Throws std::invalid_argument unless 1 <= @num <= 32768. */
	static PackedLayout compute(unsigned int num);
};

/*
 * VHOST_SET/GET_VRING_BASE of a packed ring, and vhost-user's
 * SET/GET_VRING_BASE: last_avail_idx | avail_wrap << 15 | (last_used_idx |
 * used_wrap << 15) << 16.
 */
struct PackedVringBase {
	uint16_t availIdx = 0;
	bool availWrap = true;
	uint16_t usedIdx = 0;
	bool usedWrap = true;

	constexpr uint32_t encode() const noexcept
	{
		return static_cast<uint32_t>(availIdx & 0x7fff) | (availWrap ? 1U << 15 : 0) |
		       static_cast<uint32_t>(usedIdx & 0x7fff) << 16 | (usedWrap ? 1U << 31 : 0);
	}
	static constexpr PackedVringBase decode(uint32_t num) noexcept
	{
		return PackedVringBase{static_cast<uint16_t>(num & 0x7fff), (num >> 15 & 1) != 0,
				       static_cast<uint16_t>(num >> 16 & 0x7fff),
				       (num >> 31 & 1) != 0};
	}
	friend constexpr bool operator==(const PackedVringBase &,
					 const PackedVringBase &) noexcept = default;
};

class PackedQueue final : public Virtqueue
{
public:
	/*
	 * Lay out a packed ring of @num entries (1 to 32768, any number) at
	 * the start of @area, which must hold PackedLayout::compute(@num)
	 * .totalSize bytes, 16-byte aligned; the ring is zeroed here.
	 * @eventIdx: VIRTIO_RING_F_EVENT_IDX was negotiated.
	 */
	PackedQueue(std::span<std::byte> area, unsigned int num, bool eventIdx);

	RingType type() const noexcept override { return RingType::Packed; }
	unsigned int size() const noexcept override { return layout_.num; }
	const PackedLayout &layout() const noexcept { return layout_; }
	bool eventIdx() const noexcept override { return eventIdx_; }
	/* The descriptor ring, the driver and the device event suppression areas. */
	vhost::VringAddr addresses() const noexcept override;
	/* The next slot to fill and the next to be used, with their wrap counters. */
	unsigned int vringBase() const noexcept override { return base().encode(); }
	PackedVringBase base() const noexcept
	{
		return {nextAvail_, availWrap_, nextUsed_, usedWrap_};
	}

	/* Slots of the ring no buffer in flight takes. */
	unsigned int freeDescriptors() const noexcept override { return freeSlots_; }
	unsigned int inFlight() const noexcept override { return inFlight_; }

	/*
	 * Write @chain at the next free slots, its buffer id in every
	 * descriptor, all but the first one's flags; publish() writes those.
	 * Returns the buffer id, or nothing when the ring has too few free
	 * slots.
	 */
	std::optional<uint16_t> add(std::span<const Buffer> chain) override;
	/*
	 * Write the first flags of every buffer added (release: the rest of
	 * each buffer before them), in order.  Returns whether the device
	 * asked to be kicked: its event area says ENABLE, or with EVENT_IDX
	 * DESC at a slot just made available.  Only the two low bits of the
	 * area's flags are read, the other fourteen being reserved; of the
	 * four values those take, 3, which the spec leaves undefined, asks
	 * for a kick, as do DESC without EVENT_IDX and an offset past the
	 * ring: an extra kick is harmless, a lost one would stall the ring.
	 */
	bool publish() override;

	/* Is the descriptor at the next used slot used in this lap? */
	bool hasUsed() const noexcept override;
	/*
	 * The buffer the device used at the next used slot; its slots and id
	 * are free again.  Its length is what the device says it wrote,
	 * read whether or not it set VIRTQ_DESC_F_WRITE in the used
	 * descriptor: QEMU never sets it, the module and DPDK do, and
	 * Linux's driver reads the length either way.  Throws
	 * vhost::Error(EPROTO) for an id past the ring or not in flight, or
	 * a length past the buffer's device-writable bytes, with the slot
	 * and lap it read.
	 */
	std::optional<UsedElem> popUsed() override;

	/*
	 * Driver area: DESC at the next used slot and lap with EVENT_IDX,
	 * ENABLE without; then look at the ring again.
	 */
	bool enableCalls() override;
	/* Driver area: DISABLE. */
	void disableCalls() override;

private:
	std::byte *desc(unsigned int slot) const noexcept;
	/* The next slot after @slot, toggling @wrap past the end. */
	void advance(uint16_t &slot, bool &wrap, unsigned int by) const noexcept;

	struct Pending {
		uint16_t slot;
		uint16_t flags;
	};
	/* A buffer id's state; slots 0 when not in flight. */
	struct IdState {
		uint16_t slots = 0;
		uint64_t writable = 0;
	};

	std::byte *base_;
	PackedLayout layout_;
	bool eventIdx_;
	/* The next slot to make available, and the driver's wrap counter. */
	uint16_t nextAvail_ = 0;
	bool availWrap_ = true;
	/* The slot where the device writes its next used descriptor, and its lap. */
	uint16_t nextUsed_ = 0;
	bool usedWrap_ = true;
	unsigned int freeSlots_;
	unsigned int inFlight_ = 0;
	/* Slots added since the last publish(), for EVENT_IDX. */
	unsigned int added_ = 0;
	/* The first descriptor of each buffer added, flags not yet written. */
	std::vector<Pending> pending_;
	std::vector<uint16_t> freeIds_; /* a stack */
	std::vector<IdState> ids_;
};

} // namespace virtio

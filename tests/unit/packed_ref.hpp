// SPDX-License-Identifier: GPL-2.0
/*
 * A reference device for packed virtqueues, written for the tests from the
 * virtio 1.2 specification (section 2.8), independently of the library's
 * driver: what vring_ref.c is for the split layout.  It reads the driver's
 * descriptors strictly, as a careful device would, and throws
 * test::DriverBug when the driver breaks a rule (a buffer whose
 * descriptors are not all available in their lap, writable elements
 * before readable ones, a chain longer than the ring, a flag the driver
 * may not set); it writes used descriptors (without VIRTQ_DESC_F_WRITE,
 * as QEMU does, or with it, as the kernel module and DPDK do), honours
 * the driver's event suppression area when it decides to call, and can
 * write anything at all into the ring for the tests of a misbehaving
 * device.
 *
 * Positions are tracked as free-running counts of slots, not as the 15-bit
 * index and wrap bit the ring stores, so that its arithmetic is not the
 * driver's.
 */
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "vhostctl/device.hpp"
#include "vhostctl/le.hpp"
#include "vhostctl/packed_queue.hpp"

namespace test {

/* The driver broke a rule of the packed ring. */
struct DriverBug : std::logic_error {
	using std::logic_error::logic_error;
};

class PackedRef
{
public:
	/* The flags bits the spec names; any other set by a driver is a bug. */
	static constexpr uint16_t next = 1, write = 2, indirect = 4, avail = 1 << 7, used = 1 << 15;

	struct Chain {
		uint16_t id = 0;
		std::vector<virtio::Buffer> bufs;
		unsigned int slots = 0;
		uint64_t writable = 0;
	};

	/* The three areas, at the addresses VHOST_SET_VRING_ADDR would carry. */
	PackedRef(const vhost::VringAddr &a, unsigned int num, bool eventIdx)
		: desc_(reinterpret_cast<std::byte *>(a.desc)),
		  driver_(reinterpret_cast<std::byte *>(a.avail)),
		  device_(reinterpret_cast<std::byte *>(a.used)), num_(num), eventIdx_(eventIdx)
	{}

	unsigned int num() const noexcept { return num_; }
	/* Slots the device has read, and slots it has used, since the start. */
	uint64_t availCount() const noexcept { return availCount_; }
	uint64_t usedCount() const noexcept { return usedCount_; }
	/* The ring index and wrap counter of a free-running count. */
	uint16_t slotOf(uint64_t count) const noexcept
	{
		return static_cast<uint16_t>((count + origin_) % num_);
	}
	bool wrapOf(uint64_t count) const noexcept
	{
		/* Wrap counters start at 1 and flip at every lap. */
		return ((count + origin_) / num_) % 2 == 0;
	}

	/* VHOST_SET_VRING_BASE: both positions, which must be in the same lap state. */
	void setBase(const virtio::PackedVringBase &b)
	{
		if (b.availIdx >= num_ || b.usedIdx >= num_ || b.availIdx != b.usedIdx ||
		    b.availWrap != b.usedWrap)
			throw std::invalid_argument("reference device: a base it cannot model");
		origin_ = b.availIdx + (b.availWrap ? 0 : num_);
		availCount_ = usedCount_ = 0;
	}
	virtio::PackedVringBase base() const noexcept
	{
		return {slotOf(availCount_), wrapOf(availCount_), slotOf(usedCount_),
			wrapOf(usedCount_)};
	}

	/* Has the driver made the next slot available? */
	bool hasAvail() const noexcept { return availableAt(availCount_); }

	/* The next buffer the driver made available, or nothing; DriverBug if malformed. */
	std::optional<Chain> pop()
	{
		if (!availableAt(availCount_))
			return std::nullopt;
		Chain c;
		for (;;) {
			uint64_t at = availCount_ + c.slots;
			if (c.slots == num_)
				throw DriverBug(fmt::format("slot {}: a chain longer than the ring",
							    slotOf(at)));
			if (c.slots && !availableAt(at))
				throw DriverBug(fmt::format(
					"slot {}: descriptor {} of a chain is not available in "
					"its lap (flags {:#x})",
					slotOf(at), c.slots, flags(slotOf(at))));
			const std::byte *d = descAt(slotOf(at));
			uint16_t f = flags(slotOf(at));
			if (f & ~(next | write | avail | used))
				throw DriverBug(fmt::format("slot {}: flags {:#x}", slotOf(at), f));
			bool w = f & write;
			if (!w && c.writable)
				throw DriverBug(fmt::format("slot {}: a readable element after a "
							    "writable one",
							    slotOf(at)));
			virtio::Buffer b{vhost::le::load<uint64_t>(d),
					 vhost::le::load<uint32_t>(d + 8), w};
			c.bufs.push_back(b);
			if (w)
				c.writable += b.len;
			c.slots++;
			if (!(f & next)) {
				/* The buffer id is the last descriptor's. */
				c.id = vhost::le::load<uint16_t>(d + 12);
				break;
			}
		}
		availCount_ += c.slots;
		return c;
	}

	/*
	 * Use buffer @id, which took @slots slots, @len bytes written: one
	 * used descriptor at the next used slot, then skip the rest.  Its
	 * flags carry VIRTQ_DESC_F_WRITE only with @dpdk: QEMU
	 * (virtqueue_packed_fill_desc) never sets it, DPDK and the kernel
	 * module set it when they wrote something; the length is there either
	 * way.  Returns whether the driver's event suppression area asks for
	 * a call now.
	 */
	bool push(uint16_t id, uint32_t len, unsigned int slots, bool dpdk = false)
	{
		if (usedCount_ + slots > availCount_)
			throw std::logic_error("reference device: using slots it has not read");
		uint64_t old = usedCount_;
		std::byte *d = descAt(slotOf(old));
		vhost::le::store<uint16_t>(d + 12, id);
		vhost::le::store<uint32_t>(d + 8, len);
		uint16_t f = static_cast<uint16_t>((wrapOf(old) ? avail | used : 0) |
						   (dpdk && len ? write : 0));
		std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(d + 14))
			.store(vhost::le::convert(f), std::memory_order_release);
		usedCount_ += slots;
		std::atomic_thread_fence(std::memory_order_seq_cst);
		return wantsCall(old, usedCount_);
	}
	bool push(const Chain &c, uint32_t len) { return push(c.id, len, c.slots); }

	/*
	 * A misbehaving device: write @id, @len and @flags at the next used
	 * slot as they are, without advancing.
	 */
	void writeUsedRaw(uint16_t id, uint32_t len, uint16_t f)
	{
		std::byte *d = descAt(slotOf(usedCount_));
		vhost::le::store<uint16_t>(d + 12, id);
		vhost::le::store<uint32_t>(d + 8, len);
		std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(d + 14))
			.store(vhost::le::convert(f), std::memory_order_release);
	}
	/* The flags a used descriptor at the next used slot carries (WRITE with @dpdk). */
	uint16_t usedFlagsNow(bool dpdk = false) const noexcept
	{
		return static_cast<uint16_t>((wrapOf(usedCount_) ? avail | used : 0) |
					     (dpdk ? write : 0));
	}

	/*
	 * The device's event suppression area (the driver reads it to kick),
	 * whole in one store: the driver reads it in one 32-bit load, and
	 * must never see DESC with the old offset, or the new offset with
	 * the old flags.
	 */
	void setEvent(uint16_t offWrap, uint16_t f)
	{
		atomic32(device_).store(vhost::le::convert(packEvent(offWrap, f)),
					std::memory_order_release);
	}
	/*
	 * EVENT_IDX: a kick when the driver makes available the slot @ahead
	 * slots past what was read.
	 */
	void wantKickAt(uint64_t ahead)
	{
		uint64_t at = availCount_ + ahead;
		setEvent(static_cast<uint16_t>(slotOf(at) | (wrapOf(at) ? 0x8000 : 0)),
			 virtio::eventFlagsDesc);
	}
	/*
	 * The driver's event suppression area, each read whole in one load,
	 * as the driver writes it in one store.
	 */
	uint16_t driverOffWrap() const { return static_cast<uint16_t>(driverEvent() & 0xffff); }
	uint16_t driverFlags() const { return static_cast<uint16_t>(driverEvent() >> 16); }

private:
	/*
	 * The areas are written by one side while the other reads them, each
	 * whole: le16 off_wrap in the low half, le16 flags in the high half.
	 */
	static std::atomic_ref<uint32_t> atomic32(std::byte *p) noexcept
	{
		return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t *>(p));
	}
	static constexpr uint32_t packEvent(uint16_t offWrap, uint16_t f) noexcept
	{
		return static_cast<uint32_t>(offWrap) | static_cast<uint32_t>(f) << 16;
	}
	uint32_t driverEvent() const
	{
		return vhost::le::convert(atomic32(driver_).load(std::memory_order_acquire));
	}

	std::byte *descAt(unsigned int slot) const noexcept { return desc_ + 16 * slot; }
	uint16_t flags(unsigned int slot) const noexcept
	{
		return vhost::le::convert(
			std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t *>(descAt(slot) + 14))
				.load(std::memory_order_acquire));
	}
	/* Is the descriptor at free-running position @count available in its lap? */
	bool availableAt(uint64_t count) const noexcept
	{
		uint16_t f = flags(slotOf(count));
		bool lap = wrapOf(count);
		return ((f & avail) != 0) == lap && ((f & used) != 0) != lap;
	}
	/*
	 * Used slots [@from, @to) were just written: does the driver want a
	 * call?  ENABLE yes, DISABLE no, DESC (EVENT_IDX) when the slot it
	 * names, in the lap it names, is among them.
	 */
	bool wantsCall(uint64_t from, uint64_t to) const
	{
		/* Flags and offset from the same store of the driver's. */
		uint32_t event = driverEvent();
		auto f = static_cast<uint16_t>(event >> 16);
		if (f == virtio::eventFlagsEnable)
			return true;
		if (f == virtio::eventFlagsDisable)
			return false;
		if (f != virtio::eventFlagsDesc || !eventIdx_)
			throw DriverBug(fmt::format("driver event flags {:#x}", f));
		auto ow = static_cast<uint16_t>(event & 0xffff);
		unsigned int off = ow & 0x7fff;
		bool lap = ow >> 15;
		if (off >= num_)
			throw DriverBug(fmt::format("driver event offset {} past the ring", off));
		/* The position of that slot and lap at or after @from, within a ring's length. */
		for (uint64_t at = from; at < from + 2 * num_; at++) {
			if (slotOf(at) == off && wrapOf(at) == lap)
				return at < to;
		}
		return false;
	}

	std::byte *desc_;
	std::byte *driver_;
	std::byte *device_;
	unsigned int num_;
	bool eventIdx_;
	/* Where count 0 lies: slot origin_ % num_, in lap origin_ / num_. */
	uint64_t origin_ = 0;
	uint64_t availCount_ = 0;
	uint64_t usedCount_ = 0;
};

} // namespace test

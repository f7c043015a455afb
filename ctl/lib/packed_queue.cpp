// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/packed_queue.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/le.hpp"

namespace virtio {

namespace {

/* Sizes of the ring's wire structures (virtio 1.2, 2.8.21 and 2.8.22). */
constexpr std::size_t descBytes = 16;   /* le64 addr, le32 len, le16 id, le16 flags */
constexpr std::size_t eventBytes = 4;   /* le16 off_wrap, le16 flags */
constexpr std::size_t lenOffset = 8;    /* in a descriptor */
constexpr std::size_t idOffset = 12;    /* in a descriptor */
constexpr std::size_t flagsOffset = 14; /* in a descriptor */
constexpr uint16_t wrapBit = 1 << 15;   /* of off_wrap */

uint16_t *flagsOf(std::byte *desc) noexcept
{
	return reinterpret_cast<uint16_t *>(desc + flagsOffset);
}

/* A descriptor's flags, which the other side reads or writes concurrently. */
uint16_t loadFlags(std::byte *desc) noexcept
{
	return vhost::le::convert(
		std::atomic_ref<uint16_t>(*flagsOf(desc)).load(std::memory_order_acquire));
}

void storeFlags(std::byte *desc, uint16_t flags, std::memory_order order) noexcept
{
	std::atomic_ref<uint16_t>(*flagsOf(desc)).store(vhost::le::convert(flags), order);
}

/* An event suppression area, whole: off_wrap in the low half, flags in the high. */
uint32_t loadEvent(std::byte *area) noexcept
{
	return vhost::le::convert(std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t *>(area))
					  .load(std::memory_order_relaxed));
}

void storeEvent(std::byte *area, uint16_t offWrap, uint16_t flags) noexcept
{
	uint32_t v = static_cast<uint32_t>(offWrap) | static_cast<uint32_t>(flags) << 16;
	std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t *>(area))
		.store(vhost::le::convert(v), std::memory_order_relaxed);
}

/* The flags that make a descriptor available in the lap of wrap counter @wrap. */
constexpr uint16_t availFlags(bool wrap) noexcept
{
	return wrap ? descFAvail : descFUsed;
}

/* Is a descriptor with @flags used in the lap of wrap counter @wrap? */
constexpr bool isUsed(uint16_t flags, bool wrap) noexcept
{
	bool avail = flags & descFAvail;
	bool used = flags & descFUsed;
	return avail == used && used == wrap;
}

} // namespace

PackedLayout PackedLayout::compute(unsigned int num)
{
	if (!num || num > maxQueueSize)
		throw std::invalid_argument(
			fmt::format("packed queue size {}: not from 1 to {}", num, maxQueueSize));

	PackedLayout l;
	l.num = num;
	l.descOffset = 0;
	l.descSize = descBytes * num;
	/* 16 bytes a descriptor: the areas after the ring are 4-byte aligned. */
	l.driverEventOffset = l.descOffset + l.descSize;
	l.deviceEventOffset = l.driverEventOffset + eventBytes;
	l.totalSize = l.deviceEventOffset + eventBytes;
	return l;
}

PackedQueue::PackedQueue(std::span<std::byte> area, unsigned int num, bool eventIdx)
	: base_(area.data()), layout_(PackedLayout::compute(num)), eventIdx_(eventIdx),
	  freeSlots_(num)
{
	if (area.size() < layout_.totalSize)
		throw std::invalid_argument(
			fmt::format("a packed ring of {} entries needs {} bytes, not {}", num,
				    layout_.totalSize, area.size()));
	if (reinterpret_cast<uintptr_t>(base_) % 16)
		throw std::invalid_argument("the descriptor ring must be 16-byte aligned");

	/* The spec's initial state: every descriptor zero, both areas ENABLE. */
	std::memset(base_, 0, layout_.totalSize);
	freeIds_.reserve(num);
	for (unsigned int i = num; i-- > 0;)
		freeIds_.push_back(static_cast<uint16_t>(i));
	ids_.assign(num, IdState{});
	pending_.reserve(num);
}

vhost::VringAddr PackedQueue::addresses() const noexcept
{
	auto addr = [this](std::size_t offset) {
		return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(base_ + offset));
	};
	return vhost::VringAddr{addr(layout_.descOffset), addr(layout_.driverEventOffset),
				addr(layout_.deviceEventOffset)};
}

std::byte *PackedQueue::desc(unsigned int slot) const noexcept
{
	return base_ + layout_.descOffset + descBytes * slot;
}

void PackedQueue::advance(uint16_t &slot, bool &wrap, unsigned int by) const noexcept
{
	unsigned int next = slot + by;

	if (next >= size()) {
		next -= size();
		wrap = !wrap;
	}
	slot = static_cast<uint16_t>(next);
}

std::optional<uint16_t> PackedQueue::add(std::span<const Buffer> chain)
{
	if (chain.empty())
		throw std::invalid_argument("an empty descriptor chain");
	if (chain.size() > freeSlots_)
		return std::nullopt;
	/*
	 * As many ids as slots, and every buffer in flight holds an id and
	 * at least one slot: with a slot free, so is an id.
	 */
	if (freeIds_.empty())
		throw std::logic_error("PackedQueue: free slots but no free buffer id");

	uint16_t id = freeIds_.back();
	freeIds_.pop_back();
	Pending head{nextAvail_, 0};
	uint64_t writable = 0;
	for (std::size_t i = 0; i < chain.size(); i++) {
		std::byte *d = desc(nextAvail_);
		bool last = i + 1 == chain.size();
		/* Each descriptor in the lap it lies in: a chain may wrap. */
		auto flags = static_cast<uint16_t>(availFlags(availWrap_) | (last ? 0 : descFNext) |
						   (chain[i].deviceWritable ? descFWrite : 0));

		vhost::le::store<uint64_t>(d, chain[i].gpa);
		vhost::le::store<uint32_t>(d + lenOffset, chain[i].len);
		/* The spec wants the id in the last; every one is simpler to read. */
		vhost::le::store<uint16_t>(d + idOffset, id);
		if (i == 0)
			head.flags = flags;
		else
			storeFlags(d, flags, std::memory_order_relaxed);
		if (chain[i].deviceWritable)
			writable += chain[i].len;
		advance(nextAvail_, availWrap_, 1);
	}

	ids_[id] = IdState{static_cast<uint16_t>(chain.size()), writable};
	freeSlots_ -= static_cast<unsigned int>(chain.size());
	added_ += static_cast<unsigned int>(chain.size());
	inFlight_++;
	pending_.push_back(head);
	return id;
}

bool PackedQueue::publish()
{
	if (pending_.empty())
		return false;
	/* Each buffer's other descriptors before its first flags (release). */
	for (const Pending &p : pending_)
		storeFlags(desc(p.slot), p.flags, std::memory_order_release);
	pending_.clear();
	unsigned int added = std::exchange(added_, 0);

	/* The flags before reading whether the device wants a kick. */
	std::atomic_thread_fence(std::memory_order_seq_cst);
	uint32_t event = loadEvent(base_ + layout_.deviceEventOffset);
	auto offWrap = static_cast<uint16_t>(event & 0xffff);
	/* Two bits: the other fourteen are reserved. */
	auto flags = static_cast<uint16_t>(event >> 16 & 0x3);

	if (flags == eventFlagsDisable)
		return false;
	if (flags != eventFlagsDesc || !eventIdx_)
		return true;
	unsigned int off = offWrap & ~wrapBit;
	if (off >= size())
		return true;
	/*
	 * The slot the device wants a kick for, counted from the start of
	 * the driver's current lap: one of the previous lap lies below 0.
	 */
	auto eventSlot = static_cast<uint16_t>(off);
	if (((offWrap & wrapBit) != 0) != availWrap_)
		eventSlot = static_cast<uint16_t>(eventSlot - size());
	auto oldSlot = static_cast<uint16_t>(nextAvail_ - added);
	return needEvent(eventSlot, nextAvail_, oldSlot);
}

bool PackedQueue::hasUsed() const noexcept
{
	return isUsed(loadFlags(desc(nextUsed_)), usedWrap_);
}

std::optional<UsedElem> PackedQueue::popUsed()
{
	std::byte *d = desc(nextUsed_);
	/* Acquire: the id and length after the flags that made them used. */
	uint16_t flags = loadFlags(d);
	if (!isUsed(flags, usedWrap_))
		return std::nullopt;

	uint16_t id = vhost::le::load<uint16_t>(d + idOffset);
	auto where = [&] {
		return fmt::format("packed ring of {}: used descriptor at slot {} (wrap {})",
				   size(), nextUsed_, usedWrap_ ? 1 : 0);
	};
	if (id >= size())
		throw vhost::Error(EPROTO,
				   fmt::format("{}: buffer id {} is past the ring", where(), id));
	IdState &st = ids_[id];
	if (!st.slots)
		throw vhost::Error(EPROTO,
				   fmt::format("{}: buffer id {} is not in flight", where(), id));
	/*
	 * The length whether or not the device set WRITE in the used flags:
	 * QEMU never sets it (nor did the module before it followed the
	 * spec), and Linux's driver reads the length regardless.
	 */
	uint32_t len = vhost::le::load<uint32_t>(d + lenOffset);
	if (len > st.writable)
		throw vhost::Error(EPROTO,
				   fmt::format("{}: buffer id {} used with {} bytes written, but "
					       "it has {} device-writable bytes",
					       where(), id, len, st.writable));

	advance(nextUsed_, usedWrap_, st.slots);
	freeSlots_ += st.slots;
	inFlight_--;
	st = IdState{};
	freeIds_.push_back(id);
	return UsedElem{id, len};
}

bool PackedQueue::enableCalls()
{
	/* One store: the device never sees DESC with an old offset. */
	if (eventIdx_)
		storeEvent(base_ + layout_.driverEventOffset,
			   static_cast<uint16_t>(nextUsed_ | (usedWrap_ ? wrapBit : 0)),
			   eventFlagsDesc);
	else
		storeEvent(base_ + layout_.driverEventOffset, 0, eventFlagsEnable);
	/* The request before looking at the ring again. */
	std::atomic_thread_fence(std::memory_order_seq_cst);
	return hasUsed();
}

void PackedQueue::disableCalls()
{
	storeEvent(base_ + layout_.driverEventOffset, 0, eventFlagsDisable);
}

} // namespace virtio

// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/split_queue.hpp"

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/le.hpp"

namespace virtio {

namespace {

/* Sizes of the ring's wire structures (virtio 1.2, 2.7.5 to 2.7.8). */
constexpr std::size_t descBytes = 16;      /* le64 addr, le32 len, le16 flags, le16 next */
constexpr std::size_t ringHeaderBytes = 4; /* le16 flags, le16 idx */
constexpr std::size_t availElemBytes = 2;  /* le16 */
constexpr std::size_t usedElemBytes = 8;   /* le32 id, le32 len */
constexpr std::size_t eventBytes = 2;      /* le16 used_event / avail_event */

/* Indices the other side reads or writes concurrently. */
uint16_t loadAcquire(uint16_t *p) noexcept
{
	return vhost::le::convert(std::atomic_ref<uint16_t>(*p).load(std::memory_order_acquire));
}

void storeRelease(uint16_t *p, uint16_t v) noexcept
{
	std::atomic_ref<uint16_t>(*p).store(vhost::le::convert(v), std::memory_order_release);
}

uint16_t loadRelaxed(uint16_t *p) noexcept
{
	return vhost::le::convert(std::atomic_ref<uint16_t>(*p).load(std::memory_order_relaxed));
}

void storeRelaxed(uint16_t *p, uint16_t v) noexcept
{
	std::atomic_ref<uint16_t>(*p).store(vhost::le::convert(v), std::memory_order_relaxed);
}

} // namespace

RingLayout RingLayout::compute(unsigned int num, std::size_t usedAlign)
{
	if (!num || num > maxQueueSize || !std::has_single_bit(num))
		throw std::invalid_argument(fmt::format(
			"queue size {}: not a power of two from 1 to {}", num, maxQueueSize));
	if (!usedAlign || !std::has_single_bit(usedAlign) || usedAlign < 4)
		throw std::invalid_argument(fmt::format("used ring alignment {}", usedAlign));

	RingLayout l;
	l.num = num;
	l.descOffset = 0;
	l.descSize = descBytes * num;
	l.availOffset = l.descOffset + l.descSize;
	l.availSize = ringHeaderBytes + availElemBytes * num + eventBytes;
	l.usedEventOffset = l.availOffset + ringHeaderBytes + availElemBytes * num;
	l.usedOffset = (l.availOffset + l.availSize + usedAlign - 1) & ~(usedAlign - 1);
	l.usedSize = ringHeaderBytes + usedElemBytes * num + eventBytes;
	l.availEventOffset = l.usedOffset + ringHeaderBytes + usedElemBytes * num;
	l.totalSize = l.usedOffset + l.usedSize;
	return l;
}

SplitQueue::SplitQueue(std::span<std::byte> area, unsigned int num, bool eventIdx)
	: base_(area.data()), layout_(RingLayout::compute(num)), eventIdx_(eventIdx)
{
	if (area.size() < layout_.totalSize)
		throw std::invalid_argument(
			fmt::format("a ring of {} entries needs {} bytes, not {}", num,
				    layout_.totalSize, area.size()));
	if (reinterpret_cast<uintptr_t>(base_) % 16)
		throw std::invalid_argument("the descriptor table must be 16-byte aligned");

	free_.reserve(num);
	for (unsigned int i = num; i-- > 0;)
		free_.push_back(static_cast<uint16_t>(i));
	next_.assign(num, 0);
	chainLen_.assign(num, 0);
}

vhost::VringAddr SplitQueue::addresses() const noexcept
{
	auto addr = [this](std::size_t offset) {
		return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(base_ + offset));
	};
	return vhost::VringAddr{addr(layout_.descOffset), addr(layout_.availOffset),
				addr(layout_.usedOffset)};
}

uint16_t *SplitQueue::availFlags() const
{
	return reinterpret_cast<uint16_t *>(base_ + layout_.availOffset);
}

uint16_t *SplitQueue::availIdxPtr() const
{
	return availFlags() + 1;
}

uint16_t *SplitQueue::availRing() const
{
	return availFlags() + 2;
}

uint16_t *SplitQueue::usedEvent() const
{
	return reinterpret_cast<uint16_t *>(base_ + layout_.usedEventOffset);
}

uint16_t *SplitQueue::usedFlags() const
{
	return reinterpret_cast<uint16_t *>(base_ + layout_.usedOffset);
}

uint16_t *SplitQueue::usedIdxPtr() const
{
	return usedFlags() + 1;
}

std::byte *SplitQueue::usedRing() const
{
	return base_ + layout_.usedOffset + ringHeaderBytes;
}

uint16_t *SplitQueue::availEvent() const
{
	return reinterpret_cast<uint16_t *>(base_ + layout_.availEventOffset);
}

std::optional<uint16_t> SplitQueue::add(std::span<const Buffer> chain)
{
	if (chain.empty())
		throw std::invalid_argument("an empty descriptor chain");
	if (chain.size() > free_.size())
		return std::nullopt;

	/* Pop the descriptors first, so that each knows its successor. */
	std::vector<uint16_t> ids(chain.size());
	for (auto &id : ids) {
		id = free_.back();
		free_.pop_back();
	}
	for (std::size_t i = 0; i < chain.size(); i++) {
		std::byte *d = base_ + layout_.descOffset + descBytes * ids[i];
		bool last = i + 1 == chain.size();
		uint16_t flags = static_cast<uint16_t>((last ? 0 : descFNext) |
						       (chain[i].deviceWritable ? descFWrite : 0));
		uint16_t next = last ? 0 : ids[i + 1];

		vhost::le::store<uint64_t>(d, chain[i].gpa);
		vhost::le::store<uint32_t>(d + 8, chain[i].len);
		vhost::le::store<uint16_t>(d + 12, flags);
		vhost::le::store<uint16_t>(d + 14, next);
		next_[ids[i]] = next;
	}

	uint16_t head = ids.front();
	chainLen_[head] = static_cast<uint16_t>(chain.size());
	vhost::le::store<uint16_t>(
		reinterpret_cast<std::byte *>(availRing() + ringSlot(availIdx_, size())), head);
	availIdx_++;
	inFlight_++;
	return head;
}

bool SplitQueue::publish()
{
	uint16_t old = published_;

	if (old == availIdx_)
		return false;
	/* The descriptors and ring entries before the index (release). */
	storeRelease(availIdxPtr(), availIdx_);
	published_ = availIdx_;
	/* The index before reading whether the device wants a kick. */
	std::atomic_thread_fence(std::memory_order_seq_cst);
	if (eventIdx_)
		return needEvent(loadRelaxed(availEvent()), availIdx_, old);
	return !(loadRelaxed(usedFlags()) & usedFNoNotify);
}

bool SplitQueue::hasUsed() const noexcept
{
	return loadAcquire(usedIdxPtr()) != lastUsed_;
}

std::optional<UsedElem> SplitQueue::popUsed()
{
	if (!hasUsed())
		return std::nullopt;

	/* hasUsed()'s acquire orders the element after the index. */
	const std::byte *e = usedRing() + usedElemBytes * ringSlot(lastUsed_, size());
	uint32_t id = vhost::le::load<uint32_t>(e);
	uint32_t len = vhost::le::load<uint32_t>(e + 4);

	if (id >= size())
		throw vhost::Error(EPROTO,
				   fmt::format("used ring entry {}: head {} is past the ring "
					       "of {} entries",
					       lastUsed_, id, size()));
	if (!chainLen_[id])
		throw vhost::Error(
			EPROTO,
			fmt::format("used ring entry {}: head {} is not in flight", lastUsed_, id));
	lastUsed_++;

	uint16_t d = static_cast<uint16_t>(id);
	for (unsigned int n = chainLen_[id]; n > 0; n--) {
		free_.push_back(d);
		d = next_[d];
	}
	chainLen_[id] = 0;
	inFlight_--;
	return UsedElem{static_cast<uint16_t>(id), len};
}

bool SplitQueue::enableCalls()
{
	if (eventIdx_)
		storeRelaxed(usedEvent(), lastUsed_);
	else
		storeRelaxed(availFlags(), 0);
	/* The request before reading the used index again. */
	std::atomic_thread_fence(std::memory_order_seq_cst);
	return hasUsed();
}

void SplitQueue::disableCalls()
{
	if (!eventIdx_)
		storeRelaxed(availFlags(), availFNoInterrupt);
}

} // namespace virtio

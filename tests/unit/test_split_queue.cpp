// SPDX-License-Identifier: GPL-2.0
/*
 * The split ring: layout against the kernel's own helpers, 16-bit index
 * arithmetic across wrap-around, and a driver talking to a small device
 * emulated in the test.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "vhostctl/error.hpp"
#include "vhostctl/split_queue.hpp"
#include "vring_ref.h"

using Catch::Matchers::ContainsSubstring;
using virtio::Buffer;
using virtio::RingLayout;
using virtio::SplitQueue;

namespace {

/* A 16-byte aligned, zeroed buffer for a ring. */
struct RingBuffer {
	explicit RingBuffer(std::size_t bytes) : words((bytes + 15) / 16 + 1) {}
	std::span<std::byte> span()
	{
		return {reinterpret_cast<std::byte *>(words.data()), words.size() * 16};
	}
	struct alignas(16) Word {
		unsigned char b[16];
	};
	std::vector<Word> words;
};

template <typename T>
T load(const std::byte *p)
{
	T v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}

template <typename T>
void store(std::byte *p, T v)
{
	std::memcpy(p, &v, sizeof(v));
}

/* The device's half of a ring, as the kernel would play it (x86: little endian). */
class FakeDevice
{
public:
	FakeDevice(std::span<std::byte> area, const RingLayout &l) : base_(area.data()), l_(l) {}

	uint16_t availIdx() const { return load<uint16_t>(base_ + l_.availOffset + 2); }
	uint16_t usedEvent() const { return load<uint16_t>(base_ + l_.usedEventOffset); }
	uint16_t availFlags() const { return load<uint16_t>(base_ + l_.availOffset); }
	void setAvailEvent(uint16_t v) { store(base_ + l_.availEventOffset, v); }
	void setUsedFlags(uint16_t v) { store(base_ + l_.usedOffset, v); }

	/* Take the next available chain: its head and buffers. */
	bool pop(uint16_t &head, std::vector<Buffer> &chain)
	{
		if (lastAvail_ == availIdx())
			return false;
		head = load<uint16_t>(base_ + l_.availOffset + 4 +
				      2 * virtio::ringSlot(lastAvail_, l_.num));
		lastAvail_++;
		chain.clear();
		uint16_t d = head;
		for (;;) {
			const std::byte *p = base_ + l_.descOffset + 16 * d;
			uint16_t flags = load<uint16_t>(p + 12);

			chain.push_back({load<uint64_t>(p), load<uint32_t>(p + 8),
					 (flags & virtio::descFWrite) != 0});
			if (!(flags & virtio::descFNext))
				break;
			d = load<uint16_t>(p + 14);
		}
		return true;
	}

	void push(uint32_t id, uint32_t len)
	{
		std::byte *e = base_ + l_.usedOffset + 4 + 8 * virtio::ringSlot(used_, l_.num);
		store(e, id);
		store(e + 4, len);
		used_++;
		store(base_ + l_.usedOffset + 2, used_);
	}

	uint16_t used() const { return used_; }

	/* Start both indices at @idx, as after VHOST_SET_VRING_BASE. */
	void startAt(uint16_t idx)
	{
		lastAvail_ = idx;
		used_ = idx;
	}

private:
	std::byte *base_;
	RingLayout l_;
	uint16_t lastAvail_ = 0;
	uint16_t used_ = 0;
};

} // namespace

TEST_CASE("RingLayout matches the virtio 1.2 split ring", "[ring]")
{
	auto num = GENERATE(1u, 2u, 8u, 128u, 256u, 1024u, 32768u);
	RingLayout l = RingLayout::compute(num);

	CHECK(l.num == num);
	CHECK(l.descOffset == 0);
	CHECK(l.descSize == 16 * num);
	CHECK(l.availOffset == 16 * num);
	/* flags, idx, ring[num], used_event */
	CHECK(l.availSize == 2 + 2 + 2 * num + 2);
	CHECK(l.usedEventOffset == l.availOffset + 4 + 2 * num);
	CHECK(l.usedOffset % 4 == 0);
	CHECK(l.usedOffset >= l.availOffset + l.availSize);
	CHECK(l.usedOffset < l.availOffset + l.availSize + 4);
	/* flags, idx, ring[num] of {id, len}, avail_event */
	CHECK(l.usedSize == 2 + 2 + 8 * num + 2);
	CHECK(l.availEventOffset == l.usedOffset + 4 + 8 * num);
	CHECK(l.totalSize == l.usedOffset + l.usedSize);
}

TEST_CASE("A legacy ring (used ring page aligned) matches the kernel's vring_init", "[ring]")
{
	auto num = GENERATE(1u, 4u, 64u, 256u, 4096u, 32768u);
	auto align = GENERATE(4ul, 64ul, 4096ul);
	RingLayout l = RingLayout::compute(num, align);
	vring_ref ref{};

	vring_ref_offsets(num, align, &ref);
	CHECK(l.totalSize == vring_ref_size(num, align));
	CHECK(l.availOffset == ref.avail);
	CHECK(l.usedOffset == ref.used);
	CHECK(l.usedEventOffset == ref.used_event);
	CHECK(l.availEventOffset == ref.avail_event);
}

TEST_CASE("RingLayout rejects sizes the spec does not allow", "[ring]")
{
	CHECK_THROWS_AS(RingLayout::compute(0), std::invalid_argument);
	CHECK_THROWS_AS(RingLayout::compute(3), std::invalid_argument);
	CHECK_THROWS_AS(RingLayout::compute(100), std::invalid_argument);
	CHECK_THROWS_AS(RingLayout::compute(65536), std::invalid_argument);
	CHECK_THROWS_AS(RingLayout::compute(256, 2), std::invalid_argument);
}

TEST_CASE("16-bit ring indices wrap around", "[ring]")
{
	CHECK(virtio::ringSlot(0, 256) == 0);
	CHECK(virtio::ringSlot(257, 256) == 1);
	CHECK(virtio::ringSlot(65535, 256) == 255);
	CHECK(virtio::ringSlot(65535, 1) == 0);
	CHECK(virtio::ringSlot(uint16_t(65535 + 1), 256) == 0);

	CHECK(virtio::ringDistance(10, 3) == 7);
	CHECK(virtio::ringDistance(2, 65534) == 4);
	CHECK(virtio::ringDistance(0, 65535) == 1);
	CHECK(virtio::ringDistance(5, 5) == 0);
}

TEST_CASE("needEvent is the kernel's vring_need_event", "[ring]")
{
	/* The other side asked to be told when index 5 is passed. */
	CHECK(virtio::needEvent(5, 6, 5));
	CHECK(virtio::needEvent(5, 6, 4));
	CHECK(virtio::needEvent(5, 10, 0));
	CHECK_FALSE(virtio::needEvent(5, 5, 4));
	CHECK_FALSE(virtio::needEvent(5, 5, 5));
	CHECK_FALSE(virtio::needEvent(5, 8, 6));
	/* Across the wrap of 16 bits. */
	CHECK(virtio::needEvent(65535, 1, 65534));
	CHECK(virtio::needEvent(65535, 0, 65535));
	CHECK_FALSE(virtio::needEvent(65535, 65535, 65530));
	CHECK_FALSE(virtio::needEvent(2, 1, 65534));
}

TEST_CASE("A chain goes into the descriptor table and the avail ring", "[ring]")
{
	RingLayout l = RingLayout::compute(8);
	RingBuffer buf(l.totalSize);
	SplitQueue q(buf.span(), 8, false);
	FakeDevice dev(buf.span(), l);

	REQUIRE(q.freeDescriptors() == 8);
	std::vector<Buffer> chain = {{0x1000, 16, false}, {0x2000, 4096, true}, {0x3000, 1, true}};
	auto head = q.add(chain);
	REQUIRE(head);
	CHECK(q.freeDescriptors() == 5);
	CHECK(q.inFlight() == 1);

	/* Not visible before publish. */
	uint16_t h;
	std::vector<Buffer> seen;
	CHECK_FALSE(dev.pop(h, seen));
	CHECK(q.publish());
	REQUIRE(dev.pop(h, seen));
	CHECK(h == *head);
	REQUIRE(seen.size() == 3);
	for (std::size_t i = 0; i < 3; i++) {
		CHECK(seen[i].gpa == chain[i].gpa);
		CHECK(seen[i].len == chain[i].len);
		CHECK(seen[i].deviceWritable == chain[i].deviceWritable);
	}

	CHECK_FALSE(q.popUsed());
	dev.push(h, 4097);
	auto used = q.popUsed();
	REQUIRE(used);
	CHECK(used->head == h);
	CHECK(used->len == 4097);
	CHECK(q.freeDescriptors() == 8);
	CHECK(q.inFlight() == 0);
	CHECK_FALSE(q.popUsed());
}

TEST_CASE("add() refuses a chain longer than the free descriptors", "[ring]")
{
	RingLayout l = RingLayout::compute(4);
	RingBuffer buf(l.totalSize);
	SplitQueue q(buf.span(), 4, false);
	std::vector<Buffer> three(3, Buffer{0x1000, 1, false});

	REQUIRE(q.add(three));
	CHECK_FALSE(q.add(three));
	CHECK(q.freeDescriptors() == 1);
	CHECK_THROWS_AS(q.add(std::vector<Buffer>{}), std::invalid_argument);
}

TEST_CASE("Indices wrap past 65535 while requests flow", "[ring]")
{
	auto eventIdx = GENERATE(false, true);
	RingLayout l = RingLayout::compute(4);
	RingBuffer buf(l.totalSize);
	SplitQueue q(buf.span(), 4, eventIdx);
	FakeDevice dev(buf.span(), l);
	uint16_t h;
	std::vector<Buffer> seen;

	/* 70000 requests of two descriptors, two at a time. */
	unsigned int bad = 0;
	for (unsigned int i = 0; i < 35000; i++) {
		std::vector<Buffer> chain = {{0x1000u + i, 16, false}, {0x2000, 1, true}};
		bool ok = q.add(chain) && q.add(chain);
		q.publish();
		ok = ok && dev.pop(h, seen) && seen[0].gpa == 0x1000u + i;
		dev.push(h, 1);
		ok = ok && dev.pop(h, seen);
		dev.push(h, 1);
		ok = ok && q.popUsed() && q.popUsed() && !q.popUsed();
		bad += !ok;
	}
	CHECK(bad == 0);
	CHECK(q.availIdx() == uint16_t(70000));
	CHECK(q.lastUsedIdx() == uint16_t(70000));
	CHECK(q.freeDescriptors() == 4);
}

TEST_CASE("Without EVENT_IDX the device's NO_NOTIFY flag decides the kick", "[ring]")
{
	RingLayout l = RingLayout::compute(8);
	RingBuffer buf(l.totalSize);
	SplitQueue q(buf.span(), 8, false);
	FakeDevice dev(buf.span(), l);
	std::vector<Buffer> one = {{0x1000, 1, true}};

	CHECK_FALSE(q.publish()); /* nothing new */
	q.add(one);
	CHECK(q.publish());
	dev.setUsedFlags(virtio::usedFNoNotify);
	q.add(one);
	CHECK_FALSE(q.publish());

	q.disableCalls();
	CHECK(dev.availFlags() == virtio::availFNoInterrupt);
	q.enableCalls();
	CHECK(dev.availFlags() == 0);
}

TEST_CASE("With EVENT_IDX, avail_event decides the kick and used_event asks for calls", "[ring]")
{
	RingLayout l = RingLayout::compute(8);
	RingBuffer buf(l.totalSize);
	SplitQueue q(buf.span(), 8, true);
	FakeDevice dev(buf.span(), l);
	std::vector<Buffer> one = {{0x1000, 1, true}};
	uint16_t h;
	std::vector<Buffer> seen;

	/* The device wants a kick when entry 0 is made available. */
	dev.setAvailEvent(0);
	q.add(one);
	CHECK(q.publish());
	/* ... and then only once index 3 is passed. */
	dev.setAvailEvent(3);
	q.add(one);
	CHECK_FALSE(q.publish()); /* idx 1 -> 2 */
	q.add(one);
	CHECK_FALSE(q.publish()); /* 2 -> 3 */
	q.add(one);
	q.add(one);
	CHECK(q.publish()); /* 3 -> 5 crosses 3 */
	/* The flag is ignored with EVENT_IDX. */
	dev.setUsedFlags(virtio::usedFNoNotify);
	dev.setAvailEvent(5);
	q.add(one);
	CHECK(q.publish());

	/* used_event sits after the avail ring and says which used index to call at. */
	for (int i = 0; i < 3; i++) {
		REQUIRE(dev.pop(h, seen));
		dev.push(h, 1);
	}
	CHECK(q.enableCalls()); /* three returned meanwhile */
	CHECK(dev.usedEvent() == 0);
	while (q.popUsed()) {
	}
	CHECK_FALSE(q.enableCalls());
	CHECK(dev.usedEvent() == 3);
}

TEST_CASE("A used entry for a head not in flight is a protocol error", "[ring]")
{
	/* Each case on a ring of its own: a refused entry stays at the head of the used ring. */
	auto refused = [](uint32_t head) {
		RingLayout l = RingLayout::compute(8);
		RingBuffer buf(l.totalSize);
		SplitQueue q(buf.span(), 8, false);
		FakeDevice dev(buf.span(), l);

		q.add(std::vector<Buffer>{{0x1000, 1, true}});
		q.publish();
		dev.push(head, 1);
		try {
			q.popUsed();
		} catch (const vhost::Error &e) {
			CHECK(e.errnum() == EPROTO);
			/* Still refused, and nothing was freed on the way. */
			CHECK_THROWS_AS(q.popUsed(), vhost::Error);
			CHECK(q.inFlight() == 1);
			return std::string(e.what());
		}
		FAIL("no error for head " << head);
		return std::string();
	};

	/* A head inside the ring, but no chain starts there. */
	CHECK_THAT(refused(5), ContainsSubstring("head 5 is not in flight"));
	/* A head past the ring's end: refused before it indexes anything. */
	CHECK_THAT(refused(100), ContainsSubstring("head 100 is past the ring of 8 entries"));
	CHECK_THAT(refused(8), ContainsSubstring("head 8 is past the ring of 8 entries"));
}

TEST_CASE("The ring area must hold the layout", "[ring]")
{
	RingLayout l = RingLayout::compute(16);
	RingBuffer buf(l.totalSize);

	CHECK_THROWS_AS(SplitQueue(buf.span().first(l.totalSize - 1), 16, false),
			std::invalid_argument);
	CHECK_THROWS_AS(SplitQueue(buf.span().subspan(8), 16, false), std::invalid_argument);
	SplitQueue q(buf.span(), 16, false);
	auto a = q.addresses();
	auto base = reinterpret_cast<uintptr_t>(buf.span().data());
	CHECK(a.desc == base);
	CHECK(a.avail == base + l.availOffset);
	CHECK(a.used == base + l.usedOffset);
}

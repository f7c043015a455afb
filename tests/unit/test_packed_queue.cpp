// SPDX-License-Identifier: GPL-2.0
/*
 * The packed ring (virtio::PackedQueue) against the reference device of
 * packed_ref.hpp: the layout and the VRING_BASE encoding, buffers across
 * many laps of rings of 1, 100 and 32768, chains of several slots used out
 * of order, the two event suppression areas with and without EVENT_IDX,
 * and a device that writes the ring wrong.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "packed_ref.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/packed_queue.hpp"

using Catch::Matchers::ContainsSubstring;
using test::PackedRef;
using virtio::Buffer;
using virtio::PackedLayout;
using virtio::PackedQueue;
using virtio::PackedVringBase;

namespace {

/* A 16-byte aligned buffer for a ring, dirty: the queue zeroes what it uses. */
struct RingBuffer {
	explicit RingBuffer(std::size_t bytes) : words((bytes + 15) / 16 + 1)
	{
		for (auto &w : words)
			std::fill(std::begin(w.b), std::end(w.b), 0xee);
	}
	std::span<std::byte> span()
	{
		return {reinterpret_cast<std::byte *>(words.data()), words.size() * 16};
	}
	struct alignas(16) Word {
		unsigned char b[16];
	};
	std::vector<Word> words;
};

/* A queue of @num entries and the reference device on the same memory. */
struct Ring {
	Ring(unsigned int num, bool eventIdx)
		: buf(PackedLayout::compute(num).totalSize), q(buf.span(), num, eventIdx),
		  dev(q.addresses(), num, eventIdx)
	{}
	RingBuffer buf;
	PackedQueue q;
	PackedRef dev;
};

/* A request-like chain of @n elements: readable ones, then one writable of @wlen. */
std::vector<Buffer> chainOf(unsigned int n, uint64_t tag, uint32_t wlen = 512)
{
	std::vector<Buffer> c;
	for (unsigned int i = 0; i + 1 < n; i++)
		c.push_back({tag * 0x10000 + i * 0x100, 16 + i, false});
	c.push_back({tag * 0x10000 + 0xf000, wlen, true});
	return c;
}

bool sameBuffers(const std::vector<Buffer> &a, const std::vector<Buffer> &b)
{
	return std::equal(a.begin(), a.end(), b.begin(), b.end(),
			  [](const Buffer &x, const Buffer &y) {
				  return x.gpa == y.gpa && x.len == y.len &&
					 x.deviceWritable == y.deviceWritable;
			  });
}

/*
 * Every buffer the device used, in order; at most a ring's worth, so that a
 * driver that misreads the ring fails the test rather than spin.
 */
std::vector<virtio::UsedElem> popAll(PackedQueue &q)
{
	std::vector<virtio::UsedElem> out;
	for (unsigned int i = 0; i <= q.size(); i++) {
		auto u = q.popUsed();
		if (!u)
			return out;
		out.push_back(*u);
	}
	FAIL("more buffers used than a ring holds");
	return out;
}

/* Every buffer the device may take now, at most a ring's worth. */
std::vector<PackedRef::Chain> takeAll(PackedRef &dev)
{
	std::vector<PackedRef::Chain> out;
	for (unsigned int i = 0; i <= dev.num(); i++) {
		auto c = dev.pop();
		if (!c)
			return out;
		out.push_back(*c);
	}
	FAIL("more buffers available than a ring holds");
	return out;
}

/* The error popUsed() throws, which must be a protocol error. */
std::string refusal(PackedQueue &q)
{
	try {
		q.popUsed();
	} catch (const vhost::Error &e) {
		CHECK(e.errnum() == EPROTO);
		return e.what();
	}
	FAIL("popUsed() accepted what the device wrote");
	return {};
}

} // namespace

TEST_CASE("PackedLayout: 16 bytes a descriptor, then the two 4-byte areas", "[packed]")
{
	auto num = GENERATE(1u, 3u, 100u, 256u, 32768u);
	PackedLayout l = PackedLayout::compute(num);

	CHECK(l.num == num);
	CHECK(l.descOffset == 0);
	CHECK(l.descSize == 16 * num);
	CHECK(l.driverEventOffset == 16 * num);
	CHECK(l.deviceEventOffset == 16 * num + 4);
	CHECK(l.totalSize == 16 * num + 8);
	CHECK(l.driverEventOffset % 4 == 0);
	CHECK(l.deviceEventOffset % 4 == 0);
}

TEST_CASE("PackedLayout and PackedQueue refuse what the spec does not allow", "[packed]")
{
	CHECK_THROWS_AS(PackedLayout::compute(0), std::invalid_argument);
	CHECK_THROWS_AS(PackedLayout::compute(32769), std::invalid_argument);
	CHECK_THROWS_AS(PackedLayout::compute(65536), std::invalid_argument);

	PackedLayout l = PackedLayout::compute(100);
	RingBuffer buf(l.totalSize);
	CHECK_THROWS_AS(PackedQueue(buf.span().first(l.totalSize - 1), 100, false),
			std::invalid_argument);
	CHECK_THROWS_AS(PackedQueue(buf.span().subspan(4), 100, false), std::invalid_argument);

	PackedQueue q(buf.span(), 100, false);
	auto a = q.addresses();
	auto base = reinterpret_cast<uintptr_t>(buf.span().data());
	CHECK(a.desc == base);
	CHECK(a.avail == base + 1600);
	CHECK(a.used == base + 1604);
	CHECK(q.type() == virtio::RingType::Packed);
	CHECK(q.size() == 100);
	CHECK(q.freeDescriptors() == 100);
	/* The ring starts zeroed: both areas ENABLE, no descriptor available. */
	CHECK(std::all_of(buf.span().begin(), buf.span().begin() + l.totalSize,
			  [](std::byte b) { return b == std::byte{0}; }));
	CHECK_THROWS_AS(q.add(std::vector<Buffer>{}), std::invalid_argument);
}

TEST_CASE("The packed VRING_BASE: indices in 15 bits, each wrap counter above", "[packed]")
{
	/* A fresh ring: index 0 and wrap counter 1 on both sides. */
	CHECK(PackedVringBase{}.encode() == 0x80008000u);
	CHECK(PackedVringBase{5, false, 3, true}.encode() == (5u | 3u << 16 | 1u << 31));
	CHECK(PackedVringBase{32767, true, 32767, false}.encode() == 0x7fffffffu);
	CHECK(PackedVringBase::decode(0x80008000u) == PackedVringBase{});
	CHECK(PackedVringBase::decode(0x00640063u) == PackedVringBase{99, false, 100, false});

	std::mt19937 rng(7);
	for (int i = 0; i < 1000; i++) {
		uint32_t v = static_cast<uint32_t>(rng());
		CHECK(PackedVringBase::decode(v).encode() == v);
	}

	Ring r(100, false);
	CHECK(r.q.vringBase() == 0x80008000u);
	CHECK(r.q.base() == r.dev.base());
}

TEST_CASE("A buffer is written at the next slots, visible only once published", "[packed]")
{
	Ring r(8, false);
	auto chain = chainOf(3, 1, 4096);
	auto id = r.q.add(chain);
	REQUIRE(id);
	CHECK(*id < 8);
	CHECK(r.q.freeDescriptors() == 5);
	CHECK(r.q.inFlight() == 1);

	CHECK_FALSE(r.dev.pop());
	CHECK(r.q.publish());
	CHECK_FALSE(r.q.publish()); /* nothing new */
	auto c = r.dev.pop();
	REQUIRE(c);
	CHECK(c->id == *id);
	CHECK(c->slots == 3);
	CHECK(sameBuffers(c->bufs, chain));
	CHECK_FALSE(r.dev.pop());

	CHECK_FALSE(r.q.hasUsed());
	CHECK_FALSE(r.q.popUsed());
	r.dev.push(*c, 4096);
	CHECK(r.q.hasUsed());
	auto used = r.q.popUsed();
	REQUIRE(used);
	CHECK(used->head == *id);
	CHECK(used->len == 4096);
	CHECK(r.q.freeDescriptors() == 8);
	CHECK(r.q.inFlight() == 0);
	CHECK_FALSE(r.q.popUsed());
	CHECK(r.q.base() == r.dev.base());
	CHECK(r.q.base() == PackedVringBase{3, true, 3, true});
}

namespace {

/*
 * @buffers buffers of 1 to 7 slots (at most the ring's size) through a
 * ring of @num: added in batches and published, taken by the device, used
 * in a random order, a third of them with WRITE in the used flags (DPDK)
 * and the rest without (QEMU, the kernel), checked on both sides.  The
 * device holds on to what it takes until the ring is full, now and then,
 * so that full rings and chains across its end come at every size.  With
 * EVENT_IDX it asks for a kick at a random slot of the ring's length
 * before each publish, and publish() must say whether the batch made that
 * slot available; without, its area says ENABLE and every batch kicks.
 */
void flow(unsigned int num, bool eventIdx, uint64_t buffers, uint32_t seed)
{
	Ring r(num, eventIdx);
	std::mt19937 rng(seed);
	const unsigned int maxChain = std::min(num, 7u);
	std::vector<std::vector<Buffer>> sent(num);
	std::vector<PackedRef::Chain> taken;
	uint64_t tag = 0, done = 0, mismatches = 0, deviceMismatches = 0, kickMismatches = 0;
	uint64_t fullRings = 0;
	bool holding = false;

	for (uint64_t round = 0; done < buffers && round < 20 * buffers; round++) {
		unsigned int n = 1 + static_cast<unsigned int>(rng() % maxChain), slots = 0;
		bool full = false;
		for (;;) {
			tag++;
			auto chain = chainOf(n, tag, 100 + static_cast<uint32_t>(tag % 900));
			auto id = r.q.add(chain);
			if (!id) {
				full = true;
				break;
			}
			sent[*id] = chain;
			slots += n;
			n = 1 + static_cast<unsigned int>(rng() % maxChain);
			if (rng() % 4 == 0)
				break;
		}
		uint64_t ahead = rng() % num;
		if (eventIdx)
			r.dev.wantKickAt(ahead);
		bool kick = r.q.publish();
		kickMismatches += kick != (eventIdx ? ahead < slots : slots > 0);
		for (const auto &c : takeAll(r.dev)) {
			deviceMismatches += !sameBuffers(c.bufs, sent.at(c.id));
			taken.push_back(c);
		}
		/* Hold everything until the ring is full, now and then. */
		if (full && holding)
			fullRings++;
		holding = holding ? !full : rng() % 50 == 0;
		/* The device completes some of what it holds, in a random order. */
		std::size_t k = holding ? 0 : rng() % (taken.size() + 1);
		if (k)
			std::shuffle(taken.begin(), taken.end(), rng);
		std::vector<uint16_t> order;
		for (std::size_t i = 0; i < k; i++) {
			const auto &c = taken[i];
			/* Flags as QEMU writes them; a third with WRITE (DPDK, the module). */
			r.dev.push(c.id, static_cast<uint32_t>(c.writable - c.id % 2), c.slots,
				   c.id % 3 == 0);
			order.push_back(c.id);
		}
		taken.erase(taken.begin(), taken.begin() + static_cast<std::ptrdiff_t>(k));
		for (uint16_t want : order) {
			auto u = r.q.popUsed();
			mismatches += !u || u->head != want;
			uint64_t writable = sent.at(want).back().len;
			mismatches += u && u->len != writable - want % 2;
			done++;
		}
		mismatches += r.q.popUsed().has_value();
		unsigned int inRing = 0;
		for (const auto &c : taken)
			inRing += c.slots;
		mismatches += r.q.freeDescriptors() != num - inRing;
		mismatches += r.q.inFlight() != taken.size();
	}
	CHECK(done >= buffers);
	CHECK(deviceMismatches == 0);
	CHECK(mismatches == 0);
	CHECK(kickMismatches == 0);
	/* Laps: at least two, many on the small rings; and full rings. */
	CHECK(r.dev.usedCount() >= std::max<uint64_t>(2 * num, buffers));
	CHECK(fullRings > 0);

	/* Drain: both sides agree where the next buffer goes, in which lap. */
	for (const auto &c : taken)
		r.dev.push(c, 0);
	CHECK(popAll(r.q).size() == taken.size());
	CHECK(r.q.inFlight() == 0);
	CHECK(r.q.freeDescriptors() == num);
	CHECK(r.q.base() == r.dev.base());
}

} // namespace

TEST_CASE("Buffers flow through many laps of a ring of 100, used in any order", "[packed]")
{
	auto eventIdx = GENERATE(false, true);
	/* 20000 buffers of 1 to 7 slots: ~800 laps, with the ring often full. */
	flow(100, eventIdx, 20000, eventIdx ? 11 : 12);
}

TEST_CASE("Buffers flow through a ring of 1: every buffer a lap of its own", "[packed]")
{
	auto eventIdx = GENERATE(false, true);
	flow(1, eventIdx, 3000, eventIdx ? 13 : 14);
}

TEST_CASE("Buffers flow through a ring of 32768, the largest: indices in all 15 bits", "[packed]")
{
	auto eventIdx = GENERATE(false, true);
	/* 40000 buffers of 4 slots on average: nearly 5 laps, the ring full now and then. */
	flow(32768, eventIdx, 40000, eventIdx ? 15 : 16);
}

TEST_CASE("Chains of several slots, used out of order, are reclaimed by id", "[packed]")
{
	Ring r(10, false);
	/* A: slots 0-2, B: 3, C: 4-5, D: 6-9. */
	auto a = r.q.add(chainOf(3, 1));
	auto b = r.q.add(chainOf(1, 2));
	auto c = r.q.add(chainOf(2, 3));
	auto d = r.q.add(chainOf(4, 4));
	REQUIRE((a && b && c && d));
	CHECK(r.q.freeDescriptors() == 0);
	CHECK_FALSE(r.q.add(chainOf(1, 5))); /* full */
	r.q.publish();
	auto got = takeAll(r.dev);
	REQUIRE(got.size() == 4);
	CHECK(r.dev.base().availWrap == false); /* the device read a whole lap */

	/* C first: its used descriptor goes to slot 0, and the next to slot 2. */
	r.dev.push(got[2], 1);
	auto u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->head == *c);
	CHECK(r.q.base().usedIdx == 2);
	CHECK(r.q.freeDescriptors() == 2);
	/* Slot 2 still holds A's last descriptor, available: not used. */
	CHECK_FALSE(r.q.popUsed());

	/* Two free slots: a new buffer of 2 goes to slots 0-1, in the second lap. */
	auto e = r.q.add(chainOf(2, 6));
	REQUIRE(e);
	r.q.publish();
	auto ech = r.dev.pop();
	REQUIRE(ech);
	CHECK(ech->id == *e);
	CHECK(r.q.base().availIdx == 2);
	CHECK_FALSE(r.q.base().availWrap);

	/* D, then A, then E, then B. */
	r.dev.push(got[3], 1);
	r.dev.push(got[0], 1);
	r.dev.push(*ech, 1);
	r.dev.push(got[1], 1);
	std::vector<uint16_t> order;
	for (const auto &x : popAll(r.q))
		order.push_back(x.head);
	CHECK(order == std::vector<uint16_t>{*d, *a, *e, *b});
	CHECK(r.q.inFlight() == 0);
	CHECK(r.q.freeDescriptors() == 10);
	CHECK(r.q.base() == PackedVringBase{2, false, 2, false});
	CHECK(r.q.base() == r.dev.base());
}

TEST_CASE("A chain across the end of the ring takes each slot's lap", "[packed]")
{
	Ring r(5, false);
	/* Move both sides to slot 3. */
	REQUIRE(r.q.add(chainOf(3, 1)));
	r.q.publish();
	r.dev.push(*r.dev.pop(), 1);
	REQUIRE(r.q.popUsed());

	/* Slots 3, 4, then 0 and 1 of the next lap. */
	auto chain = chainOf(4, 2);
	auto id = r.q.add(chain);
	REQUIRE(id);
	r.q.publish();
	/* The reference device refuses a descriptor flagged for the wrong lap. */
	auto c = r.dev.pop();
	REQUIRE(c);
	CHECK(sameBuffers(c->bufs, chain));
	CHECK(r.dev.base().availIdx == 2);
	CHECK_FALSE(r.dev.base().availWrap);
	r.dev.push(*c, 512);
	auto u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->head == *id);
	CHECK(r.q.base() == PackedVringBase{2, false, 2, false});
}

TEST_CASE("Buffers of one slot take every slot and every id; a used id comes back", "[packed]")
{
	Ring r(4, false);
	std::vector<uint16_t> ids;
	while (auto id = r.q.add(chainOf(1, ids.size() + 1)))
		ids.push_back(*id);
	/* Slots and ids run out together: as many of each. */
	CHECK(r.q.freeDescriptors() == 0);
	std::sort(ids.begin(), ids.end());
	CHECK(ids == std::vector<uint16_t>{0, 1, 2, 3});
	r.q.publish();
	auto c = r.dev.pop();
	REQUIRE(c);
	r.dev.push(*c, 0);
	REQUIRE(r.q.popUsed());
	/* The id used comes back. */
	auto again = r.q.add(chainOf(1, 9));
	REQUIRE(again);
	CHECK(*again == c->id);
}

TEST_CASE("Without EVENT_IDX the device area's ENABLE or DISABLE decides the kick", "[packed]")
{
	Ring r(8, false);

	REQUIRE(r.q.add(chainOf(1, 1)));
	CHECK(r.q.publish()); /* zeroed: ENABLE */
	r.dev.setEvent(0, virtio::eventFlagsDisable);
	REQUIRE(r.q.add(chainOf(1, 2)));
	CHECK_FALSE(r.q.publish());
	r.dev.setEvent(0, virtio::eventFlagsEnable);
	REQUIRE(r.q.add(chainOf(1, 3)));
	CHECK(r.q.publish());
	/* DESC without EVENT_IDX, and the undefined value 3: kick rather than stall. */
	r.dev.setEvent(0x8007, virtio::eventFlagsDesc);
	REQUIRE(r.q.add(chainOf(1, 4)));
	CHECK(r.q.publish());
	r.dev.setEvent(0, 3);
	REQUIRE(r.q.add(chainOf(1, 5)));
	CHECK(r.q.publish());
	/* The fourteen reserved bits above the two of the flags are ignored. */
	r.dev.setEvent(0, 0x8000 | virtio::eventFlagsDisable);
	REQUIRE(r.q.add(chainOf(1, 6)));
	CHECK_FALSE(r.q.publish());
	r.dev.setEvent(0, 0x0100 | virtio::eventFlagsEnable);
	REQUIRE(r.q.add(chainOf(1, 7)));
	CHECK(r.q.publish());
}

TEST_CASE("With EVENT_IDX the device area's slot and lap decide the kick", "[packed]")
{
	Ring r(10, true);
	auto one = [&](uint64_t tag) { REQUIRE(r.q.add(chainOf(1, tag))); };
	auto drain = [&] {
		for (const auto &c : takeAll(r.dev))
			r.dev.push(c, 0);
		popAll(r.q);
	};

	/* The device wants a kick for the slot after the next. */
	r.dev.wantKickAt(1);
	one(1);
	CHECK_FALSE(r.q.publish()); /* slot 0 */
	one(2);
	CHECK(r.q.publish()); /* slot 1 */
	one(3);
	CHECK_FALSE(r.q.publish()); /* slot 2: passed already */
	/* A batch that covers the slot asked for. */
	r.dev.wantKickAt(4); /* read 0-2 are not popped yet: slot 4 */
	one(4);
	one(5);
	one(6);
	CHECK(r.q.publish()); /* slots 3-5 */
	drain();

	/* Across the end of the ring: slots 6-9 then 0-1 of the next lap. */
	r.dev.wantKickAt(5); /* slot 1 of lap 2, wrap 0 */
	for (int i = 0; i < 4; i++)
		one(10 + i);
	CHECK_FALSE(r.q.publish()); /* slots 6-9 */
	one(20);
	CHECK_FALSE(r.q.publish()); /* slot 0, wrap 0 */
	one(21);
	CHECK(r.q.publish()); /* slot 1, wrap 0 */
	drain();

	/* Slot 9 of the previous lap (wrap 1), while the driver is in lap 2: passed. */
	r.dev.setEvent(9 | 0x8000, virtio::eventFlagsDesc);
	one(30);
	CHECK_FALSE(r.q.publish());
	/* The same slot in the driver's lap, wrap 0: ahead. */
	r.dev.setEvent(9, virtio::eventFlagsDesc);
	one(31);
	CHECK_FALSE(r.q.publish());
	drain();
	/* A batch from slot 4 of lap 2 to slot 0 of lap 3 covers slot 9 of lap 2. */
	for (int i = 0; i < 7; i++)
		one(40 + i);
	CHECK(r.q.publish());
	drain();

	/* DISABLE and ENABLE still hold; an offset past the ring asks for a kick. */
	r.dev.setEvent(0, virtio::eventFlagsDisable);
	one(50);
	CHECK_FALSE(r.q.publish());
	r.dev.setEvent(0, virtio::eventFlagsEnable);
	one(51);
	CHECK(r.q.publish());
	r.dev.setEvent(12, virtio::eventFlagsDesc);
	one(52);
	CHECK(r.q.publish());
}

TEST_CASE("The device area changes whole: the driver never reads half of it", "[packed]")
{
	Ring r(16, true);
	auto *area = reinterpret_cast<uint32_t *>(r.q.addresses().used);
	/* DESC at slot 5 of lap 1, and DISABLE with another offset: no mix is either. */
	constexpr uint32_t a = 0x8005u | uint32_t(virtio::eventFlagsDesc) << 16;
	constexpr uint32_t b = 0x000au | uint32_t(virtio::eventFlagsDisable) << 16;
	r.dev.setEvent(0x8005, virtio::eventFlagsDesc);

	std::atomic<bool> done{false};
	std::thread writer([&] {
		while (!done.load(std::memory_order_relaxed)) {
			r.dev.setEvent(0x000a, virtio::eventFlagsDisable);
			r.dev.setEvent(0x8005, virtio::eventFlagsDesc);
		}
	});
	/* As the driver reads it: one 32-bit load. */
	uint64_t torn = 0, reads = 0;
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
	while (std::chrono::steady_clock::now() < end && !torn) {
		for (int i = 0; i < 10000; i++, reads++) {
			uint32_t v = vhost::le::convert(
				std::atomic_ref<uint32_t>(*area).load(std::memory_order_acquire));
			torn += v != a && v != b;
		}
	}
	done = true;
	writer.join();
	INFO(reads << " reads");
	CHECK(torn == 0);
}

TEST_CASE("The driver area asks for calls: ENABLE, DISABLE, DESC at the next used slot", "[packed]")
{
	auto eventIdx = GENERATE(false, true);
	Ring r(6, eventIdx);
	auto one = [&](uint64_t tag) {
		REQUIRE(r.q.add(chainOf(2, tag)));
		r.q.publish();
		auto c = r.dev.pop();
		REQUIRE(c);
		return *c;
	};

	/* Zeroed: ENABLE, the device calls. */
	CHECK(r.dev.push(one(1), 1));
	REQUIRE(r.q.popUsed());
	r.q.disableCalls();
	CHECK(r.dev.driverFlags() == virtio::eventFlagsDisable);
	CHECK_FALSE(r.dev.push(one(2), 1));
	REQUIRE(r.q.popUsed());

	/* Five times round the ring of 6 with buffers of 2 slots: both laps seen. */
	for (int i = 0; i < 15; i++) {
		CHECK_FALSE(r.q.enableCalls());
		if (eventIdx) {
			auto b = r.q.base();
			CHECK(r.dev.driverFlags() == virtio::eventFlagsDesc);
			CHECK(r.dev.driverOffWrap() == (b.usedIdx | (b.usedWrap ? 0x8000 : 0)));
		} else {
			CHECK(r.dev.driverFlags() == virtio::eventFlagsEnable);
		}
		auto c1 = one(10 + i);
		auto c2 = one(30 + i);
		/* The first used buffer calls; with EVENT_IDX, only that one. */
		CHECK(r.dev.push(c1, 1));
		CHECK(r.dev.push(c2, 1) == !eventIdx);
		REQUIRE(r.q.popUsed());
		REQUIRE(r.q.popUsed());
	}

	/* Used meanwhile: enableCalls() says so, so the caller pops before sleeping. */
	r.q.disableCalls();
	r.dev.push(one(99), 1);
	CHECK(r.q.enableCalls());
	REQUIRE(r.q.popUsed());
	CHECK_FALSE(r.q.enableCalls());
}

TEST_CASE("A used descriptor the driver cannot believe is a protocol error", "[packed]")
{
	Ring r(100, false);
	auto id = r.q.add(chainOf(3, 1, 600));
	REQUIRE(id);
	r.q.publish();
	auto c = r.dev.pop();
	REQUIRE(c);
	uint16_t flags = r.dev.usedFlagsNow();

	SECTION("an id past the ring")
	{
		r.dev.writeUsedRaw(100, 1, flags);
		CHECK_THAT(refusal(r.q), ContainsSubstring("used descriptor at slot 0 (wrap 1): "
							   "buffer id 100 is past the ring"));
		r.dev.writeUsedRaw(0xffff, 1, flags);
		CHECK_THAT(refusal(r.q), ContainsSubstring("buffer id 65535 is past the ring"));
	}
	SECTION("an id not in flight")
	{
		auto other = static_cast<uint16_t>(*id == 7 ? 8 : 7);
		r.dev.writeUsedRaw(other, 1, flags);
		CHECK_THAT(refusal(r.q),
			   ContainsSubstring(fmt::format("buffer id {} is not in flight", other)));
	}
	SECTION("more bytes written than the buffer can take")
	{
		r.dev.writeUsedRaw(*id, 601, flags);
		CHECK_THAT(refusal(r.q), ContainsSubstring(fmt::format(
						 "buffer id {} used with 601 bytes written, but it "
						 "has 600 device-writable bytes",
						 *id)));
		r.dev.writeUsedRaw(*id, 0xffffffff, flags);
		CHECK_THAT(refusal(r.q), ContainsSubstring("4294967295 bytes written"));
	}
	/* Refused before anything changed: the buffer is still in flight. */
	CHECK(r.q.inFlight() == 1);
	CHECK(r.q.freeDescriptors() == 97);
	CHECK(r.q.base().usedIdx == 0);

	/* A good descriptor then goes through. */
	r.dev.writeUsedRaw(*id, 600, flags);
	auto u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->len == 600);
}

TEST_CASE("Used flags: only AVAIL == USED == the lap is used; the length with or without WRITE",
	  "[packed]")
{
	Ring r(4, false);
	auto id = r.q.add(chainOf(2, 1, 64));
	REQUIRE(id);
	r.q.publish();
	REQUIRE(r.dev.pop());

	/* Either flag alone, or both of the wrong lap: not used yet. */
	for (uint16_t f : {uint16_t(PackedRef::avail | PackedRef::write),
			   uint16_t(PackedRef::used | PackedRef::write), uint16_t(PackedRef::write),
			   uint16_t(0)}) {
		r.dev.writeUsedRaw(*id, 64, f);
		CHECK_FALSE(r.q.hasUsed());
		CHECK_FALSE(r.q.popUsed());
	}
	/*
	 * Used without WRITE, as QEMU (virtqueue_packed_fill_desc) and the
	 * kernel write it: the length is still what the device wrote.
	 */
	CHECK_FALSE(r.dev.usedFlagsNow() & PackedRef::write);
	r.dev.push(*id, 64, 2);
	CHECK(r.q.hasUsed());
	auto u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->head == *id);
	CHECK(u->len == 64);

	/* With WRITE, as DPDK writes it: the same. */
	auto idw = r.q.add(chainOf(2, 3, 32));
	REQUIRE(idw);
	r.q.publish();
	REQUIRE(r.dev.pop());
	r.dev.push(*idw, 31, 2, true);
	u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->head == *idw);
	CHECK(u->len == 31);

	/* Without WRITE, a length past the writable bytes is still refused. */
	auto idx = r.q.add(chainOf(1, 4, 16));
	REQUIRE(idx);
	r.q.publish();
	REQUIRE(r.dev.pop());
	r.dev.writeUsedRaw(*idx, 17, r.dev.usedFlagsNow());
	CHECK_THAT(refusal(r.q), ContainsSubstring("used with 17 bytes written, but it has 16 "
						   "device-writable bytes"));
	r.dev.push(*idx, 16, 1);
	u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->len == 16);

	/* NEXT in a used descriptor is reserved, and ignored. */
	auto id2 = r.q.add(chainOf(1, 2, 8));
	REQUIRE(id2);
	r.q.publish();
	REQUIRE(r.dev.pop());
	r.dev.writeUsedRaw(*id2, 8, r.dev.usedFlagsNow() | PackedRef::next);
	u = r.q.popUsed();
	REQUIRE(u);
	CHECK(u->head == *id2);
	CHECK(u->len == 8);
	CHECK(r.q.base().usedIdx == 2);
	CHECK(r.q.base().usedWrap == false);
}

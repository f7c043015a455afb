// SPDX-License-Identifier: GPL-2.0
/*
 * Packed rings through vhostctl serve: the bridge offers VIRTIO_F_RING_PACKED
 * with --packed, when the kernel does, passes SET/GET_VRING_BASE in the
 * packed encoding, checks the three areas at their packed sizes, passes
 * dirty logging of packed rings on to the kernel; and bench --ring packed
 * end to end, through a served bridge to the in-process device of
 * fake_blk_device.hpp.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>

#include "bridge_util.hpp"
#include "fake_blk_device.hpp"
#include "fake_state.hpp"
#include "vhostctl/packed_queue.hpp"
#include "vhostctl/unix_socket.hpp"

using namespace test::bridge;
using Catch::Matchers::ContainsSubstring;
using test::FakeKernel;

namespace {

constexpr uint64_t packedBit = bit(VIRTIO_F_RING_PACKED);
constexpr uint64_t logAllBit = bit(VHOST_F_LOG_ALL);

/* A packed ring of @num entries at the start of ring area @q of @g. */
vhost::VringAddr packedAddr(const Guest &g, unsigned int q, unsigned int num)
{
	uint64_t base = g.rings[q].userAddr();
	return {base, base + 16ULL * num, base + 16ULL * num + 4};
}

/* Owner, features with RING_PACKED, memory. */
void packedBringUp(Frontend &fe, Guest &g, uint64_t extra = 0)
{
	fe.setOwner();
	fe.setFeatures((fe.features() & FakeKernel::vhostBlkFeatures) | packedBit | extra);
	fe.setMemTable(g.mem.regions());
}

} // namespace

TEST_CASE("serve: packed rings pass their base, both indices and wrap counters, both ways",
	  "[vhost-user-backend][packed]")
{
	Bridge br;
	Guest g;
	br.kernel.features |= packedBit;
	br.opts.packed = true;
	auto fe = br.frontend();
	REQUIRE(fe->features() & packedBit);
	packedBringUp(*fe, g);
	CHECK(br.kernel.last("setFeatures").a & packedBit);

	/* 100 entries: not a power of two, which a packed ring may be. */
	fe->setVringNum(0, 100);
	CHECK(br.kernel.last("setVringNum", 0).a == 100);
	fe->setVringAddr(0, packedAddr(g, 0, 100));
	auto addr = br.kernel.last("setVringAddr", 0);
	CHECK(addr.b - addr.a == 1600);
	CHECK(addr.c - addr.a == 1604);
	/* A fresh ring: index 0, wrap counter 1, on both sides, as given. */
	fe->setVringBase(0, 0x80008000u);
	CHECK(br.kernel.last("setVringBase", 0).a == 0x80008000u);
	fe->setVringCall(0, g.calls[0].fd());
	fe->setVringKick(0, g.kicks[0].fd());
	fe->enableVring(0, true);
	CHECK(br.kernel.count("setBackend") == 1);
	br.kernel.check("packed ring attached");
	CHECK(br.kernel.violations.empty());

	/* Stopped mid-lap: the kernel's value goes back as it is. */
	uint32_t stopped = virtio::PackedVringBase{42, false, 37, true}.encode();
	br.kernel.vringBase = stopped;
	CHECK(fe->getVringBase(0) == stopped);

	/* And comes back on the next start (a migration's destination, say). */
	fe->setVringBase(0, stopped);
	CHECK(br.kernel.last("setVringBase", 0).a == stopped);
}

TEST_CASE("serve: SET_VRING_ENABLE 0 and 1 stop and restart a packed ring where it was",
	  "[vhost-user-backend][packed]")
{
	Bridge br;
	Guest g;
	br.kernel.features |= packedBit;
	br.opts.packed = true;
	auto fe = br.frontend();
	packedBringUp(*fe, g);
	for (unsigned int q = 0; q < 2; q++) {
		fe->setVringNum(q, 100);
		fe->setVringAddr(q, packedAddr(g, q, 100));
		fe->setVringBase(q, 0x80008000u);
		fe->setVringCall(q, g.calls[q].fd());
		fe->setVringKick(q, g.kicks[q].fd());
		fe->enableVring(q, true);
	}
	REQUIRE(br.kernel.count("setBackend") == 2);

	/*
	 * Disabled: the kernel stops the ring, which keeps its state (both
	 * indices and wrap counters); enabled, it goes on from there on its
	 * kick.  No detach, no new base, and the other ring runs throughout.
	 */
	br.kernel.clear();
	fe->enableVring(1, false);
	fe->enableVring(1, true);
	CHECK(br.kernel.ops() == std::vector<std::string>{"getVringBase 1", "setVringKick 1"});
	/* Enabled twice, or disabled twice: nothing more reaches the kernel. */
	br.kernel.clear();
	fe->enableVring(1, true);
	fe->enableVring(0, false);
	fe->enableVring(0, false);
	CHECK(br.kernel.ops() == std::vector<std::string>{"getVringBase 0"});

	/*
	 * A full stop, as QEMU stops a device: GET_VRING_BASE answers the
	 * packed state mid-lap, which comes back with SET_VRING_BASE when
	 * the ring is set up again (the backend detached first) and enabled.
	 */
	uint32_t stopped = virtio::PackedVringBase{42, false, 37, true}.encode();
	br.kernel.vringBase = stopped;
	CHECK(fe->getVringBase(0) == stopped);
	br.kernel.clear();
	fe->setVringNum(0, 100);
	fe->setVringAddr(0, packedAddr(g, 0, 100));
	fe->setVringBase(0, stopped);
	fe->setVringKick(0, g.kicks[0].fd());
	fe->enableVring(0, true);
	auto ops = br.kernel.ops();
	auto first = [&](const std::string &op) {
		return std::find(ops.begin(), ops.end(), op) - ops.begin();
	};
	CHECK(first("detachBackend") < first("setVringNum 0"));
	CHECK(br.kernel.last("setVringBase", 0).a == stopped);
	/* Ring 1 went on once ring 0 was set up (hidden); ring 0 joins it when enabled. */
	CHECK(br.kernel.count("setBackend") == 2);
	CHECK(ops.back() == "setBackend");
	br.kernel.check("packed rings restarted");
	CHECK(br.kernel.violations.empty());
	CHECK(br.log.has("serving vq 0,1"));
}

TEST_CASE("serve: RING_PACKED is offered only with --packed, and then only the kernel's",
	  "[vhost-user-backend][packed]")
{
	Bridge br;
	br.kernel.features |= packedBit;
	auto packed = GENERATE(false, true);
	br.opts.packed = packed;
	auto fe = br.frontend();

	CHECK(((fe->features() & packedBit) != 0) == packed);
	fe->setOwner();
	uint64_t want = (fe->features() & FakeKernel::vhostBlkFeatures) | packedBit;
	if (packed) {
		fe->setFeatures(want);
		CHECK(br.kernel.last("setFeatures").a & packedBit);
	} else {
		/* Not offered: a frontend that acks it anyway is refused. */
		CHECK(failsWith([&] { fe->setFeatures(want); }, EIO));
		CHECK(br.log.has("bits 0x400000000 were not offered"));
		CHECK(br.kernel.count("setFeatures") == 0);
	}

	/* Asked for, but the kernel has no packed rings: not offered either. */
	Bridge bare;
	bare.opts.packed = true;
	CHECK_FALSE(bare.frontend()->features() & packedBit);
}

TEST_CASE("serve: packed ring sizes and bases are checked for their layout",
	  "[vhost-user-backend][packed]")
{
	Bridge br;
	Guest g;
	br.kernel.features |= packedBit;
	br.opts.packed = true;
	auto fe = br.frontend();

	SECTION("split: powers of two, 16-bit bases")
	{
		bringUp(*fe, g);
		CHECK(failsWith([&] { fe->setVringNum(0, 100); }, EIO));
		CHECK(br.log.has("vq 0: ring size 100 is not a power of two"));
		CHECK(failsWith([&] { fe->setVringBase(0, 0x80008000u); }, EIO));
		CHECK(br.log.has("vq 0: base 2147516416 is not a ring index"));
		CHECK(br.kernel.count("setVringBase") == 0);
	}
	SECTION("packed: 1 to 32768 entries, indices within the ring")
	{
		packedBringUp(*fe, g);
		CHECK(failsWith([&] { fe->setVringNum(0, 0); }, EIO));
		CHECK(failsWith([&] { fe->setVringNum(0, 32769); }, EIO));
		CHECK(br.log.has("vq 0: packed ring size 32769 is not from 1 to 32768"));
		fe->setVringNum(0, 32768);
		fe->setVringNum(0, 3);
		fe->setVringNum(0, 100);
		std::size_t before = br.kernel.count("setVringBase");
		uint32_t availPast = virtio::PackedVringBase{100, true, 0, true}.encode();
		CHECK(failsWith([&] { fe->setVringBase(0, availPast); }, EIO));
		uint32_t usedPast = virtio::PackedVringBase{0, true, 100, false}.encode();
		CHECK(failsWith([&] { fe->setVringBase(0, usedPast); }, EIO));
		CHECK(br.log.has("vq 0: packed base 0x648000 (avail 0, used 100) is past a ring "
				 "of 100 entries"));
		CHECK(br.kernel.count("setVringBase") == before);
		fe->setVringBase(0, virtio::PackedVringBase{99, false, 99, true}.encode());
		CHECK(br.kernel.count("setVringBase") == before + 1);
	}
	SECTION("a base given before the size is checked when the ring starts")
	{
		packedBringUp(*fe, g);
		fe->setVringBase(0, virtio::PackedVringBase{50, true, 50, true}.encode());
		fe->setVringNum(0, 20);
		fe->setVringAddr(0, packedAddr(g, 0, 20));
		fe->setVringCall(0, g.calls[0].fd());
		fe->setVringKick(0, g.kicks[0].fd());
		CHECK(failsWith([&] { fe->enableVring(0, true); }, EIO));
		CHECK(br.log.has("past a ring of 20 entries"));
		CHECK(br.kernel.count("setBackend") == 0);
	}
	SECTION("features that turn a packed ring of 100 split refuse it at start")
	{
		packedBringUp(*fe, g);
		fe->setVringNum(0, 100);
		fe->setVringAddr(0, packedAddr(g, 0, 100));
		fe->setVringBase(0, 0x80008000u);
		fe->setFeatures(fe->features() & FakeKernel::vhostBlkFeatures);
		fe->setVringCall(0, g.calls[0].fd());
		fe->setVringKick(0, g.kicks[0].fd());
		CHECK(failsWith([&] { fe->enableVring(0, true); }, EIO));
		CHECK(br.log.has("vq 0: ring size 100 is not a power of two"));
		CHECK(br.kernel.count("setBackend") == 0);
	}
}

TEST_CASE("serve: a packed ring's event areas are 4 bytes, which may end a region",
	  "[vhost-user-backend][packed]")
{
	Bridge br;
	Guest g;
	br.kernel.features |= packedBit;
	br.opts.packed = true;
	auto fe = br.frontend();
	packedBringUp(*fe, g);

	/* A ring of 8 whose device area is the last 4 bytes of the first region. */
	auto table = g.mem.regions();
	uint64_t end = table[0].userAddr + table[0].size;
	vhost::VringAddr a{end - 136, end - 8, end - 4};
	fe->setVringNum(0, 8);
	fe->setVringAddr(0, a);
	auto call = br.kernel.last("setVringAddr", 0);
	CHECK(call.c - call.a == 132);
	/* One byte further crosses into the next region. */
	CHECK(failsWith([&] { fe->setVringAddr(0, {end - 136, end - 8, end - 3}); }, EIO));
	CHECK(br.log.has("vq 0: a packed ring of 8 entries"));
	/* As a split ring, its used ring would not fit there. */
	Bridge split;
	Guest sg;
	auto sfe = split.frontend();
	bringUp(*sfe, sg);
	auto stable = sg.mem.regions();
	uint64_t send = stable[0].userAddr + stable[0].size;
	sfe->setVringNum(0, 8);
	CHECK(failsWith([&] { sfe->setVringAddr(0, {send - 136, send - 8, send - 4}); }, EIO));
}

TEST_CASE("serve: dirty logging of packed rings reaches the kernel, the ring left running",
	  "[vhost-user-backend][packed][log]")
{
	Bridge br;
	Guest g;
	br.kernel.features |= packedBit | logAllBit;
	br.opts.packed = true;
	auto fe = br.frontend();
	REQUIRE(fe->features() & logAllBit);
	REQUIRE(fe->features() & packedBit);
	packedBringUp(*fe, g);
	fe->setVringNum(0, 8);
	auto a = packedAddr(g, 0, 8);
	fe->setVringAddr(0, a);
	fe->setVringBase(0, 0x80008000u);
	fe->setVringCall(0, g.calls[0].fd());
	fe->setVringKick(0, g.kicks[0].fd());
	fe->enableVring(0, true);
	REQUIRE(br.kernel.count("setBackend") == 1);
	auto before = br.kernel.last("setVringAddr", 0);

	/*
	 * What QEMU does when a migration starts: LOG_ALL, then each ring's
	 * log flag.  The kernel logs a packed ring's used descriptors and
	 * device area at the guest addresses its memory table maps them
	 * at, whatever the log address: both pass as they are.
	 */
	br.kernel.clear();
	uint64_t base = fe->features() & (FakeKernel::vhostBlkFeatures | packedBit);
	fe->setFeatures(base | logAllBit);
	CHECK((br.kernel.last("setFeatures").a & (packedBit | logAllBit)) ==
	      (packedBit | logAllBit));
	a.flags = 1u << VHOST_VRING_F_LOG;
	/* QEMU's log address of a packed ring: its device area's guest address. */
	a.log = (1ULL << 30) + 8 * 16 + 4;
	fe->setVringAddr(0, a);
	{
		std::lock_guard lock(br.kernel.mutex);
		const auto &k = br.kernel.vqs.at(0).addr;
		CHECK(k.flags == (1u << VHOST_VRING_F_LOG));
		CHECK(k.log == (1ULL << 30) + 8 * 16 + 4);
		CHECK(k.desc == before.a);
		CHECK(k.avail == before.b);
		CHECK(k.used == before.c);
	}
	/* At the end of the migration, off again; the ring ran throughout. */
	a.flags = 0;
	fe->setVringAddr(0, a);
	fe->setFeatures(base);
	CHECK(br.kernel.ops() == std::vector<std::string>{"setFeatures", "setVringAddr 0",
							  "setVringAddr 0", "setFeatures"});
	CHECK_FALSE(br.kernel.last("setFeatures").a & logAllBit);
	CHECK(br.kernel.count("detachBackend") == 0);
	br.kernel.check("packed ring logged");
	CHECK(br.kernel.violations.empty());
	CHECK_FALSE(br.log.has("refused"));
}

namespace {

/*
 * serve's Backend on a socket, each connection's device a FakeBlkDevice
 * offering @extra; @packed: serve --packed.
 */
struct ServedFake {
	explicit ServedFake(uint64_t extra, bool packed = true)
		: disk(1 << 20), path((dir.path / "blk.sock").string()),
		  listener(vhost::UnixListener::bind(path))
	{
		opts.backend = defaultOptions(log);
		opts.backend.packed = packed;
		opts.backend.queues = 2;
		opts.backend.geometry = {1 << 20, 512, 512, 0, 0};
		opts.backend.workers = {};
		server = std::thread([this, extra] {
			serveConnections(
				listener.fd(), stop.fd(),
				[this, extra] {
					return std::make_unique<test::FakeBlkDevice>(disk, extra);
				},
				opts);
		});
	}
	~ServedFake()
	{
		stop.signal();
		server.join();
	}
	TempDir dir;
	test::FakeDisk disk;
	std::string path;
	vhost::UnixListener listener;
	LogCapture log;
	ServerOptions opts;
	EventFd stop;
	std::thread server;
};

std::vector<std::string> benchArgs(const std::string &path, const std::string &ring)
{
	return {"-j",         "bench", "--vhost-user", path, "--ring", ring,
		"--queues",   "2",     "--iodepth",    "4",  "--rw",   "randrw",
		"--duration", "0.3",   "--warmup",     "0"};
}

} // namespace

TEST_CASE("bench --ring packed runs I/O through serve's bridge", "[cli][bench][packed]")
{
	test::FakeState s;
	auto ring = GENERATE(std::string("packed"), std::string("split"));
	ServedFake served(packedBit);

	auto r = test::tool(s, benchArgs(served.path, ring));
	INFO(r.err);
	REQUIRE(r.status == 0);
	auto rec = nlohmann::json::parse(r.out);
	CHECK(rec["ring"] == ring);
	/* The device behind the bridge was given the layout asked for. */
	CHECK(((served.disk.acked & packedBit) != 0) == (ring == "packed"));
	CHECK(rec["target"] == "vhost-user");
	CHECK(rec["ios"].template get<uint64_t>() > 0);
	CHECK(rec["errors"] == 0);
	CHECK(served.disk.reads > 0);
	CHECK(served.disk.writes > 0);
	CHECK(served.log.has("serving vq 0,1"));
}

TEST_CASE("bench --ring packed is refused when the device does not offer it",
	  "[cli][bench][packed]")
{
	test::FakeState s;
	ServedFake served(0);

	auto r = test::tool(s, benchArgs(served.path, "packed"));
	CHECK(r.status == 1);
	CHECK(r.out.empty());
	CHECK_THAT(r.err, ContainsSubstring("vhostctl: --ring packed: "));
	CHECK_THAT(r.err, ContainsSubstring("packed virtqueues: the device does not offer "
					    "VIRTIO_F_RING_PACKED (bit 34"));
	CHECK(served.disk.requests == 0);
}

TEST_CASE("bench --ring packed is refused when serve runs without --packed", "[cli][bench][packed]")
{
	test::FakeState s;
	ServedFake served(packedBit, false);

	auto r = test::tool(s, benchArgs(served.path, "packed"));
	CHECK(r.status == 1);
	CHECK_THAT(r.err, ContainsSubstring("the device does not offer VIRTIO_F_RING_PACKED"));
	CHECK(served.disk.requests == 0);
	/* Split rings are served as ever. */
	auto split = test::tool(s, benchArgs(served.path, "split"));
	CHECK(split.status == 0);
	CHECK((served.disk.acked & packedBit) == 0);
}

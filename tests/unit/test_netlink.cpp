// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of the vhost_blk family's replies from recorded messages, built
 * here with libnl as the kernel would send them: no socket, no kernel.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vhost_blk.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "vhostctl/error.hpp"
#include "vhostctl/netlink.hpp"

#include <fmt/format.h>

using Catch::Matchers::ContainsSubstring;

namespace {

constexpr int family = 0x1c;
constexpr uint32_t seq = 42;

struct MsgDeleter {
	void operator()(nl_msg *m) const { nlmsg_free(m); }
};
using Msg = std::unique_ptr<nl_msg, MsgDeleter>;

Msg reply(uint8_t cmd, uint32_t sequence = seq)
{
	Msg m(nlmsg_alloc());
	REQUIRE(m);
	REQUIRE(genlmsg_put(m.get(), 1234, sequence, family, 0, NLM_F_MULTI, cmd,
			    VHOST_BLK_GENL_VERSION));
	return m;
}

const nlmsghdr *hdr(const Msg &m)
{
	return nlmsg_hdr(m.get());
}

/* Concatenate messages into one receive buffer. */
std::vector<std::byte> buffer(std::initializer_list<const nl_msg *> msgs)
{
	std::vector<std::byte> out;

	for (const nl_msg *m : msgs) {
		const nlmsghdr *h = nlmsg_hdr(const_cast<nl_msg *>(m));
		auto *p = reinterpret_cast<const std::byte *>(h);
		out.insert(out.end(), p, p + NLMSG_ALIGN(h->nlmsg_len));
	}
	return out;
}

Msg done(int error = 0)
{
	Msg m(nlmsg_alloc_simple(NLMSG_DONE, NLM_F_MULTI));
	nlmsg_hdr(m.get())->nlmsg_seq = seq;
	REQUIRE(nlmsg_append(m.get(), &error, sizeof(error), NLMSG_ALIGNTO) == 0);
	return m;
}

/* NLMSG_ERROR for a request of @request_len bytes, with an extack message. */
Msg errorReply(int err, const char *text, bool capped, uint32_t request_len = NLMSG_LENGTH(8))
{
	Msg m(nlmsg_alloc_simple(NLMSG_ERROR,
				 (capped ? NLM_F_CAPPED : 0) | (text ? NLM_F_ACK_TLVS : 0)));
	nlmsg_hdr(m.get())->nlmsg_seq = seq;
	nlmsgerr e = {};
	e.error = -err;
	e.msg.nlmsg_len = request_len;
	e.msg.nlmsg_seq = seq;
	REQUIRE(nlmsg_append(m.get(), &e, sizeof(e), NLMSG_ALIGNTO) == 0);
	if (!capped) {
		std::vector<char> echoed(request_len - NLMSG_HDRLEN, 'x');
		REQUIRE(nlmsg_append(m.get(), echoed.data(), echoed.size(), NLMSG_ALIGNTO) == 0);
	}
	if (text)
		REQUIRE(nla_put_string(m.get(), NLMSGERR_ATTR_MSG, text) == 0);
	return m;
}

Msg fullDev(uint32_t id)
{
	Msg m = reply(VHOST_BLK_CMD_DEV_GET);
	nl_msg *p = m.get();
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_ID, id) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_NUM_VQS, 64) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_NUM_WORKERS, 3) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_WORKER_MODE, VHOST_BLK_WORKER_MODE_TASK) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_DEV_FEATURES, 0x130000000ULL) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_OWNER_PID, 100) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_OWNER_TID, 101) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_OWNER_UID, 0) == 0);
	REQUIRE(nla_put_string(p, VHOST_BLK_A_DEV_BACKEND, "/dev/nullb0") == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_DEV_BACKEND_SIZE, 1ULL << 30) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_DEV_CAPACITY, (1ULL << 30) / 512) == 0);
	REQUIRE(nla_put_u8(p, VHOST_BLK_A_DEV_READ_ONLY, 1) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_SIZE_MAX, 0) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_SEG_MAX, 126) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS, 8192) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_MAX_DISCARD_SEG, 1) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SECTORS, 4096) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG, 2) == 0);
	/* 20 bytes, NUL-padded; a full one has no NUL at all. */
	char serial[VHOST_BLK_SERIAL_BYTES] = "disk-0001";
	REQUIRE(nla_put(p, VHOST_BLK_A_DEV_SERIAL, sizeof(serial), serial) == 0);
	return m;
}

vhost::Error parseError(auto &&f)
{
	try {
		f();
	} catch (const vhost::Error &e) {
		return e;
	}
	FAIL("no error");
	return vhost::Error(0, "");
}

} // namespace

TEST_CASE("A device message parses into DevInfo", "[netlink]")
{
	Msg m = fullDev(7);
	nl::DevInfo d = nl::parseDev(hdr(m));

	CHECK(d.id == 7);
	CHECK(d.ownerPid == 100u);
	CHECK(d.ownerTid == 101u);
	CHECK(d.ownerUid == 0u);
	CHECK(d.backend == "/dev/nullb0");
	CHECK(d.backendSize == (1ULL << 30));
	CHECK(d.features == 0x130000000ULL);
	CHECK(d.numVqs == 64);
	CHECK(d.numWorkers == 3);
	CHECK(nl::workerModeName(d.workerMode) == "task");
	/* The limits in force and the serial. */
	CHECK(d.capacity == (1ULL << 30) / 512);
	CHECK(d.readOnly == true);
	CHECK(d.sizeMax == 0u);
	CHECK(d.segMax == 126u);
	CHECK(d.maxDiscardSectors == 8192u);
	CHECK(d.maxDiscardSeg == 1u);
	CHECK(d.maxWriteZeroesSectors == 4096u);
	CHECK(d.maxWriteZeroesSeg == 2u);
	CHECK(d.serial == "disk-0001");
}

TEST_CASE("A serial of 20 bytes has no NUL, one of another size is malformed", "[netlink]")
{
	Msg m = reply(VHOST_BLK_CMD_DEV_GET);
	REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
	REQUIRE(nla_put(m.get(), VHOST_BLK_A_DEV_SERIAL, 20, "abcdefghijklmnopqrst") == 0);
	CHECK(nl::parseDev(hdr(m)).serial == "abcdefghijklmnopqrst");

	Msg bad = reply(VHOST_BLK_CMD_DEV_GET);
	REQUIRE(nla_put_u32(bad.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
	REQUIRE(nla_put(bad.get(), VHOST_BLK_A_DEV_SERIAL, 21, "abcdefghijklmnopqrstu") == 0);
	CHECK(parseError([&] { nl::parseDev(hdr(bad)); }).errnum() == EPROTO);

	/* A module before the limits: all absent. */
	Msg old = reply(VHOST_BLK_CMD_DEV_GET);
	REQUIRE(nla_put_u32(old.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
	nl::DevInfo d = nl::parseDev(hdr(old));
	CHECK_FALSE(d.capacity);
	CHECK_FALSE(d.readOnly);
	CHECK_FALSE(d.serial);
}

TEST_CASE("A device without owner or backend has those fields absent", "[netlink]")
{
	Msg m = reply(VHOST_BLK_CMD_DEV_GET);
	REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
	REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_WORKER_MODE, VHOST_BLK_WORKER_MODE_KTHREAD) ==
		0);
	nl::DevInfo d = nl::parseDev(hdr(m));

	CHECK(d.id == 1);
	CHECK_FALSE(d.ownerPid);
	CHECK_FALSE(d.ownerUid);
	CHECK_FALSE(d.backend);
	CHECK_FALSE(d.backendSize);
	CHECK(nl::workerModeName(d.workerMode) == "kthread");
	CHECK(nl::workerModeName(7) == "mode-7");
}

TEST_CASE("Attributes this build does not know are skipped", "[netlink]")
{
	Msg m = fullDev(3);
	uint64_t future = 0xdeadbeef;
	/* A newer kernel's attributes: right after the last known one, and far beyond. */
	REQUIRE(nla_put(m.get(), VHOST_BLK_A_DEV_MAX + 1, 3, "ab") == 0);
	REQUIRE(nla_put(m.get(), 200, sizeof(future), &future) == 0);
	/* Pad attributes are not read either. */
	REQUIRE(nla_put(m.get(), VHOST_BLK_A_DEV_PAD, 0, nullptr) == 0);

	nl::DevInfo d = nl::parseDev(hdr(m));
	CHECK(d.id == 3);
	CHECK(d.backend == "/dev/nullb0");
}

TEST_CASE("A message without a required attribute is rejected", "[netlink]")
{
	Msg dev = reply(VHOST_BLK_CMD_DEV_GET);
	REQUIRE(nla_put_u32(dev.get(), VHOST_BLK_A_DEV_NUM_VQS, 4) == 0);
	auto e = parseError([&] { nl::parseDev(hdr(dev)); });
	CHECK(e.errnum() == EPROTO);
	CHECK_THAT(e.what(), ContainsSubstring("attribute id is missing"));

	Msg worker = reply(VHOST_BLK_CMD_WORKER_GET);
	REQUIRE(nla_put_u32(worker.get(), VHOST_BLK_A_WORKER_DEV_ID, 1) == 0);
	e = parseError([&] { nl::parseWorker(hdr(worker)); });
	CHECK_THAT(e.what(), ContainsSubstring("worker message: attribute id is missing"));

	Msg vq = reply(VHOST_BLK_CMD_VQ_GET);
	REQUIRE(nla_put_u32(vq.get(), VHOST_BLK_A_VQ_INDEX, 1) == 0);
	e = parseError([&] { nl::parseVq(hdr(vq)); });
	CHECK_THAT(e.what(), ContainsSubstring("attribute dev_id is missing"));
}

TEST_CASE("Attributes are validated against the policy", "[netlink]")
{
	SECTION("an integer of the wrong size")
	{
		Msg m = reply(VHOST_BLK_CMD_DEV_GET);
		REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
		REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_FEATURES, 1) == 0);
		auto e = parseError([&] { nl::parseDev(hdr(m)); });
		CHECK(e.errnum() == EPROTO);
		CHECK_THAT(e.what(),
			   ContainsSubstring(fmt::format("attribute {} of 4 bytes fails the policy",
							 int(VHOST_BLK_A_DEV_FEATURES))));
	}
	SECTION("an integer longer than its type")
	{
		Msg m = reply(VHOST_BLK_CMD_DEV_GET);
		REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
		REQUIRE(nla_put_u64(m.get(), VHOST_BLK_A_DEV_NUM_VQS, 1) == 0);
		auto e = parseError([&] { nl::parseDev(hdr(m)); });
		CHECK(e.errnum() == EPROTO);
		CHECK_THAT(e.what(),
			   ContainsSubstring(fmt::format("attribute {} of 8 bytes fails the policy",
							 int(VHOST_BLK_A_DEV_NUM_VQS))));
	}
	SECTION("a string without its NUL")
	{
		Msg m = reply(VHOST_BLK_CMD_DEV_GET);
		REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
		REQUIRE(nla_put(m.get(), VHOST_BLK_A_DEV_BACKEND, 4, "/dev") == 0);
		auto e = parseError([&] { nl::parseDev(hdr(m)); });
		CHECK_THAT(e.what(),
			   ContainsSubstring(fmt::format("attribute {} of 4 bytes fails the policy",
							 int(VHOST_BLK_A_DEV_BACKEND))));
	}
	SECTION("a reply to another command")
	{
		Msg m = reply(VHOST_BLK_CMD_VQ_GET);
		REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_DEV_ID, 1) == 0);
		CHECK_THROWS_AS(nl::parseDev(hdr(m)), vhost::Error);
	}
}

TEST_CASE("A worker message carries its virtqueues in a nest", "[netlink]")
{
	Msg m = reply(VHOST_BLK_CMD_WORKER_GET);
	nl_msg *p = m.get();
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_DEV_ID, 2) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_ID, 1) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_TID, 4321) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_WORKER_WORKS, 10) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_WORKER_BUSY_NS, 20) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_WORKER_WAKEUPS, 30) == 0);
	nlattr *nest = nla_nest_start(p, VHOST_BLK_A_WORKER_VQS);
	REQUIRE(nest);
	for (uint32_t vq : {0u, 5u, 6u})
		REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_VQ, vq) == 0);
	REQUIRE(nla_put_u32(p, 99, 1) == 0); /* unknown inside the nest */
	nla_nest_end(p, nest);

	nl::WorkerInfo w = nl::parseWorker(hdr(m));
	CHECK(w.devId == 2);
	CHECK(w.id == 1);
	CHECK(w.tid == 4321);
	CHECK(w.works == 10);
	CHECK(w.busyNs == 20);
	CHECK(w.wakeups == 30);
	CHECK(w.vqs == std::vector<uint32_t>{0, 5, 6});
}

TEST_CASE("A vq message parses, with or without a worker", "[netlink]")
{
	Msg m = reply(VHOST_BLK_CMD_VQ_GET);
	nl_msg *p = m.get();
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_DEV_ID, 2) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_INDEX, 3) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_NUM, 256) == 0);
	REQUIRE(nla_put_u8(p, VHOST_BLK_A_VQ_ACTIVE, 1) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_VQ_KICKS, 5) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_VQ_REQUESTS, 6) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_VQ_BYTES, 7) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_IN_FLIGHT, 8) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_VQ_ERRORS, 9) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_BUSYLOOP_US, 50) == 0);

	nl::VqInfo v = nl::parseVq(hdr(m));
	CHECK(v.devId == 2);
	CHECK(v.index == 3);
	CHECK_FALSE(v.workerId);
	CHECK(v.num == 256);
	CHECK(v.active);
	CHECK(v.kicks == 5);
	CHECK(v.requests == 6);
	CHECK(v.bytes == 7);
	CHECK(v.inFlight == 8);
	CHECK(v.errors == 9);
	CHECK(v.busyloopUs == 50);

	REQUIRE(nla_put_u32(p, VHOST_BLK_A_VQ_WORKER_ID, 4) == 0);
	CHECK(nl::parseVq(hdr(m)).workerId == 4u);
}

TEST_CASE("A dump is read across buffers until NLMSG_DONE", "[netlink]")
{
	Msg a = fullDev(1), b = fullDev(2), other = reply(VHOST_BLK_CMD_DEV_GET, seq + 1),
	    end = done();
	REQUIRE(nla_put_u32(other.get(), VHOST_BLK_A_DEV_ID, 99) == 0);

	std::vector<uint32_t> ids;
	nl::DumpParser parser("dump", seq,
			      [&](const nlmsghdr *h) { ids.push_back(nl::parseDev(h).id); });
	auto first = buffer({a.get(), other.get()});
	CHECK_FALSE(parser.feed(first));
	auto second = buffer({b.get(), end.get()});
	CHECK(parser.feed(second));
	CHECK(ids == std::vector<uint32_t>{1, 2});

	auto all = buffer({a.get(), b.get(), end.get()});
	auto devs = nl::parseDevDump(all, seq);
	REQUIRE(devs.size() == 2);
	CHECK(devs[1].id == 2);
}

TEST_CASE("An error reply carries the errno and the kernel's message", "[netlink]")
{
	auto capped = GENERATE(true, false);
	Msg err = errorReply(ENODEV, "no such device", capped);
	auto buf = buffer({err.get()});

	CHECK(nl::extackMessage(hdr(err)) == "no such device");
	nl::DumpParser parser("VHOST_BLK_CMD_VQ_ATTACH dev 9 vq 0 worker 1", seq,
			      [](const nlmsghdr *) {});
	auto e = parseError([&] { parser.feed(buf); });
	CHECK(e.errnum() == ENODEV);
	CHECK(e.context() == "VHOST_BLK_CMD_VQ_ATTACH dev 9 vq 0 worker 1: no such device");
}

TEST_CASE("An error without extack, an ack, and a failed dump", "[netlink]")
{
	Msg perm = errorReply(EPERM, nullptr, true);
	CHECK(nl::extackMessage(hdr(perm)).empty());
	auto e = parseError([&] { nl::parseVqDump(buffer({perm.get()}), seq); });
	CHECK(e.errnum() == EPERM);
	CHECK(e.context() == "vq dump");

	Msg ack = errorReply(0, nullptr, true);
	nl::DumpParser parser("attach", seq, [](const nlmsghdr *) {});
	CHECK(parser.feed(buffer({ack.get()})));

	Msg failed = done(-EMSGSIZE);
	CHECK(parseError([&] { nl::parseWorkerDump(buffer({failed.get()}), seq); }).errnum() ==
	      EMSGSIZE);
}

TEST_CASE("A truncated message is a protocol error", "[netlink]")
{
	Msg m = fullDev(1);
	auto buf = buffer({m.get()});
	buf.resize(buf.size() - 8);

	CHECK(parseError([&] { nl::parseDevDump(buf, seq); }).errnum() == EPROTO);
}

TEST_CASE("A virtqueue of the wrong size inside the worker's nest is rejected", "[netlink]")
{
	Msg m = reply(VHOST_BLK_CMD_WORKER_GET);
	nl_msg *p = m.get();
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_DEV_ID, 2) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_WORKER_ID, 1) == 0);
	nlattr *nest = nla_nest_start(p, VHOST_BLK_A_WORKER_VQS);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_WORKER_VQ, 1) == 0);
	nla_nest_end(p, nest);

	auto e = parseError([&] { nl::parseWorker(hdr(m)); });
	CHECK(e.errnum() == EPROTO);
	CHECK_THAT(e.what(), ContainsSubstring("a vq attribute of 8 bytes in the vqs nest"));
}

TEST_CASE("A dump the kernel flags NLM_F_DUMP_INTR is taken again", "[netlink]")
{
	Msg a = fullDev(1), b = fullDev(2);
	nlmsg_hdr(b.get())->nlmsg_flags |= NLM_F_DUMP_INTR;
	Msg end = done();
	std::vector<nl::DevInfo> got;
	nl::DumpParser p("device dump", seq,
			 [&](const nlmsghdr *nlh) { got.push_back(nl::parseDev(nlh)); });

	CHECK(p.feed(buffer({a.get(), b.get(), end.get()})));
	CHECK(p.interrupted());
	CHECK(got.size() == 2);

	/* Taken again until a try is not interrupted, within the tries allowed. */
	int tries = 0;
	nl::retryInterrupted([&] { return ++tries < 3; }, "device dump");
	CHECK(tries == 3);
	tries = 0;
	auto e = parseError(
		[&] { nl::retryInterrupted([&] { return ++tries > 0; }, "vq dump", 4); });
	CHECK(e.errnum() == EAGAIN);
	CHECK(tries == 4);
	CHECK_THAT(e.what(), ContainsSubstring("vq dump: the objects kept changing"));
}

TEST_CASE("A family of another version is refused clearly", "[netlink]")
{
	CHECK_NOTHROW(nl::checkFamilyVersion(VHOST_BLK_GENL_VERSION));
	auto e = parseError([] { nl::checkFamilyVersion(VHOST_BLK_GENL_VERSION + 1); });
	CHECK(e.errnum() == EPROTONOSUPPORT);
	CHECK_THAT(e.what(), ContainsSubstring("vhost_blk is version 2; this build speaks "
					       "version 1"));
}

namespace {

/* A VHOST_BLK_A_VQ_HIST nest of @kind and @op with @buckets[i] = i + 1. */
void putHist(nl_msg *p, uint32_t kind, uint32_t op, std::size_t bucketsLen = VHOST_BLK_HIST_BUCKETS)
{
	std::vector<uint64_t> buckets(bucketsLen);
	for (std::size_t i = 0; i < bucketsLen; i++)
		buckets[i] = i + 1;
	nlattr *nest = nla_nest_start(p, VHOST_BLK_A_VQ_HIST);
	REQUIRE(nest);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_HIST_KIND, kind) == 0);
	REQUIRE(nla_put_u32(p, VHOST_BLK_A_HIST_OP, op) == 0);
	REQUIRE(nla_put(p, VHOST_BLK_A_HIST_BUCKETS, static_cast<int>(bucketsLen * 8),
			buckets.data()) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_HIST_SUM_NS, 1000 + op) == 0);
	REQUIRE(nla_put_u64(p, VHOST_BLK_A_HIST_MAX_NS, 500) == 0);
	nla_nest_end(p, nest);
}

Msg vqBase()
{
	Msg m = reply(VHOST_BLK_CMD_VQ_GET);
	REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_VQ_DEV_ID, 2) == 0);
	REQUIRE(nla_put_u32(m.get(), VHOST_BLK_A_VQ_INDEX, 3) == 0);
	return m;
}

} // namespace

TEST_CASE("Every histogram nest of a vq message is read, not only the last", "[netlink][hist]")
{
	Msg m = vqBase();
	putHist(m.get(), VHOST_BLK_HIST_QUEUE, VHOST_BLK_OP_READ);
	putHist(m.get(), VHOST_BLK_HIST_SERVICE, VHOST_BLK_OP_READ);
	putHist(m.get(), VHOST_BLK_HIST_SERVICE, VHOST_BLK_OP_FLUSH);
	REQUIRE(nla_put_u64(m.get(), VHOST_BLK_A_VQ_IO_ERRORS, 4) == 0);

	nl::VqInfo v = nl::parseVq(hdr(m));
	REQUIRE(v.hists.size() == 3);
	CHECK(v.ioErrors == 4);
	CHECK(v.hists[0].kind == nl::HistKind::queue);
	CHECK(v.hists[2].op == VHOST_BLK_OP_FLUSH);
	CHECK(v.hists[2].buckets[21] == 22);
	CHECK(v.hists[2].sumNs == 1000 + VHOST_BLK_OP_FLUSH);
	CHECK(v.hists[1].count() == 22 * 23 / 2);
	nl::Histogram s = v.total(nl::HistKind::service);
	CHECK(s.count() == 2 * (22 * 23 / 2));
	CHECK(s.sumNs == 2000 + VHOST_BLK_OP_READ + VHOST_BLK_OP_FLUSH);
}

TEST_CASE("A vq message says its ring layout; an older module's is split", "[netlink]")
{
	Msg packed = vqBase();
	REQUIRE(nla_put_u8(packed.get(), VHOST_BLK_A_VQ_PACKED, 1) == 0);
	CHECK(nl::parseVq(hdr(packed)).packed);

	Msg split = vqBase();
	REQUIRE(nla_put_u8(split.get(), VHOST_BLK_A_VQ_PACKED, 0) == 0);
	CHECK_FALSE(nl::parseVq(hdr(split)).packed);
	CHECK_FALSE(nl::parseVq(hdr(vqBase())).packed);

	Msg wide = vqBase();
	REQUIRE(nla_put_u32(wide.get(), VHOST_BLK_A_VQ_PACKED, 1) == 0);
	CHECK(parseError([&] { nl::parseVq(hdr(wide)); }).code().value() == EPROTO);
}

TEST_CASE("A histogram of the wrong size or kind is malformed", "[netlink][hist]")
{
	Msg shortBuckets = vqBase();
	putHist(shortBuckets.get(), VHOST_BLK_HIST_SERVICE, 0, VHOST_BLK_HIST_BUCKETS - 1);
	CHECK(parseError([&] { nl::parseVq(hdr(shortBuckets)); }).code().value() == EPROTO);

	Msg badKind = vqBase();
	putHist(badKind.get(), 7, 0);
	CHECK_THAT(parseError([&] { nl::parseVq(hdr(badKind)); }).what(),
		   ContainsSubstring("histogram of kind 7"));
}

TEST_CASE("Quantiles are the top of their bucket, bounded by the maximum", "[netlink][hist]")
{
	nl::Histogram h;
	CHECK_FALSE(nl::quantileNs(h, 0.5));
	h.buckets[3] = 50;  /* [4, 8) us */
	h.buckets[12] = 49; /* [2048, 4096) us */
	h.buckets[21] = 1;  /* 2^20 us and more */
	h.maxNs = 3'000'000'000;
	CHECK(*nl::quantileNs(h, 0.5) == 8000);
	CHECK(*nl::quantileNs(h, 0.51) == 4'096'000);
	CHECK(*nl::quantileNs(h, 0.99) == 4'096'000);
	CHECK(*nl::quantileNs(h, 1.0) == 3'000'000'000);
	/* A maximum under the bucket's top bounds it. */
	h.buckets = {};
	h.buckets[12] = 1;
	h.maxNs = 3'000'000;
	CHECK(*nl::quantileNs(h, 0.5) == 3'000'000);
	CHECK(nl::bucketUpperNs(0) == 1000u);
	CHECK(nl::bucketUpperNs(20) == 1'048'576'000u);
	CHECK_FALSE(nl::bucketUpperNs(21));

	nl::Histogram later = h;
	later.buckets[12] = 5;
	later.sumNs = h.sumNs + 100;
	nl::Histogram d = later.since(h);
	CHECK(d.count() == 4);
	CHECK(d.sumNs == 100);
}

TEST_CASE("Events parse by their command, with what each carries", "[netlink][events]")
{
	Msg created = reply(VHOST_BLK_CMD_DEV_CREATED_NTF, 0);
	REQUIRE(nla_put_u32(created.get(), VHOST_BLK_A_DEV_ID, 7) == 0);
	REQUIRE(nla_put_u32(created.get(), VHOST_BLK_A_DEV_OWNER_UID, 1000) == 0);
	nl::Event e = nl::parseEvent(hdr(created));
	CHECK(e.name == "dev-created");
	CHECK(e.devId == 7);
	CHECK(e.ownerUid == 1000u);

	Msg worker = reply(VHOST_BLK_CMD_WORKER_CREATED_NTF, 0);
	REQUIRE(nla_put_u32(worker.get(), VHOST_BLK_A_WORKER_DEV_ID, 7) == 0);
	REQUIRE(nla_put_u32(worker.get(), VHOST_BLK_A_WORKER_ID, 2) == 0);
	REQUIRE(nla_put_u32(worker.get(), VHOST_BLK_A_WORKER_TID, 4321) == 0);
	e = nl::parseEvent(hdr(worker));
	CHECK(e.name == "worker-created");
	CHECK(e.workerId == 2u);
	CHECK(e.tid == 4321u);

	Msg stopped = reply(VHOST_BLK_CMD_VQ_STOPPED_NTF, 0);
	REQUIRE(nla_put_u32(stopped.get(), VHOST_BLK_A_VQ_DEV_ID, 7) == 0);
	REQUIRE(nla_put_u32(stopped.get(), VHOST_BLK_A_VQ_INDEX, 1) == 0);
	REQUIRE(nla_put_string(stopped.get(), VHOST_BLK_A_VQ_STOP_REASON, "loop in chain") == 0);
	e = nl::parseEvent(hdr(stopped));
	CHECK(e.name == "vq-stopped");
	CHECK(e.vq == 1u);
	CHECK(e.reason == "loop in chain");

	Msg ioerr = reply(VHOST_BLK_CMD_IO_ERROR_NTF, 0);
	REQUIRE(nla_put_u32(ioerr.get(), VHOST_BLK_A_VQ_DEV_ID, 7) == 0);
	REQUIRE(nla_put_u32(ioerr.get(), VHOST_BLK_A_VQ_INDEX, 0) == 0);
	REQUIRE(nla_put_u32(ioerr.get(), VHOST_BLK_A_VQ_IO_ERRNO, EIO) == 0);
	REQUIRE(nla_put_u32(ioerr.get(), VHOST_BLK_A_VQ_IO_OP, VHOST_BLK_OP_WRITE) == 0);
	REQUIRE(nla_put_u64(ioerr.get(), VHOST_BLK_A_VQ_IO_ERRORS, 12) == 0);
	e = nl::parseEvent(hdr(ioerr));
	CHECK(e.ioErrno == uint32_t{EIO});
	CHECK(e.ioOp == uint32_t{VHOST_BLK_OP_WRITE});
	CHECK(e.ioErrors == 12u);

	Msg notEvent = reply(VHOST_BLK_CMD_VQ_GET, 0);
	CHECK(parseError([&] { nl::parseEvent(hdr(notEvent)); }).code().value() == EPROTO);
	Msg noDev = reply(VHOST_BLK_CMD_BACKEND_SET_NTF, 0);
	CHECK_THAT(parseError([&] { nl::parseEvent(hdr(noDev)); }).what(),
		   ContainsSubstring("id is missing"));
}

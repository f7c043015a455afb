// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of the vhost_blk family's messages with libnl's nla_parse() and a
 * policy per object, built from Documentation/netlink/specs/vhost-blk.yaml:
 * integers must have their exact size, strings must be NUL-terminated,
 * attributes past the last one this build knows are skipped.
 */
#include "vhostctl/netlink.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vhost_blk.h>
#include <netlink/attr.h>
#include <netlink/errno.h>

#include "vhostctl/error.hpp"

namespace nl {

namespace {

[[noreturn]] void malformed(std::string_view what, std::string_view why)
{
	throw vhost::Error(EPROTO, fmt::format("{}: {}", what, why));
}

constexpr nla_policy exact(uint16_t type, uint16_t len)
{
	return nla_policy{type, len, len};
}

/*
 * The family's policies, from Documentation/netlink/specs/vhost-blk.yaml:
 * integers of their exact size, strings NUL-terminated (libnl checks it),
 * the worker's virtqueues a nest of u32 attributes.  Unlisted (pad,
 * unspec) attributes are not read.
 */
template <std::size_t N>
using Policy = std::array<nla_policy, N>;

const Policy<VHOST_BLK_A_DEV_MAX + 1> devPolicy = [] {
	Policy<VHOST_BLK_A_DEV_MAX + 1> p{};
	p[VHOST_BLK_A_DEV_ID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_OWNER_PID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_OWNER_TID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_OWNER_UID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_BACKEND] = {NLA_STRING, 0, 0};
	p[VHOST_BLK_A_DEV_BACKEND_SIZE] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_DEV_FEATURES] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_DEV_NUM_VQS] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_NUM_WORKERS] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_WORKER_MODE] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_CAPACITY] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_DEV_READ_ONLY] = exact(NLA_U8, 1);
	p[VHOST_BLK_A_DEV_SIZE_MAX] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_SEG_MAX] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_MAX_DISCARD_SEG] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SECTORS] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_DEV_SERIAL] = exact(NLA_UNSPEC, VHOST_BLK_SERIAL_BYTES);
	return p;
}();

const Policy<VHOST_BLK_A_WORKER_MAX + 1> workerPolicy = [] {
	Policy<VHOST_BLK_A_WORKER_MAX + 1> p{};
	p[VHOST_BLK_A_WORKER_DEV_ID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_WORKER_ID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_WORKER_TID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_WORKER_VQS] = {NLA_NESTED, 0, 0};
	p[VHOST_BLK_A_WORKER_VQ] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_WORKER_WORKS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_WORKER_BUSY_NS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_WORKER_WAKEUPS] = exact(NLA_U64, 8);
	return p;
}();

const Policy<VHOST_BLK_A_VQ_MAX + 1> vqPolicy = [] {
	Policy<VHOST_BLK_A_VQ_MAX + 1> p{};
	p[VHOST_BLK_A_VQ_DEV_ID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_INDEX] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_WORKER_ID] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_NUM] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_ACTIVE] = exact(NLA_U8, 1);
	p[VHOST_BLK_A_VQ_KICKS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_REQUESTS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_BYTES] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_IN_FLIGHT] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_ERRORS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_BUSYLOOP_US] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_BROKEN] = exact(NLA_U8, 1);
	p[VHOST_BLK_A_VQ_OFFLOADED] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_HIST] = {NLA_NESTED, 0, 0};
	p[VHOST_BLK_A_VQ_IO_ERRORS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_VQ_STOP_REASON] = {NLA_STRING, 0, 0};
	p[VHOST_BLK_A_VQ_PACKED] = exact(NLA_U8, 1);
	p[VHOST_BLK_A_VQ_IO_ERRNO] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_VQ_IO_OP] = exact(NLA_U32, 4);
	return p;
}();

static_assert(histBuckets == VHOST_BLK_HIST_BUCKETS);
static_assert(numOps == VHOST_BLK_NR_OPS);

const Policy<VHOST_BLK_A_HIST_MAX + 1> histPolicy = [] {
	Policy<VHOST_BLK_A_HIST_MAX + 1> p{};
	p[VHOST_BLK_A_HIST_KIND] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_HIST_OP] = exact(NLA_U32, 4);
	p[VHOST_BLK_A_HIST_BUCKETS] = exact(NLA_UNSPEC, histBuckets * sizeof(uint64_t));
	p[VHOST_BLK_A_HIST_SUM_NS] = exact(NLA_U64, 8);
	p[VHOST_BLK_A_HIST_MAX_NS] = exact(NLA_U64, 8);
	return p;
}();

/*
 * The attributes of one message or nest, parsed and validated by libnl
 * against @policy; those past it (a newer kernel's) are skipped.
 */
class Attrs
{
public:
	template <std::size_t N>
	Attrs(const nlattr *head, int len, const Policy<N> &policy, std::string_view what)
		: what_(what), tb_(N, nullptr)
	{
		auto *h = const_cast<nlattr *>(head);
		int maxtype = static_cast<int>(N) - 1;
		if (int err = nla_parse(tb_.data(), maxtype, h, len, policy.data())) {
			/* libnl does not say which one: find it, for the message. */
			const nlattr *a;
			int rem;
			nla_for_each_attr(a, head, len, rem)
			{
				if (nla_validate(const_cast<nlattr *>(a), NLA_ALIGN(a->nla_len),
						 maxtype, policy.data()))
					malformed(what_,
						  fmt::format("attribute {} of {} bytes fails the "
							      "policy ({})",
							      nla_type(a), nla_len(a),
							      nl_geterror(err)));
			}
			malformed(what_, nl_geterror(err));
		}
		const nlattr *a;
		int rem;
		nla_for_each_attr(a, head, len, rem) {}
		if (rem > 0 && rem >= static_cast<int>(sizeof(nlattr)))
			malformed(what_,
				  fmt::format("{} trailing bytes after the attributes", rem));
	}

	const nlattr *get(int type) const { return tb_.at(static_cast<std::size_t>(type)); }

	/* Attribute @type, which must be there; @name names it in the error. */
	const nlattr *require(int type, std::string_view name) const
	{
		const nlattr *a = get(type);

		if (!a)
			malformed(what_, fmt::format("attribute {} is missing", name));
		return a;
	}

	uint32_t u32(int type, std::string_view name) const
	{
		return nla_get_u32(const_cast<nlattr *>(require(type, name)));
	}

	template <typename T>
	std::optional<T> opt(int type) const
	{
		auto *a = const_cast<nlattr *>(get(type));

		if (!a)
			return std::nullopt;
		if constexpr (sizeof(T) == 1)
			return nla_get_u8(a);
		else if constexpr (sizeof(T) == 4)
			return nla_get_u32(a);
		else
			return nla_get_u64(a);
	}

	template <typename T>
	T value(int type, T fallback = 0) const
	{
		return opt<T>(type).value_or(fallback);
	}

	std::optional<std::string> string(int type) const
	{
		const nlattr *a = get(type);

		if (!a)
			return std::nullopt;
		return std::string(static_cast<const char *>(nla_data(a)));
	}

private:
	std::string_view what_;
	std::vector<nlattr *> tb_;
};

/* The genetlink command of @nlh, whose size is checked. */
uint8_t messageCmd(const nlmsghdr *nlh, std::string_view what)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		malformed(what, fmt::format("message of {} bytes", nlh->nlmsg_len));
	return static_cast<const genlmsghdr *>(NLMSG_DATA(nlh))->cmd;
}

/* The attributes of @nlh: their start and length. */
std::pair<const nlattr *, int> messagePayload(const nlmsghdr *nlh)
{
	auto *genl = static_cast<const genlmsghdr *>(NLMSG_DATA(nlh));
	auto *head = reinterpret_cast<const nlattr *>(reinterpret_cast<const char *>(genl) +
						      GENL_HDRLEN);
	return {head, static_cast<int>(nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN))};
}

/* The genetlink payload of @nlh, checked to be a reply to @cmd. */
template <std::size_t N>
Attrs messageAttrs(const nlmsghdr *nlh, uint8_t cmd, const Policy<N> &policy, std::string_view what)
{
	uint8_t got = messageCmd(nlh, what);

	if (got != cmd)
		malformed(what, fmt::format("reply to command {}, not {}", got, cmd));
	auto [head, len] = messagePayload(nlh);
	return Attrs(head, len, policy, what);
}

/* One VHOST_BLK_A_VQ_HIST nest. */
Histogram parseHist(const nlattr *nest)
{
	Attrs a(static_cast<const nlattr *>(nla_data(nest)), nla_len(nest), histPolicy,
		"vq message: hist");
	Histogram h;
	uint32_t kind = a.u32(VHOST_BLK_A_HIST_KIND, "hist kind");

	if (kind > VHOST_BLK_HIST_SERVICE)
		malformed("vq message", fmt::format("histogram of kind {}", kind));
	h.kind = static_cast<HistKind>(kind);
	h.op = a.u32(VHOST_BLK_A_HIST_OP, "hist op");
	std::memcpy(h.buckets.data(), nla_data(a.require(VHOST_BLK_A_HIST_BUCKETS, "buckets")),
		    sizeof(h.buckets));
	h.sumNs = a.value<uint64_t>(VHOST_BLK_A_HIST_SUM_NS);
	h.maxNs = a.value<uint64_t>(VHOST_BLK_A_HIST_MAX_NS);
	return h;
}

/* The error code carried by NLMSG_ERROR or NLMSG_DONE, 0 if none. */
int messageError(const nlmsghdr *nlh)
{
	int err = 0;

	if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
		std::memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
	return err;
}

} // namespace

std::string workerModeName(uint32_t mode)
{
	switch (mode) {
	case VHOST_BLK_WORKER_MODE_KTHREAD:
		return "kthread";
	case VHOST_BLK_WORKER_MODE_TASK:
		return "task";
	}
	return fmt::format("mode-{}", mode);
}

DevInfo parseDev(const nlmsghdr *nlh)
{
	auto a = messageAttrs(nlh, VHOST_BLK_CMD_DEV_GET, devPolicy, "device message");
	DevInfo d;

	d.id = a.u32(VHOST_BLK_A_DEV_ID, "id");
	d.ownerPid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_PID);
	d.ownerTid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_TID);
	d.ownerUid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_UID);
	d.backend = a.string(VHOST_BLK_A_DEV_BACKEND);
	d.backendSize = a.opt<uint64_t>(VHOST_BLK_A_DEV_BACKEND_SIZE);
	d.features = a.value<uint64_t>(VHOST_BLK_A_DEV_FEATURES);
	d.numVqs = a.value<uint32_t>(VHOST_BLK_A_DEV_NUM_VQS);
	d.numWorkers = a.value<uint32_t>(VHOST_BLK_A_DEV_NUM_WORKERS);
	d.workerMode = a.value<uint32_t>(VHOST_BLK_A_DEV_WORKER_MODE);
	d.capacity = a.opt<uint64_t>(VHOST_BLK_A_DEV_CAPACITY);
	if (auto ro = a.opt<uint8_t>(VHOST_BLK_A_DEV_READ_ONLY))
		d.readOnly = *ro != 0;
	d.sizeMax = a.opt<uint32_t>(VHOST_BLK_A_DEV_SIZE_MAX);
	d.segMax = a.opt<uint32_t>(VHOST_BLK_A_DEV_SEG_MAX);
	d.maxDiscardSectors = a.opt<uint32_t>(VHOST_BLK_A_DEV_MAX_DISCARD_SECTORS);
	d.maxDiscardSeg = a.opt<uint32_t>(VHOST_BLK_A_DEV_MAX_DISCARD_SEG);
	d.maxWriteZeroesSectors = a.opt<uint32_t>(VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SECTORS);
	d.maxWriteZeroesSeg = a.opt<uint32_t>(VHOST_BLK_A_DEV_MAX_WRITE_ZEROES_SEG);
	if (const nlattr *s = a.get(VHOST_BLK_A_DEV_SERIAL)) {
		/* NUL-padded, not always NUL-terminated. */
		auto *p = static_cast<const char *>(nla_data(s));
		d.serial = std::string(p, ::strnlen(p, VHOST_BLK_SERIAL_BYTES));
	}
	return d;
}

WorkerInfo parseWorker(const nlmsghdr *nlh)
{
	auto a = messageAttrs(nlh, VHOST_BLK_CMD_WORKER_GET, workerPolicy, "worker message");
	WorkerInfo w;

	w.devId = a.u32(VHOST_BLK_A_WORKER_DEV_ID, "dev_id");
	w.id = a.u32(VHOST_BLK_A_WORKER_ID, "id");
	w.tid = a.value<uint32_t>(VHOST_BLK_A_WORKER_TID);
	w.works = a.value<uint64_t>(VHOST_BLK_A_WORKER_WORKS);
	w.busyNs = a.value<uint64_t>(VHOST_BLK_A_WORKER_BUSY_NS);
	w.wakeups = a.value<uint64_t>(VHOST_BLK_A_WORKER_WAKEUPS);
	if (const nlattr *nest = a.get(VHOST_BLK_A_WORKER_VQS)) {
		/* One u32 vq attribute per virtqueue, each checked; anything else is skipped. */
		nlattr *vq;
		int rem;

		nla_for_each_nested(vq, const_cast<nlattr *>(nest), rem)
		{
			if (nla_type(vq) != VHOST_BLK_A_WORKER_VQ)
				continue;
			if (nla_validate(vq, NLA_ALIGN(vq->nla_len), VHOST_BLK_A_WORKER_MAX,
					 workerPolicy.data()))
				malformed("worker message",
					  fmt::format("a vq attribute of {} bytes in the vqs nest",
						      nla_len(vq)));
			w.vqs.push_back(nla_get_u32(vq));
		}
	}
	return w;
}

VqInfo parseVq(const nlmsghdr *nlh)
{
	auto a = messageAttrs(nlh, VHOST_BLK_CMD_VQ_GET, vqPolicy, "vq message");
	VqInfo v;

	v.devId = a.u32(VHOST_BLK_A_VQ_DEV_ID, "dev_id");
	v.index = a.u32(VHOST_BLK_A_VQ_INDEX, "index");
	v.workerId = a.opt<uint32_t>(VHOST_BLK_A_VQ_WORKER_ID);
	v.num = a.value<uint32_t>(VHOST_BLK_A_VQ_NUM);
	v.active = a.value<uint8_t>(VHOST_BLK_A_VQ_ACTIVE) != 0;
	v.kicks = a.value<uint64_t>(VHOST_BLK_A_VQ_KICKS);
	v.requests = a.value<uint64_t>(VHOST_BLK_A_VQ_REQUESTS);
	v.bytes = a.value<uint64_t>(VHOST_BLK_A_VQ_BYTES);
	v.inFlight = a.value<uint32_t>(VHOST_BLK_A_VQ_IN_FLIGHT);
	v.errors = a.value<uint64_t>(VHOST_BLK_A_VQ_ERRORS);
	v.busyloopUs = a.value<uint32_t>(VHOST_BLK_A_VQ_BUSYLOOP_US);
	v.broken = a.value<uint8_t>(VHOST_BLK_A_VQ_BROKEN) != 0;
	v.offloaded = a.value<uint64_t>(VHOST_BLK_A_VQ_OFFLOADED);
	v.ioErrors = a.value<uint64_t>(VHOST_BLK_A_VQ_IO_ERRORS);
	v.packed = a.value<uint8_t>(VHOST_BLK_A_VQ_PACKED) != 0;
	/* Repeated: nla_parse() keeps only the last, so walk them all. */
	auto [head, len] = messagePayload(nlh);
	const nlattr *h;
	int rem;
	nla_for_each_attr(h, head, len, rem)
	{
		if (nla_type(h) == VHOST_BLK_A_VQ_HIST)
			v.hists.push_back(parseHist(h));
	}
	return v;
}

namespace {

struct EventType {
	uint8_t cmd;
	const char *name;
};

constexpr std::array<EventType, 8> eventTypes = {{
	{VHOST_BLK_CMD_DEV_CREATED_NTF, "dev-created"},
	{VHOST_BLK_CMD_DEV_DESTROYED_NTF, "dev-destroyed"},
	{VHOST_BLK_CMD_BACKEND_SET_NTF, "backend-set"},
	{VHOST_BLK_CMD_WORKER_CREATED_NTF, "worker-created"},
	{VHOST_BLK_CMD_WORKER_FREED_NTF, "worker-freed"},
	{VHOST_BLK_CMD_VQ_ATTACHED_NTF, "vq-attached"},
	{VHOST_BLK_CMD_VQ_STOPPED_NTF, "vq-stopped"},
	{VHOST_BLK_CMD_IO_ERROR_NTF, "io-error"},
}};

} // namespace

Event parseEvent(const nlmsghdr *nlh)
{
	constexpr std::string_view what = "event";
	Event e;

	e.cmd = messageCmd(nlh, what);
	for (const auto &t : eventTypes) {
		if (t.cmd == e.cmd)
			e.name = t.name;
	}
	if (e.name.empty())
		malformed(what, fmt::format("command {} is no event", e.cmd));
	auto [head, len] = messagePayload(nlh);
	switch (e.cmd) {
	case VHOST_BLK_CMD_DEV_CREATED_NTF:
	case VHOST_BLK_CMD_DEV_DESTROYED_NTF:
	case VHOST_BLK_CMD_BACKEND_SET_NTF: {
		Attrs a(head, len, devPolicy, what);
		e.devId = a.u32(VHOST_BLK_A_DEV_ID, "id");
		e.ownerUid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_UID);
		e.backend = a.string(VHOST_BLK_A_DEV_BACKEND);
		e.backendSize = a.opt<uint64_t>(VHOST_BLK_A_DEV_BACKEND_SIZE);
		break;
	}
	case VHOST_BLK_CMD_WORKER_CREATED_NTF:
	case VHOST_BLK_CMD_WORKER_FREED_NTF: {
		Attrs a(head, len, workerPolicy, what);
		e.devId = a.u32(VHOST_BLK_A_WORKER_DEV_ID, "dev_id");
		e.workerId = a.u32(VHOST_BLK_A_WORKER_ID, "id");
		e.tid = a.opt<uint32_t>(VHOST_BLK_A_WORKER_TID);
		break;
	}
	default: {
		Attrs a(head, len, vqPolicy, what);
		e.devId = a.u32(VHOST_BLK_A_VQ_DEV_ID, "dev_id");
		e.vq = a.u32(VHOST_BLK_A_VQ_INDEX, "index");
		e.workerId = a.opt<uint32_t>(VHOST_BLK_A_VQ_WORKER_ID);
		e.reason = a.string(VHOST_BLK_A_VQ_STOP_REASON);
		e.ioErrno = a.opt<uint32_t>(VHOST_BLK_A_VQ_IO_ERRNO);
		e.ioOp = a.opt<uint32_t>(VHOST_BLK_A_VQ_IO_OP);
		e.ioErrors = a.opt<uint64_t>(VHOST_BLK_A_VQ_IO_ERRORS);
		break;
	}
	}
	return e;
}

uint64_t Histogram::count() const noexcept
{
	uint64_t n = 0;

	for (uint64_t b : buckets)
		n += b;
	return n;
}

Histogram Histogram::since(const Histogram &before) const noexcept
{
	Histogram d = *this;

	/* A count that went back was reset: count from zero. */
	for (std::size_t i = 0; i < histBuckets; i++)
		d.buckets[i] = buckets[i] >= before.buckets[i] ? buckets[i] - before.buckets[i]
							       : buckets[i];
	d.sumNs = sumNs >= before.sumNs ? sumNs - before.sumNs : sumNs;
	return d;
}

Histogram &Histogram::operator+=(const Histogram &other) noexcept
{
	for (std::size_t i = 0; i < histBuckets; i++)
		buckets[i] += other.buckets[i];
	sumNs += other.sumNs;
	maxNs = std::max(maxNs, other.maxNs);
	return *this;
}

Histogram VqInfo::total(HistKind kind) const noexcept
{
	Histogram t;

	t.kind = kind;
	for (const auto &h : hists) {
		if (h.kind == kind)
			t += h;
	}
	return t;
}

std::optional<uint64_t> bucketUpperNs(std::size_t i) noexcept
{
	if (i + 1 >= histBuckets)
		return std::nullopt;
	return (uint64_t{1} << i) * 1000;
}

std::optional<uint64_t> quantileNs(const Histogram &h, double q) noexcept
{
	uint64_t n = h.count(), seen = 0;

	if (!n)
		return std::nullopt;
	/* The rank of the quantile, at least the first. */
	auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n)));
	rank = std::clamp<uint64_t>(rank, 1, n);
	for (std::size_t i = 0; i < histBuckets; i++) {
		seen += h.buckets[i];
		if (seen >= rank) {
			auto upper = bucketUpperNs(i);
			/* The maximum bounds the last bucket, and any other. */
			if (!upper || (h.maxNs && *upper > h.maxNs))
				return h.maxNs;
			return *upper;
		}
	}
	return h.maxNs;
}

std::string opName(uint32_t op)
{
	static constexpr std::array<const char *, numOps> names = {"read", "write", "flush",
								   "discard", "other"};

	return op < names.size() ? names[op] : fmt::format("op-{}", op);
}

std::string histKindName(HistKind kind)
{
	return kind == HistKind::queue ? "queue" : "service";
}

std::string extackMessage(const nlmsghdr *nlh)
{
	if ((nlh->nlmsg_type != NLMSG_ERROR && nlh->nlmsg_type != NLMSG_DONE) ||
	    !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return {};

	std::size_t offset;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
			return {};
		auto *err = static_cast<const nlmsgerr *>(NLMSG_DATA(nlh));
		offset = NLMSG_LENGTH(sizeof(nlmsgerr));
		/* The request comes back after the error unless it was capped. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->msg.nlmsg_len > NLMSG_HDRLEN)
			offset += NLMSG_ALIGN(err->msg.nlmsg_len - NLMSG_HDRLEN);
	} else {
		offset = NLMSG_LENGTH(sizeof(int));
	}
	if (offset >= nlh->nlmsg_len)
		return {};

	auto *head = reinterpret_cast<const nlattr *>(reinterpret_cast<const char *>(nlh) + offset);
	int len = static_cast<int>(nlh->nlmsg_len - offset);
	const nlattr *a;
	int rem;

	nla_for_each_attr(a, head, len, rem)
	{
		if (nla_type(a) != NLMSGERR_ATTR_MSG || nla_len(a) < 1)
			continue;
		auto *s = static_cast<const char *>(nla_data(a));
		return std::string(s, ::strnlen(s, static_cast<std::size_t>(nla_len(a))));
	}
	return {};
}

DumpParser::DumpParser(std::string what, uint32_t seq,
		       std::function<void(const nlmsghdr *)> onMessage)
	: what_(std::move(what)), seq_(seq), onMessage_(std::move(onMessage))
{}

bool DumpParser::feed(std::span<const std::byte> buffer)
{
	const std::byte *p = buffer.data();
	std::size_t left = buffer.size();

	while (!done_ && left >= sizeof(nlmsghdr)) {
		auto *nlh = reinterpret_cast<const nlmsghdr *>(p);

		if (nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > left)
			throw vhost::Error(EPROTO,
					   fmt::format("{}: truncated netlink message", what_));

		if (nlh->nlmsg_seq == seq_) {
			int err;

			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				interrupted_ = true;

			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				break;
			case NLMSG_OVERRUN:
				throw vhost::Error(ENOBUFS, fmt::format("{}: overrun", what_));
			case NLMSG_ERROR:
			case NLMSG_DONE:
				err = messageError(nlh);
				if (err < 0) {
					std::string ext = extackMessage(nlh);

					throw vhost::Error(
						-err, ext.empty()
							      ? what_
							      : fmt::format("{}: {}", what_, ext));
				}
				done_ = true;
				break;
			default:
				onMessage_(nlh);
				break;
			}
		}

		std::size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= left)
			break;
		p += step;
		left -= step;
	}
	return done_;
}

void retryInterrupted(const std::function<bool()> &once, const std::string &what,
		      unsigned int tries)
{
	for (unsigned int i = 0; i < tries; i++) {
		if (!once())
			return;
	}
	throw vhost::Error(EAGAIN, fmt::format("{}: the objects kept changing during the dump "
					       "(NLM_F_DUMP_INTR {} times)",
					       what, tries));
}

void checkFamilyVersion(uint32_t version)
{
	if (version != VHOST_BLK_GENL_VERSION)
		throw vhost::Error(EPROTONOSUPPORT,
				   fmt::format("generic netlink family " VHOST_BLK_GENL_NAME
					       " is version {}; this build speaks version {}: "
					       "update the library or the module",
					       version, VHOST_BLK_GENL_VERSION));
}

namespace {

template <typename T>
std::vector<T> parseAll(std::span<const std::byte> buffer, uint32_t seq, const char *what,
			T (*parse)(const nlmsghdr *))
{
	std::vector<T> out;
	DumpParser p(what, seq, [&](const nlmsghdr *nlh) { out.push_back(parse(nlh)); });

	p.feed(buffer);
	return out;
}

} // namespace

std::vector<DevInfo> parseDevDump(std::span<const std::byte> buffer, uint32_t seq)
{
	return parseAll(buffer, seq, "device dump", parseDev);
}

std::vector<WorkerInfo> parseWorkerDump(std::span<const std::byte> buffer, uint32_t seq)
{
	return parseAll(buffer, seq, "worker dump", parseWorker);
}

std::vector<VqInfo> parseVqDump(std::span<const std::byte> buffer, uint32_t seq)
{
	return parseAll(buffer, seq, "vq dump", parseVq);
}

} // namespace nl

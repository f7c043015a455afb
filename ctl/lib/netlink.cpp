// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of the vhost_blk family's messages with libnl's nla_parse() and a
 * policy per object, built from Documentation/netlink/specs/vhost-blk.yaml:
 * integers must have their exact size, strings must be NUL-terminated,
 * attributes past the last one this build knows are skipped.
 */
#include "vhostctl/netlink.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
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

/* The genetlink payload of @nlh, checked to be a reply to @cmd. */
template <std::size_t N>
Attrs messageAttrs(const nlmsghdr *nlh, uint8_t cmd, const Policy<N> &policy, std::string_view what)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		malformed(what, fmt::format("message of {} bytes", nlh->nlmsg_len));
	auto *genl = static_cast<const genlmsghdr *>(NLMSG_DATA(nlh));
	if (genl->cmd != cmd)
		malformed(what, fmt::format("reply to command {}, not {}", genl->cmd, cmd));

	auto *head = reinterpret_cast<const nlattr *>(reinterpret_cast<const char *>(genl) +
						      GENL_HDRLEN);
	int len = static_cast<int>(nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
	return Attrs(head, len, policy, what);
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
	return v;
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

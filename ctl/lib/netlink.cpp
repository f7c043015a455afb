// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of the vhost_blk family's messages.  Each attribute is checked
 * against a policy built from Documentation/netlink/specs/vhost-blk.yaml:
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

#include "vhostctl/error.hpp"

namespace nl {

namespace {

enum class Kind { None, U8, U32, U64, String, Nest };

struct AttrSpec {
	const char *name = nullptr; /* as in the spec, snake_case */
	Kind kind = Kind::None;     /* None: not read (pad, unspec) */
};

template <std::size_t N>
using Policy = std::array<AttrSpec, N>;

constexpr Policy<VHOST_BLK_A_DEV_MAX + 1> devPolicy = [] {
	Policy<VHOST_BLK_A_DEV_MAX + 1> p{};
	p[VHOST_BLK_A_DEV_ID] = {"id", Kind::U32};
	p[VHOST_BLK_A_DEV_OWNER_PID] = {"owner_pid", Kind::U32};
	p[VHOST_BLK_A_DEV_OWNER_TID] = {"owner_tid", Kind::U32};
	p[VHOST_BLK_A_DEV_OWNER_UID] = {"owner_uid", Kind::U32};
	p[VHOST_BLK_A_DEV_BACKEND] = {"backend", Kind::String};
	p[VHOST_BLK_A_DEV_BACKEND_SIZE] = {"backend_size", Kind::U64};
	p[VHOST_BLK_A_DEV_FEATURES] = {"features", Kind::U64};
	p[VHOST_BLK_A_DEV_NUM_VQS] = {"num_vqs", Kind::U32};
	p[VHOST_BLK_A_DEV_NUM_WORKERS] = {"num_workers", Kind::U32};
	p[VHOST_BLK_A_DEV_WORKER_MODE] = {"worker_mode", Kind::U32};
	return p;
}();

constexpr Policy<VHOST_BLK_A_WORKER_MAX + 1> workerPolicy = [] {
	Policy<VHOST_BLK_A_WORKER_MAX + 1> p{};
	p[VHOST_BLK_A_WORKER_DEV_ID] = {"dev_id", Kind::U32};
	p[VHOST_BLK_A_WORKER_ID] = {"id", Kind::U32};
	p[VHOST_BLK_A_WORKER_TID] = {"tid", Kind::U32};
	p[VHOST_BLK_A_WORKER_VQS] = {"vqs", Kind::Nest};
	p[VHOST_BLK_A_WORKER_VQ] = {"vq", Kind::U32};
	p[VHOST_BLK_A_WORKER_WORKS] = {"works", Kind::U64};
	p[VHOST_BLK_A_WORKER_BUSY_NS] = {"busy_ns", Kind::U64};
	p[VHOST_BLK_A_WORKER_WAKEUPS] = {"wakeups", Kind::U64};
	return p;
}();

constexpr Policy<VHOST_BLK_A_VQ_MAX + 1> vqPolicy = [] {
	Policy<VHOST_BLK_A_VQ_MAX + 1> p{};
	p[VHOST_BLK_A_VQ_DEV_ID] = {"dev_id", Kind::U32};
	p[VHOST_BLK_A_VQ_INDEX] = {"index", Kind::U32};
	p[VHOST_BLK_A_VQ_WORKER_ID] = {"worker_id", Kind::U32};
	p[VHOST_BLK_A_VQ_NUM] = {"num", Kind::U32};
	p[VHOST_BLK_A_VQ_ACTIVE] = {"active", Kind::U8};
	p[VHOST_BLK_A_VQ_KICKS] = {"kicks", Kind::U64};
	p[VHOST_BLK_A_VQ_REQUESTS] = {"requests", Kind::U64};
	p[VHOST_BLK_A_VQ_BYTES] = {"bytes", Kind::U64};
	p[VHOST_BLK_A_VQ_IN_FLIGHT] = {"in_flight", Kind::U32};
	p[VHOST_BLK_A_VQ_ERRORS] = {"errors", Kind::U64};
	p[VHOST_BLK_A_VQ_BUSYLOOP_US] = {"busyloop_us", Kind::U32};
	return p;
}();

[[noreturn]] void malformed(std::string_view what, std::string_view why)
{
	throw vhost::Error(EPROTO, fmt::format("{}: {}", what, why));
}

int exactSize(Kind kind)
{
	switch (kind) {
	case Kind::U8:
		return 1;
	case Kind::U32:
		return 4;
	case Kind::U64:
		return 8;
	default:
		return -1;
	}
}

/* The attributes of one message or nest, validated, by type. */
class Attrs
{
public:
	Attrs(const nlattr *head, int len, std::span<const AttrSpec> policy, std::string_view what)
		: policy_(policy), what_(what), tb_(policy.size(), nullptr)
	{
		const std::size_t n = policy.size();
		const nlattr *a;
		int rem;

		nla_for_each_attr(a, head, len, rem)
		{
			int type = nla_type(a);

			/* Newer kernels add attributes: skip what we do not know. */
			if (type <= 0 || static_cast<std::size_t>(type) >= n)
				continue;
			const AttrSpec &spec = policy_[static_cast<std::size_t>(type)];
			if (spec.kind == Kind::None)
				continue;
			check(a, spec);
			tb_[static_cast<std::size_t>(type)] = a;
		}
		if (rem > 0 && rem >= static_cast<int>(sizeof(nlattr)))
			malformed(what_,
				  fmt::format("{} trailing bytes after the attributes", rem));
	}

	const nlattr *get(int type) const { return tb_.at(static_cast<std::size_t>(type)); }

	const nlattr *require(int type) const
	{
		const nlattr *a = get(type);

		if (!a)
			malformed(what_, fmt::format("attribute {} is missing",
						     policy_[static_cast<std::size_t>(type)].name));
		return a;
	}

	uint32_t u32(int type) const { return nla_get_u32(require(type)); }

	template <typename T>
	std::optional<T> opt(int type) const
	{
		const nlattr *a = get(type);

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
	void check(const nlattr *a, const AttrSpec &spec) const
	{
		int len = nla_len(a);
		int want = exactSize(spec.kind);

		if (want >= 0 && len != want)
			malformed(what_, fmt::format("attribute {} has {} bytes, not {}", spec.name,
						     len, want));
		if (spec.kind == Kind::String) {
			auto *s = static_cast<const char *>(nla_data(a));

			if (len < 1 || s[len - 1] != '\0')
				malformed(what_,
					  fmt::format("attribute {} is not a terminated string",
						      spec.name));
		}
	}

	std::span<const AttrSpec> policy_;
	std::string_view what_;
	std::vector<const nlattr *> tb_;
};

/* The genetlink payload of @nlh, checked to be a reply to @cmd. */
Attrs messageAttrs(const nlmsghdr *nlh, uint8_t cmd, std::span<const AttrSpec> policy,
		   std::string_view what)
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

	d.id = a.u32(VHOST_BLK_A_DEV_ID);
	d.ownerPid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_PID);
	d.ownerTid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_TID);
	d.ownerUid = a.opt<uint32_t>(VHOST_BLK_A_DEV_OWNER_UID);
	d.backend = a.string(VHOST_BLK_A_DEV_BACKEND);
	d.backendSize = a.opt<uint64_t>(VHOST_BLK_A_DEV_BACKEND_SIZE);
	d.features = a.value<uint64_t>(VHOST_BLK_A_DEV_FEATURES);
	d.numVqs = a.value<uint32_t>(VHOST_BLK_A_DEV_NUM_VQS);
	d.numWorkers = a.value<uint32_t>(VHOST_BLK_A_DEV_NUM_WORKERS);
	d.workerMode = a.value<uint32_t>(VHOST_BLK_A_DEV_WORKER_MODE);
	return d;
}

WorkerInfo parseWorker(const nlmsghdr *nlh)
{
	auto a = messageAttrs(nlh, VHOST_BLK_CMD_WORKER_GET, workerPolicy, "worker message");
	WorkerInfo w;

	w.devId = a.u32(VHOST_BLK_A_WORKER_DEV_ID);
	w.id = a.u32(VHOST_BLK_A_WORKER_ID);
	w.tid = a.value<uint32_t>(VHOST_BLK_A_WORKER_TID);
	w.works = a.value<uint64_t>(VHOST_BLK_A_WORKER_WORKS);
	w.busyNs = a.value<uint64_t>(VHOST_BLK_A_WORKER_BUSY_NS);
	w.wakeups = a.value<uint64_t>(VHOST_BLK_A_WORKER_WAKEUPS);
	if (const nlattr *nest = a.get(VHOST_BLK_A_WORKER_VQS)) {
		/* One u32 vq attribute per virtqueue; anything else is skipped. */
		const nlattr *vq;
		int rem;

		nla_for_each_attr(vq, static_cast<const nlattr *>(nla_data(nest)), nla_len(nest),
				  rem)
		{
			if (nla_type(vq) != VHOST_BLK_A_WORKER_VQ)
				continue;
			if (nla_len(vq) != sizeof(uint32_t))
				malformed("worker message",
					  fmt::format("attribute vq has {} bytes, not 4",
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

	v.devId = a.u32(VHOST_BLK_A_VQ_DEV_ID);
	v.index = a.u32(VHOST_BLK_A_VQ_INDEX);
	v.workerId = a.opt<uint32_t>(VHOST_BLK_A_VQ_WORKER_ID);
	v.num = a.value<uint32_t>(VHOST_BLK_A_VQ_NUM);
	v.active = a.value<uint8_t>(VHOST_BLK_A_VQ_ACTIVE) != 0;
	v.kicks = a.value<uint64_t>(VHOST_BLK_A_VQ_KICKS);
	v.requests = a.value<uint64_t>(VHOST_BLK_A_VQ_REQUESTS);
	v.bytes = a.value<uint64_t>(VHOST_BLK_A_VQ_BYTES);
	v.inFlight = a.value<uint32_t>(VHOST_BLK_A_VQ_IN_FLIGHT);
	v.errors = a.value<uint64_t>(VHOST_BLK_A_VQ_ERRORS);
	v.busyloopUs = a.value<uint32_t>(VHOST_BLK_A_VQ_BUSYLOOP_US);
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

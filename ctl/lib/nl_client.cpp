// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/nl_client.hpp"

#include <cerrno>
#include <cstdlib>
#include <sys/socket.h>
#include <vector>

#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/vhost_blk.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "vhostctl/error.hpp"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace nl {

namespace {

/* libnl reports its own codes (NLE_*); give callers an errno. */
int toErrno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_INTR:
		return EINTR;
	case NLE_BAD_SOCK:
		return EBADF;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_INVAL:
		return EINVAL;
	case NLE_RANGE:
		return ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return EMSGSIZE;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_NOATTR:
		return ENODATA;
	case NLE_PERM:
		return EPERM;
	case NLE_BUSY:
		return EBUSY;
	case NLE_PROTO_MISMATCH:
		return EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_NODEV:
		return ENODEV;
	}
	return EIO;
}

[[noreturn]] void throwNl(int nlerr, std::string what)
{
	throw vhost::Error(toErrno(nlerr), std::move(what));
}

struct MsgDeleter {
	void operator()(nl_msg *msg) const noexcept { nlmsg_free(msg); }
};
using Msg = std::unique_ptr<nl_msg, MsgDeleter>;

struct FreeDeleter {
	void operator()(unsigned char *p) const noexcept { std::free(p); }
};

} // namespace

void Client::SockDeleter::operator()(nl_sock *sock) const noexcept
{
	nl_socket_free(sock);
}

Client::Client() : sock_(nl_socket_alloc())
{
	if (!sock_)
		throw vhost::Error(ENOMEM, "netlink socket");
	int ret = genl_connect(sock_.get());
	if (ret < 0)
		throwNl(ret, "generic netlink socket");

	/* Peek for the size of each datagram: dumps can be large. */
	nl_socket_enable_msg_peek(sock_.get());
	nl_socket_disable_auto_ack(sock_.get());
	/* The kernel's error text (extack), without the request echoed back. */
	int one = 1;
	int fd = nl_socket_get_fd(sock_.get());
	if (::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
		vhost::throwErrno("setsockopt NETLINK_EXT_ACK");
	if (::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) < 0)
		vhost::throwErrno("setsockopt NETLINK_CAP_ACK");

	/* The family's id and version, from the controller. */
	nl_cache *raw = nullptr;
	ret = genl_ctrl_alloc_cache(sock_.get(), &raw);
	if (ret < 0)
		throwNl(ret, "list the generic netlink families");
	std::unique_ptr<nl_cache, void (*)(nl_cache *)> cache(raw, nl_cache_free);
	std::unique_ptr<genl_family, void (*)(genl_family *)> fam(
		genl_ctrl_search_by_name(cache.get(), VHOST_BLK_GENL_NAME), genl_family_put);
	if (!fam)
		throw vhost::Error(ENOENT, "generic netlink family " VHOST_BLK_GENL_NAME
					   " (is the vhost_blk module loaded?)");
	checkFamilyVersion(genl_family_get_version(fam.get()));
	family_ = genl_family_get_id(fam.get());
}

Client::Client(Client &&) noexcept = default;
Client &Client::operator=(Client &&) noexcept = default;
Client::~Client() = default;

namespace {

/* A request of @cmd with @flags, or Error(ENOMEM). */
Msg newMessage(int family, uint8_t cmd, int flags, const std::string &what)
{
	Msg msg(nlmsg_alloc());

	if (!msg || !genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
				 VHOST_BLK_GENL_VERSION))
		throw vhost::Error(ENOMEM, what);
	return msg;
}

void putU32(nl_msg *msg, int type, uint32_t value, const std::string &what)
{
	if (nla_put_u32(msg, type, value) < 0)
		throw vhost::Error(EMSGSIZE, what);
}

} // namespace

bool Client::exchange(nl_msg *msg, const std::string &what,
		      const std::function<void(const nlmsghdr *)> &onMessage)
{
	int ret = nl_send_auto(sock_.get(), msg);

	if (ret < 0)
		throwNl(ret, fmt::format("{}: send", what));

	DumpParser parser(what, nlmsg_hdr(msg)->nlmsg_seq, onMessage);
	while (!parser.done()) {
		sockaddr_nl peer{};
		unsigned char *raw = nullptr;

		ret = nl_recv(sock_.get(), &peer, &raw, nullptr);
		std::unique_ptr<unsigned char, FreeDeleter> buf(raw);
		if (ret < 0)
			throwNl(ret, fmt::format("{}: receive", what));
		if (ret == 0)
			throw vhost::Error(EPROTO, fmt::format("{}: the socket closed", what));
		parser.feed({reinterpret_cast<const std::byte *>(buf.get()),
			     static_cast<std::size_t>(ret)});
	}
	return parser.interrupted();
}

std::vector<DevInfo> Client::devices()
{
	std::string what = "VHOST_BLK_CMD_DEV_GET dump";
	std::vector<DevInfo> out;

	retryInterrupted(
		[&] {
			Msg msg = newMessage(family_, VHOST_BLK_CMD_DEV_GET, NLM_F_DUMP, what);
			out.clear();
			return exchange(msg.get(), what,
					[&](const nlmsghdr *nlh) { out.push_back(parseDev(nlh)); });
		},
		what);
	return out;
}

std::vector<WorkerInfo> Client::workers(std::optional<uint32_t> devId)
{
	std::string what = devId ? fmt::format("VHOST_BLK_CMD_WORKER_GET dump dev {}", *devId)
				 : "VHOST_BLK_CMD_WORKER_GET dump";
	std::vector<WorkerInfo> out;

	retryInterrupted(
		[&] {
			Msg msg = newMessage(family_, VHOST_BLK_CMD_WORKER_GET, NLM_F_DUMP, what);
			if (devId)
				putU32(msg.get(), VHOST_BLK_A_WORKER_DEV_ID, *devId, what);
			out.clear();
			return exchange(msg.get(), what, [&](const nlmsghdr *nlh) {
				out.push_back(parseWorker(nlh));
			});
		},
		what);
	return out;
}

std::vector<VqInfo> Client::vqs(std::optional<uint32_t> devId)
{
	std::string what = devId ? fmt::format("VHOST_BLK_CMD_VQ_GET dump dev {}", *devId)
				 : "VHOST_BLK_CMD_VQ_GET dump";
	std::vector<VqInfo> out;

	retryInterrupted(
		[&] {
			Msg msg = newMessage(family_, VHOST_BLK_CMD_VQ_GET, NLM_F_DUMP, what);
			if (devId)
				putU32(msg.get(), VHOST_BLK_A_VQ_DEV_ID, *devId, what);
			out.clear();
			return exchange(msg.get(), what,
					[&](const nlmsghdr *nlh) { out.push_back(parseVq(nlh)); });
		},
		what);
	return out;
}

void Client::attachVq(uint32_t devId, uint32_t index, uint32_t worker)
{
	std::string what =
		fmt::format("VHOST_BLK_CMD_VQ_ATTACH dev {} vq {} worker {}", devId, index, worker);
	Msg msg = newMessage(family_, VHOST_BLK_CMD_VQ_ATTACH, NLM_F_ACK, what);

	putU32(msg.get(), VHOST_BLK_A_VQ_DEV_ID, devId, what);
	putU32(msg.get(), VHOST_BLK_A_VQ_INDEX, index, what);
	putU32(msg.get(), VHOST_BLK_A_VQ_WORKER_ID, worker, what);
	exchange(msg.get(), what, [](const nlmsghdr *) {});
}

void Monitor::SockDeleter::operator()(nl_sock *sock) const noexcept
{
	nl_socket_free(sock);
}

Monitor::Monitor() : sock_(nl_socket_alloc())
{
	/* The family, and its version, checked as for requests. */
	family_ = Client().family();
	if (!sock_)
		throw vhost::Error(ENOMEM, "netlink socket");
	int ret = genl_connect(sock_.get());
	if (ret < 0)
		throwNl(ret, "generic netlink socket");
	int group =
		genl_ctrl_resolve_grp(sock_.get(), VHOST_BLK_GENL_NAME, VHOST_BLK_MCGRP_MONITOR);
	if (group < 0)
		throwNl(group, "multicast group " VHOST_BLK_MCGRP_MONITOR " of " VHOST_BLK_GENL_NAME
			       " (a module without events?)");
	/* libnl hides the errno: join with the socket option itself. */
	if (::setsockopt(nl_socket_get_fd(sock_.get()), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group,
			 sizeof(group)) < 0)
		vhost::throwErrno("join multicast group " VHOST_BLK_MCGRP_MONITOR);
}

Monitor::Monitor(Monitor &&) noexcept = default;
Monitor &Monitor::operator=(Monitor &&) noexcept = default;
Monitor::~Monitor() = default;

int Monitor::fd() const noexcept
{
	return nl_socket_get_fd(sock_.get());
}

void Monitor::run(const std::function<bool(const Event &)> &onEvent,
		  const std::function<void()> &onLost)
{
	std::vector<std::byte> buf(1 << 16);

	for (;;) {
		ssize_t len = ::recv(fd(), buf.data(), buf.size(), 0);

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			onLost();
			continue;
		}
		if (len < 0)
			vhost::throwErrno("receive events");
		auto *nlh = reinterpret_cast<const nlmsghdr *>(buf.data());
		int left = static_cast<int>(len);
		for (; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
			if (nlh->nlmsg_type != family_)
				continue;
			if (!onEvent(parseEvent(nlh)))
				return;
		}
	}
}

} // namespace nl

// SPDX-License-Identifier: GPL-2.0
/*
 * nl::Client: a generic netlink socket (libnl-genl-3) bound to the
 * "vhost_blk" family, resolved once.  Dumps devices, workers and virtqueues
 * into the structs of netlink.hpp and sends the admin command VQ_ATTACH.
 * A dump the kernel flags as interrupted (the objects changed meanwhile) is
 * taken again.  Every failure throws vhost::Error with the errno and, when
 * the kernel gave one, its extended ack message.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vhostctl/netlink.hpp"

struct nl_msg;
struct nlmsghdr;
struct nl_sock;

namespace nl {

class Client final
{
public:
	/*
	 * Connect and resolve the family.  Error(ENOENT) when it is not
	 * registered (the module is not loaded), Error(EPROTONOSUPPORT) when
	 * its version is not the one this build speaks.
	 */
	Client();
	Client(Client &&) noexcept;
	Client &operator=(Client &&) noexcept;
	~Client();

	int family() const noexcept { return family_; }

	std::vector<DevInfo> devices();
	/* Every visible device's workers, or only device @devId's. */
	std::vector<WorkerInfo> workers(std::optional<uint32_t> devId = std::nullopt);
	std::vector<VqInfo> vqs(std::optional<uint32_t> devId = std::nullopt);

	/* VHOST_BLK_CMD_VQ_ATTACH: serve virtqueue @index from worker @worker. */
	void attachVq(uint32_t devId, uint32_t index, uint32_t worker);

private:
	struct SockDeleter {
		void operator()(nl_sock *sock) const noexcept;
	};

	/*
	 * Send @msg, then feed the replies to @onMessage until done or
	 * acked.  Returns whether a dump was interrupted (NLM_F_DUMP_INTR).
	 */
	bool exchange(nl_msg *msg, const std::string &what,
		      const std::function<void(const nlmsghdr *)> &onMessage);

	std::unique_ptr<nl_sock, SockDeleter> sock_;
	int family_ = -1;
};

/*
 * A socket in the family's multicast group "monitor": the module's events.
 * A listener without CAP_NET_ADMIN gets those of its own devices (Linux
 * 6.10 on); on older kernels joining needs CAP_NET_ADMIN: Error(EPERM).
 */
class Monitor final
{
public:
	Monitor();
	Monitor(Monitor &&) noexcept;
	Monitor &operator=(Monitor &&) noexcept;
	~Monitor();

	int fd() const noexcept;

	/*
	 * Receive events and give each to @onEvent until it returns false.
	 * When the socket's buffer overflowed (events were lost) @onLost is
	 * called and reception goes on.
	 */
	void run(const std::function<bool(const Event &)> &onEvent,
		 const std::function<void()> &onLost);

private:
	struct SockDeleter {
		void operator()(nl_sock *sock) const noexcept;
	};

	std::unique_ptr<nl_sock, SockDeleter> sock_;
	int family_ = -1;
};

} // namespace nl

// SPDX-License-Identifier: GPL-2.0
/*
 * The listening side of the vhost-user backend: one connection at a time,
 * from a peer the access policy allows, each served by a Backend of its own.
 */
#include <array>
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/eventfd.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace vhost::user {

unsigned int serveConnections(int listenFd, int stopFd, const KernelFactory &kernel,
			      const ServerOptions &opts)
{
	auto log = [&opts](LogLevel level, const std::string &line) {
		if (opts.backend.log)
			opts.backend.log(level, line);
	};
	unsigned int served = 0;

	for (;;) {
		std::array<struct pollfd, 3> pfd = {
			{{listenFd, POLLIN, 0}, {stopFd, POLLIN, 0}, {opts.refreshFd, POLLIN, 0}}};
		int n = ::poll(pfd.data(), pfd.size(), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throwErrno("poll on the listening socket");
		}
		if (pfd[1].revents)
			return served;
		if (pfd[2].revents)
			drain(opts.refreshFd);
		if (!pfd[0].revents)
			continue;
		UniqueFd sock(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
		if (!sock) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
				continue;
			throwErrno("accept a vhost-user connection");
		}
		PeerCredentials peer;
		try {
			peer = peerCredentials(sock.get());
		} catch (const Error &e) {
			log(LogLevel::Warning, fmt::format("connection refused: {}", e.what()));
			continue;
		}
		if (!opts.access.allows(peer)) {
			log(LogLevel::Warning,
			    fmt::format("connection from pid {} uid {} gid {} refused: only {} may "
					"connect",
					peer.pid, peer.uid, peer.gid, opts.access.text()));
			continue;
		}
		served++;
		log(LogLevel::Notice,
		    fmt::format("connection {} from pid {} uid {}", served, peer.pid, peer.uid));
		Backend::End end;
		{
			Backend b(std::move(sock), kernel, opts.backend);
			end = b.run(stopFd, opts.refreshFd);
			/* The device closes (requests finish) and memory unmaps here. */
		}
		log(end == Backend::End::Failed ? LogLevel::Warning : LogLevel::Notice,
		    fmt::format("connection {} {}", served,
				end == Backend::End::Disconnected ? "closed by the frontend"
				: end == Backend::End::Stopped    ? "ended by a signal"
								  : "dropped after an error"));
		if (end == Backend::End::Stopped)
			return served;
	}
}

} // namespace vhost::user

// SPDX-License-Identifier: GPL-2.0
/*
 * The listening side of the vhost-user backend: a unix socket, and one
 * connection at a time, each served by a Backend of its own.
 */
#include <array>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace vhost::user {

namespace {

/* Is somebody listening on @addr? */
bool listening(const struct sockaddr_un &addr)
{
	UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));

	return probe && ::connect(probe.get(), reinterpret_cast<const struct sockaddr *>(&addr),
				  sizeof(addr)) == 0;
}

std::string peerName(int sock)
{
	try {
		PeerCredentials p = peerCredentials(sock);

		return fmt::format("pid {} uid {}", p.pid, p.uid);
	} catch (const Error &) {
		return "unknown peer";
	}
}

} // namespace

UniqueFd listenUnix(const std::string &path)
{
	struct sockaddr_un addr = unixAddress(path);
	struct stat st = {};

	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			throw Error(EEXIST, fmt::format("{} exists and is not a socket", path));
		if (listening(addr))
			throw Error(EADDRINUSE,
				    fmt::format("{}: another backend listens there", path));
		/* A stale socket of a backend that is gone. */
		if (::unlink(path.c_str()) < 0)
			throwErrno("remove stale socket {}", path);
	}
	UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!sock)
		throwErrno("socket AF_UNIX");
	if (::bind(sock.get(), reinterpret_cast<const struct sockaddr *>(&addr), sizeof(addr)) < 0)
		throwErrno("bind {}", path);
	if (::listen(sock.get(), 1) < 0)
		throwErrno("listen on {}", path);
	return sock;
}

unsigned int serveConnections(int listenFd, int stopFd, const KernelFactory &kernel,
			      const BackendOptions &opts)
{
	auto log = [&opts](LogLevel level, const std::string &line) {
		if (opts.log)
			opts.log(level, line);
	};
	unsigned int served = 0;

	for (;;) {
		std::array<struct pollfd, 2> pfd = {{{listenFd, POLLIN, 0}, {stopFd, POLLIN, 0}}};
		int n = ::poll(pfd.data(), stopFd >= 0 ? 2 : 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throwErrno("poll on the listening socket");
		}
		if (stopFd >= 0 && pfd[1].revents)
			return served;
		if (!pfd[0].revents)
			continue;
		UniqueFd sock(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
		if (!sock) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
				continue;
			throwErrno("accept a vhost-user connection");
		}
		served++;
		std::string peer = peerName(sock.get());
		log(LogLevel::Notice, fmt::format("connection {} from {}", served, peer));
		Backend::End end;
		{
			Backend b(std::move(sock), kernel, opts);
			end = b.run(stopFd);
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

// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "vhostctl/error.hpp"

namespace vhost {

struct sockaddr_un unixAddress(const std::string &path)
{
	struct sockaddr_un addr = {};

	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(addr.sun_path))
		throw Error(ENAMETOOLONG, fmt::format("unix socket path \"{}\"", path));
	std::memcpy(addr.sun_path, path.data(), path.size());
	return addr;
}

bool PeerCredentials::inGroup(gid_t group) const noexcept
{
	return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

PeerCredentials peerCredentials(int sock)
{
	struct ucred cred = {};
	socklen_t len = sizeof(cred);
	PeerCredentials p;

	if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		throwErrno("SO_PEERCRED");
	p.pid = cred.pid;
	p.uid = cred.uid;
	p.gid = cred.gid;

	/* Asked with room for a few groups; ERANGE says how many there are. */
	std::vector<gid_t> groups(16);
	for (int tries = 0; tries < 4; tries++) {
		len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
		if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
			groups.resize(len / sizeof(gid_t));
			p.groups = std::move(groups);
			return p;
		}
		if (errno != ERANGE)
			throwErrno("SO_PEERGROUPS");
		groups.resize(len / sizeof(gid_t) + 1);
	}
	throw Error(ERANGE, "SO_PEERGROUPS: the peer's groups keep changing");
}

} // namespace vhost

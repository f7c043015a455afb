// SPDX-License-Identifier: GPL-2.0
/*
 * Unix stream sockets, as the vhost-user protocol uses them: addresses by
 * path, and who is at the other end.
 */
#pragma once

#include <string>
#include <sys/types.h>
#include <sys/un.h>
#include <vector>

namespace vhost {

/* The address of @path; Error(ENAMETOOLONG) when it is empty or does not fit. */
struct sockaddr_un unixAddress(const std::string &path);

/* The process at the other end of a connected socket, as it connected. */
struct PeerCredentials {
	pid_t pid = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	/* Its supplementary groups (SO_PEERGROUPS). */
	std::vector<gid_t> groups;

	/* Is @group its primary group or one of its supplementary ones? */
	bool inGroup(gid_t group) const noexcept;
};

/* SO_PEERCRED and SO_PEERGROUPS of @sock; throws vhost::Error. */
PeerCredentials peerCredentials(int sock);

} // namespace vhost

// SPDX-License-Identifier: GPL-2.0
/*
 * Unix stream sockets, as the vhost-user protocol uses them: addresses by
 * path, who is at the other end and who may be, and a listening socket
 * that removes its own file, and only its own.
 */
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <sys/un.h>
#include <vector>

#include "vhostctl/unique_fd.hpp"

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

/* Who may connect: a peer whose user, or one of whose groups, is listed. */
struct AccessPolicy {
	std::vector<uid_t> users;
	std::vector<gid_t> groups;

	/* Root and this process's effective user. */
	static AccessPolicy ownerOnly();
	bool allows(const PeerCredentials &peer) const noexcept;
	/* "uid 0,1000 gid 27", for a log line. */
	std::string text() const;
};

/* What the file of a listening socket is given: its mode and group. */
struct SocketPermissions {
	std::optional<mode_t> mode;
	std::optional<gid_t> group;
};

/*
 * chgrp and chmod the socket file @path, never what a symbolic link there
 * points to: Error(ENOTSOCK) unless @path is a socket; throws vhost::Error.
 */
void applyPermissions(const std::string &path, const SocketPermissions &perms);

class UnixListener final
{
public:
	/*
	 * Bind a stream socket to @path and listen.  A stale socket file
	 * there (nobody listens) is replaced; Error(EADDRINUSE) when a
	 * process listens there, Error(EEXIST) for a file that is not a
	 * socket.  The file gets @perms before the socket listens, so that
	 * nobody connects under other permissions.
	 */
	static UnixListener bind(const std::string &path, const SocketPermissions &perms = {});
	/*
	 * Adopt listening socket @fd that another process made (systemd's
	 * socket activation, a manager's --fd): Error(ENOTSOCK) unless it is
	 * a listening unix stream socket.  Its file is not this process's
	 * to remove.
	 */
	static UnixListener adopt(UniqueFd fd);

	UnixListener(UnixListener &&other) noexcept;
	UnixListener &operator=(UnixListener &&) noexcept;
	UnixListener(const UnixListener &) = delete;
	UnixListener &operator=(const UnixListener &) = delete;
	/* Removes the file it bound, if that file is still there. */
	~UnixListener();

	int fd() const noexcept { return fd_.get(); }
	/* The path it is bound to; empty for an abstract or unnamed socket. */
	const std::string &path() const noexcept { return path_; }
	/* Did this process bind it (and so remove its file at the end)? */
	bool bound() const noexcept { return bound_; }

private:
	UnixListener() = default;
	void removeFile() noexcept;

	UniqueFd fd_;
	std::string path_;
	bool bound_ = false;
	dev_t dev_ = 0;
	ino_t ino_ = 0;
};

} // namespace vhost

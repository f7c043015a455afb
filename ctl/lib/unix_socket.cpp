// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <fcntl.h>
#include <fmt/ranges.h>

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

AccessPolicy AccessPolicy::ownerOnly()
{
	AccessPolicy p;

	p.users.push_back(0);
	if (::geteuid() != 0)
		p.users.push_back(::geteuid());
	return p;
}

bool AccessPolicy::allows(const PeerCredentials &peer) const noexcept
{
	if (std::find(users.begin(), users.end(), peer.uid) != users.end())
		return true;
	return std::any_of(groups.begin(), groups.end(),
			   [&peer](gid_t g) { return peer.inGroup(g); });
}

std::string AccessPolicy::text() const
{
	std::string out =
		users.empty() ? "no uid" : "uid " + fmt::format("{}", fmt::join(users, ","));

	if (!groups.empty())
		out += fmt::format(" gid {}", fmt::join(groups, ","));
	return out;
}

namespace {

/*
 * chgrp and chmod the socket file at @path, itself: a symbolic link put in
 * its place is not followed (serve runs as root, and the socket's
 * directory may be writable by others), and with @expect, the file must
 * be that one (the device and inode this process bound).
 */
void permit(const std::string &path, const SocketPermissions &perms,
	    const struct stat *expect = nullptr)
{
	if (!perms.group && !perms.mode)
		return;
	UniqueFd f(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	if (!f)
		throwErrno("open {}", path);
	struct stat st = {};
	if (::fstat(f.get(), &st) < 0)
		throwErrno("stat {}", path);
	if (!S_ISSOCK(st.st_mode))
		throw Error(ENOTSOCK, fmt::format("{} is not a socket: its permissions are left "
						  "alone",
						  path));
	if (expect && (st.st_dev != expect->st_dev || st.st_ino != expect->st_ino))
		throw Error(EEXIST,
			    fmt::format("{} is no longer the socket this process bound", path));
	if (perms.group &&
	    ::fchownat(f.get(), "", static_cast<uid_t>(-1), *perms.group, AT_EMPTY_PATH) < 0)
		throwErrno("chgrp {} {}", *perms.group, path);
	/* No fchmod on an O_PATH descriptor: its /proc link reaches the same inode. */
	if (perms.mode &&
	    ::chmod(fmt::format("/proc/self/fd/{}", f.get()).c_str(), *perms.mode) < 0)
		throwErrno("chmod {:04o} {}", *perms.mode, path);
}

} // namespace

void applyPermissions(const std::string &path, const SocketPermissions &perms)
{
	permit(path, perms);
}

namespace {

/* Is somebody listening on @addr? */
bool listening(const struct sockaddr_un &addr)
{
	UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));

	return probe && ::connect(probe.get(), reinterpret_cast<const struct sockaddr *>(&addr),
				  sizeof(addr)) == 0;
}

int intOption(int fd, int option, const char *name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (::getsockopt(fd, SOL_SOCKET, option, &v, &len) < 0)
		throwErrno("{} of fd {}", name, fd);
	return v;
}

} // namespace

UnixListener UnixListener::bind(const std::string &path, const SocketPermissions &perms)
{
	struct sockaddr_un addr = unixAddress(path);
	struct stat st = {};
	UnixListener l;

	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			throw Error(EEXIST, fmt::format("{} exists and is not a socket", path));
		if (listening(addr))
			throw Error(EADDRINUSE,
				    fmt::format("{}: another process listens there", path));
		/* A stale socket of a process that is gone. */
		if (::unlink(path.c_str()) < 0)
			throwErrno("remove stale socket {}", path);
	}
	l.fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!l.fd_)
		throwErrno("socket AF_UNIX");
	if (::bind(l.fd_.get(), reinterpret_cast<const struct sockaddr *>(&addr), sizeof(addr)) < 0)
		throwErrno("bind {}", path);
	l.path_ = path;
	l.bound_ = true;
	if (::lstat(path.c_str(), &st) < 0)
		throwErrno("stat {}", path);
	l.dev_ = st.st_dev;
	l.ino_ = st.st_ino;
	/* Nobody can connect before listen(): the permissions are in place first. */
	permit(path, perms, &st);
	if (::listen(l.fd_.get(), SOMAXCONN) < 0)
		throwErrno("listen on {}", path);
	return l;
}

UnixListener UnixListener::adopt(UniqueFd fd)
{
	UnixListener l;
	int n = fd.get();

	if (intOption(n, SO_DOMAIN, "SO_DOMAIN") != AF_UNIX ||
	    intOption(n, SO_TYPE, "SO_TYPE") != SOCK_STREAM ||
	    !intOption(n, SO_ACCEPTCONN, "SO_ACCEPTCONN"))
		throw Error(ENOTSOCK, fmt::format("fd {}: not a listening unix stream socket", n));
	struct sockaddr_un addr = {};
	socklen_t len = sizeof(addr);
	if (::getsockname(n, reinterpret_cast<struct sockaddr *>(&addr), &len) < 0)
		throwErrno("getsockname of fd {}", n);
	std::size_t pathLen = len > offsetof(struct sockaddr_un, sun_path)
				      ? len - offsetof(struct sockaddr_un, sun_path)
				      : 0;
	/* A path, not an abstract name (which starts with a NUL). */
	if (pathLen && addr.sun_path[0])
		l.path_.assign(addr.sun_path, ::strnlen(addr.sun_path, pathLen));
	/* Accepted connections must not inherit across exec either. */
	if (::fcntl(n, F_SETFD, FD_CLOEXEC) < 0)
		throwErrno("FD_CLOEXEC on fd {}", n);
	l.fd_ = std::move(fd);
	return l;
}

UnixListener::UnixListener(UnixListener &&other) noexcept
	: fd_(std::move(other.fd_)), path_(std::move(other.path_)),
	  bound_(std::exchange(other.bound_, false)), dev_(other.dev_), ino_(other.ino_)
{}

UnixListener &UnixListener::operator=(UnixListener &&other) noexcept
{
	if (this != &other) {
		removeFile();
		fd_ = std::move(other.fd_);
		path_ = std::move(other.path_);
		bound_ = std::exchange(other.bound_, false);
		dev_ = other.dev_;
		ino_ = other.ino_;
	}
	return *this;
}

UnixListener::~UnixListener()
{
	removeFile();
}

void UnixListener::removeFile() noexcept
{
	struct stat st = {};

	/* Only the file it bound: another process may have taken the path since. */
	if (bound_ && ::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == dev_ && st.st_ino == ino_)
		::unlink(path_.c_str());
	bound_ = false;
}

} // namespace vhost

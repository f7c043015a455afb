// SPDX-License-Identifier: GPL-2.0
#include "service.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "cli.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/unique_fd.hpp"

namespace vhostctl::service {

namespace {

std::optional<uint64_t> envNumber(const char *name)
{
	const char *v = std::getenv(name);
	uint64_t n = 0;

	if (!v || !*v)
		return std::nullopt;
	auto [end, ec] = std::from_chars(v, v + std::strlen(v), n);
	if (ec != std::errc() || *end)
		return std::nullopt;
	return n;
}

} // namespace

std::optional<int> listenFd()
{
	auto pid = envNumber("LISTEN_PID");
	auto fds = envNumber("LISTEN_FDS");

	::unsetenv("LISTEN_PID");
	::unsetenv("LISTEN_FDS");
	::unsetenv("LISTEN_FDNAMES");
	/* Meant for this process, not one that inherited the environment. */
	if (!pid || !fds || *pid != static_cast<uint64_t>(::getpid()) || !*fds)
		return std::nullopt;
	if (*fds > 1)
		throw UsageError(
			fmt::format("serve: {} sockets passed (LISTEN_FDS), one expected", *fds));
	return listenFdsStart;
}

bool notify(std::string_view state)
{
	const char *where = std::getenv("NOTIFY_SOCKET");

	if (!where || !*where)
		return false;
	std::string path(where);
	struct sockaddr_un addr = {};
	addr.sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof(addr.sun_path))
		throw vhost::Error(EINVAL, fmt::format("NOTIFY_SOCKET \"{}\"", path));
	std::memcpy(addr.sun_path, path.data(), path.size());
	/* '@': the abstract namespace, whose names start with a NUL. */
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());

	vhost::UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (!sock)
		vhost::throwErrno("socket for NOTIFY_SOCKET");
	if (::sendto(sock.get(), state.data(), state.size(), MSG_NOSIGNAL,
		     reinterpret_cast<const struct sockaddr *>(&addr), len) < 0)
		vhost::throwErrno("notify {}", path);
	return true;
}

bool stderrIsJournal()
{
	const char *stream = std::getenv("JOURNAL_STREAM");
	struct stat st = {};
	unsigned long long dev = 0, ino = 0;

	if (!stream || std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2 ||
	    ::fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

std::string logLine(vhost::LogLevel level, std::string_view message, bool journal)
{
	bool loud = level <= vhost::LogLevel::Warning;

	if (journal)
		return fmt::format("<{}>{}{}{}\n", static_cast<int>(level),
				   loud ? vhost::logLevelName(level) : "", loud ? ": " : "",
				   message);
	return fmt::format("vhostctl serve: {}{}{}\n", loud ? vhost::logLevelName(level) : "",
			   loud ? ": " : "", message);
}

std::filesystem::path runtimeDir()
{
	const char *dir = std::getenv("VHOSTCTL_RUNTIME_DIR");

	return dir && *dir ? std::filesystem::path(dir) : std::filesystem::path("/run/vhostctl");
}

std::filesystem::path recordPath(pid_t pid)
{
	return runtimeDir() / fmt::format("serve.{}.json", pid);
}

std::optional<Json> readRecord(pid_t pid)
{
	std::ifstream in(recordPath(pid));

	if (!in)
		return std::nullopt;
	try {
		Json j = Json::parse(in);
		/* A record left by a process that died with the same pid is not this one's. */
		if (!j.is_object() || j.value("pid", 0) != pid)
			return std::nullopt;
		return j;
	} catch (const Json::exception &) {
		return std::nullopt;
	}
}

Record::Record(vhost::Logger log) : log_(std::move(log)), path_(recordPath(::getpid())) {}

Record::~Record()
{
	std::error_code ec;

	if (written_)
		std::filesystem::remove(path_, ec);
}

void Record::write(const Json &record)
{
	if (failed_)
		return;
	std::error_code ec;
	auto tmp = path_;
	tmp += ".new";

	std::filesystem::create_directories(path_.parent_path(), ec);
	if (!ec) {
		std::ofstream out(tmp, std::ios::trunc);
		out << record.dump(2) << '\n';
		out.close();
		if (!out)
			ec = std::make_error_code(std::errc::io_error);
	}
	if (!ec)
		std::filesystem::rename(tmp, path_, ec);
	if (ec) {
		std::string why = ec.message();
		std::filesystem::remove(tmp, ec);
		failed_ = true;
		if (log_)
			log_(vhost::LogLevel::Info,
			     fmt::format("no state record in {}: {}; dev show will not know this "
					 "socket",
					 path_.parent_path().string(), why));
		return;
	}
	written_ = true;
}

} // namespace vhostctl::service

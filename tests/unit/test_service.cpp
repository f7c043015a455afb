// SPDX-License-Identifier: GPL-2.0
/*
 * What vhostctl serve agrees on with a service manager: the socket passed
 * by systemd (LISTEN_PID, LISTEN_FDS), readiness on NOTIFY_SOCKET, log
 * lines with their syslog level on the journal, and the record of what it
 * serves that dev show reads.
 */
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdlib>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.hpp"
#include "service.hpp"
#include "test_util.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/unique_fd.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace vhostctl;

namespace {

void setenvs(std::initializer_list<std::pair<const char *, std::string>> vars)
{
	for (const auto &[k, v] : vars)
		::setenv(k, v.c_str(), 1);
}

/* A datagram socket bound at @name (a path, or '@' for the abstract namespace). */
vhost::UniqueFd datagramAt(const std::string &name)
{
	vhost::UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	struct sockaddr_un addr = {};
	addr.sun_family = AF_UNIX;
	std::memcpy(addr.sun_path, name.data(), name.size());
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + name.size());
	REQUIRE(::bind(s.get(), reinterpret_cast<struct sockaddr *>(&addr), len) == 0);
	return s;
}

std::string receive(int sock)
{
	char buf[512];
	ssize_t n = ::recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
	return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

} // namespace

TEST_CASE("the socket systemd passes is taken once, and only by its process", "[service]")
{
	setenvs({{"LISTEN_PID", std::to_string(::getpid())},
		 {"LISTEN_FDS", "1"},
		 {"LISTEN_FDNAMES", "vm1"}});
	CHECK(service::listenFd() == 3);
	/* The variables are gone: a child would not take descriptor 3 for its own. */
	CHECK_FALSE(std::getenv("LISTEN_PID"));
	CHECK_FALSE(std::getenv("LISTEN_FDS"));
	CHECK_FALSE(std::getenv("LISTEN_FDNAMES"));
	CHECK_FALSE(service::listenFd());

	/* Meant for another process (the environment was inherited). */
	setenvs({{"LISTEN_PID", std::to_string(::getpid() + 1)}, {"LISTEN_FDS", "1"}});
	CHECK_FALSE(service::listenFd());
	setenvs({{"LISTEN_PID", std::to_string(::getpid())}, {"LISTEN_FDS", "0"}});
	CHECK_FALSE(service::listenFd());
	setenvs({{"LISTEN_PID", "x"}, {"LISTEN_FDS", "1"}});
	CHECK_FALSE(service::listenFd());
	/* Two sockets: serve serves one. */
	setenvs({{"LISTEN_PID", std::to_string(::getpid())}, {"LISTEN_FDS", "2"}});
	CHECK_THROWS_AS(service::listenFd(), vhostctl::UsageError);
}

TEST_CASE("readiness goes to NOTIFY_SOCKET, a path or an abstract name", "[service]")
{
	TempDir dir;

	::unsetenv("NOTIFY_SOCKET");
	CHECK_FALSE(service::notify("READY=1"));

	std::string path = (dir.path / "notify").string();
	auto s = datagramAt(path);
	::setenv("NOTIFY_SOCKET", path.c_str(), 1);
	CHECK(service::notify("READY=1\nSTATUS=serving /srv/vm1.img"));
	CHECK(receive(s.get()) == "READY=1\nSTATUS=serving /srv/vm1.img");

	std::string abstract = fmt::format("@vhostctl-test-{}", ::getpid());
	auto a = datagramAt(abstract);
	::setenv("NOTIFY_SOCKET", abstract.c_str(), 1);
	CHECK(service::notify("STOPPING=1"));
	CHECK(receive(a.get()) == "STOPPING=1");

	::setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_THROWS_AS(service::notify("READY=1"), vhost::Error);
	::setenv("NOTIFY_SOCKET", (dir.path / "nobody").c_str(), 1);
	CHECK_THROWS_AS(service::notify("READY=1"), vhost::Error);
	::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("log lines: the level for the journal, the tool's name on a terminal", "[service]")
{
	using vhost::LogLevel;

	CHECK(service::logLine(LogLevel::Warning, "refused", true) == "<4>warning: refused\n");
	CHECK(service::logLine(LogLevel::Info, "memory table: 1 regions", true) ==
	      "<6>memory table: 1 regions\n");
	CHECK(service::logLine(LogLevel::Error, "closing", false) ==
	      "vhostctl serve: error: closing\n");
	CHECK(service::logLine(LogLevel::Notice, "connection 1", false) ==
	      "vhostctl serve: connection 1\n");

	/* The journal's stream is stderr's own device and inode. */
	::setenv("JOURNAL_STREAM", "1:2", 1);
	CHECK_FALSE(service::stderrIsJournal());
	struct stat st = {};
	REQUIRE(::fstat(STDERR_FILENO, &st) == 0);
	::setenv("JOURNAL_STREAM", fmt::format("{}:{}", st.st_dev, st.st_ino).c_str(), 1);
	CHECK(service::stderrIsJournal());
	::unsetenv("JOURNAL_STREAM");
	CHECK_FALSE(service::stderrIsJournal());
}

TEST_CASE("serve's record: written whole, read by pid, removed at the end", "[service]")
{
	TempDir dir;
	test::RuntimeDir runtime(dir.path / "run");
	auto path = service::recordPath(::getpid());
	CHECK(path == dir.path / "run" / fmt::format("serve.{}.json", ::getpid()));

	{
		service::Record rec(nullptr);
		rec.write({{"pid", ::getpid()}, {"socket", "/run/x.sock"}});
		auto r = service::readRecord(::getpid());
		REQUIRE(r);
		CHECK((*r)["socket"] == "/run/x.sock");
		rec.write({{"pid", ::getpid()}, {"socket", "/run/y.sock"}});
		CHECK((*service::readRecord(::getpid()))["socket"] == "/run/y.sock");
		CHECK_FALSE(std::filesystem::exists(path.string() + ".new"));
	}
	CHECK_FALSE(std::filesystem::exists(path));
	CHECK_FALSE(service::readRecord(::getpid()));

	/* A record another process left under this pid is not this one's. */
	std::ofstream(path) << Json{{"pid", ::getpid() + 1}}.dump();
	CHECK_FALSE(service::readRecord(::getpid()));
	std::ofstream(path) << "not json";
	CHECK_FALSE(service::readRecord(::getpid()));

	/* A directory that cannot be made: said once, serve goes on. */
	test::RuntimeDir nowhere("/proc/no-such-dir");
	LogCapture log;
	service::Record rec(log.logger());
	rec.write({{"pid", ::getpid()}});
	rec.write({{"pid", ::getpid()}});
	CHECK(log.has("no state record in /proc/no-such-dir"));
	std::string lines = log.str();
	CHECK(std::count(lines.begin(), lines.end(), '\n') == 1);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl serve: a vhost-user-blk backend on a unix socket that bridges to
 * /dev/vhost-blk.  An unmodified QEMU (-device vhost-user-blk-pci) connects;
 * this process maps the guest memory, owns one kernel device per connection
 * and hands it the rings and eventfds, so that every request is served in
 * the kernel.  One connection at a time; SIGINT or SIGTERM end it cleanly;
 * SIGHUP has it look at the backend's size now.
 *
 * As a service: the socket may come from systemd (LISTEN_FDS) or another
 * manager (--fd), readiness goes to NOTIFY_SOCKET, the options may come from
 * a file (--config), and what it serves is recorded for "dev show".
 */
#include "serve.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <linux/virtio_config.h>

#include "service.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/signal_fd.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/vhost_user.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace vhostctl::serve {

namespace {

bool allDigits(const std::string &s)
{
	return !s.empty() &&
	       std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/* A user by name or number. */
uid_t lookupUser(const std::string &name)
{
	if (allDigits(name))
		return parseU32(name, "user id");
	std::vector<char> buf(16384);
	struct passwd pw, *found = nullptr;
	if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) || !found)
		throw UsageError(fmt::format("serve: no user '{}'", name));
	return found->pw_uid;
}

/* A group by name or number. */
gid_t lookupGroup(const std::string &name)
{
	if (allDigits(name))
		return parseU32(name, "group id");
	std::vector<char> buf(16384);
	struct group gr, *found = nullptr;
	if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) || !found)
		throw UsageError(fmt::format("serve: no group '{}'", name));
	return found->gr_gid;
}

/* What the command line holds before it is checked. */
struct Given {
	ServeOptions o;
	std::string workers = "single", serial, mode, group;
	std::vector<std::string> users, groups;
	std::optional<int> fd;
};

std::unique_ptr<CLI::App> makeApp(Given &g)
{
	auto app = std::make_unique<CLI::App>("vhostctl serve");
	ServeOptions &o = g.o;

	app->set_config("--config", "", "read options from FILE: one 'option = value' a line")
		->type_name("FILE");
	app->add_option("--socket", o.socket, "the unix socket to listen on")->type_name("PATH");
	app->add_option("--fd", g.fd, "a listening socket passed by a service manager")
		->type_name("N")
		->check(CLI::Range(0, 65535));
	app->add_option("--backend", o.backend, "block device or file to serve")
		->type_name("PATH")
		->required();
	app->add_option("--queues", o.queues, "virtqueues offered (GET_QUEUE_NUM, default 1)")
		->type_name("N")
		->check(CLI::Range(1u, static_cast<unsigned int>(vhost::user::vringIndexMask + 1)));
	app->add_option("--workers", g.workers,
			"worker layout: single (default), per-vq, auto or a number")
		->type_name("L");
	app->add_option("--busy-poll", o.busyPoll,
			"microseconds a worker polls an empty ring (default 0)")
		->type_name("US")
		->check(CLI::Range(0u, 1000000u));
	app->add_flag("--read-only", o.readOnly, "open the backend read-only, offer RO");
	app->add_flag("--packed", o.packed,
		      "offer packed virtqueues when the module does (a reconnect after serve "
		      "dies cannot recover them)");
	app->add_option("--serial", g.serial, "the serial GET_ID returns (at most 20 bytes)")
		->type_name("S");
	app->add_option("--device", o.device, "the vhost-blk device node (default /dev/vhost-blk)")
		->type_name("PATH");
	app->add_option("--socket-mode", g.mode, "the socket file's mode, octal (default 0600)")
		->type_name("MODE");
	app->add_option("--socket-group", g.group,
			"the socket file's group, whose members may connect")
		->type_name("GROUP");
	app->add_option("--allow-user", g.users,
			"a user who may connect, besides root and serve's own (repeatable)")
		->type_name("USER");
	app->add_option("--allow-group", g.groups, "a group whose members may connect (repeatable)")
		->type_name("GROUP");
	app->add_option("--size-check", o.sizeCheck,
			"seconds between checks of the backend's size (default 1; 0: on SIGHUP "
			"only)")
		->type_name("S")
		->check(CLI::Range(0.0, 86400.0));
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static Given unused;
	return makeApp(unused);
}

/* The record "dev show" reads: what this process serves, and how. */
Json record(const ServeOptions &o, const vhost::UnixListener &listener, bool activated,
	    const virtio::blk::Limits &l)
{
	Json j = Json::object();

	j["pid"] = ::getpid();
	j["socket"] = listener.path().empty() ? Json() : Json(listener.path());
	j["socket_activated"] = activated;
	j["backend"] = o.backend;
	j["read_only"] = o.readOnly;
	j["serial"] = o.serial ? Json(*o.serial) : Json();
	j["queues"] = o.queues;
	j["workers"] = o.workers.text();
	j["busy_poll_us"] = o.busyPoll;
	j["limits"] = {{"capacity", l.capacity},
		       {"size_max", l.sizeMax},
		       {"seg_max", l.segMax},
		       {"max_discard_sectors", l.maxDiscardSectors},
		       {"max_discard_seg", l.maxDiscardSeg},
		       {"max_write_zeroes_sectors", l.maxWriteZeroesSectors},
		       {"max_write_zeroes_seg", l.maxWriteZeroesSeg}};
	return j;
}

/* serve [ --socket PATH | --fd N ] --backend PATH [ OPTIONS ] */
int serveCommand(Context &ctx, const Args &args)
{
	ServeOptions o = parseOptions(args);
	bool journal = service::stderrIsJournal();
	std::ostream &err = ctx.err;
	vhost::Logger log = [&err, journal](vhost::LogLevel level, std::string_view line) {
		err << service::logLine(level, line, journal);
		err.flush();
	};

	/* 1. The socket: passed by systemd or another manager, or bound here. */
	std::optional<int> passed = service::listenFd();
	if (passed && o.fd)
		throw UsageError("serve: --fd, and a socket passed by systemd (LISTEN_FDS)");
	if (!passed)
		passed = o.fd;
	if (!passed && o.socket.empty())
		throw UsageError("serve: a socket is needed: --socket PATH, --fd N, or one passed "
				 "by systemd");

	/* 2. The backend, opened once; every connection's device gets it. */
	int flags = (o.readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	vhost::UniqueFd backend(::open(o.backend.c_str(), flags));
	if (!backend)
		vhost::throwErrno("open backend {}", o.backend);
	virtio::blk::Geometry geometry = virtio::blk::probeGeometry(backend.get(), o.backend);
	if (geometry.bytes < virtio::blk::sectorSize)
		throw vhost::Error(EINVAL, fmt::format("backend {}: {} bytes, less than a sector",
						       o.backend, geometry.bytes));

	/* 3. The module, now, so that a missing one fails here rather than per connection. */
	uint64_t kernelFeatures = vhost::BlkDevice::open(o.device).features();

	vhost::SignalFd stop({SIGINT, SIGTERM});
	vhost::SignalFd refresh({SIGHUP});
	vhost::UnixListener listener = passed ? vhost::UnixListener::adopt(vhost::UniqueFd(*passed))
					      : vhost::UnixListener::bind(o.socket, o.permissions);
	if (passed) {
		if (o.permissionsGiven && !listener.path().empty())
			vhost::applyPermissions(listener.path(), o.permissions);
		if (!o.socket.empty() && o.socket != listener.path())
			log(vhost::LogLevel::Warning,
			    fmt::format("the socket passed is {}, not {}: serving it",
					listener.path().empty() ? "unnamed" : listener.path(),
					o.socket));
	}

	/* 4. What it serves, recorded, and recorded again when the size changes. */
	service::Record rec(log);
	virtio::blk::ConfigParams params;
	params.features = vhost::user::offeredFeatures(kernelFeatures, o.readOnly, o.packed);
	params.queues = o.queues;
	auto recordGeometry = [&](const virtio::blk::Geometry &g) {
		params.geometry = g;
		rec.write(record(o, listener, passed.has_value(), virtio::blk::limitsOf(params)));
	};
	recordGeometry(geometry);

	vhost::user::ServerOptions so;
	so.access = o.access;
	so.refreshFd = refresh.fd();
	vhost::user::BackendOptions &bo = so.backend;
	bo.backendFd = backend.get();
	bo.geometry = geometry;
	bo.probe = [&, fd = backend.get()] {
		virtio::blk::Geometry g = virtio::blk::probeGeometry(fd, o.backend);
		if (g.bytes != params.geometry.bytes)
			recordGeometry(g);
		return g;
	};
	bo.checkInterval = std::chrono::milliseconds(static_cast<int64_t>(o.sizeCheck * 1000));
	bo.queues = o.queues;
	bo.readOnly = o.readOnly;
	bo.packed = o.packed;
	bo.serial = o.serial;
	bo.workers = o.workers;
	/* --workers auto decides from the module's counters of serve's device. */
	if (o.workers.kind == vhost::WorkerLayout::Auto)
		bo.layoutSample = [&ctx, &o, dev = std::optional<uint32_t>()]() mutable {
			return run::layoutSample(ctx, o.queues, dev);
		};
	if (o.busyPoll)
		bo.busyPoll = o.busyPoll;
	bo.log = log;
	auto factory = [&o]() -> std::unique_ptr<vhost::BlkTransport> {
		return std::make_unique<vhost::KernelTransport>(vhost::BlkDevice::open(o.device));
	};

	/* 5. Ready: serve connections until a signal. */
	std::string where =
		listener.path().empty() ? fmt::format("fd {}", listener.fd()) : listener.path();
	log(vhost::LogLevel::Notice,
	    fmt::format("{} ({} bytes{}) on {}{}, {} queues, workers {}", o.backend, geometry.bytes,
			o.readOnly ? ", read-only" : "", where,
			passed ? " (passed by the service manager)" : "", o.queues,
			o.workers.text()));
	log(vhost::LogLevel::Info, fmt::format("{} may connect", o.access.text()));
	if (o.packed)
		log(vhost::LogLevel::Info,
		    kernelFeatures & (1ULL << VIRTIO_F_RING_PACKED)
			    ? "packed virtqueues offered: a frontend that reconnects after serve "
			      "dies cannot recover them"
			    : "--packed: the module does not offer packed virtqueues");
	service::notify(fmt::format("READY=1\nSTATUS=serving {} on {}", o.backend, where));
	unsigned int n = vhost::user::serveConnections(listener.fd(), stop.fd(), factory, so);
	service::notify("STOPPING=1");
	log(vhost::LogLevel::Notice, fmt::format("stopped after {} connections", n));
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"",
	 "",
	 serveCommand,
	 "serve a vhost-user-blk socket, every request in /dev/vhost-blk",
	 {},
	 helpApp},
}};

} // namespace

ServeOptions parseOptions(const Args &args)
{
	Given g;
	ServeOptions &o = g.o;

	vhostctl::parseOptions(*makeApp(g), args, "serve");
	o.fd = g.fd;
	o.workers = run::parseLayout(g.workers, "serve");
	if (!g.serial.empty()) {
		if (g.serial.size() > vhost::BlkDevice::serialBytes)
			throw UsageError(fmt::format("serve: --serial '{}' is longer than {} bytes",
						     g.serial, vhost::BlkDevice::serialBytes));
		o.serial = g.serial;
	}
	o.permissions.mode = 0600;
	if (!g.mode.empty()) {
		unsigned int m = 0;
		auto [end, ec] =
			std::from_chars(g.mode.data(), g.mode.data() + g.mode.size(), m, 8);
		if (ec != std::errc() || end != g.mode.data() + g.mode.size() || m > 07777)
			throw UsageError(fmt::format(
				"serve: --socket-mode '{}' is not an octal mode", g.mode));
		o.permissions.mode = static_cast<mode_t>(m);
		o.permissionsGiven = true;
	}
	if (!g.group.empty()) {
		o.permissions.group = lookupGroup(g.group);
		o.access.groups.push_back(*o.permissions.group);
		o.permissionsGiven = true;
	}
	for (const auto &u : g.users)
		o.access.users.push_back(lookupUser(u));
	for (const auto &gr : g.groups)
		o.access.groups.push_back(lookupGroup(gr));
	return o;
}

} // namespace vhostctl::serve

namespace vhostctl {

constinit const Object serveObject = {
	"serve",
	serve::commands,
	"a vhost-user-blk backend (for QEMU's vhost-user-blk-pci) whose data path is "
	"/dev/vhost-blk",
	true,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl serve: a vhost-user-blk backend on a unix socket that bridges to
 * /dev/vhost-blk.  An unmodified QEMU (-device vhost-user-blk-pci) connects;
 * this process maps the guest memory, owns one kernel device per connection
 * and hands it the rings and eventfds, so that every request is served in
 * the kernel.  One connection at a time; SIGINT or SIGTERM end it cleanly.
 */
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

#include "run.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/signal_fd.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/vhost_user.hpp"
#include "vhostctl/vhost_user_backend.hpp"

namespace vhostctl::serve {

namespace {

struct ServeOptions {
	std::string socket;
	std::string backend;
	std::string device = vhost::BlkDevice::defaultPath;
	unsigned int queues = 1;
	vhost::WorkerLayout workers;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every vq: vhost-user cannot say it. */
	unsigned int busyPoll = 0;
	bool readOnly = false;
	std::optional<std::string> serial;
	vhost::SocketPermissions permissions;
	vhost::AccessPolicy access = vhost::AccessPolicy::ownerOnly();
};

/* A user by name or number. */
uid_t lookupUser(const std::string &name)
{
	if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit))
		return parseU32(name, "user id");
	std::vector<char> buf(16384);
	struct passwd pw, *found = nullptr;
	int err = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
	if (err || !found)
		throw UsageError(fmt::format("serve: no user '{}'", name));
	return found->pw_uid;
}

/* A group by name or number. */
gid_t lookupGroup(const std::string &name)
{
	if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit))
		return parseU32(name, "group id");
	std::vector<char> buf(16384);
	struct group gr, *found = nullptr;
	int err = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
	if (err || !found)
		throw UsageError(fmt::format("serve: no group '{}'", name));
	return found->gr_gid;
}

ServeOptions parseOptions(const Args &args)
{
	ServeOptions o;
	std::string workers = "single", serial;
	CLI::App app("vhostctl serve");

	app.set_help_flag();
	app.add_option("--socket", o.socket, "the unix socket to listen on")->required();
	app.add_option("--backend", o.backend, "block device or file to serve")->required();
	app.add_option("--queues", o.queues, "virtqueues offered (GET_QUEUE_NUM)")
		->check(CLI::Range(1u, static_cast<unsigned int>(vhost::user::vringIndexMask + 1)));
	app.add_option("--workers", workers, "single, per-vq or a number of workers");
	app.add_option("--busy-poll", o.busyPoll,
		       "microseconds a worker polls an empty ring (default 0)")
		->check(CLI::Range(0u, 1000000u));
	app.add_flag("--read-only", o.readOnly, "open the backend read-only, offer RO");
	auto *serialOpt = app.add_option("--serial", serial, "the serial GET_ID returns");
	app.add_option("--device", o.device, "the vhost-blk device node");
	std::string mode, group;
	std::vector<std::string> users, groups;
	app.add_option("--socket-mode", mode, "the socket file's mode, in octal (default 0600)");
	app.add_option("--socket-group", group,
		       "the socket file's group, whose members may connect");
	app.add_option("--allow-user", users, "a user who may connect (root and the owner may)");
	app.add_option("--allow-group", groups, "a group whose members may connect");

	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::ParseError &e) {
		throw UsageError(fmt::format("serve: {}", e.what()));
	}
	o.workers = run::parseLayout(workers, "serve");
	o.permissions.mode = 0600;
	if (!mode.empty()) {
		unsigned int m = 0;
		auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), m, 8);
		if (ec != std::errc() || end != mode.data() + mode.size() || m > 07777)
			throw UsageError(fmt::format(
				"serve: --socket-mode '{}' is not an octal mode", mode));
		o.permissions.mode = static_cast<mode_t>(m);
	}
	if (!group.empty()) {
		o.permissions.group = lookupGroup(group);
		o.access.groups.push_back(*o.permissions.group);
	}
	for (const auto &u : users)
		o.access.users.push_back(lookupUser(u));
	for (const auto &g : groups)
		o.access.groups.push_back(lookupGroup(g));
	if (serialOpt->count()) {
		if (serial.size() > vhost::BlkDevice::serialBytes)
			throw UsageError(fmt::format("serve: --serial '{}' is longer than {} bytes",
						     serial, vhost::BlkDevice::serialBytes));
		o.serial = serial;
	}
	return o;
}

/* serve --socket PATH --backend PATH [ --queues N ] [ --workers L ] ... */
int serveCommand(Context &ctx, const Args &args)
{
	ServeOptions o = parseOptions(args);

	/* The backend is opened once; every connection's device gets it. */
	int flags = (o.readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	vhost::UniqueFd backend(::open(o.backend.c_str(), flags));
	if (!backend)
		vhost::throwErrno("open backend {}", o.backend);

	vhost::user::ServerOptions so;
	so.access = o.access;
	vhost::user::BackendOptions &bo = so.backend;
	bo.backendFd = backend.get();
	bo.geometry = virtio::blk::probeGeometry(backend.get(), o.backend);
	bo.queues = o.queues;
	bo.readOnly = o.readOnly;
	bo.serial = o.serial;
	bo.workers = o.workers;
	if (o.busyPoll)
		bo.busyPoll = o.busyPoll;
	std::ostream &err = ctx.err;
	auto log = [&err](vhost::LogLevel level, std::string_view line) {
		if (level <= vhost::LogLevel::Warning)
			err << fmt::format("vhostctl serve: {}: {}\n", vhost::logLevelName(level),
					   line);
		else
			err << fmt::format("vhostctl serve: {}\n", line);
		err.flush();
	};
	bo.log = log;
	if (bo.geometry.bytes < virtio::blk::sectorSize)
		throw vhost::Error(EINVAL, fmt::format("backend {}: {} bytes, less than a sector",
						       o.backend, bo.geometry.bytes));

	/* Probe now, so that a missing module fails here rather than per connection. */
	vhost::BlkDevice::open(o.device);

	auto factory = [&o]() -> std::unique_ptr<vhost::BlkTransport> {
		return std::make_unique<vhost::KernelTransport>(vhost::BlkDevice::open(o.device));
	};

	vhost::SignalFd signals({SIGINT, SIGTERM});
	/* Its file goes when serve does, if it is still serve's own. */
	vhost::UnixListener listener = vhost::UnixListener::bind(o.socket, o.permissions);
	log(vhost::LogLevel::Notice,
	    fmt::format("{} ({} bytes{}) on {}, {} queues, workers {}", o.backend,
			bo.geometry.bytes, o.readOnly ? ", read-only" : "", o.socket, o.queues,
			o.workers.text()));
	log(vhost::LogLevel::Info, fmt::format("{} may connect", o.access.text()));
	unsigned int n = vhost::user::serveConnections(listener.fd(), signals.fd(), factory, so);
	log(vhost::LogLevel::Notice, fmt::format("stopped after {} connections", n));
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"", "", serveCommand,
	 "--socket PATH --backend PATH [ --queues N ]\n"
	 "          [ --workers single|per-vq|N ] [ --busy-poll US ] [ --read-only ]\n"
	 "          [ --serial S ] [ --device PATH ]",
	 "serve a vhost-user-blk socket, every request in /dev/vhost-blk"},
}};

} // namespace

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

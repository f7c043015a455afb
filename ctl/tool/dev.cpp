// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl dev: the devices /dev/vhost-blk serves, one per open file; one
 * of them in detail, with its workers and virtqueues; and the resize of a
 * device vhostctl serve owns.
 */
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "cli.hpp"
#include "records.hpp"
#include "service.hpp"
#include "vhostctl/blk_config.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/unique_fd.hpp"

namespace vhostctl {

namespace {

std::optional<uint64_t> opt(const std::optional<uint32_t> &v)
{
	if (v)
		return *v;
	return std::nullopt;
}

/* The fields every listing of a device has. */
void deviceFields(Record &r, const nl::DevInfo &d)
{
	r.u64("id", d.id)
		.optU64("owner_pid", opt(d.ownerPid))
		.optU64("owner_tid", opt(d.ownerTid))
		.optU64("owner_uid", opt(d.ownerUid))
		.optStr("backend", d.backend);
	if (d.backendSize)
		r.field("backend_size", *d.backendSize, formatBytes(*d.backendSize), true);
	else
		r.optU64("backend_size", std::nullopt);
	r.hex("features", d.features)
		.u64("num_vqs", d.numVqs)
		.u64("num_workers", d.numWorkers)
		.str("worker_mode", nl::workerModeName(d.workerMode));
}

/* The name of process @pid (/proc/PID/comm), if it can be read. */
std::optional<std::string> processName(uint32_t pid)
{
	std::ifstream in(fmt::format("/proc/{}/comm", pid));
	std::string comm;

	if (!std::getline(in, comm))
		return std::nullopt;
	return comm;
}

/* "capacity 131072 seg_max 126 ...": the limits, for people. */
std::string limitsText(const Json &limits)
{
	std::string out;

	for (auto it = limits.begin(); it != limits.end(); ++it)
		out += fmt::format("{}{} {}", out.empty() ? "" : " ", it.key(), it.value().dump());
	return out;
}

/* The limits in force, as the module reports them; none from an older module. */
std::optional<Json> kernelLimits(const nl::DevInfo &d)
{
	if (!d.capacity)
		return std::nullopt;
	return Json{{"capacity", *d.capacity},
		    {"size_max", d.sizeMax.value_or(0)},
		    {"seg_max", d.segMax.value_or(0)},
		    {"max_discard_sectors", d.maxDiscardSectors.value_or(0)},
		    {"max_discard_seg", d.maxDiscardSeg.value_or(0)},
		    {"max_write_zeroes_sectors", d.maxWriteZeroesSectors.value_or(0)},
		    {"max_write_zeroes_seg", d.maxWriteZeroesSeg.value_or(0)}};
}

/*
 * One device in detail: its fields, the owner's name, the serial, read-only
 * and limits in force (as the module reports them, or as vhostctl serve
 * recorded them for a module that does not), the socket vhostctl serve
 * serves it on when it owns it; then its workers and virtqueues.
 */
void showDevice(Context &ctx, const nl::DevInfo &d)
{
	Record r;
	std::optional<Json> served;

	deviceFields(r, d);
	if (d.ownerPid) {
		r.optStr("owner_comm", processName(*d.ownerPid));
		served = service::readRecord(static_cast<pid_t>(*d.ownerPid));
	} else {
		r.optStr("owner_comm", std::nullopt);
	}
	auto value = [&served](const char *key) -> Json {
		return served && served->contains(key) ? (*served)[key] : Json();
	};
	Json serial = value("serial"), readOnly = value("read_only");
	Json limits = value("limits"), socket = value("socket");
	/* The module's word first: it is what the guest gets. */
	if (d.serial)
		serial = d.serial->empty() ? Json() : Json(*d.serial);
	if (d.readOnly)
		readOnly = *d.readOnly;
	if (auto l = kernelLimits(d))
		limits = *l;
	r.field("serial", serial, serial.is_string() ? serial.get<std::string>() : "-")
		.field("read_only", readOnly,
		       readOnly.is_boolean() ? (readOnly.get<bool>() ? "yes" : "no") : "-")
		.field("limits", limits, limits.is_object() ? limitsText(limits) : "-")
		.field("socket", socket, socket.is_string() ? socket.get<std::string>() : "-");

	Table workers, vqs;
	for (const auto &w : ctx.state().workers(d.id))
		addWorker(workers, w);
	for (const auto &v : ctx.state().vqs(d.id))
		addVq(vqs, v);

	if (ctx.opts.json) {
		Json j = r.json();
		j["workers"] = workers.json();
		j["vqs"] = vqs.json();
		printJson(ctx.out, j, ctx.opts);
		return;
	}
	printFields(ctx.out, r);
	ctx.out << "\nworkers:\n";
	workers.printText(ctx.out);
	ctx.out << "\nvqs:\n";
	vqs.printText(ctx.out);
}

constexpr std::array<Keyword, 1> showKeywords = {{
	{"dev", "ID", "this device alone, in detail", false, true},
}};

/* dev show [ [dev] ID ] */
int show(Context &ctx, const Args &args)
{
	auto id = parseKeywords(args, showKeywords, "dev show").u32("dev", "device id");

	if (id) {
		showDevice(ctx, requireDevice(ctx, *id));
		return exitOk;
	}
	Table t;
	for (const auto &d : ctx.state().devices())
		deviceFields(t.add(), d);
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

/* Grow regular file @path to @bytes; never shrink it. */
void growFile(const std::string &path, uint64_t bytes)
{
	vhost::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
	struct stat st = {};

	if (!fd)
		vhost::throwErrno("open backend {}", path);
	if (::fstat(fd.get(), &st) < 0)
		vhost::throwErrno("stat {}", path);
	if (!S_ISREG(st.st_mode))
		throw UsageError(fmt::format("dev resize: {} is not a regular file: grow the block "
					     "device itself, then run dev resize without size",
					     path));
	if (bytes < static_cast<uint64_t>(st.st_size))
		throw UsageError(fmt::format("dev resize: {} has {} bytes: a resize only grows it",
					     path, st.st_size));
	if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) < 0)
		vhost::throwErrno("grow {} to {} bytes", path, bytes);
}

constexpr std::array<Keyword, 2> resizeKeywords = {{
	{"dev", "ID", "a device vhostctl serve owns", true, true},
	{"size", "SIZE", "grow its backend file to this size first (96M, 2G)"},
}};

/*
 * dev resize [dev] ID [ size SIZE ]: have the serve process that owns the
 * device look at its backend's size now (SIGHUP), after growing the file
 * to SIZE if given, and wait until it serves the new capacity.
 */
int resize(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, resizeKeywords, "dev resize");
	std::optional<uint64_t> size;
	if (auto s = a.get("size"))
		size = parseSize(*s, "size");
	uint32_t id = *a.u32("dev", "device id");
	nl::DevInfo d = requireDevice(ctx, id);

	std::optional<Json> served;
	if (d.ownerPid)
		served = service::readRecord(static_cast<pid_t>(*d.ownerPid));
	if (!served)
		throw vhost::Error(
			EOPNOTSUPP,
			fmt::format("device {}: its owner (pid {}) is not vhostctl serve", id,
				    d.ownerPid ? fmt::format("{}", *d.ownerPid)
					       : std::string("none")));
	auto backend = served->value("backend", std::string());
	if (size)
		growFile(backend, *size);
	auto pid = static_cast<pid_t>(*d.ownerPid);
	if (::kill(pid, SIGHUP) < 0)
		vhost::throwErrno("signal vhostctl serve (pid {})", pid);

	/*
	 * Wait until the device serves the backend's capacity: as the module
	 * reports it (serve tells it before the guest), or, from a module
	 * that does not, as serve records it.
	 */
	vhost::UniqueFd fd(::open(backend.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		vhost::throwErrno("open backend {}", backend);
	uint64_t want = virtio::blk::probeGeometry(fd.get(), backend).bytes / 512;
	uint64_t capacity = 0;
	for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);;) {
		if (d.capacity)
			capacity = requireDevice(ctx, id).capacity.value_or(0);
		else if (auto rec = service::readRecord(pid))
			capacity = (*rec)["limits"].value("capacity", uint64_t{0});
		if (capacity == want)
			break;
		if (std::chrono::steady_clock::now() > deadline)
			throw vhost::Error(ETIMEDOUT,
					   fmt::format("device {}: serve (pid {}) still serves {} "
						       "sectors, not {}",
						       id, pid, capacity, want));
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	Record r;
	r.u64("id", id).str("backend", backend).u64("capacity", capacity);
	if (ctx.opts.json)
		printRecord(ctx.out, r, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 2> commands = {{
	{"show", "list", show,
	 "list devices: owner, backend, features, workers; one in detail, with its workers, "
	 "vqs, serial, limits and socket",
	 showKeywords},
	{"resize", "", resize,
	 "have vhostctl serve, which owns the device, serve its backend's new size to the guest",
	 resizeKeywords},
}};

} // namespace

constinit const Object devObject = {
	"dev",
	commands,
	"vhost-blk devices, one per open of /dev/vhost-blk, as the netlink family reports them",
	false,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl dev: the devices /dev/vhost-blk serves, one per open file.
 */
#include <algorithm>
#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "cli.hpp"
#include "output.hpp"
#include "vhostctl/error.hpp"

namespace vhostctl {

namespace {

void addDevice(Table &t, const nl::DevInfo &d)
{
	auto opt = [](const std::optional<uint32_t> &v) -> std::optional<uint64_t> {
		if (v)
			return *v;
		return std::nullopt;
	};
	Record &r = t.add();

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

/* dev show [ [dev] ID ] */
int show(Context &ctx, const Args &args)
{
	Args rest = args;
	/* A bare id is accepted too: "dev show 3". */
	if (rest.size() == 1 && rest.front() != "dev")
		rest.insert(rest.begin(), "dev");
	ShowArgs a = parseShowArgs(rest, "dev show");

	Table t;
	for (const auto &d : ctx.state().devices()) {
		if (!a.dev || d.id == *a.dev)
			addDevice(t, d);
	}
	if (a.dev && t.empty())
		throw vhost::Error(ENODEV, fmt::format("device {}", *a.dev));
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"show", "list", show, "[ [dev] ID ]", "list devices: owner, backend, features, workers"},
}};

} // namespace

constinit const Object devObject = {
	"dev",
	commands,
	"vhost-blk devices, one per open of /dev/vhost-blk, as the netlink family reports them",
	false,
};

} // namespace vhostctl

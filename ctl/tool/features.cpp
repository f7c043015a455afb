// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl features: virtio feature masks in words, from a device's acked
 * features, a mask given on the command line, or what /dev/vhost-blk offers.
 */
#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "cli.hpp"
#include "output.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/error.hpp"
#include "vhostctl/features.hpp"

namespace vhostctl {

namespace {

std::vector<std::string> names(uint64_t mask)
{
	std::vector<std::string> out;

	for (const auto &f : vhost::decodeFeatures(mask))
		out.push_back(f.name);
	return out;
}

/* features [ show ] [ MASK | dev ID ] */
int show(Context &ctx, const Args &args)
{
	Table t;

	if (args.size() == 1 && args.front() != "dev") {
		uint64_t mask = parseU64(args.front(), "feature mask");

		t.add().hex("features", mask).strings("names", names(mask));
		t.print(ctx.out, ctx.opts);
		return exitOk;
	}

	ShowArgs a = parseShowArgs(args, "features show");
	for (const auto &d : ctx.state().devices()) {
		if (a.dev && d.id != *a.dev)
			continue;
		t.add().u64("dev_id", d.id)
			.hex("features", d.features)
			.strings("names", names(d.features));
	}
	if (a.dev && t.empty())
		throw vhost::Error(ENODEV, fmt::format("device {}", *a.dev));
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

/* features offered [ PATH ] */
int offered(Context &ctx, const Args &args)
{
	if (args.size() > 1)
		throw UsageError("features offered takes at most a device path");
	std::string path = args.empty() ? vhost::BlkDevice::defaultPath : args.front();
	uint64_t mask = vhost::Device::open(path).features();

	Table t;
	t.add().str("device", path).hex("features", mask).strings("names", names(mask));
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 2> commands = {{
	{"show", "list", show, "[ MASK | dev ID ]",
	 "name the bits of MASK, or of each device's acked features"},
	{"offered", "", offered, "[ PATH ]",
	 "name the features a vhost device offers (default /dev/vhost-blk)"},
}};

} // namespace

constinit const Object featuresObject = {
	"features",
	commands,
	"virtio feature bits by name (VERSION_1, EVENT_IDX, MQ, FLUSH, ...)",
	true,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl features: virtio feature masks in words, from a device's acked
 * features, a mask given on the command line, or what /dev/vhost-blk offers.
 */
#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "cli.hpp"
#include "records.hpp"
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

} // namespace

void addOffered(Table &t, const std::string &device, uint64_t features)
{
	t.add().str("device", device).hex("features", features).strings("names", names(features));
}

namespace {

constexpr std::array<Keyword, 2> showKeywords = {{
	{"mask", "MASK", "a feature mask, decimal or 0x hexadecimal", false, true},
	{"dev", "ID", "the features device ID acked"},
}};

/* features [ show ] [ [mask] MASK | dev ID ] */
int show(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, showKeywords, "features show");
	Table t;

	if (a.has("mask") && a.has("dev"))
		throw UsageError("features show: a mask or a device, not both");
	if (auto mask = a.get("mask")) {
		uint64_t m = parseU64(*mask, "feature mask");

		t.add().hex("features", m).strings("names", names(m));
		t.print(ctx.out, ctx.opts);
		return exitOk;
	}
	auto dev = a.u32("dev", "device id");
	for (const auto &d : ctx.state().devices()) {
		if (dev && d.id != *dev)
			continue;
		t.add().u64("dev_id", d.id)
			.hex("features", d.features)
			.strings("names", names(d.features));
	}
	if (dev && t.empty())
		throw vhost::Error(ENODEV, fmt::format("device {}", *dev));
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Keyword, 1> offeredKeywords = {{
	{"device", "PATH", "the vhost device node (default /dev/vhost-blk)", false, true},
}};

/* features offered [ [device] PATH ] */
int offered(Context &ctx, const Args &args)
{
	KeywordArgs a = parseKeywords(args, offeredKeywords, "features offered");
	std::string path = a.get("device").value_or(vhost::BlkDevice::defaultPath);
	uint64_t mask = vhost::Device::open(path).features();

	Table t;
	addOffered(t, path, mask);
	t.print(ctx.out, ctx.opts);
	return exitOk;
}

constexpr std::array<Command, 2> commands = {{
	{"show", "list", show, "name the bits of MASK, or of each device's acked features",
	 showKeywords},
	{"offered", "", offered, "name the features a vhost device offers", offeredKeywords},
}};

} // namespace

constinit const Object featuresObject = {
	"features",
	commands,
	"virtio feature bits by name (VERSION_1, EVENT_IDX, MQ, FLUSH, ...)",
	true,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/features.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

namespace vhost {

namespace {

/*
 * virtio 1.2: device-type bits 0-23 (virtio-blk, 5.2.3), transport bits
 * 24-41 (6), and vhost's VHOST_F_LOG_ALL (26).
 */
struct Name {
	unsigned int bit;
	std::string_view name;
};

constexpr std::array<Name, 32> names = {{
	{0, "BARRIER"},
	{1, "SIZE_MAX"},
	{2, "SEG_MAX"},
	{4, "GEOMETRY"},
	{5, "RO"},
	{6, "BLK_SIZE"},
	{7, "SCSI"},
	{9, "FLUSH"},
	{10, "TOPOLOGY"},
	{11, "CONFIG_WCE"},
	{12, "MQ"},
	{13, "DISCARD"},
	{14, "WRITE_ZEROES"},
	{15, "LIFETIME"},
	{16, "SECURE_ERASE"},
	{17, "ZONED"},
	{24, "NOTIFY_ON_EMPTY"},
	{26, "LOG_ALL"},
	{27, "ANY_LAYOUT"},
	{28, "INDIRECT_DESC"},
	{29, "EVENT_IDX"},
	{30, "BAD_FEATURE"},
	{32, "VERSION_1"},
	{33, "ACCESS_PLATFORM"},
	{34, "RING_PACKED"},
	{35, "IN_ORDER"},
	{36, "ORDER_PLATFORM"},
	{37, "SR_IOV"},
	{38, "NOTIFICATION_DATA"},
	{39, "NOTIF_CONFIG_DATA"},
	{40, "RING_RESET"},
	{41, "ADMIN_VQ"},
}};

} // namespace

std::optional<std::string_view> featureName(unsigned int bit)
{
	for (const auto &f : names) {
		if (f.bit == bit)
			return f.name;
	}
	return std::nullopt;
}

std::optional<unsigned int> featureBit(std::string_view name)
{
	auto upper = [](std::string_view s) {
		std::string out(s);
		std::transform(out.begin(), out.end(), out.begin(),
			       [](unsigned char c) { return std::toupper(c); });
		return out;
	};
	std::string want = upper(name);

	for (const auto &f : names) {
		if (f.name == want)
			return f.bit;
	}
	return std::nullopt;
}

std::vector<FeatureBit> decodeFeatures(uint64_t mask)
{
	std::vector<FeatureBit> bits;

	for (unsigned int bit = 0; bit < 64; bit++) {
		if (!(mask & (1ULL << bit)))
			continue;
		if (auto name = featureName(bit))
			bits.push_back({bit, std::string(*name), true});
		else
			bits.push_back({bit, fmt::format("bit {}", bit), false});
	}
	return bits;
}

std::string featureNames(uint64_t mask)
{
	std::string out;

	for (const auto &f : decodeFeatures(mask)) {
		if (!out.empty())
			out += ' ';
		out += f.name;
	}
	return out;
}

} // namespace vhost

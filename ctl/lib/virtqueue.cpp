// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/virtqueue.hpp"

namespace virtio {

std::string_view ringTypeName(RingType type) noexcept
{
	return type == RingType::Packed ? "packed" : "split";
}

std::optional<RingType> parseRingType(std::string_view name) noexcept
{
	if (name == "split")
		return RingType::Split;
	if (name == "packed")
		return RingType::Packed;
	return std::nullopt;
}

} // namespace virtio

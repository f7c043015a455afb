// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/blk_request.hpp"

#include <array>

#include "vhostctl/le.hpp"

namespace virtio::blk {

namespace {

struct TypeName {
	Type type;
	std::string_view name;
};

constexpr std::array<TypeName, 6> typeNames = {{
	{Type::In, "IN"},
	{Type::Out, "OUT"},
	{Type::Flush, "FLUSH"},
	{Type::GetId, "GET_ID"},
	{Type::Discard, "DISCARD"},
	{Type::WriteZeroes, "WRITE_ZEROES"},
}};

} // namespace

Header encodeHeader(Type type, uint64_t sector) noexcept
{
	Header h{};

	vhost::le::store<uint32_t>(h.data(), static_cast<uint32_t>(type));
	vhost::le::store<uint32_t>(h.data() + 4, 0);
	vhost::le::store<uint64_t>(h.data() + 8, sector);
	return h;
}

DecodedHeader decodeHeader(std::span<const std::byte, headerSize> bytes) noexcept
{
	return DecodedHeader{vhost::le::load<uint32_t>(bytes.data()),
			     vhost::le::load<uint32_t>(bytes.data() + 4),
			     vhost::le::load<uint64_t>(bytes.data() + 8)};
}

Segment encodeSegment(uint64_t sector, uint32_t numSectors, uint32_t flags) noexcept
{
	Segment s{};

	vhost::le::store<uint64_t>(s.data(), sector);
	vhost::le::store<uint32_t>(s.data() + 8, numSectors);
	vhost::le::store<uint32_t>(s.data() + 12, flags);
	return s;
}

bool dataDeviceWritable(Type type) noexcept
{
	return type == Type::In || type == Type::GetId;
}

std::vector<Buffer> requestChain(Type type, uint64_t headerGpa, uint64_t dataGpa, uint32_t dataLen,
				 uint64_t statusGpa)
{
	std::vector<Buffer> chain;

	chain.push_back({headerGpa, static_cast<uint32_t>(headerSize), false});
	if (dataLen)
		chain.push_back({dataGpa, dataLen, dataDeviceWritable(type)});
	chain.push_back({statusGpa, 1, true});
	return chain;
}

std::string_view typeName(Type type) noexcept
{
	for (const auto &t : typeNames) {
		if (t.type == type)
			return t.name;
	}
	return "UNKNOWN";
}

std::string_view statusName(uint8_t status) noexcept
{
	switch (status) {
	case StatusOk:
		return "OK";
	case StatusIoErr:
		return "IOERR";
	case StatusUnsupp:
		return "UNSUPP";
	}
	return "UNKNOWN";
}

std::optional<Type> typeFromName(std::string_view name) noexcept
{
	for (const auto &t : typeNames) {
		if (t.name == name)
			return t.type;
	}
	return std::nullopt;
}

} // namespace virtio::blk

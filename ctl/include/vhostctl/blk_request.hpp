// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests (virtio 1.2, section 5.2.6): the 16-byte header
 * {le32 type, le32 reserved, le64 sector}, the data, and the status byte the
 * device writes last; DISCARD and WRITE_ZEROES carry 16-byte segments
 * {le64 sector, le32 num_sectors, le32 flags}.  Pure encoding, no device.
 */
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vhostctl/virtqueue.hpp"

namespace virtio::blk {

enum class Type : uint32_t {
	In = 0,
	Out = 1,
	Flush = 4,
	GetId = 8,
	Discard = 11,
	WriteZeroes = 13,
};

enum Status : uint8_t {
	StatusOk = 0,
	StatusIoErr = 1,
	StatusUnsupp = 2,
};

inline constexpr std::size_t sectorSize = 512;
inline constexpr std::size_t headerSize = 16;
inline constexpr std::size_t segmentSize = 16;
inline constexpr std::size_t idBytes = 20;
inline constexpr uint32_t writeZeroesFlagUnmap = 1;

using Header = std::array<std::byte, headerSize>;
using Segment = std::array<std::byte, segmentSize>;

struct DecodedHeader {
	uint32_t type = 0;
	uint32_t reserved = 0;
	uint64_t sector = 0;
};

Header encodeHeader(Type type, uint64_t sector) noexcept;
DecodedHeader decodeHeader(std::span<const std::byte, headerSize> bytes) noexcept;
Segment encodeSegment(uint64_t sector, uint32_t numSectors, uint32_t flags) noexcept;

/* Does the device write the data of a request of @type (IN, GET_ID)? */
bool dataDeviceWritable(Type type) noexcept;

/*
 * The descriptor chain of a request: the header (device-readable), @dataLen
 * bytes of data unless 0, and the status byte (device-writable).
 */
std::vector<Buffer> requestChain(Type type, uint64_t headerGpa, uint64_t dataGpa, uint32_t dataLen,
				 uint64_t statusGpa);

std::string_view typeName(Type type) noexcept;
std::string_view statusName(uint8_t status) noexcept;
std::optional<Type> typeFromName(std::string_view name) noexcept;

} // namespace virtio::blk

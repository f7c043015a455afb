// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-blk config space (struct virtio_blk_config) a VMM builds from
 * its backend, as Documentation/uapi.rst asks of it: /dev/vhost-blk serves
 * requests but has no config space of its own.
 */
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "vhostctl/vhost_user.hpp"

namespace virtio::blk {

/* What the config space says about the backend. */
struct Geometry {
	uint64_t bytes = 0;
	uint32_t logicalBlock = 512;
	uint32_t physicalBlock = 512;
	/* Bytes; 0 when the backend does not say. */
	uint32_t minIo = 0;
	uint32_t optIo = 0;
};

/*
 * The geometry of open block device or regular file @fd (@path names it
 * in messages): a file has 512-byte blocks.  Throws vhost::Error.
 */
Geometry probeGeometry(int fd, const std::string &path);

struct ConfigParams {
	Geometry geometry;
	/* The device features offered: they decide which fields are valid. */
	uint64_t features = 0;
	unsigned int queues = 1;
	uint32_t segMax = 126;
	/* DISCARD and WRITE_ZEROES limits, in 512-byte sectors and segments. */
	uint32_t maxDiscardSectors = 1U << 22;
	uint32_t maxDiscardSeg = 1;
	uint32_t maxWriteZeroesSectors = 1U << 22;
	uint32_t maxWriteZeroesSeg = 1;
};

/*
 * The config space, little endian, zero past the struct: a field whose
 * feature is not offered stays 0.
 */
std::array<std::byte, vhost::user::maxConfigSize> encodeConfig(const ConfigParams &params);

/*
 * What a VMM put in the config space, which the device should enforce
 * rather than trust the guest to respect: the capacity, request limits and
 * read-only.  A field whose feature is not offered is 0.
 */
struct Limits {
	/* In 512-byte sectors. */
	uint64_t capacity = 0;
	uint32_t sizeMax = 0;
	uint32_t segMax = 0;
	uint32_t maxDiscardSectors = 0;
	uint32_t maxDiscardSeg = 0;
	uint32_t maxWriteZeroesSectors = 0;
	uint32_t maxWriteZeroesSeg = 0;
	bool readOnly = false;

	bool operator==(const Limits &) const = default;
};

/* The limits the config space of @params states. */
Limits limitsOf(const ConfigParams &params);

/* The fields of a config space a driver reads (struct virtio_blk_config). */
struct Config {
	/* In 512-byte sectors. */
	uint64_t capacity = 0;
	uint32_t sizeMax = 0;
	uint32_t segMax = 0;
	uint32_t blkSize = 0;
	uint16_t numQueues = 0;
	uint32_t maxDiscardSectors = 0;
	uint32_t maxDiscardSeg = 0;
	uint32_t maxWriteZeroesSectors = 0;
	uint32_t maxWriteZeroesSeg = 0;
};

/* Decode what @bytes (from offset 0) hold; the fields past their end stay 0. */
Config decodeConfig(std::span<const std::byte> bytes);

} // namespace virtio::blk

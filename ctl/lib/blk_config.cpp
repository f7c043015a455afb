// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/blk_config.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"
#include "vhostctl/le.hpp"

namespace virtio::blk {

namespace {

constexpr uint32_t sector = 512;

bool has(uint64_t features, unsigned int bit)
{
	return features & (1ULL << bit);
}

uint32_t blkIoctl(int fd, unsigned long request, const char *name, const std::string &path)
{
	unsigned int v = 0;

	if (::ioctl(fd, request, &v) < 0)
		vhost::throwErrno("{} {}", name, path);
	return v;
}

} // namespace

static_assert(sizeof(virtio_blk_config) <= vhost::user::maxConfigSize);

Geometry probeGeometry(int fd, const std::string &path)
{
	struct stat st = {};
	Geometry g;

	if (::fstat(fd, &st) < 0)
		vhost::throwErrno("stat {}", path);
	if (S_ISREG(st.st_mode)) {
		g.bytes = static_cast<uint64_t>(st.st_size);
		return g;
	}
	if (!S_ISBLK(st.st_mode))
		throw vhost::Error(
			EINVAL,
			fmt::format("backend {}: not a block device or regular file", path));
	if (::ioctl(fd, BLKGETSIZE64, &g.bytes) < 0)
		vhost::throwErrno("BLKGETSIZE64 {}", path);
	int logical = 0;
	if (::ioctl(fd, BLKSSZGET, &logical) < 0)
		vhost::throwErrno("BLKSSZGET {}", path);
	g.logicalBlock = static_cast<uint32_t>(logical);
	g.physicalBlock = blkIoctl(fd, BLKPBSZGET, "BLKPBSZGET", path);
	g.minIo = blkIoctl(fd, BLKIOMIN, "BLKIOMIN", path);
	g.optIo = blkIoctl(fd, BLKIOOPT, "BLKIOOPT", path);
	return g;
}

std::array<std::byte, vhost::user::maxConfigSize> encodeConfig(const ConfigParams &p)
{
	const Geometry &g = p.geometry;
	uint32_t lbs = g.logicalBlock >= sector && std::has_single_bit(g.logicalBlock)
			       ? g.logicalBlock
			       : sector;
	std::array<std::byte, vhost::user::maxConfigSize> out{};
	auto put = [&out](std::size_t at, auto v) { vhost::le::store(std::span(out), at, v); };

	put(offsetof(virtio_blk_config, capacity), uint64_t{g.bytes / sector});
	if (has(p.features, VIRTIO_BLK_F_SEG_MAX))
		put(offsetof(virtio_blk_config, seg_max), p.segMax);
	if (has(p.features, VIRTIO_BLK_F_BLK_SIZE))
		put(offsetof(virtio_blk_config, blk_size), lbs);
	if (has(p.features, VIRTIO_BLK_F_TOPOLOGY)) {
		uint32_t ratio = g.physicalBlock > lbs ? g.physicalBlock / lbs : 1;

		put(offsetof(virtio_blk_config, physical_block_exp),
		    static_cast<uint8_t>(std::countr_zero(ratio)));
		put(offsetof(virtio_blk_config, min_io_size),
		    static_cast<uint16_t>(std::min<uint32_t>(g.minIo / lbs, 0xffff)));
		put(offsetof(virtio_blk_config, opt_io_size), uint32_t{g.optIo / lbs});
	}
	if (has(p.features, VIRTIO_BLK_F_MQ))
		put(offsetof(virtio_blk_config, num_queues), static_cast<uint16_t>(p.queues));
	if (has(p.features, VIRTIO_BLK_F_DISCARD)) {
		put(offsetof(virtio_blk_config, max_discard_sectors), p.maxDiscardSectors);
		put(offsetof(virtio_blk_config, max_discard_seg), p.maxDiscardSeg);
		put(offsetof(virtio_blk_config, discard_sector_alignment), uint32_t{lbs / sector});
	}
	if (has(p.features, VIRTIO_BLK_F_WRITE_ZEROES)) {
		put(offsetof(virtio_blk_config, max_write_zeroes_sectors), p.maxWriteZeroesSectors);
		put(offsetof(virtio_blk_config, max_write_zeroes_seg), p.maxWriteZeroesSeg);
	}
	return out;
}

Limits limitsOf(const ConfigParams &p)
{
	Limits l;

	l.capacity = p.geometry.bytes / sector;
	if (has(p.features, VIRTIO_BLK_F_SEG_MAX))
		l.segMax = p.segMax;
	if (has(p.features, VIRTIO_BLK_F_DISCARD)) {
		l.maxDiscardSectors = p.maxDiscardSectors;
		l.maxDiscardSeg = p.maxDiscardSeg;
	}
	if (has(p.features, VIRTIO_BLK_F_WRITE_ZEROES)) {
		l.maxWriteZeroesSectors = p.maxWriteZeroesSectors;
		l.maxWriteZeroesSeg = p.maxWriteZeroesSeg;
	}
	l.readOnly = has(p.features, VIRTIO_BLK_F_RO);
	return l;
}

Config decodeConfig(std::span<const std::byte> bytes)
{
	Config c;
	auto get = [bytes]<typename T>(std::size_t at, T &field) {
		if (at + sizeof(T) <= bytes.size())
			field = vhost::le::load<T>(bytes, at);
	};

	get(offsetof(virtio_blk_config, capacity), c.capacity);
	get(offsetof(virtio_blk_config, size_max), c.sizeMax);
	get(offsetof(virtio_blk_config, seg_max), c.segMax);
	get(offsetof(virtio_blk_config, blk_size), c.blkSize);
	get(offsetof(virtio_blk_config, num_queues), c.numQueues);
	get(offsetof(virtio_blk_config, max_discard_sectors), c.maxDiscardSectors);
	get(offsetof(virtio_blk_config, max_discard_seg), c.maxDiscardSeg);
	get(offsetof(virtio_blk_config, max_write_zeroes_sectors), c.maxWriteZeroesSectors);
	get(offsetof(virtio_blk_config, max_write_zeroes_seg), c.maxWriteZeroesSeg);
	return c;
}

} // namespace virtio::blk

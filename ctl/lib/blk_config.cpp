// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/blk_config.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "vhostctl/error.hpp"

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
	virtio_blk_config c = {};

	c.capacity = g.bytes / sector;
	if (has(p.features, VIRTIO_BLK_F_SEG_MAX))
		c.seg_max = p.segMax;
	if (has(p.features, VIRTIO_BLK_F_BLK_SIZE))
		c.blk_size = lbs;
	if (has(p.features, VIRTIO_BLK_F_TOPOLOGY)) {
		uint32_t ratio = g.physicalBlock > lbs ? g.physicalBlock / lbs : 1;

		c.physical_block_exp = static_cast<uint8_t>(std::countr_zero(ratio));
		c.min_io_size = static_cast<uint16_t>(std::min<uint32_t>(g.minIo / lbs, 0xffff));
		c.opt_io_size = g.optIo / lbs;
	}
	if (has(p.features, VIRTIO_BLK_F_MQ))
		c.num_queues = static_cast<uint16_t>(p.queues);
	if (has(p.features, VIRTIO_BLK_F_DISCARD)) {
		c.max_discard_sectors = p.maxDiscardSectors;
		c.max_discard_seg = p.maxDiscardSeg;
		c.discard_sector_alignment = lbs / sector;
	}
	if (has(p.features, VIRTIO_BLK_F_WRITE_ZEROES)) {
		c.max_write_zeroes_sectors = p.maxWriteZeroesSectors;
		c.max_write_zeroes_seg = p.maxWriteZeroesSeg;
	}

	std::array<std::byte, vhost::user::maxConfigSize> out{};
	std::memcpy(out.data(), &c, sizeof(c));
	return out;
}

} // namespace virtio::blk

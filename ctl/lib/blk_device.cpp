// SPDX-License-Identifier: GPL-2.0
#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include <fmt/format.h>
#include <linux/vhost_blk.h>

#include "vhostctl/blk_config.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/error.hpp"

namespace vhost {

static_assert(BlkDevice::serialBytes == VHOST_BLK_SERIAL_BYTES);

BlkDevice BlkDevice::open(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));

	if (!fd)
		throwErrno("open {}", path);
	return BlkDevice(std::move(fd), path);
}

void BlkDevice::setBackend(int fd)
{
	vhost_vring_file f = {.index = 0, .fd = fd};

	ioctl(VHOST_BLK_SET_BACKEND, &f, "VHOST_BLK_SET_BACKEND", fmt::format("fd {}", fd));
}

void BlkDevice::detachBackend()
{
	vhost_vring_file f = {.index = 0, .fd = VHOST_FILE_UNBIND};

	ioctl(VHOST_BLK_SET_BACKEND, &f, "VHOST_BLK_SET_BACKEND", "detach");
}

std::string BlkDevice::serial()
{
	vhost_blk_serial s = {};

	ioctl(VHOST_BLK_GET_SERIAL, &s, "VHOST_BLK_GET_SERIAL");
	return std::string(s.serial, ::strnlen(s.serial, sizeof(s.serial)));
}

void BlkDevice::setSerial(std::string_view serial)
{
	vhost_blk_serial s = {};

	if (serial.size() > sizeof(s.serial))
		throw Error(EINVAL,
			    fmt::format("VHOST_BLK_SET_SERIAL: '{}' is longer than {} bytes",
					serial, sizeof(s.serial)));
	std::memcpy(s.serial, serial.data(), serial.size());
	ioctl(VHOST_BLK_SET_SERIAL, &s, "VHOST_BLK_SET_SERIAL");
}

void BlkDevice::setLimits(const virtio::blk::Limits &l)
{
	vhost_blk_limits k = {};

	k.capacity = l.capacity;
	k.size_max = l.sizeMax;
	k.seg_max = l.segMax;
	k.max_discard_sectors = l.maxDiscardSectors;
	k.max_discard_seg = l.maxDiscardSeg;
	k.max_write_zeroes_sectors = l.maxWriteZeroesSectors;
	k.max_write_zeroes_seg = l.maxWriteZeroesSeg;
	k.flags = l.readOnly ? VHOST_BLK_LIMITS_F_RO : 0;
	ioctl(VHOST_BLK_SET_LIMITS, &k, "VHOST_BLK_SET_LIMITS",
	      fmt::format("capacity {}{}", l.capacity, l.readOnly ? " read-only" : ""));
}

virtio::blk::Limits BlkDevice::limits()
{
	vhost_blk_limits k = {};
	virtio::blk::Limits l;

	ioctl(VHOST_BLK_GET_LIMITS, &k, "VHOST_BLK_GET_LIMITS");
	l.capacity = k.capacity;
	l.sizeMax = k.size_max;
	l.segMax = k.seg_max;
	l.maxDiscardSectors = k.max_discard_sectors;
	l.maxDiscardSeg = k.max_discard_seg;
	l.maxWriteZeroesSectors = k.max_write_zeroes_sectors;
	l.maxWriteZeroesSeg = k.max_write_zeroes_seg;
	l.readOnly = k.flags & VHOST_BLK_LIMITS_F_RO;
	return l;
}

void BlkDevice::setNworkers(int n)
{
	ioctl(VHOST_SET_NWORKERS, &n, "VHOST_SET_NWORKERS", fmt::format("{}", n));
}

} // namespace vhost

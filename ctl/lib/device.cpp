// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/device.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <vector>

#include <fmt/format.h>
#include <linux/vhost_blk.h>

#include "vhostctl/error.hpp"

namespace vhost {

Device Device::open(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));

	if (!fd)
		throwErrno("open {}", path);
	return Device(std::move(fd), path);
}

Device::Device(UniqueFd fd, std::string path) noexcept : fd_(std::move(fd)), path_(std::move(path))
{}

void Device::ioctl(unsigned long request, void *arg, std::string_view name, std::string_view detail)
{
	if (::ioctl(fd_.get(), request, arg) < 0) {
		if (detail.empty())
			throwErrno("{}", name);
		throwErrno("{} {}", name, detail);
	}
}

void Device::setOwner()
{
	ioctl(VHOST_SET_OWNER, nullptr, "VHOST_SET_OWNER");
}

void Device::resetOwner()
{
	ioctl(VHOST_RESET_OWNER, nullptr, "VHOST_RESET_OWNER");
}

WorkerMode Device::forkFromOwner()
{
	uint8_t mode = 0;

	ioctl(VHOST_GET_FORK_FROM_OWNER, &mode, "VHOST_GET_FORK_FROM_OWNER");
	return static_cast<WorkerMode>(mode);
}

void Device::setForkFromOwner(WorkerMode mode)
{
	auto m = static_cast<uint8_t>(mode);

	ioctl(VHOST_SET_FORK_FROM_OWNER, &m, "VHOST_SET_FORK_FROM_OWNER",
	      mode == WorkerMode::Task ? "task" : "kthread");
}

uint64_t Device::features()
{
	uint64_t features = 0;

	ioctl(VHOST_GET_FEATURES, &features, "VHOST_GET_FEATURES");
	return features;
}

void Device::setFeatures(uint64_t features)
{
	ioctl(VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES", fmt::format("{:#x}", features));
}

uint64_t Device::backendFeatures()
{
	uint64_t features = 0;

	ioctl(VHOST_GET_BACKEND_FEATURES, &features, "VHOST_GET_BACKEND_FEATURES");
	return features;
}

void Device::setBackendFeatures(uint64_t features)
{
	ioctl(VHOST_SET_BACKEND_FEATURES, &features, "VHOST_SET_BACKEND_FEATURES",
	      fmt::format("{:#x}", features));
}

void Device::setMemTable(std::span<const MemRegion> regions)
{
	/* struct vhost_memory ends in a flexible array: build it in u64s. */
	std::size_t bytes = sizeof(vhost_memory) + regions.size() * sizeof(vhost_memory_region);
	std::vector<uint64_t> buf((bytes + sizeof(uint64_t) - 1) / sizeof(uint64_t));
	auto *mem = reinterpret_cast<vhost_memory *>(buf.data());

	mem->nregions = static_cast<uint32_t>(regions.size());
	for (std::size_t i = 0; i < regions.size(); i++) {
		mem->regions[i].guest_phys_addr = regions[i].guestPhysAddr;
		mem->regions[i].memory_size = regions[i].size;
		mem->regions[i].userspace_addr = regions[i].userAddr;
	}
	ioctl(VHOST_SET_MEM_TABLE, mem, "VHOST_SET_MEM_TABLE",
	      fmt::format("{} regions", regions.size()));
}

void Device::setVringNum(unsigned int index, unsigned int num)
{
	vhost_vring_state s = {.index = index, .num = num};

	ioctl(VHOST_SET_VRING_NUM, &s, "VHOST_SET_VRING_NUM",
	      fmt::format("vq {} num {}", index, num));
}

void Device::setVringAddr(unsigned int index, const VringAddr &addr)
{
	vhost_vring_addr a = {
		.index = index,
		.flags = addr.flags,
		.desc_user_addr = addr.desc,
		.used_user_addr = addr.used,
		.avail_user_addr = addr.avail,
		.log_guest_addr = addr.log,
	};

	ioctl(VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR", fmt::format("vq {}", index));
}

void Device::setLogBase(uint64_t userAddr)
{
	ioctl(VHOST_SET_LOG_BASE, &userAddr, "VHOST_SET_LOG_BASE", fmt::format("{:#x}", userAddr));
}

void Device::setLogFd(int fd)
{
	ioctl(VHOST_SET_LOG_FD, &fd, "VHOST_SET_LOG_FD", fmt::format("fd {}", fd));
}

void Device::setVringBase(unsigned int index, unsigned int base)
{
	vhost_vring_state s = {.index = index, .num = base};

	ioctl(VHOST_SET_VRING_BASE, &s, "VHOST_SET_VRING_BASE",
	      fmt::format("vq {} base {}", index, base));
}

unsigned int Device::getVringBase(unsigned int index)
{
	vhost_vring_state s = {.index = index, .num = 0};

	ioctl(VHOST_GET_VRING_BASE, &s, "VHOST_GET_VRING_BASE", fmt::format("vq {}", index));
	return s.num;
}

void Device::setVringBusyloopTimeout(unsigned int index, unsigned int us)
{
	vhost_vring_state s = {.index = index, .num = us};

	ioctl(VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT",
	      fmt::format("vq {} {} us", index, us));
}

unsigned int Device::getVringBusyloopTimeout(unsigned int index)
{
	vhost_vring_state s = {.index = index, .num = 0};

	ioctl(VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s, "VHOST_GET_VRING_BUSYLOOP_TIMEOUT",
	      fmt::format("vq {}", index));
	return s.num;
}

void Device::setVringKick(unsigned int index, int fd)
{
	vhost_vring_file f = {.index = index, .fd = fd};

	ioctl(VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK",
	      fmt::format("vq {} fd {}", index, fd));
}

void Device::setVringCall(unsigned int index, int fd)
{
	vhost_vring_file f = {.index = index, .fd = fd};

	ioctl(VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL",
	      fmt::format("vq {} fd {}", index, fd));
}

void Device::setVringErr(unsigned int index, int fd)
{
	vhost_vring_file f = {.index = index, .fd = fd};

	ioctl(VHOST_SET_VRING_ERR, &f, "VHOST_SET_VRING_ERR",
	      fmt::format("vq {} fd {}", index, fd));
}

unsigned int Device::newWorker()
{
	vhost_worker_state s = {.worker_id = 0};

	ioctl(VHOST_NEW_WORKER, &s, "VHOST_NEW_WORKER");
	return s.worker_id;
}

void Device::freeWorker(unsigned int id)
{
	vhost_worker_state s = {.worker_id = id};

	ioctl(VHOST_FREE_WORKER, &s, "VHOST_FREE_WORKER", fmt::format("worker {}", id));
}

void Device::attachVringWorker(unsigned int index, unsigned int worker)
{
	vhost_vring_worker w = {.index = index, .worker_id = worker};

	ioctl(VHOST_ATTACH_VRING_WORKER, &w, "VHOST_ATTACH_VRING_WORKER",
	      fmt::format("vq {} worker {}", index, worker));
}

unsigned int Device::getVringWorker(unsigned int index)
{
	vhost_vring_worker w = {.index = index, .worker_id = 0};

	ioctl(VHOST_GET_VRING_WORKER, &w, "VHOST_GET_VRING_WORKER", fmt::format("vq {}", index));
	return w.worker_id;
}

} // namespace vhost

// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::Device: the owner of a vhost character device's file descriptor
 * (/dev/vhost-blk, /dev/vhost-net, /dev/vhost-scsi) and its ioctls: owner,
 * features, memory table, vrings, workers.  vhost::BlkDevice adds what only
 * /dev/vhost-blk has.
 *
 * Every failed ioctl throws vhost::Error carrying the errno and what was
 * asked, e.g. "VHOST_ATTACH_VRING_WORKER vq 3 worker 7: No such device".
 */
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "vhostctl/unique_fd.hpp"

namespace virtio::blk {
struct Limits;
}

namespace vhost {

/*
 * One region of a memory table: guest physical range -> user address.  A
 * vhost-user frontend also sends the file the region lies in and where:
 * VHOST_SET_MEM_TABLE has no use for them.
 */
struct MemRegion {
	uint64_t guestPhysAddr = 0;
	uint64_t size = 0;
	uint64_t userAddr = 0;
	/* The descriptor (not owned) and the region's offset in it; -1 if none. */
	int fd = -1;
	uint64_t fdOffset = 0;
};

/* VHOST_SET_VRING_ADDR: user addresses of a split ring's three parts. */
struct VringAddr {
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	/* VHOST_VRING_F_LOG: the used ring is logged at guest physical @log. */
	unsigned int flags = 0;
	uint64_t log = 0;
};

/* VHOST_SET_FORK_FROM_OWNER modes. */
enum class WorkerMode : uint8_t {
	Kthread = 0,
	Task = 1,
};

class Device
{
public:
	/* Open @path read-write, close-on-exec; throws Error. */
	static Device open(const std::string &path);
	/* Adopt an open descriptor; @path only names it in messages. */
	Device(UniqueFd fd, std::string path) noexcept;
	Device(Device &&) noexcept = default;
	Device &operator=(Device &&) noexcept = default;
	virtual ~Device() = default;

	int fd() const noexcept { return fd_.get(); }
	const std::string &path() const noexcept { return path_; }
	/* Close the descriptor now, as the destructor would. */
	void close() noexcept { fd_.reset(); }

	/* Owner */
	void setOwner();
	void resetOwner();
	WorkerMode forkFromOwner();
	void setForkFromOwner(WorkerMode mode);

	/* Features */
	uint64_t features();
	void setFeatures(uint64_t features);
	uint64_t backendFeatures();
	void setBackendFeatures(uint64_t features);

	/* Memory table */
	void setMemTable(std::span<const MemRegion> regions);

	/*
	 * Dirty log (VHOST_F_LOG_ALL): the bitmap at @userAddr in this
	 * process, one bit per 4 KiB of guest physical memory; @fd (an
	 * eventfd, -1 for none) is signalled after the device logs.
	 */
	void setLogBase(uint64_t userAddr);
	void setLogFd(int fd);

	/* Virtqueues */
	void setVringNum(unsigned int index, unsigned int num);
	void setVringAddr(unsigned int index, const VringAddr &addr);
	void setVringBase(unsigned int index, unsigned int base);
	unsigned int getVringBase(unsigned int index);
	void setVringKick(unsigned int index, int fd);
	void setVringCall(unsigned int index, int fd);
	void setVringErr(unsigned int index, int fd);
	/* Microseconds the device busy-polls an empty ring before sleeping. */
	void setVringBusyloopTimeout(unsigned int index, unsigned int us);
	unsigned int getVringBusyloopTimeout(unsigned int index);

	/* Workers (Linux 6.5 numbering) */
	unsigned int newWorker();
	void freeWorker(unsigned int id);
	void attachVringWorker(unsigned int index, unsigned int worker);
	unsigned int getVringWorker(unsigned int index);

protected:
	/*
	 * Issue @request with @arg; on failure throw Error with the errno
	 * and "@name @detail".
	 */
	void ioctl(unsigned long request, void *arg, std::string_view name,
		   std::string_view detail = {});

private:
	UniqueFd fd_;
	std::string path_;
};

/* /dev/vhost-blk: a vhost device with a backing file. */
class BlkDevice : public Device
{
public:
	static constexpr const char *defaultPath = "/dev/vhost-blk";
	/* The longest serial number VIRTIO_BLK_T_GET_ID returns. */
	static constexpr std::size_t serialBytes = 20;

	static BlkDevice open(const std::string &path = defaultPath);
	BlkDevice(UniqueFd fd, std::string path) noexcept : Device(std::move(fd), std::move(path))
	{}

	/* VHOST_BLK_SET_BACKEND with an open block device or regular file. */
	void setBackend(int fd);
	/* VHOST_BLK_SET_BACKEND -1: wait for requests in flight, drop it. */
	void detachBackend();

	/* The serial number, without its NUL padding. */
	std::string serial();
	/* At most serialBytes bytes; longer is EINVAL without an ioctl. */
	void setSerial(std::string_view serial);

	/* VHOST_SET_NWORKERS: the RFC's round-robin spread over @n workers. */
	void setNworkers(int n);

	/*
	 * VHOST_BLK_SET_LIMITS: what the VMM put in the config space, for
	 * the device to enforce (a field of 0: the device's default).
	 */
	void setLimits(const virtio::blk::Limits &limits);
	/* VHOST_BLK_GET_LIMITS: the limits in force, defaults filled in. */
	virtio::blk::Limits limits();
};

} // namespace vhost

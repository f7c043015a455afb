// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::BlkTransport: a virtio::Transport to an in-kernel virtio-blk device
 * (/dev/vhost-blk), with what only that device has: the backing file, the
 * serial number, the limits of its config space, workers and busy-polling.
 * vhost::KernelTransport issues the ioctls; tests record them instead.
 */
#pragma once

#include <string_view>

#include "vhostctl/blk_config.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/transport.hpp"

namespace vhost {

class BlkTransport : public virtio::Transport
{
public:
	/* VHOST_BLK_SET_BACKEND with an open block device or regular file. */
	virtual void setBackend(int fd) = 0;
	/* Wait for the requests in flight and drop the backend. */
	virtual void detachBackend() = 0;
	/* What VIRTIO_BLK_T_GET_ID returns. */
	virtual void setSerial(std::string_view serial) = 0;
	/*
	 * What the VMM put in the config space, for the device to enforce;
	 * again whenever it changes (a resize).
	 */
	virtual void setLimits(const virtio::blk::Limits &limits) = 0;

	/* Before setOwner() only. */
	virtual void setForkFromOwner(WorkerMode mode) = 0;
	virtual unsigned int newWorker() = 0;
	virtual void attachVringWorker(unsigned int index, unsigned int worker) = 0;
	virtual unsigned int getVringWorker(unsigned int index) = 0;
	/* Microseconds a worker busy-polls an empty ring before it sleeps. */
	virtual void setVringBusyloopTimeout(unsigned int index, unsigned int us) = 0;
	/* Dirty logging: see Device::setLogBase() and Device::setLogFd(). */
	virtual void setLogBase(uint64_t userAddr) = 0;
	virtual void setLogFd(int fd) = 0;
};

/* BlkTransport over the ioctls of a BlkDevice. */
class KernelTransport final : public BlkTransport
{
public:
	explicit KernelTransport(BlkDevice dev) noexcept : dev_(std::move(dev)) {}

	BlkDevice &device() noexcept { return dev_; }

	std::string name() const override { return dev_.path(); }
	void setOwner() override { dev_.setOwner(); }
	uint64_t features() override { return dev_.features(); }
	void setFeatures(uint64_t features) override { dev_.setFeatures(features); }
	void setMemTable(std::span<const MemRegion> regions) override { dev_.setMemTable(regions); }
	void setVringNum(unsigned int index, unsigned int num) override
	{
		dev_.setVringNum(index, num);
	}
	void setVringAddr(unsigned int index, const VringAddr &addr) override
	{
		dev_.setVringAddr(index, addr);
	}
	void setVringBase(unsigned int index, unsigned int base) override
	{
		dev_.setVringBase(index, base);
	}
	unsigned int getVringBase(unsigned int index) override { return dev_.getVringBase(index); }
	void setVringKick(unsigned int index, int fd) override { dev_.setVringKick(index, fd); }
	void setVringCall(unsigned int index, int fd) override { dev_.setVringCall(index, fd); }
	void setVringErr(unsigned int index, int fd) override { dev_.setVringErr(index, fd); }
	/* An in-kernel ring runs once it has a kick eventfd (and a backend). */
	void enableVring(unsigned int, bool) override {}
	/* Closing the fd finishes the requests in flight before it returns. */
	void close() noexcept override { dev_.close(); }

	void setBackend(int fd) override { dev_.setBackend(fd); }
	void detachBackend() override { dev_.detachBackend(); }
	void setSerial(std::string_view serial) override { dev_.setSerial(serial); }
	void setLimits(const virtio::blk::Limits &limits) override;
	void setForkFromOwner(WorkerMode mode) override { dev_.setForkFromOwner(mode); }
	unsigned int newWorker() override { return dev_.newWorker(); }
	void attachVringWorker(unsigned int index, unsigned int worker) override
	{
		dev_.attachVringWorker(index, worker);
	}
	unsigned int getVringWorker(unsigned int index) override
	{
		return dev_.getVringWorker(index);
	}
	void setVringBusyloopTimeout(unsigned int index, unsigned int us) override
	{
		dev_.setVringBusyloopTimeout(index, us);
	}
	void setLogBase(uint64_t userAddr) override { dev_.setLogBase(userAddr); }
	void setLogFd(int fd) override { dev_.setLogFd(fd); }

private:
	BlkDevice dev_;
	bool limitsSupported_ = true;
};

} // namespace vhost

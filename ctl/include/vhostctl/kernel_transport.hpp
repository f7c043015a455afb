// SPDX-License-Identifier: GPL-2.0
/*
 * vhost::KernelTransport: virtio::Transport over the ioctls of an in-kernel
 * vhost device, /dev/vhost-blk.  The device's own extras (backend, workers,
 * serial) stay reachable through device().
 */
#pragma once

#include "vhostctl/device.hpp"
#include "vhostctl/transport.hpp"

namespace vhost {

class KernelTransport final : public virtio::Transport
{
public:
	explicit KernelTransport(BlkDevice dev) noexcept : dev_(std::move(dev)) {}

	BlkDevice &device() noexcept { return dev_; }

	std::string name() const override { return dev_.path(); }
	void setOwner() override { dev_.setOwner(); }
	uint64_t features() override { return dev_.features(); }
	void setFeatures(uint64_t features) override { dev_.setFeatures(features); }
	void setMemTable(const virtio::Memory &mem) override;
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

private:
	BlkDevice dev_;
};

} // namespace vhost

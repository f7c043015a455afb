// SPDX-License-Identifier: GPL-2.0
/*
 * virtio::Transport: the control plane of a vhost device, the one interface
 * for everything that drives one.  virtio::BlkDriver brings a device up
 * through it and then never uses it on the data path: rings, kicks and
 * calls are shared memory and eventfds whatever the transport.  The
 * vhost-user bridge (vhost::user::Backend) drives the in-kernel device
 * through it too.
 *
 * Implementations: vhost::KernelTransport (the ioctls of /dev/vhost-blk,
 * with what only that device has, see vhost::BlkTransport) and
 * vhost::user::Frontend (the vhost-user protocol over a unix socket, to any
 * vhost-user-blk backend); tests have their own.
 *
 * Every call throws vhost::Error with the errno and what was being done.
 */
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vhostctl/device.hpp"

namespace virtio {

class Transport
{
public:
	Transport() = default;
	Transport(const Transport &) = delete;
	Transport &operator=(const Transport &) = delete;
	virtual ~Transport() = default;

	/* What the transport talks to, for messages: "/dev/vhost-blk". */
	virtual std::string name() const = 0;

	virtual void setOwner() = 0;
	/* Device features offered, and the subset the driver acks. */
	virtual uint64_t features() = 0;
	virtual void setFeatures(uint64_t features) = 0;
	/*
	 * The whole memory table; a vhost-user frontend needs each region's
	 * fd and fdOffset, the kernel only the addresses.
	 */
	virtual void setMemTable(std::span<const vhost::MemRegion> regions) = 0;

	virtual void setVringNum(unsigned int index, unsigned int num) = 0;
	virtual void setVringAddr(unsigned int index, const vhost::VringAddr &addr) = 0;
	virtual void setVringBase(unsigned int index, unsigned int base) = 0;
	/* Stops the ring; returns the next avail index the device would use. */
	virtual unsigned int getVringBase(unsigned int index) = 0;
	/* @fd -1 detaches (or, for vhost-user, says "no descriptor"). */
	virtual void setVringKick(unsigned int index, int fd) = 0;
	virtual void setVringCall(unsigned int index, int fd) = 0;
	/* The malformed-ring eventfd; a transport without one ignores it. */
	virtual void setVringErr(unsigned int index, int fd) = 0;
	/* Start (or stop) serving a ring once it is set up. */
	virtual void enableVring(unsigned int index, bool enable) = 0;

	/*
	 * Drop the connection (close the fd or the socket) now; the device
	 * stops using the memory before this returns.
	 */
	virtual void close() noexcept = 0;
};

} // namespace virtio

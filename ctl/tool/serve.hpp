// SPDX-License-Identifier: GPL-2.0
/*
 * vhostctl serve's options, for the tests.
 */
#pragma once

#include <optional>
#include <string>

#include "cli.hpp"
#include "vhostctl/device.hpp"
#include "vhostctl/unix_socket.hpp"
#include "vhostctl/worker_layout.hpp"
#include "workload.hpp"

namespace vhostctl::serve {

struct ServeOptions {
	/* Where to listen, unless a socket is passed (--fd, or LISTEN_FDS). */
	std::string socket;
	std::optional<int> fd;
	std::string backend;
	std::string device = vhost::BlkDevice::defaultPath;
	unsigned int queues = 1;
	vhost::WorkerLayout workers;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every vq: vhost-user cannot say it. */
	unsigned int busyPoll = 0;
	bool readOnly = false;
	/* Offer packed virtqueues (VIRTIO_F_RING_PACKED) when the module does. */
	bool packed = false;
	std::optional<std::string> serial;
	vhost::SocketPermissions permissions;
	/* --socket-mode or --socket-group given: applied to a passed socket too. */
	bool permissionsGiven = false;
	vhost::AccessPolicy access = vhost::AccessPolicy::ownerOnly();
	/* Seconds between checks of the backend's size; 0: on SIGHUP only. */
	double sizeCheck = 1;
};

/* UsageError on bad input, HelpRequested for -h; --config FILE is read too. */
ServeOptions parseOptions(const Args &args);

} // namespace vhostctl::serve

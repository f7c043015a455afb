// SPDX-License-Identifier: GPL-2.0
/*
 * EventFd: an owned eventfd, the doorbell between a vhost driver and the
 * device (kick, call, error).
 */
#pragma once

#include <chrono>
#include <cstdint>

#include "vhostctl/unique_fd.hpp"

namespace vhost {

class EventFd final
{
public:
	/* A non-blocking, close-on-exec eventfd; throws Error on failure. */
	EventFd();

	int fd() const noexcept { return fd_.get(); }

	/* Add 1 to the counter, waking whoever waits on it. */
	void signal();
	/* Read and reset the counter: 0 when it was not signalled. */
	uint64_t consume();
	/*
	 * Wait until the counter is non-zero or @timeoutMs passed (-1: no
	 * limit).  Returns false on timeout or on a signal (EINTR).
	 */
	bool wait(int timeoutMs) const;
	/* The same for at most @timeout, to the nanosecond (ppoll). */
	bool wait(std::chrono::nanoseconds timeout) const;

private:
	UniqueFd fd_;
};

/* Read whatever is pending on non-blocking eventfd or signalfd @fd. */
void drain(int fd) noexcept;

} // namespace vhost

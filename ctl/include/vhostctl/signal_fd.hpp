// SPDX-License-Identifier: GPL-2.0
/*
 * SignalFd: signals as a readable descriptor (signalfd), for a loop that
 * polls.  The signals are blocked in the calling thread, and in the threads
 * it starts afterwards, while the object lives; the old mask comes back
 * when it goes, and signals that came meanwhile are taken first, so that
 * unblocking them does not kill the process.
 */
#pragma once

#include <initializer_list>
#include <signal.h>

#include "vhostctl/unique_fd.hpp"

namespace vhost {

class SignalFd final
{
public:
	/* Throws vhost::Error. */
	explicit SignalFd(std::initializer_list<int> signals);
	SignalFd(const SignalFd &) = delete;
	SignalFd &operator=(const SignalFd &) = delete;
	~SignalFd();

	/* Readable while a signal is pending. */
	int fd() const noexcept { return fd_.get(); }
	/* The next pending signal, or 0 when none is. */
	int take() noexcept;

private:
	UniqueFd fd_;
	sigset_t old_{};
};

} // namespace vhost

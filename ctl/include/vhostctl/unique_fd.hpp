// SPDX-License-Identifier: GPL-2.0
/*
 * UniqueFd: the single owner of a file descriptor, closed on destruction.
 */
#pragma once

namespace vhost {

class UniqueFd final
{
public:
	UniqueFd() noexcept = default;
	explicit UniqueFd(int fd) noexcept : fd_(fd) {}
	UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
	UniqueFd &operator=(UniqueFd &&other) noexcept;
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;
	~UniqueFd() { reset(); }

	int get() const noexcept { return fd_; }
	bool isValid() const noexcept { return fd_ >= 0; }
	explicit operator bool() const noexcept { return isValid(); }

	/* Give up ownership without closing. */
	[[nodiscard]] int release() noexcept;
	/* Close the owned descriptor, if any, and own @fd instead. */
	void reset(int fd = -1) noexcept;

private:
	int fd_ = -1;
};

} // namespace vhost

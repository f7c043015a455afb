// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/system.hpp"

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "vhostctl/error.hpp"

namespace vhost {

std::size_t pageSize() noexcept
{
	static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

	return size;
}

uint64_t physicalMemory() noexcept
{
	long pages = ::sysconf(_SC_PHYS_PAGES);

	return pages > 0 ? static_cast<uint64_t>(pages) * pageSize() : 0;
}

CpuTime cpuTime(const std::string &path)
{
	/* user nice system idle iowait irq softirq steal, in USER_HZ ticks */
	std::array<uint64_t, 8> ticks{};
	std::ifstream in(path);
	std::string line;

	if (!in)
		throwErrno("open {}", path);
	while (std::getline(in, line)) {
		std::istringstream fields(line);
		std::string name;

		if (!(fields >> name) || name != "cpu")
			continue;
		for (auto &t : ticks)
			fields >> t;
		if (!fields)
			break;
		static const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
		uint64_t total = 0;
		for (auto v : ticks)
			total += v;
		return {static_cast<double>(total) / hz,
			static_cast<double>(total - ticks[3] - ticks[4]) / hz};
	}
	throw Error(EINVAL, fmt::format("{}: no line of eight 'cpu' times", path));
}

} // namespace vhost

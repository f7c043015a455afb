// SPDX-License-Identifier: GPL-2.0
#include "vhostctl/worker_layout.hpp"

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "vhostctl/error.hpp"

namespace vhost {

std::string WorkerLayout::text() const
{
	switch (kind) {
	case Single:
		return "single";
	case PerVq:
		return "per-vq";
	case Auto:
		return "auto";
	case Count:
		break;
	}
	return fmt::format("{}", count);
}

std::optional<WorkerLayout> WorkerLayout::parse(std::string_view text)
{
	if (text == "single")
		return WorkerLayout{Single, 0};
	if (text == "per-vq")
		return WorkerLayout{PerVq, 0};
	if (text == "auto")
		return WorkerLayout{Auto, 0};
	unsigned int n = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
	if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !n ||
	    n > maxCount)
		return std::nullopt;
	return WorkerLayout{Count, n};
}

std::vector<unsigned int> applyLayout(BlkTransport &dev, unsigned int queues,
				      const WorkerLayout &layout, std::vector<unsigned int> *pool)
{
	std::vector<unsigned int> serving(queues, 0);
	std::vector<unsigned int> ids;

	switch (layout.kind) {
	case WorkerLayout::Single:
		for (unsigned int q = 0; q < queues; q++)
			serving[q] = dev.getVringWorker(q);
		if (pool && queues)
			*pool = {serving[0]};
		return serving;
	case WorkerLayout::Auto:
		/* Everything on the default worker; the others wait for load. */
		for (unsigned int q = 0; q < queues; q++)
			serving[q] = dev.getVringWorker(q);
		if (queues)
			ids.push_back(serving[0]);
		for (unsigned int q = 1; q < queues; q++)
			ids.push_back(dev.newWorker());
		if (pool)
			*pool = ids;
		return serving;
	case WorkerLayout::PerVq:
		for (unsigned int q = 0; q < queues; q++)
			ids.push_back(dev.newWorker());
		break;
	case WorkerLayout::Count:
		for (unsigned int i = 0; i < layout.count; i++)
			ids.push_back(dev.newWorker());
		break;
	}
	if (ids.empty())
		throw Error(EINVAL, "a worker layout of no workers");
	for (unsigned int q = 0; q < queues; q++) {
		serving[q] = ids[q % ids.size()];
		dev.attachVringWorker(q, serving[q]);
	}
	if (pool)
		*pool = ids;
	return serving;
}

void setBusyPoll(BlkTransport &dev, unsigned int queues, unsigned int us)
{
	for (unsigned int q = 0; q < queues; q++)
		dev.setVringBusyloopTimeout(q, us);
}

std::string formatBindings(const std::vector<unsigned int> &workers)
{
	std::string out;

	for (std::size_t q = 0; q < workers.size(); q++)
		out += fmt::format("{}{}:{}", q ? " " : "", q, workers[q]);
	return out;
}

} // namespace vhost

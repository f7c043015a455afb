// SPDX-License-Identifier: GPL-2.0
#include "cli.hpp"
#include "vhostctl/nl_client.hpp"

namespace vhostctl {

namespace {

class NetlinkSource final : public StateSource
{
public:
	std::vector<nl::DevInfo> devices() override { return client_.devices(); }
	std::vector<nl::WorkerInfo> workers(std::optional<uint32_t> devId) override
	{
		return client_.workers(devId);
	}
	std::vector<nl::VqInfo> vqs(std::optional<uint32_t> devId) override
	{
		return client_.vqs(devId);
	}
	void attachVq(uint32_t devId, uint32_t index, uint32_t worker) override
	{
		client_.attachVq(devId, index, worker);
	}

private:
	nl::Client client_;
};

} // namespace

std::unique_ptr<StateSource> connectNetlink()
{
	return std::make_unique<NetlinkSource>();
}

} // namespace vhostctl

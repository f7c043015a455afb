// SPDX-License-Identifier: GPL-2.0
#include "monitor.hpp"

#include <array>
#include <cstring>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli.hpp"
#include "vhostctl/nl_client.hpp"

namespace vhostctl::monitor {

std::string eventText(const nl::Event &e)
{
	std::string s = fmt::format("dev {}: {}", e.devId, e.name);

	if (e.vq)
		s += fmt::format(" vq {}", *e.vq);
	if (e.workerId)
		s += fmt::format(" worker {}", *e.workerId);
	if (e.tid)
		s += fmt::format(" tid {}", *e.tid);
	if (e.ownerUid)
		s += fmt::format(" uid {}", *e.ownerUid);
	if (e.name == "backend-set")
		s += e.backend ? fmt::format(" {}", *e.backend) : " none";
	if (e.backendSize)
		s += fmt::format(" ({})", formatBytes(*e.backendSize));
	if (e.reason)
		s += fmt::format(": {}", *e.reason);
	if (e.ioOp)
		s += fmt::format(" {}", nl::opName(*e.ioOp));
	if (e.ioErrno)
		s += fmt::format(": {}", std::strerror(static_cast<int>(*e.ioErrno)));
	if (e.ioErrors)
		s += fmt::format(" ({} so far)", *e.ioErrors);
	return s;
}

Json eventJson(const nl::Event &e)
{
	Json j = Json::object();

	j["event"] = e.name;
	j["dev_id"] = e.devId;
	if (e.vq)
		j["vq"] = *e.vq;
	if (e.workerId)
		j["worker_id"] = *e.workerId;
	if (e.tid)
		j["tid"] = *e.tid;
	if (e.ownerUid)
		j["owner_uid"] = *e.ownerUid;
	if (e.name == "backend-set")
		j["backend"] = e.backend ? Json(*e.backend) : Json(nullptr);
	if (e.backendSize)
		j["backend_size"] = *e.backendSize;
	if (e.reason)
		j["reason"] = *e.reason;
	if (e.ioOp)
		j["op"] = nl::opName(*e.ioOp);
	if (e.ioErrno)
		j["errno"] = *e.ioErrno;
	if (e.ioErrors)
		j["io_errors"] = *e.ioErrors;
	return j;
}

namespace {

std::unique_ptr<CLI::App> makeApp(bool &json)
{
	auto app = std::make_unique<CLI::App>("vhostctl monitor");

	app->add_flag("-j,--json", json, "one JSON object per event");
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static bool unused;
	return makeApp(unused);
}

/* monitor [ --json ] */
int run(Context &ctx, const Args &args)
{
	bool json = ctx.opts.json;

	parseOptions(*makeApp(json), args, "monitor");
	nl::Monitor mon;
	mon.run(
		[&](const nl::Event &e) {
			if (json)
				ctx.out << eventJson(e).dump() << '\n';
			else
				ctx.out << eventText(e) << '\n';
			ctx.out.flush();
			return bool(ctx.out);
		},
		[&] {
			if (json)
				ctx.out << R"({"event":"lost"})" << '\n';
			else
				ctx.out << "events lost: the socket's buffer overflowed\n";
			ctx.out.flush();
		});
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"", "", run, "follow the module's events, one line each", {}, helpApp},
}};

} // namespace

} // namespace vhostctl::monitor

namespace vhostctl {

constinit const Object monitorObject = {
	"monitor",
	monitor::commands,
	"follow the module's events (devices, backends, workers, vqs, I/O errors), like ip monitor",
	true,
};

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
#include "stats.hpp"

#include <array>
#include <charconv>
#include <deque>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli.hpp"

namespace vhostctl::stats {

namespace {

/* The shortest text that reads back as @v ("1e-06", "0.000128", "2"). */
std::string number(double v)
{
	std::array<char, 32> buf{};
	auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);

	return std::string(buf.data(), end);
}

std::string valueText(const std::variant<uint64_t, double> &v)
{
	if (const auto *u = std::get_if<uint64_t>(&v))
		return std::to_string(*u);
	return number(std::get<double>(v));
}

/* A label value: backslash, double quote and newline escaped. */
std::string escape(std::string_view s)
{
	std::string out;

	for (char c : s) {
		if (c == '\\' || c == '"')
			out += '\\';
		if (c == '\n') {
			out += "\\n";
			continue;
		}
		out += c;
	}
	return out;
}

double seconds(uint64_t ns)
{
	return static_cast<double>(ns) / 1e9;
}

class Builder
{
public:
	Family &family(std::string name, std::string type, std::string unit, std::string help)
	{
		return fams_.emplace_back(Family{
			std::move(name), std::move(type), std::move(unit), std::move(help), {}});
	}
	std::vector<Family> take() { return {fams_.begin(), fams_.end()}; }

private:
	/* A deque: the references family() returns stay valid. */
	std::deque<Family> fams_;
};

Labels vqLabels(const nl::VqInfo &v)
{
	return {{"dev", std::to_string(v.devId)}, {"vq", std::to_string(v.index)}};
}

/* One family per counter of the virtqueues. */
void vqCounter(Builder &b, const std::vector<nl::VqInfo> &vqs, std::string name, std::string unit,
	       std::string help, uint64_t nl::VqInfo::*field)
{
	Family &f = b.family(std::move(name), "counter", std::move(unit), std::move(help));

	for (const auto &v : vqs)
		f.samples.push_back({"_total", vqLabels(v), v.*field});
}

void vqHistograms(Builder &b, const std::vector<nl::VqInfo> &vqs, nl::HistKind kind,
		  std::string help)
{
	Family &f = b.family(fmt::format("vhost_blk_vq_{}_seconds", nl::histKindName(kind)),
			     "histogram", "seconds", std::move(help));

	for (const auto &v : vqs) {
		for (const auto &h : v.hists) {
			if (h.kind != kind)
				continue;
			Labels l = vqLabels(v);
			l.emplace_back("op", nl::opName(h.op));
			uint64_t cumulative = 0;
			for (std::size_t i = 0; i < nl::histBuckets; i++) {
				auto upper = nl::bucketUpperNs(i);
				Labels bl = l;
				cumulative += h.buckets[i];
				bl.emplace_back("le", upper ? number(seconds(*upper)) : "+Inf");
				f.samples.push_back({"_bucket", std::move(bl), cumulative});
			}
			f.samples.push_back({"_count", l, cumulative});
			f.samples.push_back({"_sum", l, seconds(h.sumNs)});
		}
	}
}

} // namespace

std::vector<Family> families(const std::vector<nl::DevInfo> &devs,
			     const std::vector<nl::WorkerInfo> &workers,
			     const std::vector<nl::VqInfo> &vqs)
{
	Builder b;

	Family &info = b.family("vhost_blk_dev", "info", "",
				"A device: its backend, serial and worker mode.");
	for (const auto &d : devs) {
		info.samples.push_back({"_info",
					{{"dev", std::to_string(d.id)},
					 {"backend", d.backend.value_or("")},
					 {"serial", d.serial.value_or("")},
					 {"worker_mode", nl::workerModeName(d.workerMode)}},
					uint64_t{1}});
	}
	Family &cap = b.family("vhost_blk_dev_capacity_bytes", "gauge", "bytes",
			       "The disk's size as the guest sees it.");
	for (const auto &d : devs) {
		if (d.capacity)
			cap.samples.push_back(
				{"", {{"dev", std::to_string(d.id)}}, *d.capacity * 512});
	}

	Family &works = b.family("vhost_blk_worker_works", "counter", "", "Work items run.");
	Family &busy = b.family("vhost_blk_worker_busy_seconds", "counter", "seconds",
				"Time spent running work items.");
	Family &wakeups = b.family("vhost_blk_worker_wakeups", "counter", "",
				   "Batches of work taken off the worker's list.");
	for (const auto &w : workers) {
		Labels l = {{"dev", std::to_string(w.devId)}, {"worker", std::to_string(w.id)}};
		works.samples.push_back({"_total", l, w.works});
		busy.samples.push_back({"_total", l, seconds(w.busyNs)});
		wakeups.samples.push_back({"_total", l, w.wakeups});
	}

	vqCounter(b, vqs, "vhost_blk_vq_kicks", "", "Handler runs.", &nl::VqInfo::kicks);
	vqCounter(b, vqs, "vhost_blk_vq_requests", "", "Requests returned to the driver.",
		  &nl::VqInfo::requests);
	vqCounter(b, vqs, "vhost_blk_vq_bytes", "bytes", "Data bytes transferred.",
		  &nl::VqInfo::bytes);
	vqCounter(b, vqs, "vhost_blk_vq_ring_errors", "", "Malformed-ring errors.",
		  &nl::VqInfo::errors);
	vqCounter(b, vqs, "vhost_blk_vq_io_errors", "", "Requests the backend failed.",
		  &nl::VqInfo::ioErrors);
	vqCounter(b, vqs, "vhost_blk_vq_offloaded", "", "Requests run off the worker.",
		  &nl::VqInfo::offloaded);
	Family &inFlight = b.family("vhost_blk_vq_in_flight", "gauge", "",
				    "Requests fetched and not yet completed.");
	Family &broken = b.family("vhost_blk_vq_broken", "gauge", "",
				  "1 when a malformed ring stopped the virtqueue.");
	for (const auto &v : vqs) {
		inFlight.samples.push_back({"", vqLabels(v), uint64_t{v.inFlight}});
		broken.samples.push_back({"", vqLabels(v), uint64_t{v.broken}});
	}
	vqHistograms(b, vqs, nl::HistKind::queue,
		     "From the worker reading the avail index to the request's submission.");
	vqHistograms(b, vqs, nl::HistKind::service,
		     "From a request's submission to its return to the driver.");
	return b.take();
}

std::string openMetrics(const std::vector<Family> &fams)
{
	std::string out;

	for (const auto &f : fams) {
		out += fmt::format("# TYPE {} {}\n", f.name, f.type);
		if (!f.unit.empty())
			out += fmt::format("# UNIT {} {}\n", f.name, f.unit);
		out += fmt::format("# HELP {} {}\n", f.name, f.help);
		for (const auto &s : f.samples) {
			std::string labels;
			for (const auto &[k, v] : s.labels)
				labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", k,
						      escape(v));
			out += fmt::format("{}{}{{{}}} {}\n", f.name, s.suffix, labels,
					   valueText(s.value));
		}
	}
	out += "# EOF\n";
	return out;
}

Json familiesJson(const std::vector<Family> &fams)
{
	Json all = Json::array();

	for (const auto &f : fams) {
		Json samples = Json::array();
		for (const auto &s : f.samples) {
			Json labels = Json::object();
			for (const auto &[k, v] : s.labels)
				labels[k] = v;
			Json value = std::visit([](auto v) { return Json(v); }, s.value);
			samples.push_back({{"name", f.name + s.suffix},
					   {"labels", labels},
					   {"value", value}});
		}
		all.push_back({{"name", f.name},
			       {"type", f.type},
			       {"unit", f.unit},
			       {"help", f.help},
			       {"samples", samples}});
	}
	return all;
}

namespace {

struct StatsOptions {
	std::string format = "openmetrics";
	std::vector<std::string> filter;
};

constexpr std::array<Keyword, 1> filterKeywords = {{
	{"dev", "ID", "only this device"},
}};

std::unique_ptr<CLI::App> makeApp(StatsOptions &o)
{
	auto app = std::make_unique<CLI::App>("vhostctl stats");

	app->add_option("-f,--format", o.format, "openmetrics (default) or json")
		->type_name("FORMAT")
		->check(CLI::IsMember({"openmetrics", "json"}));
	app->add_option("filter", o.filter, "dev ID: only that device")->type_name("dev ID");
	return app;
}

std::unique_ptr<CLI::App> helpApp()
{
	static StatsOptions unused;
	return makeApp(unused);
}

/* stats [ --format openmetrics|json ] [ dev ID ] */
int run(Context &ctx, const Args &args)
{
	StatsOptions o;

	parseOptions(*makeApp(o), args, "stats");
	auto dev = parseKeywords(o.filter, filterKeywords, "stats").u32("dev", "device id");
	std::vector<nl::DevInfo> devs;
	if (dev)
		devs.push_back(requireDevice(ctx, *dev));
	else
		devs = ctx.state().devices();
	auto fams = families(devs, ctx.state().workers(dev), ctx.state().vqs(dev));
	if (o.format == "json" || ctx.opts.json)
		printJson(ctx.out, familiesJson(fams), ctx.opts);
	else
		ctx.out << openMetrics(fams);
	return exitOk;
}

constexpr std::array<Command, 1> commands = {{
	{"",
	 "",
	 run,
	 "every counter and latency histogram, in the OpenMetrics text format",
	 {},
	 helpApp},
}};

} // namespace

} // namespace vhostctl::stats

namespace vhostctl {

constinit const Object statsObject = {
	"stats",
	stats::commands,
	"every counter and histogram as metrics: OpenMetrics (Prometheus) or JSON",
	true,
};

} // namespace vhostctl

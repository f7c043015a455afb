// SPDX-License-Identifier: GPL-2.0
/*
 * The golden schema of every --json output: for each command, the keys and
 * the JSON types of their values (merged over every record and every case
 * the test produces, so that "integer|null" says a value may be missing),
 * compared with tests/unit/golden/json-schemas.json.  A key renamed,
 * removed or retyped fails here; a key added means updating the golden
 * file (VHOSTCTL_UPDATE_GOLDEN=1 writes it) and Documentation/vhostctl.rst.
 */
#include <catch2/catch_test_macros.hpp>

#include <csignal>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "fake_state.hpp"
#include "records.hpp"
#include "test_util.hpp"
#include "vhostctl/signal_fd.hpp"
#include "workload.hpp"

using nlohmann::json;
using test::FakeState;
using test::tool;

namespace {

std::string joinTypes(const std::set<std::string> &types)
{
	std::string out;
	for (const auto &t : types)
		out += (out.empty() ? "" : "|") + t;
	return out;
}

json merge(const json &a, const json &b);

/* The schema of a value: types by name, objects by key, arrays by element. */
json schemaOf(const json &v)
{
	switch (v.type()) {
	case json::value_t::object: {
		json o = json::object();
		for (auto it = v.begin(); it != v.end(); ++it)
			o[it.key()] = schemaOf(it.value());
		return o;
	}
	case json::value_t::array: {
		json elem;
		for (const auto &e : v)
			elem = elem.is_null() ? schemaOf(e) : merge(elem, schemaOf(e));
		return json::array({elem.is_null() ? json("any") : elem});
	}
	case json::value_t::number_integer:
	case json::value_t::number_unsigned:
		return "integer";
	case json::value_t::number_float:
		return "number";
	case json::value_t::string:
		return "string";
	case json::value_t::boolean:
		return "boolean";
	default:
		return "null";
	}
}

/* Two schemas of the same key: objects key by key (a key one lacks is "absent"). */
json merge(const json &a, const json &b)
{
	if (a.is_object() && b.is_object()) {
		json o = json::object();
		for (auto it = a.begin(); it != a.end(); ++it)
			o[it.key()] = b.contains(it.key()) ? merge(it.value(), b[it.key()])
							   : merge(it.value(), "absent");
		for (auto it = b.begin(); it != b.end(); ++it)
			if (!a.contains(it.key()))
				o[it.key()] = merge(it.value(), "absent");
		return o;
	}
	if (a.is_array() && b.is_array()) {
		if (a[0] == "any")
			return b;
		if (b[0] == "any")
			return a;
		return json::array({merge(a[0], b[0])});
	}
	if (a.is_string() && b.is_string()) {
		std::set<std::string> types;
		for (const auto *s : {&a, &b}) {
			std::string t = *s;
			for (std::size_t at = 0; at != std::string::npos;) {
				auto bar = t.find('|', at);
				types.insert(t.substr(at, bar - at));
				at = bar == std::string::npos ? bar : bar + 1;
			}
		}
		return joinTypes(types);
	}
	/* An object or array in one case, a null in another. */
	json o = a.is_string() ? b : a;
	return json{{"nullable", o}};
}

/* The schema of the JSON that vhostctl printed for each of @runs. */
json schemaOfRuns(FakeState &s, const std::vector<std::vector<std::string>> &runs)
{
	json schema;
	for (auto args : runs) {
		args.insert(args.begin(), "-j");
		auto r = tool(s, args);
		INFO(args[1] << ": " << r.err);
		REQUIRE(r.status == 0);
		json out;
		/* top prints one object a line. */
		std::istringstream in(r.out);
		for (std::string line; std::getline(in, line);) {
			json one = schemaOf(json::parse(line));
			out = out.is_null() ? one : merge(out, one);
		}
		schema = schema.is_null() ? out : merge(schema, out);
	}
	return schema;
}

std::filesystem::path goldenPath()
{
	return std::filesystem::path(GOLDEN_DIR) / "json-schemas.json";
}

} // namespace

TEST_CASE("every --json output keeps its golden schema", "[cli][json][golden]")
{
	TempDir dir;
	test::RuntimeDir runtime(dir.path);
	FakeState s = FakeState::sample();
	/* Device 1 is served by "this process", as vhostctl serve records it. */
	s.devs[0].ownerPid = static_cast<uint32_t>(::getpid());
	std::string img = (dir.path / "disk.img").string();
	std::ofstream(img).put('\0');
	std::filesystem::resize_file(img, 64 << 20);
	std::ofstream(dir.path / fmt::format("serve.{}.json", ::getpid())) << json{
		{"pid", ::getpid()},
		{"socket", "/run/vhostctl/vm1.sock"},
		{"serial", "disk-1"},
		{"read_only", false},
		{"backend", img},
		{"limits",
		 {{"capacity", (64 << 20) / 512},
		  {"size_max", 0},
		  {"seg_max", 126},
		  {"max_discard_sectors", 4194304},
		  {"max_discard_seg", 1},
		  {"max_write_zeroes_sectors", 4194304},
		  {"max_write_zeroes_seg", 1}}}}.dump();

	json schemas = json::object();
	schemas["dev show"] = schemaOfRuns(s, {{"dev", "show"}});
	schemas["dev show ID"] = schemaOfRuns(s, {{"dev", "show", "1"}, {"dev", "show", "2"}});
	{
		/* dev resize signals the owner: this process, which takes the signal. */
		vhost::SignalFd hup({SIGHUP});
		schemas["dev resize"] = schemaOfRuns(s, {{"dev", "resize", "1"}});
	}
	schemas["worker show"] = schemaOfRuns(s, {{"worker", "show"}});
	schemas["vq show"] = schemaOfRuns(s, {{"vq", "show"}});
	schemas["features show MASK"] = schemaOfRuns(s, {{"features", "show", "0x130000000"}});
	schemas["features show"] =
		schemaOfRuns(s, {{"features", "show"}, {"features", "dev", "1"}});
	schemas["top"] = schemaOfRuns(s, {{"top", "-d", "0.01", "-n", "2"}});
	schemas["vq hist"] = schemaOfRuns(s, {{"vq", "hist", "1", "0"}});
	schemas["stats --format json"] = schemaOfRuns(s, {{"stats", "--format", "json"}});

	vhostctl::Table offered;
	vhostctl::addOffered(offered, "/dev/vhost-blk", 0x130000000);
	schemas["features offered"] = schemaOf(offered.json());

	/* run and bench print one record, the same for both targets. */
	using namespace vhostctl::run;
	Stats st;
	st.ios = 100;
	st.bytes = 409600;
	st.elapsed = 1;
	st.latency.record(50000);
	RunInfo kernel{"vhost-blk", img, "per-vq", std::vector<unsigned int>{1, 2}, {}, 2, 0};
	RunInfo user{"vhost-user", "/run/qsd.sock", std::nullopt, std::nullopt, {}, 2,
		     std::nullopt};
	/* Paced, with the machine's CPU time; and neither. */
	kernel.w.rateIops = 2000;
	kernel.w.ring = virtio::RingType::Packed;
	Stats paced = st;
	paced.cpuBusy = 0.002;
	schemas["run, bench"] = merge(schemaOf(resultRecord(kernel, paced, 12.5, 3u).json()),
				      schemaOf(resultRecord(user, st, std::nullopt).json()));

	if (std::getenv("VHOSTCTL_UPDATE_GOLDEN")) {
		std::ofstream(goldenPath()) << schemas.dump(2) << '\n';
		WARN("wrote " << goldenPath());
	}
	std::ifstream in(goldenPath());
	REQUIRE(in);
	json golden = json::parse(in);
	for (auto it = golden.begin(); it != golden.end(); ++it) {
		INFO(it.key() << ":\nprinted " << schemas[it.key()].dump(2) << "\ngolden "
			      << it.value().dump(2));
		CHECK(schemas[it.key()] == it.value());
	}
	for (auto it = schemas.begin(); it != schemas.end(); ++it) {
		INFO(it.key() << " has no golden schema");
		CHECK(golden.contains(it.key()));
	}
}

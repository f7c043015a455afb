// SPDX-License-Identifier: GPL-2.0
/*
 * The top level of vhostctl: global options, the table of objects, dispatch
 * to a command, and the mapping of failures to one line and an exit status.
 */
#include "cli.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "vhostctl/error.hpp"

namespace vhostctl {

namespace {

// clang-format off
constexpr std::array<const Object *, 8> objects = {
	&devObject, &workerObject, &vqObject, &featuresObject,
	&topObject, &runObject, &benchObject, &serveObject,
};
// clang-format on

const Object *findObject(std::string_view name)
{
	for (const Object *o : objects) {
		if (o->name == name)
			return o;
	}
	return nullptr;
}

const Command *findCommand(const Object &object, std::string_view name)
{
	for (const Command &c : object.commands) {
		if ((!c.name.empty() && c.name == name) || (!c.alias.empty() && c.alias == name))
			return &c;
	}
	return nullptr;
}

/* One line, whatever the message holds. */
std::string oneLine(std::string s)
{
	std::replace(s.begin(), s.end(), '\n', ' ');
	s.erase(s.find_last_not_of(' ') + 1);
	return s;
}

/* The global options; the object and what follows it are left in @rest. */
struct Global {
	Options opts;
	bool version = false;
	bool help = false;
	Args rest;
};

Global parseGlobal(const Args &args)
{
	Global g;
	CLI::App app("vhostctl");

	app.set_help_flag();
	app.add_flag("-j,--json", g.opts.json);
	app.add_flag("-p,--pretty", g.opts.pretty);
	app.add_flag("-V,--version", g.version);
	app.add_flag("-h,--help", g.help);
	/* Everything from the first positional on is the object's. */
	app.prefix_command();

	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::ParseError &e) {
		throw UsageError(e.what());
	}
	g.rest = app.remaining();
	return g;
}

int dispatch(Context &ctx, const Global &g)
{
	if (g.version) {
		ctx.out << "vhostctl " << version() << '\n';
		return exitOk;
	}
	if (g.help || (!g.rest.empty() && g.rest.front() == "help")) {
		printUsage(ctx.out);
		return exitOk;
	}
	if (g.rest.empty())
		throw UsageError("no object given; try 'vhostctl help'");

	const std::string &name = g.rest.front();
	if (!name.empty() && name.front() == '-')
		throw UsageError(fmt::format("unknown option '{}'; try 'vhostctl help'", name));
	const Object *object = findObject(name);
	if (!object)
		throw UsageError(fmt::format("unknown object '{}'; try 'vhostctl help'", name));

	Args args(g.rest.begin() + 1, g.rest.end());
	const Command *command = &object->commands.front();
	if (!args.empty()) {
		if (args.front() == "help") {
			printUsage(ctx.out, object);
			return exitOk;
		}
		if (const Command *c = findCommand(*object, args.front())) {
			command = c;
			args.erase(args.begin());
		} else if (!object->defaultTakesArgs) {
			throw UsageError(
				fmt::format("unknown command '{}' for '{}'; try 'vhostctl {} help'",
					    args.front(), object->name, object->name));
		}
	}
	if (std::any_of(args.begin(), args.end(), [](const std::string &a) {
		    return a == "help" || a == "-h" || a == "--help";
	    })) {
		printUsage(ctx.out, object);
		return exitOk;
	}
	return command->run(ctx, args);
}

} // namespace

StateSource &Context::state()
{
	if (!state_)
		state_ = connect_();
	return *state_;
}

void printUsage(std::ostream &out, const Object *only)
{
	if (!only) {
		out << "Usage: vhostctl [ OPTIONS ] OBJECT { COMMAND | help }\n"
		       "where  OBJECT := { ";
		for (std::size_t i = 0; i < objects.size(); i++)
			out << (i ? " | " : "") << objects[i]->name;
		out << " }\n"
		       "       OPTIONS := { -j[son] | -p[retty] | -V[ersion] | -h[elp] }\n\n";
	}
	for (const Object *o : objects) {
		if (only && o != only)
			continue;
		if (only)
			out << "vhostctl " << o->name << ": " << o->help << "\n\n";
		for (const Command &c : o->commands) {
			std::string line = fmt::format("vhostctl {}", o->name);

			if (!c.name.empty())
				line += fmt::format(" {}", c.name);
			if (!c.synopsis.empty())
				line += fmt::format(" {}", c.synopsis);
			out << fmt::format("  {}\n        {}\n", line, c.help);
		}
	}
	if (only && only->commands.size() > 1)
		out << fmt::format("\nWith no command, 'vhostctl {}' runs '{}'.\n", only->name,
				   only->commands.front().name);
}

int main(Context &ctx, const Args &args)
{
	try {
		Global g = parseGlobal(args);

		ctx.opts = g.opts;
		return dispatch(ctx, g);
	} catch (const UsageError &e) {
		ctx.err << "vhostctl: " << oneLine(e.what()) << '\n';
		return exitUsage;
	} catch (const vhost::Error &e) {
		ctx.err << "vhostctl: " << oneLine(e.what()) << '\n';
		return exitFailure;
	} catch (const std::exception &e) {
		ctx.err << "vhostctl: " << oneLine(e.what()) << '\n';
		return exitFailure;
	}
}

uint64_t parseU64(std::string_view text, std::string_view what)
{
	uint64_t value = 0;
	int base = 10;
	std::string_view digits = text;

	if (digits.starts_with("0x") || digits.starts_with("0X")) {
		base = 16;
		digits.remove_prefix(2);
	}
	auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
	if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
		throw UsageError(fmt::format("'{}' is not a valid {}", text, what));
	return value;
}

uint32_t parseU32(std::string_view text, std::string_view what)
{
	uint64_t v = parseU64(text, what);

	if (v > UINT32_MAX)
		throw UsageError(fmt::format("'{}' is not a valid {}", text, what));
	return static_cast<uint32_t>(v);
}

ShowArgs parseShowArgs(const Args &args, std::string_view command,
		       std::span<const std::string_view> flags)
{
	ShowArgs out;

	for (std::size_t i = 0; i < args.size(); i++) {
		const std::string &a = args[i];

		if (a == "dev") {
			if (i + 1 == args.size())
				throw UsageError(
					fmt::format("{}: 'dev' needs a device id", command));
			out.dev = parseU32(args[++i], "device id");
		} else if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
			out.flags.push_back(a);
		} else if (a.starts_with("-")) {
			throw UsageError(fmt::format(
				"{}: unexpected option '{}' (options go before the object)",
				command, a));
		} else {
			throw UsageError(fmt::format("{}: unexpected argument '{}'", command, a));
		}
	}
	return out;
}

void requireDevice(Context &ctx, uint32_t id)
{
	auto devs = ctx.state().devices();

	if (std::none_of(devs.begin(), devs.end(), [id](const auto &d) { return d.id == id; }))
		throw vhost::Error(ENODEV, fmt::format("device {}", id));
}

} // namespace vhostctl

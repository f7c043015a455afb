// SPDX-License-Identifier: GPL-2.0
/*
 * The top level of vhostctl: global options, the table of objects, dispatch
 * to a command, the one grammar of keywords and of --options, help,
 * completion, and the mapping of failures to one line and an exit status.
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
constexpr std::array<const Object *, 10> objects = {
	&devObject, &workerObject, &vqObject, &featuresObject,
	&topObject, &monitorObject, &statsObject, &runObject,
	&benchObject, &serveObject,
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

const Keyword *findKeyword(std::span<const Keyword> keywords, std::string_view name)
{
	auto it = std::find_if(keywords.begin(), keywords.end(),
			       [name](const Keyword &k) { return k.name == name; });
	return it == keywords.end() ? nullptr : &*it;
}

/* One line, whatever the message holds. */
std::string oneLine(std::string s)
{
	std::replace(s.begin(), s.end(), '\n', ' ');
	s.erase(s.find_last_not_of(' ') + 1);
	return s;
}

bool isHelp(std::string_view a)
{
	return a == "-h" || a == "--help";
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

	app.add_flag("-j,--json", g.opts.json, "print JSON");
	app.add_flag("-p,--pretty", g.opts.pretty, "indent the JSON");
	app.add_flag("-V,--version", g.version, "print the version");
	/* Everything from the first positional on is the object's. */
	app.prefix_command();
	try {
		parseOptions(app, args, "vhostctl");
	} catch (const HelpRequested &) {
		g.help = true;
		return g;
	}
	g.rest = app.remaining();
	return g;
}

/* "vhostctl vq attach dev ID vq INDEX worker ID" */
std::string keywordSynopsis(std::string_view object, const Command &c)
{
	std::string line = fmt::format("vhostctl {}", object);

	if (!c.name.empty())
		line += fmt::format(" {}", c.name);
	for (const Keyword &k : c.keywords) {
		std::string word = k.value.empty() ? std::string(k.name)
						   : fmt::format("{} {}", k.name, k.value);
		if (k.positional && !k.value.empty())
			word = fmt::format("[ {} ] {}", k.name, k.value);
		line += k.required ? fmt::format(" {}", word) : fmt::format(" [ {} ]", word);
	}
	return line;
}

/* "vhostctl run --backend PATH [ OPTIONS ]": the required options of @app. */
std::string optionsSynopsis(std::string_view object, const Command &c, const CLI::App &app)
{
	std::string line = fmt::format("vhostctl {}", object);

	if (!c.name.empty())
		line += fmt::format(" {}", c.name);
	bool optional = false;
	for (const CLI::Option *o : app.get_options()) {
		if (o->get_name() == "--help")
			continue;
		if (o->get_required())
			line += fmt::format(" {} {}", o->get_name(), o->get_type_name());
		else
			optional = true;
	}
	if (optional)
		line += " [ OPTIONS ]";
	return line;
}

/* The full help of one command: its keywords or options, one line each. */
std::string commandHelp(const Object &object, const Command &c)
{
	std::string out;

	if (c.options) {
		auto app = c.options();
		out = fmt::format("  {}\n        {}\n", optionsSynopsis(object.name, c, *app),
				  c.help);
		for (const CLI::Option *o : app->get_options()) {
			std::string name = o->get_name();
			if (o->get_type_size() != 0 && !o->get_type_name().empty())
				name += " " + o->get_type_name();
			out += fmt::format("      {:<26} {}\n", name, o->get_description());
		}
		return out;
	}
	out = fmt::format("  {}\n        {}\n", keywordSynopsis(object.name, c), c.help);
	for (const Keyword &k : c.keywords) {
		std::string name = k.value.empty() ? std::string(k.name)
						   : fmt::format("{} {}", k.name, k.value);
		out += fmt::format("      {:<26} {}\n", name, k.help);
	}
	return out;
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
		/* "help" where a command is expected, and only there. */
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
	/* Keyword commands: -h or --help; options commands parse their own. */
	if (!command->options && std::any_of(args.begin(), args.end(), isHelp)) {
		ctx.out << commandHelp(*object, *command);
		return exitOk;
	}
	return command->run(ctx, args);
}

} // namespace

int exitStatus(int err) noexcept
{
	switch (err) {
	case ENODEV:
	case ENOENT:
	case ENXIO:
	case ESRCH:
		return exitNotFound;
	case EIO:
	case ETIMEDOUT:
	case EPROTO:
	case ECONNRESET:
	case EPIPE:
		return exitIo;
	case EPERM:
	case EACCES:
		return exitPermission;
	default:
		return exitFailure;
	}
}

StateSource &Context::state()
{
	if (!state_)
		state_ = connect_();
	return *state_;
}

std::optional<std::string> KeywordArgs::get(std::string_view name) const
{
	auto it = values_.find(name);

	if (it == values_.end())
		return std::nullopt;
	return it->second;
}

std::optional<uint32_t> KeywordArgs::u32(std::string_view name, std::string_view what) const
{
	auto v = get(name);

	if (!v)
		return std::nullopt;
	return parseU32(*v, what);
}

KeywordArgs parseKeywords(const Args &args, std::span<const Keyword> keywords,
			  std::string_view command)
{
	KeywordArgs out;
	std::size_t i = 0;

	/* The positional alias: bare values, before any keyword. */
	for (const Keyword &k : keywords) {
		if (!k.positional || i == args.size() || findKeyword(keywords, args[i]))
			break;
		out.values_.emplace(k.name, args[i++]);
	}
	for (; i < args.size(); i++) {
		const std::string &a = args[i];
		const Keyword *k = findKeyword(keywords, a);

		if (!k) {
			if (a.starts_with("-"))
				throw UsageError(fmt::format(
					"{}: unexpected option '{}' (options go before the object)",
					command, a));
			throw UsageError(fmt::format("{}: unexpected argument '{}'", command, a));
		}
		if (out.has(k->name))
			throw UsageError(fmt::format("{}: '{}' given twice", command, k->name));
		if (k->value.empty()) {
			out.values_.emplace(k->name, "");
			continue;
		}
		if (i + 1 == args.size())
			throw UsageError(
				fmt::format("{}: '{}' needs its {}", command, k->name, k->value));
		out.values_.emplace(k->name, args[++i]);
	}
	for (const Keyword &k : keywords) {
		if (k.required && !out.has(k.name))
			throw UsageError(
				fmt::format("{}: '{} {}' is missing", command, k.name, k.value));
	}
	return out;
}

void parseOptions(CLI::App &app, const Args &args, std::string_view command)
{
	app.set_help_flag("-h,--help", "print this help and exit");
	/* CLI11 takes the arguments last first. */
	std::vector<std::string> reversed(args.rbegin(), args.rend());
	try {
		app.parse(reversed);
	} catch (const CLI::CallForHelp &) {
		throw HelpRequested(app.help());
	} catch (const CLI::ParseError &e) {
		throw UsageError(fmt::format("{}: {}", command, e.what()));
	}
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
		for (const Object *o : objects) {
			for (const Command &c : o->commands) {
				std::string line =
					c.options ? optionsSynopsis(o->name, c, *c.options())
						  : keywordSynopsis(o->name, c);
				out << fmt::format("  {}\n        {}\n", line, c.help);
			}
		}
		out << "\n'vhostctl OBJECT help' describes the keywords and options of each "
		       "command.\n";
		return;
	}
	out << "vhostctl " << only->name << ": " << only->help << "\n\n";
	for (const Command &c : only->commands)
		out << commandHelp(*only, c);
	if (only->commands.size() > 1)
		out << fmt::format("\nWith no command, 'vhostctl {}' runs '{}'.\n", only->name,
				   only->commands.front().name);
}

std::vector<std::string> complete(Context &ctx, const Args &words)
{
	std::vector<std::string> out;
	std::size_t i = 0;

	while (i < words.size() && words[i].starts_with("-"))
		i++;
	if (i == words.size()) {
		out = {"-j", "--json", "-p", "--pretty", "-V", "--version", "help"};
		for (const Object *o : objects)
			out.emplace_back(o->name);
		return out;
	}
	const Object *object = findObject(words[i++]);
	if (!object)
		return out;
	const Command *command = &object->commands.front();
	if (i == words.size()) {
		out.emplace_back("help");
		for (const Command &c : object->commands) {
			if (!c.name.empty())
				out.emplace_back(c.name);
		}
		if (!object->defaultTakesArgs)
			return out;
	} else if (const Command *c = findCommand(*object, words[i])) {
		command = c;
		i++;
	}
	Args given(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());

	if (command->options) {
		auto app = command->options();
		if (!given.empty()) {
			/* After an option that takes a value: the shell completes files. */
			for (const CLI::Option *o : app->get_options()) {
				if (o->check_name(given.back()) && o->get_type_size() != 0)
					return {};
			}
		}
		for (const CLI::Option *o : app->get_options()) {
			for (const auto &n : o->get_lnames()) {
				if (std::find(given.begin(), given.end(), "--" + n) == given.end())
					out.push_back("--" + n);
			}
		}
		return out;
	}
	if (!given.empty()) {
		const Keyword *k = findKeyword(command->keywords, given.back());
		if (k && !k->value.empty()) {
			/* A device id: those the caller may see. */
			if (k->name == "dev") {
				try {
					for (const auto &d : ctx.state().devices())
						out.push_back(fmt::format("{}", d.id));
				} catch (const std::exception &) {
					/* No module: nothing to offer. */
				}
			}
			return out;
		}
	}
	for (const Keyword &k : command->keywords) {
		if (std::find(given.begin(), given.end(), k.name) == given.end())
			out.emplace_back(k.name);
	}
	return out;
}

int main(Context &ctx, const Args &args)
{
	try {
		/* The bash completion's question, not a command of its own. */
		if (!args.empty() && args.front() == "__complete") {
			for (const auto &w : complete(ctx, Args(args.begin() + 1, args.end())))
				ctx.out << w << '\n';
			return exitOk;
		}
		Global g = parseGlobal(args);

		ctx.opts = g.opts;
		return dispatch(ctx, g);
	} catch (const HelpRequested &e) {
		ctx.out << e.what();
		return exitOk;
	} catch (const UsageError &e) {
		ctx.err << "vhostctl: " << oneLine(e.what()) << '\n';
		return exitUsage;
	} catch (const vhost::Error &e) {
		ctx.err << "vhostctl: " << oneLine(e.what()) << '\n';
		return exitStatus(e.errnum());
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

uint64_t parseSize(std::string_view text, std::string_view what)
{
	static constexpr std::string_view suffixes = "kMGT";
	std::string_view digits = text;
	uint64_t mult = 1;

	if (!digits.empty()) {
		char s = digits.back();
		auto at = suffixes.find(s == 'K' ? 'k' : s == 'm' ? 'M' : s == 'g' ? 'G' : s);
		if (at != std::string_view::npos) {
			mult = 1ULL << (10 * (at + 1));
			digits.remove_suffix(1);
		}
	}
	uint64_t n = 0;
	auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
	if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
	    n > UINT64_MAX / mult)
		throw UsageError(fmt::format("'{}' is not a valid {} (e.g. 4k, 96M)", text, what));
	return n * mult;
}

nl::DevInfo requireDevice(Context &ctx, uint32_t id)
{
	for (const auto &d : ctx.state().devices()) {
		if (d.id == id)
			return d;
	}
	throw vhost::Error(ENODEV, fmt::format("device {}", id));
}

} // namespace vhostctl

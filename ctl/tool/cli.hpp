// SPDX-License-Identifier: GPL-2.0
/*
 * The vhostctl command line:
 *
 *   vhostctl [-j|--json] [-p|--pretty] [-V|--version] OBJECT [COMMAND] [ARGS]
 *
 * OBJECT comes from a table of objects (dev, worker, vq, features, top,
 * monitor, stats, run, bench, serve); each has a table of commands whose first is the
 * default ("show", with "list" as its alias).  One grammar, iproute2's:
 * arguments are keywords with values ("vq attach dev 1 vq 3 worker 2"),
 * the positional form ("vq attach 1 3 2") kept as an alias, and the
 * commands with many options (run, bench, serve, top) take --options.
 * "help" is a word only where a command is expected ("vhostctl help",
 * "vhostctl vq help"); -h or --help after a command prints its options.
 *
 * Exit status: 0; 2 for a command line that makes no sense; 3 when no such
 * device, worker, file or module is there; 4 for an I/O failure (a failed
 * request, a device that stopped answering); 5 when permission is denied;
 * 1 for any other failure.  A failure prints one line on stderr.
 */
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vhostctl/netlink.hpp"

namespace CLI {
class App;
}

namespace vhostctl {

inline constexpr int exitOk = 0;
inline constexpr int exitFailure = 1;
inline constexpr int exitUsage = 2;
inline constexpr int exitNotFound = 3;
inline constexpr int exitIo = 4;
inline constexpr int exitPermission = 5;

/* The exit status of a failure with errno @err. */
int exitStatus(int err) noexcept;

/* A command line the tool cannot make sense of: exit status 2. */
class UsageError : public std::runtime_error
{
public:
	using std::runtime_error::runtime_error;
};

/* -h or --help: the text goes to stdout, exit status 0. */
class HelpRequested : public std::runtime_error
{
public:
	using std::runtime_error::runtime_error;
};

/* What the vhost_blk netlink family reports; tests substitute their own. */
class StateSource
{
public:
	virtual ~StateSource() = default;
	virtual std::vector<nl::DevInfo> devices() = 0;
	virtual std::vector<nl::WorkerInfo> workers(std::optional<uint32_t> devId) = 0;
	virtual std::vector<nl::VqInfo> vqs(std::optional<uint32_t> devId) = 0;
	virtual void attachVq(uint32_t devId, uint32_t index, uint32_t worker) = 0;
};

/* The source backed by the kernel (nl::Client). */
std::unique_ptr<StateSource> connectNetlink();

struct Options {
	bool json = false;
	bool pretty = false;
};

class Context
{
public:
	using Connect = std::function<std::unique_ptr<StateSource>()>;

	Context(std::ostream &output, std::ostream &errors, Connect connect = connectNetlink,
		bool terminal = false)
		: out(output), err(errors), tty(terminal), connect_(std::move(connect))
	{}

	/* The netlink connection, opened on first use. */
	StateSource &state();

	Options opts;
	std::ostream &out;
	std::ostream &err;
	/* stdout is a terminal: top may clear the screen. */
	bool tty;

private:
	Connect connect_;
	std::unique_ptr<StateSource> state_;
};

using Args = std::vector<std::string>;
using Handler = int (*)(Context &ctx, const Args &args);

/*
 * A keyword argument of a command: "dev ID", or a flag ("active").  The
 * positional ones may also be given as bare values, in their order, before
 * any keyword.
 */
struct Keyword {
	std::string_view name;
	/* What the value is, for the usage ("ID"); empty for a flag. */
	std::string_view value;
	std::string_view help;
	bool required = false;
	bool positional = false;
};

/* The keywords given: name -> value ("" for a flag). */
class KeywordArgs
{
public:
	bool has(std::string_view name) const { return values_.count(name) != 0; }
	std::optional<std::string> get(std::string_view name) const;
	/* The value as a u32; nothing when the keyword was not given. */
	std::optional<uint32_t> u32(std::string_view name, std::string_view what) const;

private:
	friend KeywordArgs parseKeywords(const Args &, std::span<const Keyword>, std::string_view);
	std::map<std::string, std::string, std::less<>> values_;
};

/*
 * Parse @args against @keywords: each keyword at most once, in any order,
 * after the bare values of the positional ones.  UsageError "@command: ..."
 * for anything else, or a required keyword missing.
 */
KeywordArgs parseKeywords(const Args &args, std::span<const Keyword> keywords,
			  std::string_view command);

struct Command {
	/* Empty for the only command of an object that takes options (run, top). */
	std::string_view name;
	std::string_view alias;
	Handler run;
	std::string_view help;
	/* The keywords of a keyword command. */
	std::span<const Keyword> keywords = {};
	/*
	 * A command with --options instead: its CLI11 app, built for help
	 * and completion (the handler builds its own to parse).
	 */
	std::unique_ptr<CLI::App> (*options)() = nullptr;
};

struct Object {
	std::string_view name;
	std::span<const Command> commands;
	std::string_view help;
	/*
	 * Arguments that name no command go to the default command
	 * ("vhostctl features 0x1", "vhostctl run --backend ...").
	 */
	bool defaultTakesArgs;
};

/* The objects, one file each. */
extern const Object devObject;
extern const Object workerObject;
extern const Object vqObject;
extern const Object featuresObject;
extern const Object topObject;
extern const Object monitorObject;
extern const Object statsObject;
extern const Object runObject;
extern const Object benchObject;
extern const Object serveObject;

/* The whole tool: parse @args (without argv[0]) and run; returns the exit status. */
int main(Context &ctx, const Args &args);

/* The project's version, from scripts/lib/version. */
std::string_view version();

/* Usage text of one object (its commands with their keywords and options), or of all. */
void printUsage(std::ostream &out, const Object *object = nullptr);

/*
 * The words that may follow @words (the command line so far, without the
 * word being completed), one per line, for the bash completion.
 */
std::vector<std::string> complete(Context &ctx, const Args &words);

/*
 * Helpers for commands.
 */

/*
 * Parse the --options of @command with @app, which the caller has filled:
 * UsageError "@command: ..." on bad input, HelpRequested for -h/--help.
 */
void parseOptions(CLI::App &app, const Args &args, std::string_view command);

/* A u32 written in decimal or 0x hex; UsageError naming @what otherwise. */
uint32_t parseU32(std::string_view text, std::string_view what);
uint64_t parseU64(std::string_view text, std::string_view what);
/* "4096", "4k", "96M", "1G": bytes; UsageError naming @what otherwise. */
uint64_t parseSize(std::string_view text, std::string_view what);

/* The device @id, or Error(ENODEV). */
nl::DevInfo requireDevice(Context &ctx, uint32_t id);

} // namespace vhostctl

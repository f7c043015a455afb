// SPDX-License-Identifier: GPL-2.0
/*
 * One emitter for text and JSON: a command fills records with fields, each
 * field a snake_case key (the netlink attribute's name), a JSON value and
 * its text rendering.  The table prints either an aligned text table whose
 * column labels are the keys, or a JSON array of objects with those keys.
 * Every record has every key: a missing value is null in JSON, "-" in text.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vhostctl {

/* JSON objects keep their keys in the order the command added them. */
using Json = nlohmann::ordered_json;

struct Options;

class Record
{
public:
	Record &u64(std::string_view key, uint64_t value);
	Record &optU64(std::string_view key, std::optional<uint64_t> value);
	/* A number in JSON, 0x... in text. */
	Record &hex(std::string_view key, uint64_t value);
	Record &str(std::string_view key, std::string_view value);
	Record &optStr(std::string_view key, const std::optional<std::string> &value);
	/* A number in JSON, with @decimals decimals in text. */
	Record &real(std::string_view key, double value, int decimals);
	Record &boolean(std::string_view key, bool value);
	Record &optBoolean(std::string_view key, std::optional<bool> value);
	/* An array of numbers in JSON, ranges ("0-3,8") in text. */
	Record &indices(std::string_view key, const std::vector<uint32_t> &values);
	/* An array of strings in JSON, space separated in text. */
	Record &strings(std::string_view key, const std::vector<std::string> &values);
	/* Any value with its own text. */
	Record &field(std::string_view key, Json value, std::string text, bool numeric = false);

	Json json() const;

private:
	friend class Table;
	friend void printFields(std::ostream &out, const Record &record);
	struct Field {
		std::string key;
		Json value;
		std::string text;
		bool numeric;
	};
	std::vector<Field> fields_;
};

class Table
{
public:
	Record &add();
	bool empty() const noexcept { return records_.empty(); }
	std::size_t size() const noexcept { return records_.size(); }

	Json json() const;
	/* Columns aligned, numbers to the right; nothing at all when empty. */
	void printText(std::ostream &out) const;
	/* JSON with -j (pretty with -p), else text. */
	void print(std::ostream &out, const Options &opts) const;

private:
	std::vector<Record> records_;
};

/* One record: a JSON object with -j (pretty with -p), else a one-row table. */
void printRecord(std::ostream &out, const Record &record, const Options &opts);

/* One record for people: a line per field, "key  text", the keys aligned. */
void printFields(std::ostream &out, const Record &record);

/* Print @value as -j/-p ask: one line, or indented. */
void printJson(std::ostream &out, const Json &value, const Options &opts);

/* "0-3,8,10-11" for a sorted or unsorted list of indices. */
std::string formatRanges(std::vector<uint32_t> values);
/* "1.5GiB", "512B": bytes for humans. */
std::string formatBytes(uint64_t bytes);
/* "850ns", "12.3us", "4.10ms", "1.05s": a duration for humans. */
std::string formatDuration(uint64_t ns);

} // namespace vhostctl

// SPDX-License-Identifier: GPL-2.0
#include "output.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "cli.hpp"

namespace vhostctl {

Record &Record::field(std::string_view key, Json value, std::string text, bool numeric)
{
	fields_.push_back({std::string(key), std::move(value), std::move(text), numeric});
	return *this;
}

Record &Record::u64(std::string_view key, uint64_t value)
{
	return field(key, value, fmt::format("{}", value), true);
}

Record &Record::optU64(std::string_view key, std::optional<uint64_t> value)
{
	if (!value)
		return field(key, nullptr, "-", true);
	return u64(key, *value);
}

Record &Record::hex(std::string_view key, uint64_t value)
{
	return field(key, value, fmt::format("{:#x}", value), true);
}

Record &Record::str(std::string_view key, std::string_view value)
{
	return field(key, std::string(value), value.empty() ? "-" : std::string(value));
}

Record &Record::optStr(std::string_view key, const std::optional<std::string> &value)
{
	if (!value)
		return field(key, nullptr, "-");
	return str(key, std::string_view(*value));
}

Record &Record::real(std::string_view key, double value, int decimals)
{
	/* JSON keeps three decimals more than the text shows, at most six. */
	double scale = std::pow(10.0, std::min(decimals + 3, 6));

	return field(key, std::round(value * scale) / scale,
		     fmt::format("{:.{}f}", value, decimals), true);
}

Record &Record::boolean(std::string_view key, bool value)
{
	return field(key, value, value ? "yes" : "no");
}

Record &Record::optBoolean(std::string_view key, std::optional<bool> value)
{
	if (!value)
		return field(key, nullptr, "-");
	return boolean(key, *value);
}

Record &Record::indices(std::string_view key, const std::vector<uint32_t> &values)
{
	std::string text = formatRanges(values);

	return field(key, values, text.empty() ? "-" : text);
}

Record &Record::strings(std::string_view key, const std::vector<std::string> &values)
{
	std::string text;

	for (const auto &v : values)
		text += (text.empty() ? "" : " ") + v;
	return field(key, values, text.empty() ? "-" : text);
}

Json Record::json() const
{
	Json o = Json::object();

	for (const auto &f : fields_)
		o[f.key] = f.value;
	return o;
}

Record &Table::add()
{
	return records_.emplace_back();
}

Json Table::json() const
{
	Json a = Json::array();

	for (const auto &r : records_)
		a.push_back(r.json());
	return a;
}

void Table::printText(std::ostream &out) const
{
	if (records_.empty())
		return;

	const auto &first = records_.front().fields_;
	std::vector<std::size_t> width(first.size());
	for (std::size_t c = 0; c < first.size(); c++)
		width[c] = first[c].key.size();
	for (const auto &r : records_) {
		for (std::size_t c = 0; c < r.fields_.size() && c < width.size(); c++)
			width[c] = std::max(width[c], r.fields_[c].text.size());
	}

	auto line = [&](auto cell, auto numeric) {
		std::string s;

		for (std::size_t c = 0; c < width.size(); c++) {
			std::string_view text = cell(c);
			bool last = c + 1 == width.size();

			if (c)
				s += "  ";
			if (numeric(c))
				s += fmt::format("{:>{}}", text, width[c]);
			else if (last)
				s += text;
			else
				s += fmt::format("{:<{}}", text, width[c]);
		}
		s.erase(s.find_last_not_of(' ') + 1);
		out << s << '\n';
	};
	line([&](std::size_t c) -> std::string_view { return first[c].key; },
	     [&](std::size_t c) { return first[c].numeric; });
	for (const auto &r : records_)
		line(
			[&](std::size_t c) -> std::string_view {
				return c < r.fields_.size() ? std::string_view(r.fields_[c].text)
							    : "-";
			},
			[&](std::size_t c) { return first[c].numeric; });
}

void Table::print(std::ostream &out, const Options &opts) const
{
	if (opts.json)
		printJson(out, json(), opts);
	else
		printText(out);
}

void printRecord(std::ostream &out, const Record &record, const Options &opts)
{
	if (opts.json) {
		printJson(out, record.json(), opts);
		return;
	}
	Table t;
	t.add() = record;
	t.printText(out);
}

void printFields(std::ostream &out, const Record &record)
{
	std::size_t width = 0;

	for (const auto &f : record.fields_)
		width = std::max(width, f.key.size());
	for (const auto &f : record.fields_)
		out << fmt::format("{:<{}}  {}\n", f.key, width, f.text);
}

void printJson(std::ostream &out, const Json &value, const Options &opts)
{
	out << value.dump(opts.pretty ? 2 : -1) << '\n';
}

std::string formatRanges(std::vector<uint32_t> values)
{
	std::string out;

	std::sort(values.begin(), values.end());
	values.erase(std::unique(values.begin(), values.end()), values.end());
	for (std::size_t i = 0; i < values.size();) {
		std::size_t j = i;

		while (j + 1 < values.size() && values[j + 1] == values[j] + 1)
			j++;
		if (!out.empty())
			out += ',';
		if (j == i)
			out += fmt::format("{}", values[i]);
		else
			out += fmt::format("{}-{}", values[i], values[j]);
		i = j + 1;
	}
	return out;
}

std::string formatBytes(uint64_t bytes)
{
	static constexpr std::array<const char *, 6> units = {"B",   "KiB", "MiB",
							      "GiB", "TiB", "PiB"};
	double v = static_cast<double>(bytes);
	std::size_t u = 0;

	while (v >= 1024 && u + 1 < units.size()) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		return fmt::format("{}B", bytes);
	return fmt::format("{:.{}f}{}", v, v < 10 ? 1 : 0, units[u]);
}

std::string formatDuration(uint64_t ns)
{
	auto v = static_cast<double>(ns);
	/* Three significant digits. */
	auto digits = [](double x) { return x < 10 ? 2 : x < 100 ? 1 : 0; };

	if (ns < 1000)
		return fmt::format("{}ns", ns);
	if (ns < 1000000)
		return fmt::format("{:.{}f}us", v / 1e3, digits(v / 1e3));
	if (ns < 1000000000)
		return fmt::format("{:.{}f}ms", v / 1e6, digits(v / 1e6));
	return fmt::format("{:.2f}s", v / 1e9);
}

} // namespace vhostctl

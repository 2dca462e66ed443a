// Payloads of the zmesh tool: where they come from (argument, @file, stdin) and how
// they are shown (as text when they are printable UTF-8, otherwise as base64).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "zmesh/core/limits.hpp"

namespace zmesh::cli {

/// The payload argument: absent = empty, "-" = all of stdin, "@path" = that file's bytes,
/// anything else = the argument itself. Reads at most `max_bytes` + 1 bytes: a bigger
/// payload (or an endless one: /dev/zero) throws Failure(kExitTooLarge) as soon as it is
/// known, before anything is sent. Throws Failure (exit 1) when unreadable ("is a
/// directory").
[[nodiscard]] std::string read_payload(const std::optional<std::string>& arg,
                                       std::size_t max_bytes = Limits{}.max_payload_bytes);

/// True for valid UTF-8 without control characters other than tab, CR and LF.
[[nodiscard]] bool is_text(std::string_view bytes);

/// Standard base64 (RFC 4648, with padding).
[[nodiscard]] std::string base64(std::string_view bytes);

/// The payload on one line of text output: text with \n, \r, \t and \\ escaped, or
/// "base64:" followed by its base64 when it is not text.
[[nodiscard]] std::string payload_line(std::string_view bytes);

/// Adds "payload" (text, or base64) and "encoding" ("text" or "base64") to a JSON object.
void add_payload(nlohmann::json& object, std::string_view bytes);

}  // namespace zmesh::cli

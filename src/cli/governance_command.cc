// `lakepipe token new` and `lakepipe token hash`: bearer tokens for governance principals
// and the salted hashes pipeline.yaml / governance.yaml store (docs/governance.md).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "governance/token_hash.h"

namespace lakepipe::cli {
namespace {

// The token is read from standard input, never from the command line: arguments are
// visible to every user of the machine (ps, /proc) and stay in shell history.
Status HashFromStdin() {
  if (isatty(STDIN_FILENO)) std::fprintf(stderr, "token (input is not shown back): ");
  std::string token;
  std::getline(std::cin, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < governance::kMinTokenLength) {
    return Status::InvalidArgument("a token needs at least " + std::to_string(governance::kMinTokenLength) +
                                   " characters (lakepipe token new makes one)");
  }
  LP_ASSIGN_OR_RETURN(auto hash, governance::HashToken(token));
  std::printf("%s\n", governance::FormatTokenHash(hash).c_str());
  return Status::OK();
}

Status NewTokenAndHash() {
  LP_ASSIGN_OR_RETURN(std::string token, governance::NewToken());
  LP_ASSIGN_OR_RETURN(auto hash, governance::HashToken(token));
  // The only time lakepipe shows a token: give it to the principal, keep the hash.
  std::printf("token:      %s\ntoken_hash: %s\n", token.c_str(), governance::FormatTokenHash(hash).c_str());
  return Status::OK();
}

}  // namespace

void RegisterAuditCommand(CLI::App& app, CommandRegistry& registry);    // audit_command.cc
void RegisterLineageCommand(CLI::App& app, CommandRegistry& registry);  // lineage_command.cc

void RegisterGovernanceCommands(CLI::App& app, CommandRegistry& registry) {
  RegisterAuditCommand(app, registry);
  RegisterLineageCommand(app, registry);
  CLI::App* token = app.add_subcommand("token", "Bearer tokens for governance principals (docs/governance.md)");
  token->require_subcommand(1);
  CLI::App* hash = token->add_subcommand(
      "hash", "Read a token from standard input and print its salted hash (token_hash: of a principal)");
  hash->callback([&registry] { registry.Finish(HashFromStdin()); });
  CLI::App* fresh = token->add_subcommand("new", "Print a new random token and its hash");
  fresh->callback([&registry] { registry.Finish(NewTokenAndHash()); });
}

}  // namespace lakepipe::cli

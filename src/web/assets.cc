#include "web/assets.h"

#include "web/asset_table.h"

namespace lakepipe::web {

const Asset* FindAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  // A dozen entries: a linear scan is as fast as a map and needs no initialisation.
  for (const Asset& asset : AllAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace lakepipe::web

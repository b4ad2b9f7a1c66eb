# Finds the Debian-packaged libraries lakepipe links against (scripts/install-deps.sh
# installs them). Each becomes an imported target named lp::<name>.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(lp_pkg name module)
  pkg_check_modules(${name} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  add_library(lp::${name} ALIAS PkgConfig::${name})
endfunction()

lp_pkg(zstd libzstd)
lp_pkg(snappy snappy)
lp_pkg(lz4 liblz4)
lp_pkg(zlib zlib)
lp_pkg(brotlidec libbrotlidec)
lp_pkg(brotlienc libbrotlienc)
lp_pkg(fmt fmt)
lp_pkg(spdlog spdlog)
lp_pkg(yamlcpp yaml-cpp)
lp_pkg(simdjson simdjson)
lp_pkg(rdkafka rdkafka)
lp_pkg(libpq libpq)
lp_pkg(rocksdb rocksdb)
lp_pkg(uuid uuid)

# libpg-query ships a header and a static library without pkg-config metadata.
find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIBRARY NAMES pg_query REQUIRED)
add_library(lp::pg_query INTERFACE IMPORTED GLOBAL)
target_include_directories(lp::pg_query INTERFACE ${PG_QUERY_INCLUDE_DIR})
target_link_libraries(lp::pg_query INTERFACE ${PG_QUERY_LIBRARY})

# Header-only: nlohmann-json, fast_float, CLI11, cpp-httplib.
find_package(nlohmann_json REQUIRED)
find_path(FAST_FLOAT_INCLUDE_DIR fast_float/fast_float.h REQUIRED)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
add_library(lp::headers INTERFACE IMPORTED GLOBAL)
target_include_directories(lp::headers INTERFACE
  ${FAST_FLOAT_INCLUDE_DIR} ${CLI11_INCLUDE_DIR} ${HTTPLIB_INCLUDE_DIR})
target_link_libraries(lp::headers INTERFACE nlohmann_json::nlohmann_json)

if(LAKEPIPE_TESTS)
  find_package(GTest REQUIRED)
endif()
if(LAKEPIPE_BENCH)
  find_package(benchmark REQUIRED)
endif()

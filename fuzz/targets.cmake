# The libFuzzer targets of the system and the libraries each one links. Shared by
# fuzz/CMakeLists.txt (real fuzzers, clang, -DVV_BUILD_FUZZ=ON) and fuzz/replay.cmake (corpus
# replay executables + CTest, every build). Defines variables only; safe to include repeatedly.
# To add a target: add <name>.cc here, list it in VV_FUZZ_TARGETS, set VV_FUZZ_DEPS_<name>,
# and add a seed corpus under fuzz/corpus/<name>/.
set(VV_FUZZ_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(VV_FUZZ_TARGETS
  json_parse_fuzz
  schema_fuzz
  audit_verify_fuzz
  config_fuzz
  envelope_fuzz
  base64_fuzz
  signature_headers_fuzz
  identities_file_fuzz
  audit_record_fuzz
  http_request_fuzz
  batch_body_fuzz
  request_body_fuzz)
set(VV_FUZZ_DEPS_json_parse_fuzz vv_json)
set(VV_FUZZ_DEPS_schema_fuzz vv_schema vv_json)
set(VV_FUZZ_DEPS_audit_verify_fuzz vv_audit)
set(VV_FUZZ_DEPS_config_fuzz vv_config)
set(VV_FUZZ_DEPS_envelope_fuzz vv_queue vv_crypto vv_json)
set(VV_FUZZ_DEPS_base64_fuzz vv_common)
set(VV_FUZZ_DEPS_signature_headers_fuzz vv_verify vv_config vv_crypto)
set(VV_FUZZ_DEPS_identities_file_fuzz vv_config)
set(VV_FUZZ_DEPS_audit_record_fuzz vv_audit vv_json vv_common)
set(VV_FUZZ_DEPS_http_request_fuzz vv_http)
set(VV_FUZZ_DEPS_batch_body_fuzz vv_verify vv_json)
set(VV_FUZZ_DEPS_request_body_fuzz vv_schema vv_json vv_common)

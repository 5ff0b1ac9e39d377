vv_add_tool(vv-engine vv_engine.cc vv_engine vv_http vv_stats spdlog::spdlog)

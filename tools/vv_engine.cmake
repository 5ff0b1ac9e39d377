vv_add_tool(vv-engine vv_engine.cc vv_engine spdlog::spdlog)

vv_add_tool(vv-evidence vv_evidence.cc vv_engine vv_cognitive)

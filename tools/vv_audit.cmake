vv_add_tool(vv-audit vv_audit.cc vv_audit)

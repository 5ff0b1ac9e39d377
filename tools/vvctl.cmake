vv_add_tool(vvctl vvctl.cc vv_policy vv_stats vv_app vv_queue)
